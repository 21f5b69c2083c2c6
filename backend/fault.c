/* fault.c — device calls that can fail (the hcg_dev_* wrappers), the per-thread record of the
 * last device fault, and fault injection from $HCG_FAULT (see fault.h). */
#include "backend/fault.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const call_names[HCG_CALL_COUNT] = {"alloc", "build", "write", "read", "run"};

const char *hcg_dev_call_name(hcg_dev_call c) { return (unsigned)c < HCG_CALL_COUNT ? call_names[c] : "?"; }

/* ---------------------------------------------------------------- the fault record */

static _Thread_local hcg_fault last_fault;
static _Thread_local char noted_error[64];
static _Thread_local hcg_device *blamed;
static _Thread_local hcg_dev_call blamed_call;

bool hcg_fault_last(hcg_fault *out)
{
    if (out) *out = last_fault;
    return last_fault.device != NULL;
}

void hcg_fault_clear(void) { memset(&last_fault, 0, sizeof last_fault); }

void hcg_fault_set(const hcg_fault *f) { last_fault = *f; }

void hcg_fault_note(const char *error_name) { snprintf(noted_error, sizeof noted_error, "%s", error_name); }

void hcg_fault_blame(hcg_device *d, hcg_dev_call call)
{
    blamed = d;
    blamed_call = call;
}

/* Records a failed call when it is the device's fault. */
static hcg_status classify(hcg_device *d, hcg_dev_call call, hcg_status st)
{
    bool fault = st == HCG_ERR_DEVICE || (st == HCG_ERR_NOMEM && call == HCG_CALL_ALLOC && !d->host_memory);
    if (fault && !last_fault.device) {
        last_fault.device = d;
        last_fault.call = call;
        snprintf(last_fault.error, sizeof last_fault.error, "%s", noted_error[0] ? noted_error : hcg_status_name(st));
    }
    return st;
}

hcg_status hcg_dev_alloc(hcg_device *d, size_t size, hcg_buffer *out)
{
    noted_error[0] = 0;
    return classify(d, HCG_CALL_ALLOC, d->iface->buffer_alloc(d, size, out));
}

hcg_status hcg_dev_write(hcg_device *d, hcg_buffer *dst, size_t off, const void *src, size_t n)
{
    noted_error[0] = 0;
    return classify(d, HCG_CALL_WRITE, d->iface->write(d, dst, off, src, n));
}

hcg_status hcg_dev_read(hcg_device *d, const hcg_buffer *src, size_t off, void *dst, size_t n)
{
    noted_error[0] = 0;
    return classify(d, HCG_CALL_READ, d->iface->read(d, src, off, dst, n));
}

bool hcg_dev_can_copy(const hcg_device *dst, const hcg_device *src)
{
    return dst != src && dst->iface == src->iface && dst->iface->copy && dst->iface->can_copy &&
           dst->iface->can_copy(dst, src);
}

hcg_status hcg_dev_copy(hcg_device *dst, hcg_buffer *to, size_t to_off, const hcg_buffer *from, size_t from_off,
                        size_t n)
{
    noted_error[0] = 0;
    blamed = NULL;
    hcg_status st = dst->iface->copy(dst, to, to_off, from, from_off, n);
    hcg_device *who = blamed ? blamed : dst;
    hcg_dev_call call = blamed ? blamed_call : HCG_CALL_WRITE;
    blamed = NULL;
    return classify(who, call, st);
}

hcg_status hcg_dev_prepare(hcg_device *d, hcg_exec_node *en)
{
    if (!d->iface->prepare) return HCG_OK;
    noted_error[0] = 0;
    return classify(d, HCG_CALL_BUILD, d->iface->prepare(d, en));
}

hcg_status hcg_dev_run(hcg_device *d, hcg_exec_node *nodes, int n, bool profile)
{
    noted_error[0] = 0;
    hcg_status st = d->iface->run(d, nodes, n, profile);
    if (!st && !d->host_memory) st = d->iface->synchronize(d);
    return classify(d, HCG_CALL_RUN, st);
}

/* ---------------------------------------------------------------- injection */

#define MAX_INJECTED 8

