/* test_checker.c: the checker itself. Each finite-difference method's error
 * estimate is honest against the MPFR oracle; the step sweep tells a V from a
 * plateau; a wrong entry by (1 + 1e-9) is FAIL; NaN is never a pass; relu's
 * kink and its convention relu'(0) = 0; CSV output. Expected values come from
 * the oracle (MPFR) or from hand derivations written next to the test. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ga_check.h"
#include "ga_rounding.h"
#include "ga_randnet.h"

/* ---- a hand-built 1-1-1 relu net ----------------------------------------
 * x = 1, W1 = 1, b1 = beta, relu, W2 = 2, b2 = 0.5, identity, mse (sum), y = 0:
 *   z1 = 1 + beta, L = (2 relu(z1) + 0.5)^2.
 * For z1 > 0: dL/dz1 = 2 (2 z1 + 0.5) * 2, so at z1 -> 0+ the slope in W1 and
 * b1 is 2 * 0.5 * 2 = 2 (times x = 1); for z1 < 0 it is 0. With relu'(0) = 0
 * the analytic gradient at z1 = 0 is exactly 0 for W1 and b1. */
typedef struct {
    ga_layer_desc layers[2];
    ga_net *net;
    double x[1], y[1];
} tiny_net;

static void tiny_make(tiny_net *t, double beta)
{
    t->layers[0] = (ga_layer_desc){1, GA_ACT_RELU, 0.0};
    t->layers[1] = (ga_layer_desc){1, GA_ACT_IDENTITY, 0.0};
    ga_net_desc d = {GA_LAYOUT_COLUMN, 1, 2, t->layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_error err;
    cr_assert_eq(ga_net_alloc(&t->net, &err, &d), GA_OK, "%s", err.msg);
    double p[4] = {1.0, beta, 2.0, 0.5}; /* W1, b1, W2, b2 */
    memcpy(t->net->params, p, sizeof p);
    t->x[0] = 1.0;
    t->y[0] = 0.0;
}

static ga_check_report *run(const ga_net *net, const double *x, const double *y, size_t batch,
                            ga_check_method m, const double *analytic)
{
    ga_check_options o;
    ga_check_options_default(&o);
    o.method = m;
    o.analytic = analytic;
    ga_check_report *r = NULL;
    ga_error err;
    int st = ga_check_run(&r, &err, net, net->params, x, y, batch, &o);
    cr_assert_eq(st, GA_OK, "ga_check_run: %s", err.msg);
    return r;
}

/* A random 7-3-4 tanh net (row layout, mse, mean) from seed into *p, and its
 * check by the oracle method. */
static ga_check_report *tanh_checked(ga_randnet *p, uint32_t seed)
{
    ga_error err;
    cr_assert_eq(ga_randnet_make(p, &err, GA_LAYOUT_ROW, GA_ACT_TANH, GA_LOSS_MSE, GA_REDUCE_MEAN, 7,
                                 3, 4, 0.0, seed), GA_OK, "%s", err.msg);
    return run(p->net, p->x, p->y, p->batch, GA_CHECK_ORACLE, NULL);
}

Test(kink, relu_convention_at_exact_zero)
{
    tiny_net t;
    tiny_make(&t, -1.0); /* z1 = 1 + (-1) = 0 exactly */
    ga_workspace *ws;
    ga_error err;
    cr_assert_eq(ga_workspace_alloc(&ws, &err, t.net, 1), GA_OK);
    double g[4], L;
    cr_assert_eq(ga_loss_and_grad(&L, g, NULL, ws, t.net, t.net->params, t.x, t.y, 1), GA_OK);
    cr_assert_eq(ws->z[0][0], 0.0);
    /* relu'(0) = 0: no gradient flows to W1 and b1 */
    cr_assert_eq(g[0], 0.0, "dW1 = %.17g, expected exactly 0 by relu'(0) = 0", g[0]);
    cr_assert_eq(g[1], 0.0, "db1 = %.17g", g[1]);
    ga_workspace_free(ws);

    for (int m = GA_CHECK_ORACLE; m <= GA_CHECK_RIDDERS; m++) {
        ga_check_report *r = run(t.net, t.x, t.y, 1, (ga_check_method)m, NULL);
        cr_expect_eq(r->n_fail, 0, "method %s: %zu FAIL", ga_check_method_name(m), r->n_fail);
        for (size_t i = 0; i < 2; i++) {
            const ga_check_entry *e = &r->entries[i];
            cr_expect_eq(e->verdict, GA_VERDICT_KINK, "method %s %s: %s (%s)", ga_check_method_name(m),
                         e->name, ga_verdict_name(e->verdict), e->reason);
            cr_expect(strstr(e->reason, "z1[0]") && strstr(e->reason, "relu's kink"), "%s", e->reason);
            /* one-sided slopes from the hand derivation: 0 and 2 */
            cr_expect(fabs(e->slope_lo) < 1e-6 && fabs(e->slope_hi - 2.0) < 1e-6,
                      "%s slopes [%.17g, %.17g], expected [0, 2]", e->name, e->slope_lo, e->slope_hi);
        }
        ga_check_report_free(r);
    }
    ga_net_free(t.net);
}

/* Every sample at the kink (hand derivation): the tiny net's shape with
 * W1 = 0, b1 = 0, W2 = 2, b2 = 0.5, batch x = (1, -1), y = (0, 1), mse
 * (sum). z1 = 0 for both samples, z2 = 0.5, dL/dz2 = 2 (z2 - y) = (1, -1),
 * dL/da1 = (2, -2), and relu'(0) = 0 makes dW1 = db1 = 0 (and dW2 = 0,
 * db2 = 0). Moving W1 up wakes sample 0 (x = 1) only: slope 2 (1 * 2 * 1);
 * moving it down wakes sample 1 only: slope 2 again ((-1) * (-2) * 1). The
 * batch's one-sided slopes are [2, 2], and the correct 0 lies outside: each
 * sample's own slopes are [0, 2], whose sum [0, 4] holds it. Found by
 * fuzz/fuzz_check (a spec with W1 left at its default constant 0). */
Test(kink, every_sample_at_the_kink)
{
    tiny_net t;
    tiny_make(&t, 0.0);
    t.net->params[0] = 0.0; /* W1 */
    const double x[2] = {1.0, -1.0}, y[2] = {0.0, 1.0};
    for (int m = GA_CHECK_ORACLE; m < GA_CHECK_COUNT; m++) {
        ga_check_report *r = run(t.net, x, y, 2, (ga_check_method)m, NULL);
        const char *mn = ga_check_method_name(m);
        cr_expect_eq(r->n_fail, 0, "method %s: %zu FAIL", mn, r->n_fail);
        const ga_check_entry *w1 = &r->entries[0];
        cr_expect(w1->analytic == 0.0, "dW1 %.17g, by hand 0", w1->analytic);
        cr_expect_eq(w1->verdict, GA_VERDICT_KINK, "method %s: %s", mn, w1->reason);
        if (m == GA_CHECK_ORACLE) {
            /* the proven interval: each sample's branch taken either way, so
             * the per-sample hull [0, 4], widened by rounding only */
            cr_expect(fabs(w1->slope_lo) < 1e-12 && fabs(w1->slope_hi - 4.0) < 1e-12,
                      "proven interval [%.17g, %.17g], by hand [0, 4]", w1->slope_lo, w1->slope_hi);
            cr_expect(strstr(w1->reason, "z1[0,0] = 0 is exactly at relu's kink") != NULL &&
                          strstr(w1->reason, "within the proven interval") != NULL,
                      "%s", w1->reason);
        } else {
            cr_expect(fabs(w1->slope_lo - 2.0) < 1e-6 && fabs(w1->slope_hi - 2.0) < 1e-6,
                      "method %s: batch slopes [%.17g, %.17g], by hand [2, 2]", mn, w1->slope_lo,
                      w1->slope_hi);
            cr_expect(strstr(w1->reason, "one-sided slopes, summed: [0, 4]") != NULL,
                      "method %s: %s", mn, w1->reason);
        }
        ga_check_report_free(r);
    }
    ga_net_free(t.net);
}

Test(kink, near_kink_3e_9_is_kink_for_fd_and_pass_for_oracle)
{
    tiny_net t;
    tiny_make(&t, -1.0 + 3e-9); /* z1 = 3e-9 to rounding */
    ga_check_report *r = run(t.net, t.x, t.y, 1, GA_CHECK_CENTRAL, NULL);
    const ga_check_entry *e = &r->entries[0];
    cr_expect_eq(e->verdict, GA_VERDICT_KINK, "%s: %s", e->name, e->reason);
    cr_expect(strstr(e->reason, "z1[0] = 3e-09 is within the FD step of relu's kink") != NULL,
              "reason: %s", e->reason);
    cr_expect_eq(r->n_fail, 0);
    ga_check_report_free(r);
    /* the oracle's reach is the rounding bound of z1 (~1e-16), far below 3e-9 */
    r = run(t.net, t.x, t.y, 1, GA_CHECK_ORACLE, NULL);
    for (size_t i = 0; i < r->n_entries; i++)
        cr_expect_eq(r->entries[i].verdict, GA_VERDICT_PASS, "%s: %s", r->entries[i].name,
                     r->entries[i].reason);
    /* hand value: dL/dW1 = 2 (2 z1 + 0.5) 2 x = 2 + 8 z1 */
    double z1 = 1.0 + (-1.0 + 3e-9);
    cr_expect(fabs(r->entries[0].oracle - (2.0 + 8.0 * z1)) <= 4e-16, "oracle %.17g", r->entries[0].oracle);
    ga_check_report_free(r);
    ga_net_free(t.net);
}

Test(kink, wrong_value_at_kink_fails)
{
    tiny_net t;
    tiny_make(&t, -1.0);
    double g[4] = {3.0, 0.0, 0.0, 1.0}; /* dW1 = 3 lies outside the one-sided slopes [0, 2] */
    /* the true dW2 = 2 (2 relu(0) + 0.5) relu(0) = 0, db2 = 2 * 0.5 = 1 */
    ga_check_report *r = run(t.net, t.x, t.y, 1, GA_CHECK_ORACLE, g);
    cr_expect_eq(r->entries[0].verdict, GA_VERDICT_FAIL, "%s", r->entries[0].reason);
    cr_expect(strstr(r->entries[0].reason, "z1[0] = 0 is exactly at relu's kink") != NULL &&
                  strstr(r->entries[0].reason, "outside the proven interval") != NULL,
              "%s", r->entries[0].reason);
    /* the proven interval is the one-sided slopes [0, 2] by hand, widened by rounding */
    cr_expect(fabs(r->entries[0].slope_lo) < 1e-12 && fabs(r->entries[0].slope_hi - 2.0) < 1e-12,
              "[%.17g, %.17g]", r->entries[0].slope_lo, r->entries[0].slope_hi);
    cr_expect_eq(r->entries[1].verdict, GA_VERDICT_KINK);
    cr_expect_eq(r->entries[2].verdict, GA_VERDICT_PASS, "%s", r->entries[2].reason);
    cr_expect_eq(r->entries[3].verdict, GA_VERDICT_PASS, "%s", r->entries[3].reason);
    cr_expect_eq(r->n_fail, 1);
    ga_check_report_free(r);
    ga_net_free(t.net);
}

/* ---- the analytic bound catches a 1e-9 relative error --------------------- */
Test(verdict, one_entry_times_1_plus_1e_9_fails_against_oracle)
{
    const uint32_t seed = 4242;
    ga_randnet p;
    ga_check_report *r = tanh_checked(&p, seed);
    cr_assert_eq(r->n_fail, 0, "seed %u: the correct gradient fails", seed);
    /* the entry with the largest |g| / tol: where 1e-9 is easiest to see, and
     * every entry must have tol below 1e-9 |g| for the gate to catch this class */
    size_t best = 0;
    double best_q = 0.0;
    double *g = malloc(p.net->n_params * sizeof *g);
    cr_assert_not_null(g);
    for (size_t i = 0; i < r->n_entries; i++) {
        g[i] = r->entries[i].analytic;
        double q = fabs(g[i]) / r->entries[i].tol;
        if (q > best_q) {
            best_q = q;
            best = i;
        }
    }
    cr_assert_gt(best_q, 1e10, "seed %u: tol/|g| = %.3g is too loose to see 1e-9", seed, 1.0 / best_q);
    ga_check_report_free(r);
    g[best] *= 1.0 + 1e-9;
    r = run(p.net, p.x, p.y, p.batch, GA_CHECK_ORACLE, g);
    cr_expect_eq(r->n_fail, 1, "seed %u: %zu FAIL", seed, r->n_fail);
    cr_expect_eq(r->entries[best].verdict, GA_VERDICT_FAIL, "seed %u %s: %s", seed,
                 r->entries[best].name, r->entries[best].reason);
    cr_expect_eq(r->top[0], best, "the wrong entry heads the worst list");
    ga_check_report_free(r);
    free(g);
    ga_randnet_clear(&p);
}

/* A saturated sigmoid (fuzz/fuzz_check found it): x = 4, W1 = 0.5, b1 = 0.1,
 * relu, W2 = 0.8, b2 = 122, sigmoid, mse (sum), y = 0. z2 = 0.8 * 2.1 + 122
 * = 123.68 carries a rounding error of up to half an ulp (7e-15), and
 * s'(z2) = exp(-z2) / (1 + exp(-z2))^2 ~ 2.5e-54 moves by the same relative
 * amount: the core's (correct) gradient is off the exact one by about 36
 * ulps. The running bound must cover it through |s''(z2)| M(z2); it used to
 * compute s'' as s (1 - s) (1 - 2s), 0 once s rounds to 1, and the four
 * entries FAILed. Reference: the oracle; expected: no FAIL, and every
 * entry's error within its bound. */
Test(verdict, saturated_sigmoid_bound_covers_its_error)
{
    tiny_net t;
    tiny_make(&t, 0.1);
    t.layers[1] = (ga_layer_desc){1, GA_ACT_SIGMOID, 0.0};
    ga_net_free(t.net);
    ga_net_desc d = {GA_LAYOUT_COLUMN, 1, 2, t.layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_error err;
    cr_assert_eq(ga_net_alloc(&t.net, &err, &d), GA_OK, "%s", err.msg);
    const double p[4] = {0.5, 0.1, 0.8, 122.0};
    memcpy(t.net->params, p, sizeof p);
    const double x[1] = {4.0}, y[1] = {0.0};
    ga_check_report *r = run(t.net, x, y, 1, GA_CHECK_ORACLE, NULL);
    cr_expect_eq(r->n_fail, 0, "%zu FAIL", r->n_fail);
    for (size_t i = 0; i < 4; i++) {
        const ga_check_entry *e = &r->entries[i];
        cr_expect(fabs(e->analytic - e->oracle) <= e->bound, "%s: |analytic - oracle| %g over "
                  "its bound %g (%llu ulps)", e->name, fabs(e->analytic - e->oracle), e->bound,
                  (unsigned long long)e->ulps);
    }
    ga_check_report_free(r);
    ga_net_free(t.net);
}

/* Gradients near 1e-318 (a hand-built net, after the oracle's subnormal
 * case): x and W1 of about 1e-160 make every z, a and delta subnormal, where
 * a double's rounding error is absolute (up to 2^-1075), and the core's
 * correct gradient is 2-5 subnormal ulps off the exact one. Neither bound
 * carried it: the running bound is relative, and the Monte Carlo spread's
 * squares underflowed to 0. Reference: the oracle; expected: no FAIL, and
 * every entry's error within its bound. */
Test(verdict, subnormal_gradients_bound_covers_their_error)
{
    ga_layer_desc layers[3] = {{3, GA_ACT_IDENTITY, 0.0}, {2, GA_ACT_TANH, 0.0},
                               {1, GA_ACT_IDENTITY, 0.0}};
    ga_net_desc d = {GA_LAYOUT_COLUMN, 2, 3, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_MEAN, 0.0}};
    ga_net *net;
    ga_error err;
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    const double p[20] = {3.1e-160, 1.3e-160, -2.9e-160, 0.7e-160, 1.1e-160, 2.5e-160, /* W1 */
                          0, 1e-320, 0,                                             /* b1 */
                          1.7, -0.3, 0.9, 0.2, 1.1, -1.3,                           /* W2 */
                          0, 0,                                                     /* b2 */
                          0.7, -1.9,                                                /* W3 */
                          0};                                                       /* b3 */
    cr_assert_eq(net->n_params, 20);
    memcpy(net->params, p, sizeof p);
    const double x[4] = {3.3e-160, -1.7e-161, 2.2e-160, 4.1e-160}, y[2] = {0, 1e-319};
    ga_check_report *r = run(net, x, y, 2, GA_CHECK_ORACLE, NULL);
    cr_expect_eq(r->n_fail, 0, "%zu FAIL", r->n_fail);
    size_t subnormal = 0;
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        subnormal += e->oracle != 0 && fabs(e->oracle) < DBL_MIN;
        cr_expect(fabs(e->analytic - e->oracle) <= e->bound, "%s: |analytic - oracle| %g over "
                  "its bound %g (%llu ulps)", e->name, fabs(e->analytic - e->oracle), e->bound,
                  (unsigned long long)e->ulps);
    }
    cr_expect(subnormal >= 5, "only %zu subnormal entries: the net no longer tests underflow",
              subnormal);
    ga_check_report_free(r);
    /* The loss (~1e-637) underflows to 0 at the point and not a step away:
     * the finite differences cannot resolve these gradients, and their
     * rounding estimate must say so (it took the loss's rounding at the
     * point alone, and ridders FAILed six correct entries). */
    for (int m = GA_CHECK_CENTRAL; m < GA_CHECK_COUNT; m++) {
        r = run(net, x, y, 2, (ga_check_method)m, NULL);
        cr_expect_eq(r->n_fail, 0, "method %s: %zu FAIL", ga_check_method_name(m), r->n_fail);
        ga_check_report_free(r);
    }
    ga_net_free(net);
}

