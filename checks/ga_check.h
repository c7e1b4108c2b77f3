/* ga_check.h: the gradient checker. Finite differences with honest error
 * estimates, a derived running error bound for the analytic backward pass,
 * kink detection, per-entry verdicts against the MPFR oracle or a finite
 * difference, and a report (a result struct; printing and CSV are separate).
 *
 * Conventions as in core/: status codes, outputs first, shapes in comments.
 */
#ifndef GA_CHECK_H
#define GA_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "ga_core.h"
#include "ga_oracle.h"

/* ---- running error bound of the double backward pass -------------------
 *
 * For every computed quantity q the pass carries a magnitude M(q) such that
 * |q_computed - q_exact| <= gamma_n * M(q) to first order, gamma_n = n u /
 * (1 - n u), u = 2^-53 (Higham, Accuracy and Stability of Numerical
 * Algorithms, 2nd ed., Lemma 3.1 and 3.3; Section 3.1 dot products):
 *   inputs and parameters (exact):  M(x) = |x|
 *   sums:                           M(a + b) = M(a) + M(b)
 *   products:                       M(a b)   = M(a) M(b)
 *   an elementary function f(a):    M(f(a))  = |f(a)| + |f'(a)| M(a)
 * i.e. the same forward and backward pass run on absolute values, with each
 * elementary function widened by how much it amplifies its argument's error.
 * n counts the roundings along the longest path of the computation (each
 * layer: its fan-in dot product and bias, the activation's ulp budget, the
 * backward dot product over the fan-out, then the batch sum); see
 * ga_bound_compute for the count. */
typedef struct {
    size_t n_params, batch, n_layers;
    size_t n_grad;       /* roundings counted on the longest gradient path */
    size_t n_loss;       /* roundings counted on the longest loss path */
    double gamma_grad;   /* gamma_{n_grad} */
    double gamma_loss;   /* gamma_{n_loss} */
    double loss;         /* the double loss at params */
    double loss_mag;     /* M(L) */
    double loss_err;     /* gamma_loss * M(L): bound on the loss's rounding error */
    double *grad_mag;    /* (n_params) M(dL/dtheta_i) */
    double *grad_err;    /* (n_params) gamma_grad * grad_mag */
    double **z;          /* z[l] (B, n_out(l)) the computed pre-activations */
    double **z_err;      /* z_err[l] (B, n_out(l)) bound on |z_computed - z_exact| */
    double *buf;         /* one allocation behind z, z_err */
} ga_bound;

int ga_bound_alloc(ga_bound **out, ga_error *err, const ga_net *net, size_t max_batch);
void ga_bound_free(ga_bound *b);
/* Runs ga_forward itself (workspace ws, sized for batch) and fills b. */
int ga_bound_compute(ga_bound *b, ga_error *err, ga_workspace *ws, const ga_net *net,
                     const double *params, const double *x, const double *y, size_t batch);

/* ---- finite differences in double ------------------------------------- */
typedef enum {
    GA_FD_FORWARD = 0, /* (L(t+h) - L(t)) / h                     trunc O(h)   */
    GA_FD_CENTRAL,     /* (L(t+h) - L(t-h)) / 2h                  trunc O(h^2) */
    GA_FD_GSL,         /* GSL gsl_deriv_central, 5-point, adaptive step        */
    GA_FD_RIDDERS,     /* Ridders' extrapolated central differences (dfridr)   */
    GA_FD_COUNT
} ga_fd_method;

const char *ga_fd_method_name(ga_fd_method m);

/* A value with its error estimate, truncation and rounding kept apart. */
typedef struct {
    double value;
    double trunc;       /* estimated truncation (or extrapolation) error */
    double round;       /* estimated rounding error (loss evaluation error / step) */
    double h;           /* the step finally used */
    size_t evals;       /* loss evaluations */
    int kink;           /* a kink pre-activation changed sign at an evaluated point */
    char kink_reason[160]; /* "z1[0] = 3e-09 is within the FD step of relu's kink" */
} ga_fd_result;

