/* cmd_devices.c — `hcg devices [--json] [--calibrate] [--devices LIST]`: lists every device with
 * its name, type and description; --calibrate measures (and tunes) the selected devices and
 * stores their cost profiles for later runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "tools/cli.h"

int cmd_devices(int argc, char **argv)
{
    bool json = false, calibrate = false;
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--calibrate") == 0) calibrate = true;
        else if (cli_opt(argc, argv, &i, "--devices", &spec)) {
            if (!spec) return cli_fail("devices", "--devices needs a value");
        } else return cli_fail("devices", "unknown option '%s' (use --json, --calibrate, --devices LIST)", argv[i]);
    }
    int n = hcg_device_count();
    if (calibrate) {
        hcg_device *sel[64];
        int ns = 0;
        if (hcg_devices_select(spec ? spec : "auto", sel, 64, &ns))
            return cli_fail("devices", "%s", hcg_last_error());
        for (int i = 0; i < ns; i++) {
            fprintf(stderr, "calibrating %s (%s)...\n", sel[i]->name, sel[i]->device_name);
            if (hcg_device_calibrate(sel[i], stderr))
                return cli_fail("devices", "calibrating %s: %s", sel[i]->name, hcg_last_error());
        }
    }
    const char *notes = hcg_registry_notes();
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
        hcg_device *d = hcg_device_get(i);
        printf("%-10s %-12s %s\n", d->name, hcg_device_type_name(d->type), d->description);
        printf("%-10s %-12s cost: %.1f GFLOP/s, %.1f GB/s, launch %.1f us, link %.1f/%.1f GB/s%s\n", "", "",
               d->cost.gflops, d->cost.mem_gbps, d->cost.launch_us, d->cost.h2d_gbps, d->cost.d2h_gbps,
               d->cost.calibrated ? " (calibrated)" : " (defaults; run hcg devices --calibrate)");
        if (d->shares[0])
            printf("%-10s %-12s shares the %s (uses %d of its %d cores): never overlapped with a device it contends with\n",
                   "", "", d->shares, d->cores, d->shared_cores);
    }
    if (notes[0]) printf("%s", notes);
    return 0;
}
