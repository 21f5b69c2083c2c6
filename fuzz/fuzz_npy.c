/* fuzz_npy.c — libFuzzer target for the .npy reader: every input is a file hcg_npy_load reads;
 * it must return a tensor (then saved again and read back equal) or an error, never crash, leak or
 * read out of bounds (see fuzz/fuzz.cmake). */
#include <stdio.h>
#include <string.h>

#include "fuzz/fuzz_file.h"
#include "hcg/hcg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".npy");
    static char copy[300];
    hcg_tensor *t = NULL, *back = NULL;
    if (!path || hcg_npy_load(path, &t) != HCG_OK) return 0;
    /* what was read writes and reads back the same (beside the input, which stays open) */
    snprintf(copy, sizeof copy, "%s.copy.npy", path);
    if (hcg_npy_save(copy, t) != HCG_OK || hcg_npy_load(copy, &back) != HCG_OK || back->dtype != t->dtype ||
        back->nbytes != t->nbytes || (t->nbytes && memcmp(back->data, t->data, t->nbytes) != 0))
        abort();
    hcg_tensor_free(t);
    hcg_tensor_free(back);
    return 0;
}
