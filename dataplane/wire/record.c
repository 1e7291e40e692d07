/* Log record codec: encode, stamp in place, validate (DESIGN.md §3). */
#include <assert.h>
#include <string.h>

#include <shiplog/crc32c.h>
#include <shiplog/record.h>

#include "wire_le.h"

static const struct wire_field record_hdr_fields[] = {
	WIRE_FIELD(struct sl_record_hdr, lsn),	   WIRE_FIELD(struct sl_record_hdr, epoch),
	WIRE_FIELD(struct sl_record_hdr, key_len), WIRE_FIELD(struct sl_record_hdr, val_len),
	WIRE_FIELD(struct sl_record_hdr, crc),
};

static const struct wire_field record_origin_fields[] = {
	WIRE_FIELD(struct sl_record_origin, client_id),
	WIRE_FIELD(struct sl_record_origin, seq),
};

void sl_record_hdr_read(const void *rec, struct sl_record_hdr *out)
{
	wire_read(out, rec, sizeof(*out), record_hdr_fields, WIRE_NFIELDS(record_hdr_fields));
}

static uint32_t record_body_len(const struct sl_record_hdr *h)
{
	return ((h->flags & SL_REC_F_ORIGIN) ? SL_REC_ORIGIN_LEN : 0) + h->key_len + h->val_len;
}

/* The crc field covers the header before it and the body, never the padding. */
static uint32_t record_crc(const uint8_t *rec, const struct sl_record_hdr *h)
{
	uint32_t c = sl_crc32c(0, rec, SL_REC_CRC_OFF);

	return sl_crc32c(c, rec + SL_REC_HDR_LEN, record_body_len(h));
}

uint32_t sl_record_crc(const void *rec)
{
	struct sl_record_hdr h;

	sl_record_hdr_read(rec, &h);
	return record_crc(rec, &h);
}

static int record_type_valid(uint8_t type)
{
	return type >= SL_REC_PUT && type <= SL_REC_CONFIG;
}

/* Which lengths each type allows: PUT key+value, DEL key, NOOP nothing, CONFIG value. */
static int record_fields_valid(uint8_t type, uint32_t key_len, uint32_t val_len)
{
	switch (type) {
	case SL_REC_PUT:
		return key_len > 0;
	case SL_REC_DEL:
		return key_len > 0 && val_len == 0;
	case SL_REC_NOOP:
		return key_len == 0 && val_len == 0;
	case SL_REC_CONFIG:
		return key_len == 0 && val_len > 0;
	}
	return 0;
}

size_t sl_record_encode(void *buf, size_t cap, const struct sl_record_desc *d)
{
	uint32_t total = sl_record_size(d->flags, d->key_len, d->val_len);
	struct sl_record_hdr h = {
		.lsn = d->lsn,
		.epoch = d->epoch,
		.type = d->type,
		.flags = d->flags,
		.key_len = d->key_len,
		.val_len = d->val_len,
	};
	uint8_t *p = buf;
	size_t off = SL_REC_HDR_LEN;

	if (!record_type_valid(d->type) || (d->flags & ~SL_REC_F_ALL) != 0 ||
	    !record_fields_valid(d->type, d->key_len, d->val_len) || total == UINT32_MAX ||
	    cap < total)
		return 0;
	if (d->flags & SL_REC_F_ORIGIN) {
		wire_write(p + off, &d->origin, SL_REC_ORIGIN_LEN, record_origin_fields,
			   WIRE_NFIELDS(record_origin_fields));
		off += SL_REC_ORIGIN_LEN;
	}
	if (d->key_len > 0)
		memcpy(p + off, d->key, d->key_len);
	off += d->key_len;
	if (d->val_len > 0)
		memcpy(p + off, d->val, d->val_len);
	off += d->val_len;
	memset(p + off, 0, total - off);
	wire_write(p, &h, sizeof(h), record_hdr_fields, WIRE_NFIELDS(record_hdr_fields));
	h.crc = record_crc(p, &h);
	wire_put_le32(p + SL_REC_CRC_OFF, h.crc);
	return total;
}

void sl_record_stamp(void *rec, uint64_t lsn, uint32_t epoch)
{
	struct sl_record_hdr h;

	sl_record_hdr_read(rec, &h);
	h.lsn = lsn;
	h.epoch = epoch;
	wire_write(rec, &h, sizeof(h), record_hdr_fields, WIRE_NFIELDS(record_hdr_fields));
	wire_put_le32((uint8_t *)rec + SL_REC_CRC_OFF, record_crc(rec, &h));
}

enum sl_reject sl_record_decode(const void *buf, size_t len, const struct sl_limits *lim,
				int check_crc, struct sl_record_view *out)
{
	const uint8_t *p = buf;
	struct sl_record_hdr *h = &out->hdr;
	uint32_t off = SL_REC_HDR_LEN;

	if (len < SL_REC_HDR_LEN)
		return SL_REJ_REC_OVERRUN;
	sl_record_hdr_read(p, h);
	if (!record_type_valid(h->type))
		return SL_REJ_REC_TYPE;
	if ((h->flags & ~SL_REC_F_ALL) != 0)
		return SL_REJ_REC_FLAGS;
	if (h->key_len > lim->key_max)
		return SL_REJ_KEY_TOO_LARGE;
	if (h->val_len > lim->val_max)
		return SL_REJ_VAL_TOO_LARGE;
	if (!record_fields_valid(h->type, h->key_len, h->val_len))
		return SL_REJ_REC_FIELDS;
	out->total_len = sl_record_size(h->flags, h->key_len, h->val_len);
	if (out->total_len > len)
		return SL_REJ_REC_OVERRUN;
	if (check_crc && record_crc(p, h) != h->crc)
		return SL_REJ_REC_CRC;

	memset(&out->origin, 0, sizeof(out->origin));
	if (h->flags & SL_REC_F_ORIGIN) {
		wire_read(&out->origin, p + off, SL_REC_ORIGIN_LEN, record_origin_fields,
			  WIRE_NFIELDS(record_origin_fields));
		off += SL_REC_ORIGIN_LEN;
	}
	out->raw = p;
	out->key = p + off;
	out->val = p + off + h->key_len;
	assert(off + h->key_len + h->val_len <= out->total_len);
	return SL_OK;
}
