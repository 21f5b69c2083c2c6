/* hcg.c — the `hcg` command: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

static const struct {
    const char *name;
    hcg_cli_fn fn;
    const char *help;
} commands[] = {
    {"devices", cmd_devices, "list devices (--json); --calibrate measures and tunes them"},
    {"run", cmd_run, "run a graph: hcg run MODEL [--devices LIST] [--input NAME=FILE.npy]... [--output-dir DIR]\n"
                     "           [--max-memory SIZE|DEVICE=SIZE,...] [--profile] [--trace F] [--repeat N] [--explain]"},
    {"plan", cmd_plan, "show placement: hcg plan MODEL --devices LIST [--shape NAME=2x16]... [--explain] [--trace F]"},
    {"train", cmd_train, "train a model: hcg train MODEL --loss OUTPUT --data NAME=FILE.npy... --optimizer sgd|adam|adamw --lr LR --batch N (--steps N | --epochs N) --save OUT.safetensors (--help: every option)"},
    {"ops", cmd_ops, "list the ops hcg knows"},
    {"compare", cmd_compare, "compare two .npy files: hcg compare GOT.npy WANT.npy [--rtol R] [--atol A]"},
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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hcg: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
