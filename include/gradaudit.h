/* gradaudit.h: the public C API of gradaudit for checking a user's own
 * gradient code.
 *
 * A user describes a problem by callbacks over a flat parameter vector
 * theta (n): the double loss L(theta) (required), the analytic gradient
 * dL/dtheta to be checked (required), and optionally the same loss in MPFR
 * (enables the exact oracle), a running error bound of the gradient, and
 * names of the entries. gradaudit_check() compares every entry of the
 * gradient with a reference value under a derived tolerance and returns a
 * per-entry report (opaque: gradaudit_report_entry and the other accessors)
 * the caller inspects, prints and frees.
 *
 * Reference (gradaudit_options.reference):
 *   oracle:  central differences with Richardson extrapolation on the MPFR
 *            loss, in a Ziv loop: precision doubled until the rounding of the
 *            derivative to double is settled; error bound <= half an ulp
 *            when settled, unjudgeable when not settled at max_prec. Before
 *            it, loss_mpfr is checked against the double loss (else
 *            GRADAUDIT_EMPFRLOSS, see gradaudit_check).
 *   ridders: Ridders-extrapolated central differences on the double loss,
 *            with their own truncation + rounding error estimate.
 *   auto:    oracle when loss_mpfr is given, else ridders.
 * Tolerance on |analytic - reference| (named in gradaudit_summary.model):
 *   bound model (grad_bound given): gamma_n * S_i + the reference's bound,
 *            gamma_n = n u / (1 - n u), u = 2^-53, S_i and n from the user's
 *            backward pass on absolute values (Higham's running bound);
 *   noise model (default): 16 x the largest change of the user's gradient
 *            when rerun in the directed rounding modes and at a few points
 *            where theta moved by a few ulps (a calibrated factor, see
 *            lib/ga_problem.c), at least 2 ulps of the analytic value, + the
 *            reference's bound.
 * Kinks: an entry that fails that test gets the loss's one-sided derivatives
 * along theta_i from the same reference; when they differ beyond their error
 * bounds it is at or near a kink, and its verdict is kink (a pass) when the
 * analytic value lies between them, else the FAIL names both slopes.
 *
 * Besides the verdicts, the report gives findings about the gradient code
 * as a whole (gradaudit_summary): nondeterminism across reruns, NaN/Inf
 * consistency of loss and gradient, and (options.grad_buffer) whether the
 * gradient overwrites or accumulates into its buffer.
 *
 * Conventions: functions return GRADAUDIT_OK or a GRADAUDIT_E* status and
 * write a one-line message into a gradaudit_error when one is passed; outputs
 * come first. Callbacks return 0 on success; any other value stops the check
 * with GRADAUDIT_ECALLBACK and a message naming the callback and the point.
 * Everything this header declares is named gradaudit_* or GRADAUDIT_*; it
 * needs no other header of gradaudit's, only <mpfr.h> (MPFR and GMP).
 *
 * Link with `pkg-config --cflags --libs gradaudit`.
 */
#ifndef GRADAUDIT_H
#define GRADAUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mpfr.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GRADAUDIT_VERSION "0.1.0"

/* ---- status codes and errors -------------------------------------------- */
enum {
    GRADAUDIT_OK = 0,
    GRADAUDIT_EINVAL = 1,     /* invalid argument */
    GRADAUDIT_ENOMEM = 2,     /* allocation failed or a size exceeds the memory cap */
    GRADAUDIT_ERANGE = 3,     /* a size or count overflows, or a name is too long */
    GRADAUDIT_EIO = 4,        /* a file could not be read or written */
    GRADAUDIT_ENONFINITE = 6, /* NaN or Inf where a finite number is required */
    GRADAUDIT_EINTERNAL = 7,  /* gradaudit's own cross-check failed (its oracle and its proven
                               * enclosure disagree): a bug in gradaudit, no verdict given */
    GRADAUDIT_ECALLBACK = 8,  /* a user callback returned non-zero */
    GRADAUDIT_EMPFRLOSS = 9   /* the oracle refused loss_mpfr: it disagrees with the double loss
                               * at theta beyond rounding, or it does not compute in MPFR (it
                               * gains no accuracy with precision); no gradient was judged */
};

/* Receives a one-line message naming what was wrong; untouched on success. */
typedef struct {
    char msg[1024];
} gradaudit_error;

/* Message for any status. */
const char *gradaudit_strerror(int status);

/* ---- callbacks ---------------------------------------------------------- */
/* *loss = L(theta). theta (n). */
typedef int (*gradaudit_loss_fn)(double *loss, const double *theta, size_t n, void *user);

/* loss = L(theta) computed in MPFR: loss is initialised at prec bits; theta
 * (n) holds the parameters exactly (each at its own precision, >= 53 bits).
 * Compute every intermediate at prec bits (or more): the checker raises prec
 * until the result is settled, so accuracy must grow with prec. */
typedef int (*gradaudit_loss_mpfr_fn)(mpfr_ptr loss, mpfr_srcptr theta, size_t n,
                                      mpfr_prec_t prec, void *user);

