/* json_valid and its schema validator: when JSON is due, strict syntax, schema violations with
 * their pointer, tool-call arguments, param errors, walk limits, and the labelled set's precision
 * and recall (tests/fixtures/labelled/json_valid.jsonl). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/json_schema.h"
#include "scorers/scorer.h"
#include "tests/tap.h"

extern const struct scorer scorer_json_valid;

#define LABELLED "tests/fixtures/labelled/json_valid.jsonl"

/* Request bodies used below. */
#define RF_OBJECT "{\"response_format\": {\"type\": \"json_object\"}}"
#define RF_PERSON                                                                                  \
    "{\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"p\", "        \
    "\"schema\": {\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, "       \
    "\"age\": {\"type\": \"integer\"}}, \"required\": [\"name\", \"age\"], "                       \
    "\"additionalProperties\": false}}}}"
#define RESPONSES_PERSON                                                                           \
    "{\"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"p\", \"schema\": "            \
    "{\"type\": \"object\", \"required\": [\"name\"]}}}}"
#define ANTHROPIC_FORMAT                                                                           \
    "{\"output_config\": {\"format\": {\"type\": \"json_schema\", \"schema\": "                    \
    "{\"type\": \"object\", \"required\": [\"ok\"]}}}}"
#define OPENAI_TOOLS                                                                               \
    "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "             \
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, "   \
    "\"unit\": {\"enum\": [\"c\", \"f\"]}}, \"required\": [\"city\"], "                            \
    "\"additionalProperties\": false}}}, {\"type\": \"custom\", \"name\": \"shell\"}]}"
#define ANTHROPIC_TOOLS                                                                            \
    "{\"tools\": [{\"name\": \"lookup\", \"input_schema\": {\"type\": \"object\", "                \
    "\"properties\": {\"ids\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}}}, "       \
    "\"required\": [\"ids\"]}}]}"
#define MCP_TOOLS "{\"tools\": [{\"type\": \"mcp\", \"server_label\": \"docs\"}]}"

struct jv_case {
    const char *name;
    const char *params;  /* NULL: defaults */
    const char *request; /* NULL: not JSON */
    const char *text;
    const char *tool_name; /* one tool call when tool_args is set */
    const char *tool_args;
    int status; /* 0 reads as 200 */
    bool applicable;
    bool defect;
    const char *detail; /* a substring the detail must hold; NULL: anything */
};

