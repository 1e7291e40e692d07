/* Little-endian conversion of wire structs, driven by a table of their fields. */
#ifndef SHIPLOG_WIRE_LE_H
#define SHIPLOG_WIRE_LE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Wire structs are laid out without padding and their offsets are _Static_asserted
 * in the public headers, so on a little-endian host the wire bytes are the struct's
 * bytes. A big-endian host swaps each multi-byte field listed in the struct's table.
 */
struct wire_field {
	uint16_t off;
	uint16_t size;
};

#define WIRE_FIELD(type, member)                                    \
	{                                                           \
		offsetof(type, member), sizeof(((type *)0)->member) \
	}
#define WIRE_NFIELDS(table) (sizeof(table) / sizeof((table)[0]))

static inline void wire_swap_fields(void *s, const struct wire_field *f, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	uint8_t *b = s;

	for (size_t i = 0; i < n; i++) {
		uint8_t *p = b + f[i].off;

		if (f[i].size == 2) {
			uint16_t v;
			memcpy(&v, p, 2);
			v = __builtin_bswap16(v);
			memcpy(p, &v, 2);
		} else if (f[i].size == 4) {
			uint32_t v;
			memcpy(&v, p, 4);
			v = __builtin_bswap32(v);
			memcpy(p, &v, 4);
		} else if (f[i].size == 8) {
			uint64_t v;
			memcpy(&v, p, 8);
			v = __builtin_bswap64(v);
			memcpy(p, &v, 8);
		}
	}
#else
	(void)s;
	(void)f;
	(void)n;
#endif
}

/* Host struct -> wire bytes. */
static inline void wire_write(void *buf, const void *s, size_t size, const struct wire_field *f,
			      size_t n)
{
	memcpy(buf, s, size);
	wire_swap_fields(buf, f, n);
}

/* Wire bytes -> host struct. */
static inline void wire_read(void *s, const void *buf, size_t size, const struct wire_field *f,
			     size_t n)
{
	memcpy(s, buf, size);
	wire_swap_fields(s, f, n);
}

static inline uint32_t wire_get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline void wire_put_le32(void *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, 4);
}

#endif