Test(verdict, nan_and_inf_are_never_a_pass)
{
    char why[128];
    cr_expect_eq(ga_compare(why, sizeof why, NAN, 1.0, 1.0), GA_VERDICT_FAIL);
    cr_expect(strstr(why, "NaN") != NULL, "%s", why);
    cr_expect_eq(ga_compare(why, sizeof why, NAN, NAN, INFINITY), GA_VERDICT_FAIL);
    cr_expect_eq(ga_compare(why, sizeof why, INFINITY, 1.0, INFINITY), GA_VERDICT_FAIL);
    cr_expect_eq(ga_compare(why, sizeof why, 1.0, NAN, 1.0), GA_VERDICT_FAIL);
    /* no bound, no verdict: a NaN tolerance is reported as not judgeable */
    cr_expect_eq(ga_compare(why, sizeof why, 1.0, 1.0, NAN), GA_VERDICT_UNJUDGEABLE);
    cr_expect(strstr(why, "not judgeable") != NULL, "%s", why);
    cr_expect_eq(ga_compare(why, sizeof why, 1.0, 1.0 + 0x1p-52, 0x1p-52), GA_VERDICT_PASS);
    cr_expect_eq(ga_compare(why, sizeof why, 1.0, 1.0 + 0x1p-51, 0x1p-52), GA_VERDICT_FAIL);

    const uint32_t seed = 7;
    ga_randnet p;
    ga_error err;
    cr_assert_eq(ga_randnet_make(&p, &err, GA_LAYOUT_COLUMN, GA_ACT_SIGMOID, GA_LOSS_BCE,
                                 GA_REDUCE_MEAN, 2, 2, 3, 0.0, seed), GA_OK, "%s", err.msg);
    double *g = calloc(p.net->n_params, sizeof *g);
    ga_workspace *ws;
    double L;
    cr_assert_eq(ga_workspace_alloc(&ws, &err, p.net, p.batch), GA_OK);
    cr_assert_eq(ga_loss_and_grad(&L, g, NULL, ws, p.net, p.net->params, p.x, p.y, p.batch), GA_OK);
    g[1] = NAN;
    ga_check_report *r = run(p.net, p.x, p.y, p.batch, GA_CHECK_ORACLE, g);
    cr_expect_eq(r->entries[1].verdict, GA_VERDICT_FAIL, "seed %u", seed);
    cr_expect(strstr(r->entries[1].reason, "NaN") != NULL, "%s", r->entries[1].reason);
    cr_expect_eq(r->n_fail, 1);
    ga_check_report_free(r);
    ga_workspace_free(ws);
    free(g);
    ga_randnet_clear(&p);
}

