/* cache.c — the cache folder and its checked entries (see cache.h for the format): finding and
 * creating the folder once per process, paths inside it that never get silently cut, loading an
 * entry only when its header, length and checksum all match (deleting it otherwise), and storing
 * entries atomically. */
#include "backend/cache.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/fileio.h"
#include "graph/graph.h"

#define CACHE_FORMAT 1

/* ---------------------------------------------------------------- the folder */

static pthread_once_t dir_once = PTHREAD_ONCE_INIT;
static char dir[PATH_MAX];
static char problem[PATH_MAX + 256];
static bool usable;

static void find_dir(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int w = xdg && *xdg ? snprintf(dir, sizeof dir, "%s/hcg", xdg)
                        : snprintf(dir, sizeof dir, "%s/.cache/hcg", home && *home ? home : "/tmp");
    if (w < 0 || (size_t)w >= sizeof dir) {
        snprintf(problem, sizeof problem, "the cache folder's name (from %s) is longer than %d bytes: nothing is cached",
                 xdg && *xdg ? "XDG_CACHE_HOME" : "HOME", PATH_MAX - 1);
        dir[0] = 0;
        return;
    }
    if (hcg_make_dirs(dir)) {
        snprintf(problem, sizeof problem, "%s: nothing is cached", hcg_last_error());
        return;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(problem, sizeof problem, "the cache folder %s is not writable (%s): nothing is cached", dir,
                 strerror(errno));
        return;
    }
    usable = true;
}

const char *hcg_cache_dir(void)
{
    pthread_once(&dir_once, find_dir);
    return usable ? dir : NULL;
}

const char *hcg_cache_problem(void)
{
    pthread_once(&dir_once, find_dir);
    return usable ? NULL : problem;
}

bool hcg_cache_path(char *buf, size_t n, const char *sub_fmt, ...)
{
    static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;
    static bool warned;
    const char *d = hcg_cache_dir();
    if (!d) return false;
    char sub[1024];
    va_list ap;
    va_start(ap, sub_fmt);
    int w = vsnprintf(sub, sizeof sub, sub_fmt, ap);
    va_end(ap);
    int total = w >= 0 && (size_t)w < sizeof sub ? snprintf(buf, n, "%s/%s", d, sub) : -1;
    if (total < 0 || (size_t)total >= n) {
        pthread_mutex_lock(&warn_lock);
        if (!warned) fprintf(stderr, "hcg: note: a path in the cache folder %s would be too long: not cached\n", d);
        warned = true;
        pthread_mutex_unlock(&warn_lock);
        return false;
    }
    /* the entry's folder ("opencl/") */
    char *slash = strrchr(buf, '/');
    if (slash && slash > buf + strlen(d)) {
        *slash = 0;
        hcg_status st = hcg_make_dirs(buf);
        *slash = '/';
        if (st) return false;
    }
    return true;
}

/* ---------------------------------------------------------------- entries */

uint64_t hcg_fnv64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (!h) h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* The identity as written in the header: one line. */
static void one_line(const char *s, char *buf, size_t n)
{
    snprintf(buf, n, "%s", s ? s : "");
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

static void note(const hcg_cache_key *key, const char *path, const char *why)
{
    fprintf(stderr, "hcg: note: %s: the cache entry %s was damaged (%s); deleted, %s\n", key->what, path, why,
            key->then ? key->then : "rebuilding it");
}

void hcg_cache_discard(const char *path, const hcg_cache_key *key, const char *why)
{
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) rmdir(path);
    else unlink(path);
    note(key, path, why);
}

