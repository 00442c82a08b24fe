/* Configuration: the option table below drives the JSON file, the SIGMAPROXY_* environment, the
 * command line, --help and config_print (STYLE.md §9). Main thread, once, before other threads.
 *
 * Naming scheme: each setting has a flat JSON key ("connect_timeout_ms"), a flag that is the key
 * with '-' for '_' ("--connect-timeout-ms"; SPEC.md's shorter --max-body, --redis and --upstream
 * where they differ) and an env name that is SIGMAPROXY_ plus the flag in capitals. JSON keys
 * starting with '_' are comments. Every layer's text goes through the same apply(), so a value is
 * checked the same way wherever it comes from, and the defaults are checked by it too. */
#include "config/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/xalloc.h"

#define LOG_MODULE "config"
#include "core/log.h"

enum opt_type {
    OPT_BOOL = 0,
    OPT_INT,       /* int */
    OPT_MS,        /* long, milliseconds */
    OPT_BYTES,     /* size_t; an integer with an optional k, m or g suffix (x1024) */
    OPT_RATE,      /* double */
    OPT_RATE_AUTO, /* double at off, or "auto": sets the bool at off2 */
    OPT_OBJECT,    /* json_t * holding a JSON object (text: JSON) */
    OPT_PATH,      /* char *; "" unsets it */
    OPT_DIR,       /* char *; must not be empty */
    OPT_FILE,      /* char *; a readable regular file, or "" to unset */
    OPT_ADDR,      /* "HOST:PORT" or "[IPv6]:PORT" into char * at off and int at off2 */
    OPT_REDIS,     /* char *; redis://[[user]:password@]host[:port][/db] */
    OPT_LOG_LEVEL, /* enum log_level */
    OPT_UPSTREAMS, /* text: one URL for every path; JSON: a list of {name, url, prefix} */
    OPT_CONFIG,    /* like OPT_PATH, but applied first: it names the file layer */
    OPT_CHECK,     /* OPT_CHECK, OPT_HELP and OPT_VERSION are flags without a value that set */
    OPT_HELP,      /* the action */
    OPT_VERSION,
};

struct opt {
    const char *key;  /* JSON key; NULL for command-line-only options */
    const char *flag; /* "--listen" */
    const char *env;  /* "SIGMAPROXY_LISTEN"; NULL when none */
    enum opt_type type;
    const char *arg; /* the value's name in --help */
    const char *def; /* the default, as a user would type it; NULL = unset */
    double min, max; /* bounds of numeric types (exact: every bound is below 2^53) */
    size_t off;      /* field in struct config */
    size_t off2;     /* OPT_ADDR only: the port field */
    const char *help;
};

#define F(field) offsetof(struct config, field)
#define KIB      1024.0
#define MIB      (1024.0 * KIB)
#define GIB      (1024.0 * MIB)
#define DAY_MS   86400000.0

