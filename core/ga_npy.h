/* ga_npy.h: NumPy's .npy arrays and .npz archives (np.save, np.savez,
 * np.savez_compressed), read strictly into doubles.
 *
 * The .npy format (numpy/lib/format.py, "NEP 1"): the magic "\x93NUMPY", a
 * major and a minor version byte, the header's length (little-endian uint16
 * for version 1.0, uint32 for 2.0 and 3.0), then the header: a Python dict
 * literal with exactly the keys 'descr', 'fortran_order' and 'shape', padded
 * with spaces and ended by '\n'; then the data, prod(shape) items of the
 * dtype, with nothing after them. Accepted dtypes: '<f4', '>f4', '<f8', '>f8'
 * (float32 and float64 of either byte order); fortran_order True or False;
 * shape a tuple of non-negative integers ('()' is a scalar). Anything else is
 * refused with one message naming the field and what was expected.
 *
 * A .npz is a zip archive (stored or deflated) of NAME.npy entries, read with
 * libzip; arrays keep the archive's order (np.savez writes its keyword
 * arguments in order).
 */
#ifndef GA_NPY_H
#define GA_NPY_H

#include <stddef.h>

#include "ga_core.h"

#define GA_NPY_MAX_DIM 32 /* NumPy's NPY_MAXDIMS */

typedef struct {
    char *name;                   /* the .npz entry without ".npy"; NULL for a lone .npy */
    char descr[4];                /* "<f8", ... as stored */
    int fortran_order;            /* as stored; data below is C order either way */
    size_t ndim;
    size_t shape[GA_NPY_MAX_DIM];
    size_t size;                  /* prod(shape) */
    double *data;                 /* (size) C order, converted exactly from the dtype */
} ga_npy_array;

/* Parses one .npy image (len bytes). label names it in messages ("a.npz:W1.npy").
 * memory_cap bounds size * sizeof(double) (0: GA_DEFAULT_MEMORY_CAP).
 * GA_EINVAL with a message for a malformed or unsupported file, GA_ENOMEM. */
int ga_npy_parse(ga_npy_array *out, ga_error *err, const unsigned char *buf, size_t len,
                 const char *label, size_t memory_cap);
void ga_npy_array_free(ga_npy_array *a);
/* shape (ndim) as a tuple, "(3,)", "(2,2)", "()", into buf (size): the messages' form. */
void ga_npy_shape_text(char *buf, size_t size, const size_t *shape, size_t ndim);

typedef struct {
    size_t n;
    ga_npy_array *arrays; /* (n), archive order */
} ga_npz;

/* Reads every entry of the archive at path. GA_EIO (cannot open or read, not a
 * zip), GA_EINVAL (an entry is not NAME.npy, a name repeats, an array is
 * malformed), GA_ENOMEM. On failure *out is empty. */
int ga_npz_read(ga_npz *out, ga_error *err, const char *path, size_t memory_cap);
void ga_npz_free(ga_npz *z);

#endif
