/* fuzz_safetensors.c — libFuzzer target for the safetensors reader: every input is a file
 * hcg_st_open maps and validates; every entry of a file that opens is then made into a tensor
 * (which may fail, e.g. for BF16 or bool bytes other than 0 and 1) and its bytes read. Nothing may
 * crash, leak or read outside the mapping (see fuzz/fuzz.cmake). */
#include <stdlib.h>

#include "fuzz/fuzz_file.h"
#include "graph/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".safetensors");
    hcg_st_file *f = NULL;
    if (!path || hcg_st_open(path, &f) != HCG_OK) return 0;
    unsigned sum = 0;
    for (int i = 0; i < hcg_st_count(f); i++) {
        hcg_tensor *t = NULL;
        if (hcg_st_tensor(f, hcg_st_get(f, i), &t) != HCG_OK) continue;
        for (size_t k = 0; k < t->nbytes; k++) sum += ((const unsigned char *)t->data)[k]; /* every byte readable */
        hcg_tensor_free(t);
    }
    hcg_st_close(f);
    return (int)(sum & 0); /* libFuzzer wants 0 */
}
