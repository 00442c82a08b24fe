/* empty: the reply says nothing: no assistant text (once whitespace, including Unicode spaces
 * and zero-width characters, is trimmed), no tool call and no refusal text. Runs on the
 * evaluator thread.
 *
 * Not applicable for error statuses (>= 400), exchanges that did not complete, replies
 * extract.c could not understand and unknown API shapes: there, an empty text says nothing about
 * the model (http_error, truncated and the parse count cover them). A refusal is not empty (the
 * refusal scorer judges it). No params. score: 1 empty, 0 not. */
#include "scorers/scorer.h"

#include <string.h>

#include "scorers/params.h"

/* Bytes of the blank character at s (ASCII space or control whitespace, NUL, NBSP, the U+2000
 * spaces, zero-width space/joiners, line/paragraph separators, ideographic space, BOM), or 0. */
static size_t blank_bytes(const unsigned char *s, size_t left)
{
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r') || s[0] == '\0') return 1;
    if (left >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (left < 3) return 0;
    if (s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] <= 0x8D || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3; /* U+2000..U+200D, U+2028, U+2029, U+202F */
    if (s[0] == 0xE2 && s[1] == 0x81 && (s[2] == 0x9F || s[2] == 0xA0)) return 3; /* U+205F/60 */
    if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;                   /* U+3000 */
    if (s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) return 3;                   /* U+FEFF */
    if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3;                   /* U+1680 */
    return 0;
}

static bool is_blank(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t n = blank_bytes(s + i, len - i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

static int setup(void **state, const json_t *params, struct err *err)
{
    *state = NULL;
    return params_check(params, "empty", NULL, err);
}

static void score(const void *state, const struct score_input *in, struct score *out)
{
    (void)state;
    const struct extracted *x = in->x;
    const struct exchange *ex = in->ex;
    score_reset(out);
    if (score_skip_error_status(ex, out)) return;
    if (ex && ex->outcome != EXCHANGE_COMPLETE) {
        score_detail(out, "not scored: exchange incomplete");
        return;
    }
    if (x->parse_error || x->api == EXTRACT_API_UNKNOWN) {
        score_detail(out, "not scored: reply not understood");
        return;
    }
    out->applicable = true;
    size_t len = x->text ? x->text_len : 0;
    if (x->n_tool_calls > 0) {
        score_detail(out, "%zu tool call(s)", x->n_tool_calls);
    } else if (x->refusal && !is_blank(x->refusal, strlen(x->refusal))) {
        score_detail(out, "refusal text");
    } else if (len > 0 && !is_blank(x->text, len)) {
        score_detail(out, "%zu bytes of text", len);
    } else {
        out->defect = true;
        out->score = 1;
        if (len == 0)
            score_detail(out, "no text and no tool call (finish_reason %s)",
                         x->finish_reason ? x->finish_reason : "absent");
        else
            score_detail(out, "only whitespace (%zu bytes) and no tool call", len);
    }
}

const struct scorer scorer_empty = {
    .name = "empty",
    .setup = setup,
    .score = score,
};
