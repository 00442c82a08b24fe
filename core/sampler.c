/* Hash-consistent sampling on the request id (OpenTelemetry's TraceIdRatioBased idea: monotone
 * in the rate, so raising the rate keeps every id sampled before), with per-route and per-model
 * rates. */
#include "core/sampler.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"

struct named_rate {
    char *name;
    double rate;
};

struct sampler {
    _Atomic uint64_t global_bits; /* the global rate's double, bit for bit */
    struct named_rate *routes;
    size_t n_routes;
    struct named_rate *models;
    size_t n_models;
};

static uint64_t to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static int read_rates(const json_t *obj, const char *what, const char *const *known, size_t n_known,
                      struct named_rate **out, size_t *n_out, struct err *err)
{
    if (obj == NULL) return 0;
    if (!json_is_object(obj)) {
        err_set(err, "sampling.%s: expected an object of name: rate", what);
        return -1;
    }
    *out = xcalloc(json_object_size(obj) + 1, sizeof(**out));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        double rate = json_is_number(v) ? json_number_value(v) : -1;
        if (!(rate >= 0 && rate <= 1)) {
            err_set(err, "sampling.%s.%s: must be a number in 0..1", what, key);
            return -1;
        }
        if (known != NULL) {
            size_t i = 0;
            while (i < n_known && strcmp(known[i], key) != 0)
                i++;
            if (i == n_known) {
                err_set(err, "sampling.%s.%s: no upstream has this name", what, key);
                return -1;
            }
        }
        (*out)[*n_out].name = xstrdup(key);
        (*out)[(*n_out)++].rate = rate;
    }
    return 0;
}

struct sampler *sampler_new(double rate, const json_t *cfg, const char *const *routes,
                            size_t n_routes, struct err *err)
{
    struct sampler *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->global_bits, to_bits(rate));
    if (cfg != NULL) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)cfg, key, v)
        {
            if (strcmp(key, "routes") != 0 && strcmp(key, "models") != 0 && key[0] != '_') {
                err_set(err, "sampling.%s: unknown key (expected routes or models)", key);
                sampler_free(s);
                return NULL;
            }
        }
        if (read_rates(json_object_get(cfg, "routes"), "routes", routes, n_routes, &s->routes,
                       &s->n_routes, err) < 0 ||
            read_rates(json_object_get(cfg, "models"), "models", NULL, 0, &s->models, &s->n_models,
                       err) < 0) {
            sampler_free(s);
            return NULL;
        }
    }
    return s;
}

void sampler_free(struct sampler *s)
{
    if (s == NULL) return;
    for (size_t i = 0; i < s->n_routes; i++)
        free(s->routes[i].name);
    for (size_t i = 0; i < s->n_models; i++)
        free(s->models[i].name);
    free(s->routes);
    free(s->models);
    free(s);
}

static const struct named_rate *lookup(const struct named_rate *list, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; i++) {
        if (strcmp(list[i].name, name) == 0) return &list[i];
    }
    return NULL;
}

double sampler_rate(const struct sampler *s, const char *route, const char *model)
{
    const struct named_rate *r = lookup(s->models, s->n_models, model);
    if (r == NULL) r = lookup(s->routes, s->n_routes, route);
    return r ? r->rate : sampler_global_rate(s);
}

bool sampler_has_model_rates(const struct sampler *s)
{
    return s->n_models > 0;
}

void sampler_set_global_rate(struct sampler *s, double rate)
{
    atomic_store_explicit(&s->global_bits, to_bits(rate), memory_order_relaxed);
}

double sampler_global_rate(const struct sampler *s)
{
    return from_bits(
        atomic_load_explicit(&((struct sampler *)s)->global_bits, memory_order_relaxed));
}

enum sampler_force sampler_parse_force(const char *value)
{
    if (value == NULL) return SAMPLER_FORCE_NONE;
    if (strcasecmp(value, "always") == 0) return SAMPLER_FORCE_ALWAYS;
    if (strcasecmp(value, "never") == 0) return SAMPLER_FORCE_NEVER;
    return SAMPLER_FORCE_NONE;
}

double sampler_position(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    /* FNV's low bits are weak for short inputs: fold the high half in before scaling. */
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

bool sampler_should_sample(const char *id, double rate)
{
    if (rate <= 0.0) return false;
    if (rate >= 1.0) return true;
    return sampler_position(id) < rate;
}

bool sampler_find_model(const char *json, size_t len, char *out, size_t out_size)
{
    int depth = 0;
    bool expect_key = false;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (c == '{') {
            depth++;
            expect_key = depth == 1;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '[') {
            depth++;
        } else if (c == ',' && depth == 1) {
            expect_key = true;
        } else if (c == '"') {
            size_t start = ++i;
            while (i < len && json[i] != '"')
                i += json[i] == '\\' ? 2 : 1;
            if (i >= len) return false;
            bool is_model_key =
                expect_key && depth == 1 && i - start == 5 && memcmp(json + start, "model", 5) == 0;
            expect_key = false;
            if (!is_model_key) continue;
            size_t j = i + 1;
            while (j < len && (json[j] == ' ' || json[j] == '\t' || json[j] == '\n' ||
                               json[j] == '\r' || json[j] == ':'))
                j++;
            if (j >= len || json[j] != '"') return false;
            size_t vstart = ++j;
            while (j < len && json[j] != '"' && json[j] != '\\')
                j++;
            if (j >= len || json[j] != '"')
                return false; /* escapes in a model name: not worth decoding */
            size_t n = j - vstart < out_size - 1 ? j - vstart : out_size - 1;
            memcpy(out, json + vstart, n);
            out[n] = '\0';
            return true;
        }
    }
    return false;
}