static const struct opt opts[] = {
    {NULL, "--config", "SIGMAPROXY_CONFIG", OPT_CONFIG, "FILE", NULL, 0, 0, F(config_file), 0,
     "JSON config file (keys below; keys starting with '_' are comments)"},
    {"listen", "--listen", "SIGMAPROXY_LISTEN", OPT_ADDR, "HOST:PORT", "127.0.0.1:8080", 0, 0,
     F(listen_host), F(listen_port), "proxy listener; port 0 picks a free port"},
    {"admin_listen", "--admin-listen", "SIGMAPROXY_ADMIN_LISTEN", OPT_ADDR, "HOST:PORT",
     "127.0.0.1:9090", 0, 0, F(admin_host), F(admin_port),
     "admin listener (/healthz /metrics /stats ...); port 0 as above"},
    {"port_file", "--port-file", "SIGMAPROXY_PORT_FILE", OPT_PATH, "FILE", NULL, 0, 0, F(port_file),
     0, "once listening, write \"PROXY_PORT ADMIN_PORT\" to FILE"},
    {"upstreams", "--upstream", "SIGMAPROXY_UPSTREAM", OPT_UPSTREAMS, "URL",
     "https://api.openai.com", 0, 0, F(upstreams), 0,
     "upstream API, http(s)://host[:port][/base]; the file takes a list"},
    {"tls_verify", "--tls-verify", "SIGMAPROXY_TLS_VERIFY", OPT_BOOL, "BOOL", "true", 0, 0,
     F(tls_verify), 0, "verify upstream TLS certificates"},
    {"ca_file", "--ca-file", "SIGMAPROXY_CA_FILE", OPT_FILE, "FILE", NULL, 0, 0, F(ca_file), 0,
     "CA bundle for upstream TLS (default: the system store)"},
    {"max_body_bytes", "--max-body", "SIGMAPROXY_MAX_BODY", OPT_BYTES, "BYTES", "16m", 1, GIB,
     F(max_body_bytes), 0, "largest request body accepted; larger ones get 413"},
    {"connect_timeout_ms", "--connect-timeout-ms", "SIGMAPROXY_CONNECT_TIMEOUT_MS", OPT_MS, "MS",
     "5000", 1, DAY_MS, F(connect_timeout_ms), 0, "upstream connect, TLS included"},
    {"first_byte_timeout_ms", "--first-byte-timeout-ms", "SIGMAPROXY_FIRST_BYTE_TIMEOUT_MS", OPT_MS,
     "MS", "600000", 1, DAY_MS, F(first_byte_timeout_ms), 0,
     "request sent to the first response byte"},
    {"idle_timeout_ms", "--idle-timeout-ms", "SIGMAPROXY_IDLE_TIMEOUT_MS", OPT_MS, "MS", "120000",
     1, DAY_MS, F(idle_timeout_ms), 0, "longest pause between two upstream chunks"},
    {"total_timeout_ms", "--total-timeout-ms", "SIGMAPROXY_TOTAL_TIMEOUT_MS", OPT_MS, "MS",
     "900000", 1, DAY_MS, F(total_timeout_ms), 0, "whole exchange, start to last byte"},
    {"client_timeout_ms", "--client-timeout-ms", "SIGMAPROXY_CLIENT_TIMEOUT_MS", OPT_MS, "MS",
     "60000", 1, DAY_MS, F(client_timeout_ms), 0, "an idle client connection is closed"},
    {"drain_timeout_ms", "--drain-timeout-ms", "SIGMAPROXY_DRAIN_TIMEOUT_MS", OPT_MS, "MS", "10000",
     1, DAY_MS, F(drain_timeout_ms), 0, "on SIGTERM, time left to in-flight exchanges"},
    {"max_connections", "--max-connections", "SIGMAPROXY_MAX_CONNECTIONS", OPT_INT, "N", "4096", 1,
     1000000, F(max_connections), 0, "client connections open at once"},
    {"threads", "--threads", "SIGMAPROXY_THREADS", OPT_INT, "N", "0", 0, 256, F(threads), 0,
     "event-loop threads; 0 = one per CPU"},
    {"relay_buffer_bytes", "--relay-buffer-bytes", "SIGMAPROXY_RELAY_BUFFER_BYTES", OPT_BYTES,
     "BYTES", "64k", 4 * KIB, 64 * MIB, F(relay_buffer_bytes), 0,
     "per exchange, upstream bytes held for a slow client"},
    {"sample_rate", "--sample-rate", "SIGMAPROXY_SAMPLE_RATE", OPT_RATE_AUTO, "R", "0", 0, 1,
     F(sample_rate), F(sample_auto),
     "share of exchanges scored, 0..1, or auto (sized per window from sigma.*)"},
    {"capture_max_bytes", "--capture-max-bytes", "SIGMAPROXY_CAPTURE_MAX_BYTES", OPT_BYTES, "BYTES",
     "1m", 1, GIB, F(capture_max_bytes), 0, "response bytes kept per scored exchange"},
    {"capture_queue_len", "--capture-queue-len", "SIGMAPROXY_CAPTURE_QUEUE_LEN", OPT_INT, "N",
     "1024", 1, 1000000, F(capture_queue_len), 0,
     "scored exchanges awaiting the evaluator; beyond it, dropped"},
    {"redis_url", "--redis", "SIGMAPROXY_REDIS", OPT_REDIS, "URL", "redis://127.0.0.1:6379", 0, 0,
     F(redis_url), 0,
     "alerts and triage queue, redis://[[user]:password@]host[:port][/db]; \"\" = none"},
    {"spool_dir", "--spool-dir", "SIGMAPROXY_SPOOL_DIR", OPT_DIR, "DIR",
     "/var/lib/sigmaproxy/spool", 0, 0, F(spool_dir), 0,
     "flagged items are kept here while Redis is away"},
    {"spool_max_bytes", "--spool-max-bytes", "SIGMAPROXY_SPOOL_MAX_BYTES", OPT_BYTES, "BYTES",
     "256m", 64 * KIB, 1024 * GIB, F(spool_max_bytes), 0,
     "spool size cap; beyond it the oldest items are dropped (counted)"},
    {"spool_segment_bytes", "--spool-segment-bytes", "SIGMAPROXY_SPOOL_SEGMENT_BYTES", OPT_BYTES,
     "BYTES", "4m", 4 * KIB, GIB, F(spool_segment_bytes), 0,
     "size of one spool file; deleted once Redis has all its items"},
    {"spool_fsync_ms", "--spool-fsync-ms", "SIGMAPROXY_SPOOL_FSYNC_MS", OPT_MS, "MS", "1000", -1,
     DAY_MS, F(spool_fsync_ms), 0,
     "fsync of spool appends: 0 = each, N = at most every N ms, -1 = never"},
    {"triage_stream", "--triage-stream", "SIGMAPROXY_TRIAGE_STREAM", OPT_PATH, "NAME",
     "sigmaproxy:flagged", 0, 0, F(triage_stream), 0, "Redis stream of flagged items"},
    {"triage_maxlen", "--triage-maxlen", "SIGMAPROXY_TRIAGE_MAXLEN", OPT_INT, "N", "100000", 0,
     1000000000, F(triage_maxlen), 0, "XADD MAXLEN ~ N on the triage stream; 0 = no trimming"},
    {"triage_queue_len", "--triage-queue-len", "SIGMAPROXY_TRIAGE_QUEUE_LEN", OPT_INT, "N", "1024",
     1, 1000000, F(triage_queue_len), 0,
     "flagged items waiting for the triage writer; when full, scoring waits"},
    {"redis_timeout_ms", "--redis-timeout-ms", "SIGMAPROXY_REDIS_TIMEOUT_MS", OPT_MS, "MS", "1000",
     1, 60000, F(redis_timeout_ms), 0, "triage writer: Redis connect and command timeout"},
    {"access_log", "--access-log", "SIGMAPROXY_ACCESS_LOG", OPT_BOOL, "BOOL", "false", 0, 0,
     F(access_log), 0, "log one line per request"},
    {"log_level", "--log-level", "SIGMAPROXY_LOG_LEVEL", OPT_LOG_LEVEL, "LEVEL", "info", 0, 0,
     F(log_level), 0, "error, warn, info or debug"},
    {"scorers", "--scorers", "SIGMAPROXY_SCORERS", OPT_OBJECT, "JSON", NULL, 0, 0, F(scorers), 0,
     "per scorer {\"enabled\", \"params\", \"routes\"}; all built-ins on by default"},
    {"sigma", "--sigma", "SIGMAPROXY_SIGMA", OPT_OBJECT, "JSON", NULL, 0, 0, F(sigma), 0,
     "Six-Sigma tracking: p0, p1, alpha, power, window_s, ... (README)"},
    {"sampling", "--sampling", "SIGMAPROXY_SAMPLING", OPT_OBJECT, "JSON", NULL, 0, 0, F(sampling),
     0, "per-route and per-model rates: {\"routes\": {...}, \"models\": {...}}"},
    {"alert_webhook", "--alert-webhook", "SIGMAPROXY_ALERT_WEBHOOK", OPT_PATH, "URL", NULL, 0, 0,
     F(alert_webhook), 0, "POST each control-state change here as JSON"},
    {"evaluator_threads", "--evaluator-threads", "SIGMAPROXY_EVALUATOR_THREADS", OPT_INT, "N", "1",
     1, 64, F(evaluator_threads), 0, "scoring threads (off the hot path)"},
    {NULL, "--check-config", NULL, OPT_CHECK, NULL, NULL, 0, 0, 0, 0,
     "check the configuration, print it and exit"},
    {NULL, "--help", NULL, OPT_HELP, NULL, NULL, 0, 0, 0, 0, "print this help and exit"},
    {NULL, "--version", NULL, OPT_VERSION, NULL, NULL, 0, 0, 0, 0, "print the version and exit"},
};

