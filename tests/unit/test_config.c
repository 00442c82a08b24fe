/* Unit tests for config/config.c: defaults, the three layers and their precedence, every kind of
 * bad value with its exact message, JSON files (tests/fixtures/config/), routing, --help and
 * config_print. Run from the repository root (make unit does). */
#include "config/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/tap.h"

#define FIX      "tests/fixtures/config/"
#define EXAMPLE  "config/sigmaproxy.example.json"
#define MAX_ARGS 8
#define MAX_ENV  4
#define SHOW     512

/* Runs config_load on args (after the program name) and env, each a NULL-terminated list. */
static int load(struct config *cfg, enum config_action *action, const char *const *args,
                const char *const *env, struct err *err)
{
    char *argv[MAX_ARGS + 2] = {(char *)"sigmaproxy"};
    char *envp[MAX_ENV + 1] = {0};
    int argc = 1;
    for (size_t i = 0; i < MAX_ARGS && args[i] != NULL; i++)
        argv[argc++] = (char *)args[i];
    for (size_t i = 0; i < MAX_ENV && env[i] != NULL; i++)
        envp[i] = (char *)env[i];
    err->msg[0] = '\0';
    return config_load(cfg, action, argc, argv, envp, err);
}

static bool is_empty(const struct config *cfg)
{
    static const struct config zero;
    return memcmp(cfg, &zero, sizeof(zero)) == 0;
}

/* ---- One value of the loaded config, as text ---- */

typedef void show_fn(const struct config *cfg, char *out);

#define SHOW_NUM(name, expr)                                                                       \
    static void show_##name(const struct config *c, char *out)                                     \
    {                                                                                              \
        snprintf(out, SHOW, "%lld", (long long)(expr));                                            \
    }
#define SHOW_STR(name, expr)                                                                       \
    static void show_##name(const struct config *c, char *out)                                     \
    {                                                                                              \
        snprintf(out, SHOW, "%s", (expr) ? (expr) : "(null)");                                     \
    }
#define SHOW_BOOL(name, expr)                                                                      \
    static void show_##name(const struct config *c, char *out)                                     \
    {                                                                                              \
        snprintf(out, SHOW, "%s", (expr) ? "true" : "false");                                      \
    }

SHOW_NUM(max_body, c->max_body_bytes)
SHOW_NUM(connect, c->connect_timeout_ms)
SHOW_NUM(first_byte, c->first_byte_timeout_ms)
SHOW_NUM(idle, c->idle_timeout_ms)
SHOW_NUM(total, c->total_timeout_ms)
SHOW_NUM(client, c->client_timeout_ms)
SHOW_NUM(drain, c->drain_timeout_ms)
SHOW_NUM(max_connections, c->max_connections)
SHOW_NUM(threads, c->threads)
SHOW_NUM(relay, c->relay_buffer_bytes)
SHOW_NUM(capture_max, c->capture_max_bytes)
SHOW_NUM(capture_queue, c->capture_queue_len)
SHOW_STR(config_file, c->config_file)
SHOW_STR(port_file, c->port_file)
SHOW_STR(ca_file, c->ca_file)
SHOW_STR(redis, c->redis_url)
SHOW_STR(spool, c->spool_dir)
SHOW_STR(log_level, log_level_name(c->log_level))
SHOW_BOOL(tls_verify, c->tls_verify)
SHOW_BOOL(access_log, c->access_log)

static void show_listen(const struct config *c, char *out)
{
    snprintf(out, SHOW, "%s %d", c->listen_host, c->listen_port);
}

static void show_admin(const struct config *c, char *out)
{
    snprintf(out, SHOW, "%s %d", c->admin_host, c->admin_port);
}

static void show_sample_rate(const struct config *c, char *out)
{
    snprintf(out, SHOW, c->sample_auto ? "auto" : "%g", c->sample_rate);
}

static void show_sigma(const struct config *c, char *out)
{
    char *text = c->sigma ? json_dumps(c->sigma, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    snprintf(out, SHOW, "%s", text ? text : "(null)");
    free(text);
}

/* "name url prefix", one per upstream, separated by "; ", in the stored order. */
static void show_upstreams(const struct config *c, char *out)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->n_upstreams && len < SHOW; i++) {
        const struct config_upstream *up = &c->upstreams[i];
        len += (size_t)snprintf(out + len, SHOW - len, "%s%s %s %s", i ? "; " : "", up->name,
                                up->url, up->prefix);
    }
}

/* ---- Loads that succeed: defaults, layers, precedence, value forms ---- */

