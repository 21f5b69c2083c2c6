/* cli.h — what the `hcg` subcommands share: the command table and small helpers for options,
 * inputs and messages. The command is built on the public API alone: tools/ includes no header
 * but hcg/hcg.h (and its own), and links the shared library, which exports nothing else. */
#ifndef HCG_CLI_H
#define HCG_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "hcg/hcg.h"

typedef int (*hcg_cli_fn)(int argc, char **argv);

int cmd_devices(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
/* The full usages of hcg train, hcg generate and hcg quantize (--help). */
extern const char cmd_train_usage[], cmd_generate_usage[], cmd_quantize_usage[];
/* hcg train's loop on a given graph (NULL: the MODEL argument), for commands that build the
 * graph themselves (hcg distill); cmd names the command in messages. */
int cli_train(int argc, char **argv, hcg_graph *given, const char *cmd);
int cmd_ensemble(int argc, char **argv);
int cmd_distill(int argc, char **argv);
extern const char cmd_ensemble_usage[], cmd_distill_usage[];

/* Prints "hcg <cmd>: <message>" and hcg_last_error() to stderr; returns the exit code 1. */
int cli_fail(const char *cmd, const char *fmt, ...) HCG_API_PRINTF(2, 3);
/* If argv[*i] is "--name" (value in argv[*i+1]) or "--name=value", sets *value and advances *i. */
bool cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* A whole string as a decimal integer / a finite number (false if anything else is in it). */
bool cli_parse_int(const char *s, int64_t *out);
bool cli_parse_double(const char *s, double *out);
/* Splits "MODEL@DEVICE": cuts spec at its last '@' and returns the device (NULL if none). */
const char *cli_split_device(char *spec);
/* Parses "2x16x64" (or "" for a scalar) into a shape. */
bool cli_parse_dims(const char *s, hcg_shape *out);

/* Loads --input NAME=FILE.npy specs into inputs[] (by graph input order); every input must be given. */
hcg_status cli_load_inputs(const hcg_graph *g, int n_specs, char **specs, hcg_tensor **inputs, const char *cmd);
/* Placement (tools/placement.c): pins every unpinned node whose name matches the fnmatch pattern
 * to device; a placement file holds "PATTERN DEVICE" lines. */
hcg_status cli_pin_matching(hcg_graph *g, const char *pattern, const char *device, int *matched);
hcg_status cli_apply_placement(hcg_graph *g, const char *path);
/* Prints where the last run's nodes ran ("ran on: cpu (3 nodes), opencl:0 (9 nodes); 2 copies"). */
void cli_print_placement(const hcg_session *s, FILE *f);

#endif
