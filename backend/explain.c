/* explain.c — the placement table of a plan: node, op, device, shape, predicted time and (after
 * a profiled run) measured time, then per-device totals and memory. */
#include <stdio.h>

#include "backend/plan.h"
#include "graph/op_table.h"

void hcg_plan_explain(const hcg_plan *p, FILE *f, bool with_measured)
{
    if (!p) return;
    const hcg_graph *g = p->bound;
    char shape[128];
    fprintf(f, "%-28s %-14s %-10s %-22s %12s", "NODE", "OP", "DEVICE", "SHAPE", "PREDICTED us");
    if (with_measured) fprintf(f, " %12s", "MEASURED us");
    fprintf(f, "\n");
    for (int i = 0; i < p->n_exec; i++) {
        const hcg_exec_node *en = &p->exec[i];
        hcg_id id = en->id;
        hcg_graph_format_shape(g, &en->node->shape, shape, sizeof shape);
        fprintf(f, "%-28.28s %-14s %-10s %-22.22s %12.2f", en->node->name, hcg_op_name(en->node->op),
                p->devs[p->place[id]]->name, shape, p->pred_time[id] * 1e6);
        if (with_measured) fprintf(f, " %12.2f", en->measured_s * 1e6);
        fprintf(f, "\n");
    }
    int copies = 0, segments = 0;
    for (int s = 0; s < p->n_steps; s++) {
        copies += p->steps[s].kind == HCG_STEP_COPY;
        segments += p->steps[s].kind == HCG_STEP_SEGMENT;
    }
    fprintf(f, "\npredicted makespan %.2f us; %d segments, %d copies; planned in %.1f us (%.3f us per node)\n",
            p->pred_makespan * 1e6, segments, copies, p->plan_seconds * 1e6,
            g->n_nodes ? p->plan_seconds * 1e6 / g->n_nodes : 0.0);
    for (int d = 0; d < p->n_dev; d++) {
        int nodes = 0;
        double busy = 0;
        for (int i = 0; i < p->n_exec; i++)
            if (p->place[p->exec[i].id] == d) {
                nodes++;
                busy += p->pred_time[p->exec[i].id];
            }
        size_t state = 0;
        for (hcg_id id = 0; id < g->n_nodes; id++)
            if (p->state_owner[id] == d) state += hcg_node_nbytes(&g->nodes[id]);
        fprintf(f, "%-10s %5d nodes, predicted busy %.2f us, arena %zu bytes in %d buffer%s (liveness lower bound %zu)",
                p->devs[d]->name, nodes, busy * 1e6, p->arena_size[d], p->n_arenas[d], p->n_arenas[d] == 1 ? "" : "s",
                p->arena_lower_bound[d]);
        if (state) fprintf(f, ", state %zu bytes", state);
        fprintf(f, "\n");
    }
    fprintf(f, "\nrewrites: %d\n", g->n_notes);
    for (int i = 0; i < g->n_notes; i++) fprintf(f, "  fused: %s\n", g->notes[i]);
}
