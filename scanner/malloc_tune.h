/*
 * malloc_tune.h - glibc's allocator, set for OpenSSL 3's allocation pattern.
 *
 * A TLS 1.3 handshake in OpenSSL 3.0 makes about 1,500 malloc/free pairs
 * (method fetches, decoder contexts, parameter arrays), most of a few
 * sizes. glibc's per-thread cache keeps only 7 free chunks per size, so
 * with a thousand handshakes interleaved in one loop most of them go to
 * the arena (locks, bin searches, consolidation). Keeping up to 1,000 per
 * size cut the scanner's instructions per probe by 4 % (callgrind, see
 * tools/BENCH.md). glibc reads its tunables only when a program starts, so
 * the scanner starts itself once more with GLIBC_TUNABLES set. An
 * explicit GLIBC_TUNABLES (or MAILTLS_NO_MALLOC_TUNING) is left alone;
 * if the re-execution fails the scan runs untuned.
 */
#ifndef MAILTLS_MALLOC_TUNE_H
#define MAILTLS_MALLOC_TUNE_H

#define MALLOC_TUNE_TUNABLES "glibc.malloc.tcache_count=1000"

/* Returns only when it did not re-execute. */
void malloc_tune(char **argv);

#endif
