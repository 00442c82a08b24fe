/* Labelled-set quality of the scorers: for each tests/fixtures/labelled/<scorer>.jsonl, runs the
 * scorer of that name with its default params over every case and prints the confusion counts,
 * precision and recall, PASS or MISS against precision >= 0.95 and recall >= 0.90.
 *   quality [-v] [DIR | FILE.jsonl ...]     (default: tests/fixtures/labelled; -v lists each
 *                                            misclassified case with the scorer's detail)
 * Each line of a file is one case, a JSON object:
 *   "text"            the assistant text (required; may be "")
 *   "defect"          the truth (required)
 *   "note"            why, for a human
 *   "tool_args"       one tool call: a string is its arguments text as the model wrote it; any
 *                     other JSON value is serialised to make that text
 *   "tool_name"       that call's name
 *   "finish_reason"   as extract() reports it ("stop", "refusal", "length", ...)
 *   "refusal_field"   OpenAI's message.refusal
 *   "response_format" the request's response_format: the request becomes
 *                     {"response_format": <it>}
 *   "request"         the whole request body (an object), instead
 *   "status"          the HTTP status (default 200)
 * A case is predicted positive when the scorer says applicable and defect.
 * Exit status: 0 every scorer passes, 1 some scorer misses, 2 bad usage or data. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/exchange.h"
#include "core/extract.h"
#include "scorers/registry.h"
#include "scorers/scorer.h"

#define QUALITY_DEFAULT_DIR   "tests/fixtures/labelled"
#define QUALITY_MIN_PRECISION 0.95
#define QUALITY_MIN_RECALL    0.90
#define QUALITY_MAX_FILES     64
#define QUALITY_EXCERPT_BYTES 100

struct counts {
    size_t tp, fp, fn, tn;
};

static bool verbose;

/* Prints at most QUALITY_EXCERPT_BYTES of s on one line, escaping newlines. */
static void print_excerpt(const char *s)
{
    size_t i = 0;
    for (; s[i] && i < QUALITY_EXCERPT_BYTES; i++) {
        if (s[i] == '\n')
            fputs("\\n", stdout);
        else
            putchar(s[i]);
    }
    if (s[i]) fputs("...", stdout);
}

/* Fills x (and its tool call) from a case; returns 0, or -1 with err. Strings are borrowed
 * from c, the request is a new reference. */
static int case_to_extracted(const json_t *c, struct extracted *x, struct extract_tool_call *call,
                             char **args_owned, struct err *err)
{
    const json_t *text = json_object_get(c, "text");
    if (!json_is_string(text)) {
        err_set(err, "\"text\": missing or not a string");
        return -1;
    }
    if (!json_is_boolean(json_object_get(c, "defect"))) {
        err_set(err, "\"defect\": missing or not true/false");
        return -1;
    }
    x->api = EXTRACT_API_OPENAI_CHAT;
    x->text = (char *)json_string_value(text);
    x->text_len = json_string_length(text);
    x->finish_reason = (char *)json_string_value(json_object_get(c, "finish_reason"));
    x->refusal = (char *)json_string_value(json_object_get(c, "refusal_field"));

    const json_t *args = json_object_get(c, "tool_args");
    if (args) {
        if (json_is_string(args)) {
            call->arguments = (char *)json_string_value(args);
        } else {
            *args_owned = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
            call->arguments = *args_owned;
        }
        call->name = (char *)json_string_value(json_object_get(c, "tool_name"));
        x->tool_calls = call;
        x->n_tool_calls = 1;
    }

    const json_t *request = json_object_get(c, "request");
    const json_t *format = json_object_get(c, "response_format");
    if (request && !json_is_object(request)) {
        err_set(err, "\"request\": not an object");
        return -1;
    }
    if (request)
        x->request = json_incref((json_t *)request);
    else if (format)
        x->request = json_pack("{sO}", "response_format", format);
    return 0;
}

