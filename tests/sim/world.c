/* The simulator's fake network (loss, duplication, reordering, delay, cuts) and disk. */
#include <stdlib.h>
#include <string.h>

#include "world.h"

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		abort();
	return q;
}

/* ---- record buffers ----------------------------------------------------------------- */

static struct simbuf *simbuf_all;

struct simbuf *simbuf_new(const void *bytes, uint32_t len, int32_t refs)
{
	struct simbuf *b = xrealloc(NULL, sizeof(*b));

	b->refs = refs;
	b->len = len;
	b->bytes = xrealloc(NULL, len);
	if (bytes)
		memcpy(b->bytes, bytes, len);
	b->all_next = simbuf_all;
	simbuf_all = b;
	return b;
}

bool simbuf_put(uint64_t handle)
{
	struct simbuf *b = (struct simbuf *)(uintptr_t)handle;

	if (b->refs <= 0)
		return false;
	if (--b->refs == 0) {
		free(b->bytes);
		b->bytes = NULL;
	}
	return true;
}

/* Buffers still held by cores that crashed or by the live ones at the end of a run. */
void simbuf_free_all(void)
{
	while (simbuf_all) {
		struct simbuf *b = simbuf_all;

		simbuf_all = b->all_next;
		free(b->bytes);
		free(b);
	}
}

/* ---- network: a binary heap ordered by (delivery time, send order) ------------------ */

void net_init(struct net *n, uint64_t *rng)
{
	memset(n, 0, sizeof(*n));
	n->rng = rng;
	n->f.delay_min_ns = 5000;
	n->f.delay_max_ns = 20000;
}

void net_free(struct net *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->heap[i].bytes);
	free(n->heap);
	memset(n, 0, sizeof(*n));
}

static bool msg_before(const struct net_msg *a, const struct net_msg *b)
{
	return a->at < b->at || (a->at == b->at && a->id < b->id);
}

static void heap_push(struct net *n, struct net_msg m)
{
	size_t i;

	if (n->n == n->cap) {
		n->cap = n->cap ? 2 * n->cap : 256;
		n->heap = xrealloc(n->heap, n->cap * sizeof(*n->heap));
	}
	i = n->n++;
	while (i > 0 && msg_before(&m, &n->heap[(i - 1) / 2])) {
		n->heap[i] = n->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	n->heap[i] = m;
}

static struct net_msg heap_pop(struct net *n)
{
	struct net_msg top = n->heap[0], last = n->heap[--n->n];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct net_msg *best = &last;

		if (l < n->n && msg_before(&n->heap[l], best)) {
			m = l;
			best = &n->heap[l];
		}
		if (r < n->n && msg_before(&n->heap[r], best))
			m = r;
		if (m == i)
			break;
		n->heap[i] = n->heap[m];
		i = m;
	}
	if (n->n > 0)
		n->heap[i] = last;
	return top;
}

static void net_enqueue(struct net *n, uint64_t now, unsigned src, unsigned dst, const void *bytes,
			uint32_t len)
{
	struct net_msg m = {
		.id = n->next_id++, .src = (uint8_t)src, .dst = (uint8_t)dst, .len = len
	};
	uint64_t delay = sim_range(n->rng, n->f.delay_min_ns, n->f.delay_max_ns);

	if (sim_chance(n->rng, n->f.reorder_ppm))
		delay += sim_range(n->rng, 0, n->f.reorder_ns);
	m.at = now + delay;
	m.bytes = xrealloc(NULL, len);
	memcpy(m.bytes, bytes, len);
	heap_push(n, m);
}

void net_send(struct net *n, uint64_t now, unsigned src, unsigned dst, const void *bytes,
	      uint32_t len)
{
	n->sent++;
	if (src >= SIM_EP_MAX || dst >= SIM_EP_MAX || n->cut[src][dst] ||
	    sim_chance(n->rng, n->f.loss_ppm)) {
		n->dropped++;
		return;
	}
	net_enqueue(n, now, src, dst, bytes, len);
	if (sim_chance(n->rng, n->f.dup_ppm)) {
		n->duplicated++;
		net_enqueue(n, now, src, dst, bytes, len);
	}
}

bool net_pop(struct net *n, uint64_t now, struct net_msg *out)
{
	if (n->n == 0 || n->heap[0].at > now)
		return false;
	*out = heap_pop(n);
	/* A link cut while the frame was in flight loses it too. */
	if (n->cut[out->src][out->dst]) {
		free(out->bytes);
		n->dropped++;
		return net_pop(n, now, out);
	}
	return true;
}

/* ---- disk --------------------------------------------------------------------------- */

void disk_init(struct disk *d, uint64_t *rng)
{
	memset(d, 0, sizeof(*d));
	d->rng = rng;
	d->lat_min_ns = 10000;
	d->lat_max_ns = 30000;
}

static void recs_free(struct disk_rec *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(r[i].bytes);
	free(r);
}

void disk_op_done(struct disk_op *op)
{
	if (op->kind != DISK_READ)
		return;
	recs_free(op->recs, op->n);
	op->recs = NULL;
}