static const struct jv_case CASES[] = {
    {"no JSON asked for: not applicable", NULL, "{}", "hello", NULL, NULL, 0, false, false,
     "no JSON asked"},
    {"no request body at all: not applicable", NULL, NULL, "{}", NULL, NULL, 0, false, false, NULL},
    {"always: prose is a defect", "{\"always\": true}", NULL, "hello", NULL, NULL, 0, true, true,
     "line 1 col"},
    {"always: any top-level value is fine", "{\"always\": true}", NULL, "[1, 2]", NULL, NULL, 0,
     true, false, "valid JSON"},
    {"json_object: valid object", NULL, RF_OBJECT, "{\"a\": 1}", NULL, NULL, 0, true, false,
     "valid JSON"},
    {"json_object: an array is a defect", NULL, RF_OBJECT, "[1]", NULL, NULL, 0, true, true,
     "(root): expected an object, got array"},
    {"syntax error names line and column", NULL, RF_OBJECT, "{\n  \"a\": 1,\n}", NULL, NULL, 0,
     true, true, "line 3 col 1:"},
    {"duplicate keys are a defect", NULL, RF_OBJECT, "{\"a\": 1, \"a\": 1}", NULL, NULL, 0, true,
     true, "duplicate object key"},
    {"NaN is a defect", NULL, RF_OBJECT, "{\"a\": NaN}", NULL, NULL, 0, true, true, "invalid"},
    {"big integers are legal", NULL, RF_OBJECT, "{\"a\": 123456789012345678901234567890}", NULL,
     NULL, 0, true, false, NULL},
    {"empty text where JSON is due", NULL, RF_OBJECT, " \n", NULL, NULL, 0, true, true,
     "empty output where JSON was required"},
    {"fence is a defect by default", NULL, RF_OBJECT, "```json\n{\"a\": 1}\n```", NULL, NULL, 0,
     true, true, "fenced code block"},
    {"allow_fences strips a json fence", "{\"allow_fences\": true}", RF_OBJECT,
     "\n```json\n{\"a\": 1}\n```\n", NULL, NULL, 0, true, false, NULL},
    {"allow_fences strips a bare fence", "{\"allow_fences\": true}", RF_OBJECT,
     "```\n{\"a\": 1}\n```", NULL, NULL, 0, true, false, NULL},
    {"allow_fences: errors count lines from the text's start", "{\"allow_fences\": true}",
     RF_OBJECT, "```json\n{\"a\": 1,}\n```", NULL, NULL, 0, true, true, "line 2 col"},
    {"allow_fences: an unclosed fence is still a defect", "{\"allow_fences\": true}", RF_OBJECT,
     "```json\n{\"a\": 1}", NULL, NULL, 0, true, true, NULL},
    {"json_schema: conforming object", NULL, RF_PERSON, "{\"name\": \"A\", \"age\": 3}", NULL, NULL,
     0, true, false, "matches the schema"},
    {"json_schema: wrong type names the pointer", NULL, RF_PERSON,
     "{\"name\": \"A\", \"age\": \"3\"}", NULL, NULL, 0, true, true,
     "/age: expected integer, got string"},
    {"json_schema: missing property", NULL, RF_PERSON, "{\"name\": \"A\"}", NULL, NULL, 0, true,
     true, "(root): missing required property \"age\""},
    {"json_schema: extra property", NULL, RF_PERSON, "{\"name\": \"A\", \"age\": 3, \"x\": 1}",
     NULL, NULL, 0, true, true, "/x: unexpected property"},
    {"schema:false skips the schema", "{\"schema\": false}", RF_PERSON, "{\"name\": 1}", NULL, NULL,
     0, true, false, NULL},
    {"responses text.format schema", NULL, RESPONSES_PERSON, "{\"nom\": 1}", NULL, NULL, 0, true,
     true, "missing required property \"name\""},
    {"anthropic output_config.format schema", NULL, ANTHROPIC_FORMAT, "{\"ok\": true}", NULL, NULL,
     0, true, false, NULL},
    {"error status: not applicable", NULL, RF_OBJECT, "oops", NULL, NULL, 500, false, false, NULL},
    {"tool call: valid arguments", NULL, OPENAI_TOOLS, "", "get_weather",
     "{\"city\": \"Paris\", \"unit\": \"c\"}", 0, true, false, "tool calls checked"},
    {"tool call: bad enum names the tool and pointer", NULL, OPENAI_TOOLS, "", "get_weather",
     "{\"city\": \"Paris\", \"unit\": \"k\"}", 0, true, true,
     "tool_calls[0] get_weather: /unit: expected one of [\"c\", \"f\"], got \"k\""},
    {"tool call: invalid JSON arguments", NULL, OPENAI_TOOLS, "", "get_weather", "{\"city\": \"Par",
     0, true, true, "tool_calls[0] get_weather: line 1"},
    {"tool call: arguments must be an object", NULL, OPENAI_TOOLS, "", "get_weather", "[]", 0, true,
     true, "expected an object, got array"},
    {"tool call: undeclared tool", NULL, OPENAI_TOOLS, "", "get_wether", "{}", 0, true, true,
     "\"get_wether\" is not a declared tool"},
    {"tool call: custom tools take free text", NULL, OPENAI_TOOLS, "", "shell", "ls -la", 0, true,
     false, NULL},
    {"tool call: anthropic input_schema", NULL, ANTHROPIC_TOOLS, "", "lookup",
     "{\"ids\": [1, 2, \"3\"]}", 0, true, true, "/ids/2: expected integer, got string"},
    {"tool call: empty arguments read as {}", NULL, ANTHROPIC_TOOLS, "", "lookup", "", 0, true,
     true, "missing required property \"ids\""},
    {"tool call: MCP tools cannot be checked by name", NULL, MCP_TOOLS, "", "search_docs",
     "{\"q\": 1}", 0, true, false, NULL},
    {"tool call: no tools list, syntax only", NULL, "{}", "", "anything", "{\"a\": 1}", 0, true,
     false, NULL},
    {"tool_calls:false ignores tool calls", "{\"tool_calls\": false}", OPENAI_TOOLS, "",
     "get_weather", "{", 0, false, false, NULL},
    {"JSON asked and tool called: text not required", NULL,
     "{\"response_format\": {\"type\": \"json_object\"}, \"tools\": [{\"name\": \"f\"}]}", "", "f",
     "{}", 0, true, false, NULL},
};

