/* Header filtering rules, table-driven. */
#include "proxy/headers.h"

#include <string.h>
#include <strings.h>

static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static bool name_in(const char *name, size_t len, const char *const *list)
{
    for (; *list; list++) {
        if (name_is(name, len, *list)) return true;
    }
    return false;
}

/* RFC 9110 §7.6.1 and RFC 9112: meaningful for one connection only. */
static const char *const hop_by_hop[] = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    NULL,
};

/* The proxy sets these itself on the upstream request (libcurl writes Host, Content-Length;
 * Expect is suppressed, PITFALLS.md). */
static const char *const request_own[] = {"host", "content-length", "expect", NULL};

/* MHD writes Content-Length from the response size it is given. */
static const char *const response_own[] = {"content-length", NULL};

static const char *const secrets[] = {
    "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
    "cookie",        "set-cookie",          NULL,
};

/* True when name is one of the comma-separated tokens of a Connection header value. */
static bool is_named_by(const char *name, size_t len, const char *connection)
{
    const char *p = connection;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        if (p > start && (size_t)(p - start) == len && strncasecmp(start, name, len) == 0)
            return true;
    }
    return false;
}

bool headers_should_forward(const char *name, size_t len, enum headers_direction dir,
                            const char *connection)
{
    if (len >= 13 && strncasecmp(name, "x-sigmaproxy-", 13) == 0) return false;
    if (name_in(name, len, hop_by_hop)) return false;
    if (name_in(name, len, dir == HEADERS_REQUEST ? request_own : response_own)) return false;
    return !is_named_by(name, len, connection);
}

bool headers_is_secret(const char *name, size_t len)
{
    return name_in(name, len, secrets);
}

bool headers_is_token(const char *name, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (c == '\0' || strchr(extra, c) == NULL)) return false;
    }
    return true;
}