static const struct good_case {
    const char *name;
    const char *args[MAX_ARGS];
    const char *env[MAX_ENV];
    show_fn *show;
    const char *want;
} good_cases[] = {
    {"default listen is 127.0.0.1:8080", {0}, {0}, show_listen, "127.0.0.1 8080"},
    {"an unknown SIGMAPROXY_* variable (another tool's) is ignored",
     {0},
     {"SIGMAPROXY_BIN=/usr/bin/sigmaproxy"},
     show_listen,
     "127.0.0.1 8080"},
    {"a misspelt SIGMAPROXY_* variable is ignored (with a warning)",
     {0},
     {"SIGMAPROXY_LISTN=127.0.0.1:1"},
     show_listen,
     "127.0.0.1 8080"},
    {"default admin_listen is 127.0.0.1:9090", {0}, {0}, show_admin, "127.0.0.1 9090"},
    {"default port_file is unset", {0}, {0}, show_port_file, "(null)"},
    {"default upstream is api.openai.com for every path",
     {0},
     {0},
     show_upstreams,
     "default https://api.openai.com /"},
    {"default tls_verify is true", {0}, {0}, show_tls_verify, "true"},
    {"default ca_file is unset", {0}, {0}, show_ca_file, "(null)"},
    {"default max_body_bytes is 16 MiB", {0}, {0}, show_max_body, "16777216"},
    {"default connect_timeout_ms is 5000", {0}, {0}, show_connect, "5000"},
    {"default first_byte_timeout_ms is 600000", {0}, {0}, show_first_byte, "600000"},
    {"default idle_timeout_ms is 120000", {0}, {0}, show_idle, "120000"},
    {"default total_timeout_ms is 900000", {0}, {0}, show_total, "900000"},
    {"default client_timeout_ms is 60000", {0}, {0}, show_client, "60000"},
    {"default drain_timeout_ms is 10000", {0}, {0}, show_drain, "10000"},
    {"default max_connections is 4096", {0}, {0}, show_max_connections, "4096"},
    {"default threads is 0 (auto)", {0}, {0}, show_threads, "0"},
    {"default relay_buffer_bytes is 65536", {0}, {0}, show_relay, "65536"},
    {"default sample_rate is 0", {0}, {0}, show_sample_rate, "0"},
    {"sample_rate auto", {"--sample-rate", "auto"}, {0}, show_sample_rate, "auto"},
    {"a number after auto turns auto off",
     {"--sample-rate", "0.25"},
     {"SIGMAPROXY_SAMPLE_RATE=auto"},
     show_sample_rate,
     "0.25"},
    {"default sigma is unset", {0}, {0}, show_sigma, "(null)"},
    {"--sigma takes a JSON object",
     {"--sigma", "{\"p1\": 0.5, \"p0\": 0.25}"},
     {0},
     show_sigma,
     "{\"p0\":0.25,\"p1\":0.5}"},
    {"default capture_max_bytes is 1 MiB", {0}, {0}, show_capture_max, "1048576"},
    {"default capture_queue_len is 1024", {0}, {0}, show_capture_queue, "1024"},
    {"default redis_url is redis://127.0.0.1:6379", {0}, {0}, show_redis, "redis://127.0.0.1:6379"},
    {"default spool_dir", {0}, {0}, show_spool, "/var/lib/sigmaproxy/spool"},
    {"default access_log is false", {0}, {0}, show_access_log, "false"},
    {"default log_level is info", {0}, {0}, show_log_level, "info"},
    {"default config_file is unset", {0}, {0}, show_config_file, "(null)"},

    /* The file layer. */
    {"--config FILE: the file sets listen",
     {"--config", FIX "layers.json"},
     {0},
     show_listen,
     "127.0.0.1 1111"},
    {"SIGMAPROXY_CONFIG names the file",
     {0},
     {"SIGMAPROXY_CONFIG=" FIX "layers.json"},
     show_listen,
     "127.0.0.1 1111"},
    {"--config beats SIGMAPROXY_CONFIG",
     {"--config", FIX "layers.json"},
     {"SIGMAPROXY_CONFIG=" FIX "bad_syntax.json"},
     show_config_file,
     FIX "layers.json"},
    {"file: [IPv6]:PORT is stored without brackets",
     {"--config", FIX "layers.json"},
     {0},
     show_admin,
     "::1 1112"},
    {"file: upstream url loses its trailing '/'",
     {"--config", FIX "layers.json"},
     {0},
     show_upstreams,
     "file http://file.example:8000/base /"},
    {"file: keys it leaves out keep their default",
     {"--config", FIX "layers.json"},
     {0},
     show_drain,
     "10000"},
    {"file: a JSON integer for bytes", {"--config", FIX "layers.json"}, {0}, show_max_body, "2048"},

    /* env beats file. */
    {"env beats file: listen",
     {"--config", FIX "layers.json"},
     {"SIGMAPROXY_LISTEN=127.0.0.1:2222"},
     show_listen,
     "127.0.0.1 2222"},
    {"env beats file: sample_rate",
     {"--config", FIX "layers.json"},
     {"SIGMAPROXY_SAMPLE_RATE=0.5"},
     show_sample_rate,
     "0.5"},
    {"env beats file: SIGMAPROXY_UPSTREAM replaces the list with one 'default' at '/'",
     {"--config", FIX "layers.json"},
     {"SIGMAPROXY_UPSTREAM=https://env.example"},
     show_upstreams,
     "default https://env.example /"},
    {"env beats file: log_level",
     {"--config", FIX "layers.json"},
     {"SIGMAPROXY_LOG_LEVEL=debug"},
     show_log_level,
     "debug"},
    {"env beats file: max_body with a suffix",
     {"--config", FIX "layers.json"},
     {"SIGMAPROXY_MAX_BODY=4k"},
     show_max_body,
     "4096"},
    {"env beats file: access_log",
     {"--config", FIX "layers.json"},
     {"SIGMAPROXY_ACCESS_LOG=false"},
     show_access_log,
     "false"},
    {"env beats file: spool_dir",
     {"--config", FIX "layers.json"},
     {"SIGMAPROXY_SPOOL_DIR=/tmp/env-spool"},
     show_spool,
     "/tmp/env-spool"},
    {"env beats default: connect_timeout_ms",
     {0},
     {"SIGMAPROXY_CONNECT_TIMEOUT_MS=250"},
     show_connect,
     "250"},
    {"other environment variables are ignored",
     {0},
     {"HOME=/root", "SIGMAPROXYX=1", "PATH=/bin"},
     show_listen,
     "127.0.0.1 8080"},

    /* flag beats env beats file. */
    {"flag beats env and file: listen",
     {"--config", FIX "layers.json", "--listen", "127.0.0.1:3333"},
     {"SIGMAPROXY_LISTEN=127.0.0.1:2222"},
     show_listen,
     "127.0.0.1 3333"},
    {"flag beats env and file: sample_rate",
     {"--config", FIX "layers.json", "--sample-rate", "1"},
     {"SIGMAPROXY_SAMPLE_RATE=0.5"},
     show_sample_rate,
     "1"},
    {"flag beats env and file: upstream",
     {"--config", FIX "layers.json", "--upstream", "http://flag.example:81/"},
     {"SIGMAPROXY_UPSTREAM=https://env.example"},
     show_upstreams,
     "default http://flag.example:81 /"},
    {"flag beats env and file: log_level",
     {"--config", FIX "layers.json", "--log-level", "error"},
     {"SIGMAPROXY_LOG_LEVEL=debug"},
     show_log_level,
     "error"},
    {"flag beats env and file: threads (--flag=value)",
     {"--config", FIX "layers.json", "--threads=8"},
     {"SIGMAPROXY_THREADS=4"},
     show_threads,
     "8"},
    {"flag beats env and file: redis",
     {"--config", FIX "layers.json", "--redis", "redis://flag-redis"},
     {"SIGMAPROXY_REDIS=redis://env-redis"},
     show_redis,
     "redis://flag-redis"},
    {"flag beats env and file: max_body",
     {"--config", FIX "layers.json", "--max-body", "1m"},
     {"SIGMAPROXY_MAX_BODY=4k"},
     show_max_body,
     "1048576"},
    {"flag beats env: bare --access-log is true",
     {"--access-log"},
     {"SIGMAPROXY_ACCESS_LOG=false"},
     show_access_log,
     "true"},

    /* Flag forms. */
    {"--flag=value form", {"--listen=0.0.0.0:0"}, {0}, show_listen, "0.0.0.0 0"},
    {"--flag=value keeps later '=' in the value",
     {"--spool-dir=/tmp/a=b"},
     {0},
     show_spool,
     "/tmp/a=b"},
    {"a repeated flag: the last one wins",
     {"--threads", "1", "--threads", "3"},
     {0},
     show_threads,
     "3"},
    {"bare boolean flag followed by another flag: the bool is true",
     {"--access-log", "--threads", "5"},
     {0},
     show_access_log,
     "true"},
    {"bare boolean flag followed by another flag: that flag still applies",
     {"--access-log", "--threads", "5"},
     {0},
     show_threads,
     "5"},
    {"--access-log false", {"--access-log", "false"}, {0}, show_access_log, "false"},
    {"--tls-verify false", {"--tls-verify", "false"}, {0}, show_tls_verify, "false"},
    {"--tls-verify=0", {"--tls-verify=0"}, {0}, show_tls_verify, "false"},
    {"--port-file sets it", {"--port-file", "/tmp/ports"}, {0}, show_port_file, "/tmp/ports"},
    {"--port-file= (empty) unsets what env set",
     {"--port-file="},
     {"SIGMAPROXY_PORT_FILE=/tmp/ports"},
     show_port_file,
     "(null)"},
    {"--ca-file takes a readable file", {"--ca-file", EXAMPLE}, {0}, show_ca_file, EXAMPLE},

    /* Values at their bounds and in every accepted form. */
    {"bytes: plain integer", {"--max-body", "512"}, {0}, show_max_body, "512"},
    {"bytes: k suffix", {"--max-body", "1k"}, {0}, show_max_body, "1024"},
    {"bytes: M suffix (any case)", {"--max-body", "2M"}, {0}, show_max_body, "2097152"},
    {"bytes: 1g is the max_body ceiling", {"--max-body", "1g"}, {0}, show_max_body, "1073741824"},
    {"bytes: relay buffer minimum 4k", {"--relay-buffer-bytes", "4k"}, {0}, show_relay, "4096"},
    {"bytes: capture_max_bytes 1", {"--capture-max-bytes", "1"}, {0}, show_capture_max, "1"},
    {"ms: --connect-timeout-ms 1", {"--connect-timeout-ms", "1"}, {0}, show_connect, "1"},
    {"ms: --first-byte-timeout-ms", {"--first-byte-timeout-ms", "2"}, {0}, show_first_byte, "2"},
    {"ms: --idle-timeout-ms", {"--idle-timeout-ms", "3"}, {0}, show_idle, "3"},
    {"ms: --total-timeout-ms", {"--total-timeout-ms", "4"}, {0}, show_total, "4"},
    {"ms: --client-timeout-ms", {"--client-timeout-ms", "5"}, {0}, show_client, "5"},
    {"ms: --drain-timeout-ms one day",
     {"--drain-timeout-ms", "86400000"},
     {0},
     show_drain,
     "86400000"},
    {"int: max_connections 1000000",
     {"--max-connections", "1000000"},
     {0},
     show_max_connections,
     "1000000"},
    {"int: threads 256", {"--threads", "256"}, {0}, show_threads, "256"},
    {"int: capture_queue_len 1", {"--capture-queue-len", "1"}, {0}, show_capture_queue, "1"},
    {"rate: .5", {"--sample-rate", ".5"}, {0}, show_sample_rate, "0.5"},
    {"rate: 1e-3", {"--sample-rate", "1e-3"}, {0}, show_sample_rate, "0.001"},
    {"rate: 0", {"--sample-rate", "0"}, {0}, show_sample_rate, "0"},
    {"listen: [::1]:0", {"--listen", "[::1]:0"}, {0}, show_listen, "::1 0"},
    {"listen: [2001:db8::1]:8443",
     {"--listen", "[2001:db8::1]:8443"},
     {0},
     show_listen,
     "2001:db8::1 8443"},
    {"listen: hostname and port 65535",
     {"--listen", "localhost:65535"},
     {0},
     show_listen,
     "localhost 65535"},
    {"admin-listen: 0.0.0.0:0", {"--admin-listen", "0.0.0.0:0"}, {0}, show_admin, "0.0.0.0 0"},
    {"listen and admin_listen may share port 0",
     {"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"},
     {0},
     show_admin,
     "127.0.0.1 0"},
    {"upstream: scheme in any case",
     {"--upstream", "HTTP://Example.com"},
     {0},
     show_upstreams,
     "default HTTP://Example.com /"},
    {"upstream: trailing slashes of the base path go",
     {"--upstream", "https://h.example/base///"},
     {0},
     show_upstreams,
     "default https://h.example/base /"},
    {"upstream: [IPv6]:port",
     {"--upstream", "http://[::1]:8080/"},
     {0},
     show_upstreams,
     "default http://[::1]:8080 /"},
    {"upstream: port and base path",
     {"--upstream", "https://h.example:443/v1"},
     {0},
     show_upstreams,
     "default https://h.example:443/v1 /"},
    {"redis: host only", {"--redis", "redis://localhost"}, {0}, show_redis, "redis://localhost"},
    {"redis: an empty URL turns Redis off", {"--redis", ""}, {0}, show_redis, "(null)"},
    {"redis: password, port and db 15",
     {"--redis", "redis://:pw@h:6379/15"},
     {0},
     show_redis,
     "redis://:pw@h:6379/15"},
    {"redis: user and password, db 0",
     {"--redis", "redis://user:pw@h/0"},
     {0},
     show_redis,
     "redis://user:pw@h/0"},
    {"redis: [IPv6]:port",
     {"--redis", "redis://[::1]:6380"},
     {0},
     show_redis,
     "redis://[::1]:6380"},
    {"redis: a password holding '@'",
     {"--redis", "redis://:p@ss@h"},
     {0},
     show_redis,
     "redis://:p@ss@h"},
    {"log level error", {"--log-level", "error"}, {0}, show_log_level, "error"},
    {"log level warn", {"--log-level", "warn"}, {0}, show_log_level, "warn"},
    {"log level debug", {"--log-level", "debug"}, {0}, show_log_level, "debug"},
};

