/* explain.c — the placement table of a plan: node, op, device, shape, predicted time and (after
 * a profiled run) measured time, then per-device totals and memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/plan.h"
#include "graph/op_table.h"

/* The workload group of a node: "teacher<i>", "m<i>" or "head" when its name starts with one and a
 * '/', else "model" (the student, the single model, gradients and updates). */
static void group_of(const char *name, char *buf, size_t n)
{
    const char *slash = strchr(name, '/');
    size_t len = slash ? (size_t)(slash - name) : 0;
    bool numbered = false;
    if (len > 7 && strncmp(name, "teacher", 7) == 0) numbered = true;
    if (len > 1 && name[0] == 'm' && strspn(name + 1, "0123456789") == len - 1) numbered = true;
    if (numbered && len > 7 && strncmp(name, "teacher", 7) == 0) numbered = strspn(name + 7, "0123456789") == len - 7;
    if (!numbered && !(len == 4 && strncmp(name, "head", 4) == 0)) {
        snprintf(buf, n, "model");
        return;
    }
    snprintf(buf, n, "%.*s", (int)len, name);
}

#define MAX_GROUPS 64

/* Which devices the scheduler predicts busy at the same time, and with which groups of nodes:
 * summed intersections of the predicted intervals of nodes on two devices. */
static void explain_overlap(const hcg_plan *p, FILE *f)
{
    char names[MAX_GROUPS][64];
    int n_groups = 0;
    double overlap[HCG_MAX_DEVICES][HCG_MAX_DEVICES] = {{0}};
    static double by_group[MAX_GROUPS][HCG_MAX_DEVICES][MAX_GROUPS][HCG_MAX_DEVICES];
    memset(by_group, 0, sizeof by_group);
    int *grp = malloc(sizeof(int) * ((size_t)p->n_exec + 1));
    if (!grp) return;
    for (int i = 0; i < p->n_exec; i++) {
        char g[64];
        group_of(p->exec[i].node->name, g, sizeof g);
        int k = 0;
        while (k < n_groups && strcmp(names[k], g) != 0) k++;
        if (k == n_groups && n_groups < MAX_GROUPS) snprintf(names[n_groups++], sizeof names[0], "%s", g);
        grp[i] = k < MAX_GROUPS ? k : MAX_GROUPS - 1;
    }
    for (int i = 0; i < p->n_exec; i++)
        for (int j = 0; j < p->n_exec; j++) {
            hcg_id a = p->exec[i].id, b = p->exec[j].id;
            int da = p->place[a], db = p->place[b];
            if (da >= db) continue;
            double lo = p->pred_start[a] > p->pred_start[b] ? p->pred_start[a] : p->pred_start[b];
            double ea = p->pred_start[a] + p->pred_time[a], eb = p->pred_start[b] + p->pred_time[b];
            double hi = ea < eb ? ea : eb;
            if (hi <= lo) continue;
            overlap[da][db] += hi - lo;
            by_group[grp[i]][da][grp[j]][db] += hi - lo;
        }
    free(grp);
    bool any = false;
    for (int d = 0; d < p->n_dev; d++)
        for (int e = d + 1; e < p->n_dev; e++) {
            if (overlap[d][e] <= 0) continue;
            if (!any) fprintf(f, "predicted overlap (devices working at the same time):\n");
            any = true;
            fprintf(f, "  %s with %s: %.2f us of the %.2f us makespan:", p->devs[d]->name, p->devs[e]->name,
                    overlap[d][e] * 1e6, p->pred_makespan * 1e6);
            for (int a = 0; a < n_groups; a++)
                for (int b = 0; b < n_groups; b++)
                    if (by_group[a][d][b][e] > 0.05 * overlap[d][e])
                        fprintf(f, " %s on %s beside %s on %s (%.2f us);", names[a], p->devs[d]->name, names[b],
                                p->devs[e]->name, by_group[a][d][b][e] * 1e6);
            fprintf(f, "\n");
        }
    if (!any && p->n_dev > 1) fprintf(f, "predicted overlap: none (no two devices work at the same time)\n");
}

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
    explain_overlap(p, f);
    fprintf(f, "\nrewrites: %d\n", g->n_notes);
    for (int i = 0; i < g->n_notes; i++) fprintf(f, "  fused: %s\n", g->notes[i]);
}
