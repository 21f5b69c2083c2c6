/* run_outputs.c — `hcg run --output-dir DIR`: the outputs of a run written as one set.
 *
 * Before the graph runs (without creating anything: a failed run leaves no folder): every output
 * gets its file name (DIR/<name>.npy, unsafe characters replaced), two outputs with the same file
 * name are refused, so is a file name taken by a folder or a FIFO, and what an earlier run of the
 * same folder left when it was stopped is cleaned: its temporary files (NAME.tmp.PID.N, whose
 * process is gone) and an output set its manifest marks incomplete.
 *
 * After it ran: the space the files need is checked, then DIR/manifest.json is written saying
 * "complete": false with the files about to be written; each output goes to a temporary file
 * (synced); all are renamed into place; and the manifest is rewritten with "complete": true and
 * each file's dtype, shape, size and checksum. A folder whose manifest.json does not say
 * "complete": true therefore holds no complete output set, whatever stopped the run. A write that
 * fails (rather than the process being killed) before the renames removes the temporary files and
 * puts the earlier manifest back: the folder is as it was. */
#include "run_outputs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>


#define MANIFEST "manifest.json"

/* FNV-1a, 64 bits: the manifest's checksum of each file's data. */
static uint64_t fnv64(const void *data, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)data)[i]) * 0x100000001b3ull;
    return h;
}

/* Output names may hold characters that are not safe in file names (ONNX: "/", ":"). */
static void file_name_for(const char *name, char *buf, size_t n)
{
    size_t k = 0;
    for (const char *p = name; *p && k + 5 < n; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        buf[k] = ok && !(k == 0 && c == '.') ? c : '_';
        k++;
    }
    snprintf(buf + k, n - k, ".npy");
}

static char *join(const char *dir, const char *file)
{
    size_t dl = strlen(dir), n = dl + strlen(file) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", file);
    return p;
}

static bool process_alive(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* "NAME.tmp.PID.N" (graph/fileio.c's temporary files): the PID, else -1. */
static long temp_file_pid(const char *name)
{
    const char *t = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) t = p;
    if (!t) return -1;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    if (end == t + 5 || *end != '.') return -1;
    const char *n = end + 1;
    if (!*n) return -1;
    for (; *n; n++)
        if (*n < '0' || *n > '9') return -1;
    return pid;
}

/* An earlier run's incomplete set (its manifest says so): removes the files it lists and the
 * manifest, unless that run is still going. */
static hcg_status clean_incomplete_set(const char *dir)
{
    char *path = join(dir, MANIFEST), *text = NULL;
    size_t len;
    hcg_status st = HCG_OK;
    if (!path) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        free(path);
        return HCG_OK;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = hcg_error(HCG_ERR_IO, "%s is not a regular file: hcg run keeps its manifest there", path);
        free(path);
        return st;
    }
    if (hcg_read_file(path, &text, &len)) {
        free(path);
        return HCG_OK; /* unreadable: rewritten later, or the write reports why */
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *complete = cJSON_GetObjectItemCaseSensitive(root, "complete");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(root, "pid");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files"), *f;
    if (cJSON_IsTrue(complete)) goto done;
    long writer = cJSON_IsNumber(pid) ? (long)pid->valuedouble : -1;
    if (writer != (long)getpid() && process_alive(writer)) {
        st = hcg_error(HCG_ERR_IO, "another hcg run (pid %ld) is writing its outputs to %s", writer, dir);
        goto done;
    }
    int removed = 0;
    cJSON_ArrayForEach(f, files)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "file");
        /* only plain names of this folder, only files */
        if (!cJSON_IsString(name) || !*name->valuestring || strchr(name->valuestring, '/') ||
            strcmp(name->valuestring, ".") == 0 || strcmp(name->valuestring, "..") == 0)
            continue;
        char *fp = join(dir, name->valuestring);
        if (fp && lstat(fp, &sb) == 0 && S_ISREG(sb.st_mode) && unlink(fp) == 0) removed++;
        free(fp);
    }
    unlink(path);
    fprintf(stderr, "hcg run: note: %s held an incomplete output set (a run that was stopped, pid %ld): removed %d "
            "file%s of it\n", dir, writer, removed, removed == 1 ? "" : "s");
done:
    cJSON_Delete(root);
    free(path);
    return st;
}

/* Temporary files of runs that were stopped before they renamed them. */
static void clean_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        long pid = temp_file_pid(e->d_name);
        if (pid < 0 || pid == (long)getpid() || process_alive(pid)) continue;
        char *fp = join(dir, e->d_name);
        struct stat sb;
        if (fp && lstat(fp, &sb) == 0 && S_ISREG(sb.st_mode) && unlink(fp) == 0) removed++;
        free(fp);
    }
    closedir(d);
    if (removed)
        fprintf(stderr, "hcg run: note: removed %d temporary file%s that stopped runs left in %s\n", removed,
                removed == 1 ? "" : "s", dir);
}

