/* ocl_program.c — the programs of cl/ on each device: built once per device on first use (when
 * the first node that needs one is prepared), their binaries kept in hcg's cache folder
 * ($XDG_CACHE_HOME/hcg/opencl/, else ~/.cache/hcg/opencl/) under a hash of everything that decides
 * the binary (source, build options, platform, device, driver), and loaded from there by later
 * processes. Counts builds and cache loads (hcg_opencl_stats); HCG_VERBOSE logs each one. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* 128 bits of FNV-1a (two 64-bit hashes from different offsets) over every input that decides
 * the binary; each field ends with a NUL so that fields cannot run into each other. */
typedef struct key_hash {
    uint64_t a, b;
} key_hash;

static void hash_bytes(key_hash *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ p[i]) * 0x100000001b3ull;
        h->b = (h->b ^ p[i]) * 0x100000001b3ull;
    }
    h->a = h->a * 0x100000001b3ull; /* the field's end */
    h->b = (h->b ^ 0xffu) * 0x100000001b3ull;
}

static void hash_str(key_hash *h, const char *s) { hash_bytes(h, s, strlen(s)); }

static void cache_path(const ocl_dev *dev, const hcg_cl_program_src *src, char *buf, size_t n)
{
    key_hash h = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    hash_bytes(&h, src->source, src->length);
    hash_str(&h, dev->build_options);
    hash_str(&h, dev->d->platform);
    hash_str(&h, dev->platform_version);
    hash_str(&h, dev->d->device_name);
    hash_str(&h, dev->d->version);
    hash_str(&h, dev->d->driver);
    snprintf(buf, n, "%s/opencl/%s-%016llx%016llx.bin", hcg_cache_dir(), src->name, (unsigned long long)h.a,
             (unsigned long long)h.b);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *data = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)size))) {
            if (fread(data, 1, (size_t)size, f) != (size_t)size) {
                free(data);
                data = NULL;
            } else {
                *len = (size_t)size;
            }
        }
    }
    fclose(f);
    return data;
}

/* A program from a cached binary, or NULL (no file, or the device refused it: rebuilt then). */
static cl_program load_binary(ocl_dev *dev, const char *path)
{
    size_t len = 0;
    unsigned char *bin = read_file(path, &len);
    if (!bin) return NULL;
    cl_int err, bin_status = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    cl_program p = clCreateProgramWithBinary(dev->ctx, 1, &dev->id, &len, bins, &bin_status, &err);
    free(bin);
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
        if (p) clReleaseProgram(p);
        return NULL;
    }
    if (clBuildProgram(p, 1, &dev->id, dev->build_options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p);
        return NULL;
    }
    return p;
}

/* Writes the program's binary next to its final name, then renames it: a reader never sees half
 * a file. Failing to store is not an error (the next process builds again). */
static void store_binary(ocl_dev *dev, cl_program p, const char *path)
{
    size_t size = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0) return;
    unsigned char *bin = malloc(size);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    char dir[1100], tmp[1300];
    snprintf(dir, sizeof dir, "%s/opencl", hcg_cache_dir());
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) goto cleanup;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) goto cleanup;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld-%p", path, (long)getpid(), (void *)dev);
    FILE *f = fopen(tmp, "wb");
    if (!f) goto cleanup;
    bool ok = fwrite(bin, 1, size, f) == size;
    if (fclose(f) != 0) ok = false;
    if (!ok || rename(tmp, path) != 0) remove(tmp);
cleanup:
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
    hcg_status st = hcg_error(HCG_ERR_DEVICE, "%s (%s): building %s with options '%s' failed: %s (%d)\nbuild log:\n%s",
                              dev->d->name, dev->d->device_name, src->path, dev->build_options,
                              hcg_cl_error_name(err), (int)err, log && log[0] ? log : "(empty)");
    free(log);
    clReleaseProgram(p);
    return st;
}

/* Makes sure program idx exists on dev (caller holds dev->lock). */
static hcg_status ensure_program(ocl_dev *dev, int idx)
{
    ocl_prog *pr = &dev->progs[idx];
    const hcg_cl_program_src *src = &hcg_cl_programs[idx];
    if (pr->program) return HCG_OK;
    if (pr->failed) return hcg_error(HCG_ERR_DEVICE, "%s: %s failed to build earlier", dev->d->name, src->path);
    char path[1536];
    cache_path(dev, src, path, sizeof path);
    double t0 = hcg_now();
    cl_program p = load_binary(dev, path);
    if (p) {
        count(&n_cache_loads);
        if (ocl_verbose())
            fprintf(stderr, "hcg: %s: loaded program %s from the cache in %.3f s\n", dev->d->name, src->path,
                    hcg_now() - t0);
    } else {
        hcg_status st = ocl_build_program(dev, src, &p);
        if (st) {
            pr->failed = true;
            return st;
        }
        count(&n_builds);
        if (ocl_verbose())
            fprintf(stderr, "hcg: %s: built program %s in %.3f s\n", dev->d->name, src->path, hcg_now() - t0);
        store_binary(dev, p, path);
    }
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
    if (k < 0) return hcg_error(HCG_ERR_INTERNAL, "kernel '%s' is not listed for %s in cl/embed.cmake", kernel, src->path);
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
