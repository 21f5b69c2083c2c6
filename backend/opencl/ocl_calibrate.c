/* ocl_calibrate.c — calibration of an OpenCL device (`hcg devices --calibrate`):
 *   1. GEMM tuning: CLBlast ships tuned parameters for many devices but not for every one (POCL's
 *      CPU device gets generic ones, several times slower). CLBlast's own tuners (Debian package
 *      clblast-utils: clblast_tuner_xgemm, clblast_tuner_xgemm_direct) run as child processes
 *      within a time budget; their progress lines are read as they come, so a tuner cut off at
 *      the deadline still yields the best configuration it verified. The winners are applied with
 *      CLBlastOverrideParameters, then the size where CLBlast switches from its direct kernel to
 *      the tuned indirect one (GemmRoutine's XGEMM_MIN_INDIRECT_SIZE) is chosen by timing both.
 *   2. The cost profile: sustained GEMM GFLOP/s, copy bandwidth, launch latency, host<->device
 *      bandwidth and latency.
 * Both are stored in the cache folder (tuning: opencl/clblast-<device>.json; cost: through
 * hcg_cost_store) and applied whenever the device is registered later (ocl_tuning_apply).
 * HCG_CALIBRATE_SECONDS bounds the tuning (default 600 s per device; 0 keeps the stored parameters
 * and only measures the cost profile); HCG_CLBLAST_TUNING=0 makes registration ignore stored
 * parameters (to compare with untuned CLBlast). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <clblast_c.h>

#include "backend/cache.h"
#include "backend/opencl/ocl.h"
#include "backend/opencl/opencl.h"

#define MAX_PARAMS 32

/* One kernel's parameters, as CLBlastOverrideParameters takes them. */
typedef struct kernel_params {
    char kernel[32]; /* "Xgemm", "XgemmDirect", "GemmRoutine" */
    int n;
    char names[MAX_PARAMS][24];
    size_t values[MAX_PARAMS];
    double gflops; /* what the tuner measured (0: not from a tuner) */
} kernel_params;

/* ---------------------------------------------------------------- the stored parameters */

/* The tuning's entry in the cache folder (a checked entry, backend/cache.h). */
static bool tuning_path(const hcg_device *d, char *buf, size_t n, hcg_cache_key *key, char *identity, size_t id_len)
{
    char name[400];
    snprintf(name, sizeof name, "%s-%s-%s", d->platform, d->device_name, d->driver);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            *p = '_';
    snprintf(identity, id_len, "CLBlast tuning; %s; %s; driver %s", d->platform, d->device_name, d->driver);
    *key = (hcg_cache_key){.what = d->name, .identity = identity, .source = 0, .max_length = 1 << 20,
                           .then = "using CLBlast's own GEMM parameters (hcg devices --calibrate tunes again)"};
    return !buf || hcg_cache_path(buf, n, "opencl/clblast-%s.json", name);
}

static bool apply_params(ocl_dev *dev, const kernel_params *k, FILE *log)
{
    const char *names[MAX_PARAMS];
    for (int i = 0; i < k->n; i++) names[i] = k->names[i];
    ocl_clblast_lock();
    CLBlastStatusCode s = CLBlastOverrideParameters(dev->id, k->kernel, CLBlastPrecisionSingle, (size_t)k->n, names,
                                                    k->values);
    ocl_clblast_unlock();
    if (s != CLBlastSuccess && log)
        fprintf(log, "%s: CLBlastOverrideParameters(%s) failed: %s\n", dev->d->name, k->kernel,
                hcg_clblast_status_name(s));
    return s == CLBlastSuccess;
}

static bool params_from_json(const cJSON *obj, const char *kernel, kernel_params *k)
{
    memset(k, 0, sizeof *k);
    snprintf(k->kernel, sizeof k->kernel, "%s", kernel);
    const cJSON *v;
    cJSON_ArrayForEach(v, obj)
    {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || k->n >= MAX_PARAMS || strlen(v->string) >= sizeof k->names[0])
            return false;
        snprintf(k->names[k->n], sizeof k->names[0], "%s", v->string);
        k->values[k->n++] = (size_t)v->valuedouble;
    }
    return k->n > 0;
}

