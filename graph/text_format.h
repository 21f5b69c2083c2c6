/* text_format.h — the .hcg text format's reader and writer (docs/graph-format.md has the
 * grammar). hcg_load and hcg_save (graph/load.c, graph/text_write.c) are the public entry points;
 * these are the pieces they and the tests use. */
#ifndef HCG_TEXT_FORMAT_H
#define HCG_TEXT_FORMAT_H

#include <stddef.h>

#include "hcg/hcg.h"

/* Reads a .hcg file. Weights files it names are resolved against the file's folder. */
hcg_status hcg_text_load(const char *path, hcg_graph **out);

/* Parses .hcg text held in memory (len bytes; NUL bytes are errors, not terminators). path labels
 * messages ("path:line:col: ...") and becomes the graph's path; weights files are resolved in
 * base_dir (NULL: any weights reference is an error). On failure *out is NULL and everything
 * allocated is freed. */
hcg_status hcg_text_parse(const char *src, size_t len, const char *path, const char *base_dir, hcg_graph **out);

#endif
