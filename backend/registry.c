/* registry.c — the device registry: discovery (on first use, again after hcg_shutdown), lookup
 * by name, device selection from a spec ("opencl:1,cpu", "gpu", "opencl", "auto", $HCG_DEVICES),
 * the device's public description (JSON, cost profile, shared compute), and the shutdown path
 * that gives every device back to its backend (iface->destroy). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "backend/cache.h"
#include "backend/cpu/cpu.h"
#include "backend/dist/dist.h"
#include "backend/fake/fake.h"
#ifdef HCG_HAVE_OPENCL
#include "backend/opencl/opencl.h"
#endif

#define MAX_DEVICES 64

static hcg_device *devices[MAX_DEVICES];
static int n_devices;
static char notes[8192];
/* Discovery runs once under the lock; readers check the flag without it (set after the devices). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool discovered;

static void discover(void)
{
    /* first: an unusable cache folder explains what follows (POCL offers no device without one) */
    if (hcg_cache_problem()) hcg_registry_note("%s", hcg_cache_problem());
    hcg_cpu_register();
#ifdef HCG_HAVE_OPENCL
    hcg_opencl_register();
#else
    hcg_registry_note("built without OpenCL: running on the CPU");
#endif
    hcg_fake_register();
}

static void ensure_discovered(void)
{
    if (atomic_load_explicit(&discovered, memory_order_acquire)) return;
    pthread_mutex_lock(&registry_lock);
    if (!atomic_load_explicit(&discovered, memory_order_relaxed)) {
        discover();
        atomic_store_explicit(&discovered, true, memory_order_release);
    }
    pthread_mutex_unlock(&registry_lock);
}

hcg_status hcg_registry_add(hcg_device *d)
{
    if (!d || !d->iface) return hcg_error(HCG_ERR_INTERNAL, "a device without a backend interface");
    if (d->iface->version != HCG_BACKEND_IFACE_VERSION)
        return hcg_error(HCG_ERR_UNSUPPORTED,
                         "device '%s': its backend '%s' implements the device interface version %d, and this hcg "
                         "(%s) has version %d: rebuild the backend against this hcg's backend/backend.h",
                         d->name, d->iface->name ? d->iface->name : "?", d->iface->version, hcg_version(),
                         HCG_BACKEND_IFACE_VERSION);
    if (!d->iface->supports || !d->iface->buffer_alloc || !d->iface->buffer_free || !d->iface->write ||
        !d->iface->read || !d->iface->run || !d->iface->synchronize)
        return hcg_error(HCG_ERR_UNSUPPORTED, "device '%s': its backend '%s' lacks a required interface member",
                         d->name, d->iface->name ? d->iface->name : "?");
    if (n_devices >= MAX_DEVICES) return hcg_error(HCG_ERR_UNSUPPORTED, "more than %d devices", MAX_DEVICES);
    devices[n_devices++] = d;
    return HCG_OK;
}

void hcg_shutdown(void)
{
    pthread_mutex_lock(&registry_lock);
    /* the last device first: a backend's later devices may lean on its first (a shared context) */
    for (int i = n_devices - 1; i >= 0; i--)
        if (devices[i]->iface->destroy) devices[i]->iface->destroy(devices[i]);
    memset(devices, 0, sizeof devices);
    n_devices = 0;
    notes[0] = 0;
    atomic_store_explicit(&discovered, false, memory_order_release);
    pthread_mutex_unlock(&registry_lock);
}

void hcg_registry_note(const char *fmt, ...)
{
    size_t used = strlen(notes);
    if (used + 2 >= sizeof notes) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(notes + used, sizeof notes - used - 1, fmt, ap);
    va_end(ap);
    used = strlen(notes);
    notes[used] = '\n';
    notes[used + 1] = 0;
}

const char *hcg_device_notes(void)
{
    ensure_discovered();
    return notes;
}

int hcg_device_count(void)
{
    ensure_discovered();
    return n_devices;
}

hcg_device *hcg_device_get(int index)
{
    ensure_discovered();
    return index >= 0 && index < n_devices ? devices[index] : NULL;
}

hcg_device *hcg_device_find(const char *name)
{
    ensure_discovered();
    for (int i = 0; name && i < n_devices; i++)
        if (strcmp(devices[i]->name, name) == 0) return devices[i];
    return NULL;
}

const char *hcg_device_name(const hcg_device *d) { return d ? d->name : "?"; }
hcg_device_type hcg_device_get_type(const hcg_device *d) { return d->type; }
const char *hcg_device_description(const hcg_device *d) { return d ? d->description : ""; }
const char *hcg_device_backend(const hcg_device *d) { return d && d->iface->name ? d->iface->name : "?"; }

hcg_cost_profile hcg_device_cost(const hcg_device *d)
{
    hcg_cost_profile none = {0};
    return d ? d->cost : none;
}

