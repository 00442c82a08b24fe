/* scorer_cost: the CPU cost of each built-in scorer, and of text extraction, in µs per KB of
 * assistant output, on generated prose of 1, 16 and 128 KB (with the odd number, date, email
 * and code line a real answer has). Run by tests/bench/bench.sh; prints a table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/exchange.h"
#include "core/extract.h"
#include "scorers/registry.h"

static const char *const sentences[] = {
    "The quarterly report shows revenue grew 12.5% to $4.2 million compared with last year. ",
    "To install it, run `pip install requests==2.31.0` and restart the service. ",
    "Six Sigma teams measure defects per million opportunities before they improve a process. ",
    "Meeting moved to 2024-03-14 at 10:30; the agenda is in the shared folder. ",
    "You can contact the press office at press@example.com for further questions. ",
    "In Python, a list comprehension such as [x * 2 for x in items] is usually faster. ",
    "The model returned a JSON object with the fields name, price and quantity. ",
    "Order ORD-2024-000123 shipped on Monday and should arrive within three days. ",
};

static char *prose(size_t bytes)
{
    char *s = malloc(bytes + 256);
    size_t n = 0;
    for (size_t i = 0; n < bytes; i++) {
        const char *p = sentences[(i * 7 + i / 5) % (sizeof(sentences) / sizeof(sentences[0]))];
        size_t len = strlen(p);
        memcpy(s + n, p, len);
        n += len;
        if (i % 6 == 5) s[n++] = '\n';
    }
    s[bytes] = '\0';
    return s;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A chat completion carrying text, as the capture tap would hold it. */
static struct exchange *completion(const char *text)
{
    json_t *body =
        json_pack("{s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}]}", "object", "chat.completion", "model",
                  "gpt-4o-mini", "choices", "index", 0, "message", "role", "assistant", "content",
                  text, "finish_reason", "stop");
    char *json = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct exchange *ex = exchange_new("cost", strlen(json) + 1);
    ex->uri = strdup("/v1/chat/completions");
    ex->upstream = strdup("default");
    ex->status = 200;
    ex->request_body = strdup("{\"model\":\"gpt-4o-mini\",\"messages\":[]}");
    ex->request_body_len = strlen(ex->request_body);
    buf_append(&ex->response_head, "content-type: application/json\n", 31);
    exchange_add_body(ex, json, strlen(json));
    ex->start_us = 1;
    ex->first_byte_us = 1000;
    ex->end_us = 2000;
    free(json);
    return ex;
}

int main(void)
{
    static const size_t sizes[] = {1024, 16 * 1024, 128 * 1024};
    enum { N_SIZES = sizeof(sizes) / sizeof(sizes[0]) };
    printf("%-12s", "µs per KB");
    for (size_t k = 0; k < N_SIZES; k++)
        printf(" %9zu KB", sizes[k] / 1024);
    printf("\n");
    struct exchange *ex[N_SIZES];
    struct extracted x[N_SIZES];
    double cost[N_SIZES];
    for (size_t k = 0; k < N_SIZES; k++) {
        char *text = prose(sizes[k]);
        ex[k] = completion(text);
        free(text);
        int reps = (int)(4 * 1024 * 1024 / sizes[k]);
        double t0 = now_us();
        for (int r = 0; r < reps; r++) {
            struct extracted tmp;
            extract(ex[k], 64 << 20, &tmp);
            extracted_fini(&tmp);
        }
        cost[k] = (now_us() - t0) / reps / ((double)sizes[k] / 1024);
        extract(ex[k], 64 << 20, &x[k]);
    }
    printf("%-12s", "extract");
    for (size_t k = 0; k < N_SIZES; k++)
        printf(" %12.2f", cost[k]);
    printf("\n");
    /* Bounded configurations for the scorers that need one to apply. */
    static const struct {
        const char *name, *params;
    } configured[] = {
        {"regex", "{\"deny\": [\"(?i)password\\\\s*[:=]\", \"\\\\bDROP\\\\s+TABLE\\\\b\"]}"},
        {"length", "{\"max_chars\": 100000000}"},
        {"latency", "{\"total_ms\": 60000}"},
    };
    for (const struct scorer *const *s = scorer_registry; *s; s++) {
        json_t *params = NULL;
        for (size_t c = 0; c < sizeof(configured) / sizeof(configured[0]); c++) {
            if (strcmp(configured[c].name, (*s)->name) == 0)
                params = json_loads(configured[c].params, 0, NULL);
        }
        void *state = NULL;
        struct err err = {{0}};
        if ((*s)->setup && (*s)->setup(&state, params, &err) < 0) {
            printf("%-12s setup failed: %s\n", (*s)->name, err.msg);
            json_decref(params);
            continue;
        }
        printf("%-12s", (*s)->name);
        for (size_t k = 0; k < N_SIZES; k++) {
            struct score_input in = {.ex = ex[k], .x = &x[k]};
            int reps = (int)(4 * 1024 * 1024 / sizes[k]);
            double t0 = now_us();
            for (int r = 0; r < reps; r++) {
                struct score out = {.applicable = true};
                (*s)->score(state, &in, &out);
            }
            printf(" %12.2f", (now_us() - t0) / reps / ((double)sizes[k] / 1024));
        }
        printf("\n");
        if ((*s)->teardown) (*s)->teardown(state);
        json_decref(params);
    }
    for (size_t k = 0; k < N_SIZES; k++) {
        extracted_fini(&x[k]);
        exchange_release(ex[k]);
    }
    return 0;
}