static void test_good(void)
{
    for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
        const struct good_case *c = &good_cases[i];
        struct config cfg;
        enum config_action action;
        struct err err;
        char got[SHOW] = "(load failed)";
        if (load(&cfg, &action, c->args, c->env, &err) == 0) {
            c->show(&cfg, got);
            config_fini(&cfg);
        } else {
            diag("error: %s", err.msg);
        }
        is_str(got, c->want, "%s", c->name);
    }
}

/* ---- Loads that fail, with the exact line the user sees ---- */

static const struct bad_case {
    const char *name;
    const char *args[MAX_ARGS];
    const char *env[MAX_ENV];
    const char *want;
} bad_cases[] = {
    /* Command line: one or more bad values per option. */
    {"listen: port above 65535",
     {"--listen", "127.0.0.1:99999"},
     {0},
     "--listen: \"127.0.0.1:99999\": port must be 0..65535"},
    {"listen: no port",
     {"--listen", "127.0.0.1"},
     {0},
     "--listen: \"127.0.0.1\": expected HOST:PORT or [IPv6]:PORT"},
    {"listen: empty host",
     {"--listen", ":8080"},
     {0},
     "--listen: \":8080\": the host must not be empty"},
    {"listen: port not a number",
     {"--listen", "h:http"},
     {0},
     "--listen: \"h:http\": port must be 0..65535"},
    {"listen: IPv6 without brackets",
     {"--listen", "::1:8080"},
     {0},
     "--listen: \"::1:8080\": an IPv6 host goes in brackets, as [::1]:8080"},
    {"listen: unclosed bracket",
     {"--listen", "[::1:8080"},
     {0},
     "--listen: \"[::1:8080\": an IPv6 address needs its closing ']'"},
    {"listen: not an IPv6 address in brackets",
     {"--listen", "[nothex]:1"},
     {0},
     "--listen: \"[nothex]:1\": the host in brackets must be an IPv6 address"},
    {"listen: space in host",
     {"--listen", "bad host:80"},
     {0},
     "--listen: \"bad host:80\": the host may hold only letters, digits, '-', '.' and '_'"},
    {"admin-listen: negative port",
     {"--admin-listen=127.0.0.1:-1"},
     {0},
     "--admin-listen: \"127.0.0.1:-1\": port must be 0..65535"},
    {"listen and admin_listen on the same address",
     {"--listen", "127.0.0.1:7000", "--admin-listen", "127.0.0.1:7000"},
     {0},
     "listen and admin_listen: both are 127.0.0.1:7000; they must differ (or use port 0)"},
    {"upstream: ftp scheme",
     {"--upstream", "ftp://x"},
     {0},
     "--upstream: \"ftp://x\": must start with http:// or https://"},
    {"upstream: no host",
     {"--upstream", "http://"},
     {0},
     "--upstream: \"http://\": a host is required"},
    {"upstream: port 0",
     {"--upstream", "http://h:0"},
     {0},
     "--upstream: \"http://h:0\": port must be 1..65535"},
    {"upstream: a query",
     {"--upstream", "http://h/?a=1"},
     {0},
     "--upstream: \"http://h/?a=1\": must not have a query or a fragment"},
    {"upstream: a space",
     {"--upstream", "http://h /x"},
     {0},
     "--upstream: \"http://h /x\": must not contain spaces or control characters"},
    {"upstream: credentials refused and masked in the message",
     {0},
     {"SIGMAPROXY_UPSTREAM=https://u:sk-live@h"},
     "SIGMAPROXY_UPSTREAM: \"https://u:***@h\": must not hold credentials (clients send their own "
     "keys)"},
    {"tls-verify: yes is not a boolean here",
     {"--tls-verify", "yes"},
     {0},
     "--tls-verify: \"yes\": must be true or false"},
    {"ca-file: missing file",
     {"--ca-file", "/nonexistent/ca.pem"},
     {0},
     "--ca-file: \"/nonexistent/ca.pem\": cannot read: No such file or directory"},
    {"ca-file: a directory",
     {"--ca-file", "tests"},
     {0},
     "--ca-file: \"tests\": must be a regular file"},
    {"max-body: MB suffix is not accepted",
     {"--max-body", "10MB"},
     {0},
     "--max-body: \"10MB\": must be an integer in 1..1073741824 bytes, with an optional k, m or g "
     "suffix (x1024)"},
    {"max-body: 0",
     {"--max-body", "0"},
     {0},
     "--max-body: \"0\": must be an integer in 1..1073741824 bytes, with an optional k, m or g "
     "suffix (x1024)"},
    {"max-body: 2g is over the ceiling",
     {"--max-body", "2g"},
     {0},
     "--max-body: \"2g\": must be an integer in 1..1073741824 bytes, with an optional k, m or g "
     "suffix (x1024)"},
    {"max-body: overflowing integer",
     {"--max-body", "99999999999999999999"},
     {0},
     "--max-body: \"99999999999999999999\": must be an integer in 1..1073741824 bytes, with an "
     "optional k, m or g suffix (x1024)"},
    {"max-body: overflow through the suffix",
     {"--max-body", "9999999999999999g"},
     {0},
     "--max-body: \"9999999999999999g\": must be an integer in 1..1073741824 bytes, with an "
     "optional k, m or g suffix (x1024)"},
    {"relay-buffer-bytes: below 4096",
     {"--relay-buffer-bytes", "1k"},
     {0},
     "--relay-buffer-bytes: \"1k\": must be an integer in 4096..67108864 bytes, with an optional "
     "k, m or g suffix (x1024)"},
    {"capture-max-bytes: 0",
     {"--capture-max-bytes", "0"},
     {0},
     "--capture-max-bytes: \"0\": must be an integer in 1..1073741824 bytes, with an optional k, "
     "m or g suffix (x1024)"},
    {"connect-timeout-ms: 0",
     {"--connect-timeout-ms", "0"},
     {0},
     "--connect-timeout-ms: \"0\": must be an integer in 1..86400000"},
    {"first-byte-timeout-ms: not a number",
     {"--first-byte-timeout-ms", "abc"},
     {0},
     "--first-byte-timeout-ms: \"abc\": must be an integer in 1..86400000"},
    {"idle-timeout-ms: a fraction",
     {"--idle-timeout-ms", "1.5"},
     {0},
     "--idle-timeout-ms: \"1.5\": must be an integer in 1..86400000"},
    {"total-timeout-ms: over a day",
     {"--total-timeout-ms", "86400001"},
     {0},
     "--total-timeout-ms: \"86400001\": must be an integer in 1..86400000"},
    {"client-timeout-ms: negative",
     {"--client-timeout-ms", "-5"},
     {0},
     "--client-timeout-ms: \"-5\": must be an integer in 1..86400000"},
    {"drain-timeout-ms: empty",
     {"--drain-timeout-ms="},
     {0},
     "--drain-timeout-ms: \"\": must be an integer in 1..86400000"},
    {"ms: a k suffix is for sizes only",
     {"--connect-timeout-ms", "5k"},
     {0},
     "--connect-timeout-ms: \"5k\": must be an integer in 1..86400000"},
    {"max-connections: above 1000000",
     {"--max-connections", "1000001"},
     {0},
     "--max-connections: \"1000001\": must be an integer in 1..1000000"},
    {"threads: 257", {"--threads", "257"}, {0}, "--threads: \"257\": must be an integer in 0..256"},
    {"threads: leading space",
     {"--threads", " 2"},
     {0},
     "--threads: \" 2\": must be an integer in 0..256"},
    {"capture-queue-len: 0",
     {"--capture-queue-len", "0"},
     {0},
     "--capture-queue-len: \"0\": must be an integer in 1..1000000"},
    {"sample-rate: above 1",
     {"--sample-rate", "1.5"},
     {0},
     "--sample-rate: \"1.5\": must be a number in 0..1, or auto"},
    {"sample-rate: negative",
     {"--sample-rate", "-0.1"},
     {0},
     "--sample-rate: \"-0.1\": must be a number in 0..1, or auto"},
    {"sample-rate: nan",
     {"--sample-rate", "nan"},
     {0},
     "--sample-rate: \"nan\": must be a number in 0..1, or auto"},
    {"sample-rate: a word other than auto",
     {"--sample-rate", "automatic"},
     {0},
     "--sample-rate: \"automatic\": must be a number in 0..1, or auto"},
    {"scorers: not JSON",
     {"--scorers", "{pii"},
     {0},
     "--scorers: not JSON: 1:4: string or '}' expected near 'pii'"},
    {"scorers: JSON but not an object",
     {"--scorers", "[1]"},
     {0},
     "--scorers: \"[1]\": must be a JSON object"},
    {"sample-rate: trailing junk",
     {"--sample-rate", "0.5x"},
     {0},
     "--sample-rate: \"0.5x\": must be a number in 0..1, or auto"},
    {"redis: wrong scheme",
     {"--redis", "http://h"},
     {0},
     "--redis: \"http://h\": must look like redis://[[user]:password@]host[:port][/db]"},
    {"redis: no host", {"--redis", "redis://"}, {0}, "--redis: \"redis://\": a host is required"},
    {"redis: port 0",
     {"--redis", "redis://h:0"},
     {0},
     "--redis: \"redis://h:0\": port must be 1..65535"},
    {"redis: db 16",
     {"--redis", "redis://h/16"},
     {0},
     "--redis: \"redis://h/16\": db must be 0..15"},
    {"redis: db not a number",
     {"--redis", "redis://h/abc"},
     {0},
     "--redis: \"redis://h/abc\": db must be 0..15"},
    {"redis: empty db",
     {"--redis", "redis://h/"},
     {0},
     "--redis: \"redis://h/\": db must be 0..15"},
    {"redis: user without password",
     {"--redis", "redis://user@h"},
     {0},
     "--redis: \"redis://***@h\": credentials must be [user]:password@ with a non-empty password"},
    {"redis: empty password",
     {"--redis", "redis://:@h"},
     {0},
     "--redis: \"redis://:***@h\": credentials must be [user]:password@ with a non-empty "
     "password"},
    {"redis: the password is masked in the message",
     {"--redis", "redis://:hunter2@h:99999"},
     {0},
     "--redis: \"redis://:***@h:99999\": port must be 1..65535"},
    {"redis: a user's password is masked, the user kept",
     {0},
     {"SIGMAPROXY_REDIS=redis://bob:hunter2@h/99"},
     "SIGMAPROXY_REDIS: \"redis://bob:***@h/99\": db must be 0..15"},
    {"spool-dir: empty", {"--spool-dir="}, {0}, "--spool-dir: \"\": must be a directory path"},
    {"access-log: maybe",
     {"--access-log=maybe"},
     {0},
     "--access-log: \"maybe\": must be true or false"},
    {"access-log: a following word is taken as its value",
     {"--access-log", "maybe"},
     {0},
     "--access-log: \"maybe\": must be true or false"},
    {"log-level: verbose",
     {"--log-level", "verbose"},
     {0},
     "--log-level: \"verbose\": must be error, warn, info or debug"},
    {"log-level: case matters",
     {"--log-level", "INFO"},
     {0},
     "--log-level: \"INFO\": must be error, warn, info or debug"},
    {"config: missing file",
     {"--config", "/nonexistent.json"},
     {0},
     "--config: \"/nonexistent.json\": cannot open: No such file or directory"},
    {"config: SIGMAPROXY_CONFIG names a missing file",
     {0},
     {"SIGMAPROXY_CONFIG=/nonexistent.json"},
     "SIGMAPROXY_CONFIG: \"/nonexistent.json\": cannot open: No such file or directory"},
    {"config: a directory",
     {"--config", "tests"},
     {0},
     "--config: \"tests\": is a directory, not a JSON file"},
    {"a control character in a value is escaped: one line",
     {"--log-level", "info\nx"},
     {0},
     "--log-level: \"info\\x0ax\": must be error, warn, info or debug"},

    /* Unknown names, missing values, stray arguments. */
    {"unknown flag suggests the nearest",
     {"--listn", "127.0.0.1:1"},
     {0},
     "--listn: unknown option (did you mean --listen?)"},
    {"unknown flag with =value suggests the nearest",
     {"--sample-rat=0.5"},
     {0},
     "--sample-rat: unknown option (did you mean --sample-rate?)"},
    {"single-dash flag suggests the double-dash one",
     {"-listen", "127.0.0.1:1"},
     {0},
     "-listen: unknown option (did you mean --listen?)"},
    {"swapped letters still find the flag",
     {"--thraeds", "2"},
     {0},
     "--thraeds: unknown option (did you mean --threads?)"},
    {"two edits from a 7-letter flag: still suggested",
     {"--thrds", "2"},
     {0},
     "--thrds: unknown option (did you mean --threads?)"},
    {"three edits from a 6-letter flag: no suggestion",
     {"--lsn", "127.0.0.1:1"},
     {0},
     "--lsn: unknown option; see --help"},
    {"unknown flag far from any: no suggestion",
     {"--zzzzzzzz"},
     {0},
     "--zzzzzzzz: unknown option; see --help"},
    {"bad env value names the variable",
     {0},
     {"SIGMAPROXY_SAMPLE_RATE=2"},
     "SIGMAPROXY_SAMPLE_RATE: \"2\": must be a number in 0..1, or auto"},
    {"bad env value is refused even when a flag overrides it",
     {"--listen", "127.0.0.1:1"},
     {"SIGMAPROXY_LISTEN=nope"},
     "SIGMAPROXY_LISTEN: \"nope\": expected HOST:PORT or [IPv6]:PORT"},
    {"missing value at the end",
     {"--listen"},
     {0},
     "--listen: missing value (expected --listen HOST:PORT)"},
    {"missing value before the next flag",
     {"--redis", "--threads", "2"},
     {0},
     "--redis: missing value (expected --redis URL)"},
    {"missing value for --config",
     {"--config"},
     {0},
     "--config: missing value (expected --config FILE)"},
    {"an action takes no value", {"--check-config=yes"}, {0}, "--check-config: takes no value"},
    {"a stray argument",
     {"listen"},
     {0},
     "\"listen\": unexpected argument; options start with -- (see --help)"},

    /* JSON files. */
    {"file: syntax error gives FILE:LINE:COL and jansson's text",
     {"--config", FIX "bad_syntax.json"},
     {0},
     FIX "bad_syntax.json:3:16: string or '}' expected near ','"},
    {"file: empty",
     {"--config", FIX "bad_empty.json"},
     {0},
     FIX "bad_empty.json:1:0: '[' or '{' expected near end of file"},
    {"file: duplicate key",
     {"--config", FIX "bad_duplicate_key.json"},
     {0},
     FIX "bad_duplicate_key.json:1:24: duplicate object key near '\"threads\"'"},
    {"file: top level not an object",
     {"--config", FIX "bad_not_object.json"},
     {0},
     FIX "bad_not_object.json: expected a JSON object at the top level, got an array"},
    {"file: unknown key suggests the nearest",
     {"--config", FIX "bad_unknown_key.json"},
     {0},
     FIX "bad_unknown_key.json:listn: unknown key (did you mean \"listen\"?)"},
    {"file: unknown key far from any",
     {"--config", FIX "bad_unknown_key_far.json"},
     {0},
     FIX "bad_unknown_key_far.json:zzzzqqq: unknown key; see --help for the keys"},
    {"file: string for an integer",
     {"--config", FIX "bad_type_string_for_int.json"},
     {0},
     FIX "bad_type_string_for_int.json:threads: expected an integer, got a string"},
    {"file: real for an integer",
     {"--config", FIX "bad_type_real_for_int.json"},
     {0},
     FIX "bad_type_real_for_int.json:connect_timeout_ms: expected an integer, got a real number"},
    {"file: string for a boolean",
     {"--config", FIX "bad_type_string_for_bool.json"},
     {0},
     FIX "bad_type_string_for_bool.json:tls_verify: expected true or false, got a string"},
    {"file: number for a string",
     {"--config", FIX "bad_type_number_for_string.json"},
     {0},
     FIX "bad_type_number_for_string.json:listen: expected a string, got an integer"},
    {"file: string for a number",
     {"--config", FIX "bad_type_string_for_rate.json"},
     {0},
     FIX "bad_type_string_for_rate.json:sample_rate: expected a number or \"auto\", got a string"},
    {"file: max_connections out of range",
     {"--config", FIX "bad_range_max_connections.json"},
     {0},
     FIX "bad_range_max_connections.json:max_connections: \"0\": must be an integer in "
         "1..1000000"},
    {"file: a bad file value is refused even when a flag overrides it",
     {"--config", FIX "bad_range_max_connections.json", "--max-connections", "5"},
     {0},
     FIX "bad_range_max_connections.json:max_connections: \"0\": must be an integer in "
         "1..1000000"},
    {"file: sample_rate out of range",
     {"--config", FIX "bad_range_sample_rate.json"},
     {0},
     FIX "bad_range_sample_rate.json:sample_rate: \"1.5\": must be a number in 0..1, or auto"},
    {"file: listen port out of range",
     {"--config", FIX "bad_range_listen_port.json"},
     {0},
     FIX "bad_range_listen_port.json:listen: \"127.0.0.1:99999\": port must be 0..65535"},
    {"file: bytes with an MB suffix",
     {"--config", FIX "bad_bytes_suffix.json"},
     {0},
     FIX "bad_bytes_suffix.json:max_body_bytes: \"10MB\": must be an integer in 1..1073741824 "
         "bytes, with an optional k, m or g suffix (x1024)"},
    {"file: redis password masked",
     {"--config", FIX "bad_redis_port.json"},
     {0},
     FIX "bad_redis_port.json:redis_url: \"redis://:***@redis.internal:70000\": port must be "
         "1..65535"},
    {"file: upstreams not an array",
     {"--config", FIX "bad_upstreams_not_array.json"},
     {0},
     FIX "bad_upstreams_not_array.json:upstreams: expected an array of {\"name\", \"url\", "
         "\"prefix\"} objects, got an object"},
    {"file: upstreams empty",
     {"--config", FIX "bad_upstreams_empty.json"},
     {0},
     FIX "bad_upstreams_empty.json:upstreams: 0 upstreams: must be 1..32"},
    {"file: upstream not an object",
     {"--config", FIX "bad_upstream_not_object.json"},
     {0},
     FIX "bad_upstream_not_object.json:upstreams[0]: expected an object {\"name\", \"url\", "
         "\"prefix\"}, got a string"},
    {"file: upstream without url",
     {"--config", FIX "bad_upstream_missing_url.json"},
     {0},
     FIX "bad_upstream_missing_url.json:upstreams[0]: missing \"url\" (an upstream has \"name\", "
         "\"url\" and optional \"prefix\")"},
    {"file: upstream without name",
     {"--config", FIX "bad_upstream_missing_name.json"},
     {0},
     FIX "bad_upstream_missing_name.json:upstreams[0]: missing \"name\" (an upstream has "
         "\"name\", \"url\" and optional \"prefix\")"},
    {"file: upstream unknown key suggests the nearest",
     {"--config", FIX "bad_upstream_unknown_key.json"},
     {0},
     FIX "bad_upstream_unknown_key.json:upstreams[0].prfix: unknown key (did you mean "
         "\"prefix\"?)"},
    {"file: upstream url scheme",
     {"--config", FIX "bad_upstream_url_scheme.json"},
     {0},
     FIX "bad_upstream_url_scheme.json:upstreams[0].url: \"ftp://a.example\": must start with "
         "http:// or https://"},
    {"file: upstream url credentials masked",
     {"--config", FIX "bad_upstream_url_credentials.json"},
     {0},
     FIX "bad_upstream_url_credentials.json:upstreams[0].url: \"https://user:***@a.example\": "
         "must not hold credentials (clients send their own keys)"},
    {"file: upstream prefix without '/'",
     {"--config", FIX "bad_upstream_prefix.json"},
     {0},
     FIX "bad_upstream_prefix.json:upstreams[0].prefix: \"v1\": must start with '/'"},
    {"file: upstream name with a space",
     {"--config", FIX "bad_upstream_name.json"},
     {0},
     FIX "bad_upstream_name.json:upstreams[0].name: \"open ai\": may hold only letters, digits, "
         "'_', '.' and '-'"},
    {"file: upstream name not a string",
     {"--config", FIX "bad_upstream_name_type.json"},
     {0},
     FIX "bad_upstream_name_type.json:upstreams[0].name: expected a string, got an integer"},
    {"file: duplicate upstream name",
     {"--config", FIX "bad_upstream_duplicate_name.json"},
     {0},
     FIX "bad_upstream_duplicate_name.json:upstreams[1].name: \"a\": upstream names must be "
         "unique"},
    {"file: duplicate upstream prefix",
     {"--config", FIX "bad_upstream_duplicate_prefix.json"},
     {0},
     FIX "bad_upstream_duplicate_prefix.json:upstreams[1].prefix: \"/v1\": upstream prefixes "
         "must be unique"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct config cfg;
        enum config_action action;
        struct err err;
        memset(&cfg, 0xa5, sizeof(cfg)); /* config_load must not rely on a zeroed struct */
        int rc = load(&cfg, &action, c->args, c->env, &err);
        if (rc == 0) {
            config_fini(&cfg);
            ok(false, "%s: refused", c->name);
            continue;
        }
        bool empty = is_empty(&cfg);
        if (!empty) diag("config not left empty after a failed load");
        is_str(empty ? err.msg : "(config not empty)", c->want, "%s", c->name);
    }
}