#define N_OPTS        (sizeof(opts) / sizeof(opts[0]))
#define ENV_PREFIX    "SIGMAPROXY_"
#define QUOTE_BYTES   160
#define WHERE_BYTES   320
#define MAX_HOST      253
#define MAX_NAME      64
#define MAX_PREFIX    1024
#define DEFAULT_ROUTE "default"

/* One value from the command line or the environment, applied after the file. */
struct setting {
    const struct opt *opt;
    const char *value; /* borrowed from argv or env */
    const char *where; /* the flag or env name, for errors */
};

/* ---- Small helpers ---- */

static void *field(struct config *cfg, size_t off)
{
    return (char *)cfg + off;
}

static void set_str(char **slot, const char *s)
{
    free(*slot);
    *slot = s ? xstrdup(s) : NULL;
}

static bool has_control_or_space(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) return true;
    }
    return false;
}

/* Writes s double-quoted, escaped and shortened into out, so an error stays one short line. */
static const char *quote(char out[QUOTE_BYTES], const char *s)
{
    size_t o = 0;
    out[o++] = '"';
    for (; *s != '\0' && o < QUOTE_BYTES - 10; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, QUOTE_BYTES - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (*s != '\0') {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* A name the user typed (a key, a flag), as is when it is short and printable, else quoted. */
static const char *printable(char out[QUOTE_BYTES], const char *s)
{
    if (strlen(s) < QUOTE_BYTES / 2 && !has_control_or_space(s)) return s;
    return quote(out, s);
}

/* Returns a new copy of url with the password, or a user-less token, replaced by "***". */
static char *mask_userinfo(const char *url)
{
    const char *sep = strstr(url, "://");
    if (sep == NULL) return xstrdup(url);
    const char *user = sep + 3;
    const char *at = strrchr(user, '@');
    if (at == NULL) return xstrdup(url);
    const char *colon = memchr(user, ':', (size_t)(at - user));
    size_t head = (size_t)((colon ? colon + 1 : user) - url);
    char *out = xmalloc(head + 3 + strlen(at) + 1);
    memcpy(out, url, head);
    memcpy(out + head, "***", 3);
    strcpy(out + head + 3, at);
    return out;
}

/* quote(), masking credentials for the options whose values are URLs. */
static const char *quote_value(char out[QUOTE_BYTES], const struct opt *o, const char *s)
{
    if (o->type != OPT_REDIS && o->type != OPT_UPSTREAMS) return quote(out, s);
    char *masked = mask_userinfo(s);
    quote(out, masked);
    free(masked);
    return out;
}

/* ---- "Did you mean": optimal string alignment distance (a swap of two letters costs 1) ---- */

struct nearest {
    const char *best;
    size_t dist;
};

static size_t edit_distance(const char *a, const char *b)
{
    enum { MAX = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAX || lb >= MAX) return SIZE_MAX;
    size_t d[MAX][MAX];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* Considers candidate cand for word, both compared without their first skip bytes (a common
 * "--" or "SIGMAPROXY_"); keeps it when it is the closest so far and close enough to be a typo. */
static void nearest_try(struct nearest *n, const char *word, const char *cand, size_t skip)
{
    if (cand == NULL || strlen(word) < skip || strlen(cand) < skip) return;
    size_t len = strlen(cand + skip);
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    size_t d = edit_distance(word + skip, cand + skip);
    if (d <= limit && (n->best == NULL || d < n->dist)) {
        n->best = cand;
        n->dist = d;
    }
}

/* ---- Parsers for each kind of value; each returns NULL or what is allowed ---- */

/* Splits len bytes of "host", "host:port", "[v6]" or "[v6]:port". Returns NULL and fills *host (a
 * new string, without brackets) and *port (-1 when absent, LONG_MAX when not a number), or says
 * what is wrong with the host. */
static const char *split_host_port(const char *s, size_t len, char **host, long *port)
{
    const char *h = s, *end = s + len, *colon = NULL;
    size_t hlen;
    if (len > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (rb == NULL) return "an IPv6 address needs its closing ']'";
        h = s + 1;
        hlen = (size_t)(rb - h);
        char v6[INET6_ADDRSTRLEN];
        struct in6_addr addr;
        if (hlen == 0 || hlen >= sizeof(v6)) return "the host in brackets must be an IPv6 address";
        memcpy(v6, h, hlen);
        v6[hlen] = '\0';
        if (inet_pton(AF_INET6, v6, &addr) != 1)
            return "the host in brackets must be an IPv6 address";
        if (rb + 1 < end) {
            if (rb[1] != ':') return "expected ':' after ']'";
            colon = rb + 1;
        }
    } else {
        colon = memrchr(s, ':', len);
        hlen = colon ? (size_t)(colon - s) : len;
        if (hlen == 0) return "the host must not be empty";
        if (memchr(s, ':', hlen) != NULL) return "an IPv6 host goes in brackets, as [::1]:8080";
        if (hlen > MAX_HOST) return "the host is too long";
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!isalnum(c) && c != '-' && c != '.' && c != '_')
                return "the host may hold only letters, digits, '-', '.' and '_'";
        }
    }
    *port = -1;
    if (colon != NULL) {
        const char *p = colon + 1;
        size_t plen = (size_t)(end - p);
        *port = plen == 0 || plen > 5 ? LONG_MAX : 0;
        for (size_t i = 0; i < plen && *port != LONG_MAX; i++)
            *port = isdigit((unsigned char)p[i]) ? *port * 10 + (p[i] - '0') : LONG_MAX;
    }
    *host = xstrndup(h, hlen);
    return NULL;
}

static const char *parse_addr(const char *s, char **host, int *port)
{
    long p;
    const char *why = split_host_port(s, strlen(s), host, &p);
    if (why != NULL) return why;
    if (p < 0 || p > 65535) {
        free(*host);
        *host = NULL;
        return p == -1 ? "expected HOST:PORT or [IPv6]:PORT" : "port must be 0..65535";
    }
    *port = (int)p;
    return NULL;
}

/* Checks host[:port] of a URL: a host is required, a port is optional and never 0. */
static const char *check_url_host(const char *s, size_t len)
{
    if (len == 0) return "a host is required";
    char *host;
    long port;
    const char *why = split_host_port(s, len, &host, &port);
    if (why != NULL) return why;
    free(host);
    if (port != -1 && (port < 1 || port > 65535)) return "port must be 1..65535";
    return NULL;
}

/* An upstream URL: http(s)://host[:port][/base], stored without trailing '/'. */
static const char *parse_url(const char *s, char **out)
{
    size_t skip;
    if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return "must start with http:// or https://";
    if (has_control_or_space(s)) return "must not contain spaces or control characters";
    if (strpbrk(s, "?#") != NULL) return "must not have a query or a fragment";
    const char *auth = s + skip;
    size_t alen = strcspn(auth, "/");
    if (memchr(auth, '@', alen) != NULL)
        return "must not hold credentials (clients send their own keys)";
    const char *why = check_url_host(auth, alen);
    if (why != NULL) return why;
    size_t len = strlen(s);
    while (len > skip + alen && s[len - 1] == '/')
        len--;
    *out = xstrndup(s, len);
    return NULL;
}

static const char *check_redis_url(const char *s)
{
    if (strncmp(s, "redis://", 8) != 0)
        return "must look like redis://[[user]:password@]host[:port][/db]";
    if (has_control_or_space(s)) return "must not contain spaces or control characters";
    const char *p = s + 8;
    const char *at = strrchr(p, '@');
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL || colon + 1 == at)
            return "credentials must be [user]:password@ with a non-empty password";
        p = at + 1;
    }
    size_t hlen = strcspn(p, "/");
    const char *why = check_url_host(p, hlen);
    if (why != NULL) return why;
    if (p[hlen] == '/') {
        const char *db = p + hlen + 1;
        size_t n = strlen(db);
        if (n == 0 || n > 2 || !isdigit((unsigned char)db[0]) ||
            (n == 2 && !isdigit((unsigned char)db[1])) || atoi(db) > 15)
            return "db must be 0..15";
    }
    return NULL;
}

