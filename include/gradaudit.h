/* gradaudit.h: the public C API of gradaudit for checking a user's own
 * gradient code.
 *
 * A user describes a problem by callbacks over a flat parameter vector
 * theta (n): the double loss L(theta) (required), the analytic gradient
 * dL/dtheta to be checked (required), and optionally the same loss in MPFR
 * (enables the exact oracle), a running error bound of the gradient, and
 * names of the entries. gradaudit_check() compares every entry of the
 * gradient with a reference value under a derived tolerance and returns the
 * per-entry report of the checker (ga_check_entry, see ga_check.h) inside a
 * gradaudit_report the caller inspects, prints and frees.
 *
 * Reference (gradaudit_options.reference):
 *   oracle:  central differences with Richardson extrapolation on the MPFR
 *            loss, in a Ziv loop: precision doubled until the rounding of the
 *            derivative to double is settled; error bound <= half an ulp
 *            when settled.
 *   ridders: Ridders-extrapolated central differences on the double loss,
 *            with their own truncation + rounding error estimate.
 *   auto:    oracle when loss_mpfr is given, else ridders.
 * Tolerance on |analytic - reference| (reported in gradaudit_report.model):
 *   bound model (grad_bound given): gamma_n * S_i + the reference's bound,
 *            gamma_n = n u / (1 - n u), u = 2^-53, S_i and n from the user's
 *            backward pass on absolute values (Higham's running bound);
 *   noise model (default): 16 x the largest change of the user's gradient
 *            when rerun in the directed rounding modes and at a few points
 *            where theta moved by a few ulps (a calibrated factor, see
 *            lib/ga_problem.c), at least 2 ulps of the analytic value, + the
 *            reference's bound.
 *
 * Conventions: functions return GA_OK or a GA_E* status (ga_core.h) and write
 * a one-line message into a ga_error when one is passed; outputs come first.
 * Callbacks return 0 on success; any other value stops the check with
 * GA_ECALLBACK and a message naming the callback and the point.
 *
 * Link with `pkg-config --cflags --libs gradaudit`.
 */
#ifndef GRADAUDIT_H
#define GRADAUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mpfr.h>

#include "ga_check.h" /* ga_error, GA_* status codes, ga_check_entry, ga_check_report */
#include "ga_normlog.h" /* gradient-norm reports of a training loop (see below) */