static json_t *parse(const char *s)
{
    if (s == NULL) return NULL;
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (j == NULL) diag("bad test JSON: %s: %s", s, e.text);
    return j;
}

static void run_case(const struct jv_case *c)
{
    void *state = NULL;
    struct err err = {{0}};
    json_t *params = parse(c->params);
    if (scorer_json_valid.setup(&state, params, &err) != 0) {
        ok(false, "%s: setup failed: %s", c->name, err.msg);
        json_decref(params);
        return;
    }
    struct exchange ex = {.status = c->status ? c->status : 200, .outcome = EXCHANGE_COMPLETE};
    struct extract_tool_call tc = {.name = (char *)c->tool_name, .arguments = (char *)c->tool_args};
    struct extracted x = {.api = EXTRACT_API_OPENAI_CHAT,
                          .text = (char *)c->text,
                          .text_len = strlen(c->text),
                          .tool_calls = c->tool_args ? &tc : NULL,
                          .n_tool_calls = c->tool_args ? 1 : 0,
                          .request = parse(c->request)};
    struct score out;
    memset(&out, 0xA5, sizeof(out)); /* the scorer must set every field */
    scorer_json_valid.score(state, &(struct score_input){&ex, &x}, &out);
    bool good = out.applicable == c->applicable && out.defect == c->defect &&
                (c->detail == NULL || strstr(out.detail, c->detail) != NULL) &&
                memchr(out.detail, '\0', sizeof(out.detail)) != NULL;
    ok(good, "%s", c->name);
    if (!good)
        diag("applicable %d defect %d detail '%s'; want %d %d '%s'", out.applicable, out.defect,
             out.detail, c->applicable, c->defect, c->detail ? c->detail : "");
    json_decref(x.request);
    json_decref(params);
    scorer_json_valid.teardown(state);
}

struct setup_case {
    const char *params;
    const char *error;
};

static const struct setup_case SETUP_ERRORS[] = {
    {"[]", "json_valid.params: expected an object"},
    {"{\"always\": 1}", "json_valid.params.always: expected true or false"},
    {"{\"allow_fences\": \"yes\"}", "json_valid.params.allow_fences: expected true or false"},
    {"{\"strict\": true}", "json_valid.params.strict: unknown parameter"},
};

struct schema_case {
    const char *name;
    const char *schema;
    const char *instance;
    bool valid;
    const char *detail;
};

