/* ga_refmp.h: the generic reference pass (core/ga_ref_tmpl.h) compiled for
 * MPFR, with its results settled by a Ziv loop.
 *
 * This is the generic reference's second arithmetic (the first is the
 * plain/perturbed double of checks/ga_plainpass.c): every op's maths comes
 * from the template, every activation from its generic formulas, nothing
 * from oracle/orc_passes.c, the oracle's own passes. It is therefore an independent
 * check of the oracle's reverse pass (route (b)); test_refmp compares the
 * two, entry by entry, on the gate's nets and the hard nets.
 *
 * Ziv loop: the pass runs at p and p + 32 bits; e = |v_p - v_{p+32}| +
 * 2^-p |v_{p+32}| estimates the error of v_{p+32} (ga_oracle_two_prec_error);
 * an entry is settled when every number within e of it rounds to the same
 * double. p starts at 128 and doubles until every entry is settled or p
 * exceeds max_prec. Exact zeros settle at once (both passes give 0). An entry
 * exactly on a rounding boundary (an exact tie) never settles here: the
 * oracle's route (b) carries MPFR's ternary values for that, this instance
 * does not (yet); such entries are reported unsettled.
 */
#ifndef GA_REFMP_H
#define GA_REFMP_H

#include "ga_core.h"

typedef struct {
    long final_prec;    /* the last p + 32 the loop reached */
    size_t unsettled;   /* entries (loss included) not settled by max_prec */
} ga_refmp_stats;

/* loss (may be NULL), grad (n_params): the generic reference's values,
 * correctly rounded where settled. settled (n_params, may be NULL): 1 where
 * grad[i] is settled. loss_settled (may be NULL) likewise. GA_EINVAL for bad
 * arguments, GA_ENOMEM; an unsettled entry is no error (stats says how many). */
int ga_refmp_loss_gradient(double *loss, int *loss_settled, double *grad, unsigned char *settled,
                           ga_refmp_stats *stats, ga_error *err, const ga_net *net,
                           const double *params, const double *x, const double *y, size_t batch,
                           long max_prec);

/* The generic formula of activation a (core/ga_ref_act_tmpl.h) in MPFR:
 * value = f(z) and deriv = f'(z), each may be NULL, at the precision of the
 * destination (every operation rounded to nearest; the caller's Ziv loop
 * judges the error). value and deriv must not alias z. The oracle uses it
 * for every activation it has no tuned passes for. */
#include <mpfr.h>
void ga_refmp_act(mpfr_ptr value, mpfr_ptr deriv, ga_activation a, double param, mpfr_srcptr z);

#endif
