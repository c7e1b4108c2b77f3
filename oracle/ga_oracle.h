/* ga_oracle.h: MPFR reference values and gradients for any net the core accepts.
 *
 * The oracle shares the network description (ga_net_desc, the slab layout)
 * with core/, never its arithmetic: every input and parameter is converted to
 * MPFR exactly and the forward and reverse passes are computed again in MPFR.
 *
 * Each result is self-validating in the MPFR way (a Ziv loop): it is computed
 * at a working precision together with a rigorous-enough error estimate, and
 * accepted once the rounding of the value to double is settled (the value
 * +- its error bound rounds to the same double); otherwise the precision is
 * raised and the computation repeated. No fixed precision is trusted on faith.
 */
#ifndef GA_ORACLE_H
#define GA_ORACLE_H

#include "ga_core.h"

typedef struct {
    long start_prec;   /* bits of the first Ziv iteration (default 128) */
    long max_prec;     /* give up above this many bits (default 8192) */
} ga_oracle_options;

void ga_oracle_options_default(ga_oracle_options *opt);

typedef struct {
    long final_prec;        /* precision at which every result was settled */
    unsigned ziv_iterations;
    unsigned unsettled;     /* entries that could not be settled before max_prec */
} ga_oracle_stats;

/* The loss, correctly rounded to double when settled; *abserr is the bound on
 * |exact - *loss| (at most half an ulp of *loss when settled). */
int ga_oracle_loss(double *loss, double *abserr, ga_oracle_stats *stats, ga_error *err,
                   const ga_net *net, const double *params, const double *x, const double *y,
                   size_t batch, const ga_oracle_options *opt);

/* Route (b): the full gradient by an MPFR reverse-mode pass. grad (n_params)
 * is each entry correctly rounded to double; abserr (n_params, may be NULL)
 * the bound on |exact - grad[i]|. dx (batch, n_in) may be NULL. */
int ga_oracle_gradient(double *grad, double *abserr, double *dx, ga_oracle_stats *stats,
                       ga_error *err, const ga_net *net, const double *params,
                       const double *x, const double *y, size_t batch,
                       const ga_oracle_options *opt);

/* Route (a): entry i of the gradient by high-precision central differences
 * with Richardson extrapolation on the MPFR forward pass: needs no derivative
 * formula. Same meaning of the outputs. Not defined at a kink (relu at 0):
 * there it returns the symmetric difference quotient and GA_EFAIL. */
int ga_oracle_fd_entry(double *g, double *abserr, ga_oracle_stats *stats, ga_error *err,
                       const ga_net *net, const double *params, const double *x,
                       const double *y, size_t batch, size_t i,
                       const ga_oracle_options *opt);

/* Cross-check of (b) against (a) on `count` entries chosen from seed (all
 * entries when count >= n_params). *mismatches = entries where the two
 * settled doubles differ. */
int ga_oracle_cross_check(size_t *mismatches, size_t *checked, ga_error *err,
                          const ga_net *net, const double *params, const double *x,
                          const double *y, size_t batch, size_t count, uint64_t seed,
                          const ga_oracle_options *opt);

#endif