static const struct schema_case SCHEMA_CASES[] = {
    {"true schema accepts anything", "true", "[1]", true, NULL},
    {"false schema rejects anything", "false", "1", false, "(root): not allowed"},
    {"type array accepts either", "{\"type\": [\"string\", \"null\"]}", "null", true, NULL},
    {"type array names all types", "{\"type\": [\"string\", \"null\"]}", "1", false,
     "expected string or null, got integer"},
    {"integer accepts 2.0", "{\"type\": \"integer\"}", "2.0", true, NULL},
    {"integer rejects 2.5", "{\"type\": \"integer\"}", "2.5", false, "got number"},
    {"number accepts integers", "{\"type\": \"number\"}", "7", true, NULL},
    {"boolean is not integer", "{\"type\": \"integer\"}", "true", false, "got boolean"},
    {"enum compares numbers by value", "{\"enum\": [1, \"a\"]}", "1.0", true, NULL},
    {"enum compares objects deeply", "{\"enum\": [{\"a\": [1, 2]}]}", "{\"a\": [1, 2]}", true,
     NULL},
    {"enum rejects a near object", "{\"enum\": [{\"a\": [1, 2]}]}", "{\"a\": [2, 1]}", false,
     "expected one of [an object]"},
    {"const null", "{\"const\": null}", "false", false, "expected null, got false"},
    {"nested pointer escapes ~ and /",
     "{\"properties\": {\"a/b\": {\"properties\": {\"c~d\": {\"type\": \"string\"}}}}}",
     "{\"a/b\": {\"c~d\": 1}}", false, "/a~1b/c~0d: expected string"},
    {"items schema and index in pointer",
     "{\"properties\": {\"items\": {\"items\": {\"properties\": {\"price\": {\"type\": "
     "\"number\"}}}}}}",
     "{\"items\": [{\"price\": 1}, {\"price\": 2}, {\"price\": \"x\"}]}", false,
     "/items/2/price: expected number, got string"},
    {"prefixItems then items:false",
     "{\"prefixItems\": [{\"type\": \"string\"}], \"items\": false}", "[\"a\", 1]", false,
     "/1: unexpected item"},
    {"draft-4 tuple items with additionalItems schema",
     "{\"items\": [{\"type\": \"string\"}], \"additionalItems\": {\"type\": \"integer\"}}",
     "[\"a\", 1, 2.5]", false, "/2: expected integer"},
    {"minItems", "{\"minItems\": 2}", "[1]", false, "expected at least 2 items, got 1"},
    {"maxItems", "{\"maxItems\": 1}", "[1, 2]", false, "expected at most 1 items, got 2"},
    {"uniqueItems compares by value", "{\"uniqueItems\": true}", "[1, 2, 1.0]", false,
     "/2: duplicate of item 0"},
    {"contains", "{\"contains\": {\"const\": 3}}", "[1, 2]", false, "no item matches"},
    {"minLength counts code points", "{\"minLength\": 3}", "\"\xc3\xa9\xc3\xa9\"", false,
     "expected at least 3 characters, got 2"},
    {"maxLength counts code points", "{\"maxLength\": 2}", "\"\xc3\xa9\xc3\xa9\"", true, NULL},
    {"pattern is unanchored", "{\"pattern\": \"[0-9]{3}\"}", "\"ab123\"", true, NULL},
    {"pattern mismatch", "{\"pattern\": \"^[a-z]+$\"}", "\"abC\"", false,
     "expected to match pattern \"^[a-z]+$\""},
    {"bad pattern is ignored", "{\"pattern\": \"(\"}", "\"x\"", true, NULL},
    {"minimum", "{\"minimum\": 0}", "-1", false, "expected >= 0, got -1"},
    {"exclusiveMaximum number", "{\"exclusiveMaximum\": 10}", "10", false, "expected < 10"},
    {"draft-4 exclusiveMinimum boolean", "{\"minimum\": 5, \"exclusiveMinimum\": true}", "5", false,
     "expected > 5"},
    {"multipleOf with binary fractions", "{\"multipleOf\": 0.01}", "19.99", true, NULL},
    {"multipleOf mismatch", "{\"multipleOf\": 2}", "3", false, "multiple of 2"},
    {"required reports the first missing", "{\"required\": [\"a\", \"b\"]}", "{\"a\": 1}", false,
     "(root): missing required property \"b\""},
    {"additionalProperties schema",
     "{\"properties\": {\"a\": {}}, \"additionalProperties\": {\"type\": \"number\"}}",
     "{\"a\": \"x\", \"b\": 1, \"c\": \"y\"}", false, "/c: expected number"},
    {"patternProperties declare keys",
     "{\"patternProperties\": {\"^x-\": {\"type\": \"string\"}}, \"additionalProperties\": false}",
     "{\"x-a\": \"1\", \"y\": 1}", false, "/y: unexpected property"},
    {"patternProperties validate values",
     "{\"patternProperties\": {\"^n_\": {\"type\": \"number\"}}}", "{\"n_a\": \"1\"}", false,
     "/n_a: expected number"},
    {"propertyNames", "{\"propertyNames\": {\"maxLength\": 3}}", "{\"abcd\": 1}", false,
     "/abcd: expected at most 3 characters"},
    {"minProperties", "{\"minProperties\": 1}", "{}", false, "expected at least 1 properties"},
    {"dependentRequired", "{\"dependentRequired\": {\"card\": [\"cvv\"]}}", "{\"card\": 1}", false,
     "missing property \"cvv\" (required when \"card\" is set)"},
    {"allOf reports the failing part",
     "{\"allOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}", "{\"a\": 1}", false,
     "missing required property \"b\""},
    {"anyOf nullable accepts null", "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}",
     "null", true, NULL},
    {"anyOf with one type-fitting branch explains it",
     "{\"anyOf\": [{\"type\": \"object\", \"required\": [\"id\"]}, {\"type\": \"null\"}]}",
     "{\"x\": 1}", false, "(root): missing required property \"id\""},
    {"anyOf with no fitting type lists the types",
     "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}", "3", false,
     "expected string or null, got integer"},
    {"oneOf rejects two matches", "{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}",
     "1", false, "more than one of the oneOf"},
    {"oneOf accepts exactly one", "{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"string\"}]}",
     "\"a\"", true, NULL},
    {"not", "{\"not\": {\"type\": \"null\"}}", "null", false, "must not match"},
    {"if/then/else",
     "{\"if\": {\"properties\": {\"t\": {\"const\": \"a\"}}}, \"then\": {"
     "\"required\": [\"a\"]}, \"else\": {\"required\": [\"b\"]}}",
     "{\"t\": \"b\"}", false, "missing required property \"b\""},
    {"$ref to $defs",
     "{\"$defs\": {\"n\": {\"type\": \"integer\"}}, \"properties\": {\"a\": {\"$ref\": "
     "\"#/$defs/n\"}}}",
     "{\"a\": \"1\"}", false, "/a: expected integer"},
    {"$ref to definitions with an escaped name",
     "{\"definitions\": {\"a/b\": {\"type\": \"integer\"}}, \"items\": {\"$ref\": "
     "\"#/definitions/a~1b\"}}",
     "[1, \"x\"]", false, "/1: expected integer"},
    {"$ref beside sibling keywords applies both",
     "{\"$defs\": {\"s\": {\"type\": \"string\"}}, \"$ref\": \"#/$defs/s\", \"minLength\": 2}",
     "\"a\"", false, "expected at least 2 characters"},
    {"remote $ref is ignored", "{\"$ref\": \"https://example.com/s.json\"}", "1", true, NULL},
    {"format is not checked", "{\"format\": \"email\"}", "\"not an email\"", true, NULL},
    {"keyword with a wrong-typed value is ignored", "{\"minimum\": \"5\"}", "1", true, NULL},
};

