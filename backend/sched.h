/* sched.h — placement (HEFT-style list scheduling with a single-device safeguard) and the
 * predicted makespans of the alternatives, for `hcg plan --explain` and `--simulate`. */
#ifndef HCG_SCHED_H
#define HCG_SCHED_H

#include "backend/plan.h"

typedef struct hcg_sched_report {
    int n_dev;
    double heft;                     /* HEFT's predicted makespan, seconds */
    double single[HCG_MAX_DEVICES];  /* everything on one device (INFINITY: it cannot run all) */
    double greedy;                   /* greedy priority list (GPU, accelerator, CPU) */
    double chosen;                   /* the plan hcg uses: the best of the above but greedy */
    int choice;                      /* -1: HEFT's placement; else the single device used */
} hcg_sched_report;

/* Places plan->bound's nodes (fills place, pred_time, pred_start, pred_makespan) and reports the
 * alternatives' predicted makespans. */
hcg_status hcg_sched_evaluate(hcg_plan *plan, const hcg_measurements *measured, hcg_sched_report *report);

/* Where each state tensor of plan->bound lives under placement `place` (nodes in `order`): its
 * pin, else the device of the node that updates it in place, else that of its first reader.
 * Fills owner[id] for state nodes only (-1: never read). */
void hcg_sched_state_owners(const hcg_plan *p, const hcg_id *order, int n_order, const int *place, int *owner);

#endif
