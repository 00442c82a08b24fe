/* Evaluator threads: capture queue -> extract -> the route's scorers -> tracker.
 *
 * DESIGN: the loops never wait for us: a full capture queue drops on their side. Each thread pops
 * a capture, evaluates it with read-only scorer states (built once, per route) and records the
 * verdicts in the tracker (its own mutex). Thread 0 also ticks once a second: the tracker closes
 * windows and reports state changes, which are logged and POSTed to the alert webhook (a
 * bounded-time call: a slow webhook delays scoring, never traffic); with --sample-rate auto it
 * sets the global sampling rate from the required sample size and the last window's traffic.
 * An exchange with a defect becomes a triage item (proxy/item.c), handed to triage_submit(),
 * which waits only while the triage queue is full. */
#include "proxy/evaluator.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/exchange.h"
#include "core/extract.h"
#include "core/tracker.h"
#include "core/xalloc.h"
#include "proxy/item.h"
#include "scorers/registry.h"
#include "triage/redis.h"
#include "triage/triage.h"

#define LOG_MODULE "evaluator"
#include "core/log.h"

#define EVALUATOR_MAX_THREADS      64
#define EVALUATOR_TICK_MS          1000
#define EVALUATOR_REDIS_TIMEOUT_MS 300
/* A pseudo-scorer: the response could not be understood (SPEC's `parse` defect). */
#define EVALUATOR_PARSE "parse"

struct slot {
    const struct scorer *scorer;
    void *state;
    bool enabled;
};

/* The scorers of one route, in registry order. */
struct route_set {
    const char *name;
    struct slot *slots;
};

struct scoring {
    size_t n_scorers; /* registry scorers; the tracker has one more: parse */
    const char *names[TRACKER_MAX_SCORERS];
    struct route_set *routes;
    size_t n_routes;
};

struct evaluator {
    const struct config *cfg;
    struct queue *captures;
    struct sampler *sampler;
    struct triage *triage; /* flagged items go here; may be NULL */
    uint64_t (*requests)(void *arg);
    void *requests_arg;
    struct scoring scoring;
    struct tracker *tracker;
    struct tracker_config tracker_cfg;
    struct redis_url redis; /* alerts are published here */
    bool has_redis;
    int64_t redis_warned_ms; /* last "cannot publish" warning: one a minute at most */
    pthread_t threads[EVALUATOR_MAX_THREADS];
    int n_threads;
    atomic_llong deadline_us; /* 0 while running; after stop, when to give up */

    pthread_mutex_t lock; /* guards stats and the auto-rate figures */
    struct evaluator_stats stats;
    int64_t last_tick_ms;
    int64_t window_index;      /* auto rate: the window being counted */
    uint64_t window_requests0; /* requests counter at its start */
    double last_traffic;       /* requests in the last full window */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- scorer configuration ---- */

static const json_t *object_member(const json_t *obj, const char *key)
{
    return obj ? json_object_get(obj, key) : NULL;
}

static int check_keys(const json_t *obj, const char *where, const char *const *allowed,
                      struct err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL && key[0] != '_') {
            err_set(err, "%s.%s: unknown key (expected enabled, params or routes)", where, key);
            return -1;
        }
    }
    return 0;
}

/* The enabled flag and params for scorer s on route r: the route's own, else the scorer's. */
static int scorer_settings(const json_t *entry, const char *scorer, const char *route,
                           bool *enabled, const json_t **params, struct err *err)
{
    static const char *const keys[] = {"enabled", "params", "routes", NULL};
    static const char *const route_keys[] = {"enabled", "params", NULL};
    char where[160];
    *enabled = true;
    *params = NULL;
    if (entry == NULL) return 0;
    snprintf(where, sizeof(where), "scorers.%s", scorer);
    if (!json_is_object(entry)) {
        err_set(err, "%s: expected an object {enabled, params, routes}", where);
        return -1;
    }
    if (check_keys(entry, where, keys, err) < 0) return -1;
    const json_t *levels[2] = {entry, NULL};
    const json_t *routes = object_member(entry, "routes");
    if (routes && !json_is_object(routes)) {
        err_set(err, "%s.routes: expected an object of route: {enabled, params}", where);
        return -1;
    }
    levels[1] = object_member(routes, route);
    for (int i = 0; i < 2; i++) {
        const json_t *lv = levels[i];
        if (lv == NULL) continue;
        if (i == 1) {
            snprintf(where, sizeof(where), "scorers.%s.routes.%s", scorer, route);
            if (!json_is_object(lv) || check_keys(lv, where, route_keys, err) < 0) {
                if (!json_is_object(lv))
                    err_set(err, "%s: expected an object {enabled, params}", where);
                return -1;
            }
        }
        const json_t *en = json_object_get(lv, "enabled");
        if (en && !json_is_boolean(en)) {
            err_set(err, "%s.enabled: expected true or false", where);
            return -1;
        }
        if (en) *enabled = json_is_true(en);
        const json_t *p = json_object_get(lv, "params");
        if (p && !json_is_object(p)) {
            err_set(err, "%s.params: expected an object", where);
            return -1;
        }
        if (p) *params = p;
    }
    return 0;
}