/* Replies json_valid leaves to other scorers even though JSON was asked for. */
static void test_not_applicable(void)
{
    void *state = NULL;
    scorer_json_valid.setup(&state, NULL, NULL);
    struct exchange ex = {.status = 200, .outcome = EXCHANGE_COMPLETE};
    struct extracted x = {.api = EXTRACT_API_OPENAI_CHAT,
                          .text = "",
                          .refusal = "I can't help with that.",
                          .request = parse(RF_PERSON)};
    struct score out;
    scorer_json_valid.score(state, &(struct score_input){&ex, &x}, &out);
    ok(!out.applicable && !out.defect && strstr(out.detail, "refusal"),
       "a refusal instead of JSON is refusal's, not json_valid's (%s)", out.detail);
    x.refusal = NULL;
    x.text = "{\"a\": [1, 2";
    x.text_len = strlen(x.text);
    x.decoded_truncated = true;
    scorer_json_valid.score(state, &(struct score_input){&ex, &x}, &out);
    ok(!out.applicable && !out.defect, "a reply seen only in part is not judged (%s)", out.detail);
    x.decoded_truncated = false;
    ex.outcome = EXCHANGE_TIMEOUT;
    scorer_json_valid.score(state, &(struct score_input){&ex, &x}, &out);
    ok(!out.applicable && !out.defect, "a cut stream is truncated's (%s)", out.detail);
    json_decref(x.request);
    scorer_json_valid.teardown(state);
}

static void test_schema_limits(void)
{
    json_error_t e;
    bool gave_up = false;
    char detail[SCORE_DETAIL_BYTES];

    json_t *self = json_loads("{\"$ref\": \"#\"}", 0, &e);
    json_t *one = json_integer(1);
    ok(json_schema_validate(self, one, detail, sizeof(detail), &gave_up) && gave_up,
       "a $ref cycle stops at the depth limit and accepts");

    /* 2^depth branches without the step budget. */
    json_t *blowup =
        json_loads("{\"$defs\": {\"x\": {\"anyOf\": [{\"$ref\": \"#/$defs/x\"}, {\"$ref\": "
                   "\"#/$defs/x\"}, {\"type\": \"string\"}]}}, \"$ref\": \"#/$defs/x\"}",
                   0, &e);
    gave_up = false;
    ok(json_schema_validate(blowup, one, detail, sizeof(detail), &gave_up) && gave_up,
       "an exponential anyOf stops at the step budget");

    /* An instance nested deeper than the walk may go, against a recursive schema. */
    enum { DEEP = 1000 };
    char *deep = malloc(2 * DEEP + 2);
    memset(deep, '[', DEEP);
    memset(deep + DEEP, ']', DEEP);
    deep[2 * DEEP] = '\0';
    json_t *inst = json_loads(deep, 0, &e);
    json_t *rec = json_loads("{\"type\": \"array\", \"items\": {\"$ref\": \"#\"}}", 0, &e);
    gave_up = false;
    ok(inst && json_schema_validate(rec, inst, detail, sizeof(detail), &gave_up) && gave_up,
       "a %d-deep instance stops at the depth limit", DEEP);

    json_decref(self);
    json_decref(one);
    json_decref(blowup);
    json_decref(inst);
    json_decref(rec);
    free(deep);
}

