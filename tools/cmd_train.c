/* cmd_train.c — `hcg train MODEL --loss OUTPUT --data NAME=FILE.npy... --optimizer sgd|adam|adamw
 * --lr LR ... --batch N (--steps N | --epochs N) --save OUT.safetensors`: trains a .hcg or ONNX
 * model's params on npy data with a training session (backend/train.c), showing progress, logging
 * a JSON line per step, writing checkpoints and resuming from them, evaluating on held-out data,
 * and saving the trained params atomically at the end. The usage text below lists every option. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "train_data.h"

#define MAX_SPECS 256

const char cmd_train_usage[] =
    "usage: hcg train MODEL --loss OUTPUT --data NAME=FILE.npy... --optimizer sgd|adam|adamw --lr LR\n"
    "                 --batch N (--steps N | --epochs N) --save OUT.safetensors [options]\n"
    "\n"
    "Trains MODEL's f32 params (a .hcg or ONNX file) to minimise the scalar output OUTPUT. Every --data\n"
    "array's first axis is the sample axis; every model input needs one. Without --shuffle, step k reads\n"
    "rows [(k mod P)*N, (k mod P)*N + N), P = rows div N (a trailing partial batch is dropped); with it,\n"
    "each epoch reads a seeded permutation.\n"
    "\n"
    "optimizer:    --momentum M  --dampening D  --nesterov        (sgd)\n"
    "              --betas B1,B2  --eps E                           (adam, adamw; PyTorch's defaults)\n"
    "              --weight-decay WD (sgd, adam: L2 in the gradient; adamw: decoupled)\n"
    "              --clip-norm C  clip gradients to global L2 norm C\n"
    "schedule:     --schedule constant|cosine|linear  --warmup-steps W  --min-lr LR\n"
    "              (linear warm-up over W steps, then constant or decaying to --min-lr at the last step)\n"
    "what trains:  --freeze PATTERN   params whose names match (fnmatch) stay fixed; repeatable\n"
    "data:         --shuffle SEED  --eval NAME=FILE.npy...  --eval-every N\n"
    "devices:      --devices LIST  --profile  --trace FILE.json  --explain (the step's placement and memory)\n"
    "              --placement FILE  lines PATTERN DEVICE pin the nodes whose names match (fnmatch); under\n"
    "              mpirun a DEVICE rankN:NAME runs them on rank N (e.g. teachers on rank 1: teacher* rank1:cpu)\n"
    "output:       --save OUT.safetensors  --save-model OUT.hcg (the model with the trained values)\n"
    "              --log FILE.jsonl  --quiet\n"
    "checkpoints:  --checkpoint-dir DIR --checkpoint-every N  --resume DIR\n"
    "              --stop-after N  stop after step N with a checkpoint, as if interrupted (no --save)\n"
    "distributed:  mpirun -np R hcg train ... [--distributed]  data parallel over R ranks (an MPI launch is\n"
    "              detected): each rank trains on N/R rows of every global batch of N (R must divide N),\n"
    "              the gradients are averaged over the ranks; rank 0 prints, logs, writes checkpoints and\n"
    "              the saved params. --bucket-kb K: gradients all-reduced in buckets of K KiB (1024)\n";

/* The command the messages name ("train", "distill"). */
static const char *cmd_name = "train";

typedef struct train_args {
    const char *model, *loss, *save, *save_model, *log, *ckpt_dir, *resume, *devices, *trace, *placement;
    char *data[MAX_SPECS], *eval[MAX_SPECS];
    const char *freeze[MAX_SPECS];
    int n_data, n_eval, n_freeze;
    hcg_train_options opt;
    bool have_optimizer, have_lr, shuffle, explain, quiet, profile, distributed;
    uint64_t seed;
    int64_t batch, steps, epochs, ckpt_every, eval_every, stop_after;
} train_args;

static bool parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    *out = strtod(s, &end);
    return !*end && errno == 0 && isfinite(*out);
}

static bool parse_count(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    *out = v;
    return !*end && errno == 0;
}

