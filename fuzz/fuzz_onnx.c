/* fuzz_onnx.c — libFuzzer target for the ONNX reader: every input is decoded as a ModelProto and
 * mapped to an hcg graph; the reader must return a graph or an error, never crash, leak or read
 * out of bounds (built with -fsanitize=fuzzer,address,undefined; see fuzz/fuzz.cmake).
 * With HCG_FUZZ_BIND=1 in the environment, graphs that load are also bound to trial shapes, which
 * takes the fuzzing on into the shape rules. */
#include <stdint.h>
#include <stdlib.h>

#include "graph/bind.h"
#include "graph/onnx/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int bind = -1;
    if (bind < 0) bind = getenv("HCG_FUZZ_BIND") && *getenv("HCG_FUZZ_BIND") == '1';
    hcg_graph *g = NULL;
    /* No folder: external data is refused, so the fuzzer never opens files. */
    if (hcg_onnx_load_buffer(data, size, NULL, "fuzz", NULL, &g) == HCG_OK) {
        if (bind) (void)hcg_graph_check(g, NULL);
        hcg_graph_free(g);
    }
    return 0;
}
