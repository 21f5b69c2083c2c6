/* ocl_program.c — the programs of cl/ on each device: built once per device on first use (when
 * the first node that needs one is prepared), their binaries kept in hcg's cache folder
 * ($XDG_CACHE_HOME/hcg/opencl/, else ~/.cache/hcg/opencl/) as checked entries (backend/cache.h:
 * header, source hash, device and driver identity, length, checksum) and loaded from there by
 * later processes. A cached binary the device refuses, that does not build or that lacks a kernel
 * is deleted and the program rebuilt from source; a build from source that fails is tried once
 * more before it is an error. Counts builds and cache loads (hcg_opencl_stats); HCG_VERBOSE logs
 * each one. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/cache.h"
#include "backend/fault.h"
#include "backend/opencl/ocl.h"
#include "backend/opencl/opencl.h"

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_builds, n_cache_loads;

void hcg_opencl_stats(int *builds, int *cache_loads)
{
    pthread_mutex_lock(&stats_lock);
    if (builds) *builds = n_builds;
    if (cache_loads) *cache_loads = n_cache_loads;
    pthread_mutex_unlock(&stats_lock);
}

static void count(int *counter)
{
    pthread_mutex_lock(&stats_lock);
    (*counter)++;
    pthread_mutex_unlock(&stats_lock);
}

bool ocl_verbose(void)
{
    const char *v = getenv("HCG_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* ---------------------------------------------------------------- the table */

static int program_index(const char *name)
{
    for (int i = 0; i < hcg_cl_program_count; i++)
        if (strcmp(hcg_cl_programs[i].name, name) == 0) return i;
    return -1;
}

static int kernel_index(const hcg_cl_program_src *p, const char *kernel)
{
    for (int i = 0; i < p->n_kernels; i++)
        if (strcmp(p->kernels[i], kernel) == 0) return i;
    return -1;
}

bool ocl_kernel_listed(const char *program, const char *kernel)
{
    int p = program_index(program);
    return p >= 0 && kernel_index(&hcg_cl_programs[p], kernel) >= 0;
}

const char *ocl_kernel_name(const char *program, const char *kernel)
{
    int p = program_index(program);
    int k = p >= 0 ? kernel_index(&hcg_cl_programs[p], kernel) : -1;
    return k >= 0 ? hcg_cl_programs[p].kernels[k] : "?";
}

/* ---------------------------------------------------------------- the binary cache */

/* A program's entry in the cache folder (a checked entry, backend/cache.h): the identity is the
 * platform, device and driver; the source hash covers the source and the build options. The file
 * name holds a hash of both, so devices and drivers sharing the folder never collide. */
typedef struct program_entry {
    char path[PATH_MAX];
    bool have_path; /* false: no usable cache folder */
    char identity[1024], what[256];
    hcg_cache_key key;
} program_entry;

static void program_entry_make(const ocl_dev *dev, const hcg_cl_program_src *src, program_entry *e)
{
    snprintf(e->identity, sizeof e->identity, "OpenCL program %s; %s %s; %s; %s; driver %s", src->name,
             dev->d->platform, dev->platform_version, dev->d->device_name, dev->d->version, dev->d->driver);
    snprintf(e->what, sizeof e->what, "%s: %s", dev->d->name, src->path);
    uint64_t source = hcg_fnv64(0, src->source, src->length);
    source = hcg_fnv64(source, "", 1); /* a separator: source and options cannot run into each other */
    source = hcg_fnv64(source, dev->build_options, strlen(dev->build_options));
    uint64_t name = hcg_fnv64(hcg_fnv64(0, e->identity, strlen(e->identity)), &source, sizeof source);
    e->key = (hcg_cache_key){.what = e->what, .identity = e->identity, .source = source, .max_length = 256u << 20};
    e->have_path = hcg_cache_path(e->path, sizeof e->path, "opencl/%s-%016llx.bin", src->name, (unsigned long long)name);
}

/* The first kernel of the table's row that program p lacks, or NULL. */
static const char *missing_kernel(cl_program p, const hcg_cl_program_src *src)
{
    size_t n = 0;
    char *names = NULL;
    const char *missing = src->n_kernels ? src->kernels[0] : NULL;
    if (clGetProgramInfo(p, CL_PROGRAM_KERNEL_NAMES, 0, NULL, &n) == CL_SUCCESS && (names = malloc(n + 1)) &&
        clGetProgramInfo(p, CL_PROGRAM_KERNEL_NAMES, n, names, NULL) == CL_SUCCESS) {
        names[n] = 0;
        missing = NULL;
        for (int k = 0; k < src->n_kernels && !missing; k++) {
            size_t len = strlen(src->kernels[k]);
            bool found = false;
            for (const char *q = names; *q && !found; q += strcspn(q, ";"), q += *q == ';') /* "a;b;c" */
                found = strncmp(q, src->kernels[k], len) == 0 && (q[len] == ';' || q[len] == 0);
            if (!found) missing = src->kernels[k];
        }
    }
    free(names);
    return missing;
}

