/* onnx.h — the ONNX reader's entry point: turns a .onnx file (protobuf, opsets up to 20, external
 * data beside the model) into an hcg graph. graph/load.c dispatches ".onnx" paths here. The code
 * that decodes the protobuf is generated at build time by protoc-c from Debian's onnx.proto. */
#ifndef HCG_ONNX_H
#define HCG_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcg/hcg.h"

/* Loads an ONNX model. Initializers become params (the graph owns their data), graph inputs keep
 * their names, dtypes and dims (dim_param -> symbolic dims), and each node maps onto hcg ops.
 * Errors: HCG_ERR_IO (unreadable file), HCG_ERR_FORMAT (malformed protobuf or tensor data),
 * HCG_ERR_UNSUPPORTED (an op, attribute value or dtype hcg lacks, naming the op, node and opset),
 * HCG_ERR_GRAPH (an undefined value, a cycle). */
hcg_status hcg_onnx_load(const char *path, hcg_graph **out);

/* Options for hcg_onnx_load_ex. */
typedef struct hcg_onnx_options {
    /* Graph inputs to replace by constants holding these values (cloned). The ONNX test suite
     * feeds attribute-like values (a Reshape's shape, a Slice's starts) as graph inputs, while hcg
     * needs them constant once input shapes are bound (see hcg_onnx_is_attr_input). */
    int n_frozen;
    const char *const *frozen_names;
    const hcg_tensor *const *frozen_values;
} hcg_onnx_options;

hcg_status hcg_onnx_load_ex(const char *path, const hcg_onnx_options *opt, hcg_graph **out);

/* True if the reader maps default-domain op type op_type (at some opset). */
bool hcg_onnx_op_mapped(const char *op_type);

/* True if input `index` of a default-domain node of type op_type carries what hcg treats as an
 * attribute (Reshape's shape, Slice's starts/ends/axes/steps, Clip's min/max, ...): it must be a
 * constant once input shapes are bound. */
bool hcg_onnx_is_attr_input(const char *op_type, int index);

/* Reads a file holding one serialized TensorProto (the ONNX test suite's input_N.pb and
 * output_N.pb). *name (may be NULL) receives the tensor's name ("" if none; caller frees). */
hcg_status hcg_onnx_read_tensor(const char *path, hcg_tensor **out, char **name);

/* Loads an ONNX model held in memory. base_dir is the folder external data files are resolved
 * against (NULL: external data is refused); name labels error messages. Used by the fuzzer. */
hcg_status hcg_onnx_load_buffer(const uint8_t *data, size_t len, const char *base_dir, const char *name,
                                const hcg_onnx_options *opt, hcg_graph **out);

#endif
