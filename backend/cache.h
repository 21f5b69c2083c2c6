/* cache.h — hcg's cache folder ($XDG_CACHE_HOME/hcg, else ~/.cache/hcg) and its entries: OpenCL
 * program binaries, cost profiles and GEMM tunings, each a file that a later process trusts only
 * after checking it.
 *
 * An entry is one header line, then the payload:
 *   hcg-cache 1 source=<16 hex> length=<bytes> fnv64=<16 hex> id=<identity>\n<payload>
 * (the format version; a hash of what the payload was made from, e.g. the OpenCL source and
 * build options; the payload's length and FNV-1a checksum; the device and driver identity the
 * payload belongs to). An entry that does not match in any of these, is truncated or longer, or is
 * not a regular file is deleted, with a one-line note on stderr, and the caller rebuilds it.
 * Entries are written to a temporary file, fsynced and renamed into place. */
#ifndef HCG_CACHE_H
#define HCG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/compiler.h"
#include "hcg/hcg.h"

/* The cache folder, created if missing; NULL when there is no usable one (then nothing is
 * cached and hcg_cache_problem says why). Thread-safe. */
const char *hcg_cache_dir(void);
/* Why there is no usable cache folder ("cannot create the folder /x/hcg: Not a directory"),
 * or NULL when there is one. */
const char *hcg_cache_problem(void);
/* Formats a path inside the cache folder (sub is "opencl/binary-....bin"), making its folder.
 * False (with a note, once) when there is no cache folder or the path does not fit in n. */
bool hcg_cache_path(char *buf, size_t n, const char *sub_fmt, ...) HCG_PRINTF(3, 4);

/* FNV-1a, 64 bits (h: 0 to start, or a previous result to continue). */
uint64_t hcg_fnv64(uint64_t h, const void *data, size_t n);

/* What an entry must match. */
typedef struct hcg_cache_key {
    const char *what;     /* for notes: "the OpenCL program cl/binary.cl for opencl:0" */
    const char *identity; /* one line: the device and driver ("opencl pthread-... driver 3.1") */
    uint64_t source;      /* a hash of what the payload was made from (0: nothing) */
    size_t max_length;    /* larger payloads are refused */
    const char *then;     /* for notes: what happens instead (NULL: "rebuilding it") */
} hcg_cache_key;

typedef enum hcg_cache_result {
    HCG_CACHE_MISSING = 0, /* no entry */
    HCG_CACHE_OK,          /* *data (caller frees, NUL-terminated) and *len are set */
    HCG_CACHE_DAMAGED      /* the entry did not match: deleted, noted */
} hcg_cache_result;

hcg_cache_result hcg_cache_load(const char *path, const hcg_cache_key *key, void **data, size_t *len);
/* Stores an entry (temporary file, fsync, rename). */
hcg_status hcg_cache_store(const char *path, const hcg_cache_key *key, const void *data, size_t len);
/* Deletes a damaged entry found by its user (a binary the device refused): notes why. */
void hcg_cache_discard(const char *path, const hcg_cache_key *key, const char *why);

#endif