/* Parses the command line; returns 0, or the exit code after printing the problem. */
static int parse(int argc, char **argv, train_args *a, bool have_model)
{
    const char *v = NULL, *missing = NULL;
    memset(a, 0, sizeof *a);
    a->steps = a->epochs = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
/* an option with a value; a missing value ends the loop with `missing` set */
#define VALUE(name) (cli_opt(argc, argv, &i, name, &v) && (v || ((missing = name), false)))
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(cmd_train_usage, stdout);
            return -1;
        }
        if (VALUE("--loss")) a->opt.loss = a->loss = v;
        else if (VALUE("--data")) {
            if (a->n_data == MAX_SPECS) return cli_fail(cmd_name, "too many --data options");
            a->data[a->n_data++] = (char *)v;
        } else if (VALUE("--eval")) {
            if (a->n_eval == MAX_SPECS) return cli_fail(cmd_name, "too many --eval options");
            a->eval[a->n_eval++] = (char *)v;
        } else if (VALUE("--freeze")) {
            if (a->n_freeze == MAX_SPECS) return cli_fail(cmd_name, "too many --freeze options");
            a->freeze[a->n_freeze++] = v;
        } else if (VALUE("--optimizer")) {
            if (strcmp(v, "sgd") == 0) a->opt.optimizer = HCG_OPTIM_SGD;
            else if (strcmp(v, "adam") == 0) a->opt.optimizer = HCG_OPTIM_ADAM;
            else if (strcmp(v, "adamw") == 0) a->opt.optimizer = HCG_OPTIM_ADAMW;
            else return cli_fail(cmd_name, "--optimizer must be sgd, adam or adamw, not '%s'", v);
            a->have_optimizer = true;
        } else if (VALUE("--lr")) {
            if (!parse_double(v, &a->opt.lr) || a->opt.lr < 0) return cli_fail(cmd_name, "--lr '%s' is not a rate >= 0", v);
            a->have_lr = true;
        } else if (VALUE("--momentum")) {
            if (!parse_double(v, &a->opt.momentum) || a->opt.momentum < 0)
                return cli_fail(cmd_name, "--momentum '%s' is not a number >= 0", v);
        } else if (VALUE("--dampening")) {
            if (!parse_double(v, &a->opt.dampening)) return cli_fail(cmd_name, "--dampening '%s' is not a number", v);
        } else if (strcmp(arg, "--nesterov") == 0) a->opt.nesterov = true;
        else if (VALUE("--weight-decay")) {
            if (!parse_double(v, &a->opt.weight_decay) || a->opt.weight_decay < 0)
                return cli_fail(cmd_name, "--weight-decay '%s' is not a number >= 0", v);
        } else if (VALUE("--betas")) {
            char *comma = strchr(v, ',');
            char b1[64];
            if (!comma || (size_t)(comma - v) >= sizeof b1) return cli_fail(cmd_name, "--betas must be B1,B2, not '%s'", v);
            memcpy(b1, v, (size_t)(comma - v));
            b1[comma - v] = 0;
            if (!parse_double(b1, &a->opt.beta1) || !parse_double(comma + 1, &a->opt.beta2) || a->opt.beta1 < 0 ||
                a->opt.beta1 >= 1 || a->opt.beta2 < 0 || a->opt.beta2 >= 1)
                return cli_fail(cmd_name, "--betas '%s' must be two numbers in [0, 1)", v);
        } else if (VALUE("--eps")) {
            if (!parse_double(v, &a->opt.eps) || a->opt.eps <= 0) return cli_fail(cmd_name, "--eps '%s' is not a number > 0", v);
        } else if (VALUE("--clip-norm")) {
            if (!parse_double(v, &a->opt.clip_norm) || a->opt.clip_norm <= 0)
                return cli_fail(cmd_name, "--clip-norm '%s' is not a number > 0", v);
        } else if (VALUE("--schedule")) {
            if (strcmp(v, "constant") == 0) a->opt.schedule = HCG_LR_CONSTANT;
            else if (strcmp(v, "cosine") == 0) a->opt.schedule = HCG_LR_COSINE;
            else if (strcmp(v, "linear") == 0) a->opt.schedule = HCG_LR_LINEAR;
            else return cli_fail(cmd_name, "--schedule must be constant, cosine or linear, not '%s'", v);
        } else if (VALUE("--warmup-steps")) {
            if (!parse_count(v, &a->opt.warmup_steps)) return cli_fail(cmd_name, "--warmup-steps '%s' is not a count", v);
        } else if (VALUE("--min-lr")) {
            if (!parse_double(v, &a->opt.min_lr) || a->opt.min_lr < 0)
                return cli_fail(cmd_name, "--min-lr '%s' is not a rate >= 0", v);
        } else if (VALUE("--batch")) {
            if (!parse_count(v, &a->batch) || a->batch < 1) return cli_fail(cmd_name, "--batch '%s' is not a count >= 1", v);
        } else if (VALUE("--steps")) {
            if (!parse_count(v, &a->steps) || a->steps < 1) return cli_fail(cmd_name, "--steps '%s' is not a count >= 1", v);
        } else if (VALUE("--epochs")) {
            if (!parse_count(v, &a->epochs) || a->epochs < 1) return cli_fail(cmd_name, "--epochs '%s' is not a count >= 1", v);
        } else if (VALUE("--shuffle")) {
            int64_t seed;
            if (!parse_count(v, &seed)) return cli_fail(cmd_name, "--shuffle '%s' is not a seed (an integer >= 0)", v);
            a->shuffle = true;
            a->seed = (uint64_t)seed;
        } else if (VALUE("--devices")) a->opt.devices = a->devices = v;
        else if (VALUE("--save")) a->save = v;
        else if (VALUE("--log")) a->log = v;
        else if (VALUE("--save-model")) a->save_model = v;
        else if (VALUE("--checkpoint-dir")) a->ckpt_dir = v;
        else if (VALUE("--checkpoint-every")) {
            if (!parse_count(v, &a->ckpt_every) || a->ckpt_every < 1)
                return cli_fail(cmd_name, "--checkpoint-every '%s' is not a count >= 1", v);
        } else if (VALUE("--eval-every")) {
            if (!parse_count(v, &a->eval_every) || a->eval_every < 1)
                return cli_fail(cmd_name, "--eval-every '%s' is not a count >= 1", v);
        } else if (VALUE("--stop-after")) {
            if (!parse_count(v, &a->stop_after) || a->stop_after < 1)
                return cli_fail(cmd_name, "--stop-after '%s' is not a count >= 1", v);
        } else if (VALUE("--resume")) a->resume = v;
        else if (VALUE("--trace")) a->trace = v;
        else if (VALUE("--placement")) a->placement = v;
        else if (strcmp(arg, "--explain") == 0) a->explain = true;
        else if (strcmp(arg, "--quiet") == 0) a->quiet = true;
        else if (strcmp(arg, "--profile") == 0) a->profile = true;
        else if (strcmp(arg, "--distributed") == 0) a->distributed = true;
        else if (VALUE("--bucket-kb")) {
            int64_t kb;
            if (!parse_count(v, &kb) || kb < 1 || kb > (INT64_C(1) << 30))
                return cli_fail(cmd_name, "--bucket-kb '%s' is not a size in KiB >= 1", v);
            a->opt.bucket_bytes = kb * 1024;
        }
        else if (missing) break;
        else if (arg[0] == '-') return cli_fail(cmd_name, "unknown option '%s' (hcg train --help lists them)", arg);
        else if (!a->model) a->model = arg;
        else return cli_fail(cmd_name, "more than one model given ('%s' and '%s')", a->model, arg);
