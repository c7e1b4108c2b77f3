/* ga_meanfield.h: mean-field signal propagation in wide random networks.
 *
 * Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential expressivity
 * in deep neural networks through transient chaos", and Schoenholz, Gilmer,
 * Ganguli & Sohl-Dickstein (2017), "Deep information propagation".
 *
 * A layer h_{l+1} = W x_l + b, x_l = phi(h_l), W_ij ~ (0, sigma_w2 / fan_in),
 * b_i ~ (0, sigma_b2). In the wide limit the pre-activations are Gaussian with
 * variance q_l, and
 *   q-map:  q_{l+1} = sigma_w2 * E[phi(sqrt(q_l) z)^2] + sigma_b2,   z ~ N(0, 1)
 *   chi:    chi(q)  = sigma_w2 * E[phi'(sqrt(q) z)^2]
 * E||dL/dh_l||^2 = chi(q_l) * E||dL/dh_{l+1}||^2 for equal widths, so the
 * predicted ratio ||delta_l||^2 / ||delta_L||^2 = prod_{k=l}^{L-1} chi(q_k).
 * chi_1 is chi at the fixed point q* of the q-map; chi_1 = 1 is the edge of chaos.
 *
 * Expectations: closed forms for identity, relu, leaky_relu and elu (the kink
 * makes quadrature converge slowly); Gauss-Hermite quadrature (GSL
 * gsl_integration_fixed_hermite) for the smooth ones, with two rule sizes as
 * the error estimate and adaptive quadrature (QAGS on split intervals) when they
 * disagree (large q, where phi' is a narrow peak).
 */
#ifndef GA_MEANFIELD_H
#define GA_MEANFIELD_H

#include <stddef.h>

#include "ga_core.h"

typedef struct ga_mf ga_mf;

/* Quadrature state for one activation (param: leaky_relu slope, elu alpha).
 * GA_EINVAL for softmax (not elementwise). */
int ga_mf_alloc(ga_mf **out, ga_error *err, ga_activation act, double param);
void ga_mf_free(ga_mf *mf);

/* E[phi(sqrt(q) z)^2] and E[phi'(sqrt(q) z)^2], q >= 0; abserr (may be NULL)
 * receives an estimate of the absolute error. */
double ga_mf_e_phi2(ga_mf *mf, double q, double *abserr);
double ga_mf_e_dphi2(ga_mf *mf, double q, double *abserr);

/* q_{l+1} = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2 */
double ga_mf_qmap(ga_mf *mf, double sigma_w2, double sigma_b2, double q);
/* chi(q) = sigma_w2 E[phi'(sqrt(q) z)^2] */
double ga_mf_chi(ga_mf *mf, double sigma_w2, double q);

/* Stable fixed point q* of the q-map reached from q = 1. GA_ERANGE when the
 * q-map diverges (no finite fixed point, e.g. relu with sigma_w2 > 2). */
int ga_mf_fixed_point(double *qstar, ga_error *err, ga_mf *mf, double sigma_w2,
                      double sigma_b2);

/* sigma_w2 on the edge of chaos, chi(q*(sigma_w2)) = 1, searched in [lo, hi]
 * (Brent); qstar receives q* there. GA_EINVAL when chi - 1 does not change
 * sign over [lo, hi]. */
int ga_mf_critical_sigma_w2(double *sigma_w2, double *qstar, ga_error *err, ga_mf *mf,
                            double sigma_b2, double lo, double hi);

#endif