static void scoring_fini(struct scoring *sc)
{
    for (size_t r = 0; r < sc->n_routes; r++) {
        for (size_t i = 0; i < sc->n_scorers; i++) {
            struct slot *s = &sc->routes[r].slots[i];
            if (s->state && s->scorer->teardown) s->scorer->teardown(s->state);
        }
        free(sc->routes[r].slots);
    }
    free(sc->routes);
    memset(sc, 0, sizeof(*sc));
}

static int scoring_init(struct scoring *sc, const struct config *cfg, struct err *err)
{
    memset(sc, 0, sizeof(*sc));
    for (const struct scorer *const *s = scorer_registry; *s; s++)
        sc->names[sc->n_scorers++] = (*s)->name;
    sc->names[sc->n_scorers] = EVALUATOR_PARSE;
    if (cfg->scorers) {
        const char *key;
        json_t *v;
        json_object_foreach(cfg->scorers, key, v)
        {
            if (key[0] != '_' && scorer_find(key) == NULL) {
                err_set(err,
                        "scorers.%s: no such scorer (built-in: http_error empty truncated "
                        "json_valid regex refusal pii secrets repetition length latency)",
                        key);
                return -1;
            }
        }
    }
    sc->n_routes = cfg->n_upstreams;
    sc->routes = xcalloc(sc->n_routes, sizeof(*sc->routes));
    for (size_t r = 0; r < sc->n_routes; r++) {
        struct route_set *rs = &sc->routes[r];
        rs->name = cfg->upstreams[r].name;
        rs->slots = xcalloc(sc->n_scorers, sizeof(*rs->slots));
        for (size_t i = 0; i < sc->n_scorers; i++) {
            struct slot *s = &rs->slots[i];
            s->scorer = scorer_registry[i];
            const json_t *params;
            const json_t *entry = object_member(cfg->scorers, s->scorer->name);
            if (scorer_settings(entry, s->scorer->name, rs->name, &s->enabled, &params, err) < 0)
                goto fail;
            if (s->enabled && s->scorer->setup && s->scorer->setup(&s->state, params, err) < 0) {
                /* regex, length and latency have nothing to check until configured: left out
                 * quietly unless the config names them. */
                if (entry != NULL) goto fail;
                s->enabled = false;
                s->state = NULL;
            }
        }
    }
    return 0;
fail:
    scoring_fini(sc);
    return -1;
}

int evaluator_check(const struct config *cfg, struct err *err)
{
    const char *routes[CONFIG_MAX_UPSTREAMS];
    for (size_t i = 0; i < cfg->n_upstreams; i++)
        routes[i] = cfg->upstreams[i].name;
    struct sampler *s = sampler_new(cfg->sample_rate, cfg->sampling, routes, cfg->n_upstreams, err);
    if (s == NULL) return -1;
    sampler_free(s);
    struct scoring sc;
    if (scoring_init(&sc, cfg, err) < 0) return -1;
    struct tracker_config tc;
    int rc = tracker_config_parse(&tc, cfg->sigma, sc.names, sc.n_scorers + 1, err);
    scoring_fini(&sc);
    return rc;
}

/* ---- one exchange ---- */

static const struct route_set *route_of(const struct evaluator *ev, const char *name)
{
    for (size_t r = 0; r < ev->scoring.n_routes; r++) {
        if (name && strcmp(ev->scoring.routes[r].name, name) == 0) return &ev->scoring.routes[r];
    }
    return NULL;
}

