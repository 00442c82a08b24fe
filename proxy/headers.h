/* Which HTTP headers cross the proxy (SPEC "Proxy port"): hop-by-hop ones (RFC 9110 §7.6.1, plus
 * those the message's Connection header names) and x-sigmaproxy-* never do; on the way up Host,
 * Content-Length and Expect are the proxy's to set. Pure functions; any thread. */
#ifndef SIGMAPROXY_PROXY_HEADERS_H
#define SIGMAPROXY_PROXY_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

enum headers_direction {
    HEADERS_REQUEST = 0, /* client -> upstream */
    HEADERS_RESPONSE,    /* upstream -> client */
};

/* True when the header named name (len bytes, any case) is forwarded in direction dir.
 * connection is the message's Connection header value, or NULL. */
bool headers_should_forward(const char *name, size_t len, enum headers_direction dir,
                            const char *connection);

/* True for headers whose value is a credential: never logged, captured or stored. */
bool headers_is_secret(const char *name, size_t len);

/* True when the name is a syntactically valid field name (RFC 9110 token). */
bool headers_is_token(const char *name, size_t len);

#endif
