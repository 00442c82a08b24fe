/* sigmaproxy: load the config, open the listeners, start the threads (triage, event loops,
 * evaluator, admin), then wait for a signal. The shutdown order lives here alone: stop accepting
 * -> let exchanges finish (drain deadline) -> stop the loops -> drain the evaluator -> flush
 * triage to Redis or the spool -> exit 0. */
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config/config.h"
#include "core/exchange.h"
#include "core/queue.h"
#include "core/sampler.h"
#include "core/xalloc.h"
#include "proxy/admin.h"
#include "proxy/evaluator.h"
#include "proxy/loop.h"
#include "triage/cli.h"
#include "triage/triage.h"

#define LOG_MODULE "main"
#include "core/log.h"

#ifndef SIGMAPROXY_VERSION
#define SIGMAPROXY_VERSION "0.1.0"
#endif

#define MAIN_LISTEN_BACKLOG 1024

extern char **environ;

/* Opens a listening TCP socket on host:port. With reuse_port several sockets share the port and
 * the kernel spreads connections over them. Returns the fd (bound port in *bound) or -1. */
static int open_listener(const char *host, int port, bool reuse_port, int *bound, struct err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        err_set(err, "%s:%d: %s", host, port, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, MAIN_LISTEN_BACKLOG) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        err_set(err, "cannot listen on %s:%d: %s", host, port, strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char portbuf[16];
    getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, portbuf, sizeof(portbuf), NI_NUMERICSERV);
    *bound = atoi(portbuf);
    return fd;
}