/* Hands a flagged exchange to triage as an item: every applicable verdict, defects or not. */
static void submit_item(struct evaluator *ev, const struct route_set *rs, const struct exchange *ex,
                        const struct extracted *x, const struct score *scores,
                        const bool *applicable, const bool *defect)
{
    if (ev->triage == NULL) return;
    size_t n = ev->scoring.n_scorers, n_list = 0;
    struct item_score list[TRACKER_MAX_SCORERS + 1];
    for (size_t i = 0; i < n; i++) {
        if (applicable[i])
            list[n_list++] = (struct item_score){rs->slots[i].scorer->name, defect[i],
                                                 scores[i].score, scores[i].detail};
    }
    if (defect[n])
        list[n_list++] = (struct item_score){EVALUATOR_PARSE, true, 1.0, x->parse_detail};
    const char *url = ev->cfg->upstreams[rs - ev->scoring.routes].url;
    char *item = item_json(ex, x, url, list, n_list);
    if (item != NULL) triage_submit(ev->triage, item);
}

static void evaluate(struct evaluator *ev, struct exchange *ex)
{
    int64_t t0 = exchange_now_us();
    const struct route_set *rs = route_of(ev, ex->upstream);
    if (rs == NULL) return; /* refused before routing: nothing to score */
    struct extracted x;
    extract(ex, ev->cfg->capture_max_bytes * 8, &x);
    size_t n = ev->scoring.n_scorers;
    bool applicable[TRACKER_MAX_SCORERS] = {false}, defect[TRACKER_MAX_SCORERS] = {false};
    struct score scores[TRACKER_MAX_SCORERS];
    char flagged[256] = "";
    size_t flagged_len = 0;
    struct score_input in = {.ex = ex, .x = &x};
    for (size_t i = 0; i < n; i++) {
        const struct slot *s = &rs->slots[i];
        if (!s->enabled) continue;
        struct score *out = &scores[i];
        *out = (struct score){.applicable = true};
        s->scorer->score(s->state, &in, out);
        applicable[i] = out->applicable;
        defect[i] = out->applicable && out->defect;
        if (defect[i] && flagged_len + strlen(s->scorer->name) + 2 < sizeof(flagged))
            flagged_len += (size_t)snprintf(flagged + flagged_len, sizeof(flagged) - flagged_len,
                                            "%s%s", flagged_len ? "," : "", s->scorer->name);
    }
    /* parse: judged on completed 2xx responses of an API we know. */
    applicable[n] = ex->outcome == EXCHANGE_COMPLETE && ex->status >= 200 && ex->status < 300 &&
                    x.api != EXTRACT_API_UNKNOWN;
    defect[n] = applicable[n] && x.parse_error;
    if (defect[n] && flagged_len + 8 < sizeof(flagged))
        flagged_len += (size_t)snprintf(flagged + flagged_len, sizeof(flagged) - flagged_len,
                                        "%s%s", flagged_len ? "," : "", EVALUATOR_PARSE);
    tracker_record(ev->tracker, ex->start_unix_ms, ex->upstream, x.model, ex->sampled_by,
                   applicable, defect);
    if (flagged_len > 0) {
        log_info("flagged req=%s route=%s model=%s sampled_by=%s scorers=%s", ex->id, ex->upstream,
                 x.model ? x.model : "-", exchange_sampled_by_name(ex->sampled_by), flagged);
        submit_item(ev, rs, ex, &x, scores, applicable, defect);
    }
    pthread_mutex_lock(&ev->lock);
    ev->stats.n_evaluated++;
    ev->stats.n_flagged += flagged_len > 0;
    ev->stats.n_parse_errors += defect[n];
    ev->stats.eval_us += (uint64_t)(exchange_now_us() - t0);
    pthread_mutex_unlock(&ev->lock);
    extracted_fini(&x);
}

/* ---- ticks: state changes, auto rate ---- */

static void post_webhook(const char *url, const char *body)
{
    CURL *e = curl_easy_init();
    if (e == NULL) return;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status >= 300)
        log_warn("alert webhook failed: %s (status %ld)",
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error", status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
}