/* Runs the scorer with default params over the labelled set, as tests/bench/quality.c does:
 * the request is {"response_format": ...} or {} when the case has none. */
static void test_labelled(void)
{
    FILE *f = fopen(LABELLED, "r");
    if (!ok(f != NULL, "labelled set %s opens", LABELLED)) return;
    void *state = NULL;
    scorer_json_valid.setup(&state, NULL, NULL);
    char *line = NULL;
    size_t cap = 0;
    int tp = 0, fp = 0, fn = 0, tn = 0, n_bad_lines = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *c = json_loads(line, 0, &e);
        const char *text = json_string_value(json_object_get(c, "text"));
        const json_t *label = json_object_get(c, "defect");
        if (text == NULL || !json_is_boolean(label)) {
            n_bad_lines++;
            json_decref(c);
            continue;
        }
        json_t *req = json_object();
        json_t *rf = json_object_get(c, "response_format");
        if (rf) json_object_set(req, "response_format", rf);
        struct exchange ex = {.status = 200, .outcome = EXCHANGE_COMPLETE};
        struct extracted x = {.api = EXTRACT_API_OPENAI_CHAT,
                              .text = (char *)text,
                              .text_len = json_string_length(json_object_get(c, "text")),
                              .request = req};
        struct score out;
        scorer_json_valid.score(state, &(struct score_input){&ex, &x}, &out);
        bool want = json_is_true(label), got = out.applicable && out.defect;
        tp += want && got;
        fp += !want && got;
        fn += want && !got;
        tn += !want && !got;
        if (want != got)
            diag("labelled mismatch (%s): got %s: %s",
                 json_string_value(json_object_get(c, "note")), got ? "defect" : "no defect",
                 out.detail);
        json_decref(req);
        json_decref(c);
    }
    free(line);
    fclose(f);
    scorer_json_valid.teardown(state);
    int n = tp + fp + fn + tn;
    double precision = tp + fp ? (double)tp / (tp + fp) : 0;
    double recall = tp + fn ? (double)tp / (tp + fn) : 0;
    diag("labelled set: %d cases (%d negatives), precision %.3f, recall %.3f", n, fp + tn,
         precision, recall);
    is_int(n_bad_lines, 0, "every labelled line has text and a boolean defect");
    ok(n >= 60 && 3 * (fp + tn) >= n, "labelled set has >= 60 cases, a third negatives (%d, %d)", n,
       fp + tn);
    ok(precision >= 0.95, "labelled precision %.3f >= 0.95", precision);
    ok(recall >= 0.90, "labelled recall %.3f >= 0.90", recall);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++)
        run_case(&CASES[i]);

    for (size_t i = 0; i < sizeof(SETUP_ERRORS) / sizeof(SETUP_ERRORS[0]); i++) {
        void *state = NULL;
        struct err err = {{0}};
        json_t *params = parse(SETUP_ERRORS[i].params);
        int rc = scorer_json_valid.setup(&state, params, &err);
        ok(rc == -1 && strstr(err.msg, SETUP_ERRORS[i].error) != NULL, "setup rejects %s: '%s'",
           SETUP_ERRORS[i].params, err.msg);
        json_decref(params);
    }

    for (size_t i = 0; i < sizeof(SCHEMA_CASES) / sizeof(SCHEMA_CASES[0]); i++) {
        const struct schema_case *c = &SCHEMA_CASES[i];
        json_t *schema = parse(c->schema);
        json_error_t e;
        json_t *inst = json_loads(c->instance, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
        char detail[SCORE_DETAIL_BYTES];
        bool valid = json_schema_validate(schema, inst, detail, sizeof(detail), NULL);
        bool good = valid == c->valid && (c->detail == NULL || strstr(detail, c->detail));
        ok(good, "schema: %s", c->name);
        if (!good) diag("valid %d detail '%s'; want %d '%s'", valid, detail, c->valid, c->detail);
        json_decref(schema);
        json_decref(inst);
    }
    test_not_applicable();
    test_schema_limits();
    test_labelled();
    return done_testing();
}
