/* test_diff.c: core/ga_diff.h's differences and tableau, and its MPFR
 * instance (oracle/ga_diff_mpfr.h), against values derived by hand.
 *
 * Exact cases: on a polynomial with a dyadic x and step every evaluation and
 * quotient is exact in double, so the truncation error is known exactly:
 *   forward on x^2:  (f(x+h) - f(x)) / h       = 2x + h
 *   central on x^3:  (f(x+h) - f(x-h)) / 2h    = 3x^2 + h^2    (h^2 f'''/6)
 * and the tableau on rows D(h_r) = d + c h_r^2 returns d exactly at its
 * second row. Inexact cases (exp, sin, with and without added noise) check
 * that the estimates are honest: |value - exact| <= trunc + round.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ga_diff.h"
#include "ga_diff_mpfr.h"
#include "ga_random.h"

/* ---- objectives ------------------------------------------------------------ */
typedef enum { F_SQUARE, F_CUBE, F_QUARTIC, F_EXP, F_SIN } fkind;

typedef struct {
    fkind kind;
    double noise;  /* added noise of at most this size, reported in fx_err */
    size_t evals;
    size_t fail_at; /* evaluation (1-based) that fails with status 42; 0: none */
} objective;

static double f_value(fkind k, double x)
{
    switch (k) {
    case F_SQUARE: return x * x;
    case F_CUBE: return x * x * x;
    case F_QUARTIC: return (x * x) * (x * x);
    case F_EXP: return exp(x);
    default: return sin(x);
    }
}

static double f_deriv(fkind k, double x)
{
    switch (k) {
    case F_SQUARE: return 2 * x;
    case F_CUBE: return 3 * x * x;
    case F_QUARTIC: return 4 * x * x * x;
    case F_EXP: return exp(x);
    default: return cos(x);
    }
}

/* noise in [-noise, noise], a fixed function of x's bits (seed: the bits) */
static double noise_at(double x, double noise)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    double u = (double)(ga_splitmix64(&b) >> 11) * 0x1p-53;
    return noise * (2 * u - 1);
}

static int eval(double *fx, double *fx_err, double x, void *p)
{
    objective *o = p;
    if (++o->evals == o->fail_at)
        return 42;
    double v = f_value(o->kind, x);
    *fx = v + noise_at(x, o->noise);
    /* libm's exp and sin are within 1 ulp; the polynomials' two or three
     * roundings within 2 u |f|; the sum with the noise within u |fx| */
    *fx_err = o->noise + 0x1p-51 * fabs(v) + 0x1p-53 * fabs(*fx);
    return 0;
}

/* ---- exact truncation ------------------------------------------------------- */
Test(diff, forward_on_a_square_is_off_by_h_exactly)
{
    objective o = {F_SQUARE, 0, 0, 0};
    ga_diff_fn fn = {eval, &o};
    ga_diff_result r;
    double h = 0x1p-4;
    cr_assert_eq(ga_diff_forward(&r, &fn, 1.0, 1.0, 0.0, h), 0);
    /* D(h) = 2 + h, D(h/2) = 2 + h/2: the estimate 2 |D(h) - D(h/2)| = h is
     * the error itself */
    cr_assert_eq(r.value, 2 + h, "value %a", r.value);
    cr_assert_eq(r.trunc, h, "trunc %a", r.trunc);
    cr_assert_eq(r.h, h);
    cr_assert_eq(o.evals, 2, "f(x) is the caller's: two evaluations, not %zu", o.evals);
}

Test(diff, central_on_a_cube_is_off_by_h2_exactly)
{
    objective o = {F_CUBE, 0, 0, 0};
    ga_diff_fn fn = {eval, &o};
    ga_diff_result r;
    double h = 0x1p-4;
    cr_assert_eq(ga_diff_central(&r, &fn, 1.0, h), 0);
    /* h^2 f'''/6 = h^2: D(h) = 3 + 2^-8, D(h/2) = 3 + 2^-10, and
     * (4/3) (3/4) 2^-8 is 2^-8 up to the rounding of 4/3 */
    cr_assert_eq(r.value, 3 + 0x1p-8, "value %a", r.value);
    cr_assert(fabs(r.trunc - 0x1p-8) <= 0x1p-60, "trunc %a, not h^2 = 2^-8", r.trunc);
    cr_assert_eq(r.h, h);
    cr_assert_eq(o.evals, 4);
}

