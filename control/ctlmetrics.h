/* The controller's metrics as Prometheus exposition text (DESIGN.md §8): a pure function
 * of what the admin API's status shows. No sockets, no clock: metrics.c serves it. */
#ifndef SHIPLOG_CTL_METRICS_H
#define SHIPLOG_CTL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "ctlcore.h"
#include "events.h"

/* The text format, version 0.0.4 (what every Prometheus server scrapes). */
#define CTL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* The whole text: SL_NODE_MAX members with every number at its widest take 97 KiB
 * (test_ctlmetrics), about 1.5 KiB a member; over twice that. */
#define CTL_METRICS_TEXT_MAX  (256u << 10)
#define CTL_METRICS_LABEL_MAX 512u /* an escaped label value, NUL included */

/* What the text is made of; everything read, nothing changed. */
struct ctl_metrics_src {
	const struct ctl *ctl;
	const struct ctl_counters *counters;
	const struct ctl_events *events; /* NULL: no event counters */
	const char *version;		 /* the controller's, for shiplog_controller_info */
	uint64_t now_ns;		 /* CLOCK_MONOTONIC, as ctlcore stamped the reports */
};

/*
 * Renders every metric into buf: # HELP and # TYPE once per family, then its samples,
 * "name{labels} value" a line. Returns the length (buf NUL-terminated), or -ENOSPC when
 * cap is too small (CTL_METRICS_TEXT_MAX never is).
 */
int ctl_metrics_render(const struct ctl_metrics_src *src, char *buf, size_t cap);

/*
 * A label value (len bytes, or up to a NUL) as the text format wants it between quotes: backslash,
 * double quote and newline escaped (\\, \", \n); other control bytes and bytes past ASCII become
 * '?' (the format is UTF-8, and a node's data_addr is whatever its agent sent). Returns the escaped
 * length; buf is NUL-terminated, cut before an escape that would not fit.
 */
size_t ctl_metrics_escape(const char *s, size_t len, char *buf, size_t cap);

#endif
