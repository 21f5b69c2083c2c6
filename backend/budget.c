/* budget.c — how much memory a session may use on each device: what the device reports (its
 * global memory; for the host, physical memory within the process's limits), lowered by the
 * session's max_memory spec ("4G" for every device, or "opencl:0=2G,cpu=8G"). The planner checks
 * every plan against these before allocating anything (plan.c). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/budget.h"

hcg_status hcg_parse_bytes(const char *text, size_t *out)
{
    char *end = NULL;
    if (!text || !*text || !(isdigit((unsigned char)*text) || *text == '.'))
        return hcg_error(HCG_ERR_ARG, "'%s' is not a size (e.g. 512M, 4G, 1.5G, 1048576)", text ? text : "");
    double v = strtod(text, &end);
    double unit = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': unit = 1024.0; end++; break;
    case 'M': unit = 1024.0 * 1024; end++; break;
    case 'G': unit = 1024.0 * 1024 * 1024; end++; break;
    case 'T': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (unit > 1 && toupper((unsigned char)*end) == 'I') end++;
    if (toupper((unsigned char)*end) == 'B') end++;
    double bytes = v * unit;
    if (*end || !isfinite(bytes) || bytes < 1 || bytes >= 18446744073709551615.0 || bytes > (double)SIZE_MAX)
        return hcg_error(HCG_ERR_ARG, "'%s' is not a size (e.g. 512M, 4G, 1.5G, 1048576)", text);
    *out = (size_t)bytes;
    return HCG_OK;
}

hcg_status hcg_budgets(const char *spec, hcg_device *const *devs, int n_dev, size_t *budget)
{
    for (int d = 0; d < n_dev; d++) budget[d] = devs[d]->global_mem > SIZE_MAX ? SIZE_MAX : (size_t)devs[d]->global_mem;
    if (!spec || !*spec) return HCG_OK;
    char buf[1024];
    if (strlen(spec) >= sizeof buf) return hcg_error(HCG_ERR_ARG, "max memory: the spec is too long");
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ') item++;
        char *eq = strchr(item, '=');
        size_t bytes;
        hcg_status st = hcg_parse_bytes(eq ? eq + 1 : item, &bytes);
        if (st) return hcg_error_prefix(st, "max memory: ");
        bool found = false;
        for (int d = 0; d < n_dev; d++) {
            if (eq && (strlen(devs[d]->name) != (size_t)(eq - item) || strncmp(devs[d]->name, item, (size_t)(eq - item))))
                continue;
            found = true;
            if (!budget[d] || bytes < budget[d]) budget[d] = bytes; /* lowers, never raises */
        }
        if (eq && !found) {
            *eq = 0;
            return hcg_error(HCG_ERR_ARG, "max memory: '%s' is not one of the session's devices", item);
        }
    }
    return HCG_OK;
}
