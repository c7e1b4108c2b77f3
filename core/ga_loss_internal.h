/* ga_loss_internal.h: per-sample loss terms shared by the core's passes. */
#ifndef GA_LOSS_INTERNAL_H
#define GA_LOSS_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include "ga_core.h"

/* f(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow. The
 * double every double pass of the loss (core, the bound, the plain and
 * Monte Carlo passes) takes; inline so each keeps its speed. */
static inline double ga_softplus(double x)
{
    return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

/* f(x) = 1/(1 + exp(-x)), from e = exp(-|x|): 1/(1+e) for x >= 0, e/(1+e)
 * below, so neither overflows nor cancels. */
static inline double ga_sigmoid(double x)
{
    double e = exp(-fabs(x));
    return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

/* Unreduced loss of one sample: z, a, y are (n) rows of the last layer.
 * softmax_ce and cce write exp(z_k - max z) into e (n) unless it is NULL
 * (the first largest z_k's entry left as it was), for ga_loss_sample_dz. */
double ga_loss_sample_term(ga_loss_kind kind, const double *z, const double *a, const double *y,
                           size_t n, double *e);
/* True when the loss's gradient is taken with respect to z directly (the
 * output activation is fused into it); false for mse (gradient w.r.t. a). */
int ga_loss_fuses_output(ga_loss_kind kind);
/* factor * d(term)/dz (fused losses) or factor * d(term)/da (mse) into dz (n),
 * which aliases none of z, a, y. e: NULL, or the exponentials that
 * ga_loss_sample_term wrote for the same row (the same bits as recomputing
 * them: exp is a function of z). */
void ga_loss_sample_dz(double *dz, ga_loss_kind kind, const double *z, const double *a,
                       const double *y, size_t n, double factor, const double *e);

#endif
