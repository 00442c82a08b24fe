/* Windowed defect-rate charts and their states (SIXSIGMA.md §4-§6, §10-§11, §13).
 *
 * A chart is one (dimension, name, scorer): dimension "all" (one series), "route" (one series per
 * upstream seen) or "model" (one per model, up to max_models, then "other"); scorer is a scorer's
 * name or "any" (a unit is defective when any applicable scorer found a defect). Time is cut into
 * windows of window_s; each chart keeps n_windows closed windows in a ring plus the current one.
 * The state shown is the current window's verdict once it holds min_n units, else the last closed
 * window's: a window with three samples says nothing. */
#include "core/tracker.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define TRACKER_OTHER_MODEL "other"

struct window {
    uint64_t n;             /* units (rate-sampled exchanges where the chart applied) */
    uint64_t x;             /* defectives */
    uint64_t defects;       /* "any" charts: scorer hits (a unit may carry several) */
    uint64_t opportunities; /* "any" charts: applicable scorers summed over units */
    int64_t index;          /* window number: start = index * window_s */
};

struct chart {
    struct window *ring; /* closed windows, oldest first from `head` */
    size_t head, count;
    struct window cur;
    struct window total; /* since start, rate-sampled */
    uint64_t apart_n;    /* error and forced captures: counted, not estimated from */
    uint64_t apart_x;
    double ewma, ewma_var; /* over closed windows with n > 0 */
    bool has_ewma;
    unsigned rules;         /* run rules fired at the last closed window */
    enum sigma_state state; /* last reported */
    bool started;           /* cur.index is set: the chart has seen its first window */
    /* Phase I (sigma.reference_windows): the first windows with data, pooled; then frozen. */
    uint64_t ref_n, ref_x;
    int ref_windows;
    bool frozen;
    double ref_centre;
};

struct series {
    const char *dimension; /* "all", "route", "model" */
    char *name;
    struct chart *charts; /* n_scorers + 1; "any" last */
};

struct tracker {
    pthread_mutex_t lock;
    struct tracker_config cfg;
    const char *const *scorers;
    size_t n_scorers;
    struct series **series;
    size_t n_series, cap_series;
    size_t n_models;
    uint64_t required_n;
    uint64_t min_n;
};

/* ---- configuration ---- */

