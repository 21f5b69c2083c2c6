/* budget.h — per-device memory budgets of a session (see budget.c). */
#ifndef HCG_BUDGET_H
#define HCG_BUDGET_H

#include "backend/backend.h"

/* Parses a size: "1048576", "512K", "512M", "4G", "1.5G", "2T" (binary units; "4GiB", "4GB" too). */
hcg_status hcg_parse_bytes(const char *text, size_t *out);

/* Fills budget[d] for each device: its reported memory (0: unknown, no limit), lowered by spec
 * ("4G": every device; "opencl:0=2G,cpu=8G": those devices; NULL or "": no change). */
hcg_status hcg_budgets(const char *spec, hcg_device *const *devs, int n_dev, size_t *budget);

#endif
