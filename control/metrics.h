/* shiplog-controller's Prometheus endpoint: GET /metrics over HTTP (libmicrohttpd). */
#ifndef SHIPLOG_CTL_METRICS_HTTP_H
#define SHIPLOG_CTL_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

/*
 * libmicrohttpd runs in its external epoll mode: no thread of its own. Its epoll set is
 * one fd in the controller's loop; the controller calls ctl_metrics_http_run() when it
 * is readable and ctl_metrics_http_tick() on every tick. The page is rendered inside
 * those calls, on the controller's one thread, from the live state: no lock and no
 * snapshot (MHD copies the finished page it sends).
 *
 * GET or HEAD /metrics: 200, the text of render(). Another path: 404. Another method on
 * /metrics: 405 with Allow. render() failing: 500. At most CTL_METRICS_CONNS_MAX
 * connections, each closed after CTL_METRICS_IDLE_S seconds without traffic.
 */
#define CTL_METRICS_PATH       "/metrics"
#define CTL_METRICS_CONNS_MAX  8u
#define CTL_METRICS_IDLE_S     10u
#define CTL_METRICS_CONN_MEM   (32u << 10) /* per connection: request headers */
#define CTL_METRICS_RUN_ROUNDS 4u	   /* MHD_run calls while data is pending */

struct ctl_metrics_http;

/* Writes the page into buf (cap bytes, NUL-terminated): its length, or -errno. */
typedef int (*ctl_metrics_render_fn)(void *arg, char *buf, size_t cap);

/*
 * Serves on lfd, a bound, listening, non-blocking TCP socket, which the server owns
 * from then on (closed by ctl_metrics_http_stop, or here on failure). buf_cap: the
 * largest page. NULL with err on failure.
 */
struct ctl_metrics_http *ctl_metrics_http_start(int lfd, size_t buf_cap,
						ctl_metrics_render_fn render, void *arg, char *err,
						size_t err_len);

/* The fd to watch for EPOLLIN (libmicrohttpd's epoll set). */
int ctl_metrics_http_fd(const struct ctl_metrics_http *m);

/* The fd was readable: accept, read, answer, write what is ready. */
void ctl_metrics_http_run(struct ctl_metrics_http *m);

/* Time passed: runs when libmicrohttpd has a deadline within tick_ms (idle connections
 * to close, data left pending by a bounded run). */
void ctl_metrics_http_tick(struct ctl_metrics_http *m, uint64_t tick_ms);

/* Closes every connection and the listening socket. NULL: nothing. */
void ctl_metrics_http_stop(struct ctl_metrics_http *m);

#endif
