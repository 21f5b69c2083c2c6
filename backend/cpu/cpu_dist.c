/* cpu_dist.c — the CPU kernels of the ops between ranks (allreduce_start, allreduce_wait, send,
 * recv): they hand host memory to the MPI layer (backend/dist/dist.h). Other devices have no
 * kernels for them, so the scheduler brings their tensors to the CPU. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/dist/dist.h"

/* "node 'name' (op)" for the MPI layer's messages. */
static const char *what(const hcg_exec_node *en, char *buf, size_t n)
{
    snprintf(buf, n, "node '%s' (%s)", en->node->name, hcg_op_name(en->node->op));
    return buf;
}

hcg_status hcg_k_allreduce_start(hcg_exec_node *en)
{
    float *out = hcg_dev_tensor_ptr(&en->out);
    size_t at = 0;
    char name[256];
    for (int i = 0; i < en->n_in; i++) {
        size_t k = (size_t)hcg_cpu_numel(&en->in[i]);
        if (k) memcpy(out + at, hcg_dev_tensor_ptr(&en->in[i]), k * sizeof(float));
        at += k;
    }
    return hcg_dist_allreduce_start(out, at, what(en, name, sizeof name));
}

hcg_status hcg_k_allreduce_wait(hcg_exec_node *en)
{
    const float *packed = hcg_dev_tensor_ptr(&en->in[0]);
    char name[256];
    hcg_status st = hcg_dist_allreduce_wait(packed, what(en, name, sizeof name));
    if (st) return st;
    const float *src = packed + hcg_attr_int(en->node, "offset");
    float *out = hcg_dev_tensor_ptr(&en->out), ranks = (float)hcg_dist_size();
    int64_t n = hcg_cpu_numel(&en->out);
    for (int64_t i = 0; i < n; i++) out[i] = src[i] / ranks;
    return HCG_OK;
}

hcg_status hcg_k_send(hcg_exec_node *en)
{
    char name[256];
    size_t bytes = (size_t)hcg_cpu_numel(&en->in[0]) * hcg_dtype_size(en->in[0].dtype);
    hcg_status st = hcg_dist_send(hcg_dev_tensor_ptr(&en->in[0]), bytes, (int)hcg_attr_int(en->node, "to"),
                                  (int)hcg_attr_int(en->node, "tag"), what(en, name, sizeof name));
    *(float *)hcg_dev_tensor_ptr(&en->out) = 0;
    return st;
}

hcg_status hcg_k_recv(hcg_exec_node *en)
{
    char name[256];
    size_t bytes = (size_t)hcg_cpu_numel(&en->out) * hcg_dtype_size(en->out.dtype);
    return hcg_dist_recv(hcg_dev_tensor_ptr(&en->out), bytes, (int)hcg_attr_int(en->node, "from"),
                         (int)hcg_attr_int(en->node, "tag"), what(en, name, sizeof name));
}
