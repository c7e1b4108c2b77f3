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
 *
 * How the error is estimated (orc_ziv.c, ga_oracle_two_prec_error): each pass runs at p
 * and at p + 32 bits; MPFR rounds every operation correctly, so the error at
 * p is K 2^-p with K independent of p, and |v_p - v_{p+32}| bounds the error
 * of v_{p+32} with a margin of about 2^32 (plus 2^-p |v| unless every
 * operation was exact). Route (a) uses the Ridders tableau's own estimate.
 *
 * Exact values settle: the passes carry MPFR's ternary values with every
 * value (GA_DIR_* below). A result reached by exact operations alone (or
 * through a factor that is exactly 0) has error 0 and is rounded to nearest,
 * ties to even, as IEEE rounds: an exact tie, an exact double, an exact 0. A
 * pre-activation exactly 0 that way is exactly at the kink, where the
 * conventions relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha apply.
 * A result whose error has a known sign (a saturated sigmoid computed as 1
 * lies above the exact value) settles on that side of a rounding boundary
 * it lies on, where no precision would separate it from the boundary.
 *
 * Status conventions shared by every function below: GA_EINVAL for NULL
 * pointers, batch 0, an entry out of range, a net whose slab does not match
 * its description or bad options; GA_ENONFINITE naming the first NaN/Inf in
 * params, x or y; GA_ENOMEM over the memory cap; GA_EFAIL when a result is
 * not settled by max_prec (the best value and its bound are still written,
 * stats->unsettled counts them) or, for route (a), at a kink. A result of
 * route (b) or the loss whose interval at max_prec holds a single rounding
 * boundary is no failure: it is faithful (one of the two doubles around the
 * boundary) and its abserr says how far it may be (stats->boundary). Exact
 * zeros are returned as +0.
 */
#ifndef GA_ORACLE_H
#define GA_ORACLE_H

#include <mpfr.h>

#include "ga_core.h"

typedef struct {
    long start_prec;      /* bits of the first Ziv iteration (default 128) */
    long max_prec;        /* give up above this many bits (default 8192) */
    size_t cross_count;   /* GA_ORACLE_CROSS_CHECK: entries compared (default 2; all
                             entries when >= n_params) */
    uint64_t cross_seed;  /* GA_ORACLE_CROSS_CHECK: the seed the entries are drawn
                             from (default 1) */
    int engine;           /* route (b)'s arithmetic: GA_ORACLE_BALL (default, below)
                             or GA_ORACLE_MPFR (two precisions compared, a running
                             error bound) */
    /* How far a run is (NULL, the default: not told), for a progress line
     * with an ETA. Called on the thread that called ga_oracle_run, once per
     * unit of each layer in a pass (each call after B x fan-in MPFR
     * multiply-adds or more), so it must be cheap or limit itself:
     *   stage "gradient": done of total units of route (b)'s MPFR work, the
     *     multiply-adds of its forward and reverse passes and the settle
     *     tests; the total grows by a step's when the Ziv loop raises the
     *     precision; with GA_ORACLE_BALL, a unit per stage of each ball
     *     pass's forward and reverse sweeps and one for its settle test
     *     (ga_refball.h), the total growing by a pass's;
     *   stage "cross-check": done of total entries of route (a). */
    void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *progress_ctx;
} ga_oracle_options;

/* GA_ORACLE_BALL: the loss and the gradient from the generic reference in
 * Arb's balls (ga_refball.h: settled by proof, one pass per precision, from
 * start_prec), and route (b) in MPFR only when some entry is left unsettled
 * (an exact value within reach of a rounding boundary that only MPFR's
 * ternary values settle), for those entries; abserr is then the ball's
 * |midpoint - value| + radius. dL/dx (GA_ORACLE_DX) and the loss alone come
 * from MPFR whatever the engine. The cross-check compares route (a), in
 * MPFR, with the balls' gradient: two libraries as well as two methods;
 * on a chain, route (a)'s base (one MPFR forward pass, its error the
 * running error bound) runs on another thread while the balls run; on any
 * other net, route (a) on the generic forward pass (ga_oracle_route_a) runs
 * after them, its entries shared by two threads.
 * What the balls do not replace, and why: route (a) stays in MPFR (the
 * cross-check's independence); the loss alone and dL/dx stay on MPFR's
 * route (b) (the balls' pass computes no dL/dx); an entry whose ball
 * straddles a rounding boundary at every precision up to max_prec goes to
 * MPFR, whose ternary values can tell the side of an exact value sitting
 * within exp(-1e300) of it (5 of 240 hard nets, bench/README.md). */