#undef VALUE
    }
    if (missing) return cli_fail(cmd_name, "%s needs a value", missing);
    if (!a->model && !have_model) return cli_fail(cmd_name, "no model given\n%s", cmd_train_usage);
    if (a->model && have_model) return cli_fail(cmd_name, "unexpected argument '%s'", a->model);
    if (!a->loss) return cli_fail(cmd_name, "--loss OUTPUT is required (the model's scalar loss output)");
    if (!a->n_data) return cli_fail(cmd_name, "--data NAME=FILE.npy is required for every model input");
    if (!a->have_optimizer) return cli_fail(cmd_name, "--optimizer sgd|adam|adamw is required");
    if (!a->have_lr) return cli_fail(cmd_name, "--lr is required");
    if (!a->batch) return cli_fail(cmd_name, "--batch N is required");
    if ((a->steps > 0) == (a->epochs > 0)) return cli_fail(cmd_name, "give exactly one of --steps and --epochs");
    if (!a->save) return cli_fail(cmd_name, "--save OUT.safetensors is required");
    if ((a->ckpt_dir != NULL) != (a->ckpt_every > 0))
        return cli_fail(cmd_name, "--checkpoint-dir and --checkpoint-every go together");
    if (a->opt.optimizer == HCG_OPTIM_SGD && (a->opt.beta1 || a->opt.beta2 || a->opt.eps))
        return cli_fail(cmd_name, "--betas and --eps are options of adam and adamw, not sgd");
    if (a->opt.optimizer != HCG_OPTIM_SGD && (a->opt.momentum || a->opt.dampening || a->opt.nesterov))
        return cli_fail(cmd_name, "--momentum, --dampening and --nesterov are options of sgd");
    if (a->eval_every && !a->n_eval) return cli_fail(cmd_name, "--eval-every needs --eval data");
    if (a->stop_after && !a->ckpt_dir) return cli_fail(cmd_name, "--stop-after needs --checkpoint-dir (to resume from)");
    a->opt.freeze = a->freeze;
    a->opt.n_freeze = a->n_freeze;
    a->opt.profile = a->profile || a->trace;
    return 0;
}

