/* safetensors.h — safetensors files: a read-only view of a mapped file whose header and every
 * entry are validated on open, tensors that borrow the mapping, and an atomic writer.
 *
 * Layout: 8 bytes little-endian N, N bytes of JSON header (padded with spaces), then the data
 * section. The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the data section) and may hold "__metadata__" (string to string). */
#ifndef HCG_SAFETENSORS_H
#define HCG_SAFETENSORS_H

#include "hcg/hcg.h"

typedef struct hcg_st_file hcg_st_file;

/* One tensor of an open file. */
typedef struct hcg_st_entry {
    const char *name;
    char st_dtype[16]; /* the file's dtype name ("F32", "BF16") */
    bool supported;    /* a dtype hcg computes with; else dtype is meaningless and using it fails */
    hcg_dtype dtype;
    hcg_shape shape;
    const void *data; /* inside the mapping */
    size_t nbytes;
} hcg_st_entry;

/* Maps path and validates it: the header length against the file size, the JSON, each entry's
 * dtype (one the format defines: hcg computes with F32 F16 I32 I64 U8 BOOL, and a tensor of
 * another, e.g. BF16, is an error only when it is used), shape, and offsets (inside the data
 * section, matching the shape's byte size, not overlapping). Errors name the file. */
hcg_status hcg_st_open(const char *path, hcg_st_file **out);
/* Unmaps the file. Tensors that borrow it must be gone. */
void hcg_st_close(hcg_st_file *f);
/* hcg_st_close for hcg_graph_keep. */
void hcg_st_release(void *f);

const char *hcg_st_path(const hcg_st_file *f);
int hcg_st_count(const hcg_st_file *f);
/* Entry i in header order. */
const hcg_st_entry *hcg_st_get(const hcg_st_file *f, int i);
/* The entry named name, or NULL. */
const hcg_st_entry *hcg_st_find(const hcg_st_file *f, const char *name);

/* A tensor for entry e (HCG_ERR_UNSUPPORTED naming the tensor and its dtype if hcg does not
 * compute with it): it borrows the mapping (so the file must stay open while it lives, e.g.
 * kept by a graph with hcg_graph_keep), unless the data is not aligned for its dtype, in which
 * case it is copied. BOOL data is checked to be 0 or 1. */
hcg_status hcg_st_tensor(const hcg_st_file *f, const hcg_st_entry *e, hcg_tensor **out);

/* Writes n tensors to path atomically (temporary file + rename). Names must be unique and not
 * "__metadata__". Data are laid out widest dtype first, then by name, so every tensor is aligned
 * (the order the safetensors package uses: the same tensors give the same bytes); the header is
 * padded with spaces to a multiple of 8 bytes. */
hcg_status hcg_st_save(const char *path, const char *const *names, const hcg_tensor *const *tensors, int n);

#endif