static int cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int write_port_file(const char *path, int proxy_port, int admin_port, struct err *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        err_set(err, "port file %s: %s", tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "%d %d\n", proxy_port, admin_port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        err_set(err, "port file %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

struct loop_set {
    struct loop **loops;
    size_t n;
};

/* Requests received by every loop so far (the evaluator sizes --sample-rate auto from it). */
static uint64_t count_requests(void *arg)
{
    const struct loop_set *set = arg;
    uint64_t sum = 0;
    for (size_t i = 0; i < set->n; i++)
        sum += atomic_load_explicit(&loop_stats(set->loops[i])->requests, memory_order_relaxed);
    return sum;
}

static int64_t inflight(struct loop *const *loops, size_t n)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += atomic_load_explicit(&loop_stats(loops[i])->inflight, memory_order_relaxed);
    return sum;
}

int main(int argc, char **argv)
{
    /* A person's tool, not the proxy: no config, no threads, no signal mask. */
    if (argc > 1 && strcmp(argv[1], "triage") == 0) return triage_cli_main(argc - 1, argv + 1);

    /* Signals: every thread inherits this mask; only main takes them, in sigwait. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct config cfg;
    enum config_action action;
    struct err err = {{0}};
    if (config_load(&cfg, &action, argc, argv, environ, &err) < 0) {
        fprintf(stderr, "sigmaproxy: %s\n", err.msg);
        fprintf(stderr, "sigmaproxy: see sigmaproxy --help\n");
        return 2;
    }
    switch (action) {
    case CONFIG_HELP:
        config_print_help(stdout);
        config_fini(&cfg);
        return 0;
    case CONFIG_VERSION:
        printf("sigmaproxy %s (libcurl %s)\n", SIGMAPROXY_VERSION,
               curl_version_info(CURLVERSION_NOW)->version);
        config_fini(&cfg);
        return 0;
    case CONFIG_CHECK:
        if (evaluator_check(&cfg, &err) < 0) {
            fprintf(stderr, "sigmaproxy: %s\n", err.msg);
            config_fini(&cfg);
            return 2;
        }
        printf("sigmaproxy: configuration is valid\n");
        config_print(&cfg, stdout);
        config_fini(&cfg);
        return 0;
    case CONFIG_RUN:
        break;
    }
    log_level_current = cfg.log_level;
    /* Per-request buffers come and go at a high rate: keep freed memory instead of giving it back
     * to the kernel (madvise/brk) and taking it again on the next request. */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
    if (cfg.threads == 0) cfg.threads = cpus_available();

    int rc = 1;
    struct loop **loops = xcalloc((size_t)cfg.threads, sizeof(*loops));
    size_t n_loops = 0;
    struct queue *captures = NULL;
    struct sampler *sampler = NULL;
    struct evaluator *evaluator = NULL;
    struct triage *triage = NULL;
    struct admin *admin = NULL;
    atomic_bool ready;
    atomic_init(&ready, false);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("curl_global_init failed");
        goto out;
    }
    const char *routes[CONFIG_MAX_UPSTREAMS];
    for (size_t i = 0; i < cfg.n_upstreams; i++)
        routes[i] = cfg.upstreams[i].name;
    sampler = sampler_new(cfg.sample_auto ? 0.0 : cfg.sample_rate, cfg.sampling, routes,
                          cfg.n_upstreams, &err);
    if (sampler == NULL) goto fail;
    captures = queue_new((size_t)cfg.capture_queue_len);
    /* First started, last stopped: the evaluator submits to it until its own stop. */
    struct triage_config tc = {.redis_url = cfg.redis_url,
                               .stream = cfg.triage_stream,
                               .maxlen = cfg.triage_maxlen,
                               .queue_len = cfg.triage_queue_len,
                               .timeout_ms = (int)cfg.redis_timeout_ms,
                               .spool = {.dir = cfg.spool_dir,
                                         .segment_bytes = cfg.spool_segment_bytes,
                                         .max_bytes = cfg.spool_max_bytes,
                                         .fsync_ms = cfg.spool_fsync_ms}};
    triage = triage_start(&tc, &err);
    if (triage == NULL) goto fail;

    int port = cfg.listen_port;
    for (int i = 0; i < cfg.threads; i++) {
        int fd = open_listener(cfg.listen_host, port, true, &port, &err);
        if (fd < 0) goto fail;
        loops[i] = loop_new(&cfg, i, fd, captures, sampler, &err);
        if (loops[i] == NULL) goto fail;
        n_loops++;
    }
    /* After the loops exist (it reads their counters), before they start (they feed it). */
    struct loop_set loop_set = {loops, n_loops};
    evaluator = evaluator_start(&cfg, captures, sampler, triage, count_requests, &loop_set, &err);
    if (evaluator == NULL) goto fail;
    int admin_port = 0;
    int admin_fd = open_listener(cfg.admin_host, cfg.admin_port, false, &admin_port, &err);
    if (admin_fd < 0) goto fail;
    struct admin_view view = {.cfg = &cfg,
                              .loops = loops,
                              .n_loops = n_loops,
                              .captures = captures,
                              .evaluator = evaluator,
                              .triage = triage,
                              .sampler = sampler,
                              .ready = &ready};
    admin = admin_start(&view, admin_fd, &err);
    if (admin == NULL) goto fail;
    for (size_t i = 0; i < n_loops; i++) {
        if (loop_start(loops[i], &err) < 0) goto fail;
    }
    if (cfg.port_file && write_port_file(cfg.port_file, port, admin_port, &err) < 0) goto fail;
    atomic_store(&ready, true);
    log_info("sigmaproxy %s listening on http://%s:%d with %d event loop%s; admin on "
             "http://%s:%d (/healthz /readyz /stats /metrics)",
             SIGMAPROXY_VERSION, cfg.listen_host, port, cfg.threads, cfg.threads == 1 ? "" : "s",
             cfg.admin_host, admin_port);
    for (size_t i = 0; i < cfg.n_upstreams; i++)
        log_info("route %s -> upstream %s (%s)", cfg.upstreams[i].prefix, cfg.upstreams[i].name,
                 cfg.upstreams[i].url);
    log_info("point SDKs here: OPENAI_BASE_URL=http://%s:%d/v1 ANTHROPIC_BASE_URL=http://%s:%d",
             cfg.listen_host, port, cfg.listen_host, port);

    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("%s: draining (up to %ld ms), no new connections", strsignal(sig),
             cfg.drain_timeout_ms);
    atomic_store(&ready, false);
    for (size_t i = 0; i < n_loops; i++)
        loop_quiesce(loops[i]);
    int64_t deadline = exchange_now_us() + cfg.drain_timeout_ms * 1000;
    while (inflight(loops, n_loops) > 0 && exchange_now_us() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int64_t left = inflight(loops, n_loops);
    if (left > 0)
        log_warn("drain deadline passed with %lld exchange%s in flight: closing them",
                 (long long)left, left == 1 ? "" : "s");
    rc = 0;
    goto out;

fail:
    log_error("%s", err.msg);
    rc = 1;
out:
    for (size_t i = 0; i < n_loops; i++)
        loop_stop(loops[i]);
    admin_stop(admin);
    uint64_t abandoned = evaluator_stop(evaluator, (int)cfg.drain_timeout_ms);
    if (abandoned > 0)
        log_warn("%llu capture%s left unevaluated at exit", (unsigned long long)abandoned,
                 abandoned == 1 ? "" : "s");
    triage_stop(triage, (int)cfg.drain_timeout_ms);
    for (size_t i = 0; i < n_loops; i++)
        loop_free(loops[i]);
    free(loops);
    if (captures) {
        struct exchange *ex;
        while ((ex = queue_pop(captures, 0)) != NULL)
            exchange_release(ex);
        queue_free(captures);
    }
    sampler_free(sampler);
    curl_global_cleanup();
    if (rc == 0) log_info("stopped");
    config_fini(&cfg);
    return rc;
}