static int read_number(const json_t *obj, const char *key, const char *where, double lo, double hi,
                       bool lo_open, double *out, struct err *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) return 0;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d >= lo && d <= hi) || (lo_open && d == lo)) {
        err_set(err, "%s%s: must be a number in %s%g..%g", where, key, lo_open ? "(" : "", lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

static int check_limits(const struct tracker_limits *l, const char *where, struct err *err)
{
    if (!(l->p1 > l->p0)) {
        err_set(err, "%sp1: %g: must be above p0 (%g)", where, l->p1, l->p0);
        return -1;
    }
    return 0;
}

int tracker_config_parse(struct tracker_config *c, const json_t *sigma, const char *const *scorers,
                         size_t n_scorers, struct err *err)
{
    *c = (struct tracker_config){
        .limits = {.p0 = 0.01, .p1 = 0.05},
        .alpha = 0.05,
        .power = 0.8,
        .confidence = 0.95,
        .window_s = 60,
        .n_windows = 60,
        .min_n = 0,
        .ewma_lambda = 0.2,
        .ewma_L = 3.0,
        .min_rate = 0.001,
        .max_rate = 1.0,
        .max_models = 32,
    };
    for (size_t i = 0; i < TRACKER_MAX_SCORERS; i++)
        c->scorer_limits[i] = (struct tracker_limits){NAN, NAN};
    if (sigma == NULL) return 0;
    static const char *const keys[] = {
        "p0",       "p1",        "alpha",       "power",       "confidence",
        "window_s", "n_windows", "min_samples", "ewma_lambda", "ewma_L",
        "min_rate", "max_rate",  "max_models",  "scorers",     "reference_windows",
        NULL};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)sigma, key, v)
    {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], key) != 0)
            i++;
        if (keys[i] == NULL && key[0] != '_') {
            err_set(err,
                    "sigma.%s: unknown key (known: p0 p1 alpha power confidence window_s "
                    "n_windows min_samples ewma_lambda ewma_L min_rate max_rate max_models "
                    "scorers)",
                    key);
            return -1;
        }
    }
    double reference_windows = 0;
    double window_s = c->window_s, n_windows = c->n_windows, min_n = 0,
           max_models = (double)c->max_models;
    if (read_number(sigma, "p0", "sigma.", 0, 1, true, &c->limits.p0, err) < 0 ||
        read_number(sigma, "p1", "sigma.", 0, 1, true, &c->limits.p1, err) < 0 ||
        read_number(sigma, "alpha", "sigma.", 0, 0.5, true, &c->alpha, err) < 0 ||
        read_number(sigma, "power", "sigma.", 0.5, 0.9999, false, &c->power, err) < 0 ||
        read_number(sigma, "confidence", "sigma.", 0.5, 0.9999, false, &c->confidence, err) < 0 ||
        read_number(sigma, "window_s", "sigma.", 1, 86400, false, &window_s, err) < 0 ||
        read_number(sigma, "n_windows", "sigma.", 2, 10000, false, &n_windows, err) < 0 ||
        read_number(sigma, "min_samples", "sigma.", 0, 1e9, false, &min_n, err) < 0 ||
        read_number(sigma, "ewma_lambda", "sigma.", 0, 1, true, &c->ewma_lambda, err) < 0 ||
        read_number(sigma, "ewma_L", "sigma.", 0.5, 6, false, &c->ewma_L, err) < 0 ||
        read_number(sigma, "min_rate", "sigma.", 0, 1, false, &c->min_rate, err) < 0 ||
        read_number(sigma, "max_rate", "sigma.", 0, 1, true, &c->max_rate, err) < 0 ||
        read_number(sigma, "max_models", "sigma.", 1, 10000, false, &max_models, err) < 0 ||
        read_number(sigma, "reference_windows", "sigma.", 0, 10000, false, &reference_windows,
                    err) < 0)
        return -1;
    c->window_s = (int)window_s;
    c->n_windows = (int)n_windows;
    c->min_n = (uint64_t)min_n;
    c->max_models = (size_t)max_models;
    c->reference_windows = (int)reference_windows;
    if (check_limits(&c->limits, "sigma.", err) < 0) return -1;
    if (c->min_rate > c->max_rate) {
        err_set(err, "sigma.min_rate: %g: must not exceed max_rate (%g)", c->min_rate, c->max_rate);
        return -1;
    }
    json_t *per = json_object_get(sigma, "scorers");
    if (per != NULL && !json_is_object(per)) {
        err_set(err, "sigma.scorers: expected an object of scorer: {p0, p1}");
        return -1;
    }
    json_object_foreach(per, key, v)
    {
        size_t i = 0;
        while (i < n_scorers && strcmp(scorers[i], key) != 0)
            i++;
        if (i == n_scorers) {
            err_set(err, "sigma.scorers.%s: no scorer has this name", key);
            return -1;
        }
        char where[96];
        snprintf(where, sizeof(where), "sigma.scorers.%s.", key);
        struct tracker_limits l = c->limits;
        if (!json_is_object(v) || read_number(v, "p0", where, 0, 1, true, &l.p0, err) < 0 ||
            read_number(v, "p1", where, 0, 1, true, &l.p1, err) < 0 ||
            check_limits(&l, where, err) < 0) {
            if (!json_is_object(v))
                err_set(err, "sigma.scorers.%s: expected an object {p0, p1}", key);
            return -1;
        }
        c->scorer_limits[i] = l;
    }
    return 0;
}

/* ---- charts ---- */

static struct tracker_limits limits_of(const struct tracker *t, size_t scorer)
{
    if (scorer < t->n_scorers && !isnan(t->cfg.scorer_limits[scorer].p0))
        return t->cfg.scorer_limits[scorer];
    return t->cfg.limits;
}

/* A chart's centre line: its frozen reference p̄ once Phase I is over, else the configured p0. */
static struct tracker_limits chart_limits(const struct tracker *t, const struct chart *c,
                                          size_t scorer)
{
    struct tracker_limits l = limits_of(t, scorer);
    if (c->frozen) l.p0 = c->ref_centre;
    return l;
}

static const struct window *closed(const struct tracker *t, const struct chart *c, size_t i)
{
    return &c->ring[(c->head + i) % (size_t)t->cfg.n_windows];
}

