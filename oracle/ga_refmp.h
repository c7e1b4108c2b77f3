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
 *
 * Its forward pass alone is also the oracle's route (a) on every net the
 * tuned passes do not take (ga_refmp_route_a, below): a parameter read as
 * theta +- h, and the branches the pass took recorded (A_CMP).
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

/* Route (a) of the oracle on the generic reference: entry i of dL/dtheta
 * by Ridders' central differences (ga_diff_mpfr.h) on the generic forward
 * pass in MPFR, needing no derivative formula; for every net, the nets the
 * oracle's tuned passes do not take (norms, adds, convolutions, attention,
 * ...) among them. The pass reads parameter i as theta +- h, exactly
 * (h = 2^-k, not a double); the others as the doubles they are. Each pass
 * at theta +- h starts at the stage that reads parameter i, the earlier
 * stages' values kept from the pass at theta (forward_from).
 *
 * Ziv loop, from start_prec doubling to max_prec: each step at p runs the
 * passes at q = p + 32 bits with steps h = 2^-((p+1)/3 + r + sh), r = 0,
 * 1, ..., sh shrinking h by the largest value of the pass (an entry's step
 * must move what it multiplies by a small part of the curvature's scale).
 * The loss's error eps is the two precisions' difference (p against q, plus
 * 2^-p |loss|: ga_oracle_two_prec_error) at theta and at theta +- h0, the
 * larger; the tableau's value settles when ans +- (4 est + 2 eps / h)
 * (ga_diff_mpfr_total) rounds to one double. An estimate, as the tuned
 * route (a)'s: this route's use is the cross-check of route (b), never a
 * verdict's reference on its own.
 *
 * *g (and *abserr, may be NULL) when settled: GA_OK. Not defined where a
 * branch of the pass (a relu's sign against 0, a max pool's largest entry:
 * every A_CMP of the template but a logsumexp's pivot) differs at theta +-
 * h0 from theta's: GA_EFAIL, *kink = 1, *g the symmetric quotient, a message
 * naming the entry. Not settled by max_prec: GA_EFAIL, *kink = 0, *g the
 * last value and bracket (may be NULL) the doubles nearest its interval's
 * ends. *prec_out and *iters_out (may be NULL): the last q, the Ziv steps. GA_EINVAL, GA_ENOMEM. */
int ga_refmp_route_a(double *g, double *abserr, double bracket[2], int *kink, long *prec_out,
                     unsigned *iters_out, ga_error *err, const ga_net *net, const double *params, const double *x,
                     const double *y, size_t batch, size_t i, long start_prec, long max_prec);

/* *bytes = the two forward passes' values one ga_refmp_route_a call holds
 * at its first Ziv step (prec and prec + 32 bits; its scalars and tableau,
 * some 160 variables, not counted), from the description alone. GA_ERANGE
 * when the count overflows. */
int ga_refmp_route_a_bytes(size_t *bytes, const ga_net_desc *d, size_t batch, long prec);

/* The generic formula of activation a (core/ga_ref_act_tmpl.h) in MPFR:
 * value = f(z) and deriv = f'(z), each may be NULL, at the precision of the
 * destination (every operation rounded to nearest; the caller's Ziv loop
 * judges the error). value and deriv must not alias z. The oracle uses it
 * for every activation it has no tuned passes for. */
#include <mpfr.h>
void ga_refmp_act(mpfr_ptr value, mpfr_ptr deriv, ga_activation a, double param, mpfr_srcptr z);

#endif