/* ---------------------------------------------------------------- evaluation */

/* Runs the model over the eval data in batches and averages every scalar f32 output, weighted by
 * batch rows; prints and returns them as a JSON object (caller deletes). */
static hcg_status evaluate(hcg_train_session *t, const hcg_graph *g, const cli_dataset *ev, int64_t batch, bool shard,
                           cJSON **out)
{
    /* data parallel: each rank evaluates its slice of the rows; the sums are added up */
    bool dist = shard && hcg_dist_size() > 1;
    int64_t lo = dist ? ev->rows * hcg_dist_rank() / hcg_dist_size() : 0;
    int64_t hi = dist ? ev->rows * (hcg_dist_rank() + 1) / hcg_dist_size() : ev->rows;
    int n_out = hcg_graph_num_outputs(g), n_in = hcg_graph_num_inputs(g);
    double *sum = calloc((size_t)n_out + 1, sizeof(double));
    bool *scalar = calloc((size_t)n_out + 1, sizeof(bool));
    hcg_tensor **in = calloc((size_t)n_in + 1, sizeof(hcg_tensor *)), **outs = calloc((size_t)n_out + 1, sizeof(hcg_tensor *));
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)(batch + 1));
    hcg_status st = sum && scalar && in && outs && rows ? HCG_OK : hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int64_t first = lo; first < hi && !st; first += batch) {
        int64_t n = hi - first < batch ? hi - first : batch;
        for (int64_t r = 0; r < n; r++) rows[r] = first + r;
        if ((st = cli_batch_alloc(ev, n, in))) break;
        cli_batch_fill(ev, rows, n, in);
        cli_batch_fill_next(ev, rows, n, in);
        /* pipelined teachers: the first run leaves this batch's soft targets for the second */
        for (int pass = ev->pipelined ? 0 : 1; pass < 2 && !st; pass++) {
            for (int j = 0; j < n_out; j++) hcg_tensor_free(outs[j]), outs[j] = NULL;
            st = hcg_train_eval(t, (const hcg_tensor *const *)in, outs);
        }
        for (int j = 0; j < n_out && !st; j++) {
            scalar[j] = outs[j]->dtype == HCG_F32 && outs[j]->shape.rank == 0;
            if (scalar[j]) sum[j] += (double)*(const float *)outs[j]->data * (double)n;
        }
        for (int j = 0; j < n_out; j++) hcg_tensor_free(outs[j]), outs[j] = NULL;
        for (int i = 0; i < n_in; i++) hcg_tensor_free(in[i]), in[i] = NULL;
    }
    if (!st && dist) st = hcg_dist_sum(sum, n_out, "adding up the evaluation");
    cJSON *o = st ? NULL : cJSON_CreateObject();
    for (int j = 0; j < n_out && o; j++)
        if (scalar[j]) cJSON_AddNumberToObject(o, hcg_graph_output_name(g, j), sum[j] / (double)ev->rows);
    free(sum);
    free(scalar);
    free(in);
    free(outs);
    free(rows);
    *out = o;
    return st;
}

