/* ga_rounding.h: how far rounding can move each computed quantity, measured
 * by Monte Carlo arithmetic (see ga_plainpass.h): k runs of the plain pass
 * with every operation perturbed by an independent random relative error.
 *
 * Under the random-rounding model (Higham & Mary, "A new approach to
 * probabilistic rounding error analysis", SIAM J. Sci. Comput. 41(5), 2019:
 * rounding errors independent, mean zero, |delta| <= u), the first-order
 * error of a computed quantity is a sum of independent bounded terms whose
 * spread the runs estimate, every path of the computation included (errors
 * that reach an entry along many paths add coherently in the runs just as
 * they do in the real computation). The spread is measured at virtual unit
 * roundoff 2^-40 and scaled by 2^-13 to double's u = 2^-53 (first order:
 * linear in the rounding errors).
 *
 * GA_ROUNDING_LAMBDA turns the scale into a tolerance: a correct double
 * computation stays within LAMBDA sigma. With k = 16 runs the estimate
 * sigma_hat is below sigma/4 with probability under 1e-9 (chi-square, 15
 * degrees of freedom), and a near-Gaussian error beyond 8 sigma has
 * probability under 1e-15; LAMBDA = 32 covers both. Measured by
 * bench/bench_rounding on 194,480 entries of 220-wide, 4-deep MLPs of each
 * activation: the largest |double - exact| / sigma_hat was 5.2 (softplus;
 * 6.1 with other random streams), the geometric mean 0.37 to 0.53
 * (bench/README.md). */
#ifndef GA_ROUNDING_H
#define GA_ROUNDING_H

#include <stdint.h>

#include "ga_core.h"

#define GA_ROUNDING_RUNS 16
#define GA_ROUNDING_LAMBDA 32.0

typedef struct {
    unsigned k;         /* runs */
    size_t n_params, batch, n_layers;
    double *grad;       /* (k, n_params) perturbed gradients */
    double *loss;       /* (k) perturbed losses */
    double *sigma;      /* (n_params) spread of each entry, scaled to u */
    double loss_sigma;
    double **z_sigma;   /* z_sigma[l] (batch, n_out(l)) spread of each pre-activation */
    double *buf;        /* one allocation behind z_sigma's arrays */
} ga_rounding;

int ga_rounding_alloc(ga_rounding **out, ga_error *err, const ga_net *net, size_t batch, unsigned k);
void ga_rounding_free(ga_rounding *r);
/* k perturbed runs at (params, x, y); seed fixes the random stream. */
int ga_rounding_compute(ga_rounding *r, ga_error *err, const ga_net *net, const double *params,
                        const double *x, const double *y, size_t batch, uint64_t seed);
/* Spread of sum_{i in [lo, hi)} v_i g_i over the runs, scaled to u: the
 * rounding scale of a directional derivative restricted to a block. */
double ga_rounding_sigma_dot(const ga_rounding *r, const double *v, size_t lo, size_t hi);

#endif
