/* JSON Schema, the subset structured outputs and tool parameters use (OpenAI's strict mode is a
 * subset of it), walked recursively over (schema, instance) with a depth and a step budget.
 *
 * Supported: boolean schemas; type (a name or an array of names; "integer" is any number with
 * no fractional part, as in draft 6+); enum, const (numbers compare by value); properties,
 * required, additionalProperties (bool or schema), patternProperties, propertyNames,
 * minProperties/maxProperties, dependentRequired; items (schema, or the draft-4 tuple array with
 * additionalItems), prefixItems, minItems/maxItems, uniqueItems, contains; minLength/maxLength
 * (in code points), pattern (PCRE2, unanchored as in ECMA-262); minimum/maximum,
 * exclusiveMinimum/exclusiveMaximum (number, or the draft-4 boolean), multipleOf; allOf, anyOf,
 * oneOf, not, if/then/else; "$ref" to "#" or a JSON pointer into the same document
 * ("#/$defs/x", "#/definitions/x"), applied beside its sibling keywords (2019-09 and later).
 * Not supported (ignored, so they never cause a defect): format, remote or $id/$anchor-based
 * refs, $dynamicRef, unevaluatedProperties/unevaluatedItems, dependentSchemas/dependencies,
 * minContains/maxContains, content*. A keyword whose value has the wrong type is ignored too. */
#include "scorers/json_schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define PATH_BYTES         384
#define REGEX_CACHE        16
#define REGEX_MATCH_LIMIT  100000
#define UNIQUE_ITEMS_LIMIT 2000 /* uniqueItems is quadratic: longer arrays are not checked */
#define REF_BYTES          256

struct regex_entry {
    const char *source; /* the pattern's text inside the schema (borrowed; stable for the walk) */
    pcre2_code *code;   /* NULL: the pattern did not compile, the keyword is ignored */
};

/* One validation: the pointer of the instance being checked, the first violation, the budget. */
struct walk {
    const json_t *root;
    long steps;
    bool gave_up;
    int quiet; /* > 0 inside anyOf/oneOf/not/if: a failing branch is not a violation to report */
    char path[PATH_BYTES];
    size_t path_len;
    char *detail;
    size_t detail_bytes;
    struct regex_entry regex[REGEX_CACHE];
    size_t n_regex;
    pcre2_match_context *match_ctx;
};

static bool validate(struct walk *w, const json_t *schema, const json_t *inst, int depth);

static bool fail(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct walk *w, const char *fmt, ...)
{
    if (w->quiet > 0 || w->detail == NULL || w->detail_bytes == 0) return false;
    char msg[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(w->detail, w->detail_bytes, "%s: %s", w->path_len ? w->path : "(root)", msg);
    return false;
}

/* Appends one pointer token (RFC 6901: "~" -> "~0", "/" -> "~1"); returns the length to pop
 * back to. A path too long to hold ends in "/...". */
static size_t push_token(struct walk *w, const char *token)
{
    size_t old = w->path_len, n = old;
    const size_t room = sizeof(w->path) - 5; /* keeps space for "/..." and the NUL */
    if (n >= room) return old;
    w->path[n++] = '/';
    for (const char *p = token; *p && n < room; p++) {
        if (*p == '~' || *p == '/') {
            w->path[n++] = '~';
            if (n < room) w->path[n++] = *p == '~' ? '0' : '1';
        } else {
            w->path[n++] = *p;
        }
    }
    if (n >= room) {
        memcpy(w->path + n, "/...", 4);
        n += 4;
    }
    w->path[n] = '\0';
    w->path_len = n;
    return old;
}

static size_t push_index(struct walk *w, size_t i)
{
    char token[24];
    snprintf(token, sizeof(token), "%zu", i);
    return push_token(w, token);
}

static void pop(struct walk *w, size_t old)
{
    w->path_len = old;
    w->path[old] = '\0';
}

const char *json_schema_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL: {
        double d = json_real_value(v);
        return isfinite(d) && floor(d) == d ? "integer" : "number";
    }
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v)) return true;
    if (!json_is_real(v)) return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static bool type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "object") == 0) return json_is_object(v);
    if (strcmp(type, "array") == 0) return json_is_array(v);
    if (strcmp(type, "string") == 0) return json_is_string(v);
    if (strcmp(type, "number") == 0) return json_is_number(v);
    if (strcmp(type, "integer") == 0) return is_integral(v);
    if (strcmp(type, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(type, "null") == 0) return json_is_null(v);
    return true; /* an unknown type name is the schema's problem: ignore it */
}

