/* onnx.h — the ONNX reader's entry point: turns a .onnx file (protobuf, opsets 13 to 17, external
 * data beside the model) into an hcg graph. graph/load.c dispatches ".onnx" paths here. The code
 * that decodes the protobuf is generated at build time by protoc-c from Debian's onnx.proto. */
#ifndef HCG_ONNX_H
#define HCG_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "hcg/hcg.h"

/* Loads an ONNX model. Initializers become params (the graph owns their data), graph inputs keep
 * their names, dtypes and dims (dim_param -> symbolic dims), and each node maps onto hcg ops.
 * Errors: HCG_ERR_IO (unreadable file), HCG_ERR_FORMAT (malformed protobuf or tensor data),
 * HCG_ERR_UNSUPPORTED (an op, attribute value or dtype hcg lacks, naming the op, node and opset),
 * HCG_ERR_GRAPH (an undefined value, a cycle). */
hcg_status hcg_onnx_load(const char *path, hcg_graph **out);

/* Loads an ONNX model held in memory. base_dir is the folder external data files are resolved
 * against (NULL: external data is refused); name labels error messages. Used by the fuzzer. */
hcg_status hcg_onnx_load_buffer(const uint8_t *data, size_t len, const char *base_dir, const char *name,
                                hcg_graph **out);

#endif
