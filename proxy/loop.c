/* Event loop threads: epoll over an MHD daemon (external epoll) and a curl multi (multi_socket).
 * Epoll user data is a tagged word: the low 3 bits say what woke us, the rest is an fd or a
 * pointer (8-aligned) to the relay whose client socket is watched. */
#include "proxy/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/exchange.h"
#include "core/xalloc.h"
#include "proxy/relay.h"
#include "proxy/server.h"

#define LOG_MODULE "loop"
#include "core/log.h"

enum tag {
    TAG_MHD = 1,
    TAG_WAKE,
    TAG_CURL,
    TAG_CLIENT, /* pointer to struct relay */
};

/* A suspended client gets its socket watched for hang-up once its exchange is this old: watching
 * costs two epoll_ctl calls, which quick exchanges should not pay. */
#define LOOP_WATCH_AFTER_US (200 * 1000)
#define LOOP_MAX_EVENTS     128
#define LOOP_IDLE_EASY_MAX  256
/* MHD's per-connection pool: request head, read buffer, chunked write buffer. MHD zeroes it
 * between requests, so it is sized for real heads (SDKs send ~1 KB), not generously. */
#define LOOP_CONNECTION_MEMORY_BYTES (16 * 1024)

struct loop {
    const struct config *cfg;
    int index;
    int listen_fd;
    int epfd;
    int wake_fd; /* eventfd: another thread set a flag below */
    struct MHD_Daemon *mhd;
    CURLM *multi;
    int64_t curl_deadline_us; /* -1: curl wants no timeout */
    int64_t next_scan_us;     /* earliest relay deadline we know of */
    bool need_mhd;
    bool need_mhd_now; /* a streaming response has bytes: relay them before the next socket */
    bool draining;
    atomic_bool quiesce_requested;
    atomic_bool stop_requested;
    pthread_t thread;
    bool started;
    struct reqid reqid;
    struct stats stats;
    struct queue *captures;
    const struct sampler *sampler;
    struct relay *relays; /* relays with a running transfer */
    uint8_t *sock_states; /* per curl socket fd: SOCK_* bits */
    size_t n_sock_states;
    CURL **idle_easy; /* easy handles kept for reuse, with the loop-wide options set */
    size_t n_idle_easy;
};

static uint64_t tag_fd(int fd, enum tag t)
{
    return ((uint64_t)(uint32_t)fd << 3) | t;
}

static int64_t now_us(void)
{
    return exchange_now_us();
}

/* ---- curl multi_socket plumbing ---- */

static void curl_action(struct loop *l, curl_socket_t s, int flags);

/* Curl sockets and our epoll set. libcurl removes a connection's socket when its transfer ends
 * and adds it again when the next transfer reuses it: two epoll_ctl calls per request that do
 * nothing useful. So a removed socket stays in the set, marked unwanted; if it wakes us while
 * unwanted (the server closed an idle connection), it is taken out then. Our own open/close
 * callbacks keep the per-fd state true when libcurl closes a socket and a new one gets its number.
 */
enum {
    SOCK_IN = 1,
    SOCK_OUT = 2,
    SOCK_IN_EPOLL = 4,
    SOCK_WANTED = 8,
};

static uint8_t *sock_state(struct loop *l, curl_socket_t s)
{
    size_t fd = (size_t)s;
    if (fd >= l->n_sock_states) {
        size_t n = l->n_sock_states ? l->n_sock_states : 256;
        while (n <= fd)
            n *= 2;
        l->sock_states = xrealloc(l->sock_states, n);
        memset(l->sock_states + l->n_sock_states, 0, n - l->n_sock_states);
        l->n_sock_states = n;
    }
    return &l->sock_states[fd];
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct loop *l = userp;
    uint8_t *st = sock_state(l, s);
    if (what == CURL_POLL_REMOVE) {
        *st &= (uint8_t)~SOCK_WANTED;
        return 0;
    }
    uint8_t mask = ((what & CURL_POLL_IN) ? SOCK_IN : 0) | ((what & CURL_POLL_OUT) ? SOCK_OUT : 0);
    if ((*st & SOCK_IN_EPOLL) && (*st & (SOCK_IN | SOCK_OUT)) == mask) {
        *st |= SOCK_WANTED;
        return 0;
    }
    struct epoll_event ev = {
        .events = ((mask & SOCK_IN) ? EPOLLIN : 0) | ((mask & SOCK_OUT) ? EPOLLOUT : 0),
        .data.u64 = tag_fd(s, TAG_CURL),
    };
    int op = (*st & SOCK_IN_EPOLL) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, s, &ev) < 0) {
        op = (errno == ENOENT) ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (epoll_ctl(l->epfd, op, s, &ev) < 0) {
            log_error("epoll_ctl(curl socket %d): %s", (int)s, strerror(errno));
            return -1;
        }
    }
    *st = mask | SOCK_IN_EPOLL | SOCK_WANTED;
    return 0;
}