static void print_eval(const cJSON *o, int64_t step, FILE *f)
{
    fprintf(f, "eval after step %lld:", (long long)step);
    const cJSON *it;
    bool first = true;
    cJSON_ArrayForEach(it, o)
    {
        fprintf(f, "%s %s %.6g", first ? "" : ",", it->string, it->valuedouble);
        first = false;
    }
    fprintf(f, first ? " (the model has no scalar f32 output)\n" : "\n");
}

/* ---------------------------------------------------------------- the loop */

/* Pipelined teachers: one evaluation run with step k's batch as both batches leaves its soft
 * targets in their state for step k to read. */
static hcg_status prime_pipeline(hcg_train_session *t, const hcg_graph *g, const cli_dataset *d, cli_sampler *smp,
                                 int64_t k, int64_t *rows, int64_t share, int64_t offset, hcg_tensor **batch)
{
    if (!d->pipelined) return HCG_OK;
    int n_out = hcg_graph_num_outputs(g);
    hcg_tensor **outs = calloc((size_t)n_out + 1, sizeof(hcg_tensor *));
    if (!outs) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    int64_t *mine = rows + offset;
    cli_sampler_rows(smp, k, rows);
    cli_batch_fill(d, mine, share, batch);
    cli_batch_fill_next(d, mine, share, batch);
    hcg_status st = hcg_train_eval(t, (const hcg_tensor *const *)batch, outs);
    for (int j = 0; j < n_out; j++) hcg_tensor_free(outs[j]);
    free(outs);
    return st;
}

static void log_json(FILE *f, cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (s) {
        fprintf(f, "%s\n", s);
        fflush(f);
    }
    free(s);
    cJSON_Delete(o);
}

static void progress(int64_t step, int64_t total, float loss, double samples_s, double eta_s)
{
    int eta = (int)(eta_s + 0.5);
    fprintf(stderr, "\rstep %lld/%lld  loss %.5g  %.0f samples/s  ETA %d:%02d:%02d   ", (long long)step, (long long)total,
            loss, samples_s, eta / 3600, eta / 60 % 60, eta % 60);
}

static hcg_status checkpoint(hcg_train_session *t, const train_args *a, const cli_sampler *smp)
{
    char rng[80], user[256];
    cli_sampler_save(smp, rng, sizeof rng);
    snprintf(user, sizeof user,
             "{\"batch\": %lld, \"shuffle\": %s, \"seed\": %llu, \"epoch\": %lld, \"rng\": \"%s\"}", (long long)a->batch,
             a->shuffle ? "true" : "false", (unsigned long long)a->seed, (long long)smp->epoch, rng);
    return hcg_train_checkpoint_save(t, a->ckpt_dir, user);
}

