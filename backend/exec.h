/* exec.h — running a plan on its devices (one worker per device, concurrent segments). */
#ifndef HCG_EXEC_H
#define HCG_EXEC_H

#include "backend/plan.h"

/* Runs every step of p. The caller has set p->input_bufs (host memory of the graph inputs) and
 * p->output_bufs (host memory of the outputs written in place) and bound the weights. Step
 * times (and, when profiling, node times) are recorded relative to *t0_out. */
hcg_status hcg_exec_plan(hcg_plan *p, bool profile, double *t0_out);

#endif