/* grad (n) = dL/dtheta at theta (n): the code under test. gradaudit zeroes
 * grad before every call, so a gradient that writes grad and one that adds
 * into it (grad += dL/dtheta, the convention of frameworks that accumulate
 * parameter gradients) are both checked as written; options.grad_buffer
 * checks which of the two it is. */
typedef int (*gradaudit_grad_fn)(double *grad, const double *theta, size_t n, void *user);

/* Running error bound of the gradient code: mag (n) receives S_i such that
 * |grad_computed[i] - grad_exact[i]| <= gamma_n * S_i, where *roundings = n
 * counts the roundings on the longest path of the computation (typically the
 * same backward pass run on |values|, every elementary function widened by
 * |f'|; see docs/library.md). */
typedef int (*gradaudit_bound_fn)(double *mag, size_t *roundings, const double *theta, size_t n,
                                  void *user);

/* Writes the name of entry i ("W1[2,0]") into buf (size bytes, NUL-terminated;
 * snprintf's way of cutting is fine). size starts at 256; a name that fills
 * the buffer (strlen(buf) == size - 1) is asked for again with a buffer 4
 * times larger, up to GRADAUDIT_NAME_MAX bytes, so no name is cut. */
#define GRADAUDIT_NAME_MAX 65536
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

/* What the gradient callback does with what grad (n) held before the call.
 * Checked (options.grad_buffer) by one more call on a buffer pre-filled with
 * known nonzero values P_i, as dlib's test_layer does: with F the gradient
 * computed on a zeroed buffer and R the result, an entry was overwritten when
 * R_i = F_i and accumulated into when R_i = P_i + F_i, each within 2^-30
 * (|P_i| + |F_i|) (the two are |P_i| >= 1 + |F_i| apart). */
typedef enum {
    GRADAUDIT_BUFFER_UNCHECKED = 0, /* not checked (the default) */
    GRADAUDIT_BUFFER_OVERWRITE,     /* grad (n) = dL/dtheta, whatever it held */
    GRADAUDIT_BUFFER_ACCUMULATE,    /* grad (n) += dL/dtheta */
    GRADAUDIT_BUFFER_OTHER          /* found only: some entries overwritten and some
                                     * accumulated into, or neither */
} gradaudit_buffer;

typedef struct {
    gradaudit_reference reference;
    uint64_t seed;          /* picks the noise-floor perturbations; printed */
    size_t noise_points;    /* perturbed points of the noise model (default 8) */
    unsigned noise_ulps;    /* at most this many ulps per entry (default 4) */
    size_t top_k;           /* worst entries listed (default 10) */
    long start_prec;        /* oracle: first precision in bits (default 128) */
    long max_prec;          /* oracle: give up settling above this (default 4096) */
    int ignore_bound;       /* 1: use the noise model even when grad_bound is given */
    gradaudit_buffer grad_buffer; /* OVERWRITE or ACCUMULATE: check that the gradient follows
                                   * this convention (summary.grad_buffer, grad_buffer_ok);
                                   * UNCHECKED (default): not checked */
    int float32;            /* 1: the gradient code computes in float32 (its inputs, theta, are
                             * float32 numbers: theta[i] == (double)(float)theta[i], or
                             * GRADAUDIT_EINVAL). The noise model moves theta by float32 ulps
                             * (a move of double ulps is lost when float code rounds its
                             * inputs) and its floor is 2 float32 ulps of the analytic value;
                             * the bound model's gamma_n is at u = 2^-24; entry ulps count
                             * float32 ulps. The references (the double loss, loss_mpfr) are
                             * unchanged: write the loss in double or MPFR. 0: double (default) */
} gradaudit_options;

void gradaudit_options_default(gradaudit_options *opt);

/* ---- the report --------------------------------------------------------- */
/* Opaque: read it through the accessors below, whose structs hold pointers
 * into the report (valid until gradaudit_report_free). */
typedef struct gradaudit_report gradaudit_report;

typedef enum {
    GRADAUDIT_VERDICT_PASS = 0,
    GRADAUDIT_VERDICT_FAIL = 1,
    GRADAUDIT_VERDICT_KINK = 2,       /* a pass at a kink (relu(z) at z = 0). gradaudit_check:
                                       * the entry failed against the central reference, the
                                       * loss's one-sided derivatives along theta_i were measured
                                       * apart (their intervals of error disjoint), and the
                                       * analytic value lies between them (within their error
                                       * bounds and its own). For a black-box loss that is a
                                       * measured kink, not a proven one, and a wrong value
                                       * between the two slopes is not caught. gradaudit_check_op:
                                       * proven by the op's enclosure (docs/verdicts.md) */
    GRADAUDIT_VERDICT_UNJUDGEABLE = 3 /* the entry's error bound could not be formed: not a pass */
} gradaudit_verdict;

/* "pass", "FAIL", "kink", "unjudgeable"; "?" for any other value. */
const char *gradaudit_verdict_name(gradaudit_verdict v);