hcg_cache_result hcg_cache_load(const char *path, const hcg_cache_key *key, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd;
    struct stat sb;
    char why[256] = "";
    if (hcg_open_regular(path, &fd, &sb)) {
        if (fd < 0 && errno == ENOENT) return HCG_CACHE_MISSING;
        struct stat lsb;
        if (lstat(path, &lsb) != 0) return HCG_CACHE_MISSING; /* gone meanwhile */
        hcg_cache_discard(path, key, S_ISDIR(lsb.st_mode) ? "a folder, not a file" : "not a regular file");
        return HCG_CACHE_DAMAGED;
    }
    char identity[1024];
    one_line(key->identity, identity, sizeof identity);
    size_t max_header = strlen(identity) + 128;
    unsigned char *buf = NULL;
    size_t size = (size_t)sb.st_size;
    if ((off_t)size != sb.st_size || size > key->max_length + max_header) {
        snprintf(why, sizeof why, "%lld bytes, more than an entry may hold", (long long)sb.st_size);
    } else if (!(buf = malloc(size + 1))) {
        close(fd);
        return HCG_CACHE_MISSING; /* out of memory: rebuild without touching the entry */
    } else {
        size_t got = 0;
        while (got < size) {
            ssize_t r = read(fd, buf + got, size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (got != size) snprintf(why, sizeof why, "read %zu of %zu bytes", got, size);
        else buf[size] = 0;
    }
    close(fd);
    unsigned int version = 0;
    unsigned long long source = 0, length = 0, sum = 0;
    int id_at = 0;
    const unsigned char *eol = buf && !why[0] ? memchr(buf, '\n', size < max_header ? size : max_header) : NULL;
    if (why[0]) {
    } else if (!eol || sscanf((const char *)buf, "hcg-cache %u source=%16llx length=%llu fnv64=%16llx id=%n", &version,
                              &source, &length, &sum, &id_at) != 4 || id_at <= 0 || buf + id_at > eol) {
        snprintf(why, sizeof why, "no valid header");
    } else if (version != CACHE_FORMAT) {
        snprintf(why, sizeof why, "format version %u, this hcg reads %d", version, CACHE_FORMAT);
    } else if ((size_t)(eol - (buf + id_at)) != strlen(identity) || memcmp(buf + id_at, identity, strlen(identity)) != 0) {
        snprintf(why, sizeof why, "made for another program, device or driver");
    } else if (source != key->source) {
        snprintf(why, sizeof why, "made from another source");
    } else {
        size_t header = (size_t)(eol - buf) + 1, have = size - header;
        if (length > key->max_length) snprintf(why, sizeof why, "its header claims %llu bytes", length);
        else if (have < length) snprintf(why, sizeof why, "truncated: %zu of %llu bytes", have, length);
        else if (have > length) snprintf(why, sizeof why, "%zu bytes more than its header says", have - (size_t)length);
        else if (hcg_fnv64(0, buf + header, have) != sum) snprintf(why, sizeof why, "checksum mismatch");
        else {
            memmove(buf, buf + header, have);
            buf[have] = 0;
            *data = buf;
            *len = have;
            return HCG_CACHE_OK;
        }
    }
    free(buf);
    hcg_cache_discard(path, key, why);
    return HCG_CACHE_DAMAGED;
}

hcg_status hcg_cache_store(const char *path, const hcg_cache_key *key, const void *data, size_t len)
{
    char identity[1024], header[1300];
    one_line(key->identity, identity, sizeof identity);
    int w = snprintf(header, sizeof header, "hcg-cache %d source=%016" PRIx64 " length=%zu fnv64=%016" PRIx64 " id=%s\n",
                     CACHE_FORMAT, key->source, len, hcg_fnv64(0, data, len), identity);
    if (w < 0 || (size_t)w >= sizeof header) return hcg_error(HCG_ERR_INTERNAL, "%s: the cache header is too long", path);
    hcg_atomic_file af;
    hcg_status st = hcg_atomic_begin(&af, path);
    if (st) return st;
    if ((st = hcg_atomic_write(&af, header, (size_t)w)) || (st = hcg_atomic_write(&af, data, len))) {
        hcg_atomic_abort(&af);
        return st;
    }
    return hcg_atomic_commit(&af); /* fsync, then rename */
}