/* Runs one labelled file through its scorer; returns 0 PASS, 1 MISS, 2 error. */
static int run_file(const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char name[128];
    size_t len = strlen(base);
    if (len <= 6 || strcmp(base + len - 6, ".jsonl") != 0 || len - 6 >= sizeof(name)) {
        fprintf(stderr, "quality: %s: not a <scorer>.jsonl file\n", path);
        return 2;
    }
    memcpy(name, base, len - 6);
    name[len - 6] = '\0';
    const struct scorer *sc = scorer_find(name);
    if (sc == NULL) {
        fprintf(stderr, "quality: %s: no scorer named \"%s\"\n", path, name);
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "quality: %s: cannot open\n", path);
        return 2;
    }

    int rc = 2;
    void *state = NULL;
    struct err err = {{0}};
    char *line = NULL;
    size_t cap = 0;
    struct counts n = {0};
    if (sc->setup && sc->setup(&state, NULL, &err) < 0) {
        fprintf(stderr, "quality: %s: setup with default params failed: %s\n", name, err.msg);
        goto out;
    }
    if (verbose) printf("%s:\n", name);
    for (size_t lineno = 1; getline(&line, &cap, f) > 0; lineno++) {
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        json_error_t jerr;
        json_t *c = json_loads(line, 0, &jerr);
        if (!json_is_object(c)) {
            fprintf(stderr, "quality: %s:%zu: not a JSON object: %s\n", path, lineno,
                    c ? "" : jerr.text);
            json_decref(c);
            goto out;
        }
        struct extracted x = {0};
        struct extract_tool_call call = {0};
        struct exchange ex = {.status = 200, .outcome = EXCHANGE_COMPLETE};
        char *args_owned = NULL;
        if (json_is_integer(json_object_get(c, "status")))
            ex.status = (int)json_integer_value(json_object_get(c, "status"));
        if (case_to_extracted(c, &x, &call, &args_owned, &err) < 0) {
            fprintf(stderr, "quality: %s:%zu: %s\n", path, lineno, err.msg);
            json_decref(c);
            goto out;
        }
        struct score_input in = {.ex = &ex, .x = &x};
        struct score s = {0};
        sc->score(state, &in, &s);
        bool truth = json_is_true(json_object_get(c, "defect"));
        bool said = s.applicable && s.defect;
        const char *verdict = NULL;
        if (truth && said) {
            n.tp++;
        } else if (!truth && !said) {
            n.tn++;
        } else if (said) {
            n.fp++;
            verdict = "FP";
        } else {
            n.fn++;
            verdict = "FN";
        }
        if (verbose && verdict) {
            const char *note = json_string_value(json_object_get(c, "note"));
            printf("  %s line %zu (%s): ", verdict, lineno, note ? note : "no note");
            print_excerpt(x.text);
            printf("\n     detail: %s\n", s.detail);
        }
        free(args_owned);
        json_decref(x.request);
        json_decref(c);
    }
    size_t cases = n.tp + n.fp + n.fn + n.tn;
    bool has_said = n.tp + n.fp > 0, has_truth = n.tp + n.fn > 0;
    double precision = has_said ? (double)n.tp / (double)(n.tp + n.fp) : 1.0;
    double recall = has_truth ? (double)n.tp / (double)(n.tp + n.fn) : 1.0;
    bool pass = precision >= QUALITY_MIN_PRECISION && recall >= QUALITY_MIN_RECALL;
    char p[16], r[16];
    snprintf(p, sizeof(p), has_said ? "%.3f" : "-", precision);
    snprintf(r, sizeof(r), has_truth ? "%.3f" : "-", recall);
    printf("%-12s %6zu %5zu %5zu %5zu %5zu %10s %8s  %s\n", name, cases, n.tp, n.fp, n.fn, n.tn, p,
           r, pass ? "PASS" : "MISS");
    rc = pass ? 0 : 1;
out:
    free(line);
    fclose(f);
    if (sc->teardown && state) sc->teardown(state);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the *.jsonl files of dir, sorted, to files. Returns 0, or -1. */
static int list_dir(const char *dir, char **files, size_t *n_files)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "quality: %s: cannot open directory\n", dir);
        return -1;
    }
    size_t first = *n_files;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len <= 6 || strcmp(e->d_name + len - 6, ".jsonl") != 0) continue;
        if (*n_files == QUALITY_MAX_FILES) break;
        char *path = malloc(strlen(dir) + len + 2);
        if (path == NULL) abort();
        sprintf(path, "%s/%s", dir, e->d_name);
        files[(*n_files)++] = path;
    }
    closedir(d);
    qsort(files + first, *n_files - first, sizeof(files[0]), by_name);
    return 0;
}

int main(int argc, char **argv)
{
    char *files[QUALITY_MAX_FILES];
    size_t n_files = 0;
    int status = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else {
            fprintf(stderr, "usage: %s [-v] [DIR | FILE.jsonl ...]\n", argv[0]);
            return 2;
        }
    }
    if (i == argc && list_dir(QUALITY_DEFAULT_DIR, files, &n_files) < 0) return 2;
    for (; i < argc; i++) {
        size_t len = strlen(argv[i]);
        if (len > 6 && strcmp(argv[i] + len - 6, ".jsonl") == 0) {
            if (n_files < QUALITY_MAX_FILES) files[n_files++] = strdup(argv[i]);
        } else if (list_dir(argv[i], files, &n_files) < 0) {
            status = 2;
        }
    }
    if (n_files == 0 && status == 0) {
        fprintf(stderr, "quality: no labelled files\n");
        status = 2;
    }
    printf("%-12s %6s %5s %5s %5s %5s %10s %8s  %s (precision >= %.2f, recall >= %.2f)\n", "scorer",
           "cases", "TP", "FP", "FN", "TN", "precision", "recall", "result", QUALITY_MIN_PRECISION,
           QUALITY_MIN_RECALL);
    for (size_t f = 0; f < n_files; f++) {
        int rc = run_file(files[f]);
        if (rc > status) status = rc;
        free(files[f]);
    }
    return status;
}
