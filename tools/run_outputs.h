/* run_outputs.h — the outputs of `hcg run --output-dir` written as one set (see run_outputs.c). */
#ifndef HCG_RUN_OUTPUTS_H
#define HCG_RUN_OUTPUTS_H

#include "hcg/hcg.h"

typedef struct run_outputs {
    const char *dir;
    int n;
    char **files; /* per output: its file name in dir */
    char **paths; /* per output: dir/file */
} run_outputs;

/* Before running: names the files, refuses two outputs with one file name and names taken by
 * non-files, and cleans what stopped runs left in the folder (it makes nothing). */
hcg_status run_outputs_prepare(run_outputs *o, const char *dir, const hcg_graph *g);
/* After running: makes the folder, checks the space, writes the incomplete manifest, every
 * output, then the complete manifest. */
hcg_status run_outputs_write(run_outputs *o, const hcg_graph *g, hcg_tensor *const *t, const char *model);
const char *run_outputs_path(const run_outputs *o, int j);
void run_outputs_free(run_outputs *o);

#endif
