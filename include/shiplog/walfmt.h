/* On-disk WAL format: segment files of log records, and how a segment is scanned. */
#ifndef SHIPLOG_WALFMT_H
#define SHIPLOG_WALFMT_H

#include <stddef.h>
#include <stdint.h>

#include <shiplog/record.h>

/*
 * A WAL is a directory of segment files named by their first LSN ("%020llu.wal"). A
 * segment is a 4 KiB header block (so O_DIRECT writes stay aligned), then log records
 * exactly as on the wire (DESIGN.md §3), back to back, each padded to 8 bytes. Segments
 * are preallocated: the bytes after the last record are zero, and a record header of
 * zeros ends the log.
 *
 * Header block, little-endian:
 *   0  magic       u64  SL_WAL_MAGIC ("SHPLWAL" + format version byte)
 *   8  first_lsn   u64  LSN of the first record this segment holds
 *  16  size        u64  bytes preallocated, header block included
 *  24  cluster_id  u32
 *  28  node_id     u16
 *  30  reserved    u16  zero
 *  32  crc32c      u32  over bytes 0..31
 *  36  zero to the end of the block (checked: a reader accepts only what a writer writes)
 */
#define SL_WAL_MAGIC	0x014c41574c504853ull /* "SHPLWAL\1" in memory order */
#define SL_WAL_HDR_LEN	4096u
#define SL_WAL_NAME_LEN 25u /* 20 digits, ".wal", NUL */

struct sl_wal_seg_hdr {
	uint64_t magic;
	uint64_t first_lsn;
	uint64_t size;
	uint32_t cluster_id;
	uint16_t node_id;
	uint16_t reserved;
	uint32_t crc;
};

_Static_assert(offsetof(struct sl_wal_seg_hdr, magic) == 0, "magic at 0");
_Static_assert(offsetof(struct sl_wal_seg_hdr, first_lsn) == 8, "first_lsn at 8");
_Static_assert(offsetof(struct sl_wal_seg_hdr, size) == 16, "size at 16");
_Static_assert(offsetof(struct sl_wal_seg_hdr, cluster_id) == 24, "cluster_id at 24");
_Static_assert(offsetof(struct sl_wal_seg_hdr, node_id) == 28, "node_id at 28");
_Static_assert(offsetof(struct sl_wal_seg_hdr, reserved) == 30, "reserved at 30");
_Static_assert(offsetof(struct sl_wal_seg_hdr, crc) == 32, "crc at 32");

/* Writes the header block (SL_WAL_HDR_LEN bytes, CRC computed) into buf. */
void sl_wal_seg_hdr_write(void *buf, const struct sl_wal_seg_hdr *h);

/* Reads and checks a header block: 0, or -EINVAL (magic, CRC, reserved, size). */
int sl_wal_seg_hdr_read(const void *buf, size_t len, struct sl_wal_seg_hdr *out);

/* "%020llu.wal" into name (SL_WAL_NAME_LEN bytes). */
void sl_wal_seg_name(uint64_t first_lsn, char name[SL_WAL_NAME_LEN]);

/* The first LSN a segment name stands for (0), or -EINVAL for another file name. */
int sl_wal_seg_name_parse(const char *name, uint64_t *first_lsn);

/* What a scan of one segment's records found. */
enum sl_wal_scan_status {
	SL_WAL_CLEAN = 0,   /* records, then zeros (or the end) */
	SL_WAL_TORN = 1,    /* a damaged record with nothing valid after it: a torn tail */
	SL_WAL_CORRUPT = 2, /* damage followed by valid records: not a torn tail */
	SL_WAL_GAP = 3,	    /* LSNs not continuous (or not starting at first_lsn) */
};

struct sl_wal_scan {
	uint8_t status;
	uint64_t records;   /* valid, continuous records from the start */
	uint64_t first_lsn; /* of those (0 when none) */
	uint64_t last_lsn;
	uint32_t last_epoch;
	uint64_t end_off;      /* byte offset just past the last valid record */
	uint64_t bad_off;      /* TORN/CORRUPT/GAP: where the trouble starts */
	uint64_t bad_lsn;      /* the LSN that should have been there */
	uint64_t resume_lsn;   /* CORRUPT: LSN of the first valid record after the damage */
	uint64_t resume_off;   /* CORRUPT: and its offset */
	enum sl_reject reason; /* TORN/CORRUPT: why the record at bad_off was refused */
};

