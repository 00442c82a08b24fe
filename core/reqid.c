/* Request id generator: a random 64-bit prefix, then a bijective scramble of a counter, so ids
 * from one generator never repeat and ids from different generators collide with ~2^-64 odds. */
#include "core/reqid.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

/* splitmix64's finaliser: a bijection on 64-bit integers. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void reqid_init_seeded(struct reqid *g, uint64_t prefix, uint64_t key)
{
    g->prefix = prefix;
    g->key = key;
    g->counter = 0;
}

void reqid_init(struct reqid *g)
{
    uint64_t seed[2];
    if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed[0] = mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uintptr_t)g);
        seed[1] = mix(seed[0] ^ (uint64_t)clock());
    }
    reqid_init_seeded(g, seed[0], seed[1]);
}

static void hex64(uint64_t v, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[v & 0xf];
        v >>= 4;
    }
}

void reqid_next(struct reqid *g, char out[REQID_LEN + 1])
{
    uint64_t n = g->counter++;
    hex64(g->prefix, out);
    /* XOR with a key then mix: still a bijection of the counter, but not guessable. */
    hex64(mix(n ^ g->key), out + 16);
    out[REQID_LEN] = '\0';
}

bool reqid_is_acceptable(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > REQID_MAX_LEN) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
    }
    return true;
}
