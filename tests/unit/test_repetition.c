/* repetition: loops caught (sentence loops, repeated lines, tail loops without spaces, CJK);
 * legitimate structure left alone (prose, tables, lists, JSON records, code); params. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scorers/scorer.h"
#include "tests/tap.h"

extern const struct scorer scorer_repetition;

#define PROSE                                                                                      \
    "The French Revolution began in 1789 with the meeting of the Estates-General and the "         \
    "storming of the Bastille. Financial crisis, food shortages and Enlightenment ideas had "      \
    "weakened the monarchy for years. Over the following decade the country abolished feudal "     \
    "privileges, proclaimed a republic and executed Louis XVI. Radical factions such as the "      \
    "Jacobins took control during the Terror, when thousands were tried and guillotined. The "     \
    "Directory that followed was unstable and corrupt, and in 1799 Napoleon Bonaparte seized "     \
    "power in a coup. Historians still debate whether the revolution was driven mainly by "        \
    "class conflict, by political culture, or by the accidents of war and bankruptcy. Its "        \
    "legacy includes the Declaration of the Rights of Man, the metric system and a model of "      \
    "popular sovereignty that shaped the nineteenth century.\n"

#define PROSE2                                                                                     \
    "To reset the router, hold the recessed button on the back for ten seconds until the "         \
    "lights blink. The device then restarts with its factory settings, so you will need to "       \
    "set up the wireless network again. Connect a laptop with a cable, open the admin page in "    \
    "a browser, and sign in with the password printed on the label. Choose a new network name, "   \
    "pick WPA3 if all your devices support it, and write the new password down somewhere safe. "   \
    "If the lights never blink, the button may be stuck: unplug the router for a minute and try "  \
    "again before contacting your provider.\n"

#define TABLE                                                                                      \
    "| Date | Open | High | Low | Close | Note |\n"                                                \
    "|------|------|------|-----|-------|------|\n"                                                \
    "| 2024-01-02 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-03 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-04 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-05 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-08 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-09 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-10 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-11 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-12 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"                     \
    "| 2024-01-15 | N/A | N/A | N/A | N/A | market closed for the holiday |\n"

#define LIST                                                                                       \
    "Steps:\n"                                                                                     \
    "1. Preheat the oven to 180 degrees and grease a round cake tin.\n"                            \
    "2. Preheat a pan with a little butter and toast the chopped walnuts.\n"                       \
    "3. Add the flour to the bowl and whisk it with the baking powder.\n"                          \
    "4. Add the sugar to the bowl and beat it with the soft butter.\n"                             \
    "5. Add the eggs to the bowl one at a time, beating after each.\n"                             \
    "6. Add the milk to the bowl slowly so the batter stays smooth.\n"                             \
    "7. Fold in the walnuts and pour the batter into the tin.\n"                                   \
    "8. Bake for 35 minutes, until a skewer comes out clean.\n"                                    \
    "9. Let the cake cool in the tin for 10 minutes before turning it out.\n"

#define CODE                                                                                       \
    "Here is the fix:\n"                                                                           \
    "```c\n"                                                                                       \
    "if (a == NULL) {\n        fprintf(stderr, \"invalid argument: %s\\n\", name);\n"              \
    "        return -1;\n    }\n"                                                                  \
    "if (b == NULL) {\n        fprintf(stderr, \"invalid argument: %s\\n\", name);\n"              \
    "        return -1;\n    }\n"                                                                  \
    "if (c == NULL) {\n        fprintf(stderr, \"invalid argument: %s\\n\", name);\n"              \
    "        return -1;\n    }\n"                                                                  \
    "```\n"                                                                                        \
    "Each check returns early.\n"

struct rep_case {
    const char *name;
    const char *params;
    char *text; /* built in main() */
    bool applicable;
    bool defect;
    const char *detail;
};

static char *repeat(const char *head, const char *unit, int times, const char *tail)
{
    size_t n = strlen(head) + strlen(unit) * (size_t)times + strlen(tail) + 1;
    char *s = malloc(n), *p = s;
    p += sprintf(p, "%s", head);
    for (int i = 0; i < times; i++)
        p += sprintf(p, "%s", unit);
    sprintf(p, "%s", tail);
    return s;
}

/* A JSON array of records whose keys and most values are the same in every record. */
static char *json_records(int n)
{
    char *s = malloc((size_t)n * 200 + 8), *p = s;
    p += sprintf(p, "[\n");
    for (int i = 0; i < n; i++)
        p += sprintf(p,
                     "  {\"id\": %d, \"status\": \"active\", \"role\": \"user\", \"plan\": "
                     "\"free tier\", \"verified\": true, \"country\": \"FR\"}%s\n",
                     i, i + 1 < n ? "," : "");
    sprintf(p, "]");
    return s;
}