hcg_status run_outputs_prepare(run_outputs *o, const char *dir, const hcg_graph *g)
{
    memset(o, 0, sizeof *o);
    o->dir = dir;
    o->n = hcg_graph_num_outputs(g);
    o->files = calloc((size_t)o->n + 1, sizeof *o->files);
    o->paths = calloc((size_t)o->n + 1, sizeof *o->paths);
    if (!o->files || !o->paths) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int j = 0; j < o->n; j++) {
        char file[600];
        file_name_for(hcg_graph_output_name(g, j), file, sizeof file);
        if (!(o->files[j] = strdup(file)) || !(o->paths[j] = join(dir, file)))
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
        for (int k = 0; k < j; k++)
            if (strcmp(o->files[k], file) == 0)
                return hcg_error(HCG_ERR_ARG, "the outputs '%s' and '%s' would both be written to %s: give them names "
                                 "that differ in letters, digits, '.', '_' or '-'",
                                 hcg_graph_output_name(g, k), hcg_graph_output_name(g, j), o->paths[j]);
    }
    struct stat dsb;
    if (stat(dir, &dsb) != 0) return HCG_OK; /* made when the outputs are written: nothing to clean */
    if (!S_ISDIR(dsb.st_mode)) return hcg_error(HCG_ERR_IO, "the output folder %s is not a folder", dir);
    hcg_status st;
    for (int j = 0; j < o->n; j++) {
        struct stat sb;
        if (lstat(o->paths[j], &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISLNK(sb.st_mode))
            return hcg_error(HCG_ERR_IO, "%s exists and is not a regular file: output '%s' cannot be written there",
                             o->paths[j], hcg_graph_output_name(g, j));
    }
    if ((st = clean_incomplete_set(dir))) return st;
    clean_temp_files(dir);
    return HCG_OK;
}

/* The manifest: the files of the set, and whether all of them are in place. */
static hcg_status write_manifest(const run_outputs *o, const hcg_graph *g, hcg_tensor *const *t, const char *model,
                                 bool complete)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "hcg_output_set", 1);
    cJSON_AddBoolToObject(root, "complete", complete);
    cJSON_AddNumberToObject(root, "pid", (double)getpid());
    cJSON_AddStringToObject(root, "model", model);
    cJSON *files = cJSON_AddArrayToObject(root, "files");
    for (int j = 0; j < o->n; j++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddItemToArray(files, f);
        cJSON_AddStringToObject(f, "output", hcg_graph_output_name(g, j));
        cJSON_AddStringToObject(f, "file", o->files[j]);
        if (!complete) continue;
        cJSON_AddStringToObject(f, "dtype", hcg_dtype_name(t[j]->dtype));
        cJSON *shape = cJSON_AddArrayToObject(f, "shape");
        for (int d = 0; d < t[j]->shape.rank; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[j]->shape.dims[d]));
        cJSON_AddNumberToObject(f, "data_bytes", (double)t[j]->nbytes);
        char sum[24];
        snprintf(sum, sizeof sum, "%016" PRIx64, fnv64(t[j]->data, t[j]->nbytes));
        cJSON_AddStringToObject(f, "data_fnv64", sum);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char *path = join(o->dir, MANIFEST);
    hcg_status st = text && path ? hcg_write_file_atomic(path, text, strlen(text)) : hcg_error(HCG_ERR_NOMEM, "out of memory");
    free(text);
    free(path);
    return st;
}

hcg_status run_outputs_write(run_outputs *o, const hcg_graph *g, hcg_tensor *const *t, const char *model)
{
    hcg_status made = hcg_make_dirs(o->dir);
    if (made) return made;
    /* Room for every file at once (the temporary files exist side by side before the renames). */
    double need = 4096;
    for (int j = 0; j < o->n; j++) need += (double)hcg_npy_file_size(t[j]);
    struct statvfs vfs;
    if (statvfs(o->dir, &vfs) == 0 && (double)vfs.f_bavail * (double)vfs.f_frsize < need) {
        char a[32], b[32];
        hcg_format_bytes(need, a, sizeof a);
        hcg_format_bytes((double)vfs.f_bavail * (double)vfs.f_frsize, b, sizeof b);
        return hcg_error(HCG_ERR_IO, "the outputs need %s, and the file system of %s has %s free: nothing was written", a,
                         o->dir, b);
    }
    /* The earlier run's manifest, put back if writing fails before anything is renamed. */
    char *mpath = join(o->dir, MANIFEST), *old = NULL;
    size_t old_len = 0;
    hcg_pending_file **pf = calloc((size_t)o->n + 1, sizeof *pf);
    if (!mpath || !pf) {
        free(mpath);
        free(pf);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    if (hcg_read_file(mpath, &old, &old_len)) old = NULL;
    hcg_status st = write_manifest(o, g, t, model, false);
    for (int j = 0; j < o->n && !st; j++) st = hcg_npy_save_pending(o->paths[j], t[j], &pf[j]);
    if (st) {
        char *msg = strdup(hcg_last_error());
        for (int j = 0; j < o->n; j++) hcg_pending_abort(pf[j]);
        memset(pf, 0, sizeof *pf * (size_t)o->n);
        if (old) hcg_write_file_atomic(mpath, old, old_len);
        else unlink(mpath);
        hcg_error(st, "%s", msg ? msg : "out of memory");
        free(msg);
    }
    /* every file is complete on disk: rename them all (a failure leaves the manifest incomplete) */
    for (int j = 0; j < o->n && !st; j++) {
        st = hcg_pending_commit(pf[j]);
        pf[j] = NULL;
    }
    for (int j = 0; j < o->n; j++) hcg_pending_abort(pf[j]); /* what was not renamed */
    free(pf);
    free(old);
    free(mpath);
    if (!st) st = write_manifest(o, g, t, model, true);
    return st;
}

const char *run_outputs_path(const run_outputs *o, int j) { return o->paths[j]; }

void run_outputs_free(run_outputs *o)
{
    for (int j = 0; j < o->n; j++) {
        if (o->files) free(o->files[j]);
        if (o->paths) free(o->paths[j]);
    }
    free(o->files);
    free(o->paths);
    memset(o, 0, sizeof *o);
}