static void on_state_change(void *arg, const char *chart, enum sigma_state from,
                            enum sigma_state to, const json_t *summary)
{
    struct evaluator *ev = arg;
    bool worse = to > from && to > SIGMA_IN_CONTROL;
    json_t *p = json_object_get(summary, "p");
    LOG_AT(worse ? LOG_WARN : LOG_INFO, "state %s: %s -> %s (n=%lld defects=%lld p=%.4g)", chart,
           sigma_state_name(from), sigma_state_name(to),
           (long long)json_integer_value(json_object_get(summary, "n")),
           (long long)json_integer_value(json_object_get(summary, "defects")),
           p && json_is_number(p) ? json_number_value(p) : NAN);
    if (ev->cfg->alert_webhook == NULL && !ev->has_redis) return;
    json_t *msg =
        json_pack("{s:s, s:s, s:s, s:I, s:O}", "chart", chart, "from", sigma_state_name(from), "to",
                  sigma_state_name(to), "ts", (json_int_t)now_ms(), "window", summary);
    char *body = json_dumps(msg, JSON_COMPACT);
    if (ev->cfg->alert_webhook) post_webhook(ev->cfg->alert_webhook, body);
    struct err err = {{0}};
    if (ev->has_redis &&
        redis_publish(&ev->redis, REDIS_ALERT_CHANNEL, body, EVALUATOR_REDIS_TIMEOUT_MS, &err) <
            0 &&
        now_ms() - ev->redis_warned_ms > 60 * 1000) {
        ev->redis_warned_ms = now_ms();
        log_warn("alert not published on %s: %s", REDIS_ALERT_CHANNEL, err.msg);
    }
    free(body);
    json_decref(msg);
}

/* --sample-rate auto: at each new window, the rate that delivers the required sample from the
 * last window's traffic (SIXSIGMA.md §11). */
static void adjust_rate(struct evaluator *ev, int64_t now)
{
    if (!ev->cfg->sample_auto || ev->requests == NULL) return;
    int64_t index = now / ((int64_t)ev->tracker_cfg.window_s * 1000);
    uint64_t requests = ev->requests(ev->requests_arg);
    pthread_mutex_lock(&ev->lock);
    if (index != ev->window_index) {
        if (ev->window_index != 0) ev->last_traffic = (double)(requests - ev->window_requests0);
        ev->window_index = index;
        ev->window_requests0 = requests;
    }
    double traffic = ev->last_traffic;
    pthread_mutex_unlock(&ev->lock);
    if (traffic > 0) {
        const struct tracker_config *tc = &ev->tracker_cfg;
        double rate = sigma_sample_rate((double)tracker_required_n(ev->tracker), traffic,
                                        tc->min_rate, tc->max_rate);
        if (rate != sampler_global_rate(ev->sampler))
            log_info("sample rate auto: %.4g (need %llu per window, saw %.0f requests)", rate,
                     (unsigned long long)tracker_required_n(ev->tracker), traffic);
        sampler_set_global_rate(ev->sampler, rate);
    }
}

static void tick(struct evaluator *ev)
{
    int64_t now = now_ms();
    if (now - ev->last_tick_ms < EVALUATOR_TICK_MS) return;
    ev->last_tick_ms = now;
    tracker_tick(ev->tracker, now, on_state_change, ev);
    adjust_rate(ev, now);
}

struct thread_arg {
    struct evaluator *ev;
    int index;
};

static void *run(void *arg)
{
    struct thread_arg *ta = arg;
    struct evaluator *ev = ta->ev;
    bool ticks = ta->index == 0;
    free(ta);
    for (;;) {
        struct exchange *ex = queue_pop(ev->captures, ticks ? EVALUATOR_TICK_MS : -1);
        if (ticks && atomic_load(&ev->deadline_us) == 0) tick(ev);
        if (ex == NULL) {
            if (atomic_load(&ev->deadline_us) != 0 || !ticks) break; /* closed and empty */
            continue;
        }
        long long deadline = atomic_load(&ev->deadline_us);
        if (deadline != 0 && exchange_now_us() > deadline) {
            pthread_mutex_lock(&ev->lock);
            ev->stats.n_abandoned++;
            pthread_mutex_unlock(&ev->lock);
        } else {
            evaluate(ev, ex);
        }
        exchange_release(ex);
    }
    return NULL;
}

/* ---- lifecycle ---- */