/* One entry of the gradient. */
typedef struct {
    size_t index;               /* into theta */
    const char *name;           /* whole, as the user gave it */
    size_t group;               /* index of its group (gradaudit_report_group) */
    double analytic;            /* the user's gradient */
    double ref;                 /* the reference: oracle or fd */
    double oracle, oracle_err;  /* oracle reference and its error bound; NaN without it */
    double fd, fd_trunc, fd_round; /* Ridders reference, its truncation and rounding
                                      estimates; NaN without it */
    double abs_err;             /* |analytic - ref| */
    double rel_err;             /* abs_err / |ref| (0 when both are 0) */
    uint64_t ulps;              /* ulps between analytic and ref */
    double bound;               /* error bound of the analytic value under the model */
    double tol;                 /* tolerance on abs_err: bound + the reference's bound */
    gradaudit_verdict verdict;
    const char *reason;         /* "|diff| 0.0215 > tol 7.04e-14 (...)" */
    double slope_lo, slope_hi;  /* a kink measured at the entry (KINK, or a FAIL outside
                                 * them): the smaller and larger one-sided slope; else NaN */
} gradaudit_entry;

/* Entries in a maximal run whose names share the text before '[' ("W1" for
 * W1[0,2]). */
typedef struct {
    const char *name;
    size_t count, pass, fail, unjudgeable;
    double max_abs_err, max_rel_err;
    double worst_ratio;         /* max abs_err / tol */
    size_t worst;               /* entry index of the worst ratio */
    size_t kink;                /* entries with the verdict kink */
} gradaudit_group;

typedef struct {
    size_t n_entries, n_pass, n_fail, n_unjudgeable;
    size_t n_groups;
    size_t n_top;                  /* worst entries listed (gradaudit_report_top) */
    gradaudit_reference reference; /* the one used: ORACLE or RIDDERS */
    gradaudit_tol_model tol_model;
    const char *model;             /* one sentence: reference and tolerance model */
    uint64_t seed;
    double loss;                   /* the double loss at theta */
    double loss_oracle, loss_oracle_err; /* the MPFR loss, settled; NaN without the oracle */
    uint64_t loss_ulps;            /* ulps between loss and loss_oracle */
    size_t roundings;              /* bound model: n of gamma_n; else 0 */
    double gamma;                  /* bound model: gamma_n; else 0 */
    size_t noise_points;           /* noise model: perturbed points used */
    unsigned unsettled;            /* oracle entries not settled at max_prec (bound kept) */
    long max_prec_used;            /* oracle: largest precision reached */
    size_t loss_evals, loss_mpfr_evals, grad_evals;
    /* Findings about the gradient code as a whole (printed by gradaudit_report_print): */
    size_t nondeterministic;       /* entries that were not bit-identical when the gradient was
                                    * rerun at theta (2 reruns); not FAIL verdicts */
    double nondet_max_change;      /* the largest |change| among them (Inf for NaN against a
                                    * number); 0 when deterministic */
    int loss_nonfinite;            /* 1: the double loss at theta is NaN or Inf (loss holds it):
                                    * no derivative exists, every entry is unjudgeable */
    size_t grad_nonfinite;         /* entries whose gradient at theta is NaN or Inf: with a
                                    * finite loss they FAIL; with a non-finite loss, the finite
                                    * ones (n_entries - grad_nonfinite) are inconsistent */
    gradaudit_buffer grad_buffer;  /* what the gradient did with a pre-filled buffer
                                    * (options.grad_buffer); UNCHECKED when not asked */
    int grad_buffer_ok;            /* 1: as options.grad_buffer asked, or not asked */
    const char *grad_buffer_note;  /* one sentence on it ("the gradient overwrote its buffer,
                                    * but options.grad_buffer says it accumulates"); "" when
                                    * not asked */
    size_t n_kink;                 /* entries with the verdict kink (passes at a kink) */
} gradaudit_summary;

/* Runs the check. Returns GRADAUDIT_OK when it ran, whatever the verdicts
 * (see gradaudit_report_ok); otherwise a status (GRADAUDIT_EINVAL: NULL or
 * missing callback, n == 0, oracle requested without loss_mpfr;
 * GRADAUDIT_ENONFINITE: NaN or Inf theta or bound, a NaN or Inf loss at a
 * point other than theta (a difference step, a noise point), NaN or Inf from
 * loss_mpfr; GRADAUDIT_ECALLBACK: a callback returned non-zero;
 * GRADAUDIT_EMPFRLOSS: the oracle was to be used and loss_mpfr at theta
 * disagrees with the double loss beyond 2^-36 relative + 2^10 x the double
 * loss's measured noise, or does not change under a move of 2^-70 of each
 * parameter where the double loss's slope says it must; GRADAUDIT_ERANGE: a
 * name callback filled every byte of a GRADAUDIT_NAME_MAX buffer;
 * GRADAUDIT_EINVAL also: the noise model's directed rounding modes visibly
 * did not reach part of the gradient (another thread ran during it, and
 * some nonzero entries stayed unmoved in every mode while others moved: a
 * worker pool; docs/library.md); GRADAUDIT_ENOMEM: size) with a message in err (may be NULL), and *out =
 * NULL. A NaN or Inf loss at theta is a report (summary.loss_nonfinite), not
 * an error.
 * An oracle entry not settled at max_prec is unjudgeable, never a pass. */
