/* cmd_distill.c — `hcg distill --student MODEL --teacher MODEL[:WEIGHT]... --data NAME=FILE.npy...
 * --labels FILE.npy --temperature T --alpha A [every hcg train option] --save OUT.safetensors`:
 * builds the distillation graph (graph/workloads.c: frozen teachers, the mixed soft targets, the
 * loss) and trains the student on it with hcg train's loop; --save writes the student's params. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_TEACHERS 32
#define MAX_ARGS 1024

const char cmd_distill_usage[] =
    "usage: hcg distill --student MODEL[@DEVICE] --teacher MODEL[:WEIGHT][@DEVICE]... --data NAME=FILE.npy...\n"
    "                   --labels FILE.npy\n"
    "                   --temperature T --alpha A [every hcg train option] --save OUT.safetensors\n"
    "\n"
    "Trains the student on A * T^2 * KL(p || softmax(s / T)) + (1 - A) * cross_entropy(s, labels), where\n"
    "p = sum_i w_i softmax(t_i / T) mixes the frozen teachers' soft outputs (weights normalised; default\n"
    "equal). The first outputs are the logits unless --student-output / --teacher-output name others.\n"
    "Teachers run forward only: no gradients, nothing kept for a backward pass. --eval data needs\n"
    "--eval-labels FILE.npy. --save writes the student's params. The training options (optimizer,\n"
    "schedule, batches, checkpoints, --devices, ...) are those of hcg train (hcg train --help).\n"
    "The teachers' forward for batch k+1 runs in the same step as the student's training on batch k, so\n"
    "on two devices they overlap (teachers are frozen: the result is the same); --no-pipeline turns it off.\n"
    "@DEVICE pins a model's nodes to a device (the student's gradients and updates follow its state);\n"
    "--teacher-device DEV pins every teacher. Under mpirun, a device rankN:DEVICE runs the teachers on rank N\n"
    "and sends their soft targets to the student's rank (mpirun -np 2 hcg distill ... --teacher-device rank1:cpu).\n";

static bool number(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    *out = strtod(s, &end);
    return !*end && !errno;
}

int cmd_distill(int argc, char **argv)
{
    const char *student_path = NULL, *labels = NULL, *eval_labels = NULL, *all_teachers_device = NULL, *v = NULL;
    char *teacher_specs[MAX_TEACHERS];
    char *rest[MAX_ARGS];
    int n_teachers = 0, n_rest = 0, rc = 1;
    hcg_distill_options o = {.temperature = -1, .alpha = -1, .pipeline = true};
    bool have_t = false, have_a = false;
    rest[n_rest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--student", &student_path)) {
            if (!student_path) return cli_fail("distill", "--student needs a model");
        } else if (cli_opt(argc, argv, &i, "--teacher", &v)) {
            if (!v) return cli_fail("distill", "--teacher needs MODEL[:WEIGHT]");
            if (n_teachers == MAX_TEACHERS) return cli_fail("distill", "more than %d teachers", MAX_TEACHERS);
            teacher_specs[n_teachers++] = (char *)v;
        } else if (cli_opt(argc, argv, &i, "--labels", &labels)) {
            if (!labels) return cli_fail("distill", "--labels needs FILE.npy");
        } else if (cli_opt(argc, argv, &i, "--eval-labels", &eval_labels)) {
            if (!eval_labels) return cli_fail("distill", "--eval-labels needs FILE.npy");
        } else if (cli_opt(argc, argv, &i, "--temperature", &v)) {
            if (!number(v, &o.temperature) || !(o.temperature > 0))
                return cli_fail("distill", "--temperature must be a number > 0, not '%s'", v ? v : "");
            have_t = true;
        } else if (cli_opt(argc, argv, &i, "--alpha", &v)) {
            if (!number(v, &o.alpha) || !(o.alpha >= 0 && o.alpha <= 1))
                return cli_fail("distill", "--alpha must be a number in [0, 1], not '%s'", v ? v : "");
            have_a = true;
        } else if (cli_opt(argc, argv, &i, "--student-output", &o.student_output)) {
            if (!o.student_output) return cli_fail("distill", "--student-output needs an output name");
        } else if (cli_opt(argc, argv, &i, "--teacher-output", &o.teacher_output)) {
            if (!o.teacher_output) return cli_fail("distill", "--teacher-output needs an output name");
        } else if (cli_opt(argc, argv, &i, "--teacher-device", &all_teachers_device)) {
            if (!all_teachers_device) return cli_fail("distill", "--teacher-device needs a device (or rankN:DEVICE)");
        } else if (strcmp(argv[i], "--no-pipeline") == 0) {
            o.pipeline = false;
        } else if (strcmp(argv[i], "--loss") == 0) {
            return cli_fail("distill", "--loss is set by hcg distill (the distillation loss)");
        } else {
            if (n_rest >= MAX_ARGS - 8) return cli_fail("distill", "too many arguments");
            rest[n_rest++] = argv[i];
        }
    }
    if (!student_path) return cli_fail("distill", "--student MODEL is required\n%s", cmd_distill_usage);
    if (!n_teachers) return cli_fail("distill", "at least one --teacher MODEL is required");
    if (!labels) return cli_fail("distill", "--labels FILE.npy is required");
    if (!have_t || !have_a) return cli_fail("distill", "--temperature and --alpha are required");
    hcg_graph *student = NULL, *teachers[MAX_TEACHERS] = {NULL}, *g = NULL;
    char student_spec[4096];
    snprintf(student_spec, sizeof student_spec, "%s", student_path);
    const char *student_device = cli_split_device(student_spec), *teacher_device[MAX_TEACHERS];
    student_path = student_spec;
    const char *names[MAX_TEACHERS + 1] = {student_path};
    double weights[MAX_TEACHERS];
    int n_weighted = 0;
    if (hcg_load(student_path, &student)) {
        fprintf(stderr, "hcg distill: the student %s: %s\n", student_path, hcg_last_error());
        goto done;
    }
    for (int i = 0; i < n_teachers; i++) {
        teacher_device[i] = cli_split_device(teacher_specs[i]);
        char *colon = strrchr(teacher_specs[i], ':');
        weights[i] = 1.0;
        if (colon && number(colon + 1, &weights[i])) {
            *colon = 0;
            n_weighted++;
        }
        names[i + 1] = teacher_specs[i];
        if (hcg_load(teacher_specs[i], &teachers[i])) {
            fprintf(stderr, "hcg distill: teacher %d (%s) is not a model: %s\n", i + 1, teacher_specs[i], hcg_last_error());
            goto done;
        }
    }
    if (n_weighted && n_weighted != n_teachers) {
        cli_fail("distill", "give a weight to every teacher or to none (%d of %d have one)", n_weighted, n_teachers);
        goto done;
    }
    if (hcg_distill_build(student, (const hcg_graph *const *)teachers, names, weights, n_teachers, &o, &g) ||
        (student_device && hcg_workload_pin(g, "student", student_device))) {
        fprintf(stderr, "hcg distill: %s\n", hcg_last_error());
        goto done;
    }
    for (int i = 0; i < n_teachers; i++) {
        char group[32];
        snprintf(group, sizeof group, "teacher%d", i);
        const char *dev = teacher_device[i] ? teacher_device[i] : all_teachers_device;
        if (dev && hcg_workload_pin(g, group, dev)) {
            fprintf(stderr, "hcg distill: %s\n", hcg_last_error());
            goto done;
        }
    }
    /* hcg train's loop on the distillation graph: its loss, the labels as one more data array */
    char labels_spec[4096], eval_spec[4096];
    snprintf(labels_spec, sizeof labels_spec, "labels=%s", labels);
    rest[n_rest++] = "--loss";
    rest[n_rest++] = "loss";
    rest[n_rest++] = "--data";
    rest[n_rest++] = labels_spec;
    if (eval_labels) {
        snprintf(eval_spec, sizeof eval_spec, "labels=%s", eval_labels);
        rest[n_rest++] = "--eval";
        rest[n_rest++] = eval_spec;
    }
    rest[n_rest] = NULL;
    rc = cli_train(n_rest, rest, g, "distill");
done:
    hcg_graph_free(student);
    for (int i = 0; i < n_teachers; i++) hcg_graph_free(teachers[i]);
    hcg_graph_free(g);
    return rc;
}