enum { GA_ORACLE_MPFR = 0, GA_ORACLE_BALL = 1 };

void ga_oracle_options_default(ga_oracle_options *opt);

typedef struct {
    long final_prec;        /* precision at which every result was settled (the
                               higher of the pair p, p + 32 for route (b) and
                               the loss; the working p for route (a)) */
    unsigned ziv_iterations;
    unsigned unsettled;     /* entries that could not be settled before max_prec */
    unsigned boundary;      /* entries whose interval at the last precision still held
                               a single rounding boundary (the exact value nearer to a
                               midpoint than max_prec resolves, on a side no ternary
                               value told): each is the double nearer the computed
                               value, its abserr up to half an ulp plus the bound; not
                               counted as unsettled */
} ga_oracle_stats;

/* ---- the oracle: allocate, run with named flags, free --------------------
 *
 *     ga_oracle *o;
 *     ga_oracle_result r;
 *     if (ga_oracle_alloc(&o, &err, net, net->params, x, y, batch, NULL) == GA_OK &&
 *         ga_oracle_run(&r, &err, o, GA_ORACLE_LOSS | GA_ORACLE_GRADIENT) == GA_OK)
 *         ... r.loss +- r.loss_err, r.grad[i] +- r.abserr[i] ...
 *     ga_oracle_free(o);
 *
 * An oracle is one problem: a net, its parameters, a batch of inputs and
 * targets, and the options. net, params (n_params), x (batch, n_in) and y
 * (batch, n_out) are the caller's, read again at every run (a run after the
 * caller changed a parameter gives the new point's values): they must stay
 * allocated until ga_oracle_free. */
typedef struct ga_oracle ga_oracle;

/* What ga_oracle_run computes, or'ed together (at least one). */
enum {
    GA_ORACLE_LOSS = 1u << 0,        /* the loss: result.loss, .loss_err */
    GA_ORACLE_GRADIENT = 1u << 1,    /* route (b), the reverse pass: result.grad, .abserr */
    GA_ORACLE_DX = 1u << 2,          /* dL/dx from the same pass: result.dx; needs
                                        GA_ORACLE_GRADIENT */
    GA_ORACLE_CROSS_CHECK = 1u << 3, /* route (b) against route (a) on the options'
                                        cross_count entries drawn from cross_seed:
                                        result.mismatches, .checked (route (b) runs
                                        whether GA_ORACLE_GRADIENT is asked or not) */
};

/* What a run gives. The arrays belong to the oracle: they hold until the next
 * run on it or ga_oracle_free. What a run was not asked for is NaN, NULL or
 * 0. */
typedef struct {
    double loss;             /* GA_ORACLE_LOSS: correctly rounded to double when settled */
    double loss_err;         /* bound on |exact - loss| (at most half an ulp when settled) */
    const double *grad;      /* (n_params) GA_ORACLE_GRADIENT: each entry correctly rounded */
    const double *abserr;    /* (n_params) bound on |exact - grad[i]| */
    const double *dx;        /* (batch, n_in) GA_ORACLE_DX: dL/dx, correctly rounded */
    size_t mismatches;       /* GA_ORACLE_CROSS_CHECK: entries whose two settled doubles differ */
    size_t checked;          /* entries compared (kinks and unresolvable boundaries are
                                skipped: ga_oracle_cross_check_against) */
    ga_oracle_stats stats;   /* of the loss's Ziv loop (GA_ORACLE_LOSS alone) or route (b)'s */
} ga_oracle_result;

/* *bytes = the MPFR working set the largest single allocation of a run with
 * these flags would ask for (the count the oracle holds against the memory
 * cap), plus, where the balls run, their pass at the precision an exact zero
 * makes them reach (ga_refball_bytes: a net's every value and its gradient,
 * attention weights included), from the description alone: a size the
 * oracle would not hold is refused before any work. GA_ERANGE when the
 * count overflows. */
