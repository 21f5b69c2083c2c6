/* common.h — what every OpenCL program of cl/ starts with: cl/embed.cmake puts this text in front
 * of each program's source (then a #line, so that compiler messages name the program's own
 * lines). Defaults the launch code may override with -D (WG_SIZE, VEC), token pasting, and
 * report(), the one way a kernel records an error for the host (ocl_errors.c reads it back). */

#ifndef WG_SIZE
#define WG_SIZE 64
#endif
#ifndef VEC
#define VEC 4
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

/* The first error of a run wins: err[0] = tag (which node), err[1] = where (an index, a step),
 * err[2..3] = the offending 64-bit value. */
void report(__global int *err, int tag, int where, long value)
{
    if (atomic_cmpxchg(err, 0, tag) == 0) {
        err[1] = where;
        err[2] = (int)value;
        err[3] = (int)(value >> 32);
    }
}