static const char *check_route_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_NAME) return "must be 1..64 characters";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return "may hold only letters, digits, '_', '.' and '-'";
    }
    return NULL;
}

static const char *check_prefix(const char *s)
{
    if (s[0] != '/') return "must start with '/'";
    if (strlen(s) > MAX_PREFIX) return "is too long";
    if (has_control_or_space(s) || strpbrk(s, "?#") != NULL)
        return "must not contain spaces, control characters, '?' or '#'";
    return NULL;
}

/* A decimal integer; sizes may end in k, m or g (x1024). Out of range values saturate, so the
 * caller's bounds check refuses them. Returns 0, or -1 when s is not such a number. */
static int parse_integer(const char *s, bool suffix, long long *out)
{
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1]))) return -1;
    char *end;
    long long n = strtoll(s, &end, 10); /* saturates on overflow */
    if (suffix && *end != '\0') {
        const char *units = "kmg";
        const char *u = strchr(units, tolower((unsigned char)*end));
        if (u == NULL) return -1;
        long long mult = 1LL << (10 * (u - units + 1));
        if (n > LLONG_MAX / mult)
            n = LLONG_MAX;
        else if (n < LLONG_MIN / mult)
            n = LLONG_MIN;
        else
            n *= mult;
        end++;
    }
    if (*end != '\0') return -1;
    *out = n;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *out = false;
        return 0;
    }
    return -1;
}

/* ---- Upstreams ---- */

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        break;
    }
    return "null";
}

static void upstream_fini(struct config_upstream *up)
{
    free(up->name);
    free(up->url);
    free(up->prefix);
    memset(up, 0, sizeof(*up));
}

/* Takes ownership of the n entries of ups: replaces cfg's list, longest prefix first. */
static void upstreams_set(struct config *cfg, struct config_upstream *ups, size_t n)
{
    for (size_t i = 0; i < cfg->n_upstreams; i++)
        upstream_fini(&cfg->upstreams[i]);
    /* Insertion sort: stable, so equal lengths keep the order they were written in. */
    for (size_t i = 0; i < n; i++) {
        struct config_upstream up = ups[i];
        size_t j = i;
        for (; j > 0 && strlen(cfg->upstreams[j - 1].prefix) < strlen(up.prefix); j--)
            cfg->upstreams[j] = cfg->upstreams[j - 1];
        cfg->upstreams[j] = up;
    }
    cfg->n_upstreams = n;
    memset(ups, 0, n * sizeof(*ups));
}

/* Fills *up from one {name, url, prefix} object; at is "FILE:upstreams[i]". On failure up may be
 * partly filled: the caller finishes it. */
