/* quantize.h — making a model's weights smaller (graph/quantize.c, `hcg quantize`): each weight a
 * matrix product reads as b (matmul, fused_matmul) or a gather reads rows of (an embedding table)
 * is stored as f16, or as symmetric int8 with f32 or f16 scales per output column / row or per
 * block of K, followed by the node that widens it (cast, dequantize) under the weight's own name,
 * which the rewrite passes then fold into the reader (graph/pass_quant.c). */
#ifndef HCG_QUANTIZE_H
#define HCG_QUANTIZE_H

#include "graph/graph.h"

typedef enum hcg_weight_format { HCG_WEIGHTS_F16 = 1, HCG_WEIGHTS_INT8 } hcg_weight_format;

typedef struct hcg_quantize_options {
    hcg_weight_format weights;
    int64_t group;         /* int8: one scale per `group` elements along K (0: one per output column / row) */
    hcg_dtype scale_dtype; /* int8 scales: HCG_F32 (the default, 0) or HCG_F16 */
    const char *const *skip; /* fnmatch patterns: matching weights stay as they are */
    int n_skip;
    /* fnmatch patterns: only the weights these match (each must match one, and each it matches must
     * be quantizable: an error says why not). NULL: every weight that can be. */
    const char *const *only;
    int n_only;
    int64_t min_elements; /* smaller weights stay (0: 1024; biases and norms are tiny anyway) */
    /* int8 with a scale per output column: the products quantize their activations too (rows to
     * uint8 on the fly, int32 sums: quant_matmul's activations=int8, a CPU feature), written as
     * quant_matmul nodes. */
    bool int8_activations;
} hcg_quantize_options;

/* What happened to one weight of at least min_elements (or one an --only pattern names). */
typedef struct hcg_quantize_entry {
    char name[256];
    hcg_dtype dtype; /* as it was */
    hcg_shape shape;
    bool quantized;
    size_t bytes_before, bytes_after; /* after: the small weight and its scales */
    char how[128];                    /* "int8, a scale per output column (f32)", "f16", or why it stayed */
} hcg_quantize_entry;

typedef struct hcg_quantize_report {
    hcg_quantize_entry *entries;
    int n;
    size_t weights_before, weights_after; /* bytes of every param and constant value */
} hcg_quantize_report;

/* A copy of g with its weights made small as opt says; *report lists what was done (free with
 * hcg_quantize_report_free). Errors: a bad option (a group < 1, one that does not divide a weight's
 * K), an --only pattern naming nothing or a weight that cannot be quantized (not f32, not read by a
 * product or gather, ...), values f16 cannot hold or that are not finite. */
hcg_status hcg_quantize_graph(const hcg_graph *g, const hcg_quantize_options *opt, hcg_graph **out,
                              hcg_quantize_report *report);
void hcg_quantize_report_free(hcg_quantize_report *r);

#endif
