/* An event loop thread: one epoll set driving one MHD daemon (external epoll, its own
 * SO_REUSEPORT listen socket) and one curl multi handle (multi_socket API), so that a client
 * connection and its upstream transfer live on one thread with no locks between them.
 *
 * DESIGN: epoll_wait sleeps until a socket is ready or the earliest of three deadlines (curl's
 * timer, MHD's connection timeouts, our relay deadlines) passes; then curl and MHD are run until
 * neither has work left. Other threads talk to a loop only through loop_quiesce/loop_stop (an
 * atomic flag and an eventfd) and read its counters (proxy/stats.h). */
#ifndef SIGMAPROXY_PROXY_LOOP_H
#define SIGMAPROXY_PROXY_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "config/config.h"
#include "core/err.h"
#include "core/queue.h"
#include "core/reqid.h"
#include "core/sampler.h"
#include "proxy/stats.h"

struct loop;
struct relay;

/* Lifecycle, main thread. */

/* Returns a new loop serving listen_fd (takes ownership of it, on success and on failure), or NULL
 * with err. cfg, captures and sampler must outlive the loop; completed captures are pushed to
 * captures; sampler decides which exchanges are captured. */
struct loop *loop_new(const struct config *cfg, int index, int listen_fd, struct queue *captures,
                      struct sampler *sampler, struct err *err);
int loop_start(struct loop *l, struct err *err);
/* Stops accepting connections; exchanges in flight go on, responses ask clients to close. */
void loop_quiesce(struct loop *l);
/* Ends the thread: resumes and closes every connection, aborts transfers, joins. */
void loop_stop(struct loop *l);
void loop_free(struct loop *l);

/* Any thread. */
const struct stats *loop_stats(const struct loop *l);

/* Loop thread only: services for server.c and upstream.c. */
const struct config *loop_config(const struct loop *l);
CURLM *loop_multi(struct loop *l);
struct reqid *loop_reqid(struct loop *l);
struct stats *loop_stats_mut(struct loop *l);
struct queue *loop_captures(struct loop *l);
const struct sampler *loop_sampler(const struct loop *l);
bool loop_is_draining(const struct loop *l);
/* A connection was resumed: run MHD before sleeping again; with now, before the next socket. */
void loop_need_mhd_run(struct loop *l, bool now);
/* Relays with a running transfer are tracked for their deadlines and client watches. */
void loop_track(struct loop *l, struct relay *r);
void loop_untrack(struct loop *l, struct relay *r);
/* Returns an easy handle with the loop-wide options set (NULL if libcurl cannot make one); give
 * it back with loop_easy_put once it is out of the multi handle. */
CURL *loop_easy_get(struct loop *l);
void loop_easy_put(struct loop *l, CURL *e);
/* A deadline of r may now be earlier than the loop planned for. */
void loop_deadline_changed(struct loop *l, int64_t deadline_us);
/* Watches fd for hang-up on behalf of r (server_on_client_hangup). Returns 0 or -1. */
int loop_watch_client(struct loop *l, int fd, struct relay *r);
void loop_unwatch_client(struct loop *l, int fd);

#endif
