/* The controller's history: events.jsonl (what ctlcore reported) and audit.jsonl. */
#ifndef SHIPLOG_CTL_EVENTS_H
#define SHIPLOG_CTL_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ctlcore.h"

#define CTL_EVENTS_FILE	    "events.jsonl"
#define CTL_AUDIT_FILE	    "audit.jsonl"
#define CTL_EVENTS_KEEP	    1000u      /* in memory, for the admin "events" command */
#define CTL_EVENTS_TAIL_MAX (8u << 20) /* bytes of events.jsonl read back at start */

struct ctl_event_rec {
	uint64_t seq;	  /* from 1, continued across restarts */
	uint64_t time_ns; /* CLOCK_REALTIME */
	uint8_t kind;	  /* CTL_EV_* */
	uint16_t node;
	uint64_t a;
	uint64_t b;
	char text[CTL_TEXT_MAX];
};

struct ctl_events {
	int fd;	    /* events.jsonl, O_APPEND; -1: memory only */
	FILE *echo; /* each event as a line (stderr), or NULL */
	uint64_t next_seq;
	uint32_t head;		/* oldest in ring[] */
	uint32_t count;		/* in ring[] */
	uint64_t lines_skipped; /* unreadable lines in the tail read back at start */
	uint64_t write_errors;
	uint64_t added[CTL_EV__MAX]; /* by kind since start, not the tail read back ([0]:
				      * a kind without a name) */
	struct ctl_event_rec ring[CTL_EVENTS_KEEP];
};

/*
 * Opens (creates) <dir>/events.jsonl and reads back its tail: the last
 * CTL_EVENTS_KEEP events and the next sequence number. Unreadable lines (a torn last
 * write) are skipped and counted. dir NULL: memory only. 0 or -errno with err.
 */
int ctl_events_open(struct ctl_events *e, const char *dir, FILE *echo, char *err, size_t err_len);
void ctl_events_close(struct ctl_events *e);

/* Numbers, keeps, writes (one line, fdatasync) and echoes one event. -errno when the
 * file write failed (the event is kept in memory and counted). */
int ctl_events_add(struct ctl_events *e, uint64_t time_ns, unsigned kind, unsigned node, uint64_t a,
		   uint64_t b, const char *text);

/* i-th kept event, oldest first (0 <= i < count). */
const struct ctl_event_rec *ctl_events_at(const struct ctl_events *e, uint32_t i);

/* {"seq":..,"time_ns":..,"time":"ISO 8601","kind":"promoted","node":..,"a":..,"b":..,
 * "text":".."}; NULL when out of memory. */
json_t *ctl_event_json(const struct ctl_event_rec *r);
/* The reverse, for lines read back: 0 or -EINVAL. */
int ctl_event_from_json(const json_t *o, struct ctl_event_rec *r);

const char *ctl_event_kind_name(unsigned kind); /* "promoted" ...; "unknown" */
int ctl_event_kind_parse(const char *name);	/* CTL_EV_* or -1 */

/* "2024-05-01T12:00:00.123Z" (UTC, milliseconds). */
void ctl_time_iso(uint64_t time_ns, char *buf, size_t cap);

/* Appends o as one compact line to fd (O_APPEND), then fdatasync when sync. 0 or -errno. */
int ctl_jsonl_append(int fd, const json_t *o, bool sync);

/* Opens (creates) <dir>/<name> for appending: fd or -errno. */
int ctl_jsonl_open(const char *dir, const char *name);

#endif
