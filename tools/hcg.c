/* hcg.c — the `hcg` command: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    hcg_cli_fn fn;
    const char *help;
    const char *usage; /* the full usage, for hcg COMMAND --help */
} commands[] = {
    {"devices", cmd_devices, "list devices (--json); --calibrate measures and tunes them",
     "usage: hcg devices [--json] [--calibrate] [--devices LIST] [--all-ranks]\n\n  Lists every device: name, type, description, cost profile.\n  --json          one JSON array, an object per device\n  --calibrate     measures (and tunes GEMM on) each device and stores the profiles for later runs\n  --devices LIST  only these devices (with --calibrate)\n  --all-ranks     under mpirun: every rank's devices, named for placements (rank1:opencl:0), from rank 0\n"},
    {"run", cmd_run, "run a graph: hcg run MODEL [--devices LIST] [--input NAME=FILE.npy]... [--output-dir DIR]",
     "usage: hcg run MODEL [--devices LIST] [--input NAME=FILE.npy]... [--output-dir DIR] [--passes LIST]\n               [--max-memory SIZE] [--profile] [--trace FILE.json] [--repeat N] [--explain] [--quiet]\n               [--placement FILE]\n\n  Runs a graph (.hcg or .onnx) and writes DIR/<output>.npy for every output, as one set: a file\n  name two outputs share is refused before running, DIR/manifest.json says \"complete\": true once\n  every file is in place, and what a stopped run left in DIR is cleaned first.\n  --devices LIST      devices to use (see below; default $HCG_DEVICES, else auto)\n  --input NAME=FILE   a graph input from a .npy file (every input must be given)\n  --output-dir DIR    where to write the outputs (none: only print a summary)\n  --passes LIST       rewrite passes: all (default), none, or a comma list of: layer_norm, gelu,\n                      transpose_matmul, attention, dequantize_matmul, dequantize_gather,\n                      transpose_weights, matmul_scale, matmul_bias, matmul_activation\n  --max-memory SIZE   what each device may hold (4G), or per device: opencl:0=2G,cpu=8G; plans\n                      that do not fit are refused before anything is allocated\n  --profile           measure every node (later plans use the times)\n  --trace FILE.json   write a Chrome trace of the run (implies --profile)\n  --repeat N          run N times (the time printed is the mean of the warm runs)\n  --explain           print the placement table and the rewrites (fusions) made\n  --quiet             print nothing but errors\n  --placement FILE    lines PATTERN DEVICE pin the nodes whose names match (fnmatch); under mpirun,\n                      DEVICE rankN:NAME runs them on rank N (ensemble members: m1/* rank1:cpu)\n"},
    {"plan", cmd_plan, "show placement: hcg plan MODEL --devices LIST [--shape NAME=2x16]... [--explain] [--trace F]",
     "usage: hcg plan MODEL [--devices LIST] [--shape NAME=2x16]... [--input NAME=FILE.npy]... [--passes LIST]\n                [--explain] [--trace FILE.json] [--simulate FILE.json] [--loss OUTPUT [--optimizer O]]\n\n  Binds a graph to input shapes and shows where each node would run.\n  --shape NAME=DIMS   an input's shape (dims joined by x); --input measures with real data instead\n  --passes LIST       rewrite passes, as for hcg run\n  --explain           the placement table, predicted times, arenas and the rewrites made\n  --trace FILE.json   a Chrome trace of the predicted schedule\n  --simulate FILE     plan for simulated devices described by a JSON file of cost profiles\n  --loss OUTPUT       plan a training step of the scalar output OUTPUT (forward, gradients, updates);\n                      --optimizer sgd|adam|adamw (default sgd) and --momentum M choose the state kept\n"},
    {"train", cmd_train,
     "train a model: hcg train MODEL --loss OUTPUT --data NAME=FILE.npy... --optimizer sgd|adam|adamw --lr LR "
     "--batch N (--steps N | --epochs N) --save OUT.safetensors",
     cmd_train_usage},
    {"ensemble", cmd_ensemble,
     "combine models: hcg ensemble OUT.hcg --member MODEL[:WEIGHT]... --combine weighted|vote|concat",
     cmd_ensemble_usage},
    {"distill", cmd_distill,
     "distil teachers into a student: hcg distill --student MODEL --teacher MODEL[:WEIGHT]... --data ... "
     "--labels FILE.npy --temperature T --alpha A [hcg train options] --save OUT.safetensors",
     cmd_distill_usage},
    {"quantize", cmd_quantize,
     "store a model's weights small: hcg quantize IN OUT.hcg --weights f16|int8 [--group G] [--skip PATTERN]...",
     cmd_quantize_usage},
    {"ops", cmd_ops, "list the ops hcg knows",
     "usage: hcg ops\n\n  Lists every op hcg knows with its arity and a one-line description (docs/ops.md has the details).\n"},
    {"compare", cmd_compare, "compare two .npy files: hcg compare GOT.npy WANT.npy [--rtol R] [--atol A]",
     "usage: hcg compare GOT.npy WANT.npy [--rtol R] [--atol A]\n\n  Compares two .npy files elementwise: |got - want| <= atol + rtol * |want| (defaults 1e-5, 1e-6);\n  prints the largest difference and exits 1 when any element is outside.\n"},
    {"generate", cmd_generate,
     "generate text with a decoder: hcg generate MODEL (--prompt FILE.npy | --prompt-text TEXT) --max-new-tokens N",
     cmd_generate_usage},
    {"bench", cmd_bench, "time warm runs: hcg bench MODEL --input NAME=FILE.npy... [--devices LIST] [--json]",
     "usage: hcg bench MODEL --input NAME=FILE.npy... [--devices LIST] [--warmup N] [--repeat N] [--passes LIST]\n                 [--json]\n\n  Times warm runs of one session: N warm-up runs (default 3), then N timed runs (default 20) into\n  preallocated outputs; prints min, median and p90 milliseconds.\n  --json   one JSON object: model, devices, passes, warmup, repeat, min_ms, median_ms, p90_ms, nodes\n"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hcg <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nDevices are chosen with --devices or $HCG_DEVICES: a comma list of names (cpu, opencl:0),\n"
               "a type (gpu, accelerator), opencl (every OpenCL device) or auto (every device).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        for (int a = 2; a < argc; a++)
            if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
                fputs(commands[i].usage, stdout);
                fprintf(stdout, "\nDevices (--devices, $HCG_DEVICES): a comma list of names (cpu, opencl:0), a type (gpu,\n"
                                "accelerator), opencl (every OpenCL device) or auto (every device).\n");
                return 0;
            }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "hcg: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
