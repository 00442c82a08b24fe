/* Request ids: shape, uniqueness, determinism under a seed, and which client ids are kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/reqid.h"
#include "tests/tap.h"

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_shape_and_uniqueness(void)
{
    enum { N = 100000 };
    struct reqid g;
    reqid_init(&g);
    char(*ids)[REQID_LEN + 1] = malloc(sizeof(*ids) * N);
    bool shape_ok = true;
    for (int i = 0; i < N; i++) {
        reqid_next(&g, ids[i]);
        if (strlen(ids[i]) != REQID_LEN || strspn(ids[i], "0123456789abcdef") != REQID_LEN)
            shape_ok = false;
    }
    ok(shape_ok, "every generated id is 32 lowercase hex digits");
    ok(reqid_is_acceptable(ids[0]), "a generated id is itself acceptable as a client id");
    qsort(ids, N, sizeof(*ids), cmp);
    int dups = 0;
    for (int i = 1; i < N; i++)
        dups += strcmp(ids[i - 1], ids[i]) == 0;
    is_int(dups, 0, "100000 ids from one generator are all distinct");
    free(ids);
}

static void test_generators_differ(void)
{
    struct reqid a, b;
    reqid_init(&a);
    reqid_init(&b);
    char x[REQID_LEN + 1], y[REQID_LEN + 1];
    reqid_next(&a, x);
    reqid_next(&b, y);
    ok(strcmp(x, y) != 0, "two randomly seeded generators start with different ids");
}

static void test_seeded_is_deterministic(void)
{
    struct reqid a, b;
    reqid_init_seeded(&a, 1, 2);
    reqid_init_seeded(&b, 1, 2);
    char x[REQID_LEN + 1], y[REQID_LEN + 1];
    reqid_next(&a, x);
    reqid_next(&b, y);
    is_str(x, y, "the same seed gives the same sequence");
    is_int(strncmp(x, "0000000000000001", 16), 0, "the prefix half is the seed's prefix");
    reqid_next(&a, y);
    ok(strcmp(x, y) != 0, "consecutive ids differ");
}

static void test_acceptable(void)
{
    static const struct {
        const char *id;
        bool want;
    } cases[] = {
        {"req_abc123", true},
        {"7f3a-00e1", true},
        {"a", true},
        {"", false},
        {"has space", false},
        {"quote\"d", false},
        {"back\\slash", false},
        {"tab\there", false},
        {"caf\xc3\xa9", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(reqid_is_acceptable(cases[i].id), cases[i].want, "client id '%s' acceptable: %d",
               cases[i].id, cases[i].want);
    char longest[REQID_MAX_LEN + 2];
    memset(longest, 'x', sizeof(longest));
    longest[REQID_MAX_LEN] = '\0';
    ok(reqid_is_acceptable(longest), "a client id of exactly %d bytes is kept", REQID_MAX_LEN);
    longest[REQID_MAX_LEN] = 'x';
    longest[REQID_MAX_LEN + 1] = '\0';
    ok(!reqid_is_acceptable(longest), "a client id of %d bytes is replaced", REQID_MAX_LEN + 1);
}

int main(void)
{
    test_shape_and_uniqueness();
    test_generators_differ();
    test_seeded_is_deterministic();
    test_acceptable();
    return done_testing();
}
