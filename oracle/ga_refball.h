/* ga_refball.h: the generic reference pass (core/ga_ref_tmpl.h) in ball
 * arithmetic (Arb: a midpoint and a rigorous radius through every operation
 * and elementary function), settled by proof in one pass per precision.
 *
 * Issue 16's first step: the third instance of the generic reference. Each
 * loss and gradient entry comes out as a ball certain to hold the exact
 * value; it is settled when both ends of the ball round to the same double
 * (to nearest, ties to even: an exact ball, radius 0, on a tie settles to
 * the even neighbour). No comparison of two precisions and no separate
 * error bound is needed: the radius is the bound. Unsettled entries raise
 * the precision of the whole pass (start_prec, twice that, ... up to
 * max_prec; bench_ball's nets settle at 128 bits, the oracle's default start),
 * or straight to the bits a ball around 0 asks for: an exact zero reached
 * by cancellation settles only once its radius is below 2^-1075 (gpt2-like:
 * 128 then 1,152 bits, where doubling took five passes to 2,048).
 * A reverse pass computes every entry at once, so a raised precision reruns
 * the whole pass, settled entries included.
 *
 * Branches: an activation's kink (relu, leaky_relu, elu) is taken only
 * where the ball of z excludes 0 or z is exactly 0 (then the core's
 * conventions f'(0) apply); a ball that holds 0 without being 0 leaves the
 * pass unsure, and nothing of it is settled at that precision. The pivot of
 * a logsumexp (the largest logit) may be any logit: the identities the
 * template uses hold for every pivot, so balls are ordered by midpoint there.
 */
#ifndef GA_REFBALL_H
#define GA_REFBALL_H

#include "ga_core.h"

typedef struct {
    long final_prec;    /* the last precision the loop ran at */
    unsigned passes;    /* passes run (one per precision) */
    size_t unsettled;   /* entries (loss included) not settled by max_prec */
    int unsure_branch;  /* the last pass met a z ball holding 0 but not 0 */
} ga_refball_stats;

/* loss (may be NULL), grad (n_params): correctly rounded where settled;
 * settled (n_params, may be NULL): 1 where grad[i] is settled; loss_settled
 * (may be NULL) likewise; abserr (n_params) and loss_err (each may be NULL):
 * a rigorous bound on |exact - value| (|midpoint - value| + radius, rounded
 * up; infinite for a ball that is not finite). GA_EINVAL for bad arguments,
 * GA_ENOMEM; an unsettled entry is no error (stats says how many). */
/* How far a run is (may be NULL: not told), as ga_oracle_options.progress:
 * fn(ctx, "gradient", done, total) on the calling thread, a unit per stage
 * of each pass's forward and reverse sweeps and one for its settle test;
 * total grows by a pass's units when the precision is raised. */
typedef struct {
    void (*fn)(void *ctx, const char *stage, size_t done, size_t total);
    void *ctx;
} ga_refball_progress;

/* *bytes: what a run's balls take (the pass's values and deltas, the
 * gradient and the parameters as balls) with midpoints of prec bits;
 * GA_ERANGE when that overflows, or the status of a description that does
 * not validate. Arb keeps a midpoint of up to 128 bits inside the ball and
 * allocates longer ones, so a pass raised to higher precision takes more:
 * count at the precision the run may reach. */
int ga_refball_bytes(size_t *bytes, const ga_net_desc *d, size_t n_params, size_t batch,
                     long prec);

int ga_refball_loss_gradient(double *loss, double *loss_err, int *loss_settled, double *grad,
                             double *abserr, unsigned char *settled, ga_refball_stats *stats,
                             ga_error *err, const ga_net *net, const double *params,
                             const double *x, const double *y, size_t batch, long start_prec,
                             long max_prec, const ga_refball_progress *progress);

#endif