/* Closes the current window: into the ring, the EWMA and the run rules. */
static void close_window(struct tracker *t, struct chart *c, double centre)
{
    size_t cap = (size_t)t->cfg.n_windows;
    if (c->count == cap) {
        c->ring[c->head] = c->cur;
        c->head = (c->head + 1) % cap;
    } else {
        c->ring[(c->head + c->count) % cap] = c->cur;
        c->count++;
    }
    if (c->cur.n > 0 && t->cfg.reference_windows > 0 && !c->frozen) {
        c->ref_n += c->cur.n;
        c->ref_x += c->cur.x;
        if (++c->ref_windows == t->cfg.reference_windows) {
            /* A reference with no defect would make every later defect a signal: floor it at
             * half a defect over the reference sample. */
            double floor_p = 0.5 / (double)c->ref_n;
            double pbar = (double)c->ref_x / (double)c->ref_n;
            c->ref_centre = pbar > floor_p ? pbar : floor_p;
            c->frozen = true;
        }
    }
    if (c->cur.n > 0) {
        double p = (double)c->cur.x / (double)c->cur.n;
        double var_point = centre * (1 - centre) / (double)c->cur.n;
        if (!c->has_ewma) {
            c->ewma = centre;
            c->ewma_var = 0;
            c->has_ewma = true;
        }
        c->ewma = sigma_ewma_next(c->ewma, p, t->cfg.ewma_lambda);
        c->ewma_var = sigma_ewma_var_next(c->ewma_var, var_point, t->cfg.ewma_lambda);
    }
    double z[64];
    size_t n = c->count < 64 ? c->count : 64;
    for (size_t i = 0; i < n; i++) {
        const struct window *w = closed(t, c, c->count - n + i);
        z[i] = sigma_pchart_z(w->x, w->n, centre);
    }
    c->rules = sigma_run_rules(z, n, SIGMA_RULES_MINITAB_P);
    int64_t next = c->cur.index + 1;
    memset(&c->cur, 0, sizeof(c->cur));
    c->cur.index = next;
}

static void roll(struct tracker *t, struct chart *c, int64_t index, double centre)
{
    if (!c->started) {
        c->started = true;
        c->cur.index = index;
        return;
    }
    if (c->cur.index >= index) return;
    /* A long silence: more empty windows than the ring holds change nothing more. */
    if (index - c->cur.index > t->cfg.n_windows + 1) c->cur.index = index - t->cfg.n_windows - 1;
    while (c->cur.index < index)
        close_window(t, c, centre);
}

/* The window a chart is judged on: the current one once it has min_n units, else the last
 * closed one (or the current, when there is none). */
static const struct window *judged_window(const struct tracker *t, const struct chart *c)
{
    if (c->cur.n >= t->min_n || c->count == 0) return &c->cur;
    return closed(t, c, c->count - 1);
}

/* Judges w. When w is the current window, the EWMA and the run rules are taken one step further
 * with its point, so that a good window can end an alarm (and a bad one raise it) at once. */
static enum sigma_state judge(const struct tracker *t, const struct chart *c,
                              struct tracker_limits l)
{
    const struct window *w = judged_window(t, c);
    unsigned rules = c->rules;
    bool ewma_signal = false;
    double ewma = c->ewma, var = c->ewma_var;
    bool has_ewma = c->has_ewma;
    if (w == &c->cur && w->n > 0) {
        double z[64];
        size_t n = c->count < 63 ? c->count : 63;
        for (size_t i = 0; i < n; i++) {
            const struct window *h = closed(t, c, c->count - n + i);
            z[i] = sigma_pchart_z(h->x, h->n, l.p0);
        }
        z[n] = sigma_pchart_z(w->x, w->n, l.p0);
        rules = sigma_run_rules(z, n + 1, SIGMA_RULES_MINITAB_P);
        if (!has_ewma) {
            ewma = l.p0;
            var = 0;
            has_ewma = true;
        }
        ewma = sigma_ewma_next(ewma, (double)w->x / (double)w->n, t->cfg.ewma_lambda);
        var = sigma_ewma_var_next(var, l.p0 * (1 - l.p0) / (double)w->n, t->cfg.ewma_lambda);
    }
    if (has_ewma) ewma_signal = ewma > sigma_ewma_limits(l.p0, var, t->cfg.ewma_L).hi;
    struct sigma_window sw = {
        .x = w->x,
        .n = w->n,
        .centre = l.p0,
        .p1 = l.p1,
        .min_n = t->min_n,
        .confidence = t->cfg.confidence,
        .rules = rules,
        .ewma_signal = ewma_signal,
    };
    return sigma_classify(&sw);
}