void disk_free(struct disk *d)
{
	for (uint64_t i = 0; i < d->n_log; i++)
		free(d->log[i].bytes);
	free(d->log);
	for (size_t i = 0; i < d->n_ops; i++)
		recs_free(d->ops[i].recs, d->ops[i].n);
	free(d->ops);
	memset(d, 0, sizeof(*d));
}

static struct disk_op *op_push(struct disk *d, uint64_t now, uint8_t kind)
{
	struct disk_op *op;
	uint64_t done = now + sim_range(d->rng, d->lat_min_ns, d->lat_max_ns);

	if (d->n_ops == d->cap_ops) {
		d->cap_ops = d->cap_ops ? 2 * d->cap_ops : 64;
		d->ops = xrealloc(d->ops, d->cap_ops * sizeof(*d->ops));
	}
	/* One persistence queue: operations complete in the order they were issued. */
	if (d->n_ops > 0 && done < d->ops[d->n_ops - 1].done_ns)
		done = d->ops[d->n_ops - 1].done_ns;
	op = &d->ops[d->n_ops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->done_ns = done;
	return op;
}

static struct disk_rec *recs_copy(const struct disk_rec *src, uint32_t n)
{
	struct disk_rec *r = xrealloc(NULL, n * sizeof(*r));

	for (uint32_t i = 0; i < n; i++) {
		r[i] = src[i];
		r[i].bytes = xrealloc(NULL, src[i].len);
		memcpy(r[i].bytes, src[i].bytes, src[i].len);
	}
	return r;
}

void disk_write(struct disk *d, uint64_t now, const struct disk_rec *recs, uint32_t n,
		uint64_t commit_hint)
{
	struct disk_op *op = op_push(d, now, DISK_WRITE);

	op->recs = recs_copy(recs, n);
	op->n = n;
	op->commit_hint = commit_hint;
}

void disk_truncate(struct disk *d, uint64_t now, uint64_t after)
{
	op_push(d, now, DISK_TRUNCATE)->after = after;
}

void disk_read(struct disk *d, uint64_t now, uint16_t node, uint64_t from, uint64_t to)
{
	struct disk_op *op = op_push(d, now, DISK_READ);

	op->node = node;
	op->from = from;
	op->to = to;
}

static void log_truncate(struct disk *d, uint64_t after)
{
	while (d->n_log > after)
		free(d->log[--d->n_log].bytes);
	if (d->commit_hint > after)
		d->commit_hint = after;
}

/* Appends a write's records; one that does not continue the log ends the write. */
static void log_append(struct disk *d, struct disk_rec *recs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (recs[i].lsn != d->n_log + 1) {
			free(recs[i].bytes);
			continue;
		}
		if (d->n_log == d->cap_log) {
			d->cap_log = d->cap_log ? 2 * d->cap_log : 1024;
			d->log = xrealloc(d->log, d->cap_log * sizeof(*d->log));
		}
		d->log[d->n_log++] = recs[i];
	}
	free(recs);
}

static void op_execute(struct disk *d, struct disk_op *op)
{
	switch (op->kind) {
	case DISK_WRITE:
		log_append(d, op->recs, op->n);
		op->recs = NULL;
		if (op->commit_hint > d->commit_hint)
			d->commit_hint = op->commit_hint;
		if (d->commit_hint > d->n_log)
			d->commit_hint = d->n_log;
		break;
	case DISK_TRUNCATE:
		log_truncate(d, op->after);
		break;
	case DISK_READ: {
		uint64_t to = op->to < d->n_log ? op->to : d->n_log;

		op->n = op->from >= 1 && op->from <= to ? (uint32_t)(to - op->from + 1) : 0;
		op->recs = op->n ? recs_copy(&d->log[op->from - 1], op->n) : NULL;
		break;
	}
	}
}

bool disk_pop(struct disk *d, uint64_t now, struct disk_op *out)
{
	if (d->n_ops == 0 || d->ops[0].done_ns > now)
		return false;
	*out = d->ops[0];
	memmove(d->ops, d->ops + 1, (d->n_ops - 1) * sizeof(*d->ops));
	d->n_ops--;
	op_execute(d, out);
	return true;
}

/*
 * Each pending write is kept, dropped or torn: a random prefix of the queued records
 * reaches the platter (a torn record fails its CRC at recovery and is cut off there),
 * and nothing queued after the first loss survives.
 */
void disk_crash(struct disk *d)
{
	size_t i;

	for (i = 0; i < d->n_ops; i++) {
		struct disk_op *op = &d->ops[i];
		bool lost = false;

		if (op->kind == DISK_WRITE) {
			uint32_t keep = (uint32_t)sim_range(d->rng, 0, op->n);

			lost = keep < op->n;
			for (uint32_t k = keep; k < op->n; k++)
				free(op->recs[k].bytes);
			log_append(d, op->recs, keep);
			op->recs = NULL;
			op->n = 0;
		} else if (op->kind == DISK_TRUNCATE) {
			lost = sim_chance(d->rng, 500000);
			if (!lost)
				log_truncate(d, op->after);
		}
		if (lost) {
			i++;
			break;
		}
	}
	for (; i < d->n_ops; i++)
		recs_free(d->ops[i].recs, d->ops[i].n);
	d->n_ops = 0;
	if (d->commit_hint > d->n_log)
		d->commit_hint = d->n_log;
}
