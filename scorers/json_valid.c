/* json_valid: is the model's JSON valid where JSON was due? Runs on the evaluator thread.
 *
 * Applicable when the request asked for JSON (OpenAI chat response_format json_object or
 * json_schema; Responses text.format; Anthropic output_config.format / output_format), when
 * params.always is set, or when the reply has tool calls (their arguments must be a JSON object
 * matching the declared parameters: OpenAI tools[].function.parameters or tools[].parameters,
 * Anthropic tools[].input_schema). Not applicable for error statuses, incomplete exchanges,
 * replies extract.c could not understand or only saw a prefix of, and a refusal given instead of
 * JSON: those are http_error's, truncated's, parse's and refusal's.
 *
 * Strict RFC 8259 via jansson: duplicate keys, NaN/Infinity, trailing commas, comments, single
 * quotes, a BOM and text around the value are defects; surrounding whitespace is not. Numbers
 * beyond the range of a double (1e400) and lone surrogates ("\ud800") are defects too: RFC 8259
 * §6 and §8.2 leave them to the implementation and real consumers choke on them. A ```json fence
 * is a defect unless params.allow_fences. json_object wants an object at the top level.
 * Empty text where JSON was required is a defect here (and `empty` flags it too: each scorer is
 * its own opportunity); a reply made only of tool calls is judged on its tool calls.
 *
 * params: always (false), allow_fences (false), tool_calls (true: check tool-call arguments),
 * schema (true: validate against the declared JSON Schema, see json_schema.c for the subset).
 * score: 1 not JSON (syntax, empty, fenced, wrong top-level type), 0.5 JSON that violates the
 * schema or calls an undeclared tool, 0 valid. */
#include "scorers/scorer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "scorers/json_schema.h"
#include "scorers/params.h"

#define JSON_VALID_FLAGS                                                                           \
    (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL)

struct json_valid {
    bool always;
    bool allow_fences;
    bool tool_calls;
    bool schema;
};

enum json_want {
    JSON_WANT_NONE = 0,
    JSON_WANT_ANY,    /* any JSON value */
    JSON_WANT_OBJECT, /* a JSON object (json_object mode) */
};

static int setup(void **state, const json_t *params, struct err *err)
{
    static const char *const known[] = {"always", "allow_fences", "tool_calls", "schema", NULL};
    struct json_valid p = {.tool_calls = true, .schema = true};
    if (params_check(params, "json_valid", known, err) < 0 ||
        params_bool(params, "json_valid", "always", &p.always, err) < 0 ||
        params_bool(params, "json_valid", "allow_fences", &p.allow_fences, err) < 0 ||
        params_bool(params, "json_valid", "tool_calls", &p.tool_calls, err) < 0 ||
        params_bool(params, "json_valid", "schema", &p.schema, err) < 0)
        return -1;
    struct json_valid *s = xmalloc(sizeof(*s));
    *s = p;
    *state = s;
    return 0;
}

static void teardown(void *state)
{
    free(state);
}

static bool is_type(const json_t *format, const char *type)
{
    return json_is_object(format) && json_is_string(json_object_get(format, "type")) &&
           strcmp(json_string_value(json_object_get(format, "type")), type) == 0;
}

/* What the request asked for, and its schema (borrowed from req) when it gave one. */
static enum json_want requested(const json_t *req, const json_t **schema)
{
    *schema = NULL;
    if (!json_is_object(req)) return JSON_WANT_NONE;
    const json_t *rf = json_object_get(req, "response_format"); /* OpenAI chat */
    if (is_type(rf, "json_schema")) {
        *schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
        return JSON_WANT_ANY;
    }
    if (is_type(rf, "json_object")) {
        /* Some OpenAI-compatible servers take a schema beside json_object. */
        *schema = json_object_get(rf, "schema");
        return JSON_WANT_OBJECT;
    }
    const json_t *formats[] = {
        json_object_get(json_object_get(req, "text"), "format"),          /* OpenAI responses */
        json_object_get(json_object_get(req, "output_config"), "format"), /* Anthropic */
        json_object_get(req, "output_format"), /* Anthropic structured-outputs beta */
    };
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (is_type(formats[i], "json_schema")) {
            *schema = json_object_get(formats[i], "schema");
            return JSON_WANT_ANY;
        }
        if (is_type(formats[i], "json_object")) return JSON_WANT_OBJECT;
    }
    return JSON_WANT_NONE;
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The declared tool named name: *schema its parameters (NULL if none), *custom when it takes
 * free text rather than JSON (OpenAI custom tools). Returns false when not declared, or when the
 * request cannot tell (no tools list, or tools whose names live elsewhere, like MCP servers):
 * *knowable says which. */
static bool find_tool(const json_t *req, const char *name, const json_t **schema, bool *custom,
                      bool *knowable)
{
    *schema = NULL;
    *custom = false;
    const json_t *tools = json_object_get(req, "tools");
    *knowable = json_is_array(tools) && name != NULL && !json_object_get(req, "mcp_servers");
    if (!json_is_array(tools)) return false;
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        const json_t *fn = json_object_get(t, "function"); /* OpenAI chat */
        const json_t *tname = json_object_get(fn ? fn : t, "name");
        if (!json_is_string(tname)) {
            *knowable = false; /* e.g. {"type": "mcp", "server_label": ...} */
            continue;
        }
        if (name == NULL || strcmp(json_string_value(tname), name) != 0) continue;
        if (fn)
            *schema = json_object_get(fn, "parameters");
        else if (json_object_get(t, "parameters"))
            *schema = json_object_get(t, "parameters"); /* OpenAI responses */
        else
            *schema = json_object_get(t, "input_schema"); /* Anthropic */
        *custom = is_type(t, "custom");
        return true;
    }
    return false;
}

