/* version.c — the library's own version (compiled in from hcg.h, so a program can compare it with
 * the header it was built against) and hcg_free for what the library hands over. */
#include <stdlib.h>

#include "hcg/hcg.h"

const char *hcg_version(void) { return HCG_VERSION_STRING; }

int hcg_version_number(void) { return HCG_VERSION_NUMBER; }

void hcg_free(void *p) { free(p); }