static int upstream_from_json(struct config_upstream *up, json_t *obj, const char *at,
                              struct err *err)
{
    static const char *const keys[] = {"name", "url", "prefix"};
    char q[QUOTE_BYTES];
    if (!json_is_object(obj)) {
        err_set(err, "%s: expected an object {\"name\", \"url\", \"prefix\"}, got %s", at,
                json_type_name(obj));
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (key[0] == '_') continue;
        size_t k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0)
            k++;
        if (k == 3) {
            struct nearest n = {0};
            for (k = 0; k < 3; k++)
                nearest_try(&n, key, keys[k], 0);
            if (n.best != NULL)
                err_set(err, "%s.%s: unknown key (did you mean \"%s\"?)", at, printable(q, key),
                        n.best);
            else
                err_set(err, "%s.%s: unknown key; an upstream has \"name\", \"url\", \"prefix\"",
                        at, printable(q, key));
            return -1;
        }
        if (!json_is_string(v)) {
            err_set(err, "%s.%s: expected a string, got %s", at, key, json_type_name(v));
            return -1;
        }
        const char *s = json_string_value(v);
        const char *why;
        if (k == 0) {
            why = check_route_name(s);
            if (why == NULL) set_str(&up->name, s);
        } else if (k == 1) {
            free(up->url);
            up->url = NULL;
            why = parse_url(s, &up->url);
        } else {
            why = check_prefix(s);
            if (why == NULL) set_str(&up->prefix, s);
        }
        if (why != NULL) {
            char *masked = k == 1 ? mask_userinfo(s) : xstrdup(s);
            err_set(err, "%s.%s: %s: %s", at, key, quote(q, masked), why);
            free(masked);
            return -1;
        }
    }
    if (up->name == NULL || up->url == NULL) {
        err_set(err,
                "%s: missing \"%s\" (an upstream has \"name\", \"url\" and optional \"prefix\")",
                at, up->name == NULL ? "name" : "url");
        return -1;
    }
    if (up->prefix == NULL) up->prefix = xstrdup("/");
    return 0;
}

/* where is "FILE:upstreams". */
static int upstreams_from_json(struct config *cfg, json_t *arr, const char *where, struct err *err)
{
    struct config_upstream ups[CONFIG_MAX_UPSTREAMS] = {{0}};
    char at[WHERE_BYTES + 24]; /* where plus "[index]" */
    char q[QUOTE_BYTES];
    size_t n = 0;
    int rc = -1;
    if (!json_is_array(arr)) {
        err_set(err, "%s: expected an array of {\"name\", \"url\", \"prefix\"} objects, got %s",
                where, json_type_name(arr));
        goto out;
    }
    if (json_array_size(arr) == 0 || json_array_size(arr) > CONFIG_MAX_UPSTREAMS) {
        err_set(err, "%s: %zu upstreams: must be 1..%d", where, json_array_size(arr),
                CONFIG_MAX_UPSTREAMS);
        goto out;
    }
    for (n = 0; n < json_array_size(arr); n++) {
        snprintf(at, sizeof(at), "%s[%zu]", where, n);
        if (upstream_from_json(&ups[n], json_array_get(arr, n), at, err) < 0) goto out;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(ups[i].name, ups[n].name) == 0) {
                err_set(err, "%s.name: %s: upstream names must be unique", at,
                        quote(q, ups[n].name));
                goto out;
            }
            if (strcmp(ups[i].prefix, ups[n].prefix) == 0) {
                err_set(err, "%s.prefix: %s: upstream prefixes must be unique", at,
                        quote(q, ups[n].prefix));
                goto out;
            }
        }
    }
    upstreams_set(cfg, ups, n);
    rc = 0;
out:
    for (size_t i = 0; i < CONFIG_MAX_UPSTREAMS; i++)
        upstream_fini(&ups[i]);
    return rc;
}

/* ---- Applying one value ---- */