static struct series *series_get(struct tracker *t, const char *dimension, const char *name)
{
    for (size_t i = 0; i < t->n_series; i++) {
        struct series *s = t->series[i];
        if (strcmp(s->dimension, dimension) == 0 && strcmp(s->name, name) == 0) return s;
    }
    if (strcmp(dimension, "model") == 0) {
        if (t->n_models >= t->cfg.max_models && strcmp(name, TRACKER_OTHER_MODEL) != 0)
            return series_get(t, dimension, TRACKER_OTHER_MODEL);
        t->n_models++;
    }
    if (t->n_series == t->cap_series) {
        t->cap_series = t->cap_series ? t->cap_series * 2 : 8;
        t->series = xrealloc(t->series, t->cap_series * sizeof(*t->series));
    }
    struct series *s = xcalloc(1, sizeof(*s));
    s->dimension = dimension;
    s->name = xstrdup(name);
    s->charts = xcalloc(t->n_scorers + 1, sizeof(*s->charts));
    for (size_t i = 0; i <= t->n_scorers; i++) {
        s->charts[i].ring = xcalloc((size_t)t->cfg.n_windows, sizeof(struct window));
        s->charts[i].state = SIGMA_INSUFFICIENT_DATA;
    }
    t->series[t->n_series++] = s;
    return s;
}

struct tracker *tracker_new(const struct tracker_config *c, const char *const *scorers,
                            size_t n_scorers)
{
    struct tracker *t = xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->cfg = *c;
    t->scorers = scorers;
    t->n_scorers = n_scorers < TRACKER_MAX_SCORERS ? n_scorers : TRACKER_MAX_SCORERS;
    double n = sigma_detect_n(c->limits.p0, c->limits.p1, c->alpha, c->power, true);
    t->required_n = isfinite(n) ? (uint64_t)ceil(n) : 0;
    t->min_n = c->min_n ? c->min_n : t->required_n;
    series_get(t, "all", "all");
    return t;
}

