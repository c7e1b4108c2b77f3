/* ga_normlog.h: gradient-norm reports of a training loop, one CSV row per step,
 * streamed. The public API's gradaudit_normlog_* (gradaudit.h, lib/ga_normlog_api.c)
 * are copies of these types over these functions; gradaudit norms
 * uses it for gradients saved by NumPy.
 *
 *   ga_normlog *log;
 *   ga_normlog_tensor t[] = {{"W1", 2, {64, 784}}, {"b1", 1, {64}}, ...};
 *   if (ga_normlog_open(&log, &err, "norms.csv", t, 4, NULL)) fail(err.msg);
 *   for (step = 0; ...; step++) {
 *       ... forward, backward into dW1, db1, ...
 *       const double *g[] = {dW1, db1, dW2, db2}, *p[] = {W1, b1, W2, b2};
 *       ga_normlog_step(log, &err, step, loss, g, p, &clip);
 *       ... clip, update
 *   }
 *   ga_normlog_close(log, &err);
 *
 * Each step's row is formatted whole in memory and handed to the kernel with
 * one write(2) (repeated only after a short write), with every blockable
 * signal held meanwhile, so no buffer holds a finished row and SIGINT, SIGTERM
 * or SIGHUP end the process only between rows. SIGKILL cannot be held, and
 * Linux copies a write page by page, checking for a fatal signal between
 * pages: a SIGKILL (or the OOM killer) landing inside the write of a row that
 * spans a page boundary leaves the start of that row, without its '\n', after
 * every earlier row. Every row ends with the field row_complete, always 1, so
 * such a prefix fails a reader's test "row_complete == 1" (it lacks fields,
 * or ends at the empty field before the 1); ga_normlog_repair cuts it off.
 * Columns and formulas: docs/norms.md.
 *
 * The L2 norm (ga_norm2): with m = max |x_i| = f 2^e, 1/2 <= f < 1 (frexp),
 * every x_i is multiplied by 2^-e (exact: a power of two, unless the product is
 * subnormal, whose square underflows anyway); the squares go to four sums,
 * entry i to s_(i mod 4), each in index order, and
 *   norm = sqrt((s_0 + s_1) + (s_2 + s_3)) 2^e.
 * So no entry up to DBL_MAX overflows and none down to the smallest subnormal
 * underflows, and wherever the plain sums of squares neither overflow nor
 * underflow, the result has the bits of the same four sums of x_i^2 unscaled
 * (power-of-two scaling commutes with every rounding). Its error: a sum of n
 * non-negative terms in any order has relative error <= gamma_(n-1) <=
 * gamma_n = n u / (1 - n u), u = 2^-53, squares included, so the norm is
 * within gamma_n / 2 + u of the exact value.
 * A NaN entry makes the norm and the max-abs NaN; else an Inf makes them Inf.
 */
#ifndef GA_NORMLOG_H
#define GA_NORMLOG_H

#include <stddef.h>
#include <stdint.h>

#include "ga_core.h"

#define GA_NORMLOG_MAX_DIM 32   /* as NumPy's NPY_MAXDIMS */
#define GA_NORMLOG_MAX_NAME 200 /* bytes of a tensor name */

/* One tensor's statistics. */
typedef struct {
    double norm;     /* L2 (Frobenius) norm, computed as above */
    double max_abs;  /* max |x_i| */
    size_t nan, inf; /* counts of NaN and +-Inf entries */
} ga_tensor_stats;

/* x (n), n > 0 for a meaningful max; n = 0 gives zeros. */
void ga_tensor_stats_compute(ga_tensor_stats *out, const double *x, size_t n);
/* The norm alone (NaN/Inf as above). */
double ga_norm2(const double *x, size_t n);

typedef struct {
    const char *name;                 /* letters, digits, _ . : / - [ ]; unique */
    size_t ndim;                      /* 0 (a scalar) .. GA_NORMLOG_MAX_DIM */
    size_t shape[GA_NORMLOG_MAX_DIM]; /* entries = product, > 0 */
} ga_normlog_tensor;

typedef struct {
    int lightning_names;   /* 1: grad_2.0_norm/T and grad_2.0_norm_total (PyTorch
                            * Lightning's keys) for grad_norm_T and global_norm */
    double vanish_below;   /* [GA_VANISH_BELOW_DEFAULT] */
    double explode_above;  /* [GA_EXPLODE_ABOVE_DEFAULT] */
    long ref_tensor;       /* the tensor norm_ratio divides by; -1 [default]: the
                            * last tensor of 2 or more dimensions (the top layer's
                            * weights), else the last tensor */
    int fsync_rows;        /* 1: fsync(2) after every row (survives power loss) */
} ga_normlog_options;

void ga_normlog_options_default(ga_normlog_options *opt);

/* The clipping the loop applies after logging: g *= max_norm / (norm + eps)
 * when that factor is below 1 (ga_clip_global_norm, torch's clip_grad_norm_
 * with eps 1e-6). The decision is recomputed from the logged global norm. */
typedef struct {
    double max_norm; /* > 0 */
    double eps;      /* >= 0 */
} ga_normlog_clip;

typedef struct ga_normlog ga_normlog;

/* Creates (truncates) path and writes the header row. tensors (n_tensors) are
 * copied. opt NULL: defaults. GA_EINVAL (bad name, shape, options: checked
 * before path is touched), GA_EIO. */
int ga_normlog_open(ga_normlog **out, ga_error *err, const char *path,
                    const ga_normlog_tensor *tensors, size_t n_tensors,
                    const ga_normlog_options *opt);
/* The same on an open file descriptor, which stays the caller's (not closed);
 * label names it in messages. */
int ga_normlog_open_fd(ga_normlog **out, ga_error *err, int fd, const char *label,
                       const ga_normlog_tensor *tensors, size_t n_tensors,
                       const ga_normlog_options *opt);

/* Logs one step: grads (n_tensors) point at each tensor's gradient (its
 * entries in memory order); params (n_tensors) or NULL: the parameters at
 * which the gradients were taken, for update_ratio; clip or NULL. step must
 * exceed the previous logged step. NaN and Inf in grads, params or loss are
 * data: counted and written, not errors. GA_EINVAL (NULL pointer, step not
 * increasing, bad clip), GA_EIO (the write failed; the log refuses later
 * steps), GA_ENOMEM. */
int ga_normlog_step(ga_normlog *log, ga_error *err, uint64_t step, double loss,
                    const double *const *grads, const double *const *params,
                    const ga_normlog_clip *clip);

/* The statistics of the last logged step (valid until the next step). */
typedef struct {
    uint64_t step;
    const ga_tensor_stats *tensors; /* (n_tensors) */
    const double *norm_ratio;       /* (n_tensors) ||g_T|| / ||g_ref|| */
    const double *update_ratio;     /* (n_tensors) NaN where not logged */
    const int *vanished, *exploded; /* (n_tensors) */
    double global_norm, global_norm_clipped, growth;
    int clipped, step_vanished, step_exploded, nan_inf;
} ga_normlog_last;
int ga_normlog_last_step(ga_normlog_last *out, const ga_normlog *log);

/* Truncates the file at path after its last '\n': removes the fragment of a
 * row a SIGKILL cut (nothing when the file ends with '\n'). *cut (may be
 * NULL) receives the bytes removed. GA_EIO, GA_EINVAL (no '\n' at all). */
int ga_normlog_repair(ga_error *err, const char *path, size_t *cut);

/* Closes the file when ga_normlog_open opened it and frees log (NULL: no-op).
 * GA_EIO when closing failed or an earlier write had. */
int ga_normlog_close(ga_normlog *log, ga_error *err);

#endif
