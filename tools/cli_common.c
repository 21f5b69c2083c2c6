/* cli_common.c — helpers shared by the hcg subcommands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hcg %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return 1;
}

bool cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return false;
    if (a[n] == '=') {
        *value = a + n + 1;
        return true;
    }
    if (a[n] != 0) return false;
    if (*i + 1 >= argc) {
        *value = NULL;
        return true;
    }
    *value = argv[++*i];
    return true;
}

bool cli_parse_dims(const char *s, hcg_shape *out)
{
    memset(out, 0, sizeof *out);
    if (!*s || strcmp(s, "scalar") == 0) return true;
    const char *p = s;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9') return false;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || out->rank >= HCG_MAX_RANK) return false;
        out->dims[out->rank++] = v;
        p = end;
        if (*p == 'x' || *p == 'X' || *p == ',') p++;
        else if (*p) return false;
    }
    return true;
}

bool cli_parse_int(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    *out = v;
    return !*end && errno == 0;
}

bool cli_parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    *out = strtod(s, &end);
    return !*end && errno == 0 && isfinite(*out);
}

const char *cli_split_device(char *spec)
{
    char *at = strrchr(spec, '@');
    if (!at || !at[1]) return NULL;
    *at = 0;
    return at + 1;
}
