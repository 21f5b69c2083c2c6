/* cmd_ops.c — `hcg ops`: the op table, one line per op with its inputs and attributes. */
#include <stdio.h>

#include "cli.h"

int cmd_ops(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < HCG_OP_COUNT; i++) {
        hcg_op op = (hcg_op)i;
        int lo = 0, hi = 0;
        hcg_op_arity(op, &lo, &hi);
        printf("%-18s ", hcg_op_name(op));
        if (hi < 0) printf("inputs %d+", lo);
        else if (lo == hi) printf("inputs %d", lo);
        else printf("inputs %d-%d", lo, hi);
        bool required = false;
        for (int a = 0; hcg_op_attr_name(op, a, &required); a++)
            printf("%s%s%s", a ? ", " : "  attrs: ", hcg_op_attr_name(op, a, NULL), required ? " (required)" : "");
        printf("\n    %s\n", hcg_op_doc(op));
    }
    return 0;
}
