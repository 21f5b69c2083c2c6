/* cmd_ensemble.c — `hcg ensemble OUT.hcg --member MODEL[:WEIGHT]... --combine weighted|vote|concat
 * [--softmax] [--head MODEL] [--labels NAME]`: writes one standalone graph (OUT.hcg and
 * OUT.safetensors) combining the members (graph/workloads.c), whose output is `ensemble`. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_MEMBERS 64

const char cmd_ensemble_usage[] =
    "usage: hcg ensemble OUT.hcg --member MODEL[:WEIGHT][@DEVICE]... --combine weighted|vote|concat [--softmax]\n"
    "                    [--head MODEL] [--labels NAME]\n"
    "\n"
    "Writes one standalone graph (OUT.hcg and OUT.safetensors beside it) whose output `ensemble` combines\n"
    "the members' first outputs. Members (.hcg or ONNX) share inputs by name; their nodes are renamed\n"
    "m0/..., m1/... so nothing collides.\n"
    "  --member MODEL[:WEIGHT][@DEVICE]  a member, its weight (default: equal; weights are normalised)\n"
    "                           and a device it is pinned to in OUT.hcg\n"
    "  --combine weighted       sum of w_i * out_i; with --softmax, of w_i * softmax(out_i)\n"
    "  --combine vote           an int64 class per row: the class whose voters' weights add up most\n"
    "                           (a member votes for its argmax; ties go to the lowest class index)\n"
    "  --combine concat         the outputs joined on the last axis feed --head MODEL (its one input)\n"
    "  --labels NAME            also an int64 [N] input NAME and the outputs loss and accuracy, so that\n"
    "                           `hcg train OUT.hcg --loss loss ...` trains the members jointly (a vote\n"
    "                           has no gradient: it gets the accuracy output only)\n";

/* MODEL[:WEIGHT]: the weight is what follows the last ':' when it is a number. */
static void split_weight(char *spec, double *weight, bool *has)
{
    char *colon = strrchr(spec, ':'), *end;
    *has = false;
    if (!colon || !colon[1]) return;
    errno = 0;
    double w = strtod(colon + 1, &end);
    if (*end || errno) return;
    *colon = 0;
    *weight = w;
    *has = true;
}

int cmd_ensemble(int argc, char **argv)
{
    const char *out = NULL, *combine = NULL, *head_path = NULL, *labels = NULL, *v = NULL;
    char *specs[MAX_MEMBERS];
    int n = 0, rc = 1;
    bool softmax = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--member", &v)) {
            if (!v) return cli_fail("ensemble", "--member needs MODEL[:WEIGHT]");
            if (n == MAX_MEMBERS) return cli_fail("ensemble", "more than %d members", MAX_MEMBERS);
            specs[n++] = (char *)v;
        } else if (cli_opt(argc, argv, &i, "--combine", &combine)) {
            if (!combine) return cli_fail("ensemble", "--combine needs weighted, vote or concat");
        } else if (cli_opt(argc, argv, &i, "--head", &head_path)) {
            if (!head_path) return cli_fail("ensemble", "--head needs a model");
        } else if (cli_opt(argc, argv, &i, "--labels", &labels)) {
            if (!labels) return cli_fail("ensemble", "--labels needs the name of the labels input to add");
        } else if (strcmp(argv[i], "--softmax") == 0) softmax = true;
        else if (argv[i][0] == '-') return cli_fail("ensemble", "unknown option '%s' (hcg ensemble --help)", argv[i]);
        else if (!out) out = argv[i];
        else return cli_fail("ensemble", "more than one output file given ('%s' and '%s')", out, argv[i]);
    }
    if (!out) return cli_fail("ensemble", "no output file given\n%s", cmd_ensemble_usage);
    if (n == 0) return cli_fail("ensemble", "no --member given");
    if (!combine) return cli_fail("ensemble", "--combine weighted|vote|concat is required");
    hcg_ensemble_options o = {.softmax = softmax, .labels = labels};
    if (strcmp(combine, "weighted") == 0) o.combine = HCG_COMBINE_WEIGHTED;
    else if (strcmp(combine, "vote") == 0) o.combine = HCG_COMBINE_VOTE;
    else if (strcmp(combine, "concat") == 0) o.combine = HCG_COMBINE_CONCAT;
    else return cli_fail("ensemble", "--combine must be weighted, vote or concat, not '%s'", combine);
    if (softmax && o.combine != HCG_COMBINE_WEIGHTED) return cli_fail("ensemble", "--softmax goes with --combine weighted");
    size_t ol = strlen(out);
    if (ol < 5 || strcmp(out + ol - 4, ".hcg") != 0) return cli_fail("ensemble", "the output '%s' must be a .hcg file", out);
    hcg_graph *members[MAX_MEMBERS] = {NULL}, *head = NULL, *g = NULL;
    double weights[MAX_MEMBERS];
    const char *device[MAX_MEMBERS];
    int n_weighted = 0;
    for (int i = 0; i < n; i++) {
        bool has;
        device[i] = cli_split_device(specs[i]);
        weights[i] = 1.0;
        split_weight(specs[i], &weights[i], &has);
        n_weighted += has;
        if (hcg_load(specs[i], &members[i])) {
            fprintf(stderr, "hcg ensemble: member %d: %s\n", i + 1, hcg_last_error());
            goto done;
        }
    }
    if (n_weighted && n_weighted != n) {
        cli_fail("ensemble", "give a weight to every member or to none (%d of %d have one)", n_weighted, n);
        goto done;
    }
    if (head_path && hcg_load(head_path, &head)) {
        fprintf(stderr, "hcg ensemble: the head model: %s\n", hcg_last_error());
        goto done;
    }
    o.head = head;
    if (hcg_ensemble_build((const hcg_graph *const *)members, (const char *const *)specs, weights, n, &o, &g)) {
        fprintf(stderr, "hcg ensemble: %s\n", hcg_last_error());
        goto done;
    }
    for (int i = 0; i < n; i++) {
        char group[32];
        snprintf(group, sizeof group, "m%d", i);
        if (device[i] && hcg_workload_pin(g, group, device[i])) {
            fprintf(stderr, "hcg ensemble: %s\n", hcg_last_error());
            goto done;
        }
    }
    if (hcg_save(g, out)) {
        fprintf(stderr, "hcg ensemble: %s\n", hcg_last_error());
        goto done;
    }
    printf("wrote %s (%d members, %s%s): output 'ensemble'%s\n", out, n, combine, softmax ? " of probabilities" : "",
           !labels ? "" : o.combine == HCG_COMBINE_VOTE ? " and 'accuracy'" : ", and 'loss' and 'accuracy' for training");
    rc = 0;
done:
    for (int i = 0; i < n; i++) hcg_graph_free(members[i]);
    hcg_graph_free(head);
    hcg_graph_free(g);
    return rc;
}
