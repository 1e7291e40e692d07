/* Client writes as the unit tests hand them to a core: the record, and its event. */
#ifndef SHIPLOG_CORETEST_H
#define SHIPLOG_CORETEST_H

#include <string.h>

#include "core.h"

/* A client's PUT of val (val_len bytes) or, with val NULL, DEL of key, with its origin. */
static inline struct sl_record_desc coretest_write_desc(uint64_t client, uint64_t seq,
							const char *key, const void *val,
							uint32_t val_len)
{
	return (struct sl_record_desc){ .type = val ? SL_REC_PUT : SL_REC_DEL,
					.flags = SL_REC_F_ORIGIN,
					.origin = { client, seq },
					.key = key,
					.key_len = (uint16_t)strlen(key),
					.val = val,
					.val_len = val_len };
}

/* The CLIENT event of the write d describes, encoded in rec, answered under ctx. */
static inline struct sl_event coretest_write_event(const struct sl_record_desc *d,
						   struct sl_rec_ref rec, uint64_t ctx)
{
	struct sl_event ev = { .type = SL_EV_CLIENT };

	ev.u.client.req =
		(struct sl_client_req){ .client_id = d->origin.client_id,
					.seq = d->origin.seq,
					.op = d->type == SL_REC_PUT ? SL_OP_PUT : SL_OP_DEL,
					.key_len = d->key_len,
					.val_len = d->val_len };
	ev.u.client.key = d->key;
	ev.u.client.rec = rec;
	ev.u.client.ctx = ctx;
	return ev;
}

#endif
