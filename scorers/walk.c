/* The walk over the assistant text and tool-call arguments shared by pii, secrets and refusal.
 * Each tool call's arguments are parsed with jansson (any JSON value, NUL escapes allowed) and
 * visited depth first, members in document order; the path of each string is built in a
 * fixed buffer as the walk descends and cut back as it returns. */
#include "scorers/walk.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

struct walk {
    unsigned flags;
    walk_fn *fn;
    void *ctx;
    char path[WALK_PATH_BYTES];
    bool too_deep;
    bool stopped;
};

static void visit(struct walk *wk, const char *s, size_t n, const char *path, const char *key)
{
    struct walk_where w = {path, key};
    if (!wk->stopped) wk->stopped = wk->fn(wk->ctx, s, n, &w);
}

static void walk_value(struct walk *wk, const json_t *v, size_t path_len, const char *key,
                       int depth)
{
    if (wk->stopped) return;
    if (depth > WALK_MAX_DEPTH) {
        wk->too_deep = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            int len = snprintf(wk->path + path_len, sizeof(wk->path) - path_len, ".%s", k);
            size_t next = path_len + (size_t)len;
            walk_value(wk, m, next < sizeof(wk->path) ? next : sizeof(wk->path) - 1, k, depth + 1);
            wk->path[path_len] = '\0';
        }
        break;
    }
    case JSON_ARRAY: {
        size_t idx;
        json_t *m;
        json_array_foreach(v, idx, m)
        {
            int len = snprintf(wk->path + path_len, sizeof(wk->path) - path_len, "[%zu]", idx);
            size_t next = path_len + (size_t)len;
            walk_value(wk, m, next < sizeof(wk->path) ? next : sizeof(wk->path) - 1, key,
                       depth + 1);
            wk->path[path_len] = '\0';
        }
        break;
    }
    case JSON_STRING:
        visit(wk, json_string_value(v), json_string_length(v), wk->path, key);
        break;
    case JSON_INTEGER:
        if (wk->flags & WALK_INTEGERS) {
            /* A phone or card number written as a JSON number. */
            char buf[32];
            int len = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            visit(wk, buf, (size_t)len, wk->path, key);
        }
        break;
    default:
        break;
    }
}

static void walk_arguments(struct walk *wk, size_t index, const char *args)
{
    int len = snprintf(wk->path, sizeof(wk->path), "tool_calls[%zu]", index);
    wk->too_deep = false;
    json_t *root = json_loads(args, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (root) walk_value(wk, root, (size_t)len, NULL, 0);
    json_decref(root);
    if ((wk->flags & WALK_RAW) && (!root || wk->too_deep)) {
        snprintf(wk->path, sizeof(wk->path), "tool_calls[%zu].arguments", index);
        visit(wk, args, strlen(args), wk->path, NULL);
    }
}

void walk_extracted(const struct extracted *x, unsigned flags, walk_fn *fn, void *ctx)
{
    struct walk wk = {.flags = flags, .fn = fn, .ctx = ctx};
    if (x->text) visit(&wk, x->text, x->text_len, NULL, NULL);
    for (size_t t = 0; t < x->n_tool_calls && !wk.stopped; t++) {
        const char *args = x->tool_calls[t].arguments;
        if (args && args[0] != '\0') walk_arguments(&wk, t, args);
    }
}

bool walk_has_arguments(const struct extracted *x)
{
    for (size_t t = 0; t < x->n_tool_calls; t++)
        if (x->tool_calls[t].arguments && x->tool_calls[t].arguments[0] != '\0') return true;
    return false;
}