static curl_socket_t on_curl_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)purpose;
    struct loop *l = clientp;
    int fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd >= 0) *sock_state(l, fd) = 0;
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int on_curl_close(void *clientp, curl_socket_t s)
{
    struct loop *l = clientp;
    *sock_state(l, s) = 0; /* close() takes it out of the epoll set */
    return close(s);
}

/* A curl socket woke us: hand it to curl, unless curl no longer wants it. */
static void curl_socket_ready(struct loop *l, curl_socket_t s, uint32_t ev)
{
    uint8_t *st = sock_state(l, s);
    if (!(*st & SOCK_WANTED)) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
        *st = 0;
        return;
    }
    int flags = ((ev & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((ev & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                ((ev & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
    curl_action(l, s, flags);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct loop *l = userp;
    l->curl_deadline_us = timeout_ms < 0 ? -1 : now_us() + (int64_t)timeout_ms * 1000;
    return 0;
}

static void curl_action(struct loop *l, curl_socket_t s, int flags)
{
    int running;
    CURLMcode mc = curl_multi_socket_action(l->multi, s, flags, &running);
    if (mc != CURLM_OK) log_error("curl_multi_socket_action: %s", curl_multi_strerror(mc));
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct relay *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        upstream_on_done(r, msg->data.result);
    }
}

/* ---- easy handles: made once, reused ---- */

CURL *loop_easy_get(struct loop *l)
{
    if (l->n_idle_easy > 0) return l->idle_easy[--l->n_idle_easy];
    const struct config *cfg = l->cfg;
    CURL *e = curl_easy_init();
    if (e == NULL) return NULL;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cfg->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cfg->tls_verify ? 2L : 0L);
    if (cfg->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
    /* Debian's libcurl also searches a CA directory, and with one set it rebuilds the CA store
     * for every new TLS connection (35-100 ms on the loop thread); the bundle alone is cached. */
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    /* Upstreams are reached directly: no proxy from the environment (libcurl would otherwise
     * look up *_proxy variables on every request). */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_curl_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, l);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_curl_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, l);
    return e;
}

void loop_easy_put(struct loop *l, CURL *e)
{
    if (l->n_idle_easy == LOOP_IDLE_EASY_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    if (l->idle_easy == NULL) l->idle_easy = xcalloc(LOOP_IDLE_EASY_MAX, sizeof(CURL *));
    l->idle_easy[l->n_idle_easy++] = e;
}

/* ---- relay tracking: deadlines and client watches ---- */

void loop_track(struct loop *l, struct relay *r)
{
    r->prev = NULL;
    r->next = l->relays;
    if (l->relays) l->relays->prev = r;
    l->relays = r;
    loop_deadline_changed(l, r->transfer_start_us + LOOP_WATCH_AFTER_US);
}

void loop_untrack(struct loop *l, struct relay *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (l->relays == r)
        l->relays = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

void loop_deadline_changed(struct loop *l, int64_t deadline_us)
{
    if (deadline_us < l->next_scan_us) l->next_scan_us = deadline_us;
}

int loop_watch_client(struct loop *l, int fd, struct relay *r)
{
    struct epoll_event ev = {.events = EPOLLRDHUP, .data.u64 = (uint64_t)(uintptr_t)r | TAG_CLIENT};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_warn("epoll_ctl(watch client fd %d): %s", fd, strerror(errno));
        return -1;
    }
    return 0;
}

void loop_unwatch_client(struct loop *l, int fd)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Applies every relay deadline that has passed and plans the next scan. */
static void scan(struct loop *l, int64_t now)
{
    const struct config *cfg = l->cfg;
    int64_t next = INT64_MAX;
    struct relay *r = l->relays;
    while (r) {
        struct relay *following = r->next; /* upstream_abort untracks r */
        int64_t total = r->transfer_start_us + cfg->total_timeout_ms * 1000;
        int64_t phase = INT64_MAX;
        const char *which = NULL;
        long limit_ms = 0;
        if (!r->head_complete) {
            phase = r->transfer_start_us + cfg->first_byte_timeout_ms * 1000;
            which = "first byte";
            limit_ms = cfg->first_byte_timeout_ms;
        } else if (!r->paused) {
            phase = r->last_byte_us + cfg->idle_timeout_ms * 1000;
            which = "idle";
            limit_ms = cfg->idle_timeout_ms;
        }
        if (now >= total || now >= phase) {
            char why[96];
            if (now >= total)
                snprintf(why, sizeof(why), "total timeout (%ld ms)", cfg->total_timeout_ms);
            else
                snprintf(why, sizeof(why), "%s timeout (%ld ms)", which, limit_ms);
            upstream_abort(r, EXCHANGE_TIMEOUT, MHD_HTTP_GATEWAY_TIMEOUT, why);
            r = following;
            continue;
        }
        next = min64(next, min64(total, phase));
        if (!r->client_watched && r->client_fd >= 0) {
            if (now >= r->transfer_start_us + LOOP_WATCH_AFTER_US) {
                if (loop_watch_client(l, r->client_fd, r) == 0) r->client_watched = true;
            } else {
                next = min64(next, r->transfer_start_us + LOOP_WATCH_AFTER_US);
            }
        }
        r = following;
    }
    l->next_scan_us = next;
}

/* ---- the thread ---- */

static int epoll_timeout_ms(struct loop *l, int64_t now, int64_t *mhd_deadline)
{
    if (l->need_mhd) return 0;
    int64_t deadline = l->next_scan_us;
    if (l->curl_deadline_us >= 0) deadline = min64(deadline, l->curl_deadline_us);
    MHD_UNSIGNED_LONG_LONG mhd_ms;
    *mhd_deadline = INT64_MAX;
    if (MHD_get_timeout(l->mhd, &mhd_ms) == MHD_YES) {
        *mhd_deadline = now + (int64_t)mhd_ms * 1000;
        deadline = min64(deadline, *mhd_deadline);
    }
    if (deadline == INT64_MAX) return -1;
    int64_t wait_us = deadline - now;
    if (wait_us <= 0) return 0;
    return (int)min64((wait_us + 999) / 1000, 60 * 1000);
}

static void handle_flags(struct loop *l)
{
    if (atomic_load(&l->quiesce_requested) && !l->draining) {
        l->draining = true;
        MHD_socket fd = MHD_quiesce_daemon(l->mhd);
        if (fd != MHD_INVALID_SOCKET) close(fd);
        log_debug("loop %d: stopped accepting", l->index);
    }
}

static void run_pending(struct loop *l, bool mhd_ready)
{
    /* curl and MHD feed each other (a finished request starts a transfer; bytes resume a
     * connection): go round until neither has work, bounded so sockets get their turn. */
    for (int round = 0; round < 16; round++) {
        bool worked = false;
        if (l->curl_deadline_us >= 0 && now_us() >= l->curl_deadline_us) {
            l->curl_deadline_us = -1;
            curl_action(l, CURL_SOCKET_TIMEOUT, 0);
            worked = true;
        }
        if (mhd_ready || l->need_mhd) {
            mhd_ready = l->need_mhd = l->need_mhd_now = false;
            MHD_run(l->mhd);
            worked = true;
        }
        if (!worked) break;
    }
    int64_t now = now_us();
    if (now >= l->next_scan_us) scan(l, now);
}

static void *run(void *arg)
{
    struct loop *l = arg;
    struct epoll_event events[LOOP_MAX_EVENTS];
    while (!atomic_load(&l->stop_requested)) {
        int64_t mhd_deadline = INT64_MAX;
        int timeout = epoll_timeout_ms(l, now_us(), &mhd_deadline);
        int n = epoll_wait(l->epfd, events, LOOP_MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait: %s", strerror(errno));
            break;
        }
        bool mhd_ready = now_us() >= mhd_deadline;
        for (int i = 0; i < n; i++) {
            uint64_t data = events[i].data.u64;
            uint32_t ev = events[i].events;
            switch ((enum tag)(data & 7)) {
            case TAG_MHD:
                mhd_ready = true;
                break;
            case TAG_WAKE: {
                uint64_t v;
                if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    log_warn("eventfd read: %s", strerror(errno));
                handle_flags(l);
                break;
            }
            case TAG_CURL:
                curl_socket_ready(l, (curl_socket_t)(data >> 3), ev);
                /* Relay stream bytes this socket brought before reading the next one: with
                 * many streams ready at once, each event leaves as soon as it is read instead
                 * of waiting for every other stream's read. Response heads are batched into
                 * one MHD_run below: per socket it would cost ~7 µs a request. */
                if (l->need_mhd_now) {
                    l->need_mhd_now = l->need_mhd = false;
                    MHD_run(l->mhd);
                }
                break;
            case TAG_CLIENT:
                server_on_client_hangup((struct relay *)(uintptr_t)(data & ~(uint64_t)7));
                break;
            }
        }
        run_pending(l, mhd_ready);
    }
    /* Stop: end every transfer (which resumes its connection), let MHD see the resumes, then
     * stop the daemon, which completes (and frees) every remaining exchange. */
    while (l->relays)
        upstream_abort(l->relays, EXCHANGE_CLIENT_ABORT, MHD_HTTP_SERVICE_UNAVAILABLE,
                       "proxy shutting down");
    MHD_run(l->mhd);
    MHD_stop_daemon(l->mhd);
    l->mhd = NULL;
    return NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct loop *l = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    log_debug("loop %d: mhd: %s", l->index, line);
}

struct loop *loop_new(const struct config *cfg, int index, int listen_fd, struct queue *captures,
                      struct sampler *sampler, struct err *err)
{
    struct loop *l = xcalloc(1, sizeof(*l));
    l->cfg = cfg;
    l->index = index;
    l->listen_fd = listen_fd;
    l->captures = captures;
    l->sampler = sampler;
    l->curl_deadline_us = -1;
    l->next_scan_us = INT64_MAX;
    l->wake_fd = -1;
    reqid_init(&l->reqid);
    atomic_init(&l->quiesce_requested, false);
    atomic_init(&l->stop_requested, false);

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->wake_fd < 0) {
        err_set(err, "loop %d: epoll/eventfd: %s", index, strerror(errno));
        goto fail;
    }
    struct epoll_event wake = {.events = EPOLLIN, .data.u64 = tag_fd(l->wake_fd, TAG_WAKE)};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &wake);

    unsigned per_loop = (unsigned)((cfg->max_connections + cfg->threads - 1) / cfg->threads);
    unsigned timeout_s = (unsigned)((cfg->client_timeout_ms + 999) / 1000);
    l->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_TURBO |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, server_on_request, l, MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, per_loop, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LOOP_CONNECTION_MEMORY_BYTES,
        MHD_OPTION_URI_LOG_CALLBACK, server_on_uri, l, MHD_OPTION_UNESCAPE_CALLBACK,
        server_on_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, l,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l, MHD_OPTION_END);
    if (l->mhd == NULL) {
        err_set(err, "loop %d: MHD_start_daemon failed", index);
        goto fail;
    }
    l->listen_fd = -1; /* MHD owns it now */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    struct epoll_event mev = {.events = EPOLLIN, .data.u64 = tag_fd(info->epoll_fd, TAG_MHD)};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, info->epoll_fd, &mev) < 0) {
        err_set(err, "loop %d: epoll_ctl(mhd): %s", index, strerror(errno));
        goto fail;
    }

    l->multi = curl_multi_init();
    if (l->multi == NULL) {
        err_set(err, "loop %d: curl_multi_init failed", index);
        goto fail;
    }
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    /* Idle upstream connections kept for reuse (nginx's keepalive is per worker, too). */
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 256L);
    return l;

