/* sse_bench: the streaming client of tests/bench/bench.sh. It POSTs streaming chat completions to
 * mock_upstream (directly or through a proxy), x-mock-sse events x-mock-gap-ms apart, --concurrency
 * at a time on one libcurl multi handle that reuses its connections, and prints one line of
 * key=value figures: per-event relay delay (arrival on CLOCK_MONOTONIC minus the mock's
 * "sp_mock_ts_us"), time from request start to first event, events missing or out of order, and
 * "coalesced" events: read in the same curl_multi_perform() round as the stream's previous event,
 * i.e. held back somewhere and released together, and "late" ones (relay delay >= the gap). One
 * thread; all state lives in struct bench. With --hold-ms it opens --concurrency streams, writes
 * --ready-file once every stream has had its first event, keeps them open that long, then hangs up
 * (the many-slow-streams memory test). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define STREAM_BUF_BYTES 16384 /* a partial event; the mock's are ~250 bytes */
#define TS_KEY           "\"sp_mock_ts_us\":"
#define SEQ_KEY          "\"sp_mock_seq\":"

static const char DEFAULT_BODY[] =
    "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"system\",\"content\":"
    "\"You are a concise assistant for a quality engineering team.\"},{\"role\":\"user\","
    "\"content\":\"Explain what Six Sigma means and how the DMAIC cycle is used to reduce "
    "defects.\"}],\"temperature\":0.2,\"max_tokens\":120}";

struct samples {
    int64_t *v;
    size_t n, cap;
};

struct bench;

/* One transfer slot, reused for stream after stream. next_seq is the sp_mock_seq expected next;
 * last_round is 0 until the current stream's first event. */
struct stream {
    CURL *easy;
    struct bench *b;
    int64_t start_us;
    long long next_seq;
    uint64_t last_round;
    long n_events;
    bool done_seen;
    size_t len;
    char buf[STREAM_BUF_BYTES];
};