/* true when "type" is absent, malformed or satisfied. */
static bool type_keyword_matches(const json_t *type, const json_t *v)
{
    if (json_is_string(type)) return type_matches(json_string_value(type), v);
    if (!json_is_array(type) || json_array_size(type) == 0) return true;
    size_t i;
    const json_t *t;
    json_array_foreach(type, i, t)
    {
        if (!json_is_string(t) || type_matches(json_string_value(t), v)) return true;
    }
    return false;
}

/* Appends "a or b or c" (the names in type) to buf at *n. */
static void append_type_names(const json_t *type, char *buf, size_t size, size_t *n)
{
    const json_t *t;
    size_t i;
    if (json_is_string(type)) {
        *n += (size_t)snprintf(buf + *n, *n < size ? size - *n : 0, "%s%s", *n ? " or " : "",
                               json_string_value(type));
        return;
    }
    json_array_foreach(type, i, t)
    {
        if (!json_is_string(t) || *n >= size) continue;
        *n += (size_t)snprintf(buf + *n, size - *n, "%s%s", *n ? " or " : "", json_string_value(t));
    }
}

/* A short human rendering of v for a detail line. */
static const char *describe(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v), max = size > 40 ? 32 : size / 2, n = 0;
        char *o = buf;
        *o++ = '"';
        size_t cut = len > max ? max : len;
        while (cut > 0 && cut < len && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
        for (; n < cut; n++)
            *o++ = (unsigned char)s[n] < 0x20 || s[n] == '"' ? '?' : s[n];
        if (cut < len) {
            memcpy(o, "...", 3);
            o += 3;
        }
        *o++ = '"';
        *o = '\0';
    } else if (json_is_number(v)) {
        double d = json_number_value(v);
        if (is_integral(v) && fabs(d) < 1e15)
            snprintf(buf, size, "%.0f", d);
        else
            snprintf(buf, size, "%.15g", d);
    } else if (json_is_object(v) || json_is_array(v)) {
        snprintf(buf, size, "%s", json_is_object(v) ? "an object" : "an array");
    } else {
        snprintf(buf, size, "%s", json_is_null(v) ? "null" : json_is_true(v) ? "true" : "false");
    }
    return buf;
}

static bool equal(const json_t *a, const json_t *b, int depth)
{
    if (depth > JSON_SCHEMA_MAX_DEPTH) return false;
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b)) return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!equal(json_array_get(a, i), json_array_get(b, i), depth + 1)) return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        const json_t *va;
        json_object_foreach((json_t *)a, k, va)
        {
            const json_t *vb = json_object_get(b, k);
            if (vb == NULL || !equal(va, vb, depth + 1)) return false;
        }
        return true;
    }
    default:
        return true; /* true, false, null: same type is same value */
    }
}

bool json_schema_equal(const json_t *a, const json_t *b)
{
    return equal(a, b, 0);
}

static size_t utf8_length(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Resolves "#" or "#/a/b~1c/0" (RFC 6901 in a URI fragment, %XX decoded) against the root;
 * NULL for anything else (remote documents, anchors), which the caller then ignores. */
static const json_t *resolve_ref(const json_t *root, const char *ref)
{
    if (ref[0] != '#') return NULL;
    const char *p = ref + 1;
    const json_t *cur = root;
    if (*p == '\0') return root;
    if (*p != '/') return NULL;
    while (*p == '/' && cur) {
        char token[REF_BYTES];
        size_t n = 0;
        for (p++; *p && *p != '/'; p++) {
            char c = *p;
            if (c == '~' && (p[1] == '0' || p[1] == '1')) {
                c = p[1] == '0' ? '~' : '/';
                p++;
            } else if (c == '%' && p[1] && p[2]) {
                unsigned v;
                if (sscanf(p + 1, "%2x", &v) == 1) {
                    c = (char)v;
                    p += 2;
                }
            }
            if (n + 1 >= sizeof(token)) return NULL;
            token[n++] = c;
        }
        token[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, token);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(token, &end, 10);
            cur = n > 0 && *end == '\0' ? json_array_get(cur, i) : NULL;
        } else {
            cur = NULL;
        }
    }
    return cur;
}