Test(diff, five_point_is_exact_on_a_quartic)
{
    /* the 5-point rule's truncation is h^4 f^(5) / 30 (GSL's r5): 0 on
     * degree 4; what remains is rounding at the smaller step GSL moves to
     * (it sizes the step for the 3-point rule's error, h ~ (u / f''')^(1/3)):
     * about u / h ~ 1e-11, and the claim must cover it */
    objective o = {F_QUARTIC, 0, 0, 0};
    ga_diff_fn fn = {eval, &o};
    ga_diff_result r;
    cr_assert_eq(ga_diff_5point(&r, &fn, 1.0, 0x1p-3), 0);
    cr_assert(fabs(r.value - 4.0) <= r.trunc + r.round, "value %a, trunc %g, round %g", r.value,
              r.trunc, r.round);
    cr_assert(r.trunc + r.round <= 1e-9, "claim %g", r.trunc + r.round);
}

Test(diff, tableau_removes_the_h2_term_exactly)
{
    /* rows D(h_r) = 1 + 4^-r (h_r = 2^-r, ratio 4): a[1][1] = (4 (1 + 1/4)
     * - 2) / 3 = 1, and every later extrapolation too */
    ga_diff_tableau t;
    ga_diff_tableau_init(&t, 4, 4.0, GA_DIFF_SAFE);
    int stop = 0;
    for (int r = 0; r < 4 && !stop; r++)
        stop = ga_diff_tableau_add(&t, 1 + ldexp(1.0, -2 * r), 1.0);
    cr_assert(stop, "4 rows of 4: full");
    cr_assert_eq(t.ans, 1.0, "ans %a", t.ans);
    /* the rounding column: (4 ro + ro) / 3 = 5/3 at a[1][r], the weights in
     * absolute value */
    cr_assert_eq(t.ro[1][1], 5.0 / 3.0);
    cr_assert(t.ans_round >= 5.0 / 3.0, "ans_round %g", t.ans_round);
}

Test(diff, ridders_stops_when_the_diagonal_grows)
{
    /* an exact row, then rows that wander by 1: the stop fires at row 2 */
    ga_diff_tableau t;
    ga_diff_tableau_init(&t, GA_DIFF_NTAB, 4.0, GA_DIFF_SAFE);
    cr_assert_eq(ga_diff_tableau_add(&t, 1.0, 0.0), 0);
    cr_assert_eq(ga_diff_tableau_add(&t, 1.0, 0.0), 1, "a[1][1] = 1 after a[0][0] = 1: best 0, "
                                                     "and |a11 - a00| = 0 >= 2 * 0 stops");
    cr_assert_eq(t.rows, 2);
    cr_assert_eq(t.ans, 1.0);
    cr_assert_eq(t.best, 0.0);
}

/* ---- honesty on smooth functions ------------------------------------------------ */
typedef struct {
    fkind kind;
    double x, noise;
    int method; /* 0 forward, 1 central, 2 5-point, 3 Ridders, 4/5 one-sided right/left */
} honest_case;

static honest_case honest_cases[] = {
    {F_EXP, 0.0, 0, 0},    {F_EXP, 0.0, 0, 1},    {F_EXP, 0.0, 0, 2},    {F_EXP, 0.0, 0, 3},
    {F_EXP, 0.0, 0, 4},    {F_EXP, 0.0, 0, 5},    {F_SIN, 1.0, 0, 0},    {F_SIN, 1.0, 0, 1},
    {F_SIN, 1.0, 0, 2},    {F_SIN, 1.0, 0, 3},    {F_SIN, 1.0, 0, 4},    {F_SIN, 1.0, 0, 5},
    {F_EXP, 2.5, 1e-9, 0}, {F_EXP, 2.5, 1e-9, 1}, {F_EXP, 2.5, 1e-9, 2}, {F_EXP, 2.5, 1e-9, 3},
    {F_SIN, -3.0, 1e-6, 1}, {F_SIN, -3.0, 1e-6, 3}, {F_SIN, -3.0, 1e-6, 4},
};

ParameterizedTestParameters(diff, estimates_are_honest)
{
    return cr_make_param_array(honest_case, honest_cases,
                               sizeof honest_cases / sizeof honest_cases[0]);
}