/* ---- Actions ---- */

static const struct action_case {
    const char *name;
    const char *args[MAX_ARGS];
    const char *env[MAX_ENV];
    enum config_action want;
} action_cases[] = {
    {"no action flag: run", {0}, {0}, CONFIG_RUN},
    {"--check-config", {"--check-config"}, {0}, CONFIG_CHECK},
    {"--help", {"--help"}, {0}, CONFIG_HELP},
    {"-h", {"-h"}, {0}, CONFIG_HELP},
    {"--version", {"--version"}, {0}, CONFIG_VERSION},
    {"--help wins over --check-config", {"--check-config", "--help"}, {0}, CONFIG_HELP},
    {"--version wins over --check-config", {"--version", "--check-config"}, {0}, CONFIG_VERSION},
    {"--help ignores a bad environment", {"--help"}, {"SIGMAPROXY_BOGUS=1"}, CONFIG_HELP},
    {"--version ignores a missing config file",
     {"--version"},
     {"SIGMAPROXY_CONFIG=/nonexistent.json"},
     CONFIG_VERSION},
    {"--check-config with settings", {"--check-config", "--threads", "2"}, {0}, CONFIG_CHECK},
};

static void test_actions(void)
{
    for (size_t i = 0; i < sizeof(action_cases) / sizeof(action_cases[0]); i++) {
        const struct action_case *c = &action_cases[i];
        struct config cfg;
        enum config_action action = (enum config_action) - 1;
        struct err err;
        int rc = load(&cfg, &action, c->args, c->env, &err);
        if (rc < 0) diag("error: %s", err.msg);
        is_int(rc == 0 ? (int)action : -1, c->want, "%s", c->name);
        if (rc == 0) config_fini(&cfg);
    }
}