/* Returns the compiled pattern, or NULL when it does not compile; *owned is set when the caller
 * must free it (the per-walk cache was full). */
static pcre2_code *regex_get(struct walk *w, const char *pattern, size_t len, bool *owned)
{
    *owned = false;
    for (size_t i = 0; i < w->n_regex; i++)
        if (w->regex[i].source == pattern) return w->regex[i].code;
    int errcode;
    PCRE2_SIZE erroffset;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF, &errcode, &erroffset, NULL);
    if (w->n_regex < REGEX_CACHE) {
        w->regex[w->n_regex].source = pattern;
        w->regex[w->n_regex++].code = code;
    } else {
        *owned = true;
    }
    return code;
}

/* 1 match, 0 no match, -1 unusable pattern or a limit was hit (the caller accepts). */
static int regex_search(struct walk *w, const char *pattern, size_t pattern_len, const char *s,
                        size_t len)
{
    bool owned;
    pcre2_code *code = regex_get(w, pattern, pattern_len, &owned);
    if (code == NULL) return -1;
    if (w->match_ctx == NULL) {
        w->match_ctx = pcre2_match_context_create(NULL);
        if (w->match_ctx) pcre2_set_match_limit(w->match_ctx, REGEX_MATCH_LIMIT);
    }
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = md ? pcre2_match(code, (PCRE2_SPTR)s, len, 0, 0, md, w->match_ctx) : -1;
    pcre2_match_data_free(md);
    if (owned) pcre2_code_free(code);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    w->gave_up = true;
    return -1;
}

static bool check_number(struct walk *w, const json_t *s, const json_t *inst)
{
    double v = json_number_value(inst);
    char got[48];
    const json_t *min = json_object_get(s, "minimum"), *max = json_object_get(s, "maximum");
    const json_t *xmin = json_object_get(s, "exclusiveMinimum");
    const json_t *xmax = json_object_get(s, "exclusiveMaximum");
    const json_t *mult = json_object_get(s, "multipleOf");
    bool min_excl = json_is_true(xmin), max_excl = json_is_true(xmax); /* draft 4 */
    if (json_is_number(min)) {
        double m = json_number_value(min);
        if (min_excl ? v <= m : v < m)
            return fail(w, "expected %s %.15g, got %s", min_excl ? ">" : ">=", m,
                        describe(inst, got, sizeof(got)));
    }
    if (json_is_number(max)) {
        double m = json_number_value(max);
        if (max_excl ? v >= m : v > m)
            return fail(w, "expected %s %.15g, got %s", max_excl ? "<" : "<=", m,
                        describe(inst, got, sizeof(got)));
    }
    if (json_is_number(xmin) && v <= json_number_value(xmin))
        return fail(w, "expected > %.15g, got %s", json_number_value(xmin),
                    describe(inst, got, sizeof(got)));
    if (json_is_number(xmax) && v >= json_number_value(xmax))
        return fail(w, "expected < %.15g, got %s", json_number_value(xmax),
                    describe(inst, got, sizeof(got)));
    if (json_is_number(mult) && json_number_value(mult) > 0) {
        double q = v / json_number_value(mult);
        /* Tolerance for binary fractions: 0.3 is a multiple of 0.1. */
        if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q)))
            return fail(w, "expected a multiple of %.15g, got %s", json_number_value(mult),
                        describe(inst, got, sizeof(got)));
    }
    return true;
}

static bool check_string(struct walk *w, const json_t *s, const json_t *inst)
{
    const json_t *min = json_object_get(s, "minLength"), *max = json_object_get(s, "maxLength");
    const json_t *pattern = json_object_get(s, "pattern");
    size_t len = 0;
    if (json_is_number(min) || json_is_number(max))
        len = utf8_length(json_string_value(inst), json_string_length(inst));
    if (json_is_number(min) && (double)len < json_number_value(min))
        return fail(w, "expected at least %.0f characters, got %zu", json_number_value(min), len);
    if (json_is_number(max) && (double)len > json_number_value(max))
        return fail(w, "expected at most %.0f characters, got %zu", json_number_value(max), len);
    if (json_is_string(pattern) &&
        regex_search(w, json_string_value(pattern), json_string_length(pattern),
                     json_string_value(inst), json_string_length(inst)) == 0) {
        char got[48];
        return fail(w, "expected to match pattern \"%.48s\", got %s", json_string_value(pattern),
                    describe(inst, got, sizeof(got)));
    }
    return true;
}

