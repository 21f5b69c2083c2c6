/* dist_none.c — the MPI layer of an hcg built without MPI (HCG_MPI=OFF, or no Open MPI found):
 * a job of one process; every call that would need another rank fails and says why. */
#include <stdlib.h>

#include "backend/dist/dist.h"
#include "graph/graph.h"

static hcg_status absent(const char *what)
{
    return hcg_error(HCG_ERR_UNSUPPORTED,
                     "%s: this hcg was built without MPI (configure with -DHCG_MPI=ON and Open MPI installed: "
                     "libopenmpi-dev)",
                     what);
}

bool hcg_dist_available(void) { return false; }
bool hcg_dist_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}
bool hcg_dist_active(void) { return false; }
hcg_status hcg_dist_init(void) { return absent("distributed run"); }
int hcg_dist_rank(void) { return 0; }
int hcg_dist_size(void) { return 1; }
void hcg_dist_abort(int code) { (void)code; }
void hcg_dist_finalize(void) {}

hcg_status hcg_dist_allreduce_start(float *buf, size_t n, const char *what)
{
    (void)buf;
    (void)n;
    return absent(what);
}
hcg_status hcg_dist_allreduce_wait(const float *buf, const char *what)
{
    (void)buf;
    return absent(what);
}
hcg_status hcg_dist_send(const void *buf, size_t bytes, int to, int tag, const char *what)
{
    (void)buf, (void)bytes, (void)to, (void)tag;
    return absent(what);
}
hcg_status hcg_dist_recv(void *buf, size_t bytes, int from, int tag, const char *what)
{
    (void)buf, (void)bytes, (void)from, (void)tag;
    return absent(what);
}
hcg_status hcg_dist_sum(double *v, int n, const char *what)
{
    (void)v, (void)n;
    return absent(what);
}
hcg_status hcg_dist_bcast(void *buf, size_t bytes, int root, const char *what)
{
    (void)buf, (void)bytes, (void)root;
    return absent(what);
}
hcg_status hcg_dist_gather(const void *mine, size_t bytes, void *all, int root, const char *what)
{
    (void)mine, (void)bytes, (void)all, (void)root;
    return absent(what);
}
hcg_status hcg_dist_agree(hcg_status st, const char *what)
{
    (void)what;
    return st;
}
double hcg_dist_allreduce_estimate(size_t bytes)
{
    (void)bytes;
    return 0;
}
void hcg_dist_allreduce_model(double *latency_s, double *seconds_per_byte)
{
    *latency_s = 0;
    *seconds_per_byte = 0;
}
double hcg_dist_timeout(void) { return 0; }