/* A program from its cache entry, or NULL: no entry, or one that fails any check (its header,
 * the device refusing or failing to build the binary, a kernel missing), which is deleted. */
static cl_program load_binary(ocl_dev *dev, const hcg_cl_program_src *src, const program_entry *e)
{
    void *bin = NULL;
    size_t len = 0;
    if (!e->have_path || hcg_cache_load(e->path, &e->key, &bin, &len) != HCG_CACHE_OK) return NULL;
    cl_int err, bin_status = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    char why[256] = "";
    cl_program p = clCreateProgramWithBinary(dev->ctx, 1, &dev->id, &len, bins, &bin_status, &err);
    free(bin);
    const char *missing = NULL;
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS)
        snprintf(why, sizeof why, "the device refused the binary: %s",
                 hcg_cl_error_name(err != CL_SUCCESS ? err : bin_status));
    else if ((err = clBuildProgram(p, 1, &dev->id, dev->build_options, NULL, NULL)) != CL_SUCCESS)
        snprintf(why, sizeof why, "the binary does not build: %s", hcg_cl_error_name(err));
    else if ((missing = missing_kernel(p, src)))
        snprintf(why, sizeof why, "it lacks the kernel %s (another program's binary?)", missing);
    if (!why[0]) return p;
    if (p) clReleaseProgram(p);
    hcg_cache_discard(e->path, &e->key, why);
    return NULL;
}

/* Stores the program's binary in its entry. Failing to store is not an error (the next process
 * builds again). */
static void store_binary(cl_program p, const program_entry *e)
{
    size_t size = 0;
    if (!e->have_path) return;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0) return;
    unsigned char *bin = malloc(size);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS &&
        hcg_cache_store(e->path, &e->key, bin, size) != HCG_OK && ocl_verbose())
        fprintf(stderr, "hcg: %s: not cached: %s\n", e->what, hcg_last_error());
    free(bin);
}

hcg_status ocl_build_program(ocl_dev *dev, const hcg_cl_program_src *src, cl_program *out)
{
    cl_int err;
    const char *text = src->source;
    size_t len = src->length;
    cl_program p = clCreateProgramWithSource(dev->ctx, 1, &text, &len, &err);
    if (err != CL_SUCCESS) return ocl_fail(dev, err, "clCreateProgramWithSource(%s)", src->path);
    err = clBuildProgram(p, 1, &dev->id, dev->build_options, NULL, NULL);
    if (err == CL_SUCCESS) {
        *out = p;
        return HCG_OK;
    }
    size_t log_len = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(p, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len) == CL_SUCCESS && log_len > 0 &&
        (log = malloc(log_len + 1)) &&
        clGetProgramBuildInfo(p, dev->id, CL_PROGRAM_BUILD_LOG, log_len, log, NULL) == CL_SUCCESS) {
        log[log_len] = 0;
    } else if (log) {
        log[0] = 0;
    }
    hcg_fault_note(hcg_cl_error_name(err));
    hcg_status st = hcg_error(HCG_ERR_DEVICE, "%s (%s): building %s with options '%s' failed: %s (%d)\nbuild log:\n%s",
                              dev->d->name, dev->d->device_name, src->path, dev->build_options,
                              hcg_cl_error_name(err), (int)err, log && log[0] ? log : "(empty)");
    free(log);
    clReleaseProgram(p);
    return st;
}

/* Builds program idx from source: a failure is tried once more before it is an error (a device
 * may fail a build for passing reasons: memory, a compiler process). */
static hcg_status build_from_source(ocl_dev *dev, const hcg_cl_program_src *src, cl_program *out)
{
    hcg_status st = ocl_build_program(dev, src, out);
    if (st == HCG_ERR_DEVICE) {
        fprintf(stderr, "hcg: note: %s: building %s failed; trying once more\n", dev->d->name, src->path);
        st = ocl_build_program(dev, src, out);
    }
    if (st) return st;
    const char *missing = missing_kernel(*out, src);
    if (missing) {
        clReleaseProgram(*out);
        *out = NULL;
        return hcg_error(HCG_ERR_INTERNAL, "%s: %s has no kernel %s, which its source defines", dev->d->name,
                         src->path, missing);
    }
    return HCG_OK;
}