/* ---- Routing ---- */

static const struct route_case {
    const char *file;
    const char *path;
    const char *want; /* upstream name, or NULL */
} route_cases[] = {
    {FIX "routes.json", "/v1/messages", "anthropic"},
    {FIX "routes.json", "/v1/messages/batches", "anthropic"},
    {FIX "routes.json", "/v1/message", "v1"},
    {FIX "routes.json", "/v1/audio/speech", "audio"},
    {FIX "routes.json", "/v1/chat/completions", "chat"},
    {FIX "routes.json", "/v1/chat", "v1"},
    {FIX "routes.json", "/v1/models", "v1"},
    {FIX "routes.json", "/v2/models", "root"},
    {FIX "routes.json", "/", "root"},
    {FIX "routes.json", "", NULL},
    {FIX "no_root.json", "/only/x", "only"},
    {FIX "no_root.json", "/other", NULL},
    {EXAMPLE, "/v1/messages", "anthropic"},
    {EXAMPLE, "/v1/chat/completions", "openai"},
    {EXAMPLE, "/v1/responses", "openai"},
};

static void test_route(void)
{
    for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        const struct route_case *c = &route_cases[i];
        const char *args[] = {"--config", c->file, NULL};
        const char *env[] = {NULL};
        struct config cfg;
        enum config_action action;
        struct err err;
        const char *got = "(load failed)";
        if (load(&cfg, &action, args, env, &err) == 0) {
            const struct config_upstream *up = config_route(&cfg, c->path);
            got = up ? up->name : NULL;
            is_str(got, c->want, "route %s in %s", c->path, c->file);
            config_fini(&cfg);
        } else {
            is_str(got, c->want, "route %s in %s (%s)", c->path, c->file, err.msg);
        }
    }

    const char *args[] = {"--config", FIX "routes.json", NULL};
    const char *env[] = {NULL};
    struct config cfg;
    enum config_action action;
    struct err err;
    char got[SHOW] = "(load failed)";
    if (load(&cfg, &action, args, env, &err) == 0) {
        show_upstreams(&cfg, got);
        config_fini(&cfg);
    }
    is_str(got,
           "anthropic https://api.anthropic.com /v1/messages; chat http://127.0.0.1:9002/openai "
           "/v1/chat/; audio https://[::1]:9003 /v1/audio; v1 http://127.0.0.1:9001 /v1/; "
           "root http://127.0.0.1:9000 /",
           "upstreams sorted longest prefix first, ties in file order, prefix defaults to /");
}

