/* npy.h — the .npy writer's pieces for writing several files as one set (tools/run_outputs.c):
 * each written completely to its temporary file first, all renamed into place at the end.
 * (hcg_npy_load and hcg_npy_save are in hcg.h.) */
#ifndef HCG_NPY_H
#define HCG_NPY_H

#include "graph/fileio.h"

/* Writes t to a temporary file beside path and syncs it, without renaming it over path:
 * hcg_atomic_commit(af) does that (or hcg_atomic_abort removes it). On failure af is released. */
hcg_status hcg_npy_write_uncommitted(const char *path, const hcg_tensor *t, hcg_atomic_file *af);
/* The size of t's .npy file, at most (for checking the space before writing). */
size_t hcg_npy_file_size(const hcg_tensor *t);

#endif