void ocl_tuning_apply(ocl_dev *dev)
{
    const char *off = getenv("HCG_CLBLAST_TUNING");
    if (off && strcmp(off, "0") == 0) return;
    char path[PATH_MAX], identity[1024];
    hcg_cache_key key;
    if (!tuning_path(dev->d, path, sizeof path, &key, identity, sizeof identity)) return;
    void *text = NULL;
    size_t len = 0;
    if (hcg_cache_load(path, &key, &text, &len) != HCG_CACHE_OK) return;
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *kernels = cJSON_GetObjectItemCaseSensitive(root, "kernels"), *obj;
    bool all = kernels != NULL;
    int applied = 0;
    cJSON_ArrayForEach(obj, kernels)
    {
        kernel_params k;
        if (params_from_json(obj, obj->string, &k) && apply_params(dev, &k, NULL)) applied++;
        else all = false;
    }
    dev->tuned = all && applied > 0;
    if (ocl_verbose() && root)
        fprintf(stderr, "hcg: %s: applied %d stored CLBlast kernel tunings from %s\n", dev->d->name, applied, path);
    cJSON_Delete(root);
}

static hcg_status store_params(const hcg_device *d, const kernel_params *ks, int n)
{
    char path[PATH_MAX], identity[1024];
    hcg_cache_key key;
    if (!tuning_path(d, path, sizeof path, &key, identity, sizeof identity))
        return hcg_error(HCG_ERR_IO, "cannot store the GEMM tuning of %s: %s", d->name,
                         hcg_cache_problem() ? hcg_cache_problem() : "its path in the cache folder is too long");
    cJSON *root = cJSON_CreateObject(), *kernels = cJSON_AddObjectToObject(root, "kernels");
    cJSON *measured = cJSON_AddObjectToObject(root, "tuner_gflops");
    cJSON_AddStringToObject(root, "platform", d->platform);
    cJSON_AddStringToObject(root, "device", d->device_name);
    cJSON_AddStringToObject(root, "driver", d->driver);
    for (int i = 0; i < n; i++) {
        cJSON *obj = cJSON_AddObjectToObject(kernels, ks[i].kernel);
        for (int j = 0; j < ks[i].n; j++) cJSON_AddNumberToObject(obj, ks[i].names[j], (double)ks[i].values[j]);
        if (ks[i].gflops > 0) cJSON_AddNumberToObject(measured, ks[i].kernel, ks[i].gflops);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    hcg_status st = hcg_cache_store(path, &key, text, strlen(text));
    free(text);
    return st;
}

/* ---------------------------------------------------------------- running a tuner */

/* Removes ANSI colour codes in place. */
static void strip_ansi(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == 0x1b && r[1] == '[') {
            r += 2;
            while (*r && !((*r >= 'a' && *r <= 'z') || (*r >= 'A' && *r <= 'Z'))) r++;
            if (*r) r++;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

typedef struct tuner_state {
    kernel_params best;
    char names[MAX_PARAMS][24]; /* of the phase running now */
    int n_names;
    int tried, verified;
} tuner_state;

/* One line of a CLBlast tuner's output: "Parameters explored: A B C" starts a phase; a row
 * "| id | total | values | ... | GFLOPS | results match |" is a verified configuration. */
static void tuner_line(tuner_state *ts, char *line)
{
    strip_ansi(line);
    const char *expl = strstr(line, "Parameters explored:");
    if (expl) {
        ts->n_names = 0;
        char buf[512];
        snprintf(buf, sizeof buf, "%s", expl + strlen("Parameters explored:"));
        for (char *tok = strtok(buf, " \t\r\n"); tok && ts->n_names < MAX_PARAMS; tok = strtok(NULL, " \t\r\n"))
            snprintf(ts->names[ts->n_names++], sizeof ts->names[0], "%s", tok);
        return;
    }
    if (line[0] != '|' || strstr(line, "ref |")) return;
    char *fields[16];
    int nf = 0;
    for (char *p = line; nf < 16 && (p = strchr(p, '|')); p++) fields[nf++] = p + 1;
    if (nf < 6) return;
    int status = -1;
    for (int i = 0; i < nf; i++)
        if (strstr(fields[i], "results match") || strstr(fields[i], "error") || strstr(fields[i], "invalid")) status = i;
    if (status < 0) return;
    ts->tried++;
    if (!strstr(fields[status], "results match") || status < 4) return;
    ts->verified++;
    double gflops = strtod(fields[status - 1], NULL);
    size_t values[MAX_PARAMS];
    int nv = 0;
    char *p = fields[2];
    while (nv < MAX_PARAMS) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || end > fields[3]) break;
        values[nv++] = (size_t)v;
        p = end;
    }
    if (nv != ts->n_names || gflops <= ts->best.gflops) return;
    ts->best.gflops = gflops;
    ts->best.n = nv;
    for (int i = 0; i < nv; i++) {
        snprintf(ts->best.names[i], sizeof ts->best.names[0], "%s", ts->names[i]);
        ts->best.values[i] = values[i];
    }
}