void tracker_free(struct tracker *t)
{
    if (t == NULL) return;
    for (size_t i = 0; i < t->n_series; i++) {
        for (size_t j = 0; j <= t->n_scorers; j++)
            free(t->series[i]->charts[j].ring);
        free(t->series[i]->charts);
        free(t->series[i]->name);
        free(t->series[i]);
    }
    free(t->series);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

uint64_t tracker_required_n(const struct tracker *t)
{
    return t->required_n;
}

static int64_t window_index(const struct tracker *t, int64_t now_ms)
{
    return now_ms / ((int64_t)t->cfg.window_s * 1000);
}

static void add(struct tracker *t, struct series *s, int64_t index, bool apart,
                const bool *applicable, const bool *defect)
{
    uint64_t n_hits = 0, n_applicable = 0;
    for (size_t i = 0; i <= t->n_scorers; i++) {
        struct chart *c = &s->charts[i];
        bool is_any = i == t->n_scorers;
        bool app = is_any ? n_applicable > 0 : applicable[i];
        bool bad = is_any ? n_hits > 0 : (applicable[i] && defect[i]);
        if (!is_any && app) {
            n_applicable++;
            n_hits += bad;
        }
        if (!app) continue;
        roll(t, c, index, chart_limits(t, c, i).p0);
        if (apart) {
            c->apart_n++;
            c->apart_x += bad;
            continue;
        }
        c->cur.n++;
        c->cur.x += bad;
        c->total.n++;
        c->total.x += bad;
        if (is_any) {
            c->cur.defects += n_hits;
            c->cur.opportunities += n_applicable;
            c->total.defects += n_hits;
            c->total.opportunities += n_applicable;
        }
    }
}

void tracker_record(struct tracker *t, int64_t now_ms, const char *route, const char *model,
                    enum exchange_sampled_by by, const bool *applicable, const bool *defect)
{
    int64_t index = window_index(t, now_ms);
    bool apart = by != EXCHANGE_SAMPLED_RATE;
    pthread_mutex_lock(&t->lock);
    add(t, t->series[0], index, apart, applicable, defect);
    if (route != NULL) add(t, series_get(t, "route", route), index, apart, applicable, defect);
    if (model != NULL) add(t, series_get(t, "model", model), index, apart, applicable, defect);
    pthread_mutex_unlock(&t->lock);
}

/* ---- views ---- */

static const char *scorer_name(const struct tracker *t, size_t i)
{
    return i < t->n_scorers ? t->scorers[i] : "any";
}

static json_t *real_or_null(double d)
{
    return isfinite(d) ? json_real(d) : json_null();
}

/* The figures of one window (or of the totals) of chart i. */
static json_t *window_json(const struct tracker *t, const struct window *w, size_t i,
                           struct tracker_limits l)
{
    bool is_any = i == t->n_scorers;
    double p = sigma_rate(w->x, w->n);
    struct sigma_interval ci = sigma_wilson(w->x, w->n, t->cfg.confidence);
    /* Per scorer, one opportunity per unit (DPMO = 10^6 p); for "any", the scorers applied. */
    double dpo = !is_any                ? sigma_dpo(w->x, w->n, 1)
                 : w->opportunities > 0 ? (double)w->defects / (double)w->opportunities
                                        : NAN;
    struct sigma_limits lim = sigma_pchart(l.p0, w->n);
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)w->n));
    json_object_set_new(o, "defects", json_integer((json_int_t)w->x));
    json_object_set_new(o, "p", real_or_null(p));
    json_object_set_new(o, "wilson_low", w->n ? json_real(ci.lo) : json_null());
    json_object_set_new(o, "wilson_high", w->n ? json_real(ci.hi) : json_null());
    json_object_set_new(o, "dpmo", real_or_null(dpo * 1e6));
    json_object_set_new(o, "sigma_level", real_or_null(sigma_level(dpo, SIGMA_SHIFT)));
    json_object_set_new(o, "sigma_level_short_term", real_or_null(sigma_level(dpo, 0)));
    json_object_set_new(o, "centre", json_real(l.p0));
    json_object_set_new(o, "ucl", w->n ? json_real(lim.ucl) : json_null());
    json_object_set_new(o, "lcl", w->n ? json_real(lim.lcl) : json_null());
    json_object_set_new(o, "uwl", w->n ? json_real(lim.uwl) : json_null());
    /* Where the normal limits are wrong (n·CL small), the exact limit the state is judged by:
     * the smallest defect count whose binomial tail is below the nominal 3-sd rate. */
    if (w->n > 0 && (double)w->n * l.p0 < SIGMA_EXACT_BELOW_NP) {
        uint64_t x = sigma_exact_ucl_count(w->n, l.p0, sigma_norm_cdf(-SIGMA_K_CONTROL));
        json_object_set_new(o, "ucl_exact", json_real((double)x / (double)w->n));
    }
    if (is_any) {
        json_object_set_new(o, "scorer_hits", json_integer((json_int_t)w->defects));
        json_object_set_new(o, "opportunities", json_integer((json_int_t)w->opportunities));
    }
    return o;
}

static json_t *rules_json(unsigned rules)
{
    json_t *a = json_array();
    for (unsigned bit = 1; bit && bit <= rules; bit <<= 1) {
        if (rules & bit) json_array_append_new(a, json_string(sigma_rule_name(bit)));
    }
    return a;
}

static json_t *chart_json(const struct tracker *t, const struct chart *c, size_t i, bool history)
{
    struct tracker_limits l = chart_limits(t, c, i);
    json_t *o = json_object();
    /* Judged now: the last reported state may be up to a tick old. */
    json_object_set_new(o, "state", json_string(sigma_state_name(judge(t, c, l))));
    json_object_set_new(o, "p0", json_real(l.p0));
    json_object_set_new(o, "centre_from", json_string(c->frozen ? "reference" : "p0"));
    /* Units per window this chart needs to tell its p1 from its centre (SIXSIGMA.md §10). */
    double need = sigma_detect_n(l.p0, l.p1, t->cfg.alpha, t->cfg.power, true);
    json_object_set_new(o, "required_n",
                        isfinite(need) ? json_integer((json_int_t)ceil(need)) : json_null());
    json_object_set_new(o, "p1", json_real(l.p1));
    json_object_set_new(o, "window", window_json(t, judged_window(t, c), i, l));
    json_object_set_new(o, "current", window_json(t, &c->cur, i, l));
    json_object_set_new(o, "total", window_json(t, &c->total, i, l));
    json_object_set_new(
        o, "apart",
        json_pack("{s:I, s:I}", "n", (json_int_t)c->apart_n, "defects", (json_int_t)c->apart_x));
    json_object_set_new(o, "rules", rules_json(c->rules));
    if (c->has_ewma) {
        struct sigma_interval el = sigma_ewma_limits(l.p0, c->ewma_var, t->cfg.ewma_L);
        json_object_set_new(o, "ewma", json_pack("{s:f, s:f}", "value", c->ewma, "ucl", el.hi));
    }
    if (history) {
        json_t *h = json_array();
        for (size_t k = 0; k < c->count; k++) {
            const struct window *w = closed(t, c, k);
            json_array_append_new(h, json_pack("{s:I, s:I, s:I}", "t",
                                               (json_int_t)w->index * t->cfg.window_s, "n",
                                               (json_int_t)w->n, "defects", (json_int_t)w->x));
        }
        json_object_set_new(o, "history", h);
    }
    return o;
}

