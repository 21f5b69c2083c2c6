/* cmd_compare.c — `hcg compare GOT.npy WANT.npy [--rtol R] [--atol A]`: compares two tensors
 * elementwise (|got - want| <= atol + rtol * |want|), prints the worst difference, and exits
 * non-zero when they differ or their types do. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static double element(const hcg_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case HCG_F32: return ((const float *)t->data)[i];
    case HCG_I32: return ((const int32_t *)t->data)[i];
    case HCG_I64: return (double)((const int64_t *)t->data)[i];
    case HCG_U8:
    case HCG_BOOL: return ((const uint8_t *)t->data)[i];
    case HCG_I8: return ((const int8_t *)t->data)[i];
    default: return NAN;
    }
}

int cmd_compare(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL}, *v = NULL;
    double rtol = 1e-5, atol = 1e-6;
    int nf = 0, rc = 1;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--rtol", &v)) {
            if (!v) return cli_fail("compare", "--rtol needs a value");
            rtol = atof(v);
        } else if (cli_opt(argc, argv, &i, "--atol", &v)) {
            if (!v) return cli_fail("compare", "--atol needs a value");
            atol = atof(v);
        } else if (argv[i][0] == '-') return cli_fail("compare", "unknown option '%s'", argv[i]);
        else if (nf < 2) files[nf++] = argv[i];
        else return cli_fail("compare", "usage: hcg compare GOT.npy WANT.npy [--rtol R] [--atol A]");
    }
    if (nf != 2) return cli_fail("compare", "usage: hcg compare GOT.npy WANT.npy [--rtol R] [--atol A]");
    hcg_tensor *a = NULL, *b = NULL;
    if (hcg_npy_load(files[0], &a) || hcg_npy_load(files[1], &b)) {
        fprintf(stderr, "hcg compare: %s\n", hcg_last_error());
        goto done;
    }
    char sa[128], sb[128];
    hcg_shape_format(&a->shape, sa, sizeof sa);
    hcg_shape_format(&b->shape, sb, sizeof sb);
    if (a->dtype != b->dtype || !hcg_shape_equal(&a->shape, &b->shape) || a->dtype == HCG_F16) {
        fprintf(stderr, "hcg compare: %s is %s%s but %s is %s%s\n", files[0], hcg_dtype_name(a->dtype), sa, files[1],
                hcg_dtype_name(b->dtype), sb);
        goto done;
    }
    int64_t n = 0, bad = 0, worst = -1;
    double worst_err = 0, worst_rel = 0;
    hcg_shape_numel(&a->shape, &n);
    for (int64_t i = 0; i < n; i++) {
        double x = element(a, i), y = element(b, i), err = fabs(x - y);
        if (isnan(x) && isnan(y)) continue;
        if (!(err <= atol + rtol * fabs(y))) bad++;
        if (!(err <= worst_err)) {
            worst_err = err;
            worst = i;
            worst_rel = y != 0 ? err / fabs(y) : err;
        }
    }
    printf("%s vs %s: %s%s, %lld elements, max abs diff %.3g (relative %.3g) at %lld; %lld outside rtol %g atol %g\n",
           files[0], files[1], hcg_dtype_name(a->dtype), sa, (long long)n, worst_err, worst_rel, (long long)worst,
           (long long)bad, rtol, atol);
    rc = bad ? 1 : 0;
    printf("%s\n", bad ? "DIFFERENT" : "MATCH");
done:
    hcg_tensor_free(a);
    hcg_tensor_free(b);
    return rc;
}