fail:
    loop_free(l); /* closes listen_fd unless MHD took it */
    return NULL;
}

int loop_start(struct loop *l, struct err *err)
{
    int rc = pthread_create(&l->thread, NULL, run, l);
    if (rc != 0) {
        err_set(err, "loop %d: pthread_create: %s", l->index, strerror(rc));
        return -1;
    }
    l->started = true;
    return 0;
}

static void wake(struct loop *l)
{
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof(one)) < 0) log_warn("eventfd write: %s", strerror(errno));
}

void loop_quiesce(struct loop *l)
{
    atomic_store(&l->quiesce_requested, true);
    wake(l);
}

void loop_stop(struct loop *l)
{
    if (!l->started) return;
    atomic_store(&l->stop_requested, true);
    wake(l);
    pthread_join(l->thread, NULL);
    l->started = false;
}

void loop_free(struct loop *l)
{
    if (l == NULL) return;
    loop_stop(l);
    if (l->mhd) {
        MHD_stop_daemon(l->mhd);
        l->mhd = NULL;
    }
    /* The multi first: closing its cached connections calls on_curl_close, which uses
     * sock_states. */
    if (l->multi) curl_multi_cleanup(l->multi);
    for (size_t i = 0; i < l->n_idle_easy; i++)
        curl_easy_cleanup(l->idle_easy[i]);
    free(l->idle_easy);
    free(l->sock_states);
    if (l->listen_fd >= 0) close(l->listen_fd);
    if (l->wake_fd >= 0) close(l->wake_fd);
    if (l->epfd >= 0) close(l->epfd);
    free(l);
}

const struct stats *loop_stats(const struct loop *l)
{
    return &l->stats;
}

const struct config *loop_config(const struct loop *l)
{
    return l->cfg;
}

CURLM *loop_multi(struct loop *l)
{
    return l->multi;
}

struct reqid *loop_reqid(struct loop *l)
{
    return &l->reqid;
}

struct stats *loop_stats_mut(struct loop *l)
{
    return &l->stats;
}

struct queue *loop_captures(struct loop *l)
{
    return l->captures;
}

const struct sampler *loop_sampler(const struct loop *l)
{
    return l->sampler;
}

bool loop_is_draining(const struct loop *l)
{
    return l->draining;
}

void loop_need_mhd_run(struct loop *l, bool now)
{
    l->need_mhd = true;
    l->need_mhd_now |= now;
}
