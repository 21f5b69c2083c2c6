/* test_dist_cli.c — `mpirun -np R hcg train` end to end, and what happens when a rank fails. The
 * test starts mpirun itself ($HCG_MPIRUN, set by tests/mpi.cmake; without it, only the messages of
 * an hcg without MPI are checked):
 *   - 2 and 3 ranks train the MLP on global batches of 6 rows and match PyTorch's one-process
 *     float64 training (tests/train, make_train_golden.py) within its tolerance;
 *   - rank 0 alone writes checkpoints; a job stopped after step 4 and resumed by 2 ranks ends
 *     bit-identical to an uninterrupted one, and one process resumes from the same checkpoint;
 *   - a rank killed (SIGKILL) mid-training ends the job within a bounded time, both when mpirun
 *     takes the job down and when it lets the others go on (they notice by their time limit, and
 *     say so); a rank that stops (SIGSTOP) makes the others fail with hcg's message; in every case
 *     the last checkpoint stays loadable (one process resumes from it);
 *   - hcg distill with the teachers on rank 1 (--teacher-device rank1:cpu, and by a placement file)
 *     saves the same bytes as one process, plain and pipelined; hcg run of an ensemble with two
 *     members on rank 1 gives PyTorch's output; `hcg devices --all-ranks` lists rank 1's devices;
 *   - bad input: a batch that does not divide among the ranks, a rank the job does not have, a
 *     placement line that matches nothing. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "graph/safetensors.h"
#include "testlib.h"

static char out[65536];
static const char *mpirun;

#define TRAIN_ARGS                                                                                               \
    "train %s/tests/train/mlp.hcg --loss loss --data x=%s/tests/train/data_x.npy --data y=%s/tests/train/data_y5.npy " \
    "--optimizer sgd --lr 0.05 --momentum 0.9 --batch 6"

static const char *src(void) { return getenv("HCG_SOURCE_DIR"); }

/* Runs `mpirun -np np hcg ARGS` (np 0: hcg alone); returns the exit code, output in out. */
static int job(int np, const char *fmt, ...) HCG_PRINTF(2, 3);
static int job(int np, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    if (np) snprintf(cmd, sizeof cmd, "cd %s && HCG_CPU_THREADS=1 OPENBLAS_NUM_THREADS=1 %s -np %d %s %s", tl_tmpdir(), mpirun, np, tl_hcg_bin(), args);
    else snprintf(cmd, sizeof cmd, "cd %s && %s %s", tl_tmpdir(), tl_hcg_bin(), args);
    return tl_run(cmd, out, sizeof out);
}

/* Every param of file `got` (in the test's folder) against the reference within the case's tolerance. */
static void compare_with_reference(const char *got, const char *what)
{
    size_t len;
    char path[1024], *text = tl_read_file(tl_src("tests/train/cases_dist.json"), &len);
    cJSON *cases = text ? cJSON_Parse(text) : NULL, *c = cJSON_GetArrayItem(cases, 0); /* mlp_sgd_b6 */
    hcg_st_file *g = NULL, *w = NULL;
    snprintf(path, sizeof path, "%s/%s", tl_tmpdir(), got);
    if (CHECK(c && strcmp(cJSON_GetObjectItem(c, "name")->valuestring, "mlp_sgd_b6") == 0, "the mlp_sgd_b6 case") &&
        CHECK_OK(hcg_st_open(path, &g)) && CHECK_OK(hcg_st_open(tl_src("tests/train/mlp_sgd_b6.expected.safetensors"), &w))) {
        const cJSON *tol;
        cJSON_ArrayForEach(tol, cJSON_GetObjectItem(c, "tolerance"))
        {
            hcg_tensor *a = NULL, *b = NULL;
            const hcg_st_entry *ea = hcg_st_find(g, tol->string), *eb = hcg_st_find(w, tol->string);
            char label[256];
            snprintf(label, sizeof label, "%s: %s", what, tol->string);
            if (CHECK(ea && eb, "%s saved", label) && CHECK_OK(hcg_st_tensor(g, ea, &a)) && CHECK_OK(hcg_st_tensor(w, eb, &b)))
                tl_tensor_close(a, b, 0, tol->valuedouble, label);
            hcg_tensor_free(a);
            hcg_tensor_free(b);
        }
    }
    if (g) hcg_st_close(g);
    if (w) hcg_st_close(w);
    cJSON_Delete(cases);
    free(text);
}

