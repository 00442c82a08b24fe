/* regex: deny and require lists, flags, Unicode, what the detail names, incomplete replies, the
 * match limit against a pathological pattern, and setup errors naming the pattern. */
#include <string.h>
#include <time.h>

#include "scorers/scorer.h"
#include "tests/tap.h"

extern const struct scorer scorer_regex;

struct regex_case {
    const char *name;
    const char *params;
    const char *text;
    int status;                    /* 0 reads as 200 */
    enum exchange_outcome outcome; /* COMPLETE = 0 */
    bool applicable;
    bool defect;
    double score;
    const char *detail; /* substring; NULL: anything */
};

#define DENY_SECRETS "{\"deny\": [\"password\", \"sk-[A-Za-z0-9]{8,}\"]}"

static const struct regex_case CASES[] = {
    {"deny: no match is fine", DENY_SECRETS, "All good here.", 0, 0, true, false, 0,
     "all satisfied"},
    {"deny: a match is a defect naming index and offset", DENY_SECRETS,
     "Use key sk-abcdef123456 now", 0, 0, true, true, 1,
     "deny[1] matched \"sk-abcdef123456\" at byte 8"},
    {"deny: case-sensitive by default", DENY_SECRETS, "PASSWORD", 0, 0, true, false, 0, NULL},
    {"deny: flag i makes it caseless", "{\"deny\": [\"password\"], \"flags\": \"i\"}",
     "my PassWord is", 0, 0, true, true, 1, "deny[0] matched \"PassWord\" at byte 3"},
    {"deny: caseless works on non-ASCII", "{\"deny\": [\"école\"], \"flags\": \"i\"}",
     "L'ÉCOLE est fermée", 0, 0, true, true, 1, "at byte 2"},
    {"deny: \\b is Unicode-aware", "{\"deny\": [\"\\\\bcat\\\\b\"]}", "éducat", 0, 0, true, false,
     0, NULL},
    {"deny: every matching pattern counts", DENY_SECRETS, "password sk-ABCDEFGHIJ", 0, 0, true,
     true, 2, "deny[0] matched \"password\" at byte 0; deny[1]"},
    {"deny: a long match is cut in the detail", "{\"deny\": [\"x+\"]}",
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, 0, true, true, 1,
     "\"xxxxxxxxxxxxxxxxxxxxxxxx...\" at byte 0"},
    {"deny: excerpt false hides the match", "{\"deny\": [\"sk-[a-z]+\"], \"excerpt\": false}",
     "k sk-secret", 0, 0, true, true, 1, "deny[0] matched 9 bytes at byte 2"},
    {"deny: flag m anchors lines", "{\"deny\": [\"^Note:\"], \"flags\": \"m\"}", "ok\nNote: x", 0,
     0, true, true, 1, "at byte 3"},
    {"deny: without m, ^ is the text start", "{\"deny\": [\"^Note:\"]}", "ok\nNote: x", 0, 0, true,
     false, 0, NULL},
    {"deny: flag s lets . cross lines", "{\"deny\": [\"BEGIN.*END\"], \"flags\": \"s\"}",
     "BEGIN\nx\nEND", 0, 0, true, true, 1, NULL},
    {"deny: flag x allows spaced patterns", "{\"deny\": [\"a b c\"], \"flags\": \"x\"}", "abc", 0,
     0, true, true, 1, NULL},
    {"require: present is fine", "{\"require\": [\"Sources?:\"]}", "Answer.\nSources: x", 0, 0,
     true, false, 0, NULL},
    {"require: missing is a defect", "{\"require\": [\"Sources?:\", \"\\\\[\\\\d+\\\\]\"]}",
     "Answer [1].", 0, 0, true, true, 1, "require[0] not found"},
    {"deny and require together", "{\"deny\": [\"TODO\"], \"require\": [\"done\"]}", "TODO later",
     0, 0, true, true, 2, "deny[0] matched \"TODO\" at byte 0; require[0] not found"},
    {"error status: not applicable", DENY_SECRETS, "password", 500, 0, false, false, 0,
     "error status 500"},
    {"empty text: not applicable", "{\"require\": [\"x\"]}", "", 0, 0, false, false, 0, "no text"},
    {"incomplete reply: deny still applies", DENY_SECRETS, "password", 200, EXCHANGE_UPSTREAM_ERROR,
     true, true, 1, NULL},
    {"incomplete reply: require is skipped", "{\"require\": [\"Sources:\"]}", "partial ans", 200,
     EXCHANGE_TIMEOUT, true, false, 0, "require skipped"},
    {"invalid UTF-8 text: not applicable", DENY_SECRETS, "bad \xff byte", 0, 0, false, false, 0,
     "not valid UTF-8"},
    {"pathological pattern hits the match limit, not the clock", "{\"deny\": [\"(a+)+$\"]}",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", 0, 0, true, false, 0,
     "deny[0] skipped: match limit"},
};

