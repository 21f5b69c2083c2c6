/* error.c — status names and the per-thread error message every fallible call fills. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/op_table.h"

static _Thread_local char error_message[HCG_ERROR_LEN];

const char *hcg_status_name(hcg_status s)
{
    switch (s) {
    case HCG_OK: return "ok";
    case HCG_ERR_ARG: return "invalid argument";
    case HCG_ERR_PARSE: return "parse error";
    case HCG_ERR_GRAPH: return "invalid graph";
    case HCG_ERR_SHAPE: return "shape error";
    case HCG_ERR_FORMAT: return "malformed file";
    case HCG_ERR_IO: return "I/O error";
    case HCG_ERR_NOMEM: return "out of memory";
    case HCG_ERR_UNSUPPORTED: return "unsupported";
    case HCG_ERR_DEVICE: return "device error";
    case HCG_ERR_NOT_FOUND: return "not found";
    case HCG_ERR_RUNTIME: return "runtime error";
    case HCG_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *hcg_last_error(void) { return error_message; }

hcg_status hcg_error(hcg_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

hcg_status hcg_error_prefix(hcg_status code, const char *fmt, ...)
{
    /* the prefix may hold paths: as long as the message may be; the cause (the old message)
     * comes after it and is cut only when both together overflow */
    char prefix[HCG_ERROR_LEN], old[HCG_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    snprintf(error_message, sizeof error_message, "%s%s", prefix, old);
    return code;
}

hcg_status hcg_node_error(const hcg_graph *g, const hcg_node *n, hcg_status code, const char *fmt,
                          ...)
{
    char msg[HCG_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *op = hcg_op_name(n->op);
    if (g && g->path && n->line > 0)
        snprintf(error_message, sizeof error_message, "%s:%d:%d: node '%s' (%s): %s", g->path,
                 n->line, n->col, n->name ? n->name : "?", op, msg);
    else
        snprintf(error_message, sizeof error_message, "node '%s' (%s): %s", n->name ? n->name : "?",
                 op, msg);
    return code;
}
