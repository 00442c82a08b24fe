/* The list of built-in scorers. */
#include "scorers/registry.h"

#include <string.h>

/* One line per scorer file, in report order (SPEC "Built-in scorers"). */
#define SCORERS(X)                                                                                 \
    X(http_error)                                                                                  \
    X(empty)                                                                                       \
    X(truncated)                                                                                   \
    X(json_valid)                                                                                  \
    X(regex)                                                                                       \
    X(refusal)                                                                                     \
    X(pii)                                                                                         \
    X(secrets)                                                                                     \
    X(repetition)                                                                                  \
    X(length)                                                                                      \
    X(latency)

#define DECLARE(name) extern const struct scorer scorer_##name;
SCORERS(DECLARE)
#undef DECLARE

#define ENTRY(name) &scorer_##name,
const struct scorer *const scorer_registry[] = {SCORERS(ENTRY) NULL};
#undef ENTRY

const struct scorer *scorer_find(const char *name)
{
    for (const struct scorer *const *s = scorer_registry; *s; s++) {
        if (strcmp((*s)->name, name) == 0) return *s;
    }
    return NULL;
}
