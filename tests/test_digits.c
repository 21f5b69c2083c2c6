/* test_digits.c — real data: `hcg train` trains the digits MLP and transformer
 * (models/digits/train.sh) to at least 95% accuracy on the 360 held-out images, whose labels are
 * the reference. Devices from $HCG_TEST_DEVICES (default cpu). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static char out[1 << 16];

int main(void)
{
    const char *devices = getenv("HCG_TEST_DEVICES");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "TMPDIR='%s' '%s' '%s' '%s' 2>&1", tl_tmpdir(), tl_src("models/digits/train.sh"),
             tl_hcg_bin(), devices && *devices ? devices : "cpu");
    int rc = tl_run(cmd, out, sizeof out);
    CHECK(rc == 0, "models/digits/train.sh: %s", out);
    const char *model[2] = {"mlp", "transformer"};
    char *p = out;
    for (int m = 0; m < 2; m++) {
        double acc = -1;
        char *line = strstr(p, "eval after step");
        char *a = line ? strstr(line, "accuracy ") : NULL;
        if (a) acc = atof(a + 9);
        CHECK(acc >= 0.95, "the digits %s reaches 95%% held-out accuracy (%.4f)", model[m], acc);
        printf("digits %s: held-out accuracy %.4f\n", model[m], acc);
        p = a ? a : p;
    }
    return tl_finish();
}
