/* ga_enclose.h: a proven enclosure of every gradient entry, valid in every
 * region a double computation can reach.
 *
 * For each quantity q of the forward and backward passes (pre-activations,
 * activations, deltas, gradient entries) the pass computes an interval
 * [lo, hi] that contains
 *   - the exact value of q, and
 *   - every value a double computation of q can produce that rounds each
 *     operation as IEEE 754 does, in any summation order, with or without
 *     FMA, and evaluates exp, log1p, expm1, tanh within GA_ENCLOSE_ELEM_ULPS
 *     units (glibc documents 1-2 on x86_64; the core's formulas add at most
 *     four correctly rounded operations), including gradual underflow
 *     (an absolute error of up to 2^-1075 per product, quotient or function
 *     value) and overflow (a value beyond DBL_MAX may come out +-inf).
 * At a relu-type kink whose pre-activation interval contains 0 (and is not
 * exactly [0, 0]) the derivative's interval is the hull of both one-sided
 * slopes: the enclosure then holds every value that a computation taking
 * either branch there can produce, and nothing else. The derivative of a
 * smooth activation is bounded by its range over the whole interval its
 * argument is known to lie in, so the enclosure stays valid where the
 * forward pass has lost many or all of its digits (first-order bounds do
 * not: a sigmoid at z = 0.3 +- 5 has a derivative anywhere in [0.0066,
 * 0.25]).
 *
 * Why it is rigorous (Higham, Accuracy and Stability of Numerical
 * Algorithms, 2nd ed.): a dot product of m terms plus a bias, computed in any
 * order, is within gamma_{m+1} sum|terms| of its exact value (eq. 3.5) and a
 * single operation within u |result|; the exact value of a monotone function
 * over an interval lies between its values at the ends (and its extremum
 * inside, for sigmoid' and tanh'). The intervals themselves are computed in
 * long double (64-bit significand, so 2^-64 relative per operation) with
 * round to nearest, and every rounding budget of the double model is taken
 * at GA_ENCLOSE_U = 2^-53 (1 + 2^-8): the margin of 2^-61 per modelled
 * operation covers the 2^-64 errors of the long double operation that
 * evaluates it. Endpoints are rounded outwards to double at the end. The
 * long double range (to 1e4932) holds the exact values of forward passes
 * that overflow double.
 */
#ifndef GA_ENCLOSE_H
#define GA_ENCLOSE_H

#include "ga_core.h"

#define GA_ENCLOSE_U ((long double)GA_U * (1.0L + 0x1p-8L))
#define GA_ENCLOSE_ELEM_ULPS 8
/* The fast-math model's allowance for a division, a square root or a
 * reciprocal square root, in u: GCC's -Ofast computes a / b as a times a
 * reciprocal (two roundings), and vectorised divisions and square roots
 * (and 1.0f / sqrtf(x) always) as rcpps / rsqrtps refined by one Newton
 * step; measured over every float divisor and argument of a binade (the
 * other binades scale): at most 4.12 u (a / b), 2.98 u (sqrtf), 3.44 u
 * (1 / sqrtf). An elementary function's budget grows by as much, for the
 * division its formula may hold (sigmoid's e / (1 + e)). */
#define GA_ENCLOSE_FAST_APPROX_ULPS 8

