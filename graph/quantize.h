/* quantize.h — making a model's weights smaller (graph/quantize.c, `hcg quantize`). The API
 * (hcg_quantize_graph, its options and report) is public: include/hcg/hcg.h. */
#ifndef HCG_QUANTIZE_H
#define HCG_QUANTIZE_H

#include "graph/graph.h"

#endif
