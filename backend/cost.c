/* cost.c — the cost model (a node's predicted time on a device, a tensor's move between
 * devices) and measured device cost profiles in the cache folder (checked entries, cache.c;
 * numbers outside what a real device can have count as damage). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "backend/cache.h"
#include "graph/op_table.h"

double hcg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Operations per f16 element a kernel widens to f32: a conversion instruction where the device
 * converts halves in hardware (hcg_device.fp16: F16C on the CPU, cl_khr_fp16 on OpenCL), a dozen
 * integer steps where it does so in software (the exponent and mantissa moved and rebiased,
 * subnormals, infinities and NaNs handled). */
#define HALF_WIDEN_HARDWARE 1.0
#define HALF_WIDEN_SOFTWARE 12.0

/* The f16 elements node n widens as it computes: a cast from f16, an f16 weight a product reads,
 * f16 scales. (Ops that only move f16 data, such as gather or transpose, convert nothing.) */
static double half_elements(const hcg_graph *g, const hcg_node *n)
{
    if (n->op != HCG_OP_CAST && n->op != HCG_OP_FUSED_MATMUL && n->op != HCG_OP_QUANT_MATMUL &&
        n->op != HCG_OP_DEQUANTIZE)
        return 0;
    double elems = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        const hcg_node *x = &g->nodes[n->inputs[i]];
        int64_t numel;
        if (x->dtype == HCG_F16 && hcg_shape_numel(&x->shape, &numel)) elems += (double)numel;
    }
    return elems;
}

double hcg_device_estimate(hcg_device *d, const hcg_graph *g, const hcg_node *n)
{
    double flops, bytes;
    hcg_node_cost(g, n, &flops, &bytes);
    flops += half_elements(g, n) * (d->fp16 ? HALF_WIDEN_HARDWARE : HALF_WIDEN_SOFTWARE);
    if (flops == 0 && bytes == 0) return 0; /* views and sources cost nothing */
    const hcg_cost_profile *c = &d->cost;
    double t_compute = c->gflops > 0 ? flops / (c->gflops * 1e9) : 0;
    double t_memory = c->mem_gbps > 0 ? bytes / (c->mem_gbps * 1e9) : 0;
    return c->launch_us * 1e-6 + (t_compute > t_memory ? t_compute : t_memory);
}

int hcg_host_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 1 << 20 ? (int)n : 1;
}

bool hcg_devices_contend(const hcg_device *a, const hcg_device *b)
{
    if (a == b || !a->shares[0] || strcmp(a->shares, b->shares) != 0) return false;
    int have = a->shared_cores < b->shared_cores ? a->shared_cores : b->shared_cores;
    return a->cores <= 0 || b->cores <= 0 || have <= 0 || a->cores + b->cores > have;
}

/* One leg of a move: device <-> host. The CPU device is the host: free. */
static double leg(const hcg_device *d, size_t bytes, bool to_device)
{
    if (!d || d->host_memory) return 0;
    double bw = to_device ? d->cost.h2d_gbps : d->cost.d2h_gbps;
    return d->cost.link_latency_us * 1e-6 + (bw > 0 ? (double)bytes / (bw * 1e9) : 0);
}

double hcg_transfer_estimate(const hcg_device *a, const hcg_device *b, size_t bytes)
{
    if (a == b) return 0;
    return leg(a, bytes, false) + leg(b, bytes, true);
}

/* ---------------------------------------------------------------- the cache */

/* The key of a device's profile: the backend, the device's name and its driver version. */
static bool cost_path(const hcg_device *d, char *buf, size_t n, hcg_cache_key *key, char *identity, size_t id_len)
{
    char name[512];
    snprintf(name, sizeof name, "%s-%s-%s", d->iface->name, d->device_name[0] ? d->device_name : d->name, d->driver);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            *p = '_';
    snprintf(identity, id_len, "cost profile; %s; %s; driver %s", d->iface->name,
             d->device_name[0] ? d->device_name : d->name, d->driver);
    *key = (hcg_cache_key){.what = d->name, .identity = identity, .source = 0, .max_length = 1 << 16,
                           .then = "using the default cost profile (hcg devices --calibrate measures it again)"};
    return hcg_cache_path(buf, n, "cost/%s.json", name);
}

/* The cost profile's numbers as JSON fields with the range a real device can have: one list for
 * storing, loading (values outside the range mean a damaged entry) and describing. */
#define COST_FIELDS(X)                                                                             \
    X(gflops, 1e-3, 1e7) X(mem_gbps, 1e-3, 1e5) X(launch_us, 0, 1e6) X(h2d_gbps, 1e-3, 1e5)        \
    X(d2h_gbps, 1e-3, 1e5) X(link_latency_us, 0, 1e6)

void hcg_cost_add_json(struct cJSON *o, const hcg_cost_profile *c)
{
#define ADD_FIELD(f, lo, hi) cJSON_AddNumberToObject(o, #f, c->f);
    COST_FIELDS(ADD_FIELD)
#undef ADD_FIELD
}

bool hcg_cost_load(hcg_device *d)
{
    char path[PATH_MAX], identity[1024];
    hcg_cache_key key;
    if (!cost_path(d, path, sizeof path, &key, identity, sizeof identity)) return false;
    void *text = NULL;
    size_t len = 0;
    if (hcg_cache_load(path, &key, &text, &len) != HCG_CACHE_OK) return false;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    hcg_cost_profile c = d->cost;
    char why[256] = "";
#define LOAD_FIELD(f, lo, hi)                                                                      \
    if (!why[0]) {                                                                                 \
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, #f);                                        \
        if (!cJSON_IsNumber(v)) snprintf(why, sizeof why, "no number '%s'", #f);                   \
        else if (!(v->valuedouble >= (lo) && v->valuedouble <= (hi)))                              \
            snprintf(why, sizeof why, "%s = %g is outside [%g, %g]", #f, v->valuedouble, (double)(lo), (double)(hi)); \
        else c.f = v->valuedouble;                                                                 \
    }
    if (!o) snprintf(why, sizeof why, "not JSON");
    COST_FIELDS(LOAD_FIELD)
#undef LOAD_FIELD
    cJSON_Delete(o);
    if (why[0]) {
        hcg_cache_discard(path, &key, why);
        return false;
    }
    c.calibrated = true;
    d->cost = c;
    return true;
}

hcg_status hcg_cost_store(const hcg_device *d)
{
    char path[PATH_MAX], identity[1024];
    hcg_cache_key key;
    if (!cost_path(d, path, sizeof path, &key, identity, sizeof identity))
        return hcg_error(HCG_ERR_IO, "cannot store the cost profile of %s: %s", d->name,
                         hcg_cache_problem() ? hcg_cache_problem() : "its path in the cache folder is too long");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device", d->name);
    cJSON_AddStringToObject(o, "device_name", d->device_name);
    cJSON_AddStringToObject(o, "driver", d->driver);
    hcg_cost_add_json(o, &d->cost);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    hcg_status st = hcg_cache_store(path, &key, text, strlen(text));
    free(text);
    return st;
}

hcg_status hcg_device_calibrate(hcg_device *d, FILE *log)
{
    if (!d->iface->calibrate) return HCG_OK;
    return d->iface->calibrate(d, log);
}