/* Called for every valid record in order; a non-zero return stops the scan there. */
typedef int (*sl_wal_record_fn)(void *arg, uint64_t off, const struct sl_record_view *r);

/*
 * Scans the records of one segment: buf holds the bytes after the header block, len of
 * them; expect_lsn is the LSN the first record must have (the segment's first_lsn).
 * Every record's CRC is checked. Limits bound key and value sizes. fn may be NULL.
 */
void sl_wal_scan(const uint8_t *buf, size_t len, uint64_t expect_lsn, const struct sl_limits *lim,
		 sl_wal_record_fn fn, void *arg, struct sl_wal_scan *out);

const char *sl_wal_scan_status_name(unsigned status);

/*
 * Node metadata, the file "meta" in the WAL directory (DESIGN.md §5), replaced
 * atomically: written to "meta.tmp", fsynced, renamed, directory fsynced.
 * SL_WAL_META_LEN bytes, little-endian:
 *   0  magic        u64  SL_WAL_META_MAGIC
 *   8  cluster_id   u32
 *  12  node_id      u16
 *  14  n_hist       u8   entries of hist in use
 *  15  reserved     u8   zero
 *  16  epoch        u32  highest epoch this node has seen
 *  20  reserved     u32  zero
 *  24  commit_hint  u64  an LSN known committed (a lower value is always safe)
 *  32  refetch_lsn  u64  damage was found: do not lead until the log holds this LSN
 *  40  trunc_lsn    u64  a truncation to this LSN is under way (0: none); redone at open
 *  48  hist[32]     {epoch u32, zero u32, first_lsn u64}
 * 560  crc32c       u32  over bytes 0..559
 * Unused history slots and the bytes after the CRC are zero, and checked.
 */
#define SL_WAL_META_MAGIC 0x014154454d4c5053ull /* "SPLMETA\1" in memory order */
#define SL_WAL_META_LEN	  1024u
#define SL_WAL_META_NAME  "meta"

struct sl_wal_meta {
	uint32_t cluster_id;
	uint16_t node_id;
	uint8_t n_hist;
	uint32_t epoch;
	uint64_t commit_hint;
	uint64_t refetch_lsn;
	uint64_t trunc_lsn;
	struct sl_epoch_start hist[SL_EPOCH_HIST_MAX];
};

/* Encodes into buf (SL_WAL_META_LEN bytes). */
void sl_wal_meta_write(void *buf, const struct sl_wal_meta *m);

/* Decodes and checks (magic, CRC, reserved, history order): 0 or -EINVAL. */
int sl_wal_meta_read(const void *buf, size_t len, struct sl_wal_meta *out);

/*
 * Snapshot files "%020llu.snap" (the LSN the state includes), installed atomically
 * like the metadata. A 4 KiB header block, then payload_len bytes of state:
 *   0  magic        u64  SL_WAL_SNAP_MAGIC
 *   8  lsn          u64  the state holds every record up to and including lsn
 *  16  payload_len  u64
 *  24  cluster_id   u32
 *  28  node_id      u16
 *  30  reserved     u16  zero
 *  32  epoch        u32  epoch of the record at lsn
 *  36  payload_crc  u32  CRC32C of the payload
 *  40  crc32c       u32  over bytes 0..39
 *  44  zero to the end of the block (checked)
 */
#define SL_WAL_SNAP_MAGIC    0x0150414e534c5053ull /* "SPLSNAP\1" in memory order */
#define SL_WAL_SNAP_HDR_LEN  4096u
#define SL_WAL_SNAP_NAME_LEN 26u /* 20 digits, ".snap", NUL */

struct sl_wal_snap_hdr {
	uint64_t lsn;
	uint64_t payload_len;
	uint32_t cluster_id;
	uint16_t node_id;
	uint32_t epoch;
	uint32_t payload_crc;
};

void sl_wal_snap_hdr_write(void *buf, const struct sl_wal_snap_hdr *h);
int sl_wal_snap_hdr_read(const void *buf, size_t len, struct sl_wal_snap_hdr *out);
void sl_wal_snap_name(uint64_t lsn, char name[SL_WAL_SNAP_NAME_LEN]);
int sl_wal_snap_name_parse(const char *name, uint64_t *lsn);

#endif
