/*
 * libFuzzer target over state images (image.h): what a node loads from its snapshot at
 * start-up and what a follower installs from its leader. The first input byte picks a
 * mode:
 *   bit 0  re-seal the CRC first, so the fuzzer reaches the field checks
 * Beyond "no crash, no sanitizer report": the check answers only its documented errors;
 * sl_image_pairs(), which reads without a configuration, agrees with it on what is
 * damaged; an image the check accepts loads into a core (or is refused for a duplicate
 * key, leaving the state empty), and the loaded core writes back the very same bytes:
 * one state, one image, so damage cannot hide in bytes the loader ignores.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/crc32c.h>

#include "core_internal.h"
#include "fuzz.h"
#include "fuzz_image.h"
#include "image.h"

static struct sl_core_config cfg;
static struct sl_core *core;
static uint8_t *again; /* [sl_core_image_max(&cfg)] */

/* One core for every input: core_image_load() replaces the whole applied state. */
static void setup(void)
{
	size_t len;
	void *mem;

	fuzz_image_config(&cfg);
	len = sl_core_mem_size(&cfg);
	mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
	CHECK(mem != NULL);
	core = sl_core_init(mem, len, &cfg, NULL);
	again = malloc(sl_core_image_max(&cfg));
	CHECK(core != NULL && again != NULL);
}

static int count_pair(void *arg, const uint8_t *key, uint16_t key_len, const uint8_t *val,
		      uint32_t val_len, uint64_t lsn)
{
	(void)key;
	(void)val;
	(void)val_len;
	CHECK(key_len > 0 && lsn > 0);
	++*(uint32_t *)arg;
	return 0;
}

static void reseal(uint8_t *b, size_t len)
{
	uint32_t crc = sl_crc32c(0, b, len - 4);

	for (unsigned i = 0; i < 4; i++)
		b[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* An accepted image: loads, and the loaded state is written back to the same bytes. */
static void load_and_rewrite(const uint8_t *img, size_t size, const struct sl_image_info *info)
{
	struct sl_image_info loaded, written;
	int rc = core_image_load(core, img, size, &loaded);

	CHECK(rc == 0 || rc == -EINVAL);
	if (rc != 0) {
		/* Only a duplicate key gets past the check; the state is left empty. */
		CHECK(core->applied_lsn == 0 && sl_core_kv_digest(core) == 0);
		return;
	}
	CHECK(loaded.lsn == info->lsn && loaded.len == size && core->applied_lsn == info->lsn);
	CHECK(memcmp(&core->applied_policy, &info->policy, sizeof(info->policy)) == 0);
	/* The log's history is the caller's (image.h): here, the image's epoch throughout. */
	core->hist[0] = (struct sl_epoch_start){ .epoch = info->epoch, .first_lsn = 1 };
	core->n_hist = 1;
	CHECK(sl_core_image_write(core, again, sl_core_image_max(&cfg), &written) == (int64_t)size);
	CHECK(memcmp(again, img, size) == 0);
	CHECK(written.epoch == info->epoch && written.n_keys == info->n_keys &&
	      written.n_sessions == info->n_sessions);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_image_info info, read;
	uint32_t pairs = 0;
	uint8_t *img;
	size_t len;
	int rc, prc;

	if (core == NULL)
		setup();
	if (size < 1)
		return 0;
	/* Exactly the image's bytes, so that ASan sees a read past them. */
	len = size - 1;
	img = malloc(len ? len : 1);
	CHECK(img != NULL);
	memcpy(img, data + 1, len);
	if ((data[0] & 1) && len >= 4)
		reseal(img, len);
	rc = sl_core_image_check(img, len, &cfg, &info);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EXDEV || rc == -ERANGE);
	/* Damage is damage with or without a configuration; only fitting one differs. */
	prc = sl_image_pairs(img, len, count_pair, &pairs, &read);
	CHECK(prc == 0 || prc == -EINVAL);
	CHECK(rc != -EINVAL || prc == -EINVAL);
	CHECK(rc != 0 || (prc == 0 && pairs == info.n_keys && read.lsn == info.lsn));
	if (rc == 0) {
		CHECK(info.len == len && len <= sl_core_image_max(&cfg));
		CHECK(info.lsn != 0 && info.epoch != 0 && info.cluster_id == cfg.cluster_id);
		CHECK(info.n_keys <= cfg.kv_keys && info.n_sessions <= core->session_mask + 1);
		load_and_rewrite(img, len, &info);
	}
	free(img);
	return 0;
}
