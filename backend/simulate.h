/* simulate.h — simulated devices from cost profiles, and planning for them. */
#ifndef HCG_SIMULATE_H
#define HCG_SIMULATE_H

#include "backend/sched.h"

/* Reads {"devices": [{"name", "type", "host", "gflops", "mem_gbps", "launch_us", "h2d_gbps",
 * "d2h_gbps", "link_latency_us", "supports" | "unsupported": [ops]}]}. */
hcg_status hcg_sim_load(const char *path, hcg_device **devs, int max, int *n_out);
void hcg_sim_free(hcg_device **devs, int n);
/* Plans a bound graph for the simulated devices and reports the makespans of the alternatives. */
hcg_status hcg_sim_evaluate(const hcg_graph *bound, hcg_device **devs, int n, hcg_sched_report *r);

#endif
