/* regex: the reply text must match none of the deny patterns and every require pattern. Runs on
 * the evaluator thread; the compiled patterns are read-only after setup and shared by threads
 * (PCRE2 allows it; each match uses its own match data and the thread's own JIT stack).
 *
 * params: deny, require (arrays of PCRE2 patterns; at least one pattern in all), flags (a string
 * of i = caseless, m = multiline, s = dotall, x = extended; applies to all), excerpt (true: show
 * up to 24 bytes of what a deny pattern matched; set false when the patterns catch secrets).
 * Patterns are UTF-8 with Unicode properties (\w, \b and caseless work on non-ASCII text),
 * compiled once with JIT when available; a pattern that matches the empty string is refused
 * (it would flag every reply, or never fail). Each match is bounded by a match limit, so a
 * pathological pattern cannot hang the evaluator: a pattern that hits it is skipped and named.
 * One instance is one list; per-route lists are per-route params (the evaluator's business).
 *
 * Not applicable when there is no text (error status, tool calls only: empty's business). On an
 * incomplete exchange only deny patterns apply: the client saw those bytes, but a required
 * phrase may have been cut. score: the number of violations (deny matches + missing requires). */
#include "scorers/scorer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/xalloc.h"
#include "scorers/params.h"

#define REGEX_MAX_PATTERNS  256
#define REGEX_MATCH_LIMIT   1000000 /* backtracking steps per match: milliseconds at worst */
#define REGEX_DEPTH_LIMIT   10000
#define REGEX_EXCERPT_BYTES 24

struct regex_list {
    pcre2_code **codes;
    size_t n;
};

struct regex_state {
    struct regex_list deny;
    struct regex_list require;
    pcre2_match_context *match_ctx;
    bool excerpt;
};

static void list_fini(struct regex_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        pcre2_code_free(l->codes[i]);
    free(l->codes);
    l->codes = NULL;
    l->n = 0;
}

static void teardown(void *state)
{
    struct regex_state *s = state;
    if (s == NULL) return;
    list_fini(&s->deny);
    list_fini(&s->require);
    pcre2_match_context_free(s->match_ctx);
    free(s);
}

static int parse_flags(const json_t *flags, uint32_t *options, struct err *err)
{
    *options = PCRE2_UTF | PCRE2_UCP;
    if (flags == NULL) return 0;
    if (!json_is_string(flags)) {
        err_set(err, "regex.params.flags: expected a string of flag letters (i, m, s, x)");
        return -1;
    }
    for (const char *f = json_string_value(flags); *f; f++) {
        switch (*f) {
        case 'i':
            *options |= PCRE2_CASELESS;
            break;
        case 'm':
            *options |= PCRE2_MULTILINE;
            break;
        case 's':
            *options |= PCRE2_DOTALL;
            break;
        case 'x':
            *options |= PCRE2_EXTENDED;
            break;
        default:
            err_set(err, "regex.params.flags: unknown flag '%c' (known: i, m, s, x)", *f);
            return -1;
        }
    }
    return 0;
}

/* 1 match (offset in *at), 0 none, or a negative PCRE2 error. */
static int search(const struct regex_state *s, const pcre2_code *code, const char *text, size_t len,
                  uint32_t options, size_t *at, size_t *end)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    if (md == NULL) return PCRE2_ERROR_NOMEMORY;
    int rc = pcre2_match(code, (PCRE2_SPTR)text, len, 0, options, md, s->match_ctx);
    if (rc >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        *at = ov[0];
        *end = ov[1];
        rc = 1;
    } else if (rc == PCRE2_ERROR_NOMATCH) {
        rc = 0;
    }
    pcre2_match_data_free(md);
    return rc;
}

static int compile_list(struct regex_state *s, const json_t *params, const char *key,
                        uint32_t options, struct regex_list *out, struct err *err)
{
    const json_t *arr = json_object_get(params, key);
    if (arr == NULL) return 0;
    if (!json_is_array(arr)) {
        err_set(err, "regex.params.%s: expected an array of pattern strings", key);
        return -1;
    }
    if (json_array_size(arr) > REGEX_MAX_PATTERNS) {
        err_set(err, "regex.params.%s: %zu patterns, at most %d", key, json_array_size(arr),
                REGEX_MAX_PATTERNS);
        return -1;
    }
    out->codes = xcalloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof(*out->codes));
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            err_set(err, "regex.params.%s[%zu]: expected a non-empty pattern string", key, i);
            return -1;
        }
        int errcode;
        PCRE2_SIZE erroffset;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)json_string_value(v), json_string_length(v),
                                         options, &errcode, &erroffset, NULL);
        if (code == NULL) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(errcode, msg, sizeof(msg));
            err_set(err, "regex.params.%s[%zu]: %s at offset %zu", key, i, (const char *)msg,
                    (size_t)erroffset);
            return -1;
        }
        out->codes[out->n++] = code;
        /* JIT is an optimisation: PCRE2 falls back to the interpreter if it is unavailable. */
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
        size_t at, end;
        if (search(s, code, "", 0, 0, &at, &end) == 1) {
            err_set(err,
                    "regex.params.%s[%zu]: matches the empty string, so it would %s "
                    "(anchor it or require at least one character)",
                    key, i, strcmp(key, "deny") == 0 ? "flag every reply" : "never fail");
            return -1;
        }
    }
    return 0;
}

