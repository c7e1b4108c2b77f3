/* ga_loss_internal.h: per-sample loss terms shared by the core's passes. */
#ifndef GA_LOSS_INTERNAL_H
#define GA_LOSS_INTERNAL_H

#include <stddef.h>
#include "ga_core.h"

/* Unreduced loss of one sample: z, a, y are (n) rows of the last layer. */
double ga_loss_sample_term(ga_loss_kind kind, const double *z, const double *a, const double *y,
                           size_t n);
/* True when the loss's gradient is taken with respect to z directly (the
 * output activation is fused into it); false for mse (gradient w.r.t. a). */
int ga_loss_fuses_output(ga_loss_kind kind);
/* factor * d(term)/dz (fused losses) or factor * d(term)/da (mse) into dz (n). */
void ga_loss_sample_dz(double *dz, ga_loss_kind kind, const double *z, const double *a,
                       const double *y, size_t n, double factor);

#endif
