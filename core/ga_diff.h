/* ga_diff.h: finite differences of a plain objective, each returning its
 * estimate with the truncation and rounding parts of its error kept apart
 * (as GSL's deriv/: gsl_deriv_central(f, x, h, &result, &abserr)).
 *
 * The objective is a function pointer and a void * (gsl_function), but it
 * returns a status, so a failing evaluation (a forward pass, a user's
 * callback) stops the difference and its status is returned; and it reports
 * a bound on its own rounding error, which the routines carry to the
 * derivative: each value is taken to be off by at most the largest bound
 * the objective reported so far in the call (E), so a difference of two
 * values by 2E.
 *
 * The extrapolation tableau (Ridders 1982; Richardson in powers of the
 * step) is written once, in ga_diff_tableau_source.c, and compiled for
 * double here and for MPFR in oracle/ga_diff_mpfr.c (GSL's templates_on.h /
 * templates_off.h idiom: ga_diff_templates_on.h names the type's
 * operations). Callers whose difference quotient has its own rounding model
 * (a directional derivative, a user's callbacks, the MPFR oracle) feed the
 * tableau rows themselves; the routines below feed it from the objective.
 */
#ifndef GA_DIFF_H
#define GA_DIFF_H

#include <stddef.h>

#include "ga_core.h" /* GA_U, the unit roundoff of double: a quotient's own rounding is u |D| */

/* ---- the constants, each with its reason --------------------------------- */
/* Rows of a double tableau. With the shrink 1.4 the steps span a factor
 * 1.4^9 = 21: below that rounding (E / h) grows faster than extrapolation
 * gains, and Ridders' stop ends the tableau earlier anyway. */
#define GA_DIFF_NTAB 10
/* The largest tableau any caller asks for (the MPFR oracle's). */
#define GA_DIFF_NTAB_MAX 12
/* Step shrink between rows of a central tableau (Numerical Recipes' dfridr
 * CON): the error is a series in h^2, so rows differ by a factor 1.96 in it;
 * a smaller shrink wastes rows, a larger one reaches rounding in few rows. */
#define GA_DIFF_CON 1.4
/* Step shrink of a one-sided tableau: its error is a series in h (not h^2),
 * so halving gives the same factor 2 between rows as 1.4 does centrally. */
#define GA_DIFF_CON_ONE_SIDED 2.0
/* Ridders' stop: when the diagonal moves by more than SAFE times the best
 * error so far, rounding has taken over and more rows only add noise
 * (dfridr's SAFE). Also the factor of the MPFR tableaux (as 2^1). */
#define GA_DIFF_SAFE 2.0
/* First step of a central Ridders tableau, relative to max(|x|, 1): large
 * enough that the tableau's 10 rows end above rounding, small enough that a
 * network's loss is near its Taylor polynomial (checks/ga_fd.c). */
#define GA_DIFF_H_RIDDERS 1e-2
/* First step of a one-sided tableau at a kink, relative to max(|x|, 1):
 * smaller than the central one, so fewer other kinks lie within reach. */
#define GA_DIFF_H_ONE_SIDED 1e-3
/* The library's Ridders reference (lib/ga_problem.c) starts from
 * GA_DIFF_H_STARTS steps 0.1 s, 0.1 s / 8, ...: a user's loss has no known
 * scale, so several first steps are cross-examined instead of trusting one. */
#define GA_DIFF_H_FIRST_START 0.1
#define GA_DIFF_H_START_SHRINK 8
#define GA_DIFF_H_STARTS 4
/* Its one-sided slopes at a kink start from GA_DIFF_H_ONE_SIDED_STARTS
 * steps 8 GA_DIFF_H_ONE_SIDED s and GA_DIFF_H_ONE_SIDED s, 10 rows halving
 * each (to 2e-6 s). Two starts, because one tableau can end early (Ridders'
 * stop) with an estimate 10 to 39 times too small (tanh(10 x)), and two
 * disjoint one-sided intervals at a smooth point would be taken for a kink.
 * Not more nor smaller: a tableau whose steps resolve a kink nearer than the
 * central reference's can (down to ~1e-5 s) measures the same slope on both
 * sides, and the central reference's false FAIL then stands (lib/
 * test_problem.c's near kinks: 3 of 50 cases with 1e-3 s and 1.25e-4 s,
 * 11 with four starts from 1e-3 s, none with these); nor larger: from
 * 6.4e-2 s and 8e-3 s one smooth entry of its tanh losses was a kink. */
#define GA_DIFF_H_ONE_SIDED_STARTS 2
/* Rows of the MPFR tableaux. The oracle's route (a) on a network
 * (oracle/orc_route_a.c) steps 2^-k0 .. 2^-(k0+11) with k0 = p/3, and its Ziv
 * loop settles most entries within 12 rows at the first precision; the
 * library's on a user's loss_mpfr steps from 2^-(p/8) and stops at 10, the
 * precision doubling instead (a callback's evaluations cost more than a
 * row). Both ratios are 4 (steps halve, error in h^2), exact in MPFR. */
#define GA_DIFF_NTAB_ORACLE 12
#define GA_DIFF_NTAB_CALLBACK 10
#define GA_DIFF_RATIO_LOG2_MPFR 2
/* A one-sided MPFR tableau's ratio (a kink's slopes, lib/ga_problem.c): the
 * steps halve as in the central one, but the error is a series in h, so
 * rows differ by 2 in it (as GA_DIFF_CON_ONE_SIDED in double). */