int ga_oracle_bytes(size_t *bytes, const ga_net_desc *desc, size_t n_params, size_t batch,
                    const ga_oracle_options *opt, unsigned flags);

/* *o = a new oracle for the problem (opt NULL: ga_oracle_options_default).
 * Checks everything a run would (the status conventions above), so a bad
 * problem fails here, with a message; *o = NULL then. */
int ga_oracle_alloc(ga_oracle **o, ga_error *err, const ga_net *net, const double *params,
                    const double *x, const double *y, size_t batch,
                    const ga_oracle_options *opt);

/* *r = what flags ask for (GA_ORACLE_*). GA_EINVAL, with a message, for a
 * NULL r or o, flags 0 or with unknown bits, GA_ORACLE_DX without
 * GA_ORACLE_GRADIENT. GA_EFAIL when a result is not settled: *r still holds
 * the best values and their bounds (r->stats.unsettled counts them), or the
 * cross-check met an entry route (a) cannot settle. How the flags combine:
 *   LOSS alone: the loss's own loop, forward passes only;
 *   GRADIENT (| LOSS) (| DX): route (b), the loss from the same passes;
 *   CROSS_CHECK (| GRADIENT) (| LOSS): route (b), then route (a) from route
 *     (b)'s last Ziv step (its forward pass at theta and the loss's
 *     two-precision error are not computed again);
 *   CROSS_CHECK | GRADIENT | DX: route (b) with dL/dx, then the cross-check
 *     as ga_oracle_cross_check_against (route (a) from start_prec). */
int ga_oracle_run(ga_oracle_result *r, ga_error *err, ga_oracle *o, unsigned flags);

/* Route (a): entry i of the gradient by high-precision central differences
 * with Richardson extrapolation on the MPFR forward pass: needs no derivative
 * formula. *g correctly rounded when settled, *abserr (may be NULL) the bound
 * on |exact - *g|, stats may be NULL. Not defined at a kink (relu at 0):
 * there it returns the symmetric difference quotient and GA_EFAIL.
 * Each Ziv step at p works at p + 32 bits with steps h = 2^-((p+1)/3 + r),
 * r = 0, 1, ... (orc_route_a.c, orc_fd_run, says why); when a pre-activation
 * of a relu, leaky_relu or elu layer changes sign between theta - h0 and
 * theta + h0 (or leaves 0), it returns GA_EFAIL with a message naming the
 * entry and the unit (`b1[0,0]: z1[0,0] = 0 is within the FD step h = 2^-43
 * of relu's kink`).
 * A net with layers other than dense (norms, adds, dropout, embeddings,
 * convolutions, pooling, attention, rnn) has no tuned MPFR pass: route (a)
 * then runs the generic forward pass in MPFR (ga_refmp_route_a: the same
 * tableau and Ziv loop, h shrunk by the pass's largest value, the loss's
 * error from two precisions at theta and theta +- h0), and its kink is any
 * branch of that pass (a relu's sign, a max pool's largest entry) taken
 * otherwise at theta +- h0 than at theta: GA_EFAIL, the message naming
 * the entry. */
int ga_oracle_route_a(double *g, double *abserr, ga_oracle_stats *stats, ga_error *err,
                      ga_oracle *o, size_t i);

/* The cross-check of a gradient the caller has, grad (n_params), against
 * route (a) on the options' cross_count entries drawn from cross_seed (all
 * entries when cross_count >= n_params): *mismatches = entries where the two
 * settled doubles differ. Entries where route (a) meets a kink are skipped
 * (not counted in *checked), and so are entries route (a) cannot settle
 * because its last interval straddles a single rounding boundary with grad's
 * double on one side of it (an exact tie, or an entry nearer to a boundary
 * than differences resolve: route (b) settles those from the exact values or
 * the sign of the error); any other entry route (a) cannot settle ends the
 * check with GA_EFAIL. */
int ga_oracle_cross_check_against(size_t *mismatches, size_t *checked, ga_error *err,
                                  ga_oracle *o, const double *grad);

/* Releases o and its result arrays; NULL is allowed. */
void ga_oracle_free(ga_oracle *o);

