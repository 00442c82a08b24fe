/* Configuration: one option table -> a validated, read-only struct config (STYLE.md §9).
 * Layers, highest first: command-line flag > SIGMAPROXY_* environment > JSON file > default.
 * Loaded by main before any thread starts; afterwards only read, through a const pointer. */
#ifndef SIGMAPROXY_CONFIG_CONFIG_H
#define SIGMAPROXY_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"

#define CONFIG_MAX_UPSTREAMS 32

/* What main should do after config_load(). */
enum config_action {
    CONFIG_RUN = 0,
    CONFIG_CHECK,   /* --check-config: the config is valid; print a summary, exit 0 */
    CONFIG_HELP,    /* --help */
    CONFIG_VERSION, /* --version */
};

struct config_upstream {
    char *name;   /* unique; appears in logs and metrics */
    char *url;    /* scheme://host[:port][/base], no trailing '/'; http or https */
    char *prefix; /* request paths starting with this go here; begins with '/' */
};

struct config {
    char *config_file; /* NULL when none */

    char *listen_host; /* proxy port */
    int listen_port;   /* 0 = any free port (tests) */
    char *admin_host;
    int admin_port;
    char *port_file; /* when set, "PROXY_PORT ADMIN_PORT\n" is written there once listening */

    /* Sorted by prefix length, longest first, so the first match is the most specific. */
    struct config_upstream upstreams[CONFIG_MAX_UPSTREAMS];
    size_t n_upstreams;
    bool tls_verify;
    char *ca_file; /* NULL = system store */

    size_t max_body_bytes;
    long connect_timeout_ms;
    long first_byte_timeout_ms;
    long idle_timeout_ms; /* between two upstream chunks once the response started */
    long total_timeout_ms;
    long client_timeout_ms; /* a client connection idle this long is closed */
    long drain_timeout_ms;  /* on SIGTERM, in-flight exchanges get this long to finish */
    int max_connections;
    int threads;               /* event loops; 0 = one per CPU in the affinity mask */
    size_t relay_buffer_bytes; /* per exchange, upstream bytes not yet taken by the client */

    double sample_rate;       /* 0..1: share of exchanges captured for evaluation */
    bool sample_auto;         /* --sample-rate auto: the evaluator sets the rate per window */
    size_t capture_max_bytes; /* response body bytes kept per captured exchange */
    int capture_queue_len;    /* completed captures waiting for the evaluator */

    char *redis_url; /* redis://[:password@]host[:port][/db]; NULL = Redis off */
    char *spool_dir;
    size_t spool_max_bytes;     /* beyond, the oldest spooled items are dropped */
    size_t spool_segment_bytes; /* size of one spool file */
    long spool_fsync_ms;        /* 0 = fsync each append, N = at most every N ms, -1 = never */
    char *triage_stream;        /* Redis stream of flagged items; NULL = sigmaproxy:flagged */
    int triage_maxlen;          /* XADD MAXLEN ~ N; 0 = no trimming */
    int triage_queue_len;       /* flagged items waiting for the triage thread */
    long redis_timeout_ms;      /* triage writer: connect and each command */

    bool access_log;
    enum log_level log_level;

    /* Evaluation side. JSON objects, checked here for shape only; the evaluator validates their
     * contents at start (and for --check-config). Each may be NULL (defaults). */
    json_t *scorers;       /* {"<scorer>": {"enabled": bool, "params": {...}, "routes": {...}}} */
    json_t *sigma;         /* {"p0", "p1", "alpha", "power", "window_s", ...} */
    json_t *sampling;      /* {"routes": {"<upstream>": rate}, "models": {"<model>": rate}, ...} */
    char *alert_webhook;   /* POSTed a JSON line on every state change; NULL = none */
    int evaluator_threads; /* scoring threads */
};

/* Applies defaults, the file named by --config (or SIGMAPROXY_CONFIG), the environment and argv
 * (argv[0] is the program name). On success returns 0, fills *cfg (free with config_fini) and
 * *action. On a bad value returns -1 with one line in err naming the setting, the value and what
 * is allowed (file:line:col for JSON syntax errors; unknown keys suggest the nearest known one);
 * *cfg is then empty. env is a NULL-terminated "NAME=value" array (environ). */
int config_load(struct config *cfg, enum config_action *action, int argc, char **argv, char **env,
                struct err *err);
void config_fini(struct config *cfg);

/* --help text: usage, then every option with its flag, env name, JSON key and default. */
void config_print_help(FILE *out);

/* The effective configuration as JSON-ish lines (secrets in redis_url masked), for
 * --check-config and the start-up log. */
void config_print(const struct config *cfg, FILE *out);

/* Returns the upstream whose prefix matches path (longest prefix), or NULL. */
const struct config_upstream *config_route(const struct config *cfg, const char *path);

#endif
