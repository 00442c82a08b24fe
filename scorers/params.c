/* Param readers shared by the scorers' setup(). */
#include "scorers/params.h"

#include <stdio.h>
#include <string.h>

/* names[0..n) as "a, b, c" (cut at cap). */
static void join(char *buf, size_t cap, const char *const *names, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
}

int params_check(const json_t *params, const char *scorer, const char *const *known,
                 struct err *err)
{
    if (params == NULL) return 0;
    if (!json_is_object(params)) {
        err_set(err, "%s.params: expected an object", scorer);
        return -1;
    }
    size_t n_known = 0;
    while (known && known[n_known])
        n_known++;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        size_t k = 0;
        while (k < n_known && strcmp(key, known[k]) != 0)
            k++;
        if (k < n_known) continue;
        char list[256];
        join(list, sizeof(list), known, n_known);
        if (n_known == 0)
            err_set(err, "%s.params.%s: unknown parameter (%s takes none)", scorer, key, scorer);
        else
            err_set(err, "%s.params.%s: unknown parameter (known: %s)", scorer, key, list);
        return -1;
    }
    return 0;
}

int params_bool(const json_t *params, const char *scorer, const char *key, bool *out,
                struct err *err)
{
    const json_t *v = json_object_get(params, key);
    if (v == NULL) return 0;
    if (!json_is_boolean(v)) {
        err_set(err, "%s.params.%s: expected true or false", scorer, key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

int params_int(const json_t *params, const char *scorer, const char *key, json_int_t min,
               json_int_t max, bool zero_off, json_int_t *out, struct err *err)
{
    const json_t *v = json_object_get(params, key);
    if (v == NULL) return 0;
    json_int_t x = json_integer_value(v); /* 0 when not an integer */
    if (!json_is_integer(v) || (!(x == 0 && zero_off) && (x < min || x > max))) {
        err_set(err,
                "%s.params.%s: expected an integer from %" JSON_INTEGER_FORMAT
                " to %" JSON_INTEGER_FORMAT "%s",
                scorer, key, min, max, zero_off ? ", or 0 to turn it off" : "");
        return -1;
    }
    *out = x;
    return 0;
}

int params_number(const json_t *params, const char *scorer, const char *key, double min, double max,
                  const char *what, double *out, struct err *err)
{
    const json_t *v = json_object_get(params, key);
    if (v == NULL) return 0;
    if (!json_is_number(v) || !(json_number_value(v) >= min) || json_number_value(v) > max) {
        err_set(err, "%s.params.%s: expected %s", scorer, key, what);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

int params_strings(const json_t *params, const char *scorer, const char *key, size_t max,
                   size_t min_len, const json_t **list, struct err *err)
{
    const json_t *v = json_object_get(params, key);
    *list = NULL;
    if (v == NULL) return 0;
    if (!json_is_array(v)) {
        err_set(err, "%s.params.%s: expected an array of strings", scorer, key);
        return -1;
    }
    if (json_array_size(v) > max) {
        err_set(err, "%s.params.%s: at most %zu entries", scorer, key, max);
        return -1;
    }
    size_t idx;
    const json_t *e;
    json_array_foreach(v, idx, e)
    {
        if (!json_is_string(e) || (min_len == 1 && json_string_length(e) == 0)) {
            err_set(err, "%s.params.%s[%zu]: expected a %sstring", scorer, key, idx,
                    min_len == 1 ? "non-empty " : "");
            return -1;
        }
        if (json_string_length(e) < min_len) {
            err_set(err, "%s.params.%s[%zu]: \"%s\": shorter than %zu characters", scorer, key, idx,
                    json_string_value(e), min_len);
            return -1;
        }
    }
    *list = v;
    return 0;
}

int params_names(const json_t *params, const char *scorer, const char *key,
                 const char *const *names, size_t n, const char *noun, bool *on, struct err *err)
{
    const json_t *v = json_object_get(params, key);
    if (v == NULL) return 0;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        err_set(err, "%s.params.%s: expected a non-empty array of %s names", scorer, key, noun);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        on[i] = false;
    size_t idx;
    const json_t *e;
    json_array_foreach(v, idx, e)
    {
        const char *name = json_string_value(e);
        if (name == NULL) {
            err_set(err, "%s.params.%s[%zu]: expected a string", scorer, key, idx);
            return -1;
        }
        size_t i = 0;
        while (i < n && strcmp(name, names[i]) != 0)
            i++;
        if (i == n) {
            char list[256];
            join(list, sizeof(list), names, n);
            err_set(err, "%s.params.%s[%zu]: \"%s\": unknown %s (%s)", scorer, key, idx, name, noun,
                    list);
            return -1;
        }
        on[i] = true;
    }
    return 0;
}