/* Makes sure program idx exists on dev (caller holds dev->lock). */
static hcg_status ensure_program(ocl_dev *dev, int idx)
{
    ocl_prog *pr = &dev->progs[idx];
    const hcg_cl_program_src *src = &hcg_cl_programs[idx];
    if (pr->program) return HCG_OK;
    if (pr->failed) {
        hcg_fault_note(hcg_cl_error_name(CL_BUILD_PROGRAM_FAILURE));
        return hcg_error(HCG_ERR_DEVICE, "%s: %s failed to build earlier", dev->d->name, src->path);
    }
    if (hcg_fault_inject(dev->d, HCG_CALL_BUILD)) /* fails this build only */
        return ocl_fail(dev, CL_BUILD_PROGRAM_FAILURE, "clBuildProgram(%s) [injected by HCG_FAULT]", src->path);
    program_entry *e = malloc(sizeof *e);
    if (!e) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    program_entry_make(dev, src, e);
    double t0 = hcg_now();
    cl_program p = load_binary(dev, src, e);
    if (p) {
        count(&n_cache_loads);
        if (ocl_verbose())
            fprintf(stderr, "hcg: %s: loaded program %s from the cache in %.3f s\n", dev->d->name, src->path,
                    hcg_now() - t0);
    } else {
        hcg_status st = build_from_source(dev, src, &p);
        if (st) {
            pr->failed = true;
            free(e);
            return st;
        }
        count(&n_builds);
        if (ocl_verbose())
            fprintf(stderr, "hcg: %s: built program %s in %.3f s\n", dev->d->name, src->path, hcg_now() - t0);
        store_binary(p, e);
    }
    free(e);
    pr->kernels = calloc((size_t)src->n_kernels, sizeof *pr->kernels);
    pr->kernel_wg = calloc((size_t)src->n_kernels, sizeof *pr->kernel_wg);
    if (!pr->kernels || !pr->kernel_wg) {
        free(pr->kernels);
        free(pr->kernel_wg);
        pr->kernels = NULL;
        pr->kernel_wg = NULL;
        clReleaseProgram(p);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    pr->program = p;
    return HCG_OK;
}

hcg_status ocl_kernel_get(ocl_dev *dev, const char *program, const char *kernel, cl_kernel *out, size_t *max_wg)
{
    int idx = program_index(program);
    if (idx < 0) return hcg_error(HCG_ERR_INTERNAL, "no OpenCL program '%s' in cl/embed.cmake", program);
    const hcg_cl_program_src *src = &hcg_cl_programs[idx];
    int k = kernel_index(src, kernel);
    if (k < 0) return hcg_error(HCG_ERR_INTERNAL, "kernel '%s' is not defined in %s", kernel, src->path);
    pthread_mutex_lock(&dev->lock);
    hcg_status st = ensure_program(dev, idx);
    ocl_prog *pr = &dev->progs[idx];
    if (!st && !pr->kernels[k]) {
        cl_int err;
        cl_kernel kn = clCreateKernel(pr->program, kernel, &err);
        if (err != CL_SUCCESS) {
            st = ocl_fail(dev, err, "clCreateKernel(%s) from %s", kernel, src->path);
        } else {
            size_t wg = 0;
            err = clGetKernelWorkGroupInfo(kn, dev->id, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
            if (err != CL_SUCCESS) {
                clReleaseKernel(kn);
                st = ocl_fail(dev, err, "clGetKernelWorkGroupInfo(%s)", kernel);
            } else {
                pr->kernels[k] = kn;
                pr->kernel_wg[k] = wg;
            }
        }
    }
    if (!st) {
        *out = pr->kernels[k];
        if (max_wg) *max_wg = pr->kernel_wg[k];
    }
    pthread_mutex_unlock(&dev->lock);
    return st;
}

void ocl_programs_release(ocl_dev *dev)
{
    if (!dev->progs) return;
    for (int i = 0; i < hcg_cl_program_count; i++) {
        ocl_prog *pr = &dev->progs[i];
        for (int k = 0; pr->kernels && k < hcg_cl_programs[i].n_kernels; k++)
            if (pr->kernels[k]) clReleaseKernel(pr->kernels[k]);
        free(pr->kernels);
        free(pr->kernel_wg);
        if (pr->program) clReleaseProgram(pr->program);
    }
    free(dev->progs);
    dev->progs = NULL;
}

hcg_status ocl_node_kernel(ocl_dev *dev, const hcg_exec_node *en, const char *program, const char *kernel,
                           cl_kernel *out, const char **kname, size_t *kwg)
{
    hcg_status st = ocl_kernel_get(dev, program, kernel, out, kwg);
    if (st) return hcg_error_prefix(st, "node '%s' (%s): ", en->node->name, hcg_op_name(en->node->op));
    *kname = ocl_kernel_name(program, kernel);
    return HCG_OK;
}