const char *hcg_device_shares(const hcg_device *d, int *cores, int *of)
{
    if (cores) *cores = d ? d->cores : 0;
    if (of) *of = d ? d->shared_cores : 0;
    return d ? d->shares : "";
}

const char *hcg_device_type_name(hcg_device_type t)
{
    switch (t) {
    case HCG_DEVICE_CPU: return "cpu";
    case HCG_DEVICE_GPU: return "gpu";
    case HCG_DEVICE_ACCELERATOR: return "accelerator";
    }
    return "?";
}

char *hcg_device_json(const hcg_device *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "type", hcg_device_type_name(d->type));
    cJSON_AddStringToObject(o, "backend", d->iface->name);
    cJSON_AddStringToObject(o, "description", d->description);
    cJSON_AddStringToObject(o, "platform", d->platform);
    cJSON_AddStringToObject(o, "vendor", d->vendor);
    cJSON_AddStringToObject(o, "device", d->device_name);
    cJSON_AddStringToObject(o, "version", d->version);
    cJSON_AddStringToObject(o, "driver", d->driver);
    cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem);
    cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem);
    cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
    if (d->shares[0]) {
        cJSON *sh = cJSON_AddObjectToObject(o, "shares");
        cJSON_AddStringToObject(sh, "compute", d->shares);
        cJSON_AddNumberToObject(sh, "cores", d->cores);
        cJSON_AddNumberToObject(sh, "of", d->shared_cores);
    }
    cJSON *ext = cJSON_AddObjectToObject(o, "features");
    cJSON_AddBoolToObject(ext, "fp16", d->fp16);
    cJSON_AddBoolToObject(ext, "fp64", d->fp64);
    cJSON_AddBoolToObject(ext, "subgroups", d->subgroups);
    cJSON *c = cJSON_AddObjectToObject(o, "cost");
    hcg_cost_add_json(c, &d->cost);
    cJSON_AddBoolToObject(c, "calibrated", d->cost.calibrated);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ---------------------------------------------------------------- selection */

static void list_devices(char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < n_devices; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", devices[i]->name);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

static void add_unique(hcg_device **out, int max, int *n, hcg_device *d)
{
    for (int i = 0; i < *n; i++)
        if (out[i] == d) return;
    if (*n < max) out[(*n)++] = d;
}

hcg_status hcg_devices_select(const char *spec, hcg_device **out, int max, int *n_out)
{
    char known[512], item[128];
    ensure_discovered();
    *n_out = 0;
    if (!spec || !*spec) spec = getenv("HCG_DEVICES");
    if (!spec || !*spec) spec = "auto";
    list_devices(known, sizeof known);
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ')) { p++; len--; }
        while (len && p[len - 1] == ' ') len--;
        if (len == 0 || len >= sizeof item)
            return hcg_error(HCG_ERR_ARG, "device list '%s': an empty or over-long entry", spec);
        memcpy(item, p, len);
        item[len] = 0;
        int before = *n_out;
        char *end = item;
        long on_rank = strncmp(item, "rank", 4) == 0 ? strtol(item + 4, &end, 10) : -1;
        if (on_rank >= 0 && end > item + 4 && *end == ':') { /* rankN:NAME: a device of rank N only */
            if (on_rank == hcg_dist_rank()) memmove(item, end + 1, strlen(end + 1) + 1);
            else item[0] = 0;
        }
        hcg_device *d = item[0] ? hcg_device_find(item) : NULL;
        if (!item[0]) {
            /* another rank's */
        } else if (d) {
            add_unique(out, max, n_out, d);
        } else if (strcmp(item, "auto") == 0) {
            for (int i = 0; i < n_devices; i++) add_unique(out, max, n_out, devices[i]);
        } else if (strcmp(item, "opencl") == 0 || strcmp(item, "gpu") == 0 || strcmp(item, "accelerator") == 0) {
            for (int i = 0; i < n_devices; i++) {
                hcg_device *c = devices[i];
                bool match = strcmp(item, "opencl") == 0 ? strcmp(c->iface->name, "opencl") == 0
                             : strcmp(item, "gpu") == 0  ? c->type == HCG_DEVICE_GPU
                                                         : c->type == HCG_DEVICE_ACCELERATOR;
                if (match) add_unique(out, max, n_out, c);
            }
            if (*n_out == before)
                return hcg_error(HCG_ERR_NOT_FOUND, "no %s device found (devices here: %s)", item, known);
        } else {
            return hcg_error(HCG_ERR_NOT_FOUND,
                             "unknown device '%s' (devices here: %s; or a type: gpu, accelerator, opencl, auto)",
                             item, known);
        }
        p += len;
        while (*p == ' ') p++;
        if (*p == ',') p++;
    }
    if (*n_out == 0) return hcg_error(HCG_ERR_NOT_FOUND, "device list '%s' selects no device", spec);
    return HCG_OK;
}
