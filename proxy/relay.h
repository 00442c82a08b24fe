/* One exchange in flight on a loop thread: a client connection (MHD) and its upstream transfer
 * (curl), and the bytes between them. server.c drives the client side, upstream.c the upstream
 * side; both run on the relay's loop thread, so nothing here is locked.
 *
 * Life: made when MHD has parsed the request line (server.c on_uri), freed in MHD's
 * request-completed callback. Invariants: `easy` is non-NULL exactly while the transfer runs;
 * `suspended` is true exactly while we hold the MHD connection suspended; `body` holds bytes
 * received from upstream and not yet taken by MHD (at most RELAY cap + one curl chunk). */
#ifndef SIGMAPROXY_PROXY_RELAY_H
#define SIGMAPROXY_PROXY_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/exchange.h"
#include "core/reqid.h"

struct loop;

enum relay_phase {
    RELAY_RECEIVING = 0, /* reading the request body */
    RELAY_WAITING,       /* upstream started, response head not complete */
    RELAY_RESPONDING,    /* the response is queued at MHD: body bytes flow */
    RELAY_ANSWERED,      /* the proxy answered itself (error response) */
};

struct relay {
    struct loop *loop;
    struct MHD_Connection *conn;
    enum relay_phase phase;
    bool suspended;      /* we suspended conn and must resume it */
    bool client_gone;    /* the client closed its side: abort, answer nothing more */
    bool client_watched; /* the client socket is in the loop's epoll set (EPOLLRDHUP) */
    int client_fd;

    char *uri; /* raw request target: path and query, as sent */
    const struct config_upstream *upstream;
    char id[REQID_MAX_LEN + 1];
    char method[16];

    /* Request side. */
    struct buf request_body;
    bool request_too_large;
    uint64_t discarded_bytes; /* body bytes dropped after the limit was passed */
    struct curl_slist *request_headers;

    /* Upstream side. */
    CURL *easy;
    bool paused;              /* the write callback returned CURL_WRITEFUNC_PAUSE */
    bool upstream_done;       /* the transfer ended (see upstream_error) */
    bool head_complete;       /* the final (non-1xx) response head was received */
    int status;               /* upstream status of the final response */
    int64_t content_length;   /* -1 when unknown (chunked, HTTP/2 without it, close-delimited) */
    struct buf response_head; /* "name\0value\0" pairs to send to the client */
    /* Set when the transfer failed; the proxy answers `error_status` if nothing was sent yet. */
    enum exchange_outcome upstream_error;
    int error_status;
    char error_detail[128];
    char curl_error[CURL_ERROR_SIZE];
    bool bad_head;    /* the upstream head was malformed (error_detail says how) */
    bool chunked;     /* upstream sent Transfer-Encoding */
    char *connection; /* the upstream response's Connection header, until the head ends */

    struct buf body; /* upstream bytes the client has not taken yet */
    size_t body_off; /* consumed prefix of body */

    /* Times, CLOCK_MONOTONIC microseconds. */
    int64_t start_us;          /* request line parsed */
    int64_t transfer_start_us; /* upstream transfer started */
    int64_t request_done_us;   /* request body complete */
    int64_t upstream_end_us;   /* transfer ended (0: never started) */
    int64_t first_byte_us;
    int64_t last_byte_us;
    uint64_t response_bytes;

    struct exchange *capture; /* NULL unless chosen for evaluation */

    struct relay *prev, *next; /* the loop's list of relays with a running transfer */
};

/* upstream.c, loop thread. */

/* Starts the transfer for r (request complete). Returns 0, or -1 with r->error_* set. */
int upstream_start(struct relay *r);
/* Ends a running transfer now (client gone, deadline); records outcome for the client side. */
void upstream_abort(struct relay *r, enum exchange_outcome outcome, int status, const char *why);
/* Called by the loop for each finished transfer (CURLMSG_DONE). */
void upstream_on_done(struct relay *r, CURLcode rc);
/* The client took bytes: unpause the transfer when the buffer has room again. */
void upstream_maybe_unpause(struct relay *r);

/* server.c, loop thread. */

/* Upstream made progress (head, bytes, end): resume the client connection if suspended. */
void server_wake(struct relay *r);
/* The client socket reported hang-up (EPOLLRDHUP/HUP/ERR) while we watched it. */
void server_on_client_hangup(struct relay *r);

#endif
