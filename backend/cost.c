/* cost.c — the cost model (a node's predicted time on a device, a tensor's move between
 * devices) and the on-disk cache of measured device cost profiles. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "graph/fileio.h"
#include "graph/op_table.h"

double hcg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double hcg_device_estimate(hcg_device *d, const hcg_graph *g, const hcg_node *n)
{
    if (d->iface->estimate) return d->iface->estimate(d, g, n);
    double flops, bytes;
    hcg_node_cost(g, n, &flops, &bytes);
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

static char cache_dir[1024];

const char *hcg_cache_dir(void)
{
    if (!cache_dir[0]) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && *xdg) snprintf(cache_dir, sizeof cache_dir, "%s/hcg", xdg);
        else snprintf(cache_dir, sizeof cache_dir, "%s/.cache/hcg", home && *home ? home : "/tmp");
        hcg_make_dirs(cache_dir); /* a failure shows when something is written there */
    }
    return cache_dir;
}

static void cost_path(const hcg_device *d, char *buf, size_t n)
{
    char key[512];
    snprintf(key, sizeof key, "%s-%s-%s", d->iface->name, d->device_name[0] ? d->device_name : d->name, d->driver);
    for (char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            *p = '_';
    snprintf(buf, n, "%s/cost/%s.json", hcg_cache_dir(), key);
}

/* The cost profile's numbers as JSON fields: one list for storing, loading and describing. */
#define COST_FIELDS(X)                                                                             \
    X(gflops) X(mem_gbps) X(launch_us) X(h2d_gbps) X(d2h_gbps) X(link_latency_us)

void hcg_cost_add_json(struct cJSON *o, const hcg_cost_profile *c)
{
#define ADD_FIELD(f) cJSON_AddNumberToObject(o, #f, c->f);
    COST_FIELDS(ADD_FIELD)
#undef ADD_FIELD
}

bool hcg_cost_load(hcg_device *d)
{
    char path[1536];
    cost_path(d, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    cJSON *o = cJSON_Parse(buf);
    if (!o) return false;
    hcg_cost_profile c = d->cost;
    bool ok = true;
#define LOAD_FIELD(f)                                                                              \
    {                                                                                              \
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, #f);                                        \
        if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0) c.f = v->valuedouble; \
        else ok = false;                                                                           \
    }
    COST_FIELDS(LOAD_FIELD)
#undef LOAD_FIELD
    cJSON_Delete(o);
    if (!ok) return false;
    c.calibrated = true;
    d->cost = c;
    return true;
}

hcg_status hcg_cost_store(const hcg_device *d)
{
    char path[1536], dir[1100];
    snprintf(dir, sizeof dir, "%s/cost", hcg_cache_dir());
    hcg_status st = hcg_make_dirs(dir);
    if (st) return st;
    cost_path(d, path, sizeof path);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device", d->name);
    cJSON_AddStringToObject(o, "device_name", d->device_name);
    cJSON_AddStringToObject(o, "driver", d->driver);
    hcg_cost_add_json(o, &d->cost);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    st = hcg_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

hcg_status hcg_device_calibrate(hcg_device *d, FILE *log)
{
    if (!d->iface->calibrate) return HCG_OK;
    return d->iface->calibrate(d, log);
}
