/* ga_gradfile.h: a gradient some other program computed for a spec's network,
 * read from a file into the slab's order (docs/gradfiles.md).
 *
 * The file's kind is told by its first bytes, not its name:
 *   .npz (np.savez, np.savez_compressed; "PK\3\4"): one array per tensor,
 *        named exactly like it (W1, b1, W2, ...), each once, nothing else.
 *        A W in the spec's stored shape or its transpose (a NumPy tutorial's
 *        `X @ W` holds W as (n_in, n_out)); a bias as (n,), (1, n), (n, 1),
 *        or () when n = 1. Every array float32 or every array float64; an
 *        array `loss` of one number (any float dtype) is the program's loss.
 *   .npy (np.save; "\x93NUMPY"): one flat vector (n_params,) in slab order:
 *        W1 then b1, W2, b2, ..., each tensor flat in C order of its shape.
 *   text (anything else): CSV, either one value a line in slab order
 *        (np.savetxt of the flat vector), or a header `name,index,value` and
 *        one row an entry (index flat in C order of the tensor's shape).
 *
 * NaN and infinities are read as they are: they are the program's gradient,
 * and the check gives them a FAIL. */
#ifndef GA_GRADFILE_H
#define GA_GRADFILE_H

#include <stddef.h>

#include "ga_core.h"

/* The shape a W is held in by the file. AUTO: an .npz W is taken in whichever
 * of the two shapes it has; a square W (rows = cols > 1), where both fit, in
 * the layout every non-square W of the file shows, and is refused as
 * ambiguous when there is none or they disagree. The flat forms (.npy, CSV)
 * read AUTO as SPEC. */
typedef enum {
    GA_GRADFILE_LAYOUT_AUTO = 0,
    GA_GRADFILE_LAYOUT_SPEC,       /* the spec's stored shape: (out, in) column, (in, out) row */
    GA_GRADFILE_LAYOUT_TRANSPOSED  /* its transpose */
} ga_gradfile_layout;

typedef struct {
    ga_gradfile_layout layout;
    int dtype_given;     /* 0: the file's dtype (a CSV: float64) */
    ga_precision dtype;  /* the precision the gradient was computed in, when given */
    double *loss;        /* may be NULL: receives an .npz's array `loss` (one number,
                            any dtype: the loss the program computed with that
                            gradient), NaN when the file has none */
} ga_gradfile_options;

/* "spec", "transposed", "auto"; GA_EINVAL otherwise. */
int ga_gradfile_layout_from_name(ga_gradfile_layout *out, const char *name);

/* Reads path into grad (n_params, slab order) and writes the precision the
 * numbers are in to *prec: the given dtype, else the .npz/.npy dtype, else
 * float64. Every value must be a number of that precision (a CSV float32
 * value: a decimal that names one float32, see docs/gradfiles.md).
 * path "-" reads standard input (a CSV or an .npy: libzip needs a file).
 * memory_cap bounds the file and its arrays (0: GA_DEFAULT_MEMORY_CAP).
 * GA_EINVAL with one message naming the file, the array or line, and what was
 * expected; GA_EIO (unreadable), GA_ENOMEM. grad is undefined on failure. */
int ga_grad_read(double *grad, ga_precision *prec, ga_error *err, const ga_net *net,
                 const char *path, const ga_gradfile_options *opt, size_t memory_cap);

#endif