/* Checks text as a value of o and stores it in cfg; where names its origin for the error. */
static int apply(struct config *cfg, const struct opt *o, const char *text, const char *where,
                 struct err *err)
{
    void *p = field(cfg, o->off);
    const char *why = NULL;
    char q[QUOTE_BYTES];
    switch (o->type) {
    case OPT_BOOL:
        if (parse_bool(text, p) < 0) why = "must be true or false";
        break;
    case OPT_INT:
    case OPT_MS:
    case OPT_BYTES: {
        long long n;
        if (parse_integer(text, o->type == OPT_BYTES, &n) < 0 || (double)n < o->min ||
            (double)n > o->max) {
            err_set(err, "%s: %s: must be an integer in %.0f..%.0f%s", where, quote(q, text),
                    o->min, o->max,
                    o->type == OPT_BYTES ? " bytes, with an optional k, m or g suffix (x1024)"
                                         : "");
            return -1;
        }
        if (o->type == OPT_INT)
            *(int *)p = (int)n;
        else if (o->type == OPT_MS)
            *(long *)p = (long)n;
        else
            *(size_t *)p = (size_t)n;
        break;
    }
    case OPT_RATE: {
        char *end = NULL;
        bool is_num = isdigit((unsigned char)text[0]) || text[0] == '.' || text[0] == '-';
        double d = is_num ? strtod(text, &end) : 0;
        /* Written this way round, NaN fails the bounds too. */
        if (!is_num || *end != '\0' || !(d >= o->min && d <= o->max)) {
            err_set(err, "%s: %s: must be a number in %g..%g", where, quote(q, text), o->min,
                    o->max);
            return -1;
        }
        *(double *)p = d;
        break;
    }
    case OPT_RATE_AUTO: {
        if (strcmp(text, "auto") == 0) {
            *(bool *)field(cfg, o->off2) = true;
            break;
        }
        char *end = NULL;
        bool is_num = isdigit((unsigned char)text[0]) || text[0] == '.' || text[0] == '-';
        double d = is_num ? strtod(text, &end) : 0;
        if (!is_num || *end != '\0' || !(d >= o->min && d <= o->max)) {
            err_set(err, "%s: %s: must be a number in %g..%g, or auto", where, quote(q, text),
                    o->min, o->max);
            return -1;
        }
        *(double *)p = d;
        *(bool *)field(cfg, o->off2) = false;
        break;
    }
    case OPT_OBJECT: {
        json_error_t jerr;
        json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (v == NULL) {
            err_set(err, "%s: not JSON: %d:%d: %s", where, jerr.line, jerr.column, jerr.text);
            return -1;
        }
        if (!json_is_object(v)) {
            json_decref(v);
            why = "must be a JSON object";
            break;
        }
        json_decref(*(json_t **)p);
        *(json_t **)p = v;
        break;
    }
    case OPT_CONFIG:
    case OPT_PATH:
        set_str(p, text[0] != '\0' ? text : NULL);
        break;
    case OPT_DIR:
        if (text[0] == '\0')
            why = "must be a directory path";
        else
            set_str(p, text);
        break;
    case OPT_FILE: {
        struct stat st;
        if (text[0] == '\0') {
            set_str(p, NULL);
        } else if (stat(text, &st) < 0 || access(text, R_OK) < 0) {
            err_set(err, "%s: %s: cannot read: %s", where, quote(q, text), strerror(errno));
            return -1;
        } else if (!S_ISREG(st.st_mode)) {
            why = "must be a regular file";
        } else {
            set_str(p, text);
        }
        break;
    }
    case OPT_ADDR: {
        char *host = NULL;
        int port;
        why = parse_addr(text, &host, &port);
        if (why == NULL) {
            free(*(char **)p);
            *(char **)p = host;
            *(int *)field(cfg, o->off2) = port;
        }
        break;
    }
    case OPT_REDIS:
        /* "" turns Redis off: no alerts published, nothing written there. */
        why = text[0] ? check_redis_url(text) : NULL;
        if (why == NULL) set_str(p, text[0] ? text : NULL);
        break;
    case OPT_LOG_LEVEL:
        if (log_level_parse(text, p) < 0) why = "must be error, warn, info or debug";
        break;
    case OPT_UPSTREAMS: {
        struct config_upstream up = {0};
        why = parse_url(text, &up.url);
        if (why == NULL) {
            up.name = xstrdup(DEFAULT_ROUTE);
            up.prefix = xstrdup("/");
            upstreams_set(cfg, &up, 1);
        }
        break;
    }
    case OPT_CHECK:
    case OPT_HELP:
    case OPT_VERSION:
        assert(false && "actions carry no value");
        break;
    }
    if (why != NULL) {
        err_set(err, "%s: %s: %s", where, quote_value(q, o, text), why);
        return -1;
    }
    return 0;
}

/* Checks the JSON type of a file value, then applies its text like any other layer's. */
static int apply_json(struct config *cfg, const struct opt *o, json_t *v, const char *file,
                      struct err *err)
{
    char where[WHERE_BYTES];
    char text[64];
    const char *s = NULL;
    const char *want = "a string";
    snprintf(where, sizeof(where), "%s:%s", file, o->key);
    switch (o->type) {
    case OPT_UPSTREAMS:
        return upstreams_from_json(cfg, v, where, err);
    case OPT_OBJECT:
        if (!json_is_object(v)) {
            err_set(err, "%s: expected an object, got %s", where, json_type_name(v));
            return -1;
        }
        json_decref(*(json_t **)field(cfg, o->off));
        *(json_t **)field(cfg, o->off) = json_deep_copy(v);
        return 0;
    case OPT_RATE_AUTO:
        want = "a number or \"auto\"";
        if (json_is_number(v)) {
            snprintf(text, sizeof(text), "%.17g", json_number_value(v));
            s = text;
        } else if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) {
            s = "auto";
        }
        break;
    case OPT_BOOL:
        want = "true or false";
        if (json_is_boolean(v)) s = json_is_true(v) ? "true" : "false";
        break;
    case OPT_INT:
    case OPT_MS:
        want = "an integer";
        if (json_is_integer(v)) {
            snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            s = text;
        }
        break;
    case OPT_BYTES:
        want = "an integer or a string such as \"16m\"";
        if (json_is_integer(v)) {
            snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            s = text;
        } else if (json_is_string(v)) {
            s = json_string_value(v);
        }
        break;
    case OPT_RATE:
        want = "a number";
        if (json_is_number(v)) {
            snprintf(text, sizeof(text), "%.17g", json_number_value(v));
            s = text;
        }
        break;
    default:
        if (json_is_string(v)) s = json_string_value(v);
        break;
    }
    if (s == NULL) {
        err_set(err, "%s: expected %s, got %s", where, want, json_type_name(v));
        return -1;
    }
    return apply(cfg, o, s, where, err);
}

/* ---- The layers ---- */

static int load_file(struct config *cfg, const char *where, struct err *err)
{
    const char *path = cfg->config_file;
    char q[QUOTE_BYTES];
    json_t *root = NULL;
    int rc = -1;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        err_set(err, "%s: %s: cannot open: %s", where, quote(q, path), strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        err_set(err, "%s: %s: is a directory, not a JSON file", where, quote(q, path));
        goto out;
    }
    json_error_t jerr;
    root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        err_set(err, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        err_set(err, "%s: expected a JSON object at the top level, got %s", path,
                json_type_name(root));
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (key[0] == '_') continue;
        const struct opt *o = NULL;
        struct nearest n = {0};
        for (size_t i = 0; i < N_OPTS && o == NULL; i++) {
            if (opts[i].key != NULL && strcmp(opts[i].key, key) == 0) o = &opts[i];
            nearest_try(&n, key, opts[i].key, 0);
        }
        if (o == NULL) {
            if (n.best != NULL)
                err_set(err, "%s:%s: unknown key (did you mean \"%s\"?)", path, printable(q, key),
                        n.best);
            else
                err_set(err, "%s:%s: unknown key; see --help for the keys", path,
                        printable(q, key));
            goto out;
        }
        if (apply_json(cfg, o, v, path, err) < 0) goto out;
    }
    rc = 0;
out:
    json_decref(root);
    if (f != NULL) fclose(f);
    return rc;
}