/* Everything one entry's finite differences need: the net, the point, a
 * private perturbed copy of the parameter slab, a workspace, the loss's
 * rounding error bound, and the signs of the kink pre-activations at the
 * point (to notice when a step crosses a kink). */
typedef struct ga_fd_ctx ga_fd_ctx;

/* loss_err: bound on the loss's rounding error (ga_bound.loss_err); <= 0 gives
 * u * |L| * (number of loss terms). Computes the unperturbed forward pass. */
int ga_fd_ctx_alloc(ga_fd_ctx **out, ga_error *err, const ga_net *net, const double *params,
                    const double *x, const double *y, size_t batch, double loss_err);
void ga_fd_ctx_free(ga_fd_ctx *ctx);
double ga_fd_ctx_loss(const ga_fd_ctx *ctx);

/* Derivative of the loss with respect to slab entry i. h <= 0 picks the
 * method's default step (scaled by max(|theta_i|, 1)). */
int ga_fd_entry(ga_fd_result *res, ga_error *err, ga_fd_ctx *ctx, ga_fd_method m, size_t i,
                double h);
/* One-sided derivative (side +1: right, -1: left) by Richardson extrapolation
 * of one-sided differences (h, h/2, h/4, ...); used at kinks. */
int ga_fd_one_sided(ga_fd_result *res, ga_error *err, ga_fd_ctx *ctx, size_t i, int side,
                    double h);

/* ---- step-size sweep --------------------------------------------------- */
typedef enum { GA_SWEEP_V = 0, GA_SWEEP_PLATEAU, GA_SWEEP_UNCLEAR } ga_sweep_shape;
const char *ga_sweep_shape_name(ga_sweep_shape s);

#define GA_SWEEP_MAX 32
typedef struct {
    size_t n;                 /* points: h = 1e-1, 10^-1.5, ..., 1e-12 */
    double h[GA_SWEEP_MAX];
    double fd[GA_SWEEP_MAX];  /* central difference at h */
    double err[GA_SWEEP_MAX]; /* |fd - analytic| */
    size_t argmin;
    double err_min;
    size_t flat;              /* points around the minimum within 2x of err_min */
    ga_sweep_shape shape;
    char msg[256];
} ga_sweep;

/* Central differences of entry i over h = 1e-1 ... 1e-12 in half decades,
 * against the analytic value: a correct gradient gives a V (error falls as h^2
 * until rounding takes over and it rises as 1/h); a wrong one gives a
 * plateau at |analytic - true| over a wide range of h. */
int ga_fd_sweep(ga_sweep *out, ga_error *err, ga_fd_ctx *ctx, size_t i, double analytic);

/* ---- the check --------------------------------------------------------- */
typedef enum {
    GA_CHECK_ORACLE = 0, /* analytic vs MPFR oracle, tolerance = backward bound + oracle's bound */
    GA_CHECK_CENTRAL,    /* analytic vs central difference, tolerance = FD estimate + bound */
    GA_CHECK_GSL,
    GA_CHECK_RIDDERS,
    GA_CHECK_FORWARD,
    GA_CHECK_COUNT
} ga_check_method;

const char *ga_check_method_name(ga_check_method m);
int ga_check_method_from_name(ga_check_method *out, const char *name);

/* UNJUDGEABLE: the entry's proven enclosure cannot tell its value from a
 * wrong one (it is not finite, or the forward pass lost every digit of an
 * argument the entry depends on and the enclosure admits 0, -ref and 2 ref
 * alike); the reason says which. It is counted apart and is not a FAIL. */
typedef enum { GA_VERDICT_PASS = 0, GA_VERDICT_FAIL, GA_VERDICT_KINK, GA_VERDICT_UNJUDGEABLE } ga_verdict;
const char *ga_verdict_name(ga_verdict v); /* "pass", "FAIL", "kink", "unjudgeable" */

