/* The strings a content scorer reads (pii, secrets, refusal): the assistant text, then every
 * string inside each tool call's arguments, JSON escapes decoded, each with where it came from
 * for the detail. Pure: no state, no I/O; runs on the evaluator thread. */
#ifndef SIGMAPROXY_SCORERS_WALK_H
#define SIGMAPROXY_SCORERS_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/extract.h"

#define WALK_MAX_DEPTH  32 /* values nested deeper are not visited */
#define WALK_PATH_BYTES 96 /* a longer path is cut */

/* Where a string came from. */
struct walk_where {
    const char *path; /* NULL for the assistant text, else "tool_calls[0].headers.Authorization"
                       * ("tool_calls[0].arguments" for arguments read whole) */
    const char *key;  /* the JSON member holding the string (for an array element, the array's),
                       * or NULL */
};

enum walk_flags {
    WALK_INTEGERS = 1 << 0, /* JSON integers are visited too, as their decimal text */
    WALK_RAW = 1 << 1,      /* arguments that are not JSON, or nest deeper than WALK_MAX_DEPTH,
                             * are also visited whole, as the model wrote them */
};

/* Reads s[0..n) (not NUL-terminated); w and its strings are borrowed for the call only. Returns
 * true to stop the walk. */
typedef bool walk_fn(void *ctx, const char *s, size_t n, const struct walk_where *w);

/* Calls fn on x->text (unless NULL), then on each string of each tool call's arguments, in
 * order (flags: enum walk_flags), until fn returns true. Arguments that are not JSON are skipped
 * unless WALK_RAW. */
void walk_extracted(const struct extracted *x, unsigned flags, walk_fn *fn, void *ctx);

/* Does some tool call of x have arguments (not NULL, not "")? */
bool walk_has_arguments(const struct extracted *x);

#endif
