/* Should this exchange be captured for evaluation? A deterministic function of the request id
 * (a replay samples the same requests) and a rate, overridable per request. Pure; any thread. */
#ifndef SIGMAPROXY_CORE_SAMPLER_H
#define SIGMAPROXY_CORE_SAMPLER_H

#include <stdbool.h>

enum sampler_force {
    SAMPLER_FORCE_NONE = 0,
    SAMPLER_FORCE_ALWAYS,
    SAMPLER_FORCE_NEVER,
};

/* Parses an x-sigmaproxy-sample header value ("always" / "never", case-insensitive); anything
 * else, or NULL, is SAMPLER_FORCE_NONE. */
enum sampler_force sampler_parse_force(const char *value);

/* The id's position in [0,1): a 64-bit FNV-1a hash scaled down. */
double sampler_position(const char *id);

/* True when position(id) < rate; rate 0 never, rate 1 always. */
bool sampler_should_sample(const char *id, double rate);

#endif
