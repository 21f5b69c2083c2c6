/* fileio.h — small file helpers the readers and writers share: atomic writes (a temporary file
 * beside the target, renamed over it once complete, so no half-written file is ever left) and
 * reading a whole file with its size checked. */
#ifndef HCG_FILEIO_H
#define HCG_FILEIO_H

#include <stdio.h>
#include <sys/stat.h>

#include "hcg/hcg.h"

/* A file being written atomically. */
typedef struct hcg_atomic_file {
    FILE *f;     /* write the contents here */
    char *tmp;   /* the temporary path beside the target */
    char *final; /* the target path */
} hcg_atomic_file;

/* Creates a temporary file in the target's folder (respecting the umask like a plain fopen). */
hcg_status hcg_atomic_begin(hcg_atomic_file *af, const char *path);
/* Writes n bytes; on failure the caller must still call hcg_atomic_abort. */
hcg_status hcg_atomic_write(hcg_atomic_file *af, const void *data, size_t n);
/* Flushes, syncs and closes the temporary file (the contents are on disk; commit renames). */
hcg_status hcg_atomic_sync(hcg_atomic_file *af);
/* Flushes, syncs and renames the temporary file over the target. On failure the temporary
 * file is removed. Either way af is released. */
hcg_status hcg_atomic_commit(hcg_atomic_file *af);
/* Removes the temporary file and releases af (safe to call on a zeroed or released af). */
void hcg_atomic_abort(hcg_atomic_file *af);

/* The public handle of a file written but not yet renamed into place (hcg_npy_save_pending,
 * hcg_pending_commit, hcg_pending_abort in hcg.h). */
struct hcg_pending_file {
    hcg_atomic_file af;
};

/* hcg_write_file_atomic (a whole file through hcg_atomic_begin / write / commit), hcg_make_dirs
 * and hcg_read_file are public: hcg.h. */

/* Opens a file for reading only if it is a regular file: FIFOs, devices and folders are refused
 * with a clear error without blocking (the open is non-blocking, then the mode is checked).
 * sb_out (may be NULL) receives its stat. When the open itself fails, errno is open's. */
hcg_status hcg_open_regular(const char *path, int *fd, struct stat *sb_out);
/* The same as a stdio stream ("rb"). */
hcg_status hcg_fopen_regular(const char *path, FILE **f, struct stat *sb_out);

#endif