ParameterizedTest(honest_case *c, diff, estimates_are_honest)
{
    static const char *const names[] = {"forward", "central", "5-point", "ridders", "right",
                                        "left"};
    objective o = {c->kind, c->noise, 0, 0};
    ga_diff_fn fn = {eval, &o};
    ga_diff_result r;
    double fx, fe;
    eval(&fx, &fe, c->x, &o);
    double eta = fe / fabs(fx), s = ga_diff_scale(c->x);
    int status;
    switch (c->method) {
    case 0: status = ga_diff_forward(&r, &fn, c->x, fx, fe, ga_diff_step_forward(eta, s)); break;
    case 1: status = ga_diff_central(&r, &fn, c->x, ga_diff_step_central(eta, s)); break;
    case 2: status = ga_diff_5point(&r, &fn, c->x, ga_diff_step_5point(eta, s)); break;
    case 3: status = ga_diff_ridders(&r, &fn, c->x, GA_DIFF_H_RIDDERS * s, 0); break;
    default:
        status = ga_diff_ridders(&r, &fn, c->x, GA_DIFF_H_ONE_SIDED * s, c->method == 4 ? 1 : -1);
    }
    cr_assert_eq(status, 0);
    double exact = f_deriv(c->kind, c->x), e = fabs(r.value - exact);
    cr_assert(isfinite(r.trunc) && isfinite(r.round) && r.trunc >= 0 && r.round > 0,
              "%s: trunc %g round %g", names[c->method], r.trunc, r.round);
    cr_expect(e <= r.trunc + r.round,
              "%s at x = %g (noise %g): |value - f'| = %.3g > trunc %.3g + round %.3g",
              names[c->method], c->x, c->noise, e, r.trunc, r.round);
    /* and not vacuous: the claim is within 1e4 of the error or of the
     * rounding a step can reach at all (eta^(2/3) for central differences) */
    cr_expect(r.trunc + r.round <= 1e4 * (e + pow(eta, 2.0 / 3.0) * fabs(exact)),
              "%s: claim %.3g for an error %.3g", names[c->method], r.trunc + r.round, e);
}

/* ---- status ------------------------------------------------------------------ */
Test(diff, a_failing_objective_stops_every_method)
{
    for (int m = 0; m < 5; m++) {
        objective o = {F_EXP, 0, 0, 2};
        ga_diff_fn fn = {eval, &o};
        ga_diff_result r;
        int status = m == 0   ? ga_diff_forward(&r, &fn, 0.0, 1.0, 0.0, 1e-3)
                     : m == 1 ? ga_diff_central(&r, &fn, 0.0, 1e-3)
                     : m == 2 ? ga_diff_5point(&r, &fn, 0.0, 1e-3)
                     : m == 3 ? ga_diff_ridders(&r, &fn, 0.0, 1e-2, 0)
                              : ga_diff_ridders(&r, &fn, 0.0, 1e-2, 1);
        cr_assert_eq(status, 42, "method %d: status %d", m, status);
        cr_assert_eq(o.evals, 2, "method %d: %zu evaluations, none after the failure", m, o.evals);
    }
}

/* ---- the MPFR instance is the same algorithm ------------------------------------ */
Test(diff, mpfr_tableau_at_53_bits_matches_double)
{
    enum { N = 8 };
    mpfr_t a[N * N], best, ans, s1, s2, et;
    for (int k = 0; k < N * N; k++)
        mpfr_init2(a[k], 53);
    mpfr_inits2(53, best, ans, s1, s2, et, (mpfr_ptr)0);
    ga_diff_tableau_mpfr tm;
    ga_diff_tableau_mpfr_init(&tm, N, a, best, ans, s1, s2, et);
    ga_diff_tableau td;
    ga_diff_tableau_init(&td, N, 4.0, GA_DIFF_SAFE);
    /* rows of exp'(0.3) by central differences at h = 2^-(3 + r) in double:
     * the same inputs, and every operation of the extrapolation is one
     * rounding to 53 bits in both (x 4^j exact, - and / 3, 15, ... rounded) */
    int stop_d = 0, stop_m = 0;
    for (int r = 0; r < N && !stop_d; r++) {
        double h = ldexp(1.0, -3 - r);
        double d = (exp(0.3 + h) - exp(0.3 - h)) / (2 * h);
        td.a[0][r] = d;
        td.ro[0][r] = 0.0;
        ga_diff_tableau_push(&td);
        stop_d = ga_diff_tableau_stop(&td);
        mpfr_set_d(a[r], d, MPFR_RNDN);
        ga_diff_tableau_mpfr_push(&tm);
        stop_m = ga_diff_tableau_mpfr_stop(&tm);
        cr_assert_eq(stop_d, stop_m, "row %d: stop %d vs %d", r, stop_d, stop_m);
        cr_assert_eq(mpfr_get_d(ans, MPFR_RNDN), td.ans, "row %d: %a vs %a", r,
                     mpfr_get_d(ans, MPFR_RNDN), td.ans);
        cr_assert_eq(tm.ans_row, td.ans_row);
    }
    /* the estimate: MPFR rounds the changes away from zero, so it is at
     * least double's */
    cr_assert(mpfr_get_d(best, MPFR_RNDN) >= td.best);
    cr_assert(fabs(td.ans - exp(0.3)) <= 4 * td.best + 1e-15, "%.3g vs estimate %.3g",
              fabs(td.ans - exp(0.3)), td.best);
    for (int k = 0; k < N * N; k++)
        mpfr_clear(a[k]);
    mpfr_clears(best, ans, s1, s2, et, (mpfr_ptr)0);
}

