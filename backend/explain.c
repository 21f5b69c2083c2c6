/* explain.c — what a session planned, as data and as text: the current plan's summary, its rows
 * (node, op, device, shape, predicted and measured times), per-device work and memory, the
 * rewrites made, where a graph node runs, and the placement table `hcg run --explain` prints,
 * which is written from those same calls (so the text and the data cannot disagree). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/session_impl.h"
#include "graph/op_table.h"

static const hcg_plan *current_plan(const hcg_session *s)
{
    if (!s) {
        hcg_error(HCG_ERR_ARG, "no session");
        return NULL;
    }
    if (!s->last_plan) hcg_error(HCG_ERR_NOT_FOUND, "the session has no plan yet (run it, or hcg_session_prepare)");
    return s->last_plan;
}

hcg_status hcg_session_plan_info(const hcg_session *s, hcg_plan_info *out)
{
    const hcg_plan *p = current_plan(s);
    if (!p || !out) return p ? hcg_error(HCG_ERR_ARG, "plan_info: no output") : HCG_ERR_NOT_FOUND;
    memset(out, 0, sizeof *out);
    out->n_nodes = p->n_exec;
    out->n_devices = p->n_dev;
    for (int i = 0; i < p->n_steps; i++) {
        out->n_copies += p->steps[i].kind == HCG_STEP_COPY;
        out->n_segments += p->steps[i].kind == HCG_STEP_SEGMENT;
    }
    out->n_rewrites = p->bound->n_notes;
    out->predicted_seconds = p->pred_makespan;
    out->plan_seconds = p->plan_seconds;
    out->setup_seconds = s->last_setup_seconds;
    out->bind_seconds = s->last_bind_seconds;
    out->measured = s->last_profiled;
    out->last_run_seconds = s->last_run_seconds;
    return HCG_OK;
}

hcg_status hcg_session_plan_node(const hcg_session *s, int i, hcg_plan_node *out)
{
    const hcg_plan *p = current_plan(s);
    if (!p) return HCG_ERR_NOT_FOUND;
    if (!out || i < 0 || i >= p->n_exec) return hcg_error(HCG_ERR_ARG, "plan_node: no row %d (the plan has %d)", i, p->n_exec);
    const hcg_exec_node *en = &p->exec[i];
    hcg_id id = en->id;
    out->name = en->node->name;
    out->op = en->node->op;
    out->device = p->devs[p->place[id]]->name;
    out->dtype = en->node->dtype;
    out->shape = en->node->shape;
    out->predicted_start = p->pred_start[id];
    out->predicted_seconds = p->pred_time[id];
    out->measured_start = s->last_profiled ? en->start_s : NAN;
    out->measured_seconds = s->last_profiled ? en->measured_s : NAN;
    return HCG_OK;
}

hcg_status hcg_session_plan_device(const hcg_session *s, int d, hcg_plan_device *out)
{
    const hcg_plan *p = current_plan(s);
    if (!p) return HCG_ERR_NOT_FOUND;
    if (!out || d < 0 || d >= p->n_dev) return hcg_error(HCG_ERR_ARG, "plan_device: no device %d (the plan has %d)", d, p->n_dev);
    const hcg_graph *g = p->bound;
    memset(out, 0, sizeof *out);
    out->name = p->devs[d]->name;
    for (int i = 0; i < p->n_exec; i++)
        if (p->place[p->exec[i].id] == d) {
            out->n_nodes++;
            out->predicted_busy_seconds += p->pred_time[p->exec[i].id];
        }
    out->arena_bytes = p->arena_size[d];
    out->arena_buffers = p->n_arenas[d];
    out->arena_lower_bound = p->arena_lower_bound[d];
    for (hcg_id id = 0; id < g->n_nodes; id++)
        if (p->state_owner[id] == d) out->state_bytes += hcg_node_nbytes(&g->nodes[id]);
    return HCG_OK;
}

const char *hcg_session_plan_rewrite(const hcg_session *s, int i)
{
    const hcg_plan *p = current_plan(s);
    return p && i >= 0 && i < p->bound->n_notes ? p->bound->notes[i] : NULL;
}

const char *hcg_session_node_device(const hcg_session *s, const char *node)
{
    const hcg_plan *p = current_plan(s);
    hcg_id want = p ? hcg_graph_find(s->g, node) : -1;
    if (want < 0) return NULL;
    for (int i = 0; i < p->n_exec; i++) {
        hcg_id id = p->exec[i].id;
        if (p->bound->origin && p->bound->origin[id] == want) return p->devs[p->place[id]]->name;
    }
    return NULL;
}

hcg_status hcg_session_write_plan_trace(const hcg_session *s, const char *path)
{
    const hcg_plan *p = current_plan(s);
    return p ? hcg_plan_write_trace(p, path) : HCG_ERR_NOT_FOUND;
}

/* ---------------------------------------------------------------- the table as text */

