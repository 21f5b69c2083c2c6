/* test_cli.c — the `hcg` command's reporting: `devices --json` lists every device the library
 * sees; `plan --explain` places every compute node of the bound graph exactly once; `plan --trace`
 * and `run --trace` write Chrome-trace JSON whose per-device tracks match the placement; `plan
 * --simulate` reports hcg's plan never slower than the best single device; `plan --input` shows
 * measured times; `ops` lists every op of the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "graph/op_table.h"
#include "testlib.h"

static char out[1 << 17];

static int hcg(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && HCG_FAKE_DEVICES=1 '%s' %s", tl_src(""), tl_hcg_bin(), args);
    return tl_run(cmd, out, sizeof out);
}

static void test_devices_json(void)
{
    int rc = hcg("devices --json 2>/dev/null");
    cJSON *arr = cJSON_Parse(out);
    CHECK(rc == 0 && cJSON_IsArray(arr), "devices --json prints a JSON array: %s", out);
    setenv("HCG_FAKE_DEVICES", "1", 1);
    CHECK(cJSON_GetArraySize(arr) == hcg_device_count(), "one entry per device (%d vs %d)", cJSON_GetArraySize(arr),
          hcg_device_count());
    for (int i = 0; arr && i < cJSON_GetArraySize(arr); i++) {
        const cJSON *d = cJSON_GetArrayItem(arr, i);
        const cJSON *name = cJSON_GetObjectItem(d, "name"), *type = cJSON_GetObjectItem(d, "type");
        CHECK(cJSON_IsString(name) && strcmp(name->valuestring, hcg_device_name(hcg_device_get(i))) == 0,
              "device %d is %s", i, hcg_device_name(hcg_device_get(i)));
        CHECK(cJSON_IsString(type) &&
                  strcmp(type->valuestring, hcg_device_type_name(hcg_device_get_type(hcg_device_get(i)))) == 0,
              "device %d has its type", i);
    }
    cJSON_Delete(arr);
}

static void test_plan_explain(void)
{
    int rc = hcg("plan models/attention/attention.hcg --devices cpu,fake:0 --shape x=2x16x64 --explain --passes none");
    CHECK(rc == 0, "plan --explain: %s", out);
    /* the attention block binds to 18 compute nodes that run (6 views run nothing) */
    int rows = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char node[128], op[64], dev[64];
        if (sscanf(line, "%127s %63s %63s", node, op, dev) == 3 && (strcmp(dev, "cpu") == 0 || strcmp(dev, "fake:0") == 0)) {
            hcg_op o;
            CHECK(hcg_op_parse(op, &o), "row '%s' names a real op", line);
            rows++;
        }
    }
    CHECK(rows == 18, "every compute node appears once in the table (%d rows)", rows);
}

/* With the default passes the attention block's products take their bias adds and scale, and
 * --explain says so; every command prints its usage with --help. */
static void test_rewrites_and_help(void)
{
    int rc = hcg("plan models/attention/attention.hcg --devices cpu --shape x=2x16x64 --explain");
    CHECK(rc == 0 && strstr(out, "fused: fused_matmul 'qkv': bias add") &&
              strstr(out, "fused: fused_matmul 'scores_scaled': multiply by 0.25 folded into alpha"),
          "plan --explain lists the fusions: %s", out);
    rc = hcg("plan models/attention/attention.hcg --devices cpu --shape x=2x16x64 --passes bogus");
    CHECK(rc != 0 && strstr(out, "unknown rewrite pass 'bogus'"), "an unknown pass is an error: %s", out);
    static const char *const cmds[] = {"devices", "run", "plan", "ops", "compare", "bench"};
    for (int i = 0; i < 6; i++) {
        char args[64];
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        rc = hcg(args);
        CHECK(rc == 0 && strstr(out, "usage: hcg ") && strstr(out, cmds[i]), "hcg %s --help: %s", cmds[i], out);
    }
}

