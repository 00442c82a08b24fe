/* The built-in scorers, in report order. Adding a scorer: one file in scorers/, one `extern`
 * and one line in registry.c. */
#ifndef SIGMAPROXY_SCORERS_REGISTRY_H
#define SIGMAPROXY_SCORERS_REGISTRY_H

#include <stddef.h>

#include "scorers/scorer.h"

/* Every built-in scorer; the array ends with NULL. */
extern const struct scorer *const scorer_registry[];

/* Returns the scorer named name, or NULL. */
const struct scorer *scorer_find(const char *name);

#endif
