/* fuzz_text.c — libFuzzer target for the .hcg text reader: every input is parsed as a graph (no
 * weights folder, so no file is opened) and, when it parses, bound to trial shapes with constant
 * folding on the CPU kernels, which takes the fuzzing on into the shape rules and the kernels of
 * folded nodes. The reader and binder must return a graph or an error, never crash, leak or read
 * out of bounds (built with -fsanitize=fuzzer,address,undefined; see fuzz/fuzz.cmake). */
#include <stdint.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"
#include "graph/bind.h"
#include "graph/text_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hcg_graph *g = NULL;
    if (hcg_text_parse((const char *)data, size, "fuzz.hcg", NULL, &g) == HCG_OK) {
        hcg_bind_options bo = {.eval = hcg_cpu_eval};
        (void)hcg_graph_check(g, &bo);
        hcg_graph_free(g);
    }
    return 0;
}