static void remove_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *e;
        char path[1200];
        while ((e = readdir(dp))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            remove(path);
        }
        closedir(dp);
    }
    rmdir(dir);
}

/* Runs tuner (a program on PATH) for at most `seconds`, keeping the fastest verified
 * configuration in *out (out->gflops 0 if none). A missing tuner is not an error. */
static hcg_status run_tuner(ocl_dev *dev, const char *tuner, const char *const *args, double seconds, FILE *log,
                            kernel_params *out)
{
    char work[] = "/tmp/hcg-tune-XXXXXX", platform[16], device[16];
    const char *argv[40];
    int argc = 0, fds[2];
    snprintf(platform, sizeof platform, "%d", dev->platform_index);
    snprintf(device, sizeof device, "%d", dev->device_index);
    argv[argc++] = tuner;
    argv[argc++] = "-platform";
    argv[argc++] = platform;
    argv[argc++] = "-device";
    argv[argc++] = device;
    argv[argc++] = "-precision";
    argv[argc++] = "32";
    for (int i = 0; args[i] && argc < 38; i++) argv[argc++] = args[i];
    argv[argc] = NULL;
    if (!mkdtemp(work)) return hcg_error(HCG_ERR_IO, "cannot create a folder for %s: %s", tuner, strerror(errno));
    if (pipe(fds) != 0) {
        remove_dir(work);
        return hcg_error(HCG_ERR_IO, "pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        remove_dir(work);
        return hcg_error(HCG_ERR_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) { /* the child: the tuner, writing its JSON files into the work folder */
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        if (chdir(work) != 0) _exit(126);
        execvp(tuner, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    tuner_state ts;
    memset(&ts, 0, sizeof ts);
    char line[4096];
    size_t used = 0;
    double t0 = hcg_now(), deadline = t0 + seconds, next_report = t0 + 30;
    bool timed_out = false;
    for (;;) {
        double left = deadline - hcg_now();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int r = poll(&pfd, 1, (int)(left * 1000 < 1000 ? left * 1000 + 1 : 1000));
        if (r < 0 && errno != EINTR) break;
        if (r > 0) {
            char buf[4096];
            ssize_t got = read(fds[0], buf, sizeof buf);
            if (got <= 0) break; /* the tuner finished */
            for (ssize_t i = 0; i < got; i++) {
                if (buf[i] == '\n' || used == sizeof line - 1) {
                    line[used] = 0;
                    tuner_line(&ts, line);
                    used = 0;
                } else {
                    line[used++] = buf[i];
                }
            }
        }
        if (log && hcg_now() >= next_report) {
            fprintf(log, "%s: %s: %d configurations tried, best %.1f GFLOP/s (%.0f s left)\n", dev->d->name, tuner,
                    ts.tried, ts.best.gflops, deadline - hcg_now());
            fflush(log);
            next_report += 30;
        }
    }
    close(fds[0]);
    if (timed_out) { /* stop our child: SIGTERM, then SIGKILL if it lingers */
        kill(pid, SIGTERM);
        for (int i = 0; i < 20 && waitpid(pid, NULL, WNOHANG) == 0; i++) usleep(100000);
        if (waitpid(pid, NULL, WNOHANG) == 0) kill(pid, SIGKILL);
    }
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    remove_dir(work);
    if (!timed_out && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127 && ts.tried == 0) {
        if (log)
            fprintf(log, "%s: %s not found (Debian/Ubuntu: apt-get install clblast-utils)\n", dev->d->name, tuner);
        return HCG_OK;
    }
    if (log)
        fprintf(log, "%s: %s: %d configurations tried, %d verified, best %.1f GFLOP/s in %.0f s%s\n", dev->d->name,
                tuner, ts.tried, ts.verified, ts.best.gflops, hcg_now() - t0, timed_out ? " (time budget reached)" : "");
    *out = ts.best;
    return HCG_OK;
}

/* ---------------------------------------------------------------- measurements */

/* Best seconds of `reps` CLBlastSgemm calls of m x n x k after a warm-up, or -1. */
static double time_sgemm(ocl_dev *dev, size_t m, size_t n, size_t k, int reps)
{
    cl_int err;
    double best = -1;
    cl_mem a = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, m * k * 4, NULL, &err);
    cl_mem b = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, k * n * 4, NULL, &err);
    cl_mem c = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, m * n * 4, NULL, &err);
    if (!a || !b || !c) goto done;
    float zero = 0.0f;
    if (clEnqueueFillBuffer(dev->queue, a, &zero, 4, 0, m * k * 4, 0, NULL, NULL) != CL_SUCCESS ||
        clEnqueueFillBuffer(dev->queue, b, &zero, 4, 0, k * n * 4, 0, NULL, NULL) != CL_SUCCESS)
        goto done;
    for (int r = 0; r <= reps; r++) {
        double t = hcg_now();
        ocl_clblast_lock();
        CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, m, n, k, 1.0f,
                                           a, 0, k, b, 0, n, 0.0f, c, 0, n, &dev->queue, NULL);
        ocl_clblast_unlock();
        if (s != CLBlastSuccess || clFinish(dev->queue) != CL_SUCCESS) {
            best = -1;
            break;
        }
        t = hcg_now() - t;
        if (r > 0 && (best < 0 || t < best)) best = t; /* r == 0 compiles */
    }
done:
    if (a) clReleaseMemObject(a);
    if (b) clReleaseMemObject(b);
    if (c) clReleaseMemObject(c);
    return best;
}

