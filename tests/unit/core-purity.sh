#!/bin/sh
# DESIGN.md §2: dataplane/core does no I/O. Fails when a file there includes a DPDK,
# io_uring, time or allocation header, or calls an allocator, a clock or a random source.
set -u
dir=${1:?usage: core-purity.sh DATAPLANE_CORE_DIR}
bad=0
check() {
	what=$1 pattern=$2
	hits=$(grep -nE "$pattern" "$dir"/*.c "$dir"/*.h | grep -vE '^[^:]+:[0-9]+:\s*(/?\*|//)')
	if [ -n "$hits" ]; then
		echo "core-purity: $what:"
		echo "$hits"
		bad=1
	fi
}
check "DPDK, io_uring, time, allocation or I/O headers" \
	'#\s*include\s*<(rte_[a-z_]*|liburing|time|sys/time|sys/random|stdlib|stdio|unistd|fcntl|pthread|sys/socket)\.h>'
check "allocator calls" '\b(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|mmap)\s*\('
check "clock calls" '\b(clock_gettime|gettimeofday|time|clock|rte_rdtsc|rte_get_tsc_cycles|__rdtsc)\s*\('
check "random sources" '\b(rand|random|rand_r|drand48|lrand48|getrandom|arc4random|rte_rand)\s*\('
files=$(ls "$dir"/*.c "$dir"/*.h | wc -l)
if [ "$bad" -eq 0 ]; then
	echo "core-purity: $files files in $dir, no I/O, clock, random or allocation"
fi
exit $bad
