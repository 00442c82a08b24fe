/* Hash-consistent sampling on the request id (OpenTelemetry's TraceIdRatioBased idea: monotone
 * in the rate, so raising the rate keeps every id sampled before). */
#include "core/sampler.h"

#include <stddef.h>
#include <stdint.h>
#include <strings.h>

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