typedef struct injected {
    char device[32];
    hcg_dev_call call;
    long nth;  /* the call that fails, counting from 1 */
    long seen; /* calls so far */
} injected;

static pthread_mutex_t inject_lock = PTHREAD_MUTEX_INITIALIZER;
static injected faults[MAX_INJECTED];
static int n_faults;
static bool configured;
static char env_error[256];

/* One "DEVICE:CALL[:N]" item (the device name may itself hold colons: "opencl:0"). */
static hcg_status parse_item(char *item, injected *f)
{
    char *fields[8];
    int n = 0;
    for (char *p = item, *colon; n < 8; p = colon + 1) {
        fields[n++] = p;
        if (!(colon = strchr(p, ':'))) break;
        *colon = 0;
    }
    long nth = 1;
    int call_at = n - 1;
    char *end = NULL;
    if (n >= 3) {
        long v = strtol(fields[n - 1], &end, 10);
        if (end != fields[n - 1] && !*end) {
            if (v < 1) return hcg_error(HCG_ERR_ARG, "HCG_FAULT: the call count must be 1 or more, got %ld", v);
            nth = v;
            call_at = n - 2;
        }
    }
    if (call_at < 1) return hcg_error(HCG_ERR_ARG, "HCG_FAULT: expected DEVICE:CALL[:N]");
    int call = -1;
    for (int c = 0; c < HCG_CALL_COUNT; c++)
        if (strcmp(fields[call_at], call_names[c]) == 0) call = c;
    if (call < 0)
        return hcg_error(HCG_ERR_ARG, "HCG_FAULT: '%s' is not a call (alloc, build, write, read, run)", fields[call_at]);
    /* the device: the fields before the call, joined with ':' again */
    f->device[0] = 0;
    for (int i = 0; i < call_at; i++) {
        size_t used = strlen(f->device);
        snprintf(f->device + used, sizeof f->device - used, "%s%s", i ? ":" : "", fields[i]);
    }
    f->call = (hcg_dev_call)call;
    f->nth = nth;
    f->seen = 0;
    return HCG_OK;
}

static hcg_status configure_locked(const char *spec)
{
    n_faults = 0;
    env_error[0] = 0;
    configured = true;
    if (!spec || !*spec) return HCG_OK;
    char buf[512];
    if (strlen(spec) >= sizeof buf) return hcg_error(HCG_ERR_ARG, "HCG_FAULT: the spec is too long");
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (n_faults == MAX_INJECTED) return hcg_error(HCG_ERR_ARG, "HCG_FAULT: more than %d faults", MAX_INJECTED);
        hcg_status st = parse_item(item, &faults[n_faults]);
        if (st) {
            n_faults = 0;
            return st;
        }
        n_faults++;
    }
    return HCG_OK;
}

hcg_status hcg_fault_configure(const char *spec)
{
    pthread_mutex_lock(&inject_lock);
    hcg_status st = configure_locked(spec);
    pthread_mutex_unlock(&inject_lock);
    return st;
}

/* $HCG_FAULT, read on first use; a malformed spec injects nothing and is reported by
 * hcg_fault_check (sessions refuse to start with it). */
static void configure_from_env_locked(void)
{
    if (configured) return;
    if (configure_locked(getenv("HCG_FAULT"))) snprintf(env_error, sizeof env_error, "%s", hcg_last_error());
}

hcg_status hcg_fault_check(void)
{
    pthread_mutex_lock(&inject_lock);
    configure_from_env_locked();
    hcg_status st = env_error[0] ? hcg_error(HCG_ERR_ARG, "%s", env_error) : HCG_OK;
    pthread_mutex_unlock(&inject_lock);
    return st;
}

bool hcg_fault_inject(const hcg_device *d, hcg_dev_call call)
{
    bool fail = false;
    pthread_mutex_lock(&inject_lock);
    configure_from_env_locked();
    for (int i = 0; i < n_faults; i++) {
        injected *f = &faults[i];
        if (f->call != call || strcmp(f->device, d->name) != 0) continue;
        if (++f->seen == f->nth) fail = true;
    }
    pthread_mutex_unlock(&inject_lock);
    return fail;
}
