/* Short-lived Redis connections with hiredis 0.14's API (PITFALLS.md): a context whose err is set
 * is dead and freed; every reply is checked and freed. */
#include "triage/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>

int redis_url_parse(const char *url, struct redis_url *out, struct err *err)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "redis://", 8) != 0) {
        err_set(err, "redis url: expected redis://");
        return -1;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            snprintf(out->user, sizeof(out->user), "%.*s", (int)(colon - p), p);
            snprintf(out->password, sizeof(out->password), "%.*s", (int)(at - colon - 1),
                     colon + 1);
        } else {
            snprintf(out->password, sizeof(out->password), "%.*s", (int)(at - p), p);
        }
        p = at + 1;
    }
    const char *end = p + strcspn(p, ":/");
    if (end == p || (size_t)(end - p) >= sizeof(out->host)) {
        err_set(err, "redis url: missing or too long host");
        return -1;
    }
    snprintf(out->host, sizeof(out->host), "%.*s", (int)(end - p), p);
    if (*end == ':') {
        out->port = atoi(end + 1);
        end += 1 + strspn(end + 1, "0123456789");
    }
    if (*end == '/') out->db = atoi(end + 1);
    if (out->port < 1 || out->port > 65535 || out->db < 0 || out->db > 15) {
        err_set(err, "redis url: port or db out of range");
        return -1;
    }
    return 0;
}

/* Runs one command; returns its reply (caller frees) or NULL with err. */
static redisReply *run(redisContext *c, struct err *err, const char *what, int argc,
                       const char **argv)
{
    redisReply *reply = redisCommandArgv(c, argc, argv, NULL);
    if (reply == NULL) {
        err_set(err, "redis %s: %s", what, c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        err_set(err, "redis %s: %s", what, reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

struct redisContext *redis_connect(const struct redis_url *u, int timeout_ms, struct err *err)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisReply *reply = NULL;
    redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
    if (c == NULL || c->err) {
        err_set(err, "redis connect %s:%d: %s", u->host, u->port,
                c ? c->errstr : "cannot allocate a context");
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        err_set(err, "redis %s:%d: cannot set the command timeout", u->host, u->port);
        goto fail;
    }
    if (u->password[0]) {
        const char *argv[3] = {"AUTH", u->user[0] ? u->user : u->password, u->password};
        reply = run(c, err, "AUTH", u->user[0] ? 3 : 2, argv);
        if (reply == NULL) goto fail;
        freeReplyObject(reply);
    }
    if (u->db != 0) {
        char db[8];
        snprintf(db, sizeof(db), "%d", u->db);
        const char *argv[2] = {"SELECT", db};
        reply = run(c, err, "SELECT", 2, argv);
        if (reply == NULL) goto fail;
        freeReplyObject(reply);
    }
    return c;
fail:
    if (c) redisFree(c);
    return NULL;
}

int redis_publish(const struct redis_url *u, const char *channel, const char *message,
                  int timeout_ms, struct err *err)
{
    int rc = -1;
    redisContext *c = redis_connect(u, timeout_ms, err);
    if (c == NULL) return -1;
    const char *argv[3] = {"PUBLISH", channel, message};
    redisReply *reply = run(c, err, "PUBLISH", 3, argv);
    if (reply == NULL) goto out;
    rc = reply->type == REDIS_REPLY_INTEGER ? (int)reply->integer : 0;
    freeReplyObject(reply);
out:
    redisFree(c);
    return rc;
}