/* Restores the sampler from a checkpoint's data; the batch and shuffling must be the same. */
static hcg_status resume(hcg_train_session *t, const train_args *a, cli_sampler *smp)
{
    char *user = NULL;
    hcg_status st = hcg_train_checkpoint_load(t, a->resume, &user);
    if (st) return st;
    cJSON *o = cJSON_Parse(user ? user : "");
    const cJSON *b = cJSON_GetObjectItem(o, "batch"), *sh = cJSON_GetObjectItem(o, "shuffle");
    const cJSON *seed = cJSON_GetObjectItem(o, "seed"), *ep = cJSON_GetObjectItem(o, "epoch");
    const cJSON *rng = cJSON_GetObjectItem(o, "rng");
    if (!cJSON_IsNumber(b) || !cJSON_IsBool(sh) || !cJSON_IsNumber(seed) || !cJSON_IsNumber(ep) || !cJSON_IsString(rng))
        st = hcg_error(HCG_ERR_FORMAT, "--resume %s: the checkpoint was not written by hcg train", a->resume);
    else if ((int64_t)b->valuedouble != a->batch || cJSON_IsTrue(sh) != a->shuffle ||
             (a->shuffle && (uint64_t)seed->valuedouble != a->seed))
        st = hcg_error(HCG_ERR_ARG, "--resume %s: the checkpoint was made with --batch %lld%s; resume with the same",
                       a->resume, (long long)b->valuedouble, cJSON_IsTrue(sh) ? " and --shuffle" : " without --shuffle");
    else if (!cli_sampler_restore(smp, (int64_t)ep->valuedouble, rng->valuestring))
        st = hcg_error(HCG_ERR_FORMAT, "--resume %s: bad random generator state", a->resume);
    cJSON_Delete(o);
    free(user);
    return st;
}

/* Prints the error. In a job of several ranks, this rank then ends them all: the others may be
 * waiting for it, and would otherwise wait until their time limit. */
static int fail(const char *msg_prefix)
{
    if (hcg_dist_size() > 1) {
        const char *e = hcg_last_error();
        char prefix[32];
        snprintf(prefix, sizeof prefix, "rank %d: ", hcg_dist_rank());
        fprintf(stderr, "hcg %s: %s%s%s\n", cmd_name, strncmp(e, "rank ", 5) == 0 ? "" : prefix, msg_prefix, e);
        hcg_dist_abort(1);
    }
    fprintf(stderr, "hcg %s: %s%s\n", cmd_name, msg_prefix, hcg_last_error());
    return 1;
}

/* Joins the MPI job when asked to (--distributed), launched by mpirun, or when nodes are placed on
 * ranks: then each rank runs its part of the graph on the whole batches; else data parallel. */
static int join_job(train_args *a, const hcg_graph *g)
{
    bool split = hcg_graph_names_ranks(g);
    if (split && a->distributed)
        return cli_fail(cmd_name, "--distributed (data parallel) and nodes placed on ranks (rankN:...) do not mix");
    if (!split && !a->distributed && !(hcg_dist_launched() && hcg_dist_available())) return 0;
    if (hcg_dist_init()) return fail(split ? "nodes placed on ranks: " : "--distributed: ");
    if (split) {
        if (hcg_dist_rank() != 0) a->quiet = true, a->explain = false, a->log = NULL, a->trace = NULL;
        return 0;
    }
    a->opt.distributed = true;
    int ranks = hcg_dist_size();
    if (a->batch % ranks != 0)
        return cli_fail(cmd_name, "--batch %lld does not divide among %d ranks: every rank takes the same share",
                        (long long)a->batch, ranks);
    if (hcg_dist_rank() != 0) { /* rank 0 speaks for the job */
        a->quiet = true;
        a->explain = false;
        a->log = NULL;
        a->trace = NULL;
    }
    return 0;
}

int cmd_train(int argc, char **argv) { return cli_train(argc, argv, NULL, "train"); }