static bool same_files(const char *a, const char *b)
{
    char pa[1024], pb[1024];
    size_t la = 0, lb = 0;
    snprintf(pa, sizeof pa, "%s/%s", tl_tmpdir(), a);
    snprintf(pb, sizeof pb, "%s/%s", tl_tmpdir(), b);
    char *x = tl_read_file(pa, &la), *y = tl_read_file(pb, &lb);
    bool same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static void test_parity_and_resume(void)
{
    const char *s = src();
    for (int np = 2; np <= 3; np++) {
        int rc = job(np, TRAIN_ARGS " --steps 8 --save dp%d.safetensors --checkpoint-dir ck%d --checkpoint-every 3", s, s, s,
                     np, np);
        char name[64], what[64];
        snprintf(name, sizeof name, "dp%d.safetensors", np);
        snprintf(what, sizeof what, "hcg train on %d ranks", np);
        if (CHECK(rc == 0, "%s: %s", what, out)) {
            char says[64];
            snprintf(says, sizeof says, "data parallel over %d ranks: %d rows each", np, 6 / np);
            CHECK(strstr(out, says) != NULL, "%s says how the batch is shared: %s", what, out);
            compare_with_reference(name, what);
        }
    }
    /* the checkpoints: rank 0's only (steps 6 and 8 kept), with the latest pointer */
    char path[1024];
    snprintf(path, sizeof path, "%s/ck2/latest", tl_tmpdir());
    size_t len;
    char *latest = tl_read_file(path, &len);
    CHECK(latest && len == 14 && memcmp(latest, "step-000000008", 14) == 0, "ck2/latest names step 8");
    free(latest);
    /* stop after step 4, resume on 2 ranks: bit-identical to the uninterrupted run; on 1 process: close */
    const char *sh = "--shuffle 5";
    int rc = job(2, TRAIN_ARGS " %s --steps 8 --save full.safetensors", s, s, s, sh);
    CHECK(rc == 0, "uninterrupted: %s", out);
    rc = job(2, TRAIN_ARGS " %s --steps 8 --save part.safetensors --checkpoint-dir ckr --checkpoint-every 100 --stop-after 4",
             s, s, s, sh);
    CHECK(rc == 0 && strstr(out, "stopped after step 4"), "stopped: %s", out);
    rc = job(2, TRAIN_ARGS " %s --steps 8 --save resumed.safetensors --resume ckr", s, s, s, sh);
    CHECK(rc == 0 && same_files("full.safetensors", "resumed.safetensors"),
          "2 ranks resume bit-identically from rank 0's checkpoint: %s", out);
    rc = job(0, TRAIN_ARGS " %s --steps 8 --save alone.safetensors --resume ckr", s, s, s, sh);
    CHECK(rc == 0, "one process resumes from a checkpoint of 2 ranks: %s", out);
}

#define DISTILL_ARGS                                                                                             \
    "distill --student %s/tests/workloads/student.hcg --teacher %s/tests/workloads/teacher0.onnx:0.5 "            \
    "--teacher %s/tests/workloads/teacher1.onnx:0.3 --teacher %s/tests/workloads/teacher2.onnx:0.2 "             \
    "--data x=%s/tests/workloads/x.npy --labels %s/tests/workloads/y.npy --temperature 4 --alpha 0.7 "           \
    "--optimizer sgd --lr 0.05 --momentum 0.9 --batch 8 --steps 8 --eval x=%s/tests/workloads/x.npy "            \
    "--eval-labels %s/tests/workloads/y.npy"

static void test_distill_on_ranks(void)
{
    const char *s = src();
    char path[1024];
    snprintf(path, sizeof path, "%s/teachers.place", tl_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "# the teachers on rank 1\nteacher* rank1:cpu\n");
        fclose(f);
    }
    const char *modes[2] = {"", "--no-pipeline"};
    for (int m = 0; m < 2; m++) {
        int rc = job(0, DISTILL_ARGS " %s --save one.safetensors", s, s, s, s, s, s, s, s, modes[m]);
        CHECK(rc == 0, "distill in one process: %s", out);
        rc = job(2, DISTILL_ARGS " %s --teacher-device rank1:cpu --save two.safetensors", s, s, s, s, s, s, s, s, modes[m]);
        CHECK(rc == 0 && strstr(out, "eval after step 8") && same_files("one.safetensors", "two.safetensors"),
              "distill %s with the teachers on rank 1: the same bytes as one process: %s", modes[m], out);
        rc = job(2, DISTILL_ARGS " %s --placement teachers.place --save placed.safetensors", s, s, s, s, s, s, s, s, modes[m]);
        CHECK(rc == 0 && same_files("one.safetensors", "placed.safetensors"), "the same by a placement file: %s", out);
    }
    /* an ensemble whose members run on rank 1 (m0, m2) and rank 0 (m1), through hcg run */
    snprintf(path, sizeof path, "%s/members.place", tl_tmpdir());
    if ((f = fopen(path, "w"))) {
        fprintf(f, "m0/* rank1:cpu\nm2/* rank1:cpu\n");
        fclose(f);
    }
    int rc = job(0, "ensemble ens.hcg --member %s/tests/workloads/teacher0.onnx:0.5 --member %s/tests/workloads/teacher1.onnx:0.3 "
                 "--member %s/tests/workloads/teacher2.onnx:0.2 --combine weighted", s, s, s);
    CHECK(rc == 0, "hcg ensemble: %s", out);
    rc = job(2, "run ens.hcg --input x=%s/tests/workloads/x.npy --placement members.place --output-dir ens-out", s);
    CHECK(rc == 0, "hcg run of an ensemble split across 2 ranks: %s", out);
    rc = job(0, "compare ens-out/ensemble.npy %s/tests/workloads/expected_weighted.npy --rtol 1e-5 --atol 1e-6", s);
    CHECK(rc == 0, "the ensemble's output on rank 0 is PyTorch's: %s", out);
    rc = job(2, "devices --all-ranks");
    CHECK(rc == 0 && strstr(out, "rank0:cpu") && strstr(out, "rank1:cpu"), "devices --all-ranks: %s", out);
}