int gradaudit_check(gradaudit_report **out, gradaudit_error *err, const gradaudit_problem *problem,
                    const gradaudit_options *opt);
void gradaudit_report_free(gradaudit_report *rep);

/* Gradient code that fuses the SGD step into its backward pass, as genann's
 * and FANN's training functions do: on return theta (n) holds theta - lr *
 * dL/dtheta, the gradient never stored. It may keep no state between calls
 * (no momentum, no decay: plain SGD), and is called on a copy of theta. */
typedef int (*gradaudit_step_fn)(double *theta, size_t n, double lr, void *user);

/* gradaudit_check on the gradient the step took, g = (theta - theta') / lr
 * (problem->grad is not used and may be NULL; loss, loss_mpfr and the rest
 * are as for gradaudit_check). The inference costs precision: the step's two
 * roundings, u (|lr g| + |theta'|), divided by lr, are added to every entry's
 * tolerance (u of the code's precision: options.float32), so pick lr so that
 * lr |g| is not tiny beside |theta| (a power of 2 keeps lr g exact). lr must
 * be finite and > 0 (a float32 number with options.float32);
 * options.grad_buffer must be UNCHECKED. Statuses: gradaudit_check's. */
int gradaudit_check_step(gradaudit_report **out, gradaudit_error *err,
                         const gradaudit_problem *problem, gradaudit_step_fn step, double lr,
                         const gradaudit_options *opt);

/* 1 when every entry passed (a kink verdict is a pass) and the gradient
 * followed options.grad_buffer (when asked). Nondeterminism alone does not
 * make it 0: read summary.nondeterministic. */
int gradaudit_report_ok(const gradaudit_report *rep);

/* NULL when rep is NULL or the index is out of range. */
const gradaudit_summary *gradaudit_report_summary(const gradaudit_report *rep);
const gradaudit_entry *gradaudit_report_entry(const gradaudit_report *rep, size_t i); /* i < n_entries */
const gradaudit_group *gradaudit_report_group(const gradaudit_report *rep, size_t g); /* g < n_groups */
/* The t-th worst entry (t < n_top): FAIL first, then by abs_err / tol. */
const gradaudit_entry *gradaudit_report_top(const gradaudit_report *rep, size_t t);

/* Summary: model, counts, per-group table, worst entries, seed. */
int gradaudit_report_print(FILE *f, const gradaudit_report *rep);
/* Only the worst k entries (k = 0: the report's top list). */
int gradaudit_report_print_worst(FILE *f, const gradaudit_report *rep, size_t k);
/* Per-entry CSV (the checker's format), written atomically. */
int gradaudit_report_write_csv(gradaudit_error *err, const gradaudit_report *rep, const char *path);

/* ---- one op, checked against gradaudit's own exact op ---------------------
 * The op is one layer of a gradaudit spec, named by its JSON layer object in
 * the spec's own syntax (docs/spec.md, "layers[i]": the same keys, the same
 * defaults, the same messages):
 *   {"type": "layernorm", "eps": 1e-5}          {"size": 16, "activation": "gelu"}
 *   {"type": "attention", "tokens": 4, "heads": 2}   {"type": "embedding", "vocab": 50, "dim": 8}
 *   {"type": "conv2d", "in_shape": [2, 6, 6], "channels": 3, "kernel": 3, "padding": 1,
 *    "activation": "identity"}
 * and, beside the spec's types, an activation alone (no W, no b): an object
 * with "activation" (and "slope" or "alpha") but neither "type" nor "size",
 * {"activation": "gelu_tanh"}, {"activation": "softmax"} (per sample's row).
 * A residual add or a concat reads two layers and is refused here.
 *
 * x (batch, n_in) is one row per sample as the spec's data.x holds it (an
 * embedding: n_in token ids per sample, integers 0 .. vocab - 1). The op's
 * parameters are named and laid out as docs/spec.md names and stores them
 * for a one-layer spec: "W1", "b1", "gamma1", "beta1", "E1", "P1" (layer 1),
 * each in its stored shape in C order (a dense or rnn W: (out, in) in the
 * column layout, (in, out) in the row layout; a conv's W (oc, c kh kw); E1
 * (vocab, dim); b1, gamma1, beta1, P1 vectors). gradaudit draws an upstream
 * gradient dy (batch, n_out) of float32 numbers from `seed`, calls the
 * backward once, and judges every entry of dx and of each parameter's
 * gradient against the exact vector-Jacobian product (the oracle on the
 * `dot` loss) with the proven enclosure of every computation of that maths in
 * the op's precision (docs/verdicts.md: any summation order, with or without
 * FMA, the formulas in common use). With float32 set, x and the parameters
 * are first rounded to float32 (the op the callback receives holds the
 * rounded numbers, and constants such as eps, a dropout's 1/(1 - p) or the
 * attention scale 1/sqrt(hs) are taken as float code holds them: the double
 * rounded to float32); the callback computes in float and returns its
 * results widened to double. Given y, the op's forward output as the
 * caller's code computed it, each entry is judged against the proven
 * enclosure of the exact output and of every computation of it in the
 * precision. Cost: one exact reverse pass and one enclosure pass over a
 * batch (a softmax alone: also an internal n_in x n_in identity, so keep
 * its rows to a few hundred). */
