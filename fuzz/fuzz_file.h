/* fuzz_file.h — for fuzz targets whose reader takes a path (npy, safetensors): each input is
 * written to one temporary regular file of this process, which the reader then opens like any
 * other, so the fuzzing covers the real open, stat and read or mmap path. */
#ifndef HCG_FUZZ_FILE_H
#define HCG_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The path holding data (NULL if it cannot be written: the input is skipped). */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    static int fd = -1;
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/hcg-fuzz-%ld%s", dir && *dir ? dir : "/tmp", (long)getpid(), suffix);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return NULL;
    }
    if (ftruncate(fd, 0) != 0) return NULL;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0) return NULL;
        done += (size_t)w;
    }
    return path;
}

#endif
