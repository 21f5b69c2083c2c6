/* placement.c — placement files (`--placement FILE`): lines "PATTERN DEVICE" pin every node whose
 * name matches the fnmatch PATTERN (the first matching line wins) to DEVICE, a device name or, in
 * a job started by mpirun, "rankN:DEVICE" for a device of rank N (graph/rank_split.c splits the
 * graph there). '#' starts a comment. A pattern that matches no node is an error (a typo). */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

hcg_status cli_pin_matching(hcg_graph *g, const char *pattern, const char *device, int *matched)
{
    *matched = 0;
    for (hcg_id id = 0; id < hcg_graph_num_nodes(g); id++) {
        /* a pinned node: an earlier line placed it */
        if (hcg_graph_node_pin(g, id) || fnmatch(pattern, hcg_graph_node_name(g, id), 0) != 0) continue;
        hcg_status st = hcg_pin(g, id, device);
        if (st) return st;
        (*matched)++;
    }
    return HCG_OK;
}

hcg_status cli_apply_placement(hcg_graph *g, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return hcg_error(HCG_ERR_IO, "cannot open the placement file %s", path);
    char line[1024];
    int lineno = 0;
    hcg_status st = HCG_OK;
    while (!st && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char pattern[512], device[128], extra[8];
        int k = sscanf(line, "%511s %127s %7s", pattern, device, extra);
        if (k <= 0) continue;
        if (k != 2) {
            st = hcg_error(HCG_ERR_PARSE, "%s:%d: a placement line is PATTERN DEVICE", path, lineno);
            break;
        }
        int matched = 0;
        if ((st = cli_pin_matching(g, pattern, device, &matched))) hcg_error_prefix(st, "%s:%d: ", path, lineno);
        else if (!matched) st = hcg_error(HCG_ERR_NOT_FOUND, "%s:%d: '%s' matches no node of the model", path, lineno, pattern);
    }
    fclose(f);
    return st;
}
