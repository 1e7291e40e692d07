/* libshiplog's text inputs: server lists ("1=10.0.0.1:7400,2=10.0.0.2") and key files. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <shiplog/client.h>

#define KEY_HEX_LEN   (2 * SL_AUTH_KEY_LEN)
#define KEY_FILE_MAX  256u /* a key file is 64 digits and some blanks */
#define ITEM_SHOW_MAX 40   /* of an item quoted in an error */

/* One item of a list being parsed, for the error messages. */
struct item {
	const char *p;
	size_t len;
	unsigned idx; /* 1-based */
};

__attribute__((format(printf, 4, 5))) static int
item_err(char *err, size_t err_len, const struct item *it, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || err_len == 0)
		return -EINVAL;
	n = snprintf(err, err_len, "server list: item %u \"%.*s%s\": ", it->idx,
		     (int)(it->len > ITEM_SHOW_MAX ? ITEM_SHOW_MAX : it->len), it->p,
		     it->len > ITEM_SHOW_MAX ? "..." : "");
	if (n < 0 || (size_t)n >= err_len)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Decimal digits only (no sign, no blanks), 1..max. */
static int parse_dec(const char *p, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v == 0 || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* "ID=IPV4[:PORT]" into *s; the checks against earlier items are the caller's. */
static int parse_item(const struct item *it, struct sl_client_server *s, char *err, size_t err_len)
{
	const char *eq = memchr(it->p, '=', it->len);
	const char *a, *colon, *end = it->p + it->len;
	char addr[INET_ADDRSTRLEN];
	uint32_t id, port = SL_UDP_PORT;

	if (it->len == 0)
		return item_err(err, err_len, it, "empty (expected ID=IPV4[:PORT])");
	if (eq == NULL)
		return item_err(err, err_len, it, "expected ID=IPV4[:PORT]");
	if (parse_dec(it->p, (size_t)(eq - it->p), SL_NODE_MAX, &id) != 0)
		return item_err(err, err_len, it, "node id \"%.*s\" is not a number from 1 to %u",
				(int)(eq - it->p), it->p, SL_NODE_MAX);
	a = eq + 1;
	colon = memchr(a, ':', (size_t)(end - a));
	if (colon != NULL &&
	    parse_dec(colon + 1, (size_t)(end - colon - 1), UINT16_MAX, &port) != 0)
		return item_err(err, err_len, it, "port \"%.*s\" is not a number from 1 to 65535",
				(int)(end - colon - 1), colon + 1);
	if (colon == NULL)
		colon = end;
	if ((size_t)(colon - a) >= sizeof(addr))
		return item_err(err, err_len, it, "\"%.*s\" is not an IPv4 address",
				(int)(colon - a), a);
	memcpy(addr, a, (size_t)(colon - a));
	addr[colon - a] = '\0';
	if (inet_pton(AF_INET, addr, &s->addr) != 1)
		return item_err(err, err_len, it, "\"%s\" is not an IPv4 address", addr);
	if (s->addr.s_addr == htonl(INADDR_ANY))
		return item_err(err, err_len, it, "0.0.0.0 is not a server address");
	s->node_id = (uint16_t)id;
	s->port = (uint16_t)port;
	return 0;
}

/* Node ids and endpoints must be distinct: a leader hint names exactly one endpoint. */
static int check_unique(const struct item *it, const struct sl_client_server *out, size_t n,
			char *err, size_t err_len)
{
	const struct sl_client_server *s = &out[n];

	for (size_t i = 0; i < n; i++) {
		if (out[i].node_id == s->node_id)
			return item_err(err, err_len, it, "node id %u appears twice", s->node_id);
		if (out[i].addr.s_addr == s->addr.s_addr && out[i].port == s->port)
			return item_err(err, err_len, it, "same address and port as node %u",
					out[i].node_id);
	}
	return 0;
}

int sl_client_servers_parse(const char *s, struct sl_client_server *out, size_t cap, size_t *n,
			    char *err, size_t err_len)
{
	struct item it = { .p = s, .idx = 1 };
	size_t count = 0;
	int rc;

	if (s == NULL || *s == '\0') {
		if (err != NULL && err_len > 0)
			snprintf(err, err_len,
				 "server list is empty (expected ID=IPV4[:PORT],...)");
		return -EINVAL;
	}
	for (;; it.idx++) {
		const char *comma = strchr(it.p, ',');

		it.len = comma ? (size_t)(comma - it.p) : strlen(it.p);
		if (count == cap)
			return item_err(err, err_len, &it, "more than %zu servers", cap);
		rc = parse_item(&it, &out[count], err, err_len);
		if (rc == 0)
			rc = check_unique(&it, out, count, err, err_len);
		if (rc != 0)
			return rc;
		count++;
		if (comma == NULL)
			break;
		it.p = comma + 1;
	}
	*n = count;
	return 0;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sl_client_key_parse_hex(const char *hex, size_t len, struct sl_auth_key *out)
{
	struct sl_auth_key k;

	if (len != KEY_HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < SL_AUTH_KEY_LEN; i++) {
		int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		k.bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	*out = k;
	sodium_memzero(&k, sizeof(k));
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Up to cap bytes of the file; -EFBIG when there is more. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	while (got < cap) {
		r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return got == cap ? -EFBIG : (ssize_t)got;
}

int sl_client_key_file_read(const char *path, struct sl_auth_key *out)
{
	char buf[KEY_FILE_MAX];
	ssize_t n = read_small(path, buf, sizeof(buf));
	size_t b = 0, e;
	int rc;

	if (n == -EFBIG)
		return -EINVAL;
	if (n < 0)
		return (int)n;
	e = (size_t)n;
	while (b < e && is_blank(buf[b]))
		b++;
	while (e > b && is_blank(buf[e - 1]))
		e--;
	rc = sl_client_key_parse_hex(buf + b, e - b, out);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}
