/* Readers for a scorer's params (a JSON object, or NULL for the defaults) used by setup(): each
 * checks one parameter and names it in err, in the wording every scorer shares:
 * "<scorer>.params.<key>: expected ...". Pure; called at setup, on the main thread. */
#ifndef SIGMAPROXY_SCORERS_PARAMS_H
#define SIGMAPROXY_SCORERS_PARAMS_H

#include <float.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/err.h"

/* As the min of params_number(): any number above 0. */
#define PARAMS_ABOVE_ZERO DBL_TRUE_MIN

/* Checks that params is NULL or an object whose every key is one of known (NULL-terminated; NULL
 * when the scorer takes none). Returns 0, or -1 with err "<scorer>.params: expected an object" or
 * "<scorer>.params.<key>: unknown parameter (known: a, b)" ("(<scorer> takes none)"). */
int params_check(const json_t *params, const char *scorer, const char *const *known,
                 struct err *err);

/* The readers below leave *out as it is when params (may be NULL) has no key; they return 0, or
 * -1 with err "<scorer>.params.<key>: expected <what>". */

/* true or false. */
int params_bool(const json_t *params, const char *scorer, const char *key, bool *out,
                struct err *err);

/* An integer from min to max, or 0 when zero_off ("..., or 0 to turn it off"). */
int params_int(const json_t *params, const char *scorer, const char *key, json_int_t min,
               json_int_t max, bool zero_off, json_int_t *out, struct err *err);

/* A number from min to max; what describes them for a human ("a ratio above 0, at most 1"). */
int params_number(const json_t *params, const char *scorer, const char *key, double min, double max,
                  const char *what, double *out, struct err *err);

/* An array of at most max strings, each of min_len bytes or more ("expected a string", "a
 * non-empty string" when min_len is 1, "\"ab\": shorter than 8 characters"). *list receives the
 * array, borrowed from params, or NULL when absent. */
int params_strings(const json_t *params, const char *scorer, const char *key, size_t max,
                   size_t min_len, const json_t **list, struct err *err);

/* A non-empty array of names, each one of names[0..n): sets on[i] for those listed and clears
 * the others; err "<scorer>.params.<key>[i]: \"x\": unknown <noun> (a, b)". */
int params_names(const json_t *params, const char *scorer, const char *key,
                 const char *const *names, size_t n, const char *noun, bool *on, struct err *err);

#endif