static void refresh(struct tracker *t, int64_t now_ms)
{
    int64_t index = window_index(t, now_ms);
    for (size_t s = 0; s < t->n_series; s++) {
        for (size_t i = 0; i <= t->n_scorers; i++)
            roll(t, &t->series[s]->charts[i], index,
                 chart_limits(t, &t->series[s]->charts[i], i).p0);
    }
}

json_t *tracker_stats(struct tracker *t, int64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    refresh(t, now_ms);
    json_t *root = json_object();
    json_object_set_new(root, "window_s", json_integer(t->cfg.window_s));
    json_object_set_new(root, "p0", json_real(t->cfg.limits.p0));
    json_object_set_new(root, "p1", json_real(t->cfg.limits.p1));
    json_object_set_new(root, "alpha", json_real(t->cfg.alpha));
    json_object_set_new(root, "power", json_real(t->cfg.power));
    json_object_set_new(root, "required_n", json_integer((json_int_t)t->required_n));
    json_object_set_new(root, "min_n", json_integer((json_int_t)t->min_n));
    json_t *dims[3] = {json_object(), json_object(), json_object()};
    for (size_t s = 0; s < t->n_series; s++) {
        const struct series *se = t->series[s];
        int d = se->dimension[0] == 'a' ? 0 : se->dimension[0] == 'r' ? 1 : 2;
        json_t *charts = d == 0 ? dims[0] : json_object();
        for (size_t i = 0; i <= t->n_scorers; i++) {
            if (se->charts[i].total.n + se->charts[i].apart_n + se->charts[i].count == 0 &&
                i != t->n_scorers)
                continue;
            json_object_set_new(charts, scorer_name(t, i),
                                chart_json(t, &se->charts[i], i, d == 0));
        }
        if (d != 0) json_object_set_new(dims[d], se->name, charts);
    }
    json_object_set_new(root, "scorers", dims[0]);
    json_object_set_new(root, "routes", dims[1]);
    json_object_set_new(root, "models", dims[2]);
    pthread_mutex_unlock(&t->lock);
    return root;
}