typedef struct {
    size_t n_params, batch, n_layers;
    double *grad_lo, *grad_hi;  /* (n_params) the enclosure of each gradient entry */
    unsigned char *grad_kink;   /* (n_params) 1: some kink on its paths took both branches */
    double **z_lo, **z_hi;      /* z_lo[l] (B, n_out(l)) the pre-activations' enclosures */
    double **a_lo, **a_hi;      /* a_lo[l] (B, n_out(l)) the activations' enclosures */
    unsigned char **amb;        /* amb[l] (B, n_out(l)) 1: the interval straddles a kink */
    unsigned char **lost;       /* lost[l] (B, n_out(l)) 1: the slope f'(z) (or, for the
                                   last layer of a fused loss, dL/dz) varies by more than
                                   2x or changes sign over z's interval */
    double *buf;                /* one allocation behind every array above */
    /* How far ga_enclosure_compute on this enclosure, and
     * ga_enclosure_backward_from given it as kinks, are (NULL, as allocated:
     * not told), for a progress line: stage "enclosure" or "backward", done
     * of total units (a product of the passes, B fan_in fan_out per layer
     * forward and in each of the backward pass's two sums), on the calling
     * thread after each row of a layer, so it must be cheap. */
    void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *progress_ctx;
} ga_enclosure;

int ga_enclosure_alloc(ga_enclosure **out, ga_error *err, const ga_net *net, size_t batch);
/* The bytes an enclosure of a net of this description and batch holds at
 * once (ga_enclosure_alloc's arrays, a pass's working intervals and the
 * backward pass's flags): the arrays that grow with the net, for the memory
 * pre-check. GA_ERANGE when the count overflows a size_t. */
int ga_enclosure_bytes(size_t *out, const ga_net_desc *d, size_t n_params, size_t batch);
void ga_enclosure_free(ga_enclosure *e);
/* The enclosures of the net at (params, x, y); x and y exact doubles. */
/* prec: the precision of the computations enclosed (float64: every budget
 * above; float32: u = 2^-24, 2^-150 absolute below FLT_MIN, overflow past
 * FLT_MAX; params, x and y must then be float32 numbers). fast_math: 1 for
 * the fast-math model (docs/verdicts.md, "The fast-math model"): code built
 * with -Ofast (-ffast-math) and run with flush-to-zero and
 * denormals-are-zero: a result below the smallest normal may be 0 and a
 * subnormal operand read as 0 (so every absolute budget is in units of the
 * smallest normal, not the smallest subnormal), a product's factors grouped
 * in any order, a division taken as a product with a reciprocal and a
 * division or square root within GA_ENCLOSE_FAST_APPROX_ULPS; 0 the IEEE
 * model above. */
int ga_enclosure_compute(ga_enclosure *e, ga_error *err, const ga_net *net, ga_precision prec,
                         int fast_math, const double *params, const double *x, const double *y,
                         size_t batch);

/* The enclosure (glo, ghi: n_params) of every value a double backward pass
 * (in prec, with fast_math as above) can give from the double forward pass that ws holds (ga_forward's z, a and
 * f'(z), taken as exact inputs): the rounding of the backward pass alone.
 * Where `kinks` (the whole enclosure, may be NULL) puts a pre-activation at
 * a kink, f' is the hull of both branches there, as in the whole enclosure.
 * It holds the core's own gradient from that forward pass, and is far
 * tighter than the whole enclosure where the forward pass's rounding
 * dominates: the forward's effect is then the distance from it to the exact
 * value, which the oracle gives (ga_check.c). */
int ga_enclosure_backward_from(double *glo, double *ghi, ga_error *err, const ga_enclosure *kinks,
                               const ga_net *net, ga_precision prec, int fast_math,
                               const double *params, const double *x, const double *y,
                               size_t batch, const ga_workspace *ws);

/* The fast-math model's instance of the two above (ga_enclose.c compiled a
 * second time, its intervals carrying what the model needs): what they call
 * with fast_math set. */
int ga_enclosure_compute_fast(ga_enclosure *e, ga_error *err, const ga_net *net,
                              ga_precision prec, int fast_math, const double *params,
                              const double *x, const double *y, size_t batch);
int ga_enclosure_backward_from_fast(double *glo, double *ghi, ga_error *err,
                                    const ga_enclosure *kinks, const ga_net *net,
                                    ga_precision prec, int fast_math, const double *params,
                                    const double *x, const double *y, size_t batch,
                                    const ga_workspace *ws);

#endif
