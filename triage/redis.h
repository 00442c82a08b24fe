/* Redis for the evaluation side (hiredis 0.14: connect with a timeout, command timeouts, no
 * RESP3, no TLS): URL parsing, a connection helper (the triage writer owns a long-lived one), and
 * a one-shot publish for state-change alerts on `sigmaproxy:alerts`. */
#ifndef SIGMAPROXY_TRIAGE_REDIS_H
#define SIGMAPROXY_TRIAGE_REDIS_H

#include <stdbool.h>

#include "core/err.h"

#define REDIS_ALERT_CHANNEL "sigmaproxy:alerts"

struct redis_url {
    char host[256];
    int port;
    char user[128];     /* empty: default user */
    char password[256]; /* empty: no AUTH */
    int db;
};

/* Parses redis://[[user]:password@]host[:port][/db]. Returns 0, or -1 with err. */
int redis_url_parse(const char *url, struct redis_url *out, struct err *err);

struct redisContext; /* hiredis */

/* Connects with timeout_ms for the connection and for each command, authenticates and selects
 * the db. Blocks for up to a few timeouts. Returns a new context (free with redisFree()), or NULL
 * with err. */
struct redisContext *redis_connect(const struct redis_url *u, int timeout_ms, struct err *err);

/* Connects (timeout_ms for the connection and for each command), authenticates, selects the
 * db, publishes message on channel, disconnects. Blocks for up to a few timeouts: call it off
 * the hot path. Returns the number of subscribers that got it, or -1 with err. */
int redis_publish(const struct redis_url *u, const char *channel, const char *message,
                  int timeout_ms, struct err *err);

#endif