typedef struct {
    const char *name;    /* "W1", "b1", "gamma1", "beta1", "E1", "P1" */
    const double *data;  /* its entries, stored shape in C order */
    size_t n;            /* the number of entries (must be the stored shape's) */
} gradaudit_tensor;

typedef struct {
    const char *layer;              /* the op: one layer object of docs/spec.md, JSON text */
    const char *layout;             /* "column" (NULL: the default) or "row": W's stored shape */
    size_t n_in;                    /* inputs per sample (an embedding: ids per sample) */
    size_t batch;
    const double *x;                /* (batch, n_in) */
    const gradaudit_tensor *params; /* (n_params) every parameter of the op, any order */
    size_t n_params;
    const double *y;                /* (batch, n_out) the caller's forward output, judged;
                                     * NULL: the forward output is not judged */
    int float32;                    /* 1: the code under test computes in float32 */
    uint64_t seed;                  /* draws dy (named in first_fail) */
    int bfloat16;                   /* 1: bfloat16 storage, float32 arithmetic (implies
                                     * float32): x, the parameters and dy are rounded to
                                     * bfloat16 (8 significant bits, float32's exponent
                                     * range) before the call, the code computes in float32
                                     * and stores its results (the gradients, y) in bfloat16.
                                     * An entry that is a bfloat16 number passes when some
                                     * float32 number that rounds to it lies in the proven
                                     * enclosure; one that is not is judged as float32. */
    int fast_math;                  /* 1: the code under test was built with -Ofast or
                                     * -ffast-math (llm.c's build), and may run with
                                     * flush-to-zero: judged by the fast-math model
                                     * (docs/verdicts.md), which also holds every
                                     * value of a computation that flushes results
                                     * below the smallest normal to 0 and reads
                                     * subnormal operands as 0, groups a product's
                                     * factors in any order, multiplies by a
                                     * reciprocal for a division, and computes
                                     * divisions and square roots within 8 ulps
                                     * (rcpps, rsqrtps) and elementary functions
                                     * within 16; wider tolerances, mostly near the
                                     * smallest normal. 0: IEEE arithmetic, any
                                     * summation order, FMA or not */
} gradaudit_op;

/* The code under test: from dy (batch, n_out), dx (batch, n_in) and
 * dparams[i], the gradient of op->params[i] (op->params[i].n entries, its
 * stored shape), written, not accumulated: gradaudit fills dx and every
 * dparams[i] with NaN before the call, so an entry the backward adds into
 * (+=) or leaves unwritten is NaN and FAILs (zero the buffers first if the
 * code accumulates). dx is NULL for an embedding (ids have no gradient).
 * op is the caller's op with x and every params[i].data pointing at the
 * numbers as judged (rounded to float32 with float32 set); 0 on success. */
typedef int (*gradaudit_op_backward_fn)(double *dx, double *const *dparams, const double *dy,
                                        const gradaudit_op *op, size_t n_out, void *user);

#define GRADAUDIT_OP_MAX_TENSORS 4
/* One judged tensor's verdicts: "dx", "dW1", "db1", "dgamma1", "dbeta1",
 * "dE1", "dP1", or "y" (the forward output). */
typedef struct {
    char name[16];
    size_t n, n_pass, n_fail, n_kink, n_unjudgeable;
} gradaudit_op_tensor;

typedef struct {
    size_t n_out;                    /* the op's output width per sample */
    size_t n_entries, n_pass, n_fail, n_kink, n_unjudgeable; /* over every tensor */
    size_t n_tensors;                /* dx (unless an embedding), each parameter's
                                      * gradient in the op's order, y when given */
    gradaudit_op_tensor tensors[GRADAUDIT_OP_MAX_TENSORS];
    char first_fail[768];            /* "dgamma1[3]: analytic ..., exact ... (dy from seed S):
                                      * reason", or "" */
    /* The backward is called twice on the same inputs (each time into
     * buffers filled with NaN): entries whose bits differ between the two
     * calls are nondeterminism (a race, an uninitialised read, an order
     * that depends on threads), reported on their own: not a FAIL, since
     * each call is judged as it is, and only the first is. */
    size_t n_rerun_differ;
    char rerun_first[160];           /* "dW1[2]: 0x1.8p-3 then 0x1.8000000000001p-3", or "" */
    /* Gradient entries that are NaN or infinite where the exact value is
     * finite (the forward finite too: x and the parameters are): a backward
     * that overflows, divides by zero or leaves an entry unwritten (the
     * buffers hold NaN before the call). Each is also a FAIL. */
    size_t n_nonfinite;
} gradaudit_op_result;

