/* Sampling: deterministic on the request id, monotone in the rate, close to the rate. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/reqid.h"
#include "core/sampler.h"
#include "tests/tap.h"

int main(void)
{
    is_int(sampler_parse_force("always"), SAMPLER_FORCE_ALWAYS, "'always' forces sampling");
    is_int(sampler_parse_force("NEVER"), SAMPLER_FORCE_NEVER, "'NEVER' (any case) prevents it");
    is_int(sampler_parse_force("sometimes"), SAMPLER_FORCE_NONE, "other values change nothing");
    is_int(sampler_parse_force(NULL), SAMPLER_FORCE_NONE, "no header changes nothing");

    ok(!sampler_should_sample("abc", 0.0), "rate 0 samples nothing");
    ok(sampler_should_sample("abc", 1.0), "rate 1 samples everything");
    is_int(sampler_should_sample("req-42", 0.5), sampler_should_sample("req-42", 0.5),
           "the same id gets the same decision");

    enum { N = 20000 };
    struct reqid g;
    reqid_init_seeded(&g, 7, 11);
    int n_10 = 0, n_50 = 0, not_monotone = 0;
    char id[REQID_LEN + 1];
    for (int i = 0; i < N; i++) {
        reqid_next(&g, id);
        bool at_10 = sampler_should_sample(id, 0.1);
        bool at_50 = sampler_should_sample(id, 0.5);
        n_10 += at_10;
        n_50 += at_50;
        not_monotone += at_10 && !at_50;
    }
    /* Binomial sd at p=0.1, n=20000 is ~42: 5 sd is 212. */
    ok(n_10 > 2000 - 212 && n_10 < 2000 + 212, "rate 0.1 samples %d of %d (within 5 sd)", n_10, N);
    ok(n_50 > 10000 - 354 && n_50 < 10000 + 354, "rate 0.5 samples %d of %d (within 5 sd)", n_50,
       N);
    is_int(not_monotone, 0, "an id sampled at rate 0.1 is sampled at 0.5 too");
    int small = 0;
    for (int i = 0; i < 1000; i++) {
        char seq[16];
        snprintf(seq, sizeof(seq), "%d", i);
        small += sampler_should_sample(seq, 0.5);
    }
    ok(small > 400 && small < 600, "short sequential ids are spread too (%d of 1000 at 0.5)",
       small);

    /* Rates: model beats route beats global; the global one moves (auto). */
    struct err err = {{0}};
    const char *routes[] = {"openai", "anthropic"};
    json_t *cfg =
        json_loads("{\"routes\": {\"anthropic\": 0.5}, \"models\": {\"gpt-4o\": 1}}", 0, NULL);
    struct sampler *s = sampler_new(0.1, cfg, routes, 2, &err);
    ok(s != NULL, "sampler with route and model rates is built");
    ok(sampler_rate(s, "openai", NULL) == 0.1, "no route or model rate: the global rate");
    ok(sampler_rate(s, "anthropic", NULL) == 0.5, "a route's rate applies to its route");
    ok(sampler_rate(s, "anthropic", "gpt-4o") == 1.0, "a model's rate beats its route's");
    ok(sampler_has_model_rates(s), "model rates are known to exist");
    sampler_set_global_rate(s, 0.3);
    ok(sampler_rate(s, "openai", "other") == 0.3, "the global rate can be moved");
    sampler_free(s);
    json_decref(cfg);
    static const struct {
        const char *json;
        const char *why;
    } bad[] = {
        {"{\"routes\": {\"nope\": 0.5}}", "sampling.routes.nope: no upstream has this name"},
        {"{\"models\": {\"m\": 2}}", "sampling.models.m: must be a number in 0..1"},
        {"{\"rout\": {}}", "sampling.rout: unknown key (expected routes or models)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg = json_loads(bad[i].json, 0, NULL);
        ok(sampler_new(0.1, cfg, routes, 2, &err) == NULL, "bad sampling config refused: %s",
           bad[i].json);
        is_str(err.msg, bad[i].why, "with the message naming it");
        json_decref(cfg);
    }

    /* The request's model, found without a full parse. */
    static const struct {
        const char *json;
        const char *want;
    } models[] = {
        {"{\"model\":\"gpt-4o\",\"messages\":[]}", "gpt-4o"},
        {"{\"messages\":[{\"role\":\"user\",\"model\":\"inner\"}], \"model\" : \"top\"}", "top"},
        {"{\"messages\":[{\"content\":\"say \\\"model\\\": x\"}],\"model\":\"m2\"}", "m2"},
        {"{\"tools\":{\"model\":\"nested\"}}", NULL},
        {"{\"model\": 3}", NULL},
        {"not json", NULL},
    };
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        char out[64];
        bool found = sampler_find_model(models[i].json, strlen(models[i].json), out, sizeof(out));
        is_str(found ? out : NULL, models[i].want, "model of %s", models[i].json);
    }
    return done_testing();
}
