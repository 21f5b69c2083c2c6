/* state.h — state tensors: tensors that live on one device across the runs of one or more
 * sessions (trained parameters, optimizer moments, later caches), keyed by name. A plan reads and
 * updates them in place (optimizer ops); the host reads them back (saving, checkpoints) or writes
 * them (resuming) between runs. */
#ifndef HCG_STATE_H
#define HCG_STATE_H

#include "backend/backend.h"

typedef struct hcg_state_entry {
    char *name;
    hcg_dtype dtype;
    hcg_shape shape;
    size_t nbytes;
    hcg_device *device; /* NULL while the value is pending on the host */
    hcg_buffer buf;
    hcg_tensor *pending; /* a host value to start from once the entry gets a device (resume) */
} hcg_state_entry;

/* Entries are allocated one by one: plans keep pointers to their buffers. */
typedef struct hcg_state_store {
    hcg_state_entry **e;
    int n, cap;
} hcg_state_store;

void hcg_state_store_free(hcg_state_store *s);
/* The entry named name, or NULL. */
hcg_state_entry *hcg_state_find(hcg_state_store *s, const char *name);
/* The device buffer of state name on device d: made on first use from the pending value, else
 * from init (NULL: zeros). An existing entry must be on d and have the same type. */
hcg_status hcg_state_bind(hcg_state_store *s, const char *name, hcg_dtype dtype, const hcg_shape *shape,
                          const hcg_tensor *init, hcg_device *d, hcg_buffer **out);
/* Reads a state's value into a new host tensor (the pending value if it has no device yet). */
hcg_status hcg_state_read(hcg_state_entry *e, hcg_tensor **out);
/* Sets a state's value: written to its device, or kept pending until it has one. The type must
 * match an existing entry's. */
hcg_status hcg_state_write(hcg_state_store *s, const char *name, const hcg_tensor *t);

#endif
