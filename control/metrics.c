/*
 * shiplog-controller's Prometheus endpoint (metrics.h). libmicrohttpd parses HTTP; this
 * file only routes on the path and the method it hands over. Nothing here runs on a
 * thread of its own: MHD_USE_EPOLL without MHD_USE_INTERNAL_POLLING_THREAD is MHD's
 * external mode, driven by the controller's loop (MHD_run, MHD_get_timeout).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ctlmetrics.h"
#include "metrics.h"

#define LOG_PREFIX "shiplog-controller: metrics: "

struct ctl_metrics_http {
	struct MHD_Daemon *mhd;
	int epfd; /* MHD's epoll set */
	ctl_metrics_render_fn render;
	void *arg;
	char *buf; /* the page, rendered for one answer at a time (MHD copies it) */
	size_t buf_cap;
};

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs(LOG_PREFIX, stderr);
	vfprintf(stderr, fmt, ap);
}

/* Queues len bytes of body (copied) with its type; MHD_NO closes the connection. */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     const char *body, size_t len, const char *allow)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc = MHD_NO;

	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) == MHD_YES &&
	    (allow == NULL || MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES))
		rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text,
				  const char *allow)
{
	return reply(conn, status, "text/plain; charset=utf-8", text, strlen(text), allow);
}

/*
 * MHD calls this once the headers are in, then for each piece of body, then once more
 * when the request is whole. GET and HEAD are answered on that last call, which keeps
 * the connection alive for the next scrape (a body, which a GET should not have, is read
 * and dropped: MHD keeps none of it). Any
 * other method is answered at once: a response queued that early makes MHD read no
 * body and close the connection after it, which is what a POST here deserves.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct ctl_metrics_http *m = cls;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	bool ours = strcmp(url, CTL_METRICS_PATH) == 0;
	int n;

	(void)version;
	(void)upload_data;
	if (*req_cls == NULL && get) {
		*req_cls = m; /* the headers are in: wait for the end of the request */
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!ours)
		return reply_text(conn, MHD_HTTP_NOT_FOUND,
				  "not found: the metrics are at " CTL_METRICS_PATH "\n", NULL);
	if (!get)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "method not allowed: GET " CTL_METRICS_PATH "\n", "GET, HEAD");
	n = m->render(m->arg, m->buf, m->buf_cap);
	if (n < 0) {
		fprintf(stderr, LOG_PREFIX "cannot render the page: %s\n", strerror(-n));
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "the metrics could not be rendered\n", NULL);
	}
	return reply(conn, MHD_HTTP_OK, CTL_METRICS_CONTENT_TYPE, m->buf, (size_t)n, NULL);
}

struct ctl_metrics_http *ctl_metrics_http_start(int lfd, size_t buf_cap,
						ctl_metrics_render_fn render, void *arg, char *err,
						size_t err_len)
{
	struct ctl_metrics_http *m = calloc(1, sizeof(*m));
	const union MHD_DaemonInfo *info;

	if (m == NULL || (m->buf = malloc(buf_cap)) == NULL) {
		snprintf(err, err_len, "metrics: out of memory");
		goto out_close_lfd;
	}
	m->buf_cap = buf_cap;
	m->render = render;
	m->arg = arg;
	/* The logger first: MHD says so, or it logs the options before it on its own. */
	m->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
		(MHD_socket)lfd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CTL_METRICS_CONNS_MAX,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CTL_METRICS_IDLE_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CTL_METRICS_CONN_MEM, MHD_OPTION_END);
	if (m->mhd == NULL) {
		snprintf(err, err_len, "metrics: libmicrohttpd did not start (epoll mode)");
		goto out_close_lfd;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		snprintf(err, err_len, "metrics: libmicrohttpd has no epoll fd");
		MHD_stop_daemon(m->mhd); /* closes lfd */
		free(m->buf);
		free(m);
		return NULL;
	}
	m->epfd = info->epoll_fd;
	return m;

out_close_lfd: /* MHD_start_daemon keeps lfd only when it succeeds */
	close(lfd);
	if (m != NULL)
		free(m->buf);
	free(m);
	return NULL;
}

int ctl_metrics_http_fd(const struct ctl_metrics_http *m)
{
	return m->epfd;
}

/* MHD's connections are edge-triggered in its set: what one run leaves pending shows as
 * a zero timeout, not as a readable fd. A few more rounds; the tick does the rest. */
void ctl_metrics_http_run(struct ctl_metrics_http *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(m->mhd);
	for (unsigned i = 1; i < CTL_METRICS_RUN_ROUNDS; i++) {
		if (MHD_get_timeout(m->mhd, &ms) != MHD_YES || ms != 0)
			return;
		MHD_run(m->mhd);
	}
}

void ctl_metrics_http_tick(struct ctl_metrics_http *m, uint64_t tick_ms)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES && ms <= tick_ms)
		ctl_metrics_http_run(m);
}

void ctl_metrics_http_stop(struct ctl_metrics_http *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->mhd);
	free(m->buf);
	free(m);
}
