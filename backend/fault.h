/* fault.h — device calls that can fail, and what a failure means for a session.
 *
 * Everything outside a backend reaches a device through the hcg_dev_* calls below. Each one
 * classifies a failure: a device error (HCG_ERR_DEVICE, or running out of a device's own memory)
 * is a *fault* of that device, recorded per thread with the device, the kind of call and the
 * backend's error name ("CL_OUT_OF_RESOURCES"). Sessions read the record to drop the device and
 * re-plan on the others (session.c). Bad data (HCG_ERR_RUNTIME), shape or planning errors are not
 * faults: they would fail the same way anywhere.
 *
 * Fault injection for tests: HCG_FAULT=DEVICE:CALL[:N][,DEVICE:CALL[:N]...] makes the Nth call
 * (default the first) of kind CALL (alloc, build, write, read, run) on DEVICE fail the way the
 * device reports a real failure. Backends ask hcg_fault_inject at their real call sites. */
#ifndef HCG_FAULT_H
#define HCG_FAULT_H

#include "backend/backend.h"

typedef enum hcg_dev_call {
    HCG_CALL_ALLOC = 0, /* a buffer allocation */
    HCG_CALL_BUILD,     /* preparing a node: building or loading its program (OpenCL) */
    HCG_CALL_WRITE,     /* host to device */
    HCG_CALL_READ,      /* device to host */
    HCG_CALL_RUN,       /* running a segment of nodes (and waiting for it) */
    HCG_CALL_COUNT
} hcg_dev_call;

/* "alloc", "build", "write", "read", "run". */
const char *hcg_dev_call_name(hcg_dev_call c);

/* A device's failure, as recorded on the failing thread. */
typedef struct hcg_fault {
    hcg_device *device; /* NULL: no fault recorded */
    hcg_dev_call call;
    char error[64]; /* the backend's name for the error ("CL_MEM_OBJECT_ALLOCATION_FAILURE") */
} hcg_fault;

/* The calls every caller outside the backends uses (instead of d->iface->...). */
hcg_status hcg_dev_alloc(hcg_device *d, size_t size, hcg_buffer *out);
hcg_status hcg_dev_write(hcg_device *d, hcg_buffer *dst, size_t off, const void *src, size_t n);
hcg_status hcg_dev_read(hcg_device *d, const hcg_buffer *src, size_t off, void *dst, size_t n);
/* iface->copy from a device can_copy accepted: a write to dst for faults, unless the backend
 * blames the source (hcg_fault_blame: the copy's read of src failed). */
hcg_status hcg_dev_copy(hcg_device *dst, hcg_buffer *to, size_t to_off, const hcg_buffer *from, size_t from_off,
                        size_t n);
/* Whether dst can copy from src's buffers directly (both devices' backend has copy and accepts). */
bool hcg_dev_can_copy(const hcg_device *dst, const hcg_device *src);
/* iface->prepare, when the backend has one. */
hcg_status hcg_dev_prepare(hcg_device *d, hcg_exec_node *en);
/* iface->run, then synchronize for devices whose buffers are not host memory. */
hcg_status hcg_dev_run(hcg_device *d, hcg_exec_node *nodes, int n, bool profile);

/* The fault recorded on this thread since hcg_fault_clear (false: none). */
bool hcg_fault_last(hcg_fault *out);
void hcg_fault_clear(void);
/* Puts a fault recorded on another thread (an executor worker) on this one. */
void hcg_fault_set(const hcg_fault *f);
/* Backends name the error they are reporting (ocl_fail does), for the fault record. */
void hcg_fault_note(const char *error_name);
/* A backend's copy between devices says that the failure it reports is device d's, in call
 * (the source's read), rather than the destination's write. */
void hcg_fault_blame(hcg_device *d, hcg_dev_call call);

/* Whether this call of kind call on d must fail ($HCG_FAULT). Counts the call. Thread-safe. */
bool hcg_fault_inject(const hcg_device *d, hcg_dev_call call);
/* Whether $HCG_FAULT is well formed (sessions check it when they start). */
hcg_status hcg_fault_check(void);
/* Replaces the injection spec (NULL or "": none) and resets the counts; $HCG_FAULT is read on
 * first use otherwise. Returns HCG_ERR_ARG for a malformed spec. */
hcg_status hcg_fault_configure(const char *spec);

#endif
