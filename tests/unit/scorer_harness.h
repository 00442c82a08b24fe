/* A harness for the unit tests of the content scorers (pii, secrets, refusal): builds the
 * exchange and extraction a scorer sees from a text and one tool call, runs setup, score and
 * teardown, and checks the tables of cases those tests share. Static inline functions: each test
 * binary compiles its own copy (the Makefile links one object per test, plus tap.o). */
#ifndef SIGMAPROXY_TESTS_UNIT_SCORER_HARNESS_H
#define SIGMAPROXY_TESTS_UNIT_SCORER_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "scorers/scorer.h"
#include "tests/tap.h"

#define HARNESS_COUNT(table) (sizeof(table) / sizeof((table)[0]))
#define HARNESS_PATHOLOGICAL (256 * 1024) /* bytes of each repeated unit */
#define HARNESS_SHOWN_BYTES  64           /* of a unit, escaped, in a test's name */

/* One reply, as extract() would give it for an OpenAI chat completion with status 200. */
struct harness_reply {
    const char *text;          /* the assistant text (required; may be "") */
    const char *args;          /* one tool call's arguments, or NULL for no tool call */
    const char *refusal;       /* OpenAI's message.refusal, or NULL */
    const char *finish_reason; /* or NULL */
};

/* A reply and what the scorer must say of it, with default params. */
struct harness_case {
    const char *name;   /* the behaviour */
    const char *text;   /* the assistant text */
    const char *args;   /* one tool call's arguments, or NULL */
    bool defect;        /* expected */
    const char *detail; /* a substring the detail must hold, or NULL */
    const char *hidden; /* a substring the detail must not hold (the raw value), or NULL */
};

/* Params that setup must refuse, and the whole error it must give. */
struct harness_param_error {
    const char *params;
    const char *error;
};

/* Params that setup must accept, and what they change on one text. */
struct harness_param_case {
    const char *name;
    const char *params;
    const char *text;
    bool defect;
};

/* Runs sc's setup on params (JSON text, or NULL for the defaults). Returns the state (NULL may be
 * a valid one), or NULL with err filled; err->msg is "" on success. */
static inline void *harness_setup(const struct scorer *sc, const char *params, struct err *err)
{
    json_t *p = params ? json_loads(params, 0, NULL) : NULL;
    void *state = NULL;
    err->msg[0] = '\0';
    if (sc->setup(&state, p, err) < 0) state = NULL;
    json_decref(p);
    return state;
}

/* Scores r. The result starts as garbage, so the scorer must set every field. */
static inline struct score harness_score(const struct scorer *sc, const void *state,
                                         const struct harness_reply *r)
{
    struct extract_tool_call call = {.name = (char *)"tool", .arguments = (char *)r->args};
    struct extracted x = {.api = EXTRACT_API_OPENAI_CHAT,
                          .text = (char *)r->text,
                          .text_len = strlen(r->text),
                          .tool_calls = r->args ? &call : NULL,
                          .n_tool_calls = r->args ? 1 : 0,
                          .refusal = (char *)r->refusal,
                          .finish_reason = (char *)r->finish_reason};
    struct exchange ex = {.status = 200};
    struct score_input in = {.ex = &ex, .x = &x};
    struct score out;
    memset(&out, 0xff, sizeof(out));
    sc->score(state, &in, &out);
    return out;
}

/* Scores a text alone. */
static inline struct score harness_score_text(const struct scorer *sc, const void *state,
                                              const char *text)
{
    return harness_score(sc, state, &(struct harness_reply){.text = text});
}

/* Checks each case with default params: the verdict, then what the detail holds and hides. */
static inline void harness_cases(const struct scorer *sc, const struct harness_case *cases,
                                 size_t n)
{
    struct err err;
    void *state = harness_setup(sc, NULL, &err);
    ok(state != NULL, "default params are accepted");
    for (size_t i = 0; i < n; i++) {
        const struct harness_case *c = &cases[i];
        struct score s =
            harness_score(sc, state, &(struct harness_reply){.text = c->text, .args = c->args});
        if (!is_int(s.applicable && s.defect, c->defect, "%s", c->name))
            diag("detail: %s", s.detail);
        if (c->detail && !ok(strstr(s.detail, c->detail) != NULL, "%s: detail names it", c->name))
            diag("detail: '%s', wanted '%s'", s.detail, c->detail);
        if (c->hidden)
            ok(strstr(s.detail, c->hidden) == NULL, "%s: detail masks the value", c->name);
    }
    sc->teardown(state);
}

/* Checks that setup refuses each set of params with exactly the error given. */
static inline void harness_param_errors(const struct scorer *sc,
                                        const struct harness_param_error *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct err err;
        void *state = harness_setup(sc, cases[i].params, &err);
        ok(state == NULL, "params %s are rejected", cases[i].params);
        is_str(err.msg, cases[i].error, "params %s: the error names the parameter",
               cases[i].params);
    }
}

/* Checks that setup accepts each set of params and that the verdict on its text follows. */
static inline void harness_params(const struct scorer *sc, const struct harness_param_case *cases,
                                  size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct harness_param_case *c = &cases[i];
        struct err err;
        void *state = harness_setup(sc, c->params, &err);
        if (!ok(state != NULL, "%s: params accepted", c->name)) {
            diag("error: %s", err.msg);
            continue;
        }
        struct score s = harness_score_text(sc, state, c->text);
        if (!is_int(s.defect, c->defect, "%s", c->name)) diag("detail: %s", s.detail);
        sc->teardown(state);
    }
}

/* Inputs built to make a careless matcher backtrack or rescan: each unit repeated over
 * HARNESS_PATHOLOGICAL bytes must be scored (prove's timeout catches a hang) and find nothing. */
static inline void harness_pathological(const struct scorer *sc, const char *params,
                                        const char *const *units, size_t n)
{
    struct err err;
    void *state = harness_setup(sc, params, &err);
    char *text = malloc(HARNESS_PATHOLOGICAL + 1);
    for (size_t u = 0; u < n; u++) {
        size_t len = strlen(units[u]), used = 0;
        while (used + len <= HARNESS_PATHOLOGICAL) {
            memcpy(text + used, units[u], len);
            used += len;
        }
        text[used] = '\0';
        char shown[4 * HARNESS_SHOWN_BYTES + 1]; /* "\xNN" at most for each byte */
        size_t o = 0;
        for (size_t i = 0; i < len && i < HARNESS_SHOWN_BYTES; i++) {
            unsigned char c = (unsigned char)units[u][i];
            if (c == '\n' || c == '"' || c == '\\')
                o += (size_t)snprintf(shown + o, sizeof(shown) - o, "\\%c", c == '\n' ? 'n' : c);
            else if (c < 0x20 || c >= 0x7f)
                o += (size_t)snprintf(shown + o, sizeof(shown) - o, "\\x%02x", c);
            else
                shown[o++] = (char)c;
        }
        shown[o] = '\0';
        struct score s = harness_score_text(sc, state, text);
        ok(!s.defect, "256 KiB of \"%s\" finds nothing", shown);
    }
    free(text);
    sc->teardown(state);
}

#endif
