/* The tracker: exact counts per scorer, route and model; error captures kept apart; windows roll;
 * a jump in the defect rate moves the state and is reported once. */
#include <math.h>
#include <string.h>

#include "core/tracker.h"
#include "tests/tap.h"

static const char *const scorers[] = {"pii", "empty"};

struct changes {
    int n;
    char last_chart[160];
    enum sigma_state last_to;
};

static void on_change(void *arg, const char *chart, enum sigma_state from, enum sigma_state to,
                      const json_t *summary)
{
    (void)from;
    (void)summary;
    struct changes *c = arg;
    if (strcmp(chart, "all/any") != 0) return;
    c->n++;
    snprintf(c->last_chart, sizeof(c->last_chart), "%s", chart);
    c->last_to = to;
}

static json_int_t get_int(json_t *root, const char *path)
{
    json_t *v = root;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    return v ? json_integer_value(v) : -1;
}

static const char *get_str(json_t *root, const char *path)
{
    json_t *v = root;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    return v ? json_string_value(v) : NULL;
}

int main(void)
{
    struct err err = {{0}};
    struct tracker_config cfg;
    json_t *sigma = json_loads("{\"p0\": 0.02, \"p1\": 0.2, \"window_s\": 60, \"min_samples\": 50, "
                               "\"ewma_lambda\": 1}",
                               0, NULL);
    is_int(tracker_config_parse(&cfg, sigma, scorers, 2, &err), 0, "sigma config parses");
    json_decref(sigma);
    struct tracker *t = tracker_new(&cfg, scorers, 2);
    int64_t t0 = 1000LL * 60 * 1000; /* the start of window 1000 */

    /* 200 exchanges: every 10th has pii, every 25th is empty; `empty` does not apply to 20. */
    for (int i = 0; i < 200; i++) {
        bool app[2] = {true, i % 10 != 5};
        bool def[2] = {i % 10 == 0, i % 25 == 1};
        tracker_record(t, t0 + i, i % 2 ? "openai" : "anthropic", i % 4 ? "gpt" : NULL,
                       EXCHANGE_SAMPLED_RATE, app, def);
    }
    bool app[2] = {true, true}, def[2] = {true, false};
    tracker_record(t, t0 + 300, "openai", "gpt", EXCHANGE_SAMPLED_ERROR, app, def);
    struct changes ch = {0};
    tracker_tick(t, t0 + 400, on_change, &ch);
    json_t *st = tracker_stats(t, t0 + 400);
    is_int(get_int(st, "scorers.pii.current.n"), 200, "pii applied to all 200");
    is_int(get_int(st, "scorers.pii.current.defects"), 20, "pii found 20");
    is_int(get_int(st, "scorers.empty.current.n"), 180, "empty applied to 180");
    is_int(get_int(st, "scorers.empty.current.defects"), 8, "empty found 8");
    is_int(get_int(st, "scorers.any.current.n"), 200, "any: 200 units");
    is_int(get_int(st, "scorers.any.current.defects"), 28, "any: 28 defective units");
    is_int(get_int(st, "scorers.any.current.scorer_hits"), 28, "any: 28 hits in all");
    is_int(get_int(st, "scorers.any.current.opportunities"), 380, "any: 380 opportunities");
    is_int(get_int(st, "scorers.pii.apart.n"), 1, "the error capture is counted apart");
    is_int(get_int(st, "routes.openai.pii.current.n"), 100, "route openai: 100");
    is_int(get_int(st, "routes.anthropic.pii.current.defects"), 20,
           "route anthropic has every pii hit (even i)");
    is_int(get_int(st, "models.gpt.pii.current.n"), 150, "model gpt: 150");
    is_str(get_str(st, "scorers.any.state"), "out_of_control",
           "28/200 against p0 = 0.02 is out of control");
    is_int(ch.n, 1, "one change reported for all/any");
    is_int(ch.last_to, SIGMA_OUT_OF_CONTROL, "to out_of_control");
    json_decref(st);

    /* Next window: clean traffic brings it back once min_samples are in (with lambda = 1 the
     * EWMA is the last point; a smaller lambda remembers the jump for a few windows). */
    int64_t t1 = t0 + 60 * 1000;
    for (int i = 0; i < 60; i++) {
        bool ok_def[2] = {false, false};
        tracker_record(t, t1 + i, "openai", NULL, EXCHANGE_SAMPLED_RATE, app, ok_def);
    }
    tracker_tick(t, t1 + 100, on_change, &ch);
    st = tracker_stats(t, t1 + 100);
    is_int(get_int(st, "scorers.pii.current.n"), 60, "a new window starts empty");
    is_int(get_int(st, "scorers.pii.total.n"), 260, "totals keep counting");
    is_str(get_str(st, "scorers.any.state"), "in_control", "a clean window is in control");
    is_int(ch.n, 2, "the return is reported too");
    json_t *hist =
        json_object_get(json_object_get(json_object_get(st, "scorers"), "any"), "history");
    is_int(json_array_size(hist), 1, "one closed window in the history");
    json_decref(st);

    /* Jump: 50% defects is credibly above p1 = 0.2. */
    int64_t t2 = t1 + 60 * 1000;
    for (int i = 0; i < 100; i++) {
        bool d2[2] = {i % 2 == 0, false};
        tracker_record(t, t2 + i, "openai", NULL, EXCHANGE_SAMPLED_RATE, app, d2);
    }
    tracker_tick(t, t2 + 200, on_change, &ch);
    is_int(ch.last_to, SIGMA_OUT_OF_SPEC, "a jump above p1 is out_of_spec");

    struct buf b;
    buf_init(&b, 1 << 20);
    tracker_metrics(t, t2 + 200, &b);
    ok(strstr(b.data, "sigmaproxy_scored_total{scope=\"all\",scorer=\"pii\"} 360") != NULL,
       "metrics: scored_total for pii");
    ok(strstr(b.data, "sigmaproxy_scored_total{scope=\"route\",route=\"openai\",scorer=\"pii\"}") !=
           NULL,
       "metrics: per-route label");
    ok(strstr(b.data, "state=\"out_of_spec\"} 1") != NULL, "metrics: state gauge");
    buf_fini(&b);

    /* A chart with no defects reports +Inf sigma. */
    struct tracker *t3 = tracker_new(&cfg, scorers, 2);
    bool none[2] = {false, false};
    for (int i = 0; i < 10; i++)
        tracker_record(t3, t0 + i, "r", NULL, EXCHANGE_SAMPLED_RATE, app, none);
    st = tracker_stats(t3, t0 + 20);
    json_t *lvl = json_object_get(
        json_object_get(json_object_get(json_object_get(st, "scorers"), "pii"), "current"),
        "sigma_level");
    ok(json_is_null(lvl), "zero defects: sigma level is null in JSON (+Inf), not a cap");
    json_decref(st);
    buf_init(&b, 1 << 20);
    tracker_metrics(t3, t0 + 20, &b);
    ok(strstr(b.data, "sigmaproxy_sigma_level{scope=\"all\",scorer=\"pii\"} +Inf") != NULL,
       "zero defects: +Inf in Prometheus");
    buf_fini(&b);
    tracker_free(t3);

    /* Phase I: with reference_windows = 2 the centre becomes the pooled rate of the first two
     * windows with data (10/200 + 30/200 = 0.1), then stays frozen. */
    json_t *ref = json_loads("{\"p0\": 0.01, \"p1\": 0.5, \"reference_windows\": 2, "
                             "\"min_samples\": 10, \"ewma_lambda\": 1}",
                             0, NULL);
    is_int(tracker_config_parse(&cfg, ref, scorers, 2, &err), 0, "reference_windows parses");
    json_decref(ref);
    struct tracker *t4 = tracker_new(&cfg, scorers, 2);
    for (int w = 0; w < 3; w++) {
        for (int i = 0; i < 200; i++) {
            bool d[2] = {i < (w == 0 ? 10 : w == 1 ? 30 : 20), false};
            tracker_record(t4, t0 + (int64_t)w * 60000 + i, "r", NULL, EXCHANGE_SAMPLED_RATE, app,
                           d);
        }
    }
    st = tracker_stats(t4, t0 + 2 * 60000 + 500);
    json_t *pii = json_object_get(json_object_get(st, "scorers"), "pii");
    ok(fabs(json_real_value(json_object_get(pii, "p0")) - 0.1) < 1e-12,
       "the frozen centre is the pooled rate of the reference windows (got %g)",
       json_real_value(json_object_get(pii, "p0")));
    is_str(json_string_value(json_object_get(pii, "centre_from")), "reference",
           "and says it comes from the reference");
    is_str(json_string_value(json_object_get(pii, "state")), "in_control",
           "20/200 is in control against the reference 0.1 (it would not be against p0 0.01)");
    json_decref(st);
    tracker_free(t4);

    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"p0\": 0.1, \"p1\": 0.05}", "sigma.p1: 0.05: must be above p0 (0.1)"},
        {"{\"window\": 5}", "sigma.window: unknown key"},
        {"{\"scorers\": {\"pi\": {\"p0\": 0.1}}}", "sigma.scorers.pi: no scorer has this name"},
        {"{\"alpha\": 2}", "sigma.alpha: must be a number in (0..0.5"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i].json, 0, NULL);
        is_int(tracker_config_parse(&cfg, j, scorers, 2, &err), -1, "refused: %s", bad[i].json);
        ok(strncmp(err.msg, bad[i].want, strlen(bad[i].want)) == 0, "message: %s", err.msg);
        json_decref(j);
    }
    tracker_free(t);
    return done_testing();
}
