/* fileio.c — opening files for reading without blocking on FIFOs or devices, atomic writes
 * (temporary file + fsync + rename; also the public pending files of a set written together) and
 * whole-file reads. */
#include "graph/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/graph.h"

hcg_status hcg_atomic_begin(hcg_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path) return hcg_error(HCG_ERR_ARG, "no file name given");
    size_t n = strlen(path) + 64;
    af->final = hcg_strdup(path);
    af->tmp = malloc(n);
    if (!af->final || !af->tmp) {
        hcg_atomic_abort(af);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    /* O_EXCL with a name made of the pid and a counter: unique among concurrent writers, and
     * created with mode 0666 minus the umask, as fopen would (mkstemp would force 0600). */
    static _Thread_local unsigned counter;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(af->tmp, n, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        hcg_status st = hcg_error(HCG_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                                  strerror(errno));
        free(af->tmp);
        af->tmp = NULL;
        hcg_atomic_abort(af);
        return st;
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        hcg_status st = hcg_error(HCG_ERR_IO, "%s: %s", af->tmp, strerror(errno));
        close(fd);
        hcg_atomic_abort(af);
        return st;
    }
    return HCG_OK;
}

hcg_status hcg_atomic_write(hcg_atomic_file *af, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, af->f) != n)
        return hcg_error(HCG_ERR_IO, "%s: write failed: %s", af->final, strerror(errno));
    return HCG_OK;
}

hcg_status hcg_atomic_sync(hcg_atomic_file *af)
{
    if (!af->f) return HCG_OK;
    hcg_status st = HCG_OK;
    if (fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0)
        st = hcg_error(HCG_ERR_IO, "%s: write failed: %s", af->final, strerror(errno));
    if (fclose(af->f) != 0 && !st) st = hcg_error(HCG_ERR_IO, "%s: write failed: %s", af->final, strerror(errno));
    af->f = NULL;
    return st;
}

hcg_status hcg_atomic_commit(hcg_atomic_file *af)
{
    hcg_status st = hcg_atomic_sync(af);
    if (!st && rename(af->tmp, af->final) != 0)
        st = hcg_error(HCG_ERR_IO, "%s: cannot rename the temporary file over it: %s", af->final, strerror(errno));
    if (st) {
        hcg_atomic_abort(af);
        return st;
    }
    free(af->tmp);
    free(af->final);
    memset(af, 0, sizeof *af);
    return HCG_OK;
}

void hcg_atomic_abort(hcg_atomic_file *af)
{
    if (af->f) fclose(af->f);
    if (af->tmp) remove(af->tmp);
    free(af->tmp);
    free(af->final);
    memset(af, 0, sizeof *af);
}

hcg_status hcg_pending_commit(hcg_pending_file *f)
{
    if (!f) return hcg_error(HCG_ERR_ARG, "hcg_pending_commit: no file");
    hcg_status st = hcg_atomic_commit(&f->af);
    free(f);
    return st;
}

void hcg_pending_abort(hcg_pending_file *f)
{
    if (!f) return;
    hcg_atomic_abort(&f->af);
    free(f);
}

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) || S_ISBLK(m) ? "a device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

hcg_status hcg_open_regular(const char *path, int *fd_out, struct stat *sb_out)
{
    *fd_out = -1;
    if (!path || !*path) return hcg_error(HCG_ERR_ARG, "no file name given");
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        hcg_status st = hcg_error(HCG_ERR_IO, "%s: cannot open: %s", path, strerror(e));
        errno = e; /* callers may tell a missing file apart */
        return st;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        hcg_status st = hcg_error(HCG_ERR_IO, "%s: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return hcg_error(HCG_ERR_IO, "%s: not a regular file (%s)", path, file_kind(sb.st_mode));
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        hcg_status st = hcg_error(HCG_ERR_IO, "%s: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    *fd_out = fd;
    if (sb_out) *sb_out = sb;
    return HCG_OK;
}

hcg_status hcg_fopen_regular(const char *path, FILE **f_out, struct stat *sb_out)
{
    int fd;
    *f_out = NULL;
    hcg_status st = hcg_open_regular(path, &fd, sb_out);
    if (st) return st;
    if (!(*f_out = fdopen(fd, "rb"))) {
        st = hcg_error(HCG_ERR_IO, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return st;
}

hcg_status hcg_read_file(const char *path, char **data, size_t *len)
{
    FILE *f;
    struct stat sb;
    hcg_status st = hcg_fopen_regular(path, &f, &sb);
    if (st) return st;
    size_t size = (size_t)sb.st_size;
    if ((off_t)size != sb.st_size || size == SIZE_MAX) {
        fclose(f);
        return hcg_error(HCG_ERR_IO, "%s: too large", path);
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        return hcg_error(HCG_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = fread(buf, 1, size, f);
    bool err = ferror(f) != 0;
    fclose(f);
    if (err || got != size) {
        free(buf);
        return hcg_error(HCG_ERR_IO, "%s: read failed (got %zu of %zu bytes)", path, got, size);
    }
    buf[size] = 0;
    *data = buf;
    *len = size;
    return HCG_OK;
}

hcg_status hcg_write_file_atomic(const char *path, const void *data, size_t n)
{
    hcg_atomic_file af;
    hcg_status st = hcg_atomic_begin(&af, path);
    if (st) return st;
    if ((st = hcg_atomic_write(&af, data, n))) {
        hcg_atomic_abort(&af);
        return st;
    }
    return hcg_atomic_commit(&af);
}

hcg_status hcg_make_dirs(const char *path)
{
    char tmp[4096];
    if (!path || !*path || strlen(path) >= sizeof tmp) return hcg_error(HCG_ERR_ARG, "bad folder name");
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return hcg_error(HCG_ERR_IO, "cannot create the folder %s: %s", tmp, strerror(errno));
        *p = c;
        if (!c) break;
    }
    return HCG_OK;
}
