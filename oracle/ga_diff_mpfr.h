/* ga_diff_mpfr.h: the extrapolation tableau of core/ga_diff.h in MPFR, for
 * the oracle's route (a) (oracle/orc_route_a.c) and the library's MPFR
 * reference on a user's loss (lib/ga_problem.c). The code is
 * core/ga_diff_tableau_source.c, instantiated in ga_diff_mpfr.c.
 *
 * The caller owns every variable (its Ziv loop sets their precision); the
 * steps halve (h_r = 2^-(k0 + r), ratio 4, GA_DIFF_RATIO_LOG2_MPFR), so the
 * extrapolation's scalings are exact. */
#ifndef GA_DIFF_MPFR_H
#define GA_DIFF_MPFR_H

#include <stddef.h>

#include <mpfr.h>

#include "ga_diff.h"

typedef struct {
    size_t ntab;               /* rows at most */
    size_t rows;               /* rows added */
    unsigned long ratio_log2;  /* R = 2^ratio_log2 */
    unsigned long safe_log2;   /* Ridders' stop factor 2^safe_log2 */
    mpfr_t *a;                 /* (ntab, ntab) a[j * ntab + r] */
    mpfr_ptr best;             /* the value's estimate (+Inf before the second row) */
    mpfr_ptr ans;              /* the value */
    mpfr_ptr s1, s2, et;       /* scratch */
    size_t ans_row;            /* the row the value came from */
} ga_diff_tableau_mpfr;

/* A tableau of ntab rows over the caller's variables, Ridders' stop at
 * GA_DIFF_SAFE, ratio 4; empty. A one-sided tableau sets ratio_log2 to
 * GA_DIFF_RATIO_LOG2_MPFR_ONE_SIDED before its first row. */
void ga_diff_tableau_mpfr_init(ga_diff_tableau_mpfr *t, size_t ntab, mpfr_t *a, mpfr_ptr best,
                               mpfr_ptr ans, mpfr_ptr s1, mpfr_ptr s2, mpfr_ptr et);
/* The template's steps (as ga_diff_tableau_start / _push / _stop): the row
 * r = t->rows is read from a[0 * ntab + r]. */
void ga_diff_tableau_mpfr_start(ga_diff_tableau_mpfr *t);
void ga_diff_tableau_mpfr_push(ga_diff_tableau_mpfr *t);
int ga_diff_tableau_mpfr_stop(ga_diff_tableau_mpfr *t);

/* d = (fp - fm) / 2h for h = 2^-k: one rounding (the subtraction), the
 * scaling exact. With k + 1 in place of k it is the one-sided quotient
 * (f(x + h) - f(x)) / h (fp, f0) or (f(x) - f(x - h)) / h (f0, fm). */
void ga_diff_mpfr_quotient(mpfr_ptr d, mpfr_srcptr fp, mpfr_srcptr fm, long k);
/* tot = 4 best + W eps / h, rounded up, for the row at h = 2^-k: the
 * tableau's estimate is a change between neighbouring entries, not a bound,
 * and 4 times it is the margin both MPFR users settle with. Errors eps of
 * each loss value reach a row's quotient at most eps / h (central: 2 eps /
 * 2h) or 2 eps / h (one-sided), and the extrapolation weights sum in
 * absolute value to prod_j (R^j+1)/(R^j-1): < 2 for R = 4, < 8.25 for R = 2
 * (3 x 5/3 x 9/7 x ... -> 8.2479). So W = 2 for the central tableau (ratio
 * 4) and W = 2^5 > 2 x 8.25 for the one-sided one (ratio 2). tmp: scratch. */
void ga_diff_mpfr_total(mpfr_ptr tot, const ga_diff_tableau_mpfr *t, mpfr_srcptr eps, long k,
                        mpfr_ptr tmp);

/* The bits that hold theta +- 2^-k exactly for every k in [k_first,
 * k_last] (a tableau's steps): from the carry above the larger of theta's
 * leading bit and 2^-k_first, down to the smaller of theta's last bit and
 * 2^-k_last. */
long ga_diff_mpfr_step_bits(double theta, long k_first, long k_last);

/* bracket = the doubles nearest the ends of [ans - tot, ans + tot] (an
 * unsettled tableau's last interval), NaN when either is not a number.
 * lo, hi: scratch. */
void ga_diff_mpfr_bracket(double bracket[2], mpfr_srcptr ans, mpfr_srcptr tot, mpfr_ptr lo,
                          mpfr_ptr hi);

/* A row's end, its quotient already in a[0 * ntab + r]: pushed; from the
 * second row on, tot = ga_diff_mpfr_total(eps, k) and the value settled
 * within it (ga_oracle_settle: *g, *abserr, may be NULL). 1 when settled,
 * -1 when Ridders' stop ends the tableau (higher order got worse than the
 * best by 2x), 0 for another row. Scratch: the tableau's s1, s2. */
int ga_diff_mpfr_row_settle(double *g, double *abserr, ga_diff_tableau_mpfr *t, mpfr_ptr tot,
                            mpfr_srcptr eps, long k);

#endif