int cli_train(int argc, char **argv, hcg_graph *given, const char *cmd)
{
    cmd_name = cmd;
    train_args a;
    int rc = parse(argc, argv, &a, given != NULL);
    if (rc) return rc < 0 ? 0 : rc;
    hcg_graph *g = given;
    hcg_train_session *t = NULL;
    cli_dataset data, ev;
    cli_sampler smp;
    memset(&data, 0, sizeof data);
    memset(&ev, 0, sizeof ev);
    memset(&smp, 0, sizeof smp);
    hcg_tensor **batch = NULL;
    int64_t *rows = NULL;
    FILE *logf = NULL;
    rc = 1;
    if ((!g && hcg_load(a.model, &g)) || (a.placement && cli_apply_placement(g, a.placement)) ||
        cli_dataset_load(g, a.data, a.n_data, "--data", true, &data) ||
        (a.n_eval && cli_dataset_load(g, a.eval, a.n_eval, "--eval", true, &ev))) {
        rc = fail("");
        goto done;
    }
    if ((rc = join_job(&a, g))) goto done;
    rc = 1;
    /* data parallel: this rank's rows of every global batch; else all of them */
    int ranks = a.opt.distributed ? hcg_dist_size() : 1;
    int64_t share = a.batch / ranks, offset = a.opt.distributed ? hcg_dist_rank() * share : 0;
    if (a.batch > data.rows) {
        cli_fail(cmd_name, "--batch %lld is larger than the %lld samples of the data", (long long)a.batch,
                 (long long)data.rows);
        goto done;
    }
    int64_t per_epoch = data.rows / a.batch, total = a.steps > 0 ? a.steps : a.epochs * per_epoch;
    if (!a.opt.total_steps) a.opt.total_steps = total;
    if (hcg_train_session_new(g, &a.opt, &t) || cli_sampler_init(&smp, data.rows, a.batch, a.shuffle, a.seed)) {
        rc = fail("");
        goto done;
    }
    if (a.resume && resume(t, &a, &smp)) {
        rc = fail("");
        goto done;
    }
    int n_in = hcg_graph_num_inputs(g);
    batch = calloc((size_t)n_in + 1, sizeof *batch);
    rows = malloc(sizeof(int64_t) * (size_t)(2 * a.batch + 1));
    if (!batch || !rows || cli_batch_alloc(&data, share, batch)) {
        rc = fail("");
        goto done;
    }
    const char *notes = hcg_device_notes();
    if (notes[0] && !a.quiet) fputs(notes, stderr);
    if (a.opt.distributed && !a.quiet)
        printf("data parallel over %d rank%s: %lld rows each of every global batch of %lld\n", ranks,
               ranks == 1 ? "" : "s", (long long)share, (long long)a.batch);
    if (a.explain) {
        hcg_shape *shapes = calloc((size_t)n_in + 1, sizeof *shapes);
        for (int i = 0; shapes && i < n_in; i++) shapes[i] = batch[i]->shape;
        hcg_status st = shapes ? hcg_train_prepare(t, shapes) : HCG_ERR_NOMEM;
        free(shapes);
        if (st) {
            rc = fail("");
            goto done;
        }
        printf("training step (%d trainable params):\n", hcg_train_num_params(t));
        if (hcg_session_explain(hcg_train_get_session(t), stdout)) {
            rc = fail("");
            goto done;
        }
    }
    if (a.log && !(logf = fopen(a.log, a.resume ? "a" : "w"))) {
        cli_fail(cmd_name, "cannot write the log %s: %s", a.log, strerror(errno));
        goto done;
    }
    int64_t start = hcg_train_steps_done(t);
    if (start > total) {
        cli_fail(cmd_name, "the checkpoint is at step %lld, beyond the %lld steps asked for", (long long)start,
                 (long long)total);
        goto done;
    }
    bool tty = isatty(2) && !a.quiet;
    if (start < total && prime_pipeline(t, g, &data, &smp, start, rows, share, offset, batch)) {
        rc = fail("preparing the pipeline: ");
        goto done;
    }
    double t0 = hcg_now(), t_last = t0;
    float loss = NAN;
    for (int64_t k = start; k < total; k++) {
        cli_sampler_rows(&smp, k, rows);
        cli_batch_fill(&data, rows + offset, share, batch);
        if (data.pipelined) { /* the teachers read the next batch */
            cli_sampler_rows(&smp, k + 1, rows + a.batch);
            cli_batch_fill_next(&data, rows + a.batch + offset, share, batch);
        }
        double ts = hcg_now();
        if (hcg_train_step(t, (const hcg_tensor *const *)batch, &loss)) {
            if (tty) fprintf(stderr, "\n");
            rc = fail(a.ckpt_dir ? "" : "");
            if (a.ckpt_dir) fprintf(stderr, "hcg %s: the last good checkpoint is in %s\n", cmd_name, a.ckpt_dir);
            goto done;
        }
        double now = hcg_now(), rate = (double)((k + 1 - start) * a.batch) / (now - t0);
        if (logf) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "step", (double)(k + 1));
            cJSON_AddNumberToObject(o, "loss", loss);
            cJSON_AddNumberToObject(o, "lr", hcg_train_lr_at(t, k));
            cJSON_AddNumberToObject(o, "step_ms", (now - ts) * 1e3);
            cJSON_AddNumberToObject(o, "samples_per_s", rate);
            log_json(logf, o);
        }
        if (tty && (now - t_last > 0.1 || k + 1 == total)) {
            progress(k + 1, total, loss, rate, (double)(total - k - 1) * (now - t0) / (double)(k + 1 - start));
            t_last = now;
        }
        bool stop = a.stop_after && k + 1 == a.stop_after && k + 1 < total;
        if (a.ckpt_dir && ((k + 1) % a.ckpt_every == 0 || stop) && checkpoint(t, &a, &smp)) {
            if (tty) fprintf(stderr, "\n");
            rc = fail("");
            goto done;
        }
        if (stop) {
            if (tty) fprintf(stderr, "\n");
            if (!a.quiet) printf("stopped after step %lld of %lld; continue with --resume %s\n", (long long)(k + 1),
                                 (long long)total, a.ckpt_dir);
            rc = 0;
            goto done;
        }
        if (a.eval_every && (k + 1) % a.eval_every == 0 && k + 1 < total) {
            cJSON *e = NULL;
            if (evaluate(t, g, &ev, a.batch, a.opt.distributed, &e) || prime_pipeline(t, g, &data, &smp, k + 1, rows, share, offset, batch)) {
                rc = fail("evaluating: ");
                goto done;
            }
            if (tty) fprintf(stderr, "\n");
            if (!a.quiet) print_eval(e, k + 1, stdout);
            if (logf) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "step", (double)(k + 1));
                cJSON_AddItemToObject(o, "eval", e);
                log_json(logf, o);
            } else {
                cJSON_Delete(e);
            }
        }
    }
    if (tty) fprintf(stderr, "\n");
    double secs = hcg_now() - t0;
    if (!a.quiet && total > start)
        printf("trained %lld steps in %.2f s (%.0f samples/s); last loss %.6g\n", (long long)(total - start), secs,
               (double)((total - start) * a.batch) / secs, loss);
    if (!a.quiet) cli_print_placement(hcg_train_get_session(t), stdout);
    if (a.trace && hcg_session_write_trace(hcg_train_get_session(t), a.trace)) {
        rc = fail("");
        goto done;
    }
    if (a.ckpt_dir && total % a.ckpt_every != 0 && checkpoint(t, &a, &smp)) {
        rc = fail("");
        goto done;
    }
    if (a.n_eval) {
        cJSON *e = NULL;
        if (evaluate(t, g, &ev, a.batch, a.opt.distributed, &e)) {
            rc = fail("evaluating: ");
            goto done;
        }
        if (!a.quiet) print_eval(e, total, stdout);
        if (logf) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "step", (double)total);
            cJSON_AddItemToObject(o, "eval", e);
            log_json(logf, o);
        } else {
            cJSON_Delete(e);
        }
    }
    if (hcg_train_save(t, a.save)) {
        rc = fail("");
        goto done;
    }
    if (!a.quiet) printf("saved %d params to %s\n", hcg_train_num_params(t), a.save);
    if (a.save_model && hcg_train_save_model(t, a.save_model)) {
        rc = fail("");
        goto done;
    }
    if (!a.quiet && a.save_model) printf("saved the trained model to %s\n", a.save_model);
    rc = 0;
done:
    if (logf) fclose(logf);
    if (batch)
        for (int i = 0; i < data.n_inputs; i++) hcg_tensor_free(batch[i]);
    free(batch);
    free(rows);
    cli_sampler_free(&smp);
    cli_dataset_free(&data);
    cli_dataset_free(&ev);
    hcg_train_session_free(t);
    if (g != given) hcg_graph_free(g);
    return rc;
}