typedef struct {
    ga_check_method method;
    uint64_t seed;          /* printed; picks the oracle cross-check sample */
    size_t top_k;           /* worst entries listed (default 10) */
    size_t cross_check;     /* oracle route (b) vs route (a) on this many entries (default 2) */
    const char *spec_path;  /* for the reproduce line; NULL: "SPEC.json" */
    const double *analytic; /* (n_params) gradient to check; NULL: ga_backward's */
    int analytic_own_forward; /* 1: `analytic` comes from code with a forward pass of its own
                                 (a tutorial's formulas, another program): it is judged
                                 against the whole enclosure. 0: it is the core's gradient
                                 or was derived from the core's forward pass (an injected
                                 error, a mutated backward), and the tighter enclosure
                                 built on that forward pass applies (docs/verdicts.md) */
    const ga_workspace *analytic_forward; /* with analytic_own_forward: the forward values
                               `analytic` was computed from (z, a, f'(z) in its precision,
                               e.g. ga_loss_grad_f32_ws), so that the enclosure of its
                               backward pass alone applies, as for the core's gradient;
                               NULL: the whole enclosure */
    double analytic_loss;   /* the loss that came with `analytic` (NaN, the default: none;
                               the report then shows the core's double loss) */
    ga_precision precision; /* what `analytic` was computed in (default float64); float32
                               is judged by the oracle method alone, against the whole
                               enclosure at float32's unit roundoff and range, and
                               params, x, y must already be float32 numbers (ga_round_to) */
    ga_oracle_options oracle;
    int fast_math;          /* 1: `analytic` comes from code built with -Ofast (-ffast-math),
                               perhaps run with flush-to-zero: the oracle method's enclosures
                               are the fast-math model's (ga_enclose.h, docs/verdicts.md);
                               0 (default) the IEEE model. In a build with
                               -Dcore_fast_math=true (ga_core_fast_math) the core's own
                               gradient, or one derived from its forward pass
                               (analytic_own_forward 0), is always judged so; set it
                               for the float32 core's (ga_loss_grad_f32) there */
    /* Progress as the check goes (NULL: none): phase "bounds" (0 of total =
     * n_params) before the rounding bounds; with the oracle method,
     * "enclosure" then "backward bound" (done of total, ga_enclosure.progress's
     * units) as the whole enclosure and the backward pass's own are
     * computed; "oracle" (0 of 0) before the
     * oracle's gradient, then (done of total) as its MPFR passes go, in the
     * oracle's units of work (ga_oracle_options.progress, stage "gradient");
     * "cross-check" (done of total entries) as the oracle's cross-check
     * goes; then "entries" after each entry (done of total = n_params).
     * Called from the checking thread; it must be cheap or limit itself (the
     * program's draws a few times a second on a terminal only,
     * cli/ga_progress.h). */
    void (*progress)(void *ctx, const char *phase, size_t done, size_t total);
    void *progress_ctx;
} ga_check_options;

void ga_check_options_default(ga_check_options *opt);

/* The bytes ga_check_run holds at once beside the oracle's (ga_oracle_bytes
 * counts those): the report's entries (sizeof(ga_check_entry) each, about
 * 600 bytes, the largest part) and per-tensor rows, the gradient and its
 * bounds, the workspace, the running bound and the enclosure; the arrays
 * that grow with the net and the batch, not the fixed overhead. The memory
 * pre-check of `gradaudit check` adds both. GA_ERANGE on overflow. */
int ga_check_bytes(size_t *out, const ga_net_desc *d, size_t n_params, size_t batch);