/* ---- honest finite-difference estimates ---------------------------------
 * Over many entries of smooth random nets, the true error of each method
 * (|fd - oracle|, the oracle correctly rounded) never exceeds the method's
 * own estimate (truncation + rounding), and the estimate is not vacuous: the
 * worst true/estimate ratio seen is above a floor. The loss noise is the
 * checker's: min(worst-case bound, LAMBDA times the Monte Carlo spread).
 * Measured over these 576 entries: worst ratio forward 0.34, central 0.51,
 * gsl 0.043, ridders 0.034; median 0.013, 0.011, 0.0074, 0.0039 (the
 * estimates are honest but cautious: the rounding part adds absolute
 * values through the extrapolation weights). */
typedef struct {
    ga_fd_method m;
    double floor;
} honest_case;

ParameterizedTestParameters(fd, estimate_is_honest)
{
    static honest_case cases[] = {
        {GA_FD_FORWARD, 0.1}, {GA_FD_CENTRAL, 0.1}, {GA_FD_GSL, 0.01}, {GA_FD_RIDDERS, 0.01}};
    return cr_make_param_array(honest_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(honest_case *c, fd, estimate_is_honest)
{
    const ga_activation acts[] = {GA_ACT_SIGMOID, GA_ACT_TANH, GA_ACT_SOFTPLUS, GA_ACT_IDENTITY};
    const ga_loss_kind losses[] = {GA_LOSS_MSE, GA_LOSS_BCE, GA_LOSS_SOFTMAX_CE, GA_LOSS_CCE};
    size_t entries = 0;
    double worst = 0.0;
    for (size_t ai = 0; ai < 4; ai++)
        for (size_t li = 0; li < 4; li++) {
            uint32_t seed = (uint32_t)(1000 + 10 * ai + li);
            ga_randnet p;
            ga_error err;
            cr_assert_eq(ga_randnet_make(&p, &err, (ga_layout)(seed % 2), acts[ai], losses[li],
                                         GA_REDUCE_MEAN, 5, 3, 3, 0.0, seed), GA_OK, "%s", err.msg);
            size_t P = p.net->n_params;
            double *o = malloc(P * sizeof *o), *oe = malloc(P * sizeof *oe);
            ga_oracle_options oo;
            ga_oracle_options_default(&oo);
            cr_assert_eq(ga_oracle_gradient(o, oe, NULL, NULL, &err, p.net, p.net->params, p.x, p.y,
                                            p.batch, &oo), GA_OK, "%s", err.msg);
            ga_bound *b;
            ga_workspace *ws;
            cr_assert_eq(ga_workspace_alloc(&ws, &err, p.net, p.batch), GA_OK);
            cr_assert_eq(ga_bound_alloc(&b, &err, p.net, p.batch), GA_OK);
            cr_assert_eq(ga_bound_compute(b, &err, ws, p.net, p.net->params, p.x, p.y, p.batch), GA_OK);
            /* the loss noise the checker uses: min(worst case, LAMBDA sigma_L) */
            ga_rounding *rd;
            cr_assert_eq(ga_rounding_alloc(&rd, &err, p.net, p.batch, GA_ROUNDING_RUNS), GA_OK);
            cr_assert_eq(ga_rounding_compute(rd, &err, p.net, p.net->params, p.x, p.y, p.batch, seed),
                         GA_OK, "%s", err.msg);
            double loss_err = fmin(b->loss_err, GA_ROUNDING_LAMBDA * rd->loss_sigma);
            ga_rounding_free(rd);
            ga_fd_ctx *fd;
            cr_assert_eq(ga_fd_ctx_alloc(&fd, &err, p.net, p.net->params, p.x, p.y, p.batch,
                                         loss_err), GA_OK, "%s", err.msg);
            for (size_t i = 0; i < P; i++) {
                ga_fd_result r;
                cr_assert_eq(ga_fd_entry(&r, &err, fd, c->m, i, 0.0), GA_OK, "%s", err.msg);
                double truth = fabs(r.value - o[i]) - oe[i], est = r.trunc + r.round;
                if (truth < 0)
                    truth = 0;
                char name[40];
                ga_param_name(name, sizeof name, p.net, i);
                cr_expect(truth <= est, "%s seed %u %s %s: true error %.3g > estimate %.3g "
                          "(trunc %.3g, round %.3g)", ga_fd_method_name(c->m), seed,
                          ga_activation_name(acts[ai]), name, truth, est, r.trunc, r.round);
                if (est > 0 && truth / est > worst)
                    worst = truth / est;
                entries++;
            }
            ga_fd_ctx_free(fd);
            ga_bound_free(b);
            ga_workspace_free(ws);
            free(o);
            free(oe);
            ga_randnet_clear(&p);
        }
    cr_expect_gt(entries, 500);
    cr_expect_geq(worst, c->floor, "%s: worst true/estimate %.3g: the estimate is vacuous",
                  ga_fd_method_name(c->m), worst);
}

/* ---- the sweep ----------------------------------------------------------- */
Test(sweep, v_for_correct_plateau_for_wrong)
{
    const ga_activation acts[] = {GA_ACT_SIGMOID, GA_ACT_TANH, GA_ACT_SOFTPLUS};
    size_t v = 0, plateau = 0, total = 0;
    for (size_t ai = 0; ai < 3; ai++) {
        uint32_t seed = (uint32_t)(77 + ai);
        ga_randnet p;
        ga_error err;
        cr_assert_eq(ga_randnet_make(&p, &err, GA_LAYOUT_COLUMN, acts[ai], GA_LOSS_MSE,
                                     GA_REDUCE_MEAN, 4, 2, 3, 0.0, seed), GA_OK);
        size_t P = p.net->n_params;
        double *g = malloc(P * sizeof *g), L;
        ga_workspace *ws;
        cr_assert_eq(ga_workspace_alloc(&ws, &err, p.net, p.batch), GA_OK);
        cr_assert_eq(ga_loss_and_grad(&L, g, NULL, ws, p.net, p.net->params, p.x, p.y, p.batch), GA_OK);
        ga_fd_ctx *fd;
        cr_assert_eq(ga_fd_ctx_alloc(&fd, &err, p.net, p.net->params, p.x, p.y, p.batch, 0.0), GA_OK);
        for (size_t i = 0; i < P; i++) {
            if (fabs(g[i]) < 1e-3)
                continue; /* a wrong factor on a tiny entry hides below rounding */
            ga_sweep s;
            cr_assert_eq(ga_fd_sweep(&s, &err, fd, i, g[i]), GA_OK);
            cr_expect_eq(s.shape, GA_SWEEP_V, "seed %u entry %zu correct: %s", seed, i, s.msg);
            v += s.shape == GA_SWEEP_V;
            cr_assert_eq(ga_fd_sweep(&s, &err, fd, i, g[i] * 1.01), GA_OK);
            cr_expect_eq(s.shape, GA_SWEEP_PLATEAU, "seed %u entry %zu x1.01: %s", seed, i, s.msg);
            plateau += s.shape == GA_SWEEP_PLATEAU;
            total++;
        }
        ga_fd_ctx_free(fd);
        ga_workspace_free(ws);
        free(g);
        ga_randnet_clear(&p);
    }
    cr_expect_gt(total, 20);
    cr_expect_eq(v, total);
    cr_expect_eq(plateau, total);
}

/* ---- report and CSV -------------------------------------------------------- */
Test(report, csv_header_quoting_and_round_trip)
{
    tiny_net t;
    tiny_make(&t, 0.25);
    ga_check_report *r = run(t.net, t.x, t.y, 1, GA_CHECK_CENTRAL, NULL);
    char dir[] = "/tmp/ga_test_csv_XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    ga_error err;
    cr_assert_eq(ga_check_report_write_csv(&err, r, path), GA_OK, "%s", err.msg);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    char line[2048];
    cr_assert(fgets(line, sizeof line, f));
    const char *head = "param,index,analytic,oracle,fd,abs_err,rel_err,ulps,tol,verdict,";
    cr_expect_eq(strncmp(line, head, strlen(head)), 0, "%s", line);
    /* one line ending for every gradaudit CSV: LF (core/ga_csv.h) */
    cr_expect(strchr(line, '\r') == NULL && strchr(line, '\n') != NULL, "line ends with LF only");
    cr_assert(fgets(line, sizeof line, f));
    /* "W1[0,0]" holds a comma: quoted; then index 0 and the analytic value in %.17g */
    cr_expect_eq(strncmp(line, "\"W1[0,0]\",0,", 12), 0, "%s", line);
    double a = strtod(line + 12, NULL);
    cr_expect_eq(a, r->entries[0].analytic, "%%.17g round trip: %.17g vs %.17g", a,
                 r->entries[0].analytic);
    size_t rows = 1;
    while (fgets(line, sizeof line, f))
        rows++;
    cr_expect_eq(rows, 4);
    fclose(f);

    /* an unwritable place: GA_EIO naming the path, and no file, not even a temporary */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/out.csv", dir);
    cr_expect_eq(ga_check_report_write_csv(&err, r, bad), GA_EIO);
    cr_expect(strstr(err.msg, bad) != NULL, "%s", err.msg);
    unlink(path);
    cr_expect_eq(rmdir(dir), 0, "directory left non-empty: a partial or temporary file remained");
    ga_check_report_free(r);
    ga_net_free(t.net);
}

/* A 1-2-1 column net whose double forward pass overflows (hand derivation):
 * x = 1e200, W1 = (1e200, 1e200), b1 = 0, relu, W2 = (1, -1), b2 = 0,
 * identity, mse (sum), y = 0.5. Exactly z1 = (1e400, 1e400), z2 = 0, L =
 * 0.25, dL/dz2 = -1, dW2 = (-1e400, 1e400) (rounding to -inf, +inf), db2 =
 * -1, db1 = (-1, 1), dW1 = (-1e200, 1e200). In double z1 = inf, z2 = inf -
 * inf = NaN, and every analytic entry is NaN: each FAILs, and the report
 * says the double pass overflowed, not that a formula is wrong. */
static ga_net *overflow_net(double *x, double *y, const double p[7])
{
    ga_layer_desc layers[2] = {{2, GA_ACT_RELU, 0.0}, {1, GA_ACT_IDENTITY, 0.0}};
    ga_net_desc d = {GA_LAYOUT_COLUMN, 1, 2, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net;
    ga_error err;
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    memcpy(net->params, p, 7 * sizeof *p); /* W1 (2,1), b1 (2), W2 (1,2), b2 */
    x[0] = 1e200;
    y[0] = 0.5;
    return net;
}

static char *printed(const ga_check_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(ga_check_report_print(f, r), GA_OK);
    fclose(f);
    return buf;
}

Test(report, double_overflow_to_nan_is_named)
{
    double x[1], y[1];
    ga_net *net = overflow_net(x, y, (const double[7]){1e200, 1e200, 0, 0, 1, -1, 0});
    ga_check_report *r = run(net, x, y, 1, GA_CHECK_ORACLE, NULL);
    cr_expect(isnan(r->loss) && r->loss_oracle == 0.25, "loss %g, oracle %g", r->loss,
              r->loss_oracle);
    const double ref[7] = {-1e200, 1e200, -1, 1, -INFINITY, -INFINITY, -1};
    for (size_t i = 0; i < 7; i++) {
        const ga_check_entry *e = &r->entries[i];
        cr_expect(e->oracle == ref[i], "%s: oracle %g, by hand %g", e->name, e->oracle, ref[i]);
        cr_expect_eq(e->verdict, GA_VERDICT_FAIL, "%s", e->name);
        cr_expect(strstr(e->reason, "analytic gradient is NaN (the double loss is NaN: the double "
                                    "pass overflowed)") != NULL, "%s: %s", e->name, e->reason);
    }
    char *out = printed(r);
    cr_expect(strstr(out, "loss NaN (oracle 0.25, no ulp distance to a NaN)") != NULL, "%s", out);
    cr_expect(strstr(out, "the double forward pass overflows (loss NaN)") != NULL, "%s", out);
    cr_expect(strstr(out, "nan") == NULL, "a NaN printed as printf's nan or -nan: %s", out);
    free(out);
    ga_check_report_free(r);
    ga_net_free(net);
}

/* W1 = (1e200, 0), W2 = (1, 0): exactly z1 = (1e400, 0), z2 = 1e400, L =
 * (1e400 - 0.5)^2, all beyond DBL_MAX: the loss rounds to +inf, and so do
 * dL/dz2 = 2 (z2 - 0.5) = db2, dW2[0] = 1e400 dL/dz2, db1[0] = dL/dz2 and
 * dW1[0] = 1e200 dL/dz2; dW1[1] = db1[1] = 0 (relu'(0) = 0), dW2[1] = 0.
 * The double pass gives the same infinities for the first four: equal
 * infinities pass with no error (not inf - inf = NaN). The other three are
 * 0 inf = NaN in double (relu'(0) dL/dz2, a1[1] dL/dz2) and FAIL as
 * overflowed. */
Test(report, double_overflow_to_inf_matching_the_oracle_passes)
{
    double x[1], y[1];
    ga_net *net = overflow_net(x, y, (const double[7]){1e200, 0, 0, 0, 1, 0, 0});
    ga_check_report *r = run(net, x, y, 1, GA_CHECK_ORACLE, NULL);
    cr_expect(r->loss == INFINITY && r->loss_oracle == INFINITY);
    const double ref[7] = {INFINITY, 0, INFINITY, 0, INFINITY, 0, INFINITY};
    for (size_t i = 0; i < 7; i++) {
        const ga_check_entry *e = &r->entries[i];
        cr_expect(e->oracle == ref[i], "%s: oracle %g, by hand %g", e->name, e->oracle, ref[i]);
        if (ref[i] == 0) {
            cr_expect(isnan(e->analytic) && e->verdict == GA_VERDICT_FAIL &&
                      strstr(e->reason, "the double loss is +inf: the double pass overflowed"),
                      "%s: %s", e->name, e->reason);
            continue;
        }
        cr_expect_eq(e->verdict, GA_VERDICT_PASS, "%s: %s", e->name, e->reason);
        cr_expect(e->abs_err == 0 && e->rel_err == 0, "%s: abs_err %g rel_err %g", e->name,
                  e->abs_err, e->rel_err);
    }
    cr_expect(r->layers[3].max_abs_err == 0, "b2: max_abs_err %g", r->layers[3].max_abs_err);
    char *out = printed(r);
    cr_expect(strstr(out, "the double forward pass overflows (loss +inf)") != NULL, "%s", out);
    free(out);
    ga_check_report_free(r);
    ga_net_free(net);
}

Test(report, names_layers_top_and_command)
{
    const uint32_t seed = 11;
    ga_randnet p;
    ga_error err;
    cr_assert_eq(ga_randnet_make(&p, &err, GA_LAYOUT_COLUMN, GA_ACT_SOFTPLUS, GA_LOSS_MSE,
                                 GA_REDUCE_SUM, 3, 2, 3, 0.0, seed), GA_OK);
    ga_check_options o;
    ga_check_options_default(&o);
    o.seed = 99;
    o.top_k = 4;
    o.spec_path = "net.json";
    ga_check_report *r;
    cr_assert_eq(ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &o), GA_OK);
    cr_expect_str_eq(r->entries[0].name, "W1[0,0]");
    cr_expect_eq(r->n_layers, 4);
    cr_expect_str_eq(r->layers[2].name, "W2");
    size_t sum = 0;
    for (size_t i = 0; i < r->n_layers; i++)
        sum += r->layers[i].count;
    cr_expect_eq(sum, r->n_entries);
    cr_expect_eq(r->n_top, 4);
    for (size_t t = 1; t < r->n_top; t++) {
        const ga_check_entry *a = &r->entries[r->top[t - 1]], *b = &r->entries[r->top[t]];
        cr_expect_geq(a->abs_err / a->tol, b->abs_err / b->tol, "top list sorted");
    }
    cr_expect_str_eq(r->command, "gradaudit check net.json --method oracle --seed 99");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(ga_check_report_print(f, r), GA_OK);
    fclose(f);
    cr_expect(strstr(buf, "reproduce: gradaudit check net.json --method oracle --seed 99") != NULL);
    cr_expect(strstr(buf, "seed 99") != NULL);
    free(buf);
    ga_check_report_free(r);
    ga_randnet_clear(&p);
}

/* ---- progress: every phase told, in order, each to its total -------------- */
/* The phases a check told its progress callback, consecutive calls of one
 * phase folded into one row: its calls, last done and total, and whether
 * done ever went back or past the total. */
typedef struct {
    char phase[8][16];
    size_t n, calls[8], done[8], total[8];
    int bad;
} told_phases;

static void record_phase(void *ctx, const char *phase, size_t done, size_t total)
{
    told_phases *t = ctx;
    if (t->n == 0 || strcmp(t->phase[t->n - 1], phase)) {
        if (t->n == 8) {
            t->bad = 1;
            return;
        }
        snprintf(t->phase[t->n++], sizeof t->phase[0], "%s", phase);
    } else if (done < t->done[t->n - 1]) {
        t->bad = 1;
    }
    size_t k = t->n - 1;
    t->bad |= total > 0 && done > total;
    t->calls[k]++;
    t->done[k] = done;
    t->total[k] = total;
}

Test(progress, every_phase_told_in_order_to_its_total_and_the_report_unchanged)
{
    const uint32_t seed = 4242;
    ga_randnet p;
    ga_check_report *quiet = tanh_checked(&p, seed);
    ga_error err;
    ga_check_options o;
    ga_check_options_default(&o);
    told_phases t = {0};
    o.progress = record_phase;
    o.progress_ctx = &t;
    ga_check_report *r = NULL;
    cr_assert_eq(ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &o), GA_OK,
                 "%s", err.msg);
    static const char *const want[] = {"bounds", "enclosure", "backward bound", "oracle",
                                       "cross-check", "entries"};
    cr_assert_eq(t.n, 6, "seed %u: %zu phases told", seed, t.n);
    cr_assert(!t.bad, "seed %u: progress went back or past its total", seed);
    for (size_t k = 0; k < 6; k++) {
        cr_expect_str_eq(t.phase[k], want[k], "seed %u: phase %zu", seed, k);
        if (k > 0) /* the counted ones end at their total */
            cr_expect(t.total[k] > 0 && t.done[k] == t.total[k] && t.calls[k] >= 2,
                      "seed %u: %s told %zu times, last %zu of %zu", seed, t.phase[k],
                      t.calls[k], t.done[k], t.total[k]);
    }
    cr_expect_eq(t.total[5], p.net->n_params, "the entries are counted in entries");
    cr_expect_eq(t.total[4], o.cross_check, "the cross-check in its entries");
    for (size_t i = 0; i < r->n_entries; i++) { /* told or not, the same numbers */
        const ga_check_entry *a = &r->entries[i], *b = &quiet->entries[i];
        cr_assert(a->verdict == b->verdict && a->oracle == b->oracle && a->lo == b->lo &&
                      a->hi == b->hi && a->tol == b->tol,
                  "seed %u: entry %zu differs with progress told", seed, i);
    }
    ga_check_report_free(r);
    ga_check_report_free(quiet);
    ga_randnet_clear(&p);
}

/* ga_check_bytes, the pre-check's count of the check's own arrays, by hand
 * for a 2-3-1 net, batch 4, 13 parameters (units 4, so 16 values a pass; the
 * widest layer 3): the enclosure's 2 P + 4 x 16 doubles and P + 2 x 16 bytes,
 * its pass's 3 x 16 + 2 x 4 x 3 intervals (two long doubles) and 2 x 12 + 3
 * bytes, the backward pass's P + 16 flags; the report's 13 entries (and a
 * top-list index each) and 2 x 2 tensor rows; 5 P + 5 x 16 + 2 x 12 doubles.
 * Overflow is GA_ERANGE. */
Test(checker, check_bytes_counted_by_hand)
{
    ga_layer_desc layers[2] = {{3, GA_ACT_TANH, 0}, {1, GA_ACT_IDENTITY, 0}};
    ga_net_desc d = {GA_LAYOUT_ROW, 2, 2, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_MEAN, 0.0}};
    size_t ivl = 2 * sizeof(long double), D = sizeof(double);
    size_t enc = (2 * D + 1) * 13 + (4 * D + 2) * 16 + 3 * ivl * 16 + (2 * ivl + 2) * 12 + 3 +
                 13 + 16;
    size_t want = enc + (sizeof(ga_check_entry) + sizeof(size_t)) * 13 +
                  2 * sizeof(ga_check_layer) * 2 + 5 * D * 13 + 5 * D * 16 + 2 * D * 12;
    size_t got = 0;
    cr_assert_eq(ga_check_bytes(&got, &d, 13, 4), GA_OK);
    cr_expect_eq(got, want, "%zu bytes, by hand %zu", got, want);
    cr_expect_gt(sizeof(ga_check_entry), 500, "the report's entry, the largest part: %zu bytes",
                 sizeof(ga_check_entry));
    cr_expect_eq(ga_check_bytes(&got, &d, SIZE_MAX / 4, 4), GA_ERANGE);
    cr_expect_eq(ga_check_bytes(&got, &d, 13, SIZE_MAX / 2), GA_ERANGE);
}