/* GRADAUDIT_OK when the check ran, whatever the verdicts (a correct op has
 * n_fail == 0; kink entries are proven right, unjudgeable ones are the
 * caller's call). GRADAUDIT_EINVAL: a NULL argument, a layer description
 * the spec refuses (the message names the key: "check_op: layer.eps: is 0
 * (expected a number > 0)"), n_in or batch 0 or above 2^24, x's width not
 * the op's (a conv's in_shape), a parameter missing, unknown, given twice
 * or of the wrong size, a token id out of range, a number float32 cannot
 * hold; GRADAUDIT_ENONFINITE: NaN or Inf in x or a parameter (named);
 * GRADAUDIT_ENOMEM: the check would need more than gradaudit's memory cap
 * (8 GiB), or an allocation failed; GRADAUDIT_ECALLBACK: the backward
 * returned non-zero; GRADAUDIT_EINTERNAL. A message in err (may be NULL). */
int gradaudit_check_op(gradaudit_op_result *out, gradaudit_error *err, const gradaudit_op *op,
                       gradaudit_op_backward_fn backward, void *user);

/* The tensor of that name in r ("dx", "dW1", "y", ...), NULL when r has none. */
const gradaudit_op_tensor *gradaudit_op_result_tensor(const gradaudit_op_result *r,
                                                      const char *name);

/* *n_out = the output width per sample of the op `layer` (JSON, as above) on
 * inputs of n_in; GRADAUDIT_EINVAL with the spec's message otherwise. */
int gradaudit_op_n_out(size_t *n_out, gradaudit_error *err, const char *layer, size_t n_in);

/* Whether the dropout op {"type": "dropout", "p": p, "seed": seed} of
 * gradaudit_check_op keeps entry k of sample n (1) or drops it (0): the
 * spec's fixed mask (docs/spec.md) of the op as gradaudit_check_op places
 * it; a kept entry is scaled by 1/(1 - p). */
int gradaudit_op_dropout_keep(uint32_t seed, size_t n, size_t k, double p);

/* ---- an op gradaudit does not know: the user's forward and backward -------
 * The op maps named input tensors to named output tensors,
 *   forward:  outs[k] (outputs[k].n) = f_k(ins[0], ..., ins[n_inputs - 1]),
 *   backward: dins[i] (inputs[i].n) = sum_k (d f_k / d ins[i])^T douts[k],
 * every tensor a flat array in the caller's own layout. gradaudit draws an
 * upstream gradient dy (each output's, float32 numbers, from seed) and checks
 * the backward's vector-Jacobian product as the gradient of the scalar
 *   L(theta) = sum_k <dy_k, f_k(theta)>,   theta = every input's entries in order,
 * with gradaudit_check: its references, tolerance models, kink verdicts and
 * findings, entries named "x[3]" after their tensor, one group per tensor.
 * The backward is called with dins zeroed, so one that accumulates (+=) is
 * checked as one that writes (options.grad_buffer tells them apart).
 *
 * forward is the reference's side: write it in double even when the code
 * under test computes in float32 (options.float32: the inputs must then be
 * float32 numbers, and the tolerances are float32's). forward_mpfr (optional)
 * makes the reference the MPFR oracle; before any gradient is judged it is
 * compared with forward, output entry by output entry: where they differ by
 * more than 2^-36 relative plus 2^10 times how far forward moves when rerun in
 * the directed rounding modes, the check stops with GRADAUDIT_EMPFRLOSS
 * naming the first such entry (a forward_mpfr that disagrees with the double
 * forward is a wrong reference, not a wrong gradient). */
typedef struct {
    const char *name;  /* "y", "h", ...: named in GRADAUDIT_EMPFRLOSS's message */
    size_t n;          /* its entries */
} gradaudit_vjp_output;

/* outs[k] (outputs[k].n) from ins[i] (inputs[i].n, read only); 0 on success. */
typedef int (*gradaudit_vjp_forward_fn)(double *const *outs, const double *const *ins, void *user);
/* The same in MPFR: outs[k] points at outputs[k].n mpfr_t initialised at prec
 * bits, ins[i] at inputs[i].n numbers held exactly; compute every
 * intermediate at prec bits or more (the oracle raises prec until settled). */
typedef int (*gradaudit_vjp_forward_mpfr_fn)(mpfr_ptr const *outs, mpfr_srcptr const *ins,
                                             mpfr_prec_t prec, void *user);
/* The code under test: dins[i] (inputs[i].n, zeroed) from douts[k]
 * (outputs[k].n) at ins[i] (inputs[i].n); 0 on success. */
typedef int (*gradaudit_vjp_backward_fn)(double *const *dins, const double *const *douts,
                                         const double *const *ins, void *user);

typedef struct {
    const gradaudit_tensor *inputs;      /* (n_inputs): name, entries, count; all differentiated */
    size_t n_inputs;
    const gradaudit_vjp_output *outputs; /* (n_outputs) */
    size_t n_outputs;
    gradaudit_vjp_forward_fn forward;           /* required */
    gradaudit_vjp_forward_mpfr_fn forward_mpfr; /* optional: the MPFR oracle */
    gradaudit_vjp_backward_fn backward;         /* required: the code under test */
    uint64_t seed;                              /* draws dy (the report's model names it) */
    void *user;                                 /* passed to every callback */
} gradaudit_vjp;