static const struct opt *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0) return &opts[i];
    }
    return NULL;
}

static bool is_action(const struct opt *o)
{
    return o->type == OPT_CHECK || o->type == OPT_HELP || o->type == OPT_VERSION;
}

/* Collects argv's settings into set[] (in order, so the last of a repeated flag wins) and the
 * action. Values are checked later, by apply(). */
static int scan_argv(int argc, char **argv, struct setting *set, size_t *n_set,
                     enum config_action *action, struct err *err)
{
    char q[QUOTE_BYTES];
    for (int i = 1; i < argc; i++) {
        const char *a = strcmp(argv[i], "-h") == 0 ? "--help" : argv[i];
        if (a[0] != '-') {
            err_set(err, "%s: unexpected argument; options start with -- (see --help)",
                    quote(q, a));
            return -1;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct opt *o = find_flag(a, len);
        if (o == NULL) {
            char *name = xstrndup(a, len);
            struct nearest n = {0};
            /* Compare without the dashes, so that "-listen" finds "--listen". */
            size_t dashes = strspn(name, "-");
            for (size_t k = 0; k < N_OPTS; k++)
                nearest_try(&n, name + dashes, opts[k].flag + 2, 0);
            if (n.best != NULL)
                err_set(err, "%s: unknown option (did you mean --%s?)", printable(q, name), n.best);
            else
                err_set(err, "%s: unknown option; see --help", printable(q, name));
            free(name);
            return -1;
        }
        if (is_action(o)) {
            if (eq != NULL) {
                err_set(err, "%s: takes no value", o->flag);
                return -1;
            }
            /* --help beats --version beats --check-config, wherever they are. */
            if (o->type == OPT_HELP)
                *action = CONFIG_HELP;
            else if (o->type == OPT_VERSION && *action != CONFIG_HELP)
                *action = CONFIG_VERSION;
            else if (o->type == OPT_CHECK && *action == CONFIG_RUN)
                *action = CONFIG_CHECK;
            continue;
        }
        const char *v;
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (eq != NULL) {
            v = eq + 1;
        } else if (o->type == OPT_BOOL) {
            /* A bare boolean flag means true; a following word that is no option is its value. */
            v = next != NULL && next[0] != '-' ? argv[++i] : "true";
        } else if (next != NULL && strncmp(next, "--", 2) != 0 && strcmp(next, "-h") != 0) {
            v = argv[++i];
        } else {
            err_set(err, "%s: missing value (expected %s %s)", o->flag, o->flag, o->arg);
            return -1;
        }
        set[(*n_set)++] = (struct setting){o, v, o->flag};
    }
    return 0;
}

static void scan_env(char **env, struct setting *set, size_t *n_set)
{
    char q[QUOTE_BYTES];
    const size_t plen = strlen(ENV_PREFIX);
    for (char **e = env; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, ENV_PREFIX, plen) != 0 || eq == NULL) continue;
        size_t len = (size_t)(eq - *e);
        const struct opt *o = NULL;
        for (size_t i = 0; i < N_OPTS && o == NULL; i++) {
            if (opts[i].env != NULL && strlen(opts[i].env) == len &&
                strncmp(opts[i].env, *e, len) == 0)
                o = &opts[i];
        }
        if (o == NULL) {
            /* Other programs use the prefix too (the test harness's SIGMAPROXY_BIN): an unknown
             * name is ignored, with a warning when it looks like a misspelt option. */
            char *name = xstrndup(*e, len);
            struct nearest n = {0};
            for (size_t i = 0; i < N_OPTS; i++)
                nearest_try(&n, name, opts[i].env, plen);
            if (n.best != NULL)
                log_warn("%s: unknown environment variable ignored (did you mean %s?)",
                         printable(q, name), n.best);
            free(name);
            continue;
        }
        set[(*n_set)++] = (struct setting){o, eq + 1, o->env};
    }
}

static int cross_check(const struct config *cfg, struct err *err)
{
    if (cfg->listen_port != 0 && cfg->listen_port == cfg->admin_port &&
        strcmp(cfg->listen_host, cfg->admin_host) == 0) {
        err_set(err, "listen and admin_listen: both are %s:%d; they must differ (or use port 0)",
                cfg->listen_host, cfg->listen_port);
        return -1;
    }
    return 0;
}

int config_load(struct config *cfg, enum config_action *action, int argc, char **argv, char **env,
                struct err *err)
{
    int rc = -1;
    size_t n_env = 0, n_flags = 0, env_cap = 0;
    memset(cfg, 0, sizeof(*cfg));
    *action = CONFIG_RUN;
    for (char **e = env; e != NULL && *e != NULL; e++)
        env_cap++;
    struct setting *flags = xcalloc((size_t)argc, sizeof(*flags));
    struct setting *envs = xcalloc(env_cap, sizeof(*envs));

    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].def == NULL) continue;
        int def_rc = apply(cfg, &opts[i], opts[i].def, "default", err);
        assert(def_rc == 0);
        (void)def_rc;
    }
    if (scan_argv(argc, argv, flags, &n_flags, action, err) < 0) goto out;
    /* --help and --version work whatever the environment and the file hold. */
    if (*action == CONFIG_HELP || *action == CONFIG_VERSION) {
        rc = 0;
        goto out;
    }
    scan_env(env, envs, &n_env);

    /* Lowest layer first, so that each one overrides the last. The file's name comes first. */
    const char *config_where = NULL;
    for (size_t i = 0; i < n_env + n_flags; i++) {
        const struct setting *s = i < n_env ? &envs[i] : &flags[i - n_env];
        if (s->opt->type != OPT_CONFIG) continue;
        if (apply(cfg, s->opt, s->value, s->where, err) < 0) goto out;
        config_where = s->where;
    }
    if (cfg->config_file != NULL && load_file(cfg, config_where, err) < 0) goto out;
    for (size_t i = 0; i < n_env + n_flags; i++) {
        const struct setting *s = i < n_env ? &envs[i] : &flags[i - n_env];
        if (s->opt->type == OPT_CONFIG) continue;
        if (apply(cfg, s->opt, s->value, s->where, err) < 0) goto out;
    }
    if (cross_check(cfg, err) < 0) goto out;
    rc = 0;