/* Checks one JSON text. where prefixes the detail ("" for the reply text). Returns 0 valid,
 * 1 not JSON, 2 a schema violation; fills out->detail on failure. */
static int check_text(const char *where, const char *text, size_t len, enum json_want want,
                      const json_t *schema, bool allow_fences, bool *gave_up, struct score *out)
{
    int line_shift = 0; /* lines before a fenced block's content */
    size_t b = 0, e = len, t = 0;
    while (t < len && is_json_space(text[t]))
        t++;
    if (len - t >= 3 && memcmp(text + t, "```", 3) == 0) {
        if (!allow_fences) {
            score_detail(out, "%sfenced code block (```), not bare JSON", where);
            return 1;
        }
        while (e > t && is_json_space(text[e - 1]))
            e--;
        const char *nl = memchr(text + t, '\n', e - t);
        if (nl && nl < text + e - 3 && memcmp(text + e - 3, "```", 3) == 0) {
            b = (size_t)(nl + 1 - text);
            e -= 3;
            for (size_t i = 0; i < b; i++)
                line_shift += text[i] == '\n';
        }
    }
    json_error_t jerr;
    json_t *v = json_loadb(text + b, e - b, JSON_VALID_FLAGS, &jerr);
    if (v == NULL) {
        score_detail(out, "%sline %d col %d: %s", where, jerr.line + line_shift, jerr.column,
                     jerr.text);
        return 1;
    }
    int rc = 0;
    char detail[SCORE_DETAIL_BYTES];
    if (want == JSON_WANT_OBJECT && !json_is_object(v)) {
        score_detail(out, "%s(root): expected an object, got %s", where, json_schema_type_name(v));
        rc = 1;
    } else if (schema && !json_schema_validate(schema, v, detail, sizeof(detail), gave_up)) {
        score_detail(out, "%s%s", where, detail);
        rc = 2;
    }
    json_decref(v);
    return rc;
}

static void score(const void *state, const struct score_input *in, struct score *out)
{
    const struct json_valid *p = state;
    const struct extracted *x = in->x;
    const struct exchange *ex = in->ex;
    score_reset(out);

    if (ex && (ex->status >= 400 || ex->outcome != EXCHANGE_COMPLETE || ex->response_truncated)) {
        score_detail(out, "not scored: error, incomplete or capped exchange");
        return;
    }
    if (x->parse_error || x->decoded_truncated) {
        score_detail(out, "not scored: reply not understood or capped");
        return;
    }
    const json_t *schema;
    enum json_want want = requested(x->request, &schema);
    if (want == JSON_WANT_NONE && p->always) want = JSON_WANT_ANY;
    if (!p->schema) schema = NULL;
    const char *text = x->text ? x->text : "";
    size_t len = x->text ? x->text_len : 0, b = 0;
    while (b < len && is_json_space(text[b]))
        b++;
    bool text_empty = b == len;
    size_t n_calls = p->tool_calls ? x->n_tool_calls : 0;

    /* A reply made of tool calls (or a refusal) instead of text is judged on those. */
    bool check_reply = want != JSON_WANT_NONE && !(text_empty && (n_calls > 0 || x->refusal));
    if (!check_reply && n_calls == 0) {
        score_detail(out, "%s", want == JSON_WANT_NONE ? "no JSON asked for" : "refusal, no JSON");
        return;
    }
    out->applicable = true;
    bool gave_up = false;
    int rc = 0;
    if (check_reply) {
        if (text_empty) {
            score_detail(out, "empty output where JSON was required");
            rc = 1;
        } else {
            rc = check_text("", text, len, want, schema, p->allow_fences, &gave_up, out);
        }
    }
    for (size_t i = 0; i < n_calls && rc == 0; i++) {
        const struct extract_tool_call *tc = &x->tool_calls[i];
        const json_t *tool_schema;
        bool custom, knowable;
        bool declared = find_tool(x->request, tc->name, &tool_schema, &custom, &knowable);
        char where[96];
        snprintf(where, sizeof(where), "tool_calls[%zu] %.48s: ", i, tc->name ? tc->name : "?");
        if (!declared && knowable) {
            score_detail(out, "tool_calls[%zu]: \"%.64s\" is not a declared tool", i, tc->name);
            rc = 2;
            break;
        }
        if (custom) continue; /* free-text input, not JSON */
        const char *args = tc->arguments ? tc->arguments : "";
        size_t args_len = strlen(args), a = 0;
        while (a < args_len && is_json_space(args[a]))
            a++;
        if (a == args_len) { /* a streamed call with no input (Anthropic sends no delta) */
            args = "{}";
            args_len = 2;
        }
        rc = check_text(where, args, args_len, JSON_WANT_OBJECT, p->schema ? tool_schema : NULL,
                        false, &gave_up, out);
    }
    if (rc != 0) {
        out->defect = true;
        out->score = rc == 1 ? 1.0 : 0.5;
        return;
    }
    score_detail(out, "valid JSON%s%s%s", check_reply && schema ? ", matches the schema" : "",
                 n_calls ? " (tool calls checked)" : "",
                 gave_up ? " (schema check stopped at a limit)" : "");
}

const struct scorer scorer_json_valid = {
    .name = "json_valid",
    .setup = setup,
    .score = score,
    .teardown = teardown,
};