/* Whether key is covered by properties or patternProperties (else additionalProperties
 * applies). */
static bool is_declared(struct walk *w, const json_t *s, const char *key, size_t key_len)
{
    const json_t *props = json_object_get(s, "properties");
    if (json_is_object(props) && json_object_get(props, key)) return true;
    const json_t *pp = json_object_get(s, "patternProperties");
    if (!json_is_object(pp)) return false;
    const char *pat;
    const json_t *sub;
    json_object_foreach((json_t *)pp, pat, sub)
    {
        /* An unusable pattern (-1) declares nothing we can check: give it the benefit. */
        if (regex_search(w, pat, strlen(pat), key, key_len) != 0) return true;
    }
    return false;
}

static bool check_object(struct walk *w, const json_t *s, const json_t *inst, int depth)
{
    const json_t *required = json_object_get(s, "required");
    const json_t *props = json_object_get(s, "properties");
    const json_t *pp = json_object_get(s, "patternProperties");
    const json_t *additional = json_object_get(s, "additionalProperties");
    const json_t *names = json_object_get(s, "propertyNames");
    const json_t *dep = json_object_get(s, "dependentRequired");
    const json_t *minp = json_object_get(s, "minProperties");
    const json_t *maxp = json_object_get(s, "maxProperties");
    const json_t *v;
    const char *key;
    size_t i;

    if (json_is_array(required)) {
        json_array_foreach(required, i, v)
        {
            if (json_is_string(v) && json_object_get(inst, json_string_value(v)) == NULL)
                return fail(w, "missing required property \"%.64s\"", json_string_value(v));
        }
    }
    if (json_is_object(dep)) {
        const json_t *list;
        json_object_foreach((json_t *)dep, key, list)
        {
            if (!json_object_get(inst, key) || !json_is_array(list)) continue;
            json_array_foreach(list, i, v)
            {
                if (json_is_string(v) && json_object_get(inst, json_string_value(v)) == NULL)
                    return fail(w, "missing property \"%.48s\" (required when \"%.48s\" is set)",
                                json_string_value(v), key);
            }
        }
    }
    size_t n = json_object_size(inst);
    if (json_is_number(minp) && (double)n < json_number_value(minp))
        return fail(w, "expected at least %.0f properties, got %zu", json_number_value(minp), n);
    if (json_is_number(maxp) && (double)n > json_number_value(maxp))
        return fail(w, "expected at most %.0f properties, got %zu", json_number_value(maxp), n);

    json_object_foreach((json_t *)inst, key, v)
    {
        size_t key_len = strlen(key);
        size_t old = push_token(w, key);
        bool ok = true;
        const json_t *sub = json_is_object(props) ? json_object_get(props, key) : NULL;
        if (sub) ok = validate(w, sub, v, depth + 1);
        if (ok && json_is_object(pp)) {
            const char *pat;
            const json_t *psub;
            json_object_foreach((json_t *)pp, pat, psub)
            {
                if (regex_search(w, pat, strlen(pat), key, key_len) == 1 &&
                    !validate(w, psub, v, depth + 1)) {
                    ok = false;
                    break;
                }
            }
        }
        if (ok && additional && !json_is_true(additional) && !is_declared(w, s, key, key_len)) {
            if (json_is_false(additional))
                ok = fail(w, "unexpected property (additionalProperties is false)");
            else
                ok = validate(w, additional, v, depth + 1);
        }
        if (ok && names) {
            json_t *name = json_stringn(key, key_len);
            if (name) {
                ok = validate(w, names, name, depth + 1);
                json_decref(name);
            }
        }
        pop(w, old);
        if (!ok) return false;
    }
    return true;
}

