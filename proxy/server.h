/* The client side of the proxy: MHD callbacks for intake (request head and body), routing, the
 * response fed from the relay, and the answers the proxy makes itself. Loop thread only. */
#ifndef SIGMAPROXY_PROXY_SERVER_H
#define SIGMAPROXY_PROXY_SERVER_H

#include <stddef.h>

#include <microhttpd.h>

/* MHD_OPTION_URI_LOG_CALLBACK: the request line is parsed; makes the relay (cls: struct loop). */
void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
/* MHD_OPTION_UNESCAPE_CALLBACK: keeps the path as sent (bytes in = bytes out). */
size_t server_on_unescape(void *cls, struct MHD_Connection *conn, char *s);
/* The MHD access handler (cls: struct loop). */
enum MHD_Result server_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls);
/* MHD_OPTION_NOTIFY_COMPLETED: the exchange is over; frees the relay. */
void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe);

#endif