/* The one-sided MPFR tableau (ratio 2, a kink's slopes in lib/ga_problem.c)
 * on f(x) = x^2 at x = 3/4, steps h_r = 2^-(3 + r), all exact at 53 bits:
 *   right: (f(x + h) - f(x)) / h = 2x + h,  left: (f(x) - f(x - h)) / h = 2x - h,
 * so a[1][1] = (2 a[0][1] - a[0][0]) / (2 - 1) = 2x = 3/2 exactly, with the
 * estimate max(|a11 - a01|, |a11 - a00|) = h_0 = 1/8; and the total at row
 * 1 (k = 4) with eps = 2^-40 is 4 / 8 + 2^5 2^-40 2^4 = 1/2 + 2^-31 (the
 * central tableau's would be 1/2 + 2 2^-40 2^4 = 1/2 + 2^-35). */
Test(diff, mpfr_one_sided_tableau_by_hand)
{
    enum { N = 4 };
    mpfr_t a[N * N], best, ans, s1, s2, et, f0, fh, eps, tot, tmp;
    for (int k = 0; k < N * N; k++)
        mpfr_init2(a[k], 53);
    mpfr_inits2(53, best, ans, s1, s2, et, f0, fh, eps, tot, tmp, (mpfr_ptr)0);
    const double x = 0.75;
    mpfr_set_d(f0, x * x, MPFR_RNDN);
    mpfr_set_ui_2exp(eps, 1, -40, MPFR_RNDN);
    for (int side = 1; side >= -1; side -= 2) {
        ga_diff_tableau_mpfr t;
        ga_diff_tableau_mpfr_init(&t, N, a, best, ans, s1, s2, et);
        t.ratio_log2 = GA_DIFF_RATIO_LOG2_MPFR_ONE_SIDED;
        for (long r = 0; r < 2; r++) {
            long k = 3 + r;
            double h = ldexp(1.0, (int)-k);
            mpfr_set_d(fh, (x + side * h) * (x + side * h), MPFR_RNDN);
            if (side > 0)
                ga_diff_mpfr_quotient(a[r], fh, f0, k + 1);
            else
                ga_diff_mpfr_quotient(a[r], f0, fh, k + 1);
            cr_assert_eq(mpfr_get_d(a[r], MPFR_RNDN), 2 * x + side * h, "side %d row %ld", side, r);
            ga_diff_tableau_mpfr_push(&t);
        }
        cr_expect_eq(mpfr_get_d(ans, MPFR_RNDN), 1.5, "side %d: %a", side, mpfr_get_d(ans, MPFR_RNDN));
        cr_expect_eq(mpfr_get_d(best, MPFR_RNDN), 0.125, "side %d", side);
        cr_expect_eq(t.ans_row, 1);
        ga_diff_mpfr_total(tot, &t, eps, 4, tmp);
        cr_expect_eq(mpfr_get_d(tot, MPFR_RNDN), 0.5 + 0x1p-31, "side %d: %a", side,
                     mpfr_get_d(tot, MPFR_RNDN));
        t.ratio_log2 = GA_DIFF_RATIO_LOG2_MPFR;
        ga_diff_mpfr_total(tot, &t, eps, 4, tmp);
        cr_expect_eq(mpfr_get_d(tot, MPFR_RNDN), 0.5 + 0x1p-35);
    }
    for (int k = 0; k < N * N; k++)
        mpfr_clear(a[k]);
    mpfr_clears(best, ans, s1, s2, et, f0, fh, eps, tot, tmp, (mpfr_ptr)0);
}