static bool set_indirect_size(ocl_dev *dev, size_t size)
{
    kernel_params k = {.kernel = "GemmRoutine", .n = 1, .names = {"XGEMM_MIN_INDIRECT_SIZE"}, .values = {size}};
    return apply_params(dev, &k, NULL);
}

/* CLBlast runs products with m * n * k below XGEMM_MIN_INDIRECT_SIZE^3 with its direct kernel:
 * time both kernels on a ladder of shapes and switch at the first from which the indirect one
 * (now tuned) stays faster. */
static size_t choose_indirect_size(ocl_dev *dev, FILE *log)
{
    static const size_t shapes[][3] = {{32, 32, 32},   {64, 64, 64},    {128, 128, 128},
                                       {128, 384, 384}, {256, 256, 256}, {512, 512, 512}};
    enum { N = sizeof shapes / sizeof shapes[0] };
    bool indirect_wins[N];
    for (int i = 0; i < N; i++) {
        const size_t *s = shapes[i];
        set_indirect_size(dev, 4096); /* always direct */
        double direct = time_sgemm(dev, s[0], s[1], s[2], 3);
        set_indirect_size(dev, 1); /* always indirect */
        double indirect = time_sgemm(dev, s[0], s[1], s[2], 3);
        indirect_wins[i] = indirect > 0 && (direct < 0 || indirect < direct);
        if (log)
            fprintf(log, "%s: %zux%zux%zu: direct kernel %.2f ms, indirect %.2f ms\n", dev->d->name, s[0], s[1], s[2],
                    direct * 1e3, indirect * 1e3);
    }
    int first = N;
    while (first > 0 && indirect_wins[first - 1]) first--;
    if (first == N) return 4096;
    double mnk = (double)shapes[first][0] * (double)shapes[first][1] * (double)shapes[first][2];
    return (size_t)floor(cbrt(mnk) + 1e-9);
}