/* The workload group of a node: "teacher<i>", "m<i>" or "head" when its name starts with one and a
 * '/', else "model" (the student, the single model, gradients and updates). */
static void group_of(const char *name, char *buf, size_t n)
{
    const char *slash = strchr(name, '/');
    size_t len = slash ? (size_t)(slash - name) : 0;
    bool numbered = false;
    if (len > 7 && strncmp(name, "teacher", 7) == 0) numbered = strspn(name + 7, "0123456789") == len - 7;
    else if (len > 1 && name[0] == 'm') numbered = strspn(name + 1, "0123456789") == len - 1;
    if (!numbered && !(len == 4 && strncmp(name, "head", 4) == 0)) {
        snprintf(buf, n, "model");
        return;
    }
    snprintf(buf, n, "%.*s", (int)len, name);
}

#define MAX_GROUPS 64

/* Which devices the scheduler predicts busy at the same time, and with which groups of nodes:
 * summed intersections of the predicted intervals of nodes on two devices. */
static void explain_overlap(const hcg_plan_info *info, const hcg_plan_node *rows, const hcg_plan_device *devs, FILE *f)
{
    char names[MAX_GROUPS][64];
    int n_groups = 0;
    double overlap[HCG_MAX_DEVICES][HCG_MAX_DEVICES] = {{0}};
    size_t nd = (size_t)info->n_devices;
    /* [group a][device da][group b][device db]: a on da beside b on db */
#define BY_GROUP(a, da, b, db) by_group[(((size_t)(a) * nd + (size_t)(da)) * MAX_GROUPS + (size_t)(b)) * nd + (size_t)(db)]
    double *by_group = calloc(MAX_GROUPS * MAX_GROUPS * nd * nd + 1, sizeof(double));
    int *grp = malloc(sizeof(int) * ((size_t)info->n_nodes + 1)), *dev = malloc(sizeof(int) * ((size_t)info->n_nodes + 1));
    if (!grp || !dev || !by_group) {
        free(grp);
        free(dev);
        free(by_group);
        return;
    }
    for (int i = 0; i < info->n_nodes; i++) {
        char g[64];
        group_of(rows[i].name, g, sizeof g);
        int k = 0;
        while (k < n_groups && strcmp(names[k], g) != 0) k++;
        if (k == n_groups && n_groups < MAX_GROUPS) snprintf(names[n_groups++], sizeof names[0], "%s", g);
        grp[i] = k < MAX_GROUPS ? k : MAX_GROUPS - 1;
        dev[i] = 0;
        for (int d = 0; d < info->n_devices; d++)
            if (strcmp(devs[d].name, rows[i].device) == 0) dev[i] = d;
    }
    for (int i = 0; i < info->n_nodes; i++)
        for (int j = 0; j < info->n_nodes; j++) {
            int da = dev[i], db = dev[j];
            if (da >= db) continue;
            const hcg_plan_node *a = &rows[i], *b = &rows[j];
            double lo = a->predicted_start > b->predicted_start ? a->predicted_start : b->predicted_start;
            double ea = a->predicted_start + a->predicted_seconds, eb = b->predicted_start + b->predicted_seconds;
            double hi = ea < eb ? ea : eb;
            if (hi <= lo) continue;
            overlap[da][db] += hi - lo;
            BY_GROUP(grp[i], da, grp[j], db) += hi - lo;
        }
    free(grp);
    free(dev);
    bool any = false;
    for (int d = 0; d < info->n_devices; d++)
        for (int e = d + 1; e < info->n_devices; e++) {
            if (overlap[d][e] <= 0) continue;
            if (!any) fprintf(f, "predicted overlap (devices working at the same time):\n");
            any = true;
            fprintf(f, "  %s with %s: %.2f us of the %.2f us makespan:", devs[d].name, devs[e].name, overlap[d][e] * 1e6,
                    info->predicted_seconds * 1e6);
            for (int a = 0; a < n_groups; a++)
                for (int b = 0; b < n_groups; b++)
                    if (BY_GROUP(a, d, b, e) > 0.05 * overlap[d][e])
                        fprintf(f, " %s on %s beside %s on %s (%.2f us);", names[a], devs[d].name, names[b], devs[e].name,
                                BY_GROUP(a, d, b, e) * 1e6);
            fprintf(f, "\n");
        }
    if (!any && info->n_devices > 1) fprintf(f, "predicted overlap: none (no two devices work at the same time)\n");
    free(by_group);
#undef BY_GROUP
}