static void test_bad_input(void)
{
    const char *s = src();
    int rc = job(2, TRAIN_ARGS " --steps 2 --batch 7 --save x.safetensors", s, s, s);
    CHECK(rc != 0 && strstr(out, "--batch 7 does not divide among 2 ranks"), "an odd batch on 2 ranks: %s", out);
    rc = job(2, DISTILL_ARGS " --teacher-device rank5:cpu --save x.safetensors", s, s, s, s, s, s, s, s);
    CHECK(rc != 0 && strstr(out, "pinned to 'rank5:cpu', but the job has 2 ranks"), "a rank the job lacks: %s", out);
    char path[1024];
    snprintf(path, sizeof path, "%s/typo.place", tl_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "teacher* rank1:cpu\ntaecher* rank1:cpu\n");
        fclose(f);
    }
    rc = job(0, DISTILL_ARGS " --placement typo.place --save x.safetensors", s, s, s, s, s, s, s, s);
    CHECK(rc != 0 && strstr(out, "typo.place:2: 'taecher*' matches no node"), "a placement typo: %s", out);
    rc = job(0, DISTILL_ARGS " --teacher-device rank1:cpu --save x.safetensors", s, s, s, s, s, s, s, s);
    CHECK(rc != 0 && strstr(out, "but the job has 1 rank (start it with mpirun -np 2)"), "ranks without mpirun: %s", out);
}

/* ---------------------------------------------------------------- faults */

/* A /proc file (its size reads as 0: read until the end). */
static char *read_proc(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(65537);
    *len = 0;
    if (!f || !buf) {
        if (f) fclose(f);
        free(buf);
        return NULL;
    }
    size_t k;
    while (*len < 65536 && (k = fread(buf + *len, 1, 65536 - *len, f)) > 0) *len += k;
    fclose(f);
    buf[*len] = 0;
    return buf;
}

/* The pid of the process of rank `rank` whose environment holds mark, or -1. */
static pid_t find_rank(const char *mark, int rank)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    pid_t found = -1;
    while (d && (e = readdir(d)) && found < 0) {
        char path[300];
        size_t len = 0;
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        char *env = read_proc(path, &len);
        bool has_mark = false, has_rank = false;
        for (size_t at = 0; env && at < len; at += strlen(env + at) + 1) {
            has_mark |= strcmp(env + at, mark) == 0;
            has_rank |= strcmp(env + at, want) == 0;
        }
        char comm[300];
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        char *name = read_proc(path, &len);
        snprintf(comm, sizeof comm, "%s", name ? name : "");
        if (has_mark && has_rank && strncmp(comm, "hcg", 3) == 0) found = (pid_t)atoi(e->d_name);
        free(env);
        free(name);
    }
    if (d) closedir(d);
    return found;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Starts a long training job on 2 ranks in the background; waits for its first checkpoint, then
 * sends rank 1 the signal; returns the seconds until the job ended (or -1), its status, its log. */
