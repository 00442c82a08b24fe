/* The admin listener: its own MHD daemon and thread, on its own port. GET /healthz (alive),
 * /readyz (serving; 503 while starting or draining), /stats (JSON), /metrics (Prometheus text),
 * both with the triage writer's figures. Reads only counters and flags; never an exchange. */
#ifndef SIGMAPROXY_PROXY_ADMIN_H
#define SIGMAPROXY_PROXY_ADMIN_H

#include <stdatomic.h>
#include <stddef.h>

#include "config/config.h"
#include "core/err.h"
#include "core/queue.h"
#include "core/sampler.h"
#include "proxy/evaluator.h"
#include "proxy/loop.h"
#include "triage/triage.h"

/* What the admin thread may read; every pointer outlives the admin daemon. */
struct admin_view {
    const struct config *cfg;
    struct loop *const *loops;
    size_t n_loops;
    struct queue *captures;
    struct evaluator *evaluator;
    struct triage *triage;
    const struct sampler *sampler;
    atomic_bool *ready;
};

struct admin;

/* Main thread. Serves on listen_fd (takes ownership on success and failure). Returns a new admin
 * daemon, or NULL with err. */
struct admin *admin_start(const struct admin_view *view, int listen_fd, struct err *err);
void admin_stop(struct admin *a);

#endif