hcg_status hcg_session_explain(const hcg_session *s, FILE *f)
{
    hcg_plan_info info;
    hcg_status st = hcg_session_plan_info(s, &info);
    if (st) return st;
    if (!f) return hcg_error(HCG_ERR_ARG, "explain: no file");
    hcg_plan_node *rows = calloc((size_t)info.n_nodes + 1, sizeof *rows);
    hcg_plan_device devs[HCG_MAX_DEVICES];
    if (!rows) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < info.n_nodes && !st; i++) st = hcg_session_plan_node(s, i, &rows[i]);
    for (int d = 0; d < info.n_devices && !st; d++) st = hcg_session_plan_device(s, d, &devs[d]);
    if (st) {
        free(rows);
        return st;
    }
    char shape[128];
    fprintf(f, "%-28s %-14s %-10s %-22s %12s", "NODE", "OP", "DEVICE", "SHAPE", "PREDICTED us");
    if (info.measured) fprintf(f, " %12s", "MEASURED us");
    fprintf(f, "\n");
    for (int i = 0; i < info.n_nodes; i++) {
        const hcg_plan_node *r = &rows[i];
        hcg_graph_format_shape(s->last_plan->bound, &r->shape, shape, sizeof shape);
        fprintf(f, "%-28.28s %-14s %-10s %-22.22s %12.2f", r->name, hcg_op_name(r->op), r->device, shape,
                r->predicted_seconds * 1e6);
        if (info.measured) fprintf(f, " %12.2f", r->measured_seconds * 1e6);
        fprintf(f, "\n");
    }
    int bound_nodes = s->last_plan->bound->n_nodes;
    fprintf(f, "\npredicted makespan %.2f us; %d segments, %d copies; planned in %.1f us (%.3f us per node)\n",
            info.predicted_seconds * 1e6, info.n_segments, info.n_copies, info.plan_seconds * 1e6,
            bound_nodes ? info.plan_seconds * 1e6 / bound_nodes : 0.0);
    for (int d = 0; d < info.n_devices; d++) {
        const hcg_plan_device *v = &devs[d];
        fprintf(f, "%-10s %5d nodes, predicted busy %.2f us, arena %zu bytes in %d buffer%s (liveness lower bound %zu)",
                v->name, v->n_nodes, v->predicted_busy_seconds * 1e6, v->arena_bytes, v->arena_buffers,
                v->arena_buffers == 1 ? "" : "s", v->arena_lower_bound);
        if (v->state_bytes) fprintf(f, ", state %zu bytes", v->state_bytes);
        fprintf(f, "\n");
    }
    explain_overlap(&info, rows, devs, f);
    fprintf(f, "\nrewrites: %d\n", info.n_rewrites);
    for (int i = 0; i < info.n_rewrites; i++) fprintf(f, "  fused: %s\n", hcg_session_plan_rewrite(s, i));
    free(rows);
    return ferror(f) ? hcg_error(HCG_ERR_IO, "explain: writing the table failed") : HCG_OK;
}

char *hcg_session_explain_text(const hcg_session *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        hcg_error(HCG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    hcg_status st = hcg_session_explain(s, f);
    if (fclose(f) != 0 && !st) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (st) {
        free(text);
        return NULL;
    }
    return text;
}