static cJSON *read_trace(const char *path)
{
    char *text = tl_read_file(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    return root;
}

static void test_traces(void)
{
    char args[2048], path[600];
    snprintf(path, sizeof path, "%s/plan.json", tl_tmpdir());
    snprintf(args, sizeof args, "plan models/ensemble/ensemble.hcg --devices cpu --shape x=8x32 --passes none --trace '%s'", path);
    CHECK(hcg(args) == 0, "plan --trace: %s", out);
    cJSON *root = read_trace(path);
    const cJSON *ev = cJSON_GetObjectItem(root, "traceEvents"), *e;
    int slices = 0;
    cJSON_ArrayForEach(e, ev)
    {
        const cJSON *ph = cJSON_GetObjectItem(e, "ph");
        slices += cJSON_IsString(ph) && strcmp(ph->valuestring, "X") == 0;
    }
    /* 14 compute nodes in the ensemble (no views): one predicted slice each */
    CHECK(slices == 14, "the predicted trace has one slice per compute node (%d)", slices);
    cJSON_Delete(root);

    snprintf(path, sizeof path, "%s/run.json", tl_tmpdir());
    snprintf(args, sizeof args,
             "run models/ensemble/ensemble.hcg --devices cpu,fake:0 --input x=models/ensemble/x.npy --passes none --trace '%s'", path);
    CHECK(hcg(args) == 0, "run --trace: %s", out);
    root = read_trace(path);
    ev = cJSON_GetObjectItem(root, "traceEvents");
    int nodes = 0, tracks = 0;
    cJSON_ArrayForEach(e, ev)
    {
        const cJSON *cat = cJSON_GetObjectItem(e, "cat"), *name = cJSON_GetObjectItem(e, "name");
        if (cJSON_IsString(name) && strcmp(name->valuestring, "thread_name") == 0) tracks++;
        if (cJSON_IsString(cat) && strcmp(cat->valuestring, "segment") && strcmp(cat->valuestring, "copy")) nodes++;
    }
    CHECK(tracks == 2, "one track per selected device (%d)", tracks);
    CHECK(nodes == 14, "a traced run is profiled: one slice per node (%d)", nodes);
    cJSON_Delete(root);
}

static void test_simulate(void)
{
    int rc = hcg("plan models/ensemble/ensemble.hcg --shape x=4096x32 --simulate bench/profiles/two_gpus_cpu.json");
    CHECK(rc == 0, "plan --simulate: %s", out);
    double ratio_single = 0, ratio_greedy = 0;
    const char *r = strstr(out, "ratios:");
    CHECK(r && sscanf(r, "ratios: hcg / best single = %lf, hcg / greedy = %lf", &ratio_single, &ratio_greedy) == 2,
          "simulate prints the ratios: %s", out);
    CHECK(ratio_single > 0 && ratio_single <= 1.0 && ratio_greedy <= 1.0,
          "hcg's plan is no slower than the best single device (%.3f) or greedy (%.3f)", ratio_single, ratio_greedy);
    rc = hcg("plan models/ensemble/ensemble.hcg --simulate bench/profiles/missing.json");
    CHECK(rc != 0 && strstr(out, "missing.json"), "a missing profile file is a clear error: %s", out);
}

static void test_plan_with_measurements(void)
{
    int rc = hcg("plan models/mlp/mlp.hcg --devices cpu --input x=models/mlp/x.npy --explain");
    CHECK(rc == 0 && strstr(out, "MEASURED us"), "plan with inputs runs and shows measured times: %s", out);
}

static void test_ops_list(void)
{
    CHECK(hcg("ops") == 0, "hcg ops");
    for (int op = 0; op < HCG_OP_COUNT; op++) {
        char needle[64];
        snprintf(needle, sizeof needle, "%s ", hcg_op_name((hcg_op)op));
        CHECK(strstr(out, needle) != NULL, "hcg ops lists %s", hcg_op_name((hcg_op)op));
    }
}

int main(void)
{
    test_devices_json();
    test_plan_explain();
    test_rewrites_and_help();
    test_traces();
    test_simulate();
    test_plan_with_measurements();
    test_ops_list();
    return tl_finish();
}
