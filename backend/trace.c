/* trace.c — Chrome-trace JSON (opens in Perfetto and chrome://tracing): one track per device,
 * segments and copies as slices, and each node's slice when the run was profiled. Written for a
 * real run (hcg_session_write_trace) or for a plan's predicted timeline (hcg_plan_write_trace). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/session_impl.h"
#include "graph/fileio.h"

static cJSON *slice(const char *name, const char *cat, int tid, double start_s, double dur_s)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddStringToObject(e, "cat", cat);
    cJSON_AddStringToObject(e, "ph", "X");
    cJSON_AddNumberToObject(e, "pid", 1);
    cJSON_AddNumberToObject(e, "tid", tid);
    cJSON_AddNumberToObject(e, "ts", start_s * 1e6);
    cJSON_AddNumberToObject(e, "dur", dur_s * 1e6 > 0 ? dur_s * 1e6 : 0);
    return e;
}

static void add_metadata(cJSON *events, const hcg_plan *p, const char *title)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", "process_name");
    cJSON_AddStringToObject(m, "ph", "M");
    cJSON_AddNumberToObject(m, "pid", 1);
    cJSON_AddItemToObject(m, "args", cJSON_CreateObject());
    cJSON_AddStringToObject(cJSON_GetObjectItem(m, "args"), "name", title);
    cJSON_AddItemToArray(events, m);
    for (int d = 0; d < p->n_dev; d++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", "thread_name");
        cJSON_AddStringToObject(t, "ph", "M");
        cJSON_AddNumberToObject(t, "pid", 1);
        cJSON_AddNumberToObject(t, "tid", d);
        cJSON *args = cJSON_AddObjectToObject(t, "args");
        cJSON_AddStringToObject(args, "name", p->devs[d]->name);
        cJSON_AddItemToArray(events, t);
    }
}

static void copy_name(const hcg_plan *p, const hcg_step *s, char *buf, size_t n)
{
    snprintf(buf, n, "copy %s: %s -> %s", p->bound->nodes[s->tensor].name,
             s->src_device >= 0 ? p->devs[s->src_device]->name : "host", p->devs[s->device]->name);
}

static hcg_status write_json(cJSON *root, const char *path)
{
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return hcg_error(HCG_ERR_NOMEM, "out of memory writing a trace");
    hcg_status st = hcg_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

hcg_status hcg_session_write_trace(const hcg_session *s, const char *path)
{
    const hcg_plan *p = s->last_plan;
    if (!p) return hcg_error(HCG_ERR_ARG, "no run to trace yet");
    cJSON *root = cJSON_CreateObject(), *events = cJSON_AddArrayToObject(root, "traceEvents");
    add_metadata(events, p, "hcg run");
    char name[512];
    for (int i = 0; i < p->n_steps; i++) {
        const hcg_step *st = &p->steps[i];
        if (st->kind == HCG_STEP_COPY) {
            copy_name(p, st, name, sizeof name);
            cJSON_AddItemToArray(events, slice(name, "copy", st->device, st->t_start, st->t_end - st->t_start));
            continue;
        }
        snprintf(name, sizeof name, "segment %d (%d nodes)", i, st->count);
        cJSON_AddItemToArray(events, slice(name, "segment", st->device, st->t_start, st->t_end - st->t_start));
        if (!s->last_profiled) continue;
        for (int k = 0; k < st->count; k++) {
            const hcg_exec_node *en = &p->exec[st->first + k];
            cJSON *e = slice(en->node->name, hcg_op_name(en->node->op), st->device, st->t_start + en->start_s,
                             en->measured_s);
            cJSON_AddItemToArray(events, e);
        }
    }
    cJSON_AddStringToObject(root, "displayTimeUnit", "ms");
    return write_json(root, path);
}

hcg_status hcg_plan_write_trace(const hcg_plan *p, const char *path)
{
    cJSON *root = cJSON_CreateObject(), *events = cJSON_AddArrayToObject(root, "traceEvents");
    add_metadata(events, p, "hcg plan (predicted)");
    for (int i = 0; i < p->n_exec; i++) {
        const hcg_exec_node *en = &p->exec[i];
        hcg_id id = en->id;
        cJSON_AddItemToArray(events, slice(en->node->name, hcg_op_name(en->node->op), p->place[id], p->pred_start[id],
                                           p->pred_time[id]));
    }
    cJSON_AddStringToObject(root, "displayTimeUnit", "ms");
    return write_json(root, path);
}
