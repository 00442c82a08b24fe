/* The upstream side of an exchange: a curl easy transfer on the relay's loop, its callbacks and
 * its end. The prototypes live in proxy/relay.h beside the server side they pair with; this
 * header only names the module. */
#ifndef SIGMAPROXY_PROXY_UPSTREAM_H
#define SIGMAPROXY_PROXY_UPSTREAM_H

#include "proxy/relay.h"

#endif
