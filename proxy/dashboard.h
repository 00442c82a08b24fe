/* The live dashboard: one self-contained HTML page (no external assets) that polls /stats and
 * draws a p-chart per scorer with its control limits, state and figures. */
#ifndef SIGMAPROXY_PROXY_DASHBOARD_H
#define SIGMAPROXY_PROXY_DASHBOARD_H

#include <stddef.h>

/* The page, NUL-terminated; static storage. */
extern const char dashboard_html[];
extern const size_t dashboard_html_len;

#endif