void tracker_tick(struct tracker *t, int64_t now_ms, tracker_change_fn *fn, void *arg)
{
    struct change {
        char chart[160];
        enum sigma_state from, to;
        json_t *summary;
    } changes[16];
    size_t n_changes = 0;
    pthread_mutex_lock(&t->lock);
    refresh(t, now_ms);
    for (size_t s = 0; s < t->n_series; s++) {
        struct series *se = t->series[s];
        for (size_t i = 0; i <= t->n_scorers; i++) {
            struct chart *c = &se->charts[i];
            enum sigma_state now = judge(t, c, chart_limits(t, c, i));
            if (now == c->state) continue;
            if (n_changes < sizeof(changes) / sizeof(changes[0])) {
                struct change *ch = &changes[n_changes++];
                if (strcmp(se->dimension, "all") == 0)
                    snprintf(ch->chart, sizeof(ch->chart), "all/%s", scorer_name(t, i));
                else
                    snprintf(ch->chart, sizeof(ch->chart), "%s=%s/%s", se->dimension, se->name,
                             scorer_name(t, i));
                ch->from = c->state;
                ch->to = now;
                ch->summary = window_json(t, judged_window(t, c), i, chart_limits(t, c, i));
            }
            c->state = now; /* past 16 changes in one tick, the rest are reported next tick */
            if (n_changes == sizeof(changes) / sizeof(changes[0])) break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t k = 0; k < n_changes; k++) {
        if (fn) fn(arg, changes[k].chart, changes[k].from, changes[k].to, changes[k].summary);
        json_decref(changes[k].summary);
    }
}

static void label_value(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 3 < size; s++) {
        if (*s == '"' || *s == '\\') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void prom_value(struct buf *out, const char *metric, const char *labels, double v)
{
    char line[768];
    int n;
    if (isinf(v))
        n = snprintf(line, sizeof(line), "%s{%s} %s\n", metric, labels, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        n = snprintf(line, sizeof(line), "%s{%s} NaN\n", metric, labels);
    else
        n = snprintf(line, sizeof(line), "%s{%s} %.17g\n", metric, labels, v);
    if (n > 0) buf_append_some(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void tracker_metrics(struct tracker *t, int64_t now_ms, struct buf *out)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"sigmaproxy_scored_total", "counter", "Rate-sampled exchanges a scorer applied to."},
        {"sigmaproxy_defects_total", "counter", "Rate-sampled exchanges a scorer flagged."},
        {"sigmaproxy_scored_apart_total", "counter",
         "Error and forced captures scored, kept apart from the estimates."},
        {"sigmaproxy_error_rate", "gauge", "Defect rate of the judged window."},
        {"sigmaproxy_error_rate_wilson_upper", "gauge", "Wilson upper bound of that rate."},
        {"sigmaproxy_error_rate_ucl", "gauge", "p-chart upper control limit for that window."},
        {"sigmaproxy_dpmo", "gauge", "Defects per million opportunities, judged window."},
        {"sigmaproxy_sigma_level", "gauge",
         "Sigma level (one-tailed, with the 1.5 shift), judged window; +Inf at zero defects."},
        {"sigmaproxy_control_state", "gauge", "1 for the chart's current state."},
    };
    char line[256];
    pthread_mutex_lock(&t->lock);
    refresh(t, now_ms);
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
                         families[f].help, families[f].name, families[f].type);
        buf_append_some(out, line, (size_t)n);
        for (size_t s = 0; s < t->n_series; s++) {
            const struct series *se = t->series[s];
            for (size_t i = 0; i <= t->n_scorers; i++) {
                const struct chart *c = &se->charts[i];
                if (c->total.n + c->apart_n == 0 && i != t->n_scorers) continue;
                char name[200], labels[512];
                label_value(name, sizeof(name), se->name);
                snprintf(labels, sizeof(labels), "scope=\"%s\",%s%s%sscorer=\"%s\"", se->dimension,
                         strcmp(se->dimension, "all") == 0
                             ? ""
                             : (strcmp(se->dimension, "route") == 0 ? "route=\"" : "model=\""),
                         strcmp(se->dimension, "all") == 0 ? "" : name,
                         strcmp(se->dimension, "all") == 0 ? "" : "\",", scorer_name(t, i));
                struct tracker_limits l = chart_limits(t, c, i);
                const struct window *w = judged_window(t, c);
                double dpo = i == t->n_scorers && w->opportunities
                                 ? (double)w->defects / (double)w->opportunities
                                 : sigma_rate(w->x, w->n);
                switch (f) {
                case 0:
                    prom_value(out, families[f].name, labels, (double)c->total.n);
                    break;
                case 1:
                    prom_value(out, families[f].name, labels, (double)c->total.x);
                    break;
                case 2:
                    prom_value(out, families[f].name, labels, (double)c->apart_n);
                    break;
                case 3:
                    prom_value(out, families[f].name, labels, sigma_rate(w->x, w->n));
                    break;
                case 4:
                    prom_value(out, families[f].name, labels,
                               sigma_wilson(w->x, w->n, t->cfg.confidence).hi);
                    break;
                case 5:
                    prom_value(out, families[f].name, labels, sigma_pchart(l.p0, w->n).ucl);
                    break;
                case 6:
                    prom_value(out, families[f].name, labels, dpo * 1e6);
                    break;
                case 7:
                    prom_value(out, families[f].name, labels, sigma_level(dpo, SIGMA_SHIFT));
                    break;
                case 8: {
                    char with_state[600];
                    snprintf(with_state, sizeof(with_state), "%s,state=\"%s\"", labels,
                             sigma_state_name(c->state));
                    prom_value(out, families[f].name, with_state, 1);
                    break;
                }
                }
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
}