static bool check_array(struct walk *w, const json_t *s, const json_t *inst, int depth)
{
    const json_t *items = json_object_get(s, "items");
    const json_t *prefix = json_object_get(s, "prefixItems");
    const json_t *additional = json_object_get(s, "additionalItems");
    const json_t *mini = json_object_get(s, "minItems"), *maxi = json_object_get(s, "maxItems");
    const json_t *unique = json_object_get(s, "uniqueItems");
    const json_t *contains = json_object_get(s, "contains");
    size_t n = json_array_size(inst);

    if (json_is_number(mini) && (double)n < json_number_value(mini))
        return fail(w, "expected at least %.0f items, got %zu", json_number_value(mini), n);
    if (json_is_number(maxi) && (double)n > json_number_value(maxi))
        return fail(w, "expected at most %.0f items, got %zu", json_number_value(maxi), n);

    /* Positional schemas: 2020-12 prefixItems (then items for the rest), or the draft-4..2019
     * items array (then additionalItems for the rest). */
    const json_t *tuple = json_is_array(prefix) ? prefix : json_is_array(items) ? items : NULL;
    const json_t *rest = json_is_array(prefix) ? items : json_is_array(items) ? additional : items;
    size_t n_tuple = tuple ? json_array_size(tuple) : 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *sub = i < n_tuple ? json_array_get(tuple, i) : rest;
        if (sub == NULL || json_is_array(sub)) continue;
        size_t old = push_index(w, i);
        bool ok = json_is_false(sub) && i >= n_tuple
                      ? fail(w, "unexpected item (only %zu allowed)", n_tuple)
                      : validate(w, sub, json_array_get(inst, i), depth + 1);
        pop(w, old);
        if (!ok) return false;
    }
    if (json_is_true(unique)) {
        if (n > UNIQUE_ITEMS_LIMIT) {
            w->gave_up = true;
        } else {
            for (size_t i = 1; i < n; i++) {
                for (size_t j = 0; j < i; j++) {
                    if (!equal(json_array_get(inst, i), json_array_get(inst, j), depth)) continue;
                    size_t old = push_index(w, i);
                    fail(w, "duplicate of item %zu (uniqueItems)", j);
                    pop(w, old);
                    return false;
                }
            }
        }
    }
    if (contains) {
        bool found = false;
        w->quiet++;
        for (size_t i = 0; i < n && !found; i++)
            found = validate(w, contains, json_array_get(inst, i), depth + 1);
        w->quiet--;
        if (!found) return fail(w, "no item matches \"contains\"");
    }
    return true;
}

/* Follows a chain of bare {"$ref": ...} wrappers (a few hops) to see a branch's own keywords. */
static const json_t *deref(const struct walk *w, const json_t *s)
{
    for (int hops = 0; hops < 8 && json_is_object(s); hops++) {
        const json_t *ref = json_object_get(s, "$ref");
        const json_t *target =
            json_is_string(ref) ? resolve_ref(w->root, json_string_value(ref)) : NULL;
        if (target == NULL) break;
        s = target;
    }
    return s;
}

/* Explains why no branch of an anyOf/oneOf matched: the expected types when no branch has the
 * instance's type; the branch's own violation when exactly one branch has it. */
static bool explain_union(struct walk *w, const json_t *branches, const json_t *inst, int depth,
                          const char *keyword)
{
    size_t i, n_fit = 0, fit = 0;
    const json_t *b;
    json_array_foreach(branches, i, b)
    {
        const json_t *d = deref(w, b);
        if (json_is_false(d)) continue;
        if (!json_is_object(d) || type_keyword_matches(json_object_get(d, "type"), inst)) {
            n_fit++;
            fit = i;
        }
    }
    if (n_fit == 1 && !validate(w, json_array_get(branches, fit), inst, depth + 1)) return false;
    if (n_fit == 0) {
        char types[160];
        size_t n = 0;
        types[0] = '\0';
        json_array_foreach(branches, i, b)
        {
            const json_t *d = deref(w, b);
            if (json_is_object(d))
                append_type_names(json_object_get(d, "type"), types, sizeof(types), &n);
        }
        if (n > 0) return fail(w, "expected %s, got %s", types, json_schema_type_name(inst));
    }
    return fail(w, "matches none of the %zu %s schemas", json_array_size(branches), keyword);
}

