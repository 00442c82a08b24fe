/* Should this exchange be captured for evaluation? A deterministic function of the request id
 * (a replay samples the same requests) and a rate: the model's if one is configured, else the
 * route's, else the global one (which --sample-rate auto moves per window). Overridable per
 * request. Rates are read on the loop threads; only the global rate changes after setup. */
#ifndef SIGMAPROXY_CORE_SAMPLER_H
#define SIGMAPROXY_CORE_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/err.h"

enum sampler_force {
    SAMPLER_FORCE_NONE = 0,
    SAMPLER_FORCE_ALWAYS,
    SAMPLER_FORCE_NEVER,
};

struct sampler;

/* Returns new rates: rate is the global one; cfg is the "sampling" config object or NULL:
 * {"routes": {"<upstream name>": rate}, "models": {"<model>": rate}}, rates in [0,1]; route
 * names must be among routes[0..n_routes). NULL with err naming the bad entry. */
struct sampler *sampler_new(double rate, const json_t *cfg, const char *const *routes,
                            size_t n_routes, struct err *err);
void sampler_free(struct sampler *s);

/* Any thread. The rate for an exchange on route (an upstream name) for model (may be NULL). */
double sampler_rate(const struct sampler *s, const char *route, const char *model);
/* True when some model has its own rate: then the loop looks for the request's model. */
bool sampler_has_model_rates(const struct sampler *s);
/* Any thread: the global rate (--sample-rate auto sets it each window). */
void sampler_set_global_rate(struct sampler *s, double rate);
double sampler_global_rate(const struct sampler *s);

/* Parses an x-sigmaproxy-sample header value ("always" / "never", case-insensitive); anything
 * else, or NULL, is SAMPLER_FORCE_NONE. */
enum sampler_force sampler_parse_force(const char *value);

/* The id's position in [0,1): a 64-bit FNV-1a hash, mixed, scaled down. */
double sampler_position(const char *id);

/* True when position(id) < rate; rate 0 never, rate 1 always. */
bool sampler_should_sample(const char *id, double rate);

/* Finds the top-level "model" string of a JSON request body without parsing all of it (a
 * linear scan that tracks strings and depth). Copies it into out (NUL-terminated, truncated to
 * out_size - 1) and returns true; false when there is none. */
bool sampler_find_model(const char *json, size_t len, char *out, size_t out_size);

#endif