#ifdef __cplusplus
extern "C" {
#endif

#define GRADAUDIT_VERSION "0.1.0"

/* ---- callbacks ---------------------------------------------------------- */
/* *loss = L(theta). theta (n). */
typedef int (*gradaudit_loss_fn)(double *loss, const double *theta, size_t n, void *user);

/* loss = L(theta) computed in MPFR: loss is initialised at prec bits; theta
 * (n) holds the parameters exactly (each at its own precision, >= 53 bits).
 * Compute every intermediate at prec bits (or more): the checker raises prec
 * until the result is settled, so accuracy must grow with prec. */
typedef int (*gradaudit_loss_mpfr_fn)(mpfr_ptr loss, mpfr_srcptr theta, size_t n,
                                      mpfr_prec_t prec, void *user);

/* grad (n) = dL/dtheta at theta (n): the code under test. */
typedef int (*gradaudit_grad_fn)(double *grad, const double *theta, size_t n, void *user);

/* Running error bound of the gradient code: mag (n) receives S_i such that
 * |grad_computed[i] - grad_exact[i]| <= gamma_n * S_i, where *roundings = n
 * counts the roundings on the longest path of the computation (typically the
 * same backward pass run on |values|, every elementary function widened by
 * |f'|; see ga_check.h). */
typedef int (*gradaudit_bound_fn)(double *mag, size_t *roundings, const double *theta, size_t n,
                                  void *user);

/* Writes the name of entry i ("W1[2,0]") into buf (size bytes, NUL-terminated). */
typedef int (*gradaudit_name_fn)(char *buf, size_t size, size_t i, void *user);

/* ---- the problem -------------------------------------------------------- */
typedef struct {
    size_t n;                         /* number of parameters, > 0 */
    const double *theta;              /* (n) the point at which to check */
    gradaudit_loss_fn loss;           /* required */
    gradaudit_grad_fn grad;           /* required: the gradient under test */
    gradaudit_loss_mpfr_fn loss_mpfr; /* optional: enables the MPFR oracle */
    gradaudit_bound_fn grad_bound;    /* optional: enables the bound model */
    gradaudit_name_fn name;           /* optional: entry names ... */
    const char *const *names;         /* ... or an array (n); "theta[i]" when neither */
    void *user;                       /* passed to every callback */
} gradaudit_problem;

typedef enum {
    GRADAUDIT_REF_AUTO = 0, /* oracle if loss_mpfr, else ridders */
    GRADAUDIT_REF_ORACLE,   /* MPFR Richardson in a Ziv loop (needs loss_mpfr) */
    GRADAUDIT_REF_RIDDERS   /* Ridders on the double loss */
} gradaudit_reference;

typedef enum {
    GRADAUDIT_TOL_BOUND = 0, /* gamma_n * S_i from grad_bound */
    GRADAUDIT_TOL_NOISE      /* measured noise floor of the gradient code */
} gradaudit_tol_model;

typedef struct {
    gradaudit_reference reference;
    uint64_t seed;          /* picks the noise-floor perturbations; printed */
    size_t noise_points;    /* perturbed points of the noise model (default 8) */
    unsigned noise_ulps;    /* at most this many ulps per entry (default 4) */
    size_t top_k;           /* worst entries listed (default 10) */
    long start_prec;        /* oracle: first precision in bits (default 128) */
    long max_prec;          /* oracle: give up settling above this (default 4096) */
    int ignore_bound;       /* 1: use the noise model even when grad_bound is given */
} gradaudit_options;

void gradaudit_options_default(gradaudit_options *opt);

/* ---- the report --------------------------------------------------------- */
typedef struct {
    /* The checker's per-entry report. r.entries[i] (n) in parameter order:
     * analytic, ref (= oracle or fd), abs_err, rel_err, ulps, bound (the
     * analytic value's error bound under the model), tol, verdict, reason,
     * name. r.layers are groups of entries sharing a name prefix (the text
     * before '['), r.top the worst entries (by abs_err / tol, FAIL first),
     * r.loss the double loss at theta, r.loss_oracle the MPFR loss (NaN
     * without the oracle). */
    ga_check_report r;
    gradaudit_reference reference; /* the one used: ORACLE or RIDDERS */
    gradaudit_tol_model tol_model;
    char model[512];               /* one sentence: reference and tolerance model */
    size_t roundings;              /* bound model: n of gamma_n; else 0 */
    size_t noise_points;           /* noise model: perturbed points used */
    unsigned unsettled;            /* oracle entries not settled at max_prec (bound kept) */
    long max_prec_used;            /* oracle: largest precision reached */
    size_t loss_evals, loss_mpfr_evals, grad_evals;
} gradaudit_report;

/* Runs the check. Returns GA_OK when it ran, whatever the verdicts (see
 * report->r.n_fail); otherwise a status (GA_EINVAL: NULL or missing
 * callback, n == 0, oracle requested without loss_mpfr; GA_ENONFINITE: NaN or
 * Inf theta, loss or bound; GA_ECALLBACK: a callback returned non-zero;
 * GA_ENOMEM / GA_ERANGE: size) with a message, and *out = NULL. */
int gradaudit_check(gradaudit_report **out, ga_error *err, const gradaudit_problem *problem,
                    const gradaudit_options *opt);
void gradaudit_report_free(gradaudit_report *rep);

/* 1 when every entry passed. */
int gradaudit_report_ok(const gradaudit_report *rep);

/* Summary: model, counts, per-group table, worst entries, seed. */
int gradaudit_report_print(FILE *f, const gradaudit_report *rep);
/* Only the worst k entries (k = 0: the report's top list). */
int gradaudit_report_print_worst(FILE *f, const gradaudit_report *rep, size_t k);
/* Per-entry CSV (the checker's format), written atomically. */
int gradaudit_report_write_csv(ga_error *err, const gradaudit_report *rep, const char *path);

/* Message for any status, including GA_ECALLBACK. */
const char *gradaudit_strerror(int status);

/* ---- gradient-norm reports of a training loop (ga_normlog.h) -------------
 * ga_normlog_open(&log, &err, "norms.csv", tensors, n, &opt) writes the header;
 * ga_normlog_step(log, &err, step, loss, grads, params or NULL, clip or NULL)
 * appends one row per step, handed to the kernel whole with one write(2);
 * ga_normlog_close(log, &err). Per tensor: L2 norm (scaled, see ga_normlog.h),
 * max |g|, NaN and Inf counts, ||p_t - p_prev|| / ||p_prev||, the ratio to the
 * reference tensor and its vanished/exploded flags; per step: the global norm,
 * clipping, growth over the first step, the scans' thresholds (ga_health.h).
 * Columns: docs/norms.md. */

#ifdef __cplusplus
}
#endif

#endif
