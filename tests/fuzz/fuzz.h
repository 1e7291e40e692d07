/* What every fuzz target shares: libFuzzer's entry point and a check that aborts. */
#ifndef SHIPLOG_FUZZ_H
#define SHIPLOG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold for every input: abort() is libFuzzer's finding. */
#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#endif