/* The cost profile: GEMM, copy, launch, transfers. */
static hcg_status measure_cost(ocl_dev *dev, FILE *log)
{
    hcg_device *d = dev->d;
    hcg_cost_profile c = d->cost;
    cl_int err;
    double t;
    double g = time_sgemm(dev, 1024, 1024, 1024, 3);
    if (g > 0) c.gflops = 2.0 * 1024 * 1024 * 1024 / g / 1e9;

    size_t bytes = (size_t)64 << 20;
    if (bytes > d->max_alloc / 2) bytes = (size_t)(d->max_alloc / 2);
    char *host = malloc(bytes);
    cl_mem a = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    cl_mem b = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    hcg_status st = HCG_OK;
    if (!host || !a || !b) {
        st = host ? ocl_fail(dev, err, "clCreateBuffer(%zu bytes)", bytes) : hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    memset(host, 1, bytes);
    double h2d = 1e9, d2h = 1e9, copy = 1e9, lat = 0;
    for (int r = 0; r < 4; r++) {
        t = hcg_now();
        if ((err = clEnqueueWriteBuffer(dev->queue, a, CL_TRUE, 0, bytes, host, 0, NULL, NULL))) break;
        if ((t = hcg_now() - t) < h2d) h2d = t;
        t = hcg_now();
        if ((err = clEnqueueCopyBuffer(dev->queue, a, b, 0, 0, bytes, 0, NULL, NULL)) || (err = clFinish(dev->queue)))
            break;
        if ((t = hcg_now() - t) < copy) copy = t;
        t = hcg_now();
        if ((err = clEnqueueReadBuffer(dev->queue, b, CL_TRUE, 0, bytes, host, 0, NULL, NULL))) break;
        if ((t = hcg_now() - t) < d2h) d2h = t;
    }
    if (err) {
        st = ocl_fail(dev, err, "measuring transfers");
        goto done;
    }
    t = hcg_now();
    for (int r = 0; r < 100 && !err; r++) err = clEnqueueWriteBuffer(dev->queue, a, CL_TRUE, 0, 4, host, 0, NULL, NULL);
    lat = (hcg_now() - t) / 100;

    /* launch latency: a one-item kernel of hcg's, 200 times */
    cl_kernel k;
    size_t kwg, global[3], local[3];
    if ((st = ocl_kernel_get(dev, "fill", "fill_4", &k, &kwg))) goto done;
    ocl_flat_geometry(dev, kwg, 1, global, local);
    cl_int one = 1;
    cl_ulong off = 0, bits = 0;
    if ((err = clSetKernelArg(k, 0, sizeof one, &one)) || (err = clSetKernelArg(k, 1, sizeof a, &a)) ||
        (err = clSetKernelArg(k, 2, sizeof off, &off)) || (err = clSetKernelArg(k, 3, sizeof bits, &bits)) ||
        (err = clEnqueueNDRangeKernel(dev->queue, k, 1, NULL, global, local, 0, NULL, NULL)) ||
        (err = clFinish(dev->queue))) {
        st = ocl_fail(dev, err, "timing launches");
        goto done;
    }
    t = hcg_now();
    for (int r = 0; r < 200 && !err; r++) err = clEnqueueNDRangeKernel(dev->queue, k, 1, NULL, global, local, 0, NULL, NULL);
    if (!err) err = clFinish(dev->queue);
    if (err) {
        st = ocl_fail(dev, err, "timing launches");
        goto done;
    }
    c.launch_us = (hcg_now() - t) / 200 * 1e6;
    c.mem_gbps = 2.0 * (double)bytes / copy / 1e9; /* read + write */
    c.h2d_gbps = (double)bytes / h2d / 1e9;
    c.d2h_gbps = (double)bytes / d2h / 1e9;
    c.link_latency_us = lat * 1e6;
    c.calibrated = true;
    d->cost = c;
    if (log)
        fprintf(log, "%s: sgemm %.1f GFLOP/s (1024^3), copy %.1f GB/s, launch %.1f us, host->device %.1f GB/s, "
                     "device->host %.1f GB/s, transfer latency %.1f us\n",
                d->name, c.gflops, c.mem_gbps, c.launch_us, c.h2d_gbps, c.d2h_gbps, c.link_latency_us);
    st = hcg_cost_store(d);
done:
    if (a) clReleaseMemObject(a);
    if (b) clReleaseMemObject(b);
    free(host);
    return st;
}

/* ---------------------------------------------------------------- calibration */

/* Devices tuned by this process (two POCL devices are the same hardware: tune once). */
static char tuned_paths[16][1024];
static int n_tuned_paths;

hcg_status hcg_opencl_calibrate(hcg_device *d, FILE *log)
{
    ocl_dev *dev = ocl_of(d);
    if (!dev) return hcg_error(HCG_ERR_ARG, "%s is not an OpenCL device", d->name);
    char path[1024]; /* the identity: the same hardware and driver */
    hcg_cache_key key;
    tuning_path(d, NULL, 0, &key, path, sizeof path);
    bool already = false;
    for (int i = 0; i < n_tuned_paths; i++) already |= strcmp(tuned_paths[i], path) == 0;
    const char *env = getenv("HCG_CALIBRATE_SECONDS");
    double budget = env && *env ? atof(env) : 600;
    if (already || budget <= 0) {
        if (log)
            fprintf(log, "%s: %s: keeping the stored GEMM parameters\n", d->name,
                    already ? "same device and driver as one tuned just now" : "HCG_CALIBRATE_SECONDS=0");
        ocl_tuning_apply(dev);
    } else {
        if (log) fprintf(log, "%s: tuning CLBlast's GEMM for %s (at most %.0f s)\n", d->name, d->device_name, budget);
        kernel_params ks[3];
        int n = 0;
        /* -fraction 2: a shuffled half of the first phase, so that a cut-off run has seen the whole range */
        static const char *const xgemm_args[] = {"-m", "512", "-n",    "512", "-k", "512",
                                                 "-runs", "1", "-fraction", "2", NULL};
        static const char *const direct_args[] = {"-m", "256", "-n", "256", "-k", "256", "-runs", "1", NULL};
        hcg_status st = run_tuner(dev, "clblast_tuner_xgemm", xgemm_args, budget * 0.7, log, &ks[n]);
        if (st) return st;
        snprintf(ks[n].kernel, sizeof ks[n].kernel, "Xgemm");
        if (ks[n].gflops > 0 && apply_params(dev, &ks[n], log)) n++;
        st = run_tuner(dev, "clblast_tuner_xgemm_direct", direct_args, budget * 0.25, log, &ks[n]);
        if (st) return st;
        snprintf(ks[n].kernel, sizeof ks[n].kernel, "XgemmDirect");
        if (ks[n].gflops > 0 && apply_params(dev, &ks[n], log)) n++;
        if (n > 0) {
            size_t indirect = choose_indirect_size(dev, log);
            ks[n] = (kernel_params){.kernel = "GemmRoutine", .n = 1, .names = {"XGEMM_MIN_INDIRECT_SIZE"},
                                    .values = {indirect}};
            if (apply_params(dev, &ks[n], log)) n++;
            if (log) fprintf(log, "%s: the indirect (tuned) GEMM kernel from %zu^3 on\n", d->name, indirect);
            if ((st = store_params(d, ks, n))) return st;
            dev->tuned = true;
            if (log) fprintf(log, "%s: GEMM parameters stored in %s\n", d->name, path);
        }
        if (n_tuned_paths < 16) snprintf(tuned_paths[n_tuned_paths++], sizeof tuned_paths[0], "%s", path);
    }
    ocl_describe(dev);
    return measure_cost(dev, log);
}