/* As gradaudit_check (the same statuses and report; opt may be NULL for the
 * defaults), plus GRADAUDIT_EINVAL for no inputs or outputs, an empty or
 * unnamed tensor or a NULL callback, and GRADAUDIT_EMPFRLOSS for a
 * forward_mpfr that disagrees with forward (above). */
int gradaudit_check_vjp(gradaudit_report **out, gradaudit_error *err, const gradaudit_vjp *op,
                        const gradaudit_options *opt);

/* The dy gradaudit_check_vjp draws from seed: every output's entries in
 * order, n = the sum of outputs[k].n (to rerun a backward by hand). */
void gradaudit_vjp_dy(double *dy, size_t n, uint64_t seed);

/* ---- one dense layer: gradaudit_check_op on {"size": n_out, "activation": f}
 * out[n,o] = f(sum_i x[n,i] W[o,i] + b[o]), W (n_out, n_in) row-major as
 * llm.c's matmul holds it (the column layout's W1), f one of gradaudit's
 * elementwise activations by name ("identity", "tanh", "gelu_tanh", ...;
 * docs/spec.md). gradaudit draws an upstream gradient dy (batch, n_out) from
 * `seed`, calls the user's backward once, and judges every entry of dW, db
 * and dx as gradaudit_check_op does (the same dy, the same verdicts). With
 * float32 set, W, b and x are first rounded to float32 (the layer struct the
 * callback receives holds the rounded numbers; the callback computes in
 * float32 and returns its float results widened to double). */
typedef struct {
    size_t n_in, n_out, batch;
    const char *activation;  /* a gradaudit activation's name */
    double act_param;        /* leaky_relu's slope, elu's alpha; 0: the default */
    const double *W;         /* (n_out, n_in) */
    const double *b;         /* (n_out) */
    const double *x;         /* (batch, n_in) */
    int float32;             /* 1: the code under test computes in float32 */
    uint64_t seed;           /* draws dy; printed */
} gradaudit_dense_layer;

/* The code under test: dx (batch, n_in), dW (n_out, n_in), db (n_out) from
 * dy (batch, n_out), written (not accumulated: the buffers hold NaN before
 * the call, as gradaudit_check_op's); layer->W, b, x as judged. */
typedef int (*gradaudit_dense_backward_fn)(double *dx, double *dW, double *db, const double *dy,
                                           const gradaudit_dense_layer *layer, void *user);

typedef struct {
    size_t n_entries, n_pass, n_fail, n_kink, n_unjudgeable;
    size_t fail_dx, fail_dW, fail_db;   /* FAIL entries per tensor */
    char first_fail[640];               /* "dW1[2,1]: analytic ..., exact ... (dy from seed S):
                                         * reason" (cut at 639 bytes), or "" */
} gradaudit_layer_result;

/* GRADAUDIT_OK when the check ran (whatever the verdicts: ok = n_fail == 0
 * and n_unjudgeable == 0 is the caller's call); GRADAUDIT_EINVAL (a size of
 * 0, an unknown or softmax activation, a number float32 cannot hold), GRADAUDIT_ENONFINITE,
 * GRADAUDIT_ECALLBACK (the backward returned non-zero), GRADAUDIT_ENOMEM,
 * GRADAUDIT_EINTERNAL. */
int gradaudit_check_dense(gradaudit_layer_result *out, gradaudit_error *err,
                          const gradaudit_dense_layer *layer, gradaudit_dense_backward_fn backward,
                          void *user);

/* ---- gradient-norm reports of a training loop ----------------------------
 *   gradaudit_normlog *log;
 *   gradaudit_normlog_tensor t[] = {{"W1", 2, {64, 784}}, {"b1", 1, {64}}, ...};
 *   if (gradaudit_normlog_open(&log, &err, "norms.csv", t, 4, NULL)) fail(err.msg);
 *   for (step = 0; ...; step++) {
 *       ... forward, backward into dW1, db1, ...
 *       const double *g[] = {dW1, db1, dW2, db2}, *p[] = {W1, b1, W2, b2};
 *       gradaudit_normlog_step(log, &err, step, loss, g, p, &clip);
 *       ... clip, update
 *   }
 *   gradaudit_normlog_close(log, &err);
 * One CSV row per step, handed to the kernel whole with one write(2), on disk
 * as soon as the step is logged. Per tensor: L2 norm (computed scaled: no
 * overflow or underflow, within gamma_n / 2 + u of the exact value), max |g|,
 * NaN and Inf counts, ||p_t - p_prev|| / ||p_prev||, the ratio to the
 * reference tensor and its vanished/exploded flags; per step: the global
 * norm, clipping, growth over the first step. Columns, formulas and the
 * guarantees under interruption: docs/norms.md. */
#define GRADAUDIT_NORMLOG_MAX_DIM 32   /* as NumPy's NPY_MAXDIMS */
#define GRADAUDIT_NORMLOG_MAX_NAME 200 /* bytes of a tensor name */