static bool validate(struct walk *w, const json_t *schema, const json_t *inst, int depth)
{
    if (depth > JSON_SCHEMA_MAX_DEPTH || ++w->steps > JSON_SCHEMA_MAX_STEPS) {
        w->gave_up = true;
        return true;
    }
    if (json_is_true(schema)) return true;
    if (json_is_false(schema)) return fail(w, "not allowed (the schema is false)");
    if (!json_is_object(schema)) return true;

    char got[48];
    const json_t *type = json_object_get(schema, "type");
    if (type && !type_keyword_matches(type, inst)) {
        char types[160];
        size_t n = 0;
        types[0] = '\0';
        append_type_names(type, types, sizeof(types), &n);
        return fail(w, "expected %s, got %s", types, json_schema_type_name(inst));
    }
    const json_t *cst = json_object_get(schema, "const");
    if (cst && !equal(cst, inst, 0)) {
        char want[48];
        return fail(w, "expected %s, got %s", describe(cst, want, sizeof(want)),
                    describe(inst, got, sizeof(got)));
    }
    const json_t *enm = json_object_get(schema, "enum");
    if (json_is_array(enm)) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(enm) && !found; i++)
            found = equal(json_array_get(enm, i), inst, 0);
        if (!found) {
            char list[120];
            size_t n = 0, i;
            const json_t *e;
            list[0] = '\0';
            json_array_foreach(enm, i, e)
            {
                char one[48];
                if (i == 4) {
                    n += (size_t)snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0,
                                          ", ... (%zu)", json_array_size(enm));
                    break;
                }
                n += (size_t)snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s",
                                      i ? ", " : "", describe(e, one, sizeof(one)));
            }
            return fail(w, "expected one of [%s], got %s", list, describe(inst, got, sizeof(got)));
        }
    }
    if (json_is_number(inst) && !check_number(w, schema, inst)) return false;
    if (json_is_string(inst) && !check_string(w, schema, inst)) return false;
    if (json_is_object(inst) && !check_object(w, schema, inst, depth)) return false;
    if (json_is_array(inst) && !check_array(w, schema, inst, depth)) return false;

    const json_t *ref = json_object_get(schema, "$ref");
    if (json_is_string(ref)) {
        const json_t *target = resolve_ref(w->root, json_string_value(ref));
        if (target && !validate(w, target, inst, depth + 1)) return false;
    }
    const json_t *all = json_object_get(schema, "allOf");
    if (json_is_array(all)) {
        for (size_t i = 0; i < json_array_size(all); i++)
            if (!validate(w, json_array_get(all, i), inst, depth + 1)) return false;
    }
    const json_t *any = json_object_get(schema, "anyOf");
    if (json_is_array(any) && json_array_size(any) > 0) {
        bool found = false;
        w->quiet++;
        for (size_t i = 0; i < json_array_size(any) && !found; i++)
            found = validate(w, json_array_get(any, i), inst, depth + 1);
        w->quiet--;
        if (!found) return explain_union(w, any, inst, depth, "anyOf");
    }
    const json_t *one = json_object_get(schema, "oneOf");
    if (json_is_array(one) && json_array_size(one) > 0) {
        size_t n_match = 0;
        w->quiet++;
        for (size_t i = 0; i < json_array_size(one) && n_match < 2; i++)
            n_match += validate(w, json_array_get(one, i), inst, depth + 1);
        w->quiet--;
        if (n_match == 0) return explain_union(w, one, inst, depth, "oneOf");
        if (n_match > 1) return fail(w, "matches more than one of the oneOf schemas");
    }
    const json_t *not = json_object_get(schema, "not");
    if (not ) {
        w->quiet++;
        bool matched = validate(w, not, inst, depth + 1);
        w->quiet--;
        if (matched) return fail(w, "must not match the \"not\" schema");
    }
    const json_t *cond = json_object_get(schema, "if");
    if (cond) {
        w->quiet++;
        bool holds = validate(w, cond, inst, depth + 1);
        w->quiet--;
        const json_t *branch = json_object_get(schema, holds ? "then" : "else");
        if (branch && !validate(w, branch, inst, depth + 1)) return false;
    }
    return true;
}

bool json_schema_validate(const json_t *schema, const json_t *instance, char *detail,
                          size_t detail_bytes, bool *gave_up)
{
    struct walk w = {.root = schema, .detail = detail, .detail_bytes = detail_bytes};
    if (detail && detail_bytes) detail[0] = '\0';
    bool ok = validate(&w, schema, instance, 0);
    for (size_t i = 0; i < w.n_regex; i++)
        pcre2_code_free(w.regex[i].code);
    pcre2_match_context_free(w.match_ctx);
    if (gave_up) *gave_up = w.gave_up;
    return ok;
}
