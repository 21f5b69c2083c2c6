/* load.c — hcg_load: picks the reader by the file's extension (.hcg text, .onnx). */
#include <string.h>
#include <strings.h>

#include "graph/graph.h"
#include "graph/text_format.h"
#ifdef HCG_HAVE_ONNX
#include "graph/onnx/onnx.h"
#endif

static bool has_extension(const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t n = strlen(base), e = strlen(ext);
    return n > e && strcasecmp(base + n - e, ext) == 0;
}

hcg_status hcg_load(const char *path, hcg_graph **out)
{
    if (!out) return hcg_error(HCG_ERR_ARG, "hcg_load: no output pointer");
    *out = NULL;
    if (!path || !*path) return hcg_error(HCG_ERR_ARG, "hcg_load: no path");
    if (has_extension(path, ".hcg")) return hcg_text_load(path, out);
    if (has_extension(path, ".onnx")) {
#ifdef HCG_HAVE_ONNX
        return hcg_onnx_load(path, out);
#else
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: this hcg was built without ONNX support (configure with -DHCG_ONNX=ON)",
                         path);
#endif
    }
    return hcg_error(HCG_ERR_UNSUPPORTED, "%s: unknown graph file type (hcg reads .hcg text and .onnx files)", path);
}