static double fault(const char *name, int sig, const char *mpi_extra, int *status, char *log, size_t log_len)
{
    const char *s = src();
    char mark[256], cmd[8192], args[4096], ck[1024], logpath[1024];
    snprintf(mark, sizeof mark, "HCG_TEST_MARK=%s/%s", tl_tmpdir(), name);
    snprintf(ck, sizeof ck, "%s/%s", tl_tmpdir(), name);
    snprintf(logpath, sizeof logpath, "%s/%s.log", tl_tmpdir(), name);
    snprintf(args, sizeof args, TRAIN_ARGS " --steps 100000000 --save never.safetensors --checkpoint-dir %s --checkpoint-every 5", s,
             s, s, ck);
    snprintf(cmd, sizeof cmd, "exec env %s HCG_DIST_TIMEOUT=5 HCG_CPU_THREADS=1 OPENBLAS_NUM_THREADS=1 %s %s -np 2 %s %s > %s 2>&1",
             mark, mpirun, mpi_extra, tl_hcg_bin(), args, logpath);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    double t0 = now(), ended = -1, killed = -1;
    char latest[1100];
    snprintf(latest, sizeof latest, "%s/latest", ck);
    *status = -1;
    while (now() - t0 < 120) {
        if (killed < 0 && access(latest, F_OK) == 0) {
            pid_t victim = find_rank(mark, 1);
            if (victim > 0 && kill(victim, sig) == 0) killed = now();
        }
        if (waitpid(pid, status, WNOHANG) == pid) {
            ended = now();
            break;
        }
        usleep(20000);
    }
    if (ended < 0) { /* it hung: end it, and fail */
        kill(-pid, SIGKILL);
        waitpid(pid, status, 0);
    }
    if (sig == SIGSTOP) { /* a stopped rank left behind would never end */
        pid_t victim = find_rank(mark, 1);
        if (victim > 0) kill(victim, SIGKILL);
    }
    size_t len = 0;
    char *text = tl_read_file(logpath, &len);
    snprintf(log, log_len, "%s", text ? text : "");
    free(text);
    CHECK(killed > 0, "%s: rank 1 got the signal after the first checkpoint", name);
    return ended > 0 && killed > 0 ? ended - killed : -1;
}

/* The checkpoint a failed job left: one process resumes from it and trains two more steps. */
static void check_resumable(const char *name)
{
    const char *s = src();
    char path[1024], *latest;
    size_t len;
    snprintf(path, sizeof path, "%s/%s/latest", tl_tmpdir(), name);
    latest = tl_read_file(path, &len);
    long long step = 0;
    if (CHECK(latest && sscanf(latest, "step-%lld", &step) == 1, "%s: the latest checkpoint is named", name)) {
        int rc = job(0, TRAIN_ARGS " --steps %lld --save after-%s.safetensors --resume %s", s, s, s, step + 2, name, name);
        CHECK(rc == 0 && strstr(out, "trained 2 steps"), "%s: one process resumes from step %lld: %s", name, step, out);
    }
    free(latest);
}

static void test_faults(void)
{
    char log[16384];
    int status;
    /* killed: mpirun sees it die and ends the job */
    double t = fault("killed", SIGKILL, "", &status, log, sizeof log);
    CHECK(t >= 0 && t < 30 && status != 0, "a killed rank ends the job in %.1f s (status %d)", t, status);
    CHECK(strstr(log, "rank 1") && strstr(log, "signal 9"), "mpirun names the killed rank: %s", log);
    printf("killed rank: the job ended %.2f s later\n", t);
    check_resumable("killed");
    /* killed, with a launcher that lets the others go on: rank 0 notices by its time limit */
    t = fault("killed-recovery", SIGKILL, "--mca orte_enable_recovery 1", &status, log, sizeof log);
    /* (Open MPI 4.1's mpirun exits 0 in this mode even after MPI_Abort: the status says nothing) */
    CHECK(t >= 0 && t < 40, "with recovery on, the survivor ends in %.1f s", t);
    CHECK(strstr(log, "rank 0: ") && strstr(log, "got no answer from the other ranks within 5 s"),
          "the survivor says what happened: %s", log);
    printf("killed rank, job kept alive: rank 0 gave up %.2f s later\n", t);
    check_resumable("killed-recovery");
    /* stopped: rank 0's time limit ends the job */
    t = fault("stopped", SIGSTOP, "", &status, log, sizeof log);
    CHECK(t >= 0 && t < 40 && status != 0, "a stopped rank ends the job in %.1f s (status %d)", t, status);
    CHECK(strstr(log, "got no answer from the other ranks within 5 s: a rank has died or stopped"),
          "rank 0 says that a rank stopped: %s", log);
    printf("stopped rank: the job ended %.2f s later\n", t);
    check_resumable("stopped");
}

int main(void)
{
    mpirun = getenv("HCG_MPIRUN");
    if (!hcg_dist_available() || !mpirun || !*mpirun) {
        const char *s = src();
        int rc = job(0, TRAIN_ARGS " --steps 2 --save x.safetensors --distributed", s, s, s);
        CHECK(hcg_dist_available() || (rc != 0 && strstr(out, "built without MPI")), "--distributed without MPI: %s", out);
        return tl_finish();
    }
    test_parity_and_resume();
    test_distill_on_ranks();
    test_bad_input();
    test_faults();
    return tl_finish();
}
