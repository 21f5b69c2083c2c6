/* simulate.c — hypothetical devices described only by cost profiles (from a JSON file), for
 * `hcg plan --simulate`: judging placement at scales this machine does not have. A simulated
 * device supports every op unless its description lists "supports" or "unsupported" ops; it is
 * calibrated unless "calibrated": false; it has hardware of its own unless "shares" names compute
 * it shares with others ("cores" of its "shared_cores"), as the cpu and POCL share the host. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/cpu/cpu.h"
#include "backend/sched.h"
#include "backend/simulate.h"
#include "graph/bind.h"
#include "graph/fileio.h"
#include "graph/op_table.h"

typedef struct sim_ctx {
    bool supported[HCG_OP_COUNT];
} sim_ctx;

static bool sim_supports(hcg_device *d, const hcg_graph *g, const hcg_node *n)
{
    (void)g;
    return ((sim_ctx *)d->ctx)->supported[n->op];
}

/* Simulated devices are planned for, never registered or run: supports() is all they need. */
static const hcg_backend_iface sim_iface = {.version = HCG_BACKEND_IFACE_VERSION, .name = "sim", .supports = sim_supports};

static double num(const cJSON *o, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static hcg_status op_list(const cJSON *list, bool *mask, bool value, const char *dev)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        hcg_op op;
        if (!cJSON_IsString(it) || !hcg_op_parse(it->valuestring, &op))
            return hcg_error(HCG_ERR_FORMAT, "simulated device '%s': '%s' is not an op", dev,
                             cJSON_IsString(it) ? it->valuestring : "?");
        mask[op] = value;
    }
    return HCG_OK;
}

hcg_status hcg_sim_load(const char *path, hcg_device **devs, int max, int *n_out)
{
    *n_out = 0;
    char *text = NULL;
    size_t len = 0;
    hcg_status rst = hcg_read_file(path, &text, &len); /* a FIFO or a folder is refused at once */
    if (rst) return rst;
    if (len >= (1 << 24)) {
        free(text);
        return hcg_error(HCG_ERR_IO, "%s: %zu bytes is too large for a device description", path, len);
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return hcg_error(HCG_ERR_FORMAT, "%s: not valid JSON", path);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "devices"), *it;
    hcg_status st = HCG_OK;
    if (!cJSON_IsArray(list)) st = hcg_error(HCG_ERR_FORMAT, "%s: expected {\"devices\": [...]}", path);
    cJSON_ArrayForEach(it, list)
    {
        if (st) break;
        if (*n_out == max) {
            st = hcg_error(HCG_ERR_FORMAT, "%s: more than %d devices", path, max);
            break;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
        hcg_device *d = calloc(1, sizeof *d);
        sim_ctx *c = calloc(1, sizeof *c);
        if (!d || !c) {
            free(d);
            free(c);
            st = hcg_error(HCG_ERR_NOMEM, "out of memory");
            break;
        }
        d->iface = &sim_iface;
        d->ctx = c;
        snprintf(d->name, sizeof d->name, "%s", cJSON_IsString(name) ? name->valuestring : "sim");
        const char *t = cJSON_IsString(type) ? type->valuestring : "gpu";
        d->type = strcmp(t, "cpu") == 0 ? HCG_DEVICE_CPU : strcmp(t, "accelerator") == 0 ? HCG_DEVICE_ACCELERATOR
                                                                                       : HCG_DEVICE_GPU;
        d->host_memory = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "host"));
        d->cost = (hcg_cost_profile){.gflops = num(it, "gflops", 100), .mem_gbps = num(it, "mem_gbps", 50),
                                     .launch_us = num(it, "launch_us", 5), .h2d_gbps = num(it, "h2d_gbps", 16),
                                     .d2h_gbps = num(it, "d2h_gbps", 16),
                                     .link_latency_us = num(it, "link_latency_us", 10),
                                     .calibrated = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(it, "calibrated"))};
        /* "shares": "host" with "cores" and "shared_cores": compute shared with other devices */
        const cJSON *shares = cJSON_GetObjectItemCaseSensitive(it, "shares");
        if (cJSON_IsString(shares)) snprintf(d->shares, sizeof d->shares, "%s", shares->valuestring);
        d->cores = (int)num(it, "cores", 0);
        d->shared_cores = (int)num(it, "shared_cores", 0);
        snprintf(d->description, sizeof d->description, "simulated %s: %.0f GFLOP/s, %.0f GB/s", t, d->cost.gflops,
                 d->cost.mem_gbps);
        const cJSON *sup = cJSON_GetObjectItemCaseSensitive(it, "supports");
        const cJSON *uns = cJSON_GetObjectItemCaseSensitive(it, "unsupported");
        for (int op = 0; op < HCG_OP_COUNT; op++) c->supported[op] = !sup;
        if (sup) st = op_list(sup, c->supported, true, d->name);
        if (!st && uns) st = op_list(uns, c->supported, false, d->name);
        /* sources and views are free everywhere */
        for (int op = 0; op < HCG_OP_COUNT; op++)
            if (hcg_op_info_get((hcg_op)op)->flags & (HCG_OPF_SOURCE | HCG_OPF_VIEW)) c->supported[op] = true;
        devs[(*n_out)++] = d;
    }
    cJSON_Delete(root);
    if (st) {
        hcg_sim_free(devs, *n_out);
        *n_out = 0;
    }
    return st;
}

