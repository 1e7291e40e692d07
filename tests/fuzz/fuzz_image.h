/* The core configuration fuzz_image checks images against; gen_corpus writes for it. */
#ifndef SHIPLOG_FUZZ_IMAGE_H
#define SHIPLOG_FUZZ_IMAGE_H

#include <string.h>

#include "core.h"

/*
 * Small tables, so that loading an accepted image (which resets the whole table) stays
 * cheap per input, and so that the fuzzer reaches the limits: 32 session slots, 64-byte
 * keys, values up to 256 bytes (the least a core accepts: a CONFIG body's).
 */
static inline void fuzz_image_config(struct sl_core_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	sl_core_config_default(cfg);
	cfg->node_id = 2;
	cfg->cluster_id = 0xc1a5;
	cfg->n_members = 3;
	for (unsigned i = 0; i < 3; i++)
		cfg->members[i] = (uint16_t)(i + 1);
	cfg->ring_records = 16;
	cfg->kv_keys = 16;
	cfg->dedup_clients = 16;
	cfg->pending_reads = 1;
	cfg->reorder_frames = 1;
	cfg->limits.key_max = 64;
	cfg->limits.val_max = 256;
}

#endif