struct evaluator *evaluator_start(const struct config *cfg, struct queue *captures,
                                  struct sampler *sampler, struct triage *triage,
                                  uint64_t (*requests)(void *arg), void *arg, struct err *err)
{
    struct evaluator *ev = xcalloc(1, sizeof(*ev));
    ev->cfg = cfg;
    ev->captures = captures;
    ev->sampler = sampler;
    ev->triage = triage;
    ev->requests = requests;
    ev->requests_arg = arg;
    atomic_init(&ev->deadline_us, 0);
    pthread_mutex_init(&ev->lock, NULL);
    if (scoring_init(&ev->scoring, cfg, err) < 0) goto fail;
    if (tracker_config_parse(&ev->tracker_cfg, cfg->sigma, ev->scoring.names,
                             ev->scoring.n_scorers + 1, err) < 0)
        goto fail;
    ev->tracker = tracker_new(&ev->tracker_cfg, ev->scoring.names, ev->scoring.n_scorers + 1);
    ev->has_redis = cfg->redis_url && redis_url_parse(cfg->redis_url, &ev->redis, err) == 0;
    if (cfg->sample_auto)
        sampler_set_global_rate(sampler, ev->tracker_cfg.max_rate); /* until a window is seen */
    int n = cfg->evaluator_threads < EVALUATOR_MAX_THREADS ? cfg->evaluator_threads
                                                           : EVALUATOR_MAX_THREADS;
    for (int i = 0; i < (n > 0 ? n : 1); i++) {
        struct thread_arg *ta = xmalloc(sizeof(*ta));
        *ta = (struct thread_arg){ev, i};
        int rc = pthread_create(&ev->threads[i], NULL, run, ta);
        if (rc != 0) {
            free(ta);
            err_set(err, "evaluator: pthread_create: %s", strerror(rc));
            evaluator_stop(ev, 0);
            return NULL;
        }
        ev->n_threads++;
    }
    return ev;
fail:
    scoring_fini(&ev->scoring);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
    return NULL;
}

uint64_t evaluator_stop(struct evaluator *ev, int deadline_ms)
{
    if (ev == NULL) return 0;
    atomic_store(&ev->deadline_us, exchange_now_us() + (long long)deadline_ms * 1000);
    queue_close(ev->captures);
    for (int i = 0; i < ev->n_threads; i++)
        pthread_join(ev->threads[i], NULL);
    uint64_t abandoned = ev->stats.n_abandoned; /* the threads are gone: no lock needed */
    tracker_free(ev->tracker);
    scoring_fini(&ev->scoring);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
    return abandoned;
}

void evaluator_get_stats(struct evaluator *ev, struct evaluator_stats *out)
{
    pthread_mutex_lock(&ev->lock);
    *out = ev->stats;
    pthread_mutex_unlock(&ev->lock);
}

json_t *evaluator_stats_json(struct evaluator *ev)
{
    json_t *root = tracker_stats(ev->tracker, now_ms());
    const struct tracker_config *tc = &ev->tracker_cfg;
    double rate = sampler_global_rate(ev->sampler);
    pthread_mutex_lock(&ev->lock);
    double traffic = ev->last_traffic;
    struct evaluator_stats st = ev->stats;
    pthread_mutex_unlock(&ev->lock);
    uint64_t required = tracker_required_n(ev->tracker);
    json_t *sampling =
        json_pack("{s:s, s:f, s:I, s:f, s:f, s:f}", "mode", ev->cfg->sample_auto ? "auto" : "fixed",
                  "rate", rate, "required_n", (json_int_t)required, "traffic_per_window", traffic,
                  "min_rate", tc->min_rate, "max_rate", tc->max_rate);
    {
        uint64_t expected = (uint64_t)floor(rate * traffic);
        json_object_set_new(sampling, "expected_n", json_integer((json_int_t)expected));
        json_object_set_new(
            sampling, "power_achieved",
            json_real(sigma_detect_power(tc->limits.p0, tc->limits.p1, tc->alpha, expected)));
        json_object_set_new(
            sampling, "recommended_rate",
            json_real(sigma_sample_rate((double)required, traffic, tc->min_rate, tc->max_rate)));
    }
    json_object_set_new(root, "sampling", sampling);
    json_object_set_new(root, "evaluated", json_integer((json_int_t)st.n_evaluated));
    json_object_set_new(root, "flagged", json_integer((json_int_t)st.n_flagged));
    json_object_set_new(root, "parse_errors", json_integer((json_int_t)st.n_parse_errors));
    json_object_set_new(
        root, "eval_us_per_exchange",
        json_real(st.n_evaluated ? (double)st.eval_us / (double)st.n_evaluated : 0.0));
    return root;
}

void evaluator_metrics(struct evaluator *ev, struct buf *out)
{
    tracker_metrics(ev->tracker, now_ms(), out);
}