/* One tensor's statistics. */
typedef struct {
    double norm;     /* L2 (Frobenius) norm; NaN if an entry is NaN, else Inf if one is Inf */
    double max_abs;  /* max |x_i| */
    size_t nan, inf; /* counts of NaN and +-Inf entries */
} gradaudit_tensor_stats;

/* x (n); n = 0 gives zeros. */
void gradaudit_tensor_stats_compute(gradaudit_tensor_stats *out, const double *x, size_t n);
/* The norm alone. */
double gradaudit_norm2(const double *x, size_t n);

typedef struct {
    const char *name;                        /* letters, digits, _ . : / - [ ]; unique */
    size_t ndim;                             /* 0 (a scalar) .. GRADAUDIT_NORMLOG_MAX_DIM */
    size_t shape[GRADAUDIT_NORMLOG_MAX_DIM]; /* entries = product, > 0 */
} gradaudit_normlog_tensor;

typedef struct {
    int lightning_names;   /* 1: grad_2.0_norm/T and grad_2.0_norm_total (PyTorch
                            * Lightning's keys) for grad_norm_T and global_norm */
    double vanish_below;   /* [1e-4] */
    double explode_above;  /* [1e4] */
    long ref_tensor;       /* the tensor norm_ratio divides by; -1 [default]: the
                            * last tensor of 2 or more dimensions (the top layer's
                            * weights), else the last tensor */
    int fsync_rows;        /* 1: fsync(2) after every row (survives power loss) */
} gradaudit_normlog_options;

void gradaudit_normlog_options_default(gradaudit_normlog_options *opt);

/* The clipping the loop applies after logging: g *= max_norm / (norm + eps)
 * when that factor is below 1 (torch's clip_grad_norm_ with eps 1e-6). */
typedef struct {
    double max_norm; /* > 0 */
    double eps;      /* >= 0 */
} gradaudit_normlog_clip;

typedef struct gradaudit_normlog gradaudit_normlog;

/* Creates (truncates) path and writes the header row. tensors (n_tensors) are
 * copied. opt NULL: defaults. GRADAUDIT_EINVAL (bad name, shape, options:
 * checked before path is touched), GRADAUDIT_EIO, GRADAUDIT_ENOMEM. */
int gradaudit_normlog_open(gradaudit_normlog **out, gradaudit_error *err, const char *path,
                           const gradaudit_normlog_tensor *tensors, size_t n_tensors,
                           const gradaudit_normlog_options *opt);
/* The same on an open file descriptor, which stays the caller's (not closed);
 * label names it in messages. */
int gradaudit_normlog_open_fd(gradaudit_normlog **out, gradaudit_error *err, int fd,
                              const char *label, const gradaudit_normlog_tensor *tensors,
                              size_t n_tensors, const gradaudit_normlog_options *opt);

/* Logs one step: grads (n_tensors) point at each tensor's gradient (its
 * entries in memory order); params (n_tensors) or NULL: the parameters at
 * which the gradients were taken, for update_ratio; clip or NULL. step must
 * exceed the previous logged step. NaN and Inf in grads, params or loss are
 * data: counted and written, not errors. GRADAUDIT_EINVAL (NULL pointer, step
 * not increasing, bad clip), GRADAUDIT_EIO (the write failed; the log refuses
 * later steps), GRADAUDIT_ENOMEM. */
int gradaudit_normlog_step(gradaudit_normlog *log, gradaudit_error *err, uint64_t step,
                           double loss, const double *const *grads,
                           const double *const *params, const gradaudit_normlog_clip *clip);

/* The statistics of the last logged step (valid until the next step). */
typedef struct {
    uint64_t step;
    const gradaudit_tensor_stats *tensors; /* (n_tensors) */
    const double *norm_ratio;              /* (n_tensors) ||g_T|| / ||g_ref|| */
    const double *update_ratio;            /* (n_tensors) NaN where not logged */
    const int *vanished, *exploded;        /* (n_tensors) */
    double global_norm, global_norm_clipped, growth;
    int clipped, step_vanished, step_exploded, nan_inf;
} gradaudit_normlog_last;
/* GRADAUDIT_EINVAL before the first step. */
int gradaudit_normlog_last_step(gradaudit_normlog_last *out, const gradaudit_normlog *log);

/* Truncates the file at path after its last '\n': removes the fragment of a
 * row a SIGKILL cut (nothing when the file ends with '\n'). Such a fragment
 * also fails the test a reader can make without repairing: every row's last
 * field, row_complete, is 1, and a cut row's is missing or empty
 * (docs/norms.md). *cut (may be
 * NULL) receives the bytes removed. GRADAUDIT_EIO, GRADAUDIT_EINVAL (no '\n'
 * at all). */
int gradaudit_normlog_repair(gradaudit_error *err, const char *path, size_t *cut);

/* Closes the file when gradaudit_normlog_open opened it and frees log (NULL:
 * no-op). GRADAUDIT_EIO when closing failed or an earlier write had. */
int gradaudit_normlog_close(gradaudit_normlog *log, gradaudit_error *err);

#ifdef __cplusplus
}
#endif

#endif
