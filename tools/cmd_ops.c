/* cmd_ops.c — `hcg ops`: the op table, one line per op with its inputs and attributes. */
#include <stdio.h>

#include "graph/op_table.h"
#include "tools/cli.h"

int cmd_ops(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (int op = 0; op < HCG_OP_COUNT; op++) {
        const hcg_op_info *info = hcg_op_info_get((hcg_op)op);
        printf("%-18s ", info->name);
        if (info->max_inputs < 0) printf("inputs %d+", info->min_inputs);
        else if (info->min_inputs == info->max_inputs) printf("inputs %d", info->min_inputs);
        else printf("inputs %d-%d", info->min_inputs, info->max_inputs);
        for (int a = 0; a < HCG_MAX_ATTRS && info->attrs[a].name; a++)
            printf("%s%s%s", a ? ", " : "  attrs: ", info->attrs[a].name, info->attrs[a].required ? " (required)" : "");
        printf("\n    %s\n", info->doc ? info->doc : "");
    }
    return 0;
}
