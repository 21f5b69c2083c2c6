/* cl_sources.h — the OpenCL C programs of cl/ as embedded into the library. The table itself is
 * generated at build time by cl/embed.cmake (its list of programs; each program's kernels read
 * from the preprocessed source) into hcg_cl_sources.c in the build folder. */
#ifndef HCG_CL_SOURCES_H
#define HCG_CL_SOURCES_H

#include <stddef.h>

typedef struct hcg_cl_program_src {
    const char *name;            /* "binary": the program's name */
    const char *path;            /* "cl/binary.cl": where the source lives in the repository */
    const char *source;          /* the file's text, NUL-terminated */
    size_t length;               /* bytes of source, without the NUL */
    const char *const *kernels;  /* the kernels the program defines */
    int n_kernels;
} hcg_cl_program_src;

extern const hcg_cl_program_src hcg_cl_programs[];
extern const int hcg_cl_program_count;

#endif
