/* cmd_devices.c — `hcg devices [--json] [--calibrate] [--devices LIST] [--all-ranks]`: lists every
 * device with its name, type and description; --calibrate measures (and tunes) the selected devices
 * and stores their cost profiles for later runs; --all-ranks (under mpirun) lists every rank's
 * devices, named as placements name them (rank1:opencl:0), from rank 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define RANK_TEXT 16384

/* Every rank's devices, gathered and printed by rank 0. */
static int all_ranks(bool json)
{
    if (hcg_dist_init()) return cli_fail("devices", "--all-ranks: %s", hcg_last_error());
    int rank = hcg_dist_rank(), ranks = hcg_dist_size();
    char *mine = calloc(1, RANK_TEXT), *all = rank == 0 ? calloc((size_t)ranks, RANK_TEXT) : NULL;
    if (!mine || (rank == 0 && !all)) return cli_fail("devices", "out of memory");
    size_t used = 0;
    for (int i = 0; i < hcg_device_count() && used < RANK_TEXT - 1; i++) {
        hcg_device *d = hcg_device_get(i);
        int w;
        if (json) {
            char *o = hcg_device_json(d);
            w = snprintf(mine + used, RANK_TEXT - used, "%s{\"rank\": %d, \"placement\": \"rank%d:%s\", \"device\": %s}",
                         used ? ",\n " : "", rank, rank, hcg_device_name(d), o ? o : "{}");
            free(o);
        } else {
            char name[64];
            snprintf(name, sizeof name, "rank%d:%s", rank, hcg_device_name(d));
            w = snprintf(mine + used, RANK_TEXT - used, "%-18s %-12s %s\n", name,
                         hcg_device_type_name(hcg_device_get_type(d)), hcg_device_description(d));
        }
        if (w > 0) used += (size_t)w;
    }
    mine[RANK_TEXT - 1] = 0;
    hcg_status st = hcg_dist_gather(mine, RANK_TEXT, all, 0, "gathering the ranks' devices");
    if (!st && rank == 0) {
        if (json) printf("[");
        else printf("%-18s %-12s %s\n", "PLACEMENT", "TYPE", "DESCRIPTION");
        for (int r = 0; r < ranks; r++) {
            char *text = all + (size_t)r * RANK_TEXT;
            text[RANK_TEXT - 1] = 0;
            printf("%s%s", json && r ? ",\n " : "", text);
        }
        if (json) printf("]\n");
    }
    free(mine);
    free(all);
    if (st) return cli_fail("devices", "--all-ranks: %s", hcg_last_error());
    return 0;
}

int cmd_devices(int argc, char **argv)
{
    bool json = false, calibrate = false, ranks = false;
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--calibrate") == 0) calibrate = true;
        else if (strcmp(argv[i], "--all-ranks") == 0) ranks = true;
        else if (cli_opt(argc, argv, &i, "--devices", &spec)) {
            if (!spec) return cli_fail("devices", "--devices needs a value");
        } else return cli_fail("devices", "unknown option '%s' (use --json, --calibrate, --devices LIST, --all-ranks)", argv[i]);
    }
    int n = hcg_device_count();
    if (calibrate) {
        hcg_device *sel[64];
        int ns = 0;
        if (hcg_devices_select(spec ? spec : "auto", sel, 64, &ns))
            return cli_fail("devices", "%s", hcg_last_error());
        for (int i = 0; i < ns; i++) {
            const char *name = hcg_device_name(sel[i]);
            fprintf(stderr, "calibrating %s (%s)...\n", name, hcg_device_description(sel[i]));
            if (hcg_device_calibrate(sel[i], stderr))
                return cli_fail("devices", "calibrating %s: %s", name, hcg_last_error());
        }
    }
    if (ranks) return all_ranks(json);
    const char *notes = hcg_device_notes();
    if (json) {
        printf("[");
        for (int i = 0; i < n; i++) {
            char *s = hcg_device_json(hcg_device_get(i));
            printf("%s%s", i ? ",\n " : "", s ? s : "{}");
            free(s);
        }
        printf("]\n");
        if (notes[0]) fprintf(stderr, "%s", notes);
        return 0;
    }
    printf("%-10s %-12s %s\n", "NAME", "TYPE", "DESCRIPTION");
    for (int i = 0; i < n; i++) {
        const hcg_device *d = hcg_device_get(i);
        hcg_cost_profile c = hcg_device_cost(d);
        int cores = 0, of = 0;
        const char *shares = hcg_device_shares(d, &cores, &of);
        printf("%-10s %-12s %s\n", hcg_device_name(d), hcg_device_type_name(hcg_device_get_type(d)),
               hcg_device_description(d));
        printf("%-10s %-12s cost: %.1f GFLOP/s, %.1f GB/s, launch %.1f us, link %.1f/%.1f GB/s%s\n", "", "", c.gflops,
               c.mem_gbps, c.launch_us, c.h2d_gbps, c.d2h_gbps,
               c.calibrated ? " (calibrated)" : " (defaults; run hcg devices --calibrate)");
        if (shares[0])
            printf("%-10s %-12s shares the %s (uses %d of its %d cores): never overlapped with a device it contends with\n",
                   "", "", shares, cores, of);
    }
    if (notes[0]) printf("%s", notes);
    return 0;
}