#define GA_DIFF_RATIO_LOG2_MPFR_ONE_SIDED 1

/* Steps that balance truncation against rounding for a quotient whose
 * objective has relative noise eta (Numerical Recipes 2nd ed. sec. 5.7):
 * error ~ h^k f^(k+1) + eta / h is smallest near h ~ eta^(1/(k+1)):
 * forward (k = 1) sqrt(eta), central (k = 2) cbrt(eta), 5-point (k = 4)
 * eta^(1/5); each times the scale max(|x|, 1). */
double ga_diff_step_forward(double eta, double scale);
double ga_diff_step_central(double eta, double scale);
double ga_diff_step_5point(double eta, double scale);
/* max(|x|, 1) */
double ga_diff_scale(double x);

/* ---- the objective and the result ------------------------------------------ */
typedef struct {
    /* f(x) into *fx and a bound on its rounding error into *fx_err; 0 or a
     * status, which the routines return unchanged */
    int (*f)(double *fx, double *fx_err, double x, void *params);
    void *params;
} ga_diff_fn;

typedef struct {
    double value;   /* the estimate of f'(x) */
    double trunc;   /* its truncation (extrapolation) error estimate */
    double round;   /* its rounding error estimate: 2E / step through the weights + u |value| */
    double h;       /* the step the value came from */
} ga_diff_result;

/* The bare central quotient (f(x+h) - f(x-h)) / hd, hd = (x+h) - (x-h) exact
 * (a step sweep's points). */
int ga_diff_quotient(double *d, double *hd, const ga_diff_fn *fn, double x, double h);
/* Forward difference (f(x+h) - f(x)) / h; trunc from the half step:
 * D(h) - D(h/2) ~ c h / 2, so trunc = 2 |D(h) - D(h/2)|. fx = f(x) with its
 * error bound fx_err (the caller has the value at the point). */
int ga_diff_forward(ga_diff_result *r, const ga_diff_fn *fn, double x, double fx, double fx_err,
                    double h);
/* Central difference (f(x+h) - f(x-h)) / 2h; trunc from the half step:
 * D(h) - D(h/2) ~ (3/4) c h^2, so trunc = (4/3) |D(h) - D(h/2)|. */
int ga_diff_central(ga_diff_result *r, const ga_diff_fn *fn, double x, double h);
/* The 5-point rule (4/3 (f(x+h/2) - f(x-h/2)) - 1/6 (f(x+h) - f(x-h))) / h
 * with GSL's step refinement and estimate (gsl_deriv_central, called as is);
 * trunc = GSL's abserr, round = (2 4/3 + 2 1/6) E / h_min for the smallest
 * step GSL used, plus u |value|; h = that step. */
int ga_diff_5point(ga_diff_result *r, const ga_diff_fn *fn, double x, double h);
/* Ridders' extrapolated differences from the first step h: side 0 central
 * (shrink GA_DIFF_CON, error in h^2), side +1 / -1 one-sided to the right /
 * left (shrink GA_DIFF_CON_ONE_SIDED, error in h; evaluates f(x) first).
 * trunc = the tableau's estimate (|value| when it has none). */
int ga_diff_ridders(ga_diff_result *r, const ga_diff_fn *fn, double x, double h, int side);

/* ---- the tableau, for callers that form the rows themselves ---------------- */
/* Neville's tableau a[j][r]: row r the difference at step h_r = h_0 / con^r,
 * a[j][r] = (R^j a[j-1][r] - a[j-1][r-1]) / (R^j - 1) with R the error's
 * ratio between rows (con^2 central, con one-sided). The value is the entry
 * whose larger change against its two parents (the estimate, best) is
 * smallest; its rounding is the rows' rounding bounds ro[0][r] carried
 * through the same weights in absolute value. */
typedef struct {
    size_t ntab;     /* rows at most (<= GA_DIFF_NTAB_MAX) */
    size_t rows;     /* rows added */
    double ratio;    /* R */
    double safe;     /* Ridders' stop factor */
    double a[GA_DIFF_NTAB_MAX][GA_DIFF_NTAB_MAX];  /* (ntab, ntab) a[j][r] */
    double ro[GA_DIFF_NTAB_MAX][GA_DIFF_NTAB_MAX]; /* (ntab, ntab) rounding bound of a[j][r] */
    double best;     /* the value's estimate; INFINITY before the second row */
    double ans;      /* the value */
    double ans_round;/* its rounding bound */
    size_t ans_row;  /* the row (step) it came from */
} ga_diff_tableau;

void ga_diff_tableau_init(ga_diff_tableau *t, size_t ntab, double ratio, double safe);
/* Adds the next row's difference a0 and its rounding bound ro0; returns 1
 * when the tableau should stop (Ridders' stop, or ntab rows added). */
int ga_diff_tableau_add(ga_diff_tableau *t, double a0, double ro0);
/* The template's steps (ga_diff_tableau_source.c), which _add is made of:
 * empty; extrapolate the row the caller put in a[0][rows]; Ridders' stop. */
void ga_diff_tableau_start(ga_diff_tableau *t);
void ga_diff_tableau_push(ga_diff_tableau *t);
int ga_diff_tableau_stop(ga_diff_tableau *t);

#endif
