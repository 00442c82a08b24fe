/* A small JSON Schema validator for json_valid: checks a model's JSON (a structured-output reply
 * or tool-call arguments) against the schema the request declared. Pure and reentrant: any
 * thread, no state kept between calls. The subset supported is listed atop json_schema.c. */
#ifndef SIGMAPROXY_SCORERS_JSON_SCHEMA_H
#define SIGMAPROXY_SCORERS_JSON_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The walk never nests deeper than this (schema and instance together; PITFALLS.md) nor takes
 * more than JSON_SCHEMA_MAX_STEPS keyword checks; past either it stops and accepts. */
#define JSON_SCHEMA_MAX_DEPTH 128
#define JSON_SCHEMA_MAX_STEPS 200000

/* Validates instance against schema (its own root for "$ref": "#/..."). Returns true when the
 * instance conforms (or the schema is unusable, or a limit stopped the walk: a broken schema is
 * the client's mistake, not the model's), else false with detail filled as "<JSON pointer>:
 * <what was expected>", e.g. "/items/2/price: expected number, got string" ("(root)" for the
 * whole value). detail may be NULL. *gave_up (may be NULL) is set when a limit stopped the
 * walk. */
bool json_schema_validate(const json_t *schema, const json_t *instance, char *detail,
                          size_t detail_bytes, bool *gave_up);

/* The JSON type name of v as a schema would say it: "object", "array", "string", "integer"
 * (also for a real with no fractional part), "number", "boolean" or "null". */
const char *json_schema_type_name(const json_t *v);

/* Numbers compare by value (1 == 1.0), objects by key set; false past the depth limit. */
bool json_schema_equal(const json_t *a, const json_t *b);

#endif