void hcg_sim_free(hcg_device **devs, int n)
{
    for (int i = 0; i < n; i++) {
        free(devs[i]->ctx);
        free(devs[i]);
    }
}

hcg_status hcg_sim_evaluate(const hcg_graph *bound, hcg_device **devs, int n, hcg_sched_report *r)
{
    hcg_plan p;
    memset(&p, 0, sizeof p);
    p.bound = (hcg_graph *)bound;
    p.n_dev = n;
    for (int i = 0; i < n; i++) p.devs[i] = devs[i];
    size_t nn = (size_t)bound->n_nodes + 1;
    p.place = malloc(sizeof(int) * nn);
    p.pred_time = calloc(nn, sizeof(double));
    p.pred_start = calloc(nn, sizeof(double));
    hcg_status st = p.place && p.pred_time && p.pred_start ? hcg_sched_evaluate(&p, NULL, r)
                                                           : hcg_error(HCG_ERR_NOMEM, "out of memory");
    free(p.place);
    free(p.pred_time);
    free(p.pred_start);
    return st;
}

hcg_status hcg_simulate(const hcg_graph *g, const hcg_shape *shapes, const char *profiles_path, hcg_simulation *out)
{
    if (!g || !shapes || !profiles_path || !out) return hcg_error(HCG_ERR_ARG, "simulate: a graph, shapes, profiles and an output are needed");
    memset(out, 0, sizeof *out);
    hcg_device *devs[HCG_MAX_DEVICES];
    int n = 0;
    hcg_graph *bound = NULL;
    hcg_bind_options bo = {.eval = hcg_cpu_eval};
    hcg_status st = hcg_graph_bind(g, shapes, &bo, &bound);
    if (st) return st;
    if ((st = hcg_sim_load(profiles_path, devs, HCG_MAX_DEVICES, &n))) {
        hcg_graph_free(bound);
        return st;
    }
    hcg_sched_report r;
    if (!(st = hcg_sim_evaluate(bound, devs, n, &r))) {
        out->n_devices = n;
        out->n_nodes = bound->n_nodes;
        for (int d = 0; d < n; d++) {
            snprintf(out->device[d], sizeof out->device[d], "%s", devs[d]->name);
            out->single[d] = r.single[d];
        }
        out->chosen = r.chosen;
        out->heft = r.heft;
        out->greedy = r.greedy;
        out->choice = r.choice;
    }
    hcg_sim_free(devs, n);
    hcg_graph_free(bound);
    return st;
}
