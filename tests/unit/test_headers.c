/* Header rules both ways: hop-by-hop and x-sigmaproxy-* never cross; the proxy's own framing
 * headers are not copied; Connection-named headers are dropped; secrets are recognised. */
#include <string.h>

#include "proxy/headers.h"
#include "tests/tap.h"

struct fwd_case {
    const char *name;
    enum headers_direction dir;
    const char *connection;
    bool want;
};

static const struct fwd_case fwd_cases[] = {
    {"Authorization", HEADERS_REQUEST, NULL, true},
    {"x-api-key", HEADERS_REQUEST, NULL, true},
    {"Content-Type", HEADERS_REQUEST, NULL, true},
    {"Accept-Encoding", HEADERS_REQUEST, NULL, true},
    {"OpenAI-Organization", HEADERS_REQUEST, NULL, true},
    {"anthropic-version", HEADERS_REQUEST, NULL, true},
    {"x-request-id", HEADERS_REQUEST, NULL, true},
    {"Connection", HEADERS_REQUEST, NULL, false},
    {"Keep-Alive", HEADERS_REQUEST, NULL, false},
    {"Proxy-Connection", HEADERS_REQUEST, NULL, false},
    {"Proxy-Authorization", HEADERS_REQUEST, NULL, false},
    {"TE", HEADERS_REQUEST, NULL, false},
    {"Trailer", HEADERS_REQUEST, NULL, false},
    {"Transfer-Encoding", HEADERS_REQUEST, NULL, false},
    {"Upgrade", HEADERS_REQUEST, NULL, false},
    {"Host", HEADERS_REQUEST, NULL, false},
    {"Content-Length", HEADERS_REQUEST, NULL, false},
    {"Expect", HEADERS_REQUEST, NULL, false},
    {"X-SigmaProxy-Sample", HEADERS_REQUEST, NULL, false},
    {"x-sigmaproxy-anything", HEADERS_REQUEST, NULL, false},
    {"x-sigmaproxy", HEADERS_REQUEST, NULL, true}, /* not the prefix with its dash */
    {"X-Custom-Hop", HEADERS_REQUEST, "close, X-Custom-Hop", false},
    {"X-Custom-Hop", HEADERS_REQUEST, "close", true},
    {"X-Custom", HEADERS_REQUEST, "X-Custom-Hop", true}, /* a token, not a prefix */
    {"Content-Type", HEADERS_RESPONSE, NULL, true},
    {"Content-Encoding", HEADERS_RESPONSE, NULL, true},
    {"Date", HEADERS_RESPONSE, NULL, true},
    {"openai-processing-ms", HEADERS_RESPONSE, NULL, true},
    {"Host", HEADERS_RESPONSE, NULL, true},
    {"Content-Length", HEADERS_RESPONSE, NULL, false},
    {"Transfer-Encoding", HEADERS_RESPONSE, NULL, false},
    {"Connection", HEADERS_RESPONSE, NULL, false},
    {"Keep-Alive", HEADERS_RESPONSE, NULL, false},
    {"x-sigmaproxy-debug", HEADERS_RESPONSE, NULL, false},
    {"X-Upstream-Hop", HEADERS_RESPONSE, "X-Upstream-Hop", false},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(fwd_cases) / sizeof(fwd_cases[0]); i++) {
        const struct fwd_case *c = &fwd_cases[i];
        is_int(headers_should_forward(c->name, strlen(c->name), c->dir, c->connection), c->want,
               "%s %s (Connection: %s) forwarded: %d",
               c->dir == HEADERS_REQUEST ? "request" : "response", c->name,
               c->connection ? c->connection : "-", c->want);
    }
    static const char *const secrets[] = {"Authorization", "x-api-key",  "X-Api-Key",     "api-key",
                                          "Cookie",        "Set-Cookie", "x-goog-api-key"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        ok(headers_is_secret(secrets[i], strlen(secrets[i])), "%s is a secret", secrets[i]);
    ok(!headers_is_secret("Content-Type", 12), "Content-Type is not a secret");
    ok(!headers_is_secret("x-api-keys", 10), "x-api-keys is not x-api-key");
    ok(headers_is_token("x-request-id", 12), "x-request-id is a token");
    ok(!headers_is_token("bad name", 8), "a name with a space is not a token");
    ok(!headers_is_token("", 0), "an empty name is not a token");
    ok(!headers_is_token("a:b", 3), "a name with a colon is not a token");
    return done_testing();
}