static void run(const char *name, const char *params_s, const char *text, int status,
                bool applicable, bool defect, const char *detail)
{
    json_error_t e;
    json_t *params = params_s ? json_loads(params_s, 0, &e) : NULL;
    void *state = NULL;
    struct err err = {{0}};
    if (!ok(scorer_repetition.setup(&state, params, &err) == 0, "%s: setup", name)) {
        diag("%s", err.msg);
        json_decref(params);
        return;
    }
    struct exchange ex = {.status = status, .outcome = EXCHANGE_COMPLETE};
    struct extracted x = {
        .api = EXTRACT_API_OPENAI_CHAT, .text = (char *)text, .text_len = strlen(text)};
    struct score out;
    memset(&out, 0xA5, sizeof(out));
    scorer_repetition.score(state, &(struct score_input){&ex, &x}, &out);
    bool good = out.applicable == applicable && out.defect == defect &&
                (detail == NULL || strstr(out.detail, detail)) &&
                (!applicable || (out.score >= 0 && out.score <= 1));
    ok(good, "%s", name);
    if (!good)
        diag("applicable %d defect %d score %g detail '%s'; want %d %d '%s'", out.applicable,
             out.defect, out.score, out.detail, applicable, defect, detail ? detail : "");
    else
        diag("  score %.3f: %s", out.score, out.detail);
    scorer_repetition.teardown(state);
    json_decref(params);
}

static const char *const SETUP_ERRORS[][2] = {
    {"[]", "repetition.params: expected an object"},
    {"{\"n\": 1}", "repetition.params.n: expected an integer from 2 to 16"},
    {"{\"n\": 4.5}", "repetition.params.n: expected an integer"},
    {"{\"threshold\": 0}", "repetition.params.threshold: expected a ratio above 0, at most 1"},
    {"{\"threshold\": 1.5}", "repetition.params.threshold: expected a ratio"},
    {"{\"min_words\": \"50\"}", "repetition.params.min_words: expected an integer"},
    {"{\"line_repeats\": 1}", "repetition.params.line_repeats: expected an integer from 2"},
    {"{\"tail_bytes\": 8}", "repetition.params.tail_bytes: expected an integer from 16"},
    {"{\"ngram\": 4}", "repetition.params.ngram: unknown parameter"},
};

int main(void)
{
    /* Loops. */
    char *loop = repeat("", "I am sorry, but I cannot help with that request. ", 20, "");
    run("sentence loop: n-gram ratio", NULL, loop, 200, true, true, "4-gram repeat ratio");
    char *late = repeat(PROSE PROSE, "The answer is in the documentation above. ", 40, "");
    run("prose then a long loop", NULL, late, 200, true, true, "\"The answer is in\" x40");
    char *lines = repeat(PROSE, "Please consult a qualified professional.\n", 3, PROSE2);
    run("the same line three times", NULL, lines, 200, true, true,
        "line repeated 3 times: \"Please consult a qualified professional.\"");
    run("line_repeats 4 tolerates three", "{\"line_repeats\": 4}", lines, 200, true, false, NULL);
    char *haha = repeat("That is so funny ", "ha", 200, "");
    run("tail loop without spaces", NULL, haha, 200, true, true,
        "ends in a loop: \"ha\" (2 bytes)");
    char *cjk = repeat("答案是：", "我不知道。", 40, "");
    run("CJK loop without spaces", NULL, cjk, 200, true, true, "ends in a loop: \"我不知道。\"");
    char *zeros = repeat("weights = [", "0, ", 120, "0]");
    run("a long tail of 0, 0, is a loop too", NULL, zeros, 200, true, true, NULL);
    char *json_loop =
        repeat("{\"summary\": \"", "the model keeps saying the same thing ", 30, "\"}");
    run("a loop inside a JSON string value", NULL, json_loop, 200, true, true,
        "4-gram repeat ratio");
    char *big = repeat("", "again and again and again we go round ", 30000, "");
    clock_t t0 = clock();
    run("a 1 MB loop", NULL, big, 200, true, true, NULL);
    double cpu_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ok(cpu_s < 1.0, "a 1 MB text is scored in %.3f s (< 1 s)", cpu_s);

    /* Legitimate structure. */
    run("ordinary prose", NULL, PROSE PROSE2, 200, true, false, NULL);
    run("markdown table with repeated cells", NULL, TABLE, 200, true, false, NULL);
    run("numbered list with a shared structure", NULL, LIST, 200, true, false, NULL);
    char *records = json_records(40);
    run("JSON records with constant fields", NULL, records, 200, true, false, NULL);
    run("repeated lines inside a code fence", NULL, CODE, 200, true, false, NULL);
    run("short repetitive text below min_words", NULL, "no no no no no no no no", 200, true, false,
        NULL);
    char *rule = repeat("Results\n", "=", 300, "\nAll passed.");
    run("a long rule of punctuation is no loop", NULL, rule, 200, true, false, NULL);
    run("tail_bytes 0 turns the tail check off", "{\"tail_bytes\": 0}", haha, 200, true, false,
        NULL);
    run("error status: not applicable", NULL, loop, 500, false, false, "error status");
    run("blank text: not applicable", NULL, " \n ", 200, false, false, "no text");

    for (size_t i = 0; i < sizeof(SETUP_ERRORS) / sizeof(SETUP_ERRORS[0]); i++) {
        json_error_t e;
        json_t *params = json_loads(SETUP_ERRORS[i][0], 0, &e);
        void *state = NULL;
        struct err err = {{0}};
        int rc = scorer_repetition.setup(&state, params, &err);
        ok(rc == -1 && strstr(err.msg, SETUP_ERRORS[i][1]), "setup rejects %s", SETUP_ERRORS[i][0]);
        if (rc != -1 || !strstr(err.msg, SETUP_ERRORS[i][1])) diag("got '%s'", err.msg);
        json_decref(params);
    }
    free(loop);
    free(late);
    free(lines);
    free(haha);
    free(cjk);
    free(zeros);
    free(json_loop);
    free(big);
    free(records);
    free(rule);
    return done_testing();
}