/* ---- the entry points before the oracle had an allocated state ----------
 * Each allocates an oracle, runs it once and frees it (ga_oracle.c), with the
 * same outputs, statuses and messages as before. Kept because checks/
 * test_oracle.c calls them some 70 times; new code uses the functions above.
 * Outputs that may be NULL are marked so; the others may not. */

/* GA_ORACLE_LOSS: *loss, *abserr (may be NULL), stats (may be NULL). */
int ga_oracle_loss(double *loss, double *abserr, ga_oracle_stats *stats, ga_error *err,
                   const ga_net *net, const double *params, const double *x, const double *y,
                   size_t batch, const ga_oracle_options *opt);

/* GA_ORACLE_GRADIENT (| GA_ORACLE_DX when dx is not NULL): grad (n_params),
 * abserr (n_params, may be NULL), dx (batch, n_in, may be NULL). */
int ga_oracle_gradient(double *grad, double *abserr, double *dx, ga_oracle_stats *stats,
                       ga_error *err, const ga_net *net, const double *params,
                       const double *x, const double *y, size_t batch,
                       const ga_oracle_options *opt);

/* The same with GA_ORACLE_LOSS when loss is not NULL (loss_err may be NULL). */
int ga_oracle_loss_gradient(double *loss, double *loss_err, double *grad, double *abserr,
                            double *dx, ga_oracle_stats *stats, ga_error *err, const ga_net *net,
                            const double *params, const double *x, const double *y, size_t batch,
                            const ga_oracle_options *opt);

/* ga_oracle_route_a on entry i. */
int ga_oracle_fd_entry(double *g, double *abserr, ga_oracle_stats *stats, ga_error *err,
                       const ga_net *net, const double *params, const double *x,
                       const double *y, size_t batch, size_t i,
                       const ga_oracle_options *opt);

/* GA_ORACLE_GRADIENT, then ga_oracle_cross_check_against its gradient on
 * count entries drawn from seed (opt's cross_count and cross_seed are not
 * read). */
int ga_oracle_cross_check(size_t *mismatches, size_t *checked, ga_error *err,
                          const ga_net *net, const double *params, const double *x,
                          const double *y, size_t batch, size_t count, uint64_t seed,
                          const ga_oracle_options *opt);

/* ---- the Ziv loop's two steps, for every MPFR reference in the project -- */
/* e = |hi - lo| (+ 2^-p |hi| when some operation was inexact): the error
 * bound of hi, computed at p + GAP bits, from the same computation at p bits
 * (lo); infinite when either is not a number. f: scratch. */
void ga_oracle_two_prec_error(mpfr_ptr e, mpfr_srcptr hi, mpfr_srcptr lo, long p, int inexact,
                              mpfr_ptr f);
/* 1 when every number of [v - e, v + e] rounds to the same double (to
 * nearest), which *out receives; else 0 and *out = v rounded. *abserr (if
 * not NULL) bounds |exact - *out| given |exact - v| <= e. lo, hi: scratch. */
int ga_oracle_settle(double *out, double *abserr, mpfr_srcptr v, mpfr_srcptr e, mpfr_ptr lo,
                     mpfr_ptr hi);

/* What is known of a computed v against the exact value it stands for:
 * equal, strictly below it, strictly above it, or nothing (orc_passes.c says
 * how the passes know it, from MPFR's ternary values). */
enum { GA_DIR_BELOW = -1, GA_DIR_EXACT = 0, GA_DIR_ABOVE = 1, GA_DIR_UNKNOWN = 2 };

/* ga_oracle_settle knowing also on which side of v the exact value lies
 * (dir, as above): v - e <= exact < v for GA_DIR_ABOVE, v < exact <= v + e
 * for GA_DIR_BELOW. With e = 0 and GA_DIR_EXACT, v itself rounded to nearest,
 * ties to even: an exact value settles whatever it is (a tie, a double, 0);
 * a strict dir settles v on a rounding boundary to the side it tells. */
int ga_oracle_settle_dir(double *out, double *abserr, mpfr_srcptr v, mpfr_srcptr e, int dir,
                         mpfr_ptr lo, mpfr_ptr hi);

#endif