typedef struct {
    size_t index;           /* into the slab */
    char name[40];          /* "W2[3,7]" */
    size_t view;            /* index into net->views */
    double analytic;
    double oracle;          /* NaN when not computed */
    double oracle_err;
    double fd;              /* NaN when not computed (method oracle) */
    double fd_trunc, fd_round;
    double ref;             /* the value the verdict compares with */
    double abs_err;         /* |analytic - ref| */
    double rel_err;         /* abs_err / |ref| (0 when both are 0) */
    uint64_t ulps;          /* ga_ulp_distance(analytic, ref) */
    double bound;           /* running error bound of the analytic value */
    double tol;             /* derived tolerance on abs_err */
    double lo, hi;          /* oracle method: the interval the analytic value must lie in
                               (tol is the distance from the oracle to its end on the
                               analytic value's side); NaN for the other methods */
    double slope_lo, slope_hi; /* at a kink: the interval the entry may take (oracle
                                  method: the proven enclosure; finite-difference
                                  methods: the one-sided slopes), else NaN */
    ga_verdict verdict;
    char reason[400];
} ga_check_entry;

typedef struct {
    char name[24];          /* view name, "W1" */
    size_t count, pass, fail, kink, unjudgeable;
    double max_abs_err, max_rel_err;
    double worst_ratio;     /* max abs_err / tol */
    size_t worst;           /* entry index of the worst ratio */
} ga_check_layer;

typedef struct {
    ga_check_method method;
    ga_precision precision;    /* of the gradient judged */
    int fast_math;             /* judged by the fast-math model (ga_check_options) */
    uint64_t seed;
    size_t batch;
    size_t n_entries;
    ga_check_entry *entries;   /* (n_entries) in slab order */
    size_t n_layers;
    ga_check_layer *layers;    /* (n_layers) one per view */
    size_t n_top;
    size_t *top;               /* (n_top) entry indices, worst first */
    size_t n_pass, n_fail, n_kink, n_unjudgeable;
    double loss, loss_oracle, loss_oracle_err;
    uint64_t loss_ulps;
    size_t gamma_n;
    double gamma;
    unsigned mca_runs;         /* Monte Carlo runs behind the rounding scale */
    double lambda;             /* bound = min(gamma_n sum|terms|, lambda sigma) */
    ga_oracle_stats oracle_stats;
    size_t cross_checked, cross_mismatches;
    char command[512];         /* one line that reproduces the check */
} ga_check_report;

/* Checks every entry of the gradient of net at (params, x, y). Returns GA_OK
 * when the check ran (whatever the verdicts: see report->n_fail), or an error
 * status (bad input, oracle failure, memory) with a message. */
int ga_check_run(ga_check_report **out, ga_error *err, const ga_net *net, const double *params,
                 const double *x, const double *y, size_t batch, const ga_check_options *opt);
void ga_check_report_free(ga_check_report *r);

/* Human-readable summary: counts, the loss in ulps, per-layer table, worst
 * entries, seed and the reproduce line. */
int ga_check_report_print(FILE *f, const ga_check_report *r);
/* RFC 4180 CSV, header row, numbers %.17g. Written to a temporary file in the
 * same directory, then renamed: no partial file is left on error. */
int ga_check_report_write_csv(ga_error *err, const ga_check_report *r, const char *path);
/* The same with entry i's name taken from names[i] (n_entries) instead of the
 * entry's 40-byte copy; names NULL: the entries' own (the library's reports
 * keep whole names, lib/ga_problem.c). */
int ga_check_report_write_csv_names(ga_error *err, const ga_check_report *r,
                                    const char *const *names, const char *path);

/* How far outside its tolerance an entry is: |analytic - ref| / tol, INFINITY
 * for a FAIL that no finite ratio explains (NaN analytic), 0 for an exact
 * match at zero tolerance. Orders the worst entries. */
double ga_check_entry_ratio(const ga_check_entry *e);

/* Verdict of one analytic value against a reference with tolerance tol,
 * non-finite values first: NaN or Inf analytic is FAIL unless the reference
 * is the same infinity. Writes a reason. */
ga_verdict ga_compare(char *reason, size_t size, double analytic, double ref, double tol);

#endif