out:
    free(flags);
    free(envs);
    if (rc < 0) config_fini(cfg);
    return rc;
}

void config_fini(struct config *cfg)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        if (o->type == OPT_CONFIG || o->type == OPT_PATH || o->type == OPT_DIR ||
            o->type == OPT_FILE || o->type == OPT_ADDR || o->type == OPT_REDIS)
            free(*(char **)field(cfg, o->off));
        else if (o->type == OPT_OBJECT)
            json_decref(*(json_t **)field(cfg, o->off));
    }
    for (size_t i = 0; i < cfg->n_upstreams; i++)
        upstream_fini(&cfg->upstreams[i]);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- Output ---- */

void config_print_help(FILE *out)
{
    fputs("Usage: sigmaproxy [--config FILE] [--listen HOST:PORT] [--admin-listen HOST:PORT]\n"
          "                  [--upstream URL] [--sample-rate R] [--redis URL] [--spool-dir DIR]\n"
          "                  [--max-body BYTES] [--check-config] [--version] [--help]\n"
          "       sigmaproxy triage list|show|claim|label|export|stats ...\n"
          "\n"
          "Precedence: command-line flag > SIGMAPROXY_* environment > JSON file (--config) > "
          "default.\n"
          "Flags take \"--flag VALUE\" or \"--flag=VALUE\"; a bare boolean flag means true.\n"
          "BOOL is true or false (or 1, 0). BYTES is an integer with an optional k, m or g "
          "suffix (x1024).\n"
          "In the JSON file, keys starting with '_' are comments (see "
          "config/sigmaproxy.example.json).\n"
          "\nOptions:\n",
          out);
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        char head[64];
        snprintf(head, sizeof(head), "%s%s%s%s", o->type == OPT_HELP ? "-h, " : "", o->flag,
                 o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-30s %s\n", head, o->help);
        if (is_action(o)) continue;
        fputs("      ", out);
        if (o->env != NULL) fprintf(out, "env %s", o->env);
        if (o->key != NULL) fprintf(out, ", json \"%s\"", o->key);
        if (o->type == OPT_UPSTREAMS) fputs(" (a list)", out);
        fprintf(out, ", default %s\n", o->def ? o->def : "none");
    }
}

/* jansson refuses strings that are not UTF-8; argv and env may hold such bytes. */
static json_t *str_json(const char *s)
{
    json_t *v = json_string(s);
    return v ? v : json_string("(not valid UTF-8)");
}

static json_t *addr_json(const char *host, int port)
{
    char s[MAX_HOST + 16];
    bool v6 = strchr(host, ':') != NULL;
    snprintf(s, sizeof(s), "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
    return str_json(s);
}

/* The value of one option in cfg as JSON, or NULL when unset. */
static json_t *opt_json(const struct config *cfg, const struct opt *o)
{
    const void *p = (const char *)cfg + o->off;
    switch (o->type) {
    case OPT_BOOL:
        return json_boolean(*(const bool *)p);
    case OPT_INT:
        return json_integer(*(const int *)p);
    case OPT_MS:
        return json_integer(*(const long *)p);
    case OPT_BYTES:
        return json_integer((json_int_t) * (const size_t *)p);
    case OPT_RATE:
        return json_real(*(const double *)p);
    case OPT_RATE_AUTO:
        if (*(const bool *)((const char *)cfg + o->off2)) return json_string("auto");
        return json_real(*(const double *)p);
    case OPT_OBJECT:
        return *(json_t *const *)p ? json_deep_copy(*(json_t *const *)p) : NULL;
    case OPT_PATH:
    case OPT_DIR:
    case OPT_FILE:
    case OPT_CONFIG:
        return *(char *const *)p ? str_json(*(char *const *)p) : NULL;
    case OPT_ADDR:
        return addr_json(*(char *const *)p, *(const int *)((const char *)cfg + o->off2));
    case OPT_REDIS: {
        if (*(char *const *)p == NULL) return json_string("");
        char *masked = mask_userinfo(*(char *const *)p);
        json_t *v = str_json(masked);
        free(masked);
        return v;
    }
    case OPT_LOG_LEVEL:
        return json_string(log_level_name(*(const enum log_level *)p));
    case OPT_UPSTREAMS: {
        json_t *arr = json_array();
        for (size_t i = 0; i < cfg->n_upstreams; i++) {
            const struct config_upstream *up = &cfg->upstreams[i];
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", up->name, "url",
                                                 up->url, "prefix", up->prefix));
        }
        return arr;
    }
    case OPT_CHECK:
    case OPT_HELP:
    case OPT_VERSION:
        break;
    }
    return NULL;
}

void config_print(const struct config *cfg, FILE *out)
{
    /* The output is itself a valid config file (but for the masked password). */
    json_t *root = json_object();
    if (cfg->config_file != NULL)
        json_object_set_new(root, "_config_file", str_json(cfg->config_file));
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].key != NULL) {
            json_t *v = opt_json(cfg, &opts[i]);
            if (v != NULL) json_object_set_new(root, opts[i].key, v);
        }
    }
    json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(root);
}

const struct config_upstream *config_route(const struct config *cfg, const char *path)
{
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        const char *prefix = cfg->upstreams[i].prefix;
        if (strncmp(path, prefix, strlen(prefix)) == 0) return &cfg->upstreams[i];
    }
    return NULL;
}
