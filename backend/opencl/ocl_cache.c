/* ocl_cache.c — the decoding ops on OpenCL (cl/cache.cl): cache_write, and kv_attention as three
 * launches (the new keys into the key cache, the new values into the value cache, then one
 * work-item per query row and head attending over the cache up to its position). The position
 * stays in device memory and the kernels read it, so one prepared node serves every decoding step;
 * a position that does not fit the cache is reported through the device's error buffer. Limit: a
 * value head size up to 128 (the work-item's accumulator, as attention_f32). */
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ocl.h"
#include "graph/op_table.h"

#define MAX_DV 128

/* ---------------------------------------------------------------- cache_write */

/* p: [0] outer, [1] t, [2] inner, [3] positions. */
static hcg_status cache_write_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    for (int i = 0; i < 4; i++) ocl_arg_int(&a, (cl_int)ns->p[i]);
    ocl_arg_tensor(&a, &en->in[0]);
    ocl_arg_tensor(&a, &en->in[1]);
    ocl_arg_tensor(&a, &en->in[2]);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_mem(&a, dev->err_buf);
    ocl_arg_int(&a, rc->tag);
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

static hcg_status cache_write_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    if (!hcg_cache_write_dims(en->g, en->node, &ns->p[0], &ns->p[1], &ns->p[2], &ns->p[3]))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "operand shapes do not fit");
    size_t kwg;
    hcg_status st = ocl_kernel_get(dev, "cache", "cache_write_f32", &ns->kernel, &kwg);
    if (st) return hcg_error_prefix(st, "node '%s' (cache_write): ", en->node->name);
    ns->kname = ocl_kernel_name("cache", "cache_write_f32");
    int64_t n = ns->p[0] * ns->p[1] * ns->p[2];
    ocl_flat_geometry(dev, kwg, n ? n : 1, ns->global, ns->local); /* one item at least: it writes the output */
    ns->may_fail = true;
    ns->run = cache_write_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_cache_write = {"cache", NULL, cache_write_prepare};

/* ---------------------------------------------------------------- kv_attention */

static bool kv_attention_supports(const hcg_graph *g, const hcg_node *n)
{
    hcg_kv_geom a;
    return hcg_kv_attention_dims(g, n, &a) && a.dv <= MAX_DV;
}

/* One kv_store_f32 launch: rows [B, T, H, width] of src into cache at pos. */
static hcg_status store_rows(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, const hcg_kv_geom *g, int64_t width,
                             const hcg_dev_tensor *cache, const hcg_dev_tensor *src, ocl_run *rc)
{
    size_t global[3], local[3];
    ocl_flat_geometry(dev, ns->kwg, g->batch * g->t * g->heads * width, global, local);
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)g->batch);
    ocl_arg_int(&a, (cl_int)g->t);
    ocl_arg_int(&a, (cl_int)g->heads);
    ocl_arg_int(&a, (cl_int)width);
    ocl_arg_int(&a, (cl_int)g->positions);
    ocl_arg_tensor(&a, cache);
    ocl_arg_tensor(&a, src);
    ocl_arg_tensor(&a, &en->in[5]);
    ocl_arg_mem(&a, dev->err_buf);
    ocl_arg_int(&a, rc->tag);
    return ocl_launch(dev, en, &a, 1, global, local, rc);
}

static hcg_status kv_attention_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    hcg_kv_geom g;
    hcg_kv_attention_dims(en->g, en->node, &g);
    hcg_status st = store_rows(dev, en, ns, &g, g.d, &en->in[3], &en->in[1], rc);
    if (!st) st = store_rows(dev, en, ns, &g, g.dv, &en->in[4], &en->in[2], rc);
    if (st) return st;
    ocl_args a;
    ocl_args_begin(&a, ns->kernel2, ns->kname2);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    ocl_arg_tensor(&a, &en->in[3]);
    ocl_arg_tensor(&a, &en->in[4]);
    ocl_arg_tensor(&a, &en->in[5]);
    ocl_arg_int(&a, (cl_int)g.heads);
    ocl_arg_int(&a, (cl_int)(g.batch * g.heads));
    ocl_arg_int(&a, (cl_int)g.t);
    ocl_arg_int(&a, (cl_int)g.d);
    ocl_arg_int(&a, (cl_int)g.dv);
    ocl_arg_int(&a, (cl_int)g.positions);
    ocl_arg_float(&a, g.scale);
    return ocl_launch(dev, en, &a, 2, ns->global, ns->local, rc);
}

static hcg_status kv_attention_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    hcg_kv_geom g;
    if (!hcg_kv_attention_dims(en->g, en->node, &g))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "operand shapes do not fit");
    if (ocl_numel(&en->out.shape) == 0) return HCG_OK;
    size_t kwg2;
    hcg_status st = ocl_kernel_get(dev, "cache", "kv_store_f32", &ns->kernel, &ns->kwg);
    if (!st) st = ocl_kernel_get(dev, "cache", "kv_attention_f32", &ns->kernel2, &kwg2);
    if (st) return hcg_error_prefix(st, "node '%s' (kv_attention): ", en->node->name);
    ns->kname = ocl_kernel_name("cache", "kv_store_f32");
    ns->kname2 = ocl_kernel_name("cache", "kv_attention_f32");
    ocl_grid_geometry(dev, kwg2, g.t, g.batch * g.heads, 1, ns->global, ns->local);
    ns->may_fail = true;
    ns->run = kv_attention_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_kv_attention = {"cache", kv_attention_supports, kv_attention_prepare};