struct bench {
    const char *url, *body, *ready_file;
    long concurrency, total, events, gap_ms, hold_ms, deadline_s;
    struct curl_slist *headers;
    uint64_t round; /* curl_multi_perform() calls so far */
    long started, finished, failed, established;
    long n_events, missing, disordered, coalesced, late, bad_events;
    struct samples delays_us, firsts_us;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void samples_add(struct samples *s, int64_t v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        if (s->v == NULL) {
            fprintf(stderr, "sse_bench: out of memory\n");
            abort();
        }
    }
    s->v[s->n++] = v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted samples; -1 when there are none. */
static int64_t percentile(const struct samples *s, double p)
{
    if (s->n == 0) return -1;
    size_t rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    return s->v[rank > 0 ? rank - 1 : 0];
}

static void write_ready_file(const struct bench *b)
{
    FILE *f = fopen(b->ready_file, "w");
    if (f == NULL || fprintf(f, "%ld\n", b->established) < 0 || fclose(f) != 0) {
        fprintf(stderr, "sse_bench: %s: %s\n", b->ready_file, strerror(errno));
        exit(2);
    }
}

/* One whole event, NUL-terminated, without its blank line. */
static void take_event(struct stream *s, const char *ev, int64_t arrival_us)
{
    struct bench *b = s->b;
    if (strcmp(ev, "data: [DONE]") == 0) {
        s->done_seen = true;
        return;
    }
    const char *ts = strstr(ev, TS_KEY), *seq = strstr(ev, SEQ_KEY);
    if (strncmp(ev, "data: ", 6) != 0 || ts == NULL || seq == NULL) {
        b->bad_events++;
        return;
    }
    long long sent_us = strtoll(ts + strlen(TS_KEY), NULL, 10);
    long long i = strtoll(seq + strlen(SEQ_KEY), NULL, 10);
    if (i != s->next_seq) {
        b->disordered++;
        if (i > s->next_seq) b->missing += (long)(i - s->next_seq);
    }
    if (i >= s->next_seq) s->next_seq = i + 1;
    if (s->last_round == 0) {
        samples_add(&b->firsts_us, arrival_us - s->start_us);
        b->established++;
    } else if (s->last_round == b->round) {
        b->coalesced++;
    }
    s->last_round = b->round;
    samples_add(&b->delays_us, arrival_us - sent_us);
    if (b->gap_ms > 0 && arrival_us - sent_us >= b->gap_ms * 1000) b->late++;
    s->n_events++;
    b->n_events++;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct stream *s = userdata;
    size_t n = size * nmemb;
    int64_t arrival_us = now_us();
    if (n >= sizeof(s->buf) - s->len) {
        s->b->bad_events++;
        return 0; /* fails the transfer: no event is this long */
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    char *p = s->buf, *end;
    while ((end = strstr(p, "\n\n")) != NULL) {
        *end = '\0';
        take_event(s, p, arrival_us);
        p = end + 2;
    }
    s->len -= (size_t)(p - s->buf);
    memmove(s->buf, p, s->len);
    return n;
}

static int stream_start(struct stream *s, CURLM *multi)
{
    s->next_seq = 0;
    s->last_round = 0;
    s->n_events = 0;
    s->done_seen = false;
    s->len = 0;
    s->start_us = now_us();
    s->b->started++;
    CURLMcode mc = curl_multi_add_handle(multi, s->easy);
    if (mc != CURLM_OK) {
        fprintf(stderr, "sse_bench: curl_multi_add_handle: %s\n", curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

/* A stream ended on its own: it should have sent every event, then [DONE], with status 200. */
static void stream_finish(struct stream *s, CURLcode rc)
{
    struct bench *b = s->b;
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    b->finished++;
    if (s->next_seq < b->events) b->missing += (long)(b->events - s->next_seq);
    if (rc != CURLE_OK || status != 200 || !s->done_seen || b->hold_ms > 0) {
        if (b->failed++ < 5)
            fprintf(stderr, "sse_bench: stream failed: %s, status %ld, %ld events, %s\n",
                    curl_easy_strerror(rc), status, s->n_events,
                    s->done_seen ? "[DONE] seen" : "no [DONE]");
    }
}

static int stream_init(struct stream *s, struct bench *b)
{
    s->b = b;
    s->easy = curl_easy_init();
    if (s->easy == NULL) return -1;
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, b->url);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, b->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(b->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, b->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sse_bench [--concurrency C] [--streams N] [--events E] [--gap-ms MS]\n"
            "                 [--body JSON] [--hold-ms MS --ready-file FILE] [--deadline-s S] URL\n"
            "Runs N SSE streams of E events MS apart from mock_upstream, C at a time, and prints\n"
            "relay delay, time to first event, missing and coalesced events as key=value.\n");
}

static int parse_options(int argc, char **argv, struct bench *b)
{
    static const struct option longopts[] = {
        {"concurrency", required_argument, NULL, 'c'},
        {"streams", required_argument, NULL, 'n'},
        {"events", required_argument, NULL, 'e'},
        {"gap-ms", required_argument, NULL, 'g'},
        {"body", required_argument, NULL, 'b'},
        {"hold-ms", required_argument, NULL, 'H'},
        {"ready-file", required_argument, NULL, 'r'},
        {"deadline-s", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *b = (struct bench){
        .body = DEFAULT_BODY, .concurrency = 32, .events = 50, .gap_ms = 20, .deadline_s = 120};
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        long *field = NULL;
        switch (c) {
        case 'c':
            field = &b->concurrency;
            break;
        case 'n':
            field = &b->total;
            break;
        case 'e':
            field = &b->events;
            break;
        case 'g':
            field = &b->gap_ms;
            break;
        case 'H':
            field = &b->hold_ms;
            break;
        case 'd':
            field = &b->deadline_s;
            break;
        case 'b':
            b->body = optarg;
            break;
        case 'r':
            b->ready_file = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (field != NULL) {
            char *end;
            errno = 0;
            *field = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || *field < 0 || *field > 100000000) {
                fprintf(stderr, "sse_bench: bad value \"%s\" for --%s\n", optarg,
                        longopts[idx].name);
                return -1;
            }
        }
    }
    if (optind != argc - 1 || b->concurrency < 1 || (b->hold_ms > 0) != (b->ready_file != NULL)) {
        usage(stderr);
        return -1;
    }
    b->url = argv[optind];
    if (b->total == 0 || b->hold_ms > 0) b->total = b->concurrency;
    return 0;
}

static int add_header(struct bench *b, const char *line)
{
    struct curl_slist *l = curl_slist_append(b->headers, line);
    if (l == NULL) return -1;
    b->headers = l;
    return 0;
}

static void report(struct bench *b, int64_t elapsed_us)
{
    qsort(b->delays_us.v, b->delays_us.n, sizeof(int64_t), cmp_i64);
    qsort(b->firsts_us.v, b->firsts_us.n, sizeof(int64_t), cmp_i64);
    printf("streams=%ld established=%ld failed=%ld events=%ld missing=%ld disordered=%ld "
           "coalesced=%ld late=%ld bad=%ld delay_p50_us=%" PRId64 " delay_p99_us=%" PRId64
           " delay_max_us=%" PRId64 " first_p50_us=%" PRId64 " first_p99_us=%" PRId64
           " elapsed_ms=%" PRId64 "\n",
           b->started, b->established, b->failed, b->n_events, b->missing, b->disordered,
           b->coalesced, b->late, b->bad_events, percentile(&b->delays_us, 50),
           percentile(&b->delays_us, 99), percentile(&b->delays_us, 100),
           percentile(&b->firsts_us, 50), percentile(&b->firsts_us, 99), elapsed_us / 1000);
}

int main(int argc, char **argv)
{
    struct bench b;
    struct stream *streams = NULL;
    CURLM *multi = NULL;
    int status = 1;
    char line[64];
    if (parse_options(argc, argv, &b) < 0) return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;

    snprintf(line, sizeof(line), "x-mock-sse: %ld", b.events);
    if (add_header(&b, "Content-Type: application/json") < 0 || add_header(&b, "Expect:") < 0 ||
        add_header(&b, line) < 0)
        goto out;
    snprintf(line, sizeof(line), "x-mock-gap-ms: %ld", b.gap_ms);
    if (add_header(&b, line) < 0) goto out;

    multi = curl_multi_init();
    streams = calloc((size_t)b.concurrency, sizeof(*streams));
    if (multi == NULL || streams == NULL) goto out;
    for (long i = 0; i < b.concurrency; i++)
        if (stream_init(&streams[i], &b) < 0) goto out;

    int64_t start_us = now_us(), deadline_us = start_us + b.deadline_s * 1000000, ready_us = 0;
    for (long i = 0; i < b.concurrency && b.started < b.total; i++)
        if (stream_start(&streams[i], multi) < 0) goto out;
    for (;;) {
        int running = 0, left = 0;
        b.round++;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            fprintf(stderr, "sse_bench: curl_multi_perform: %s\n", curl_multi_strerror(mc));
            goto out;
        }
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            struct stream *s = (struct stream *)(void *)priv;
            stream_finish(s, msg->data.result);
            curl_multi_remove_handle(multi, s->easy);
            if (b.started < b.total && stream_start(s, multi) < 0) goto out;
        }
        int64_t now = now_us();
        if (b.hold_ms == 0 && b.finished == b.total) break;
        if (b.hold_ms > 0 && ready_us == 0 && b.established == b.concurrency) {
            write_ready_file(&b);
            ready_us = now;
        }
        if (ready_us > 0 && now - ready_us >= b.hold_ms * 1000) break;
        if (now > deadline_us) {
            fprintf(stderr, "sse_bench: deadline of %ld s passed: %ld of %ld streams finished\n",
                    b.deadline_s, b.finished, b.total);
            b.failed += b.total - b.finished;
            break;
        }
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    report(&b, now_us() - start_us);
    status = b.failed == 0 && b.missing == 0 && b.bad_events == 0 ? 0 : 1;
out:
    if (streams != NULL) {
        for (long i = 0; i < b.concurrency; i++) {
            if (streams[i].easy == NULL) continue;
            if (multi != NULL) curl_multi_remove_handle(multi, streams[i].easy);
            curl_easy_cleanup(streams[i].easy);
        }
    }
    free(streams);
    if (multi != NULL) curl_multi_cleanup(multi);
    curl_slist_free_all(b.headers);
    free(b.delays_us.v);
    free(b.firsts_us.v);
    curl_global_cleanup();
    return status;
}
