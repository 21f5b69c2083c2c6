/* train_dist.c — what data-parallel training (hcg_train_options.distributed) adds to a training
 * step: the gradients are averaged over the ranks of the MPI job before anything reads them
 * (clipping, the updates). They are packed in buckets in the order the backward pass makes them;
 * each bucket's allreduce_start runs as soon as its gradients exist (the scheduler ranks it above
 * compute) and hands the sum to the communication thread (backend/dist/), and one allreduce_wait
 * per gradient takes the mean back just before its reader, so the rest of the backward pass
 * computes while the bucket is on the way. The starts are chained in bucket order, so every rank
 * starts its all-reduces in the same order whatever its devices and plan. */
#include "backend/train_dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dist/dist.h"
#include "graph/autodiff.h"

#define DEFAULT_BUCKET_BYTES (1 << 20)

typedef struct grad_ref {
    hcg_id grad;
    int k; /* index into the caller's arrays */
} grad_ref;

static int by_grad_id(const void *a, const void *b)
{
    hcg_id x = ((const grad_ref *)a)->grad, y = ((const grad_ref *)b)->grad;
    return x < y ? -1 : x > y;
}

/* One bucket: an allreduce_start of grads refs[0..n) (after `prev`, the bucket before), then a wait
 * per gradient that replaces grads[k]. */
static hcg_status add_bucket(hcg_graph *b, const grad_ref *refs, int n, int index, hcg_id prev, const hcg_id *wrt,
                             hcg_id *grads, hcg_id *start_out)
{
    hcg_id *in = malloc(sizeof(hcg_id) * (size_t)n);
    if (!in) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) in[i] = refs[i].grad;
    char name[64];
    snprintf(name, sizeof name, "hcg:allreduce/bucket%d", index);
    hcg_attr bucket = HCG_ATTR_I("bucket", index);
    hcg_id start = hcg_graph_add_node(b, HCG_OP_ALLREDUCE_START, name, in, n, &bucket, 1);
    free(in);
    if (start < 0) return (hcg_status)-start;
    hcg_status st = hcg_op_info_get(HCG_OP_ALLREDUCE_START)->infer(b, &b->nodes[start]);
    if (st) return st;
    if (prev >= 0) { /* every rank starts its buckets in the same order */
        hcg_node *s = &b->nodes[start];
        if (!(s->after = malloc(sizeof(hcg_id)))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        s->after[0] = prev;
        s->n_after = 1;
    }
    int64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const hcg_node *gn = &b->nodes[refs[i].grad];
        hcg_shape shape = gn->shape;
        int64_t numel = 0;
        hcg_shape_numel(&shape, &numel);
        hcg_attr a[2] = {HCG_ATTR_I("offset", offset), HCG_ATTR_IS("shape", shape.dims, shape.rank)};
        hcg_grad_ctx c = {.g = b, .fwd = wrt[refs[i].k], .counter = 0};
        hcg_id mean = hcg_grad_op(&c, HCG_OP_ALLREDUCE_WAIT, &start, 1, a, 2);
        if (mean < 0) return (hcg_status)-mean;
        grads[refs[i].k] = mean;
        offset += numel;
    }
    *start_out = start;
    return HCG_OK;
}

hcg_status hcg_train_reduce_gradients(hcg_graph *b, const hcg_id *wrt, hcg_id *grads, int n, int64_t bucket_bytes)
{
    if (bucket_bytes <= 0) bucket_bytes = DEFAULT_BUCKET_BYTES;
    grad_ref *refs = malloc(sizeof(grad_ref) * ((size_t)n + 1));
    int m = 0;
    if (!refs) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n; k++)
        if (grads[k] >= 0) refs[m++] = (grad_ref){grads[k], k};
    /* autodiff appends gradient nodes as the backward pass goes: a smaller id exists earlier */
    qsort(refs, (size_t)m, sizeof *refs, by_grad_id);
    hcg_status st = HCG_OK;
    hcg_id prev = -1;
    int first = 0, index = 0;
    size_t bytes = 0;
    for (int i = 0; i < m && !st; i++) {
        bytes += hcg_node_nbytes(&b->nodes[refs[i].grad]);
        if (bytes < (size_t)bucket_bytes && i + 1 < m) continue;
        st = add_bucket(b, refs + first, i + 1 - first, index++, prev, wrt, grads, &prev);
        first = i + 1;
        bytes = 0;
    }
    free(refs);
    return st;
}

hcg_status hcg_train_broadcast_values(const char *const *names, hcg_tensor **values, int n)
{
    hcg_status st = HCG_OK;
    for (int i = 0; i < n && !st; i++) {
        char what[512];
        snprintf(what, sizeof what, "broadcasting '%s' from rank 0", names[i]);
        st = hcg_dist_bcast(values[i]->data, values[i]->nbytes, 0, what);
    }
    return st;
}