static int setup(void **state, const json_t *params, struct err *err)
{
    static const char *const known[] = {"deny", "require", "flags", "excerpt", NULL};
    int rc = -1;
    struct regex_state *s = xcalloc(1, sizeof(*s));
    s->excerpt = true;
    uint32_t options;
    if (params == NULL || !json_is_object(params)) {
        err_set(err, "regex.params: expected an object with deny and/or require pattern lists");
        goto out;
    }
    if (params_check(params, "regex", known, err) < 0 ||
        params_bool(params, "regex", "excerpt", &s->excerpt, err) < 0 ||
        parse_flags(json_object_get(params, "flags"), &options, err))
        goto out;
    s->match_ctx = pcre2_match_context_create(NULL);
    if (s->match_ctx == NULL) {
        err_set(err, "regex: out of memory");
        goto out;
    }
    pcre2_set_match_limit(s->match_ctx, REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(s->match_ctx, REGEX_DEPTH_LIMIT);
    if (compile_list(s, params, "deny", options, &s->deny, err) ||
        compile_list(s, params, "require", options, &s->require, err))
        goto out;
    if (s->deny.n + s->require.n == 0) {
        err_set(err, "regex.params: no patterns: give deny and/or require a pattern");
        goto out;
    }
    *state = s;
    s = NULL;
    rc = 0;
out:
    teardown(s);
    return rc;
}

static bool is_utf_error(int rc)
{
    return rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21;
}

/* Copies up to REGEX_EXCERPT_BYTES of text[at, end) for a detail, cut on a UTF-8 boundary, with
 * control characters and quotes replaced. */
static void excerpt(const char *text, size_t at, size_t end, char *buf)
{
    size_t n = end - at, cut = n > REGEX_EXCERPT_BYTES ? REGEX_EXCERPT_BYTES : n, o = 0;
    while (cut > 0 && cut < n && ((unsigned char)text[at + cut] & 0xC0) == 0x80)
        cut--;
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)text[at + i];
        buf[o++] = c < 0x20 || c == '"' || c == 0x7f ? '?' : (char)c;
    }
    if (cut < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
}

static void score(const void *state, const struct score_input *in, struct score *out)
{
    const struct regex_state *s = state;
    const struct extracted *x = in->x;
    const struct exchange *ex = in->ex;
    score_reset(out);
    if (score_skip_error_status(ex, out)) return;
    const char *text = x->text ? x->text : "";
    size_t len = x->text ? x->text_len : 0;
    if (len == 0) {
        score_detail(out, "not scored: no text");
        return;
    }
    bool complete = ex == NULL || ex->outcome == EXCHANGE_COMPLETE;
    size_t used = 0;
    int n_more = 0, n_violations = 0;
    uint32_t check = 0; /* the first match validates the UTF-8; the others skip it */

    for (size_t i = 0; i < s->deny.n; i++) {
        size_t at = 0, end = 0;
        int rc = search(s, s->deny.codes[i], text, len, check, &at, &end);
        if (is_utf_error(rc)) {
            score_detail(out, "not scored: text is not valid UTF-8");
            return;
        }
        check = PCRE2_NO_UTF_CHECK;
        if (rc == 1) {
            char ex_buf[REGEX_EXCERPT_BYTES + 4];
            n_violations++;
            if (s->excerpt) {
                excerpt(text, at, end, ex_buf);
                n_more += !score_append(out, &used, "deny[%zu] matched \"%s\" at byte %zu", i,
                                        ex_buf, at);
            } else {
                n_more += !score_append(out, &used, "deny[%zu] matched %zu bytes at byte %zu", i,
                                        end - at, at);
            }
        } else if (rc < 0) {
            n_more += !score_append(out, &used, "deny[%zu] skipped: match limit (%d)", i, rc);
        }
    }
    for (size_t i = 0; i < s->require.n && complete; i++) {
        size_t at = 0, end = 0;
        int rc = search(s, s->require.codes[i], text, len, check, &at, &end);
        if (is_utf_error(rc)) {
            score_detail(out, "not scored: text is not valid UTF-8");
            return;
        }
        check = PCRE2_NO_UTF_CHECK;
        if (rc == 0) {
            n_violations++;
            n_more += !score_append(out, &used, "require[%zu] not found", i);
        } else if (rc < 0) {
            n_more += !score_append(out, &used, "require[%zu] skipped: match limit (%d)", i, rc);
        }
    }
    if (n_more > 0 && used < sizeof(out->detail))
        snprintf(out->detail + used, sizeof(out->detail) - used, " (+%d more)", n_more);
    out->applicable = true;
    out->defect = n_violations > 0;
    out->score = n_violations;
    if (used == 0)
        score_detail(out, "%zu deny, %zu require patterns: all satisfied%s", s->deny.n,
                     s->require.n, complete ? "" : " (require skipped: incomplete reply)");
}

const struct scorer scorer_regex = {
    .name = "regex",
    .setup = setup,
    .score = score,
    .teardown = teardown,
};