struct setup_case {
    const char *params;
    const char *error;
};

static const struct setup_case SETUP_ERRORS[] = {
    {NULL, "regex.params: expected an object with deny and/or require"},
    {"{}", "regex.params: no patterns"},
    {"{\"deny\": []}", "regex.params: no patterns"},
    {"{\"deny\": \"x\"}", "regex.params.deny: expected an array"},
    {"{\"deny\": [\"ok\", 3]}", "regex.params.deny[1]: expected a non-empty pattern string"},
    {"{\"deny\": [\"\"]}", "regex.params.deny[0]: expected a non-empty pattern string"},
    {"{\"require\": [\"ok\", \"a(b\"]}", "regex.params.require[1]: missing closing parenthesis at "
                                         "offset 3"},
    {"{\"deny\": [\"[z-a]\"]}", "regex.params.deny[0]: range out of order in character class at "
                                "offset 3"},
    {"{\"deny\": [\"a*\"]}", "regex.params.deny[0]: matches the empty string, so it would flag"},
    {"{\"require\": [\"^\"]}", "regex.params.require[0]: matches the empty string, so it would "
                               "never fail"},
    {"{\"deny\": [\"x\"], \"flags\": \"iq\"}", "regex.params.flags: unknown flag 'q'"},
    {"{\"deny\": [\"x\"], \"flags\": 1}", "regex.params.flags: expected a string"},
    {"{\"deny\": [\"x\"], \"excerpt\": 1}", "regex.params.excerpt: expected true or false"},
    {"{\"deny\": [\"x\"], \"routes\": {}}", "regex.params.routes: unknown parameter"},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const struct regex_case *c = &CASES[i];
        json_error_t e;
        json_t *params = json_loads(c->params, 0, &e);
        void *state = NULL;
        struct err err = {{0}};
        if (!ok(scorer_regex.setup(&state, params, &err) == 0, "%s: setup", c->name)) {
            diag("%s", err.msg);
            json_decref(params);
            continue;
        }
        struct exchange ex = {.status = c->status ? c->status : 200, .outcome = c->outcome};
        struct extracted x = {
            .api = EXTRACT_API_OPENAI_CHAT, .text = (char *)c->text, .text_len = strlen(c->text)};
        struct score out;
        memset(&out, 0xA5, sizeof(out));
        clock_t t0 = clock();
        scorer_regex.score(state, &(struct score_input){&ex, &x}, &out);
        double cpu_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
        bool good = out.applicable == c->applicable && out.defect == c->defect &&
                    out.score == c->score && (c->detail == NULL || strstr(out.detail, c->detail));
        ok(good && cpu_s < 1.0, "%s", c->name);
        if (!good || cpu_s >= 1.0)
            diag("applicable %d defect %d score %g detail '%s' (%.3f s); want %d %d %g '%s'",
                 out.applicable, out.defect, out.score, out.detail, cpu_s, c->applicable, c->defect,
                 c->score, c->detail ? c->detail : "");
        scorer_regex.teardown(state);
        json_decref(params);
    }
    for (size_t i = 0; i < sizeof(SETUP_ERRORS) / sizeof(SETUP_ERRORS[0]); i++) {
        const struct setup_case *c = &SETUP_ERRORS[i];
        json_error_t e;
        json_t *params = c->params ? json_loads(c->params, 0, &e) : NULL;
        void *state = NULL;
        struct err err = {{0}};
        int rc = scorer_regex.setup(&state, params, &err);
        ok(rc == -1 && state == NULL && strstr(err.msg, c->error) != NULL, "setup rejects %s",
           c->params ? c->params : "no params");
        if (rc != -1 || !strstr(err.msg, c->error)) diag("got '%s'", err.msg);
        json_decref(params);
    }
    return done_testing();
}