/* ---- Output ---- */

/* Loads args and returns config_print's output (free it), or NULL. */
static char *print_of(const char *const *args)
{
    const char *env[] = {NULL};
    struct config cfg;
    enum config_action action;
    struct err err;
    char *text = NULL;
    size_t len = 0;
    if (load(&cfg, &action, args, env, &err) < 0) {
        diag("error: %s", err.msg);
        return NULL;
    }
    FILE *f = open_memstream(&text, &len);
    config_print(&cfg, f);
    fclose(f);
    config_fini(&cfg);
    return text;
}

/* The printed config as JSON, without the keys that name where it came from. */
static json_t *printed_json(const char *const *args)
{
    char *text = print_of(args);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (j != NULL) json_object_del(j, "_config_file");
    return j;
}

static void test_print(void)
{
    const char *masked[] = {"--redis", "redis://user:hunter2@h:6379/2", NULL};
    char *text = print_of(masked);
    ok(text && strstr(text, "\"redis_url\": \"redis://user:***@h:6379/2\""),
       "config_print masks the redis password");
    ok(text && !strstr(text, "hunter2"), "config_print never shows the redis password");
    free(text);

    /* The example file documents the defaults: only its upstreams differ. */
    const char *none[] = {NULL};
    const char *example[] = {"--config", EXAMPLE, NULL};
    json_t *defaults = printed_json(none);
    json_t *ex = printed_json(example);
    ok(defaults && ex && json_array_size(json_object_get(ex, "upstreams")) == 2,
       "example file loads, with two upstreams");
    if (defaults && ex) {
        json_object_del(defaults, "upstreams");
        json_object_del(ex, "upstreams");
    }
    ok(defaults && ex && json_equal(defaults, ex),
       "example file's values are the defaults, but for upstreams");
    json_decref(defaults);
    json_decref(ex);

    /* config_print's output is itself a config file that loads back to the same config. */
    const char *layered[] = {"--config", FIX "layers.json", "--max-body", "3k", "--ca-file",
                             EXAMPLE,    "--port-file",     "/tmp/p",     NULL};
    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    text = print_of(layered);
    bool written = fd >= 0 && text && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    if (fd >= 0) close(fd);
    const char *reload[] = {"--config", path, NULL};
    json_t *first = printed_json(layered);
    json_t *second = written ? printed_json(reload) : NULL;
    ok(first && second && json_equal(first, second), "config_print output loads back unchanged");
    json_decref(first);
    json_decref(second);
    free(text);
    unlink(path);
}

