/* length: the reply text's length is within the configured bounds. Runs on the evaluator thread.
 *
 * params: min_chars, max_chars, min_tokens, max_tokens (non-negative integers; any subset; min
 * <= max). Characters are Unicode code points of the text; tokens are estimated as
 * ceil(chars / 4), OpenAI's rule of thumb for English (no tokenizer here: treat token bounds as
 * approximate, within ~25% for prose, worse for code and non-Latin scripts).
 * Applicable only when a bound is configured and the status is not an error (>= 400). Minimum
 * bounds are skipped when the text is only a prefix (exchange incomplete, capture capped) or the
 * reply is tool calls without text; maximum bounds still hold there.
 * score: how far outside the worst bound, relative to it ((chars - max) / max, or
 * (min - chars) / min); 0 when within. */
#include "scorers/scorer.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "scorers/params.h"

enum length_bound {
    LENGTH_MIN_CHARS = 0,
    LENGTH_MAX_CHARS,
    LENGTH_MIN_TOKENS,
    LENGTH_MAX_TOKENS,
    LENGTH_N_BOUNDS,
};

static const char *const BOUND_NAMES[LENGTH_N_BOUNDS + 1] = {"min_chars", "max_chars", "min_tokens",
                                                             "max_tokens", NULL};

struct length {
    bool set[LENGTH_N_BOUNDS];
    uint64_t value[LENGTH_N_BOUNDS];
};

static int setup(void **state, const json_t *params, struct err *err)
{
    struct length p = {0};
    if (params_check(params, "length", BOUND_NAMES, err) < 0) return -1;
    for (int b = 0; b < LENGTH_N_BOUNDS; b++) {
        const json_t *v = json_object_get(params, BOUND_NAMES[b]);
        if (v == NULL) continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            err_set(err, "length.params.%s: expected a non-negative integer", BOUND_NAMES[b]);
            return -1;
        }
        p.set[b] = true;
        p.value[b] = (uint64_t)json_integer_value(v);
    }
    for (int b = LENGTH_MIN_CHARS; b < LENGTH_N_BOUNDS; b += 2) {
        if (p.set[b] && p.set[b + 1] && p.value[b] > p.value[b + 1]) {
            err_set(err, "length.params.%s: %llu is above %s %llu", BOUND_NAMES[b],
                    (unsigned long long)p.value[b], BOUND_NAMES[b + 1],
                    (unsigned long long)p.value[b + 1]);
            return -1;
        }
    }
    struct length *s = xmalloc(sizeof(*s));
    *s = p;
    *state = s;
    return 0;
}

static void teardown(void *state)
{
    free(state);
}

static uint64_t code_points(const char *s, size_t len)
{
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static void score(const void *state, const struct score_input *in, struct score *out)
{
    const struct length *p = state;
    const struct extracted *x = in->x;
    const struct exchange *ex = in->ex;
    score_reset(out);
    if (score_skip_error_status(ex, out)) return;
    uint64_t chars = code_points(x->text ? x->text : "", x->text ? x->text_len : 0);
    uint64_t tokens = (chars + 3) / 4;
    bool prefix = (ex && (ex->outcome != EXCHANGE_COMPLETE || ex->response_truncated)) ||
                  x->decoded_truncated;
    bool tool_only = chars == 0 && x->n_tool_calls > 0;
    int worst = -1;
    double worst_excess = -1;
    for (int b = 0; b < LENGTH_N_BOUNDS; b++) {
        if (!p->set[b]) continue;
        bool is_min = b == LENGTH_MIN_CHARS || b == LENGTH_MIN_TOKENS;
        if (is_min && (prefix || tool_only)) continue;
        out->applicable = true;
        double have = (double)(b < LENGTH_MIN_TOKENS ? chars : tokens);
        double bound = (double)p->value[b];
        double excess = is_min ? (bound - have) / (bound > 0 ? bound : 1)
                               : (have - bound) / (bound > 0 ? bound : 1);
        if (excess > 0 && excess > worst_excess) {
            worst = b;
            worst_excess = excess;
        }
    }
    if (!out->applicable) {
        score_detail(out, "not scored: %s",
                     prefix || tool_only ? "no full text for a minimum" : "no bound configured");
        return;
    }
    if (worst < 0) {
        score_detail(out, "%llu chars, ~%llu tokens: within bounds", (unsigned long long)chars,
                     (unsigned long long)tokens);
        return;
    }
    bool is_min = worst == LENGTH_MIN_CHARS || worst == LENGTH_MIN_TOKENS;
    bool in_tokens = worst >= LENGTH_MIN_TOKENS;
    out->defect = true;
    out->score = worst_excess;
    score_detail(out, "%s%llu %s %s %s %llu", in_tokens ? "~" : "",
                 (unsigned long long)(in_tokens ? tokens : chars), in_tokens ? "tokens" : "chars",
                 is_min ? "<" : ">", BOUND_NAMES[worst], (unsigned long long)p->value[worst]);
}

const struct scorer scorer_length = {
    .name = "length",
    .setup = setup,
    .score = score,
    .teardown = teardown,
};