static const char *const help_lines[] = {
    "Usage: sigmaproxy [--config FILE] [--listen HOST:PORT] [--admin-listen HOST:PORT]\n"
    "                  [--upstream URL] [--sample-rate R] [--redis URL] [--spool-dir DIR]\n"
    "                  [--max-body BYTES] [--check-config] [--version] [--help]\n"
    "       sigmaproxy triage list|show|claim|label|export|stats ...\n",
    "Precedence: command-line flag > SIGMAPROXY_* environment > JSON file (--config) > default.",
    "  --config FILE",
    "env SIGMAPROXY_CONFIG, default none",
    "  --listen HOST:PORT",
    "env SIGMAPROXY_LISTEN, json \"listen\", default 127.0.0.1:8080",
    "env SIGMAPROXY_ADMIN_LISTEN, json \"admin_listen\", default 127.0.0.1:9090",
    "env SIGMAPROXY_PORT_FILE, json \"port_file\", default none",
    "  --upstream URL",
    "env SIGMAPROXY_UPSTREAM, json \"upstreams\" (a list), default https://api.openai.com",
    "env SIGMAPROXY_TLS_VERIFY, json \"tls_verify\", default true",
    "env SIGMAPROXY_CA_FILE, json \"ca_file\", default none",
    "  --max-body BYTES",
    "env SIGMAPROXY_MAX_BODY, json \"max_body_bytes\", default 16m",
    "env SIGMAPROXY_CONNECT_TIMEOUT_MS, json \"connect_timeout_ms\", default 5000",
    "env SIGMAPROXY_FIRST_BYTE_TIMEOUT_MS, json \"first_byte_timeout_ms\", default 600000",
    "env SIGMAPROXY_IDLE_TIMEOUT_MS, json \"idle_timeout_ms\", default 120000",
    "env SIGMAPROXY_TOTAL_TIMEOUT_MS, json \"total_timeout_ms\", default 900000",
    "env SIGMAPROXY_CLIENT_TIMEOUT_MS, json \"client_timeout_ms\", default 60000",
    "env SIGMAPROXY_DRAIN_TIMEOUT_MS, json \"drain_timeout_ms\", default 10000",
    "env SIGMAPROXY_MAX_CONNECTIONS, json \"max_connections\", default 4096",
    "env SIGMAPROXY_THREADS, json \"threads\", default 0",
    "env SIGMAPROXY_RELAY_BUFFER_BYTES, json \"relay_buffer_bytes\", default 64k",
    "  --sample-rate R",
    "env SIGMAPROXY_SAMPLE_RATE, json \"sample_rate\", default 0",
    "env SIGMAPROXY_CAPTURE_MAX_BYTES, json \"capture_max_bytes\", default 1m",
    "env SIGMAPROXY_CAPTURE_QUEUE_LEN, json \"capture_queue_len\", default 1024",
    "  --redis URL",
    "env SIGMAPROXY_REDIS, json \"redis_url\", default redis://127.0.0.1:6379",
    "  --spool-dir DIR",
    "env SIGMAPROXY_SPOOL_DIR, json \"spool_dir\", default /var/lib/sigmaproxy/spool",
    "env SIGMAPROXY_ACCESS_LOG, json \"access_log\", default false",
    "env SIGMAPROXY_LOG_LEVEL, json \"log_level\", default info",
    "  --check-config ",
    "  -h, --help ",
    "  --version ",
};

static void test_help(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(f);
    fclose(f);
    for (size_t i = 0; i < sizeof(help_lines) / sizeof(help_lines[0]); i++) {
        if (!ok(strstr(text, help_lines[i]) != NULL, "--help shows: %.60s", help_lines[i]))
            diag("help was:\n%s", text);
    }
    free(text);
}

/* ---- Lifecycle ---- */

static void test_lifecycle(void)
{
    struct config cfg;
    enum config_action action;
    struct err err;
    char *argv[] = {(char *)"sigmaproxy", NULL};
    is_int(config_load(&cfg, &action, 1, argv, NULL, &err), 0, "a NULL environment is allowed");
    config_fini(&cfg);
    ok(is_empty(&cfg), "config_fini leaves the config empty");
    config_fini(&cfg);
    ok(is_empty(&cfg), "config_fini twice is safe");

    char *bad[] = {(char *)"sigmaproxy", (char *)"--threads", (char *)"x", NULL};
    is_int(config_load(&cfg, &action, 3, bad, NULL, NULL), -1, "a NULL err is allowed");
}

int main(void)
{
    test_good();
    test_bad();
    test_actions();
    test_route();
    test_print();
    test_help();
    test_lifecycle();
    return done_testing();
}
