/* test_f32.c: the float32 core (core/ga_f32.c) and the precision helpers
 * (core/ga_error.c) against independent values.
 *
 *   exact:   on nets whose every operation is exact in float, the float pass
 *            equals the double core bit for bit;
 *   bound:   on random spec nets, every float gradient entry lies within a
 *            derived distance of the MPFR oracle's (the derivation is above
 *            the test);
 *   helpers: ga_round_to, ga_ulp_in, ga_ulp_distance_in, ga_precision_from_name,
 *            ga_round_problem against numbers computed with Debian's NumPy.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ga_check.h"
#include "ga_core.h"
#include "ga_oracle.h"
#include "ga_randnet.h"
#include "ga_random.h"

#define F32 GA_PREC_FLOAT32

/* ---- exact nets: the float pass is the double core, bit for bit --------
 * Weights k/8 (|k| <= 8), biases k/16, inputs and targets k/4 (|k| <= 8):
 * with widths <= 4 and two layers every product, sum, square and quotient
 * by a power of two is a dyadic number of fewer than 24 significant bits
 * (z1: multiples of 2^-5 below 2^4; z2: multiples of 2^-9 below 2^7; the
 * squared errors multiples of 2^-18 below 2^15; the gradients products of
 * those with 2^-k scale factors), so both passes compute the exact values
 * whatever their order, and so do the identity and relu activations
 * (relu'(0) = 0 in both: a z exactly 0 takes the same branch). Decay 1/4,
 * scale 1/2 or 1, B n_out a power of two for the mean: exact too. The
 * only difference allowed is the sign of a zero (a sum of zeros in
 * another order): compared as values, ga_ulp_distance 0. */
static double dyadic(ga_rng *rng, int den)
{
    return (double)((int)(ga_rng_u32(rng) % 17) - 8) / den;
}

static void run_exact(ga_layout layout, ga_activation hidden, ga_activation out_act,
                      ga_reduction red, double decay, uint32_t seed)
{
    ga_rng rng;
    ga_rng_seed(&rng, seed);
    size_t batch = 4, n_in = 3, n_out = 2;
    ga_layer_desc layers[2] = {{4, hidden, 0}, {n_out, out_act, 0}};
    ga_net_desc d = {layout, n_in, 2, layers, {GA_LOSS_MSE, red == GA_REDUCE_SUM ? 0.5 : 1.0, red, decay}};
    ga_net *net;
    ga_workspace *ws;
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, batch), GA_OK, "%s", err.msg);
    for (size_t v = 0; v < net->n_views; v++)
        for (size_t i = 0; i < net->views[v].rows * net->views[v].cols; i++)
            net->params[net->views[v].offset + i] = dyadic(&rng, net->views[v].is_bias ? 16 : 8);
    double x[4 * 3], y[4 * 2];
    for (size_t i = 0; i < batch * n_in; i++)
        x[i] = dyadic(&rng, 4);
    for (size_t i = 0; i < batch * n_out; i++)
        y[i] = dyadic(&rng, 4);
    double *g32 = malloc(net->n_params * sizeof *g32), loss32;
    cr_assert(g32);
    cr_assert_eq(ga_loss_grad_f32(&loss32, g32, &err, net, net->params, x, y, batch), GA_OK, "%s",
                 err.msg);
    for (int k = 0; k < 2; k++) {
        net->kernel = k ? GA_KERNEL_BLAS : GA_KERNEL_REFERENCE;
        double loss;
        cr_assert_eq(ga_forward(&loss, ws, net, net->params, x, y, batch), GA_OK);
        cr_assert_eq(ga_backward(net->grads, NULL, ws, net, net->params, x, y, batch), GA_OK);
        cr_expect_eq(ga_ulp_distance(loss32, loss), 0, "seed %u kernel %d: loss float %.17g, double %.17g",
                     seed, k, loss32, loss);
        for (size_t i = 0; i < net->n_params; i++) {
            char name[64];
            ga_param_name(name, sizeof name, net, i);
            cr_expect_eq(ga_ulp_distance(g32[i], net->grads[i]), 0,
                         "seed %u kernel %d: %s float %.17g, double %.17g", seed, k, name, g32[i],
                         net->grads[i]);
        }
    }
    free(g32);
    ga_workspace_free(ws);
    ga_net_free(net);
}

Test(exact, identity_column)
{
    for (uint32_t s = 1; s <= 20; s++)
        run_exact(GA_LAYOUT_COLUMN, GA_ACT_IDENTITY, GA_ACT_IDENTITY, GA_REDUCE_MEAN, 0.25, s);
}
Test(exact, relu_row)
{
    for (uint32_t s = 1; s <= 20; s++)
        run_exact(GA_LAYOUT_ROW, GA_ACT_RELU, GA_ACT_IDENTITY, GA_REDUCE_SUM, 0.0, s);
}
Test(exact, relu_relu_batch_mean)
{
    for (uint32_t s = 1; s <= 20; s++)
        run_exact(GA_LAYOUT_COLUMN, GA_ACT_RELU, GA_ACT_RELU, GA_REDUCE_BATCH_MEAN, 0.25, s);
}

/* A 1-n_out net, column layout, mse summed, no decay: its parameters zero. */
static ga_net *one_layer(size_t n_out, ga_activation act, double param)
{
    ga_layer_desc layers[1] = {{n_out, act, param}};
    ga_net_desc d = {GA_LAYOUT_COLUMN, 1, 1, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net;
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    return net;
}

/* The float pass refuses numbers that are not float32 (its caller rounds
 * them: ga_round_problem) and names the first. */
Test(exact, refuses_numbers_that_are_not_float32)
{
    ga_net *net = one_layer(1, GA_ACT_LEAKY_RELU, 0.01);
    ga_error err = {{0}};
    double x[1] = {0.5}, y[1] = {0.25}, g[2], loss;
    net->params[0] = 0.1; /* W1[0,0]: not a float32 */
    cr_expect_eq(ga_loss_grad_f32(&loss, g, &err, net, net->params, x, y, 1), GA_EINVAL);
    cr_expect(strstr(err.msg, "W1[0,0]") && strstr(err.msg, "not a float32"), "%s", err.msg);
    net->params[0] = 0.5;
    net->params[1] = 1e39; /* b1[0,0]: beyond float32's range */
    cr_expect_eq(ga_loss_grad_f32(&loss, g, &err, net, net->params, x, y, 1), GA_EINVAL);
    cr_expect(strstr(err.msg, "b1[0,0]") && strstr(err.msg, "not a float32"), "%s", err.msg);
    net->params[1] = 0.0;
    cr_expect_eq(ga_loss_grad_f32(&loss, g, &err, net, net->params, x, y, 1), GA_EINVAL);
    cr_expect(strstr(err.msg, "activation parameter"), "%s", err.msg); /* 0.01 */
    cr_assert_eq(ga_round_problem(&err, F32, net, net->params, x, y, 1), GA_OK, "%s", err.msg);
    cr_expect_eq(net->desc.layers[0].act_param, (double)0.01f);
    x[0] = NAN;
    cr_expect_eq(ga_loss_grad_f32(&loss, g, &err, net, net->params, x, y, 1), GA_ENONFINITE);
    cr_expect(strstr(err.msg, "x[0]"), "%s", err.msg);
    x[0] = 0.5;
    cr_expect_eq(ga_loss_grad_f32(&loss, g, &err, net, net->params, x, y, 1), GA_OK, "%s", err.msg);
    net->desc.loss.scale = 1e39;
    cr_expect_eq(ga_round_problem(&err, F32, net, net->params, x, y, 1), GA_EINVAL);
    cr_expect(strstr(err.msg, "scale 9.9999999999999994e+38") && strstr(err.msg, "overflows float32"), "%s", err.msg);
    cr_expect_eq(net->desc.loss.scale, 1e39, "nothing changed on refusal");
    ga_net_free(net);
}

/* ---- random nets: within a derived distance of the oracle --------------
 * The bound. ga_bound (checks/ga_check.h) carries, for every gradient entry
 * i, a magnitude M_i (the forward and backward pass on absolute values,
 * elementary functions widened by |f'| times their argument's magnitude and
 * given a budget of 8 units each) and a count n of the roundings on the
 * longest path to any entry, such that a pass computing the same formulas
 * with every operation fl(a op b) = (a op b)(1 + d), |d| <= u, in any
 * summation order, has |computed - exact| <= gamma_n M_i, gamma_n =
 * n u / (1 - n u) (Higham, Accuracy and Stability, 2nd ed., Lemma 3.1, 3.3,
 * eq. 3.5). The float pass is such a pass with u = 2^-24: each of its
 * operations is one float rounding, its dot products are length-m sums
 * (gamma_m, counted), and its elementary functions are glibc's float ones,
 * within 2 ulps (glibc manual, "Known Maximum Errors in Math Functions",
 * x86_64: expf, expm1f, log1pf 1, tanhf 2), inside formulas of at most 6
 * further roundings (tanh' = 4e/(1+e)^2: 1+e, its square, the quotient;
 * sigmoid = 1/(1+e): 2), within the 8-unit budget. So, entry by entry,
 *     |g32_i - g_i| <= gamma_n(2^-24) M_i + oracle_err_i,
 * g_i the exact gradient at the same (float32) numbers and oracle_err_i the
 * oracle's proven bound on its own rounding (half a double ulp when it
 * settles). The bound is first order where an elementary function
 * propagates its argument's error (terms O((n u)^2) ~ 1e-11 relative
 * neglected) and assumes no float underflow (these nets' values stay far
 * above 2^-126) and no pre-activation within its error of a kink (relu,
 * leaky_relu: a branch the float pass could take otherwise; none at these
 * seeds, else the entry fails and names itself). The largest ratio
 * |g32 - g| / bound over all cases is logged: how much of the bound the
 * float pass uses. */
static double gamma32(size_t n)
{
    double nu = (double)n * ga_precision_u(F32);
    return nu / (1.0 - nu);
}

static double worst_ratio = 0.0;

/* *p: ga_randnet_make's net of the seed (batch 1 + seed % max_batch, depth
 * 1 + seed % 3, reduction seed % 3, decay 0.01 on odd seeds) with every
 * number rounded to float32; what (128) names it. */
static void f32_randnet(ga_randnet *p, char *what, ga_layout layout, ga_activation hidden,
                        ga_loss_kind loss, uint32_t seed, size_t max_batch)
{
    ga_error err = {{0}};
    cr_assert_eq(ga_randnet_make(p, &err, layout, hidden, loss, (ga_reduction)(seed % GA_REDUCE_COUNT),
                                 1 + seed % max_batch, 1 + seed % 3, 0, seed % 2 ? 0.01 : 0.0, seed),
                 GA_OK, "%s", err.msg);
    ga_randnet_describe(what, 128, p);
    ga_net *net = p->net;
    cr_assert_eq(ga_round_problem(&err, F32, net, net->params, p->x, p->y, p->batch), GA_OK, "%s: %s",
                 what, err.msg);
}

static void run_bound(ga_layout layout, ga_activation hidden, ga_loss_kind loss, uint32_t seed)
{
    ga_randnet p;
    char what[128];
    f32_randnet(&p, what, layout, hidden, loss, seed, 5);
    ga_net *net = p.net;
    ga_error err = {{0}};
    size_t n = net->n_params;
    double *g32 = malloc(n * sizeof *g32), *g = malloc(n * sizeof *g), *gerr = malloc(n * sizeof *gerr);
    cr_assert(g32 && g && gerr);
    double l32;
    cr_assert_eq(ga_loss_grad_f32(&l32, g32, &err, net, net->params, p.x, p.y, p.batch), GA_OK,
                 "%s: %s", what, err.msg);
    ga_oracle_options oo;
    ga_oracle_options_default(&oo);
    cr_assert_eq(ga_oracle_gradient(g, gerr, NULL, NULL, &err, net, net->params, p.x, p.y, p.batch, &oo),
                 GA_OK, "%s: %s", what, err.msg);
    ga_workspace *ws;
    ga_bound *b;
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, p.batch), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_bound_alloc(&b, &err, net, p.batch), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_bound_compute(b, &err, ws, net, net->params, p.x, p.y, p.batch), GA_OK, "%s", err.msg);
    double gam = gamma32(b->n_grad);
    for (size_t i = 0; i < n; i++) {
        double bound = gam * b->grad_mag[i] + gerr[i], d = fabs(g32[i] - g[i]);
        char name[64];
        ga_param_name(name, sizeof name, net, i);
        cr_expect(isfinite(g32[i]) && d <= bound,
                  "%s: %s float %.9g, exact %.17g, |diff| %.3g > gamma_%zu(2^-24) M + oracle err = %.3g",
                  what, name, g32[i], g[i], d, b->n_grad, bound);
        if (bound > 0 && d / bound > worst_ratio)
            worst_ratio = d / bound;
    }
    ga_bound_free(b);
    ga_workspace_free(ws);
    free(g32), free(g), free(gerr);
    ga_randnet_clear(&p);
}

Test(bound, every_activation_and_loss_within_the_derived_distance)
{
    const ga_loss_kind losses[] = {GA_LOSS_MSE, GA_LOSS_BCE, GA_LOSS_BCE_LOGITS, GA_LOSS_SOFTMAX_CE,
                                   GA_LOSS_CCE};
    uint32_t seed = 1;
    for (int a = 0; a < GA_ACT_COUNT; a++) {
        if (a == GA_ACT_SOFTMAX)
            continue;
        for (size_t l = 0; l < sizeof losses / sizeof *losses; l++)
            for (int lay = 0; lay < 2; lay++)
                for (int k = 0; k < 3; k++)
                    run_bound(lay ? GA_LAYOUT_ROW : GA_LAYOUT_COLUMN, (ga_activation)a, losses[l], seed++);
    }
    cr_log_info("float32 pass: largest |g32 - exact| / bound over %u cases: %.3g", seed - 1, worst_ratio);
    fprintf(stderr, "# float32 pass: largest |g32 - exact| / bound over %u cases: %.3g\n", seed - 1,
            worst_ratio);
}

/* ---- the precision helpers against NumPy --------------------------------
 * Every expected number below was printed by Debian's NumPy 1.24.2:
 *   /usr/bin/python3 -c 'import numpy as np; print(repr(float(np.float32(V))))'
 * for ga_round_to (NumPy converts double to float32 to nearest, ties to even,
 * and past FLT_MAX + ulp/2 to inf);
 *   f = np.float32(abs(V)); f = np.nextafter(f, np.float32(0)) if f > abs(V) else f;
 *   print(repr(float(np.spacing(f))))
 * for ga_ulp_in (the spacing just above |V|: at the largest float32 <= |V|);
 *   key = lambda v: (lambda i: i if i >= 0 else -(i & 0x7fffffff))(
 *             int(np.float32(v).view(np.int32)))
 *   print(abs(key(A) - key(B)))
 * for ga_ulp_distance_in. Hex literals are the doubles' float.hex(). */
typedef struct {
    double v, want;
} pair_case;

Test(helpers, round_to_float32_matches_numpy)
{
    const pair_case c[] = {
        {0.1, 0.10000000149011612},
        {1.0 / 3.0, 0.3333333432674408},
        {-2.0 / 3.0, -0.6666666865348816},
        {1e-40, 9.99994610111476e-41},           /* a float32 subnormal */
        {1e-46, 0.0},                            /* below half the smallest subnormal */
        {8e-46, 1.401298464324817e-45},          /* above it: the smallest subnormal */
        {3.4028234663852886e38, 3.4028234663852886e38}, /* FLT_MAX */
        {0x1.ffffffp127, INFINITY},              /* FLT_MAX + ulp/2: a tie, to even: inf */
        {0x1.fffffefffffffp127, 3.4028234663852886e38}, /* just below it */
        {0x1.000001p0, 1.0},                     /* 1 + 2^-24: a tie, to even */
        {0x1.000003p0, 1.000000238418579},       /* 1 + 3 2^-24: a tie, to even (up) */
        {-1e39, -INFINITY},
        {16777217.0, 16777216.0},                /* 2^24 + 1 */
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        double got = ga_round_to(F32, c[i].v);
        cr_expect(got == c[i].want && signbit(got) == signbit(c[i].want),
                  "ga_round_to(float32, %a) = %.17g, NumPy %.17g", c[i].v, got, c[i].want);
        cr_expect_eq(ga_round_to(GA_PREC_FLOAT64, c[i].v), c[i].v, "float64 rounds nothing");
    }
}

Test(helpers, ulp_in_float32_matches_numpy)
{
    const pair_case c[] = {
        {0.0, 1.401298464324817e-45},
        {1.0, 1.1920928955078125e-07},
        {-1.5, 1.1920928955078125e-07},
        {0.1, 7.450580596923828e-09},
        {1.0 - 0x1p-30, 5.960464477539063e-08}, /* rounds up to 1, but lies below it */
        {1e-40, 1.401298464324817e-45},
        {1.1754943508222875e-38, 1.401298464324817e-45}, /* FLT_MIN */
        {0x1p127, 2.028240960365167e+31},
        {3.0, 2.384185791015625e-07},
        {1e30, 7.555786372591432e+22},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        double got = ga_ulp_in(F32, c[i].v);
        cr_expect_eq(got, c[i].want, "ga_ulp_in(float32, %a) = %.17g, NumPy %.17g", c[i].v, got,
                     c[i].want);
    }
    /* FLT_MAX: NumPy's spacing is inf (the next float32 is inf); gradaudit's
     * is that of FLT_MAX's binade, 2^104, NumPy's spacing at 2^127 above */
    cr_expect_eq(ga_ulp_in(F32, FLT_MAX), 0x1p104);
    cr_expect(isinf(ga_ulp_in(F32, INFINITY)) && isinf(ga_ulp_in(F32, NAN)));
}

Test(helpers, ulp_distance_in_float32_matches_numpy)
{
    const struct {
        double a, b;
        uint64_t want;
    } c[] = {
        {1.0, 1.0000001192092896, 1},
        {0.0, -0.0, 0},
        {1.1754943508222875e-38, -1.1754943508222875e-38, 16777216}, /* FLT_MIN to -FLT_MIN */
        {1.0, 2.0, 8388608},
        {-1.0, 1.0, 2130706432},
        {0.1, 0.2, 8388608},                 /* each rounded to float32 first */
        {INFINITY, 3.4028234663852886e38, 1},
        {1e-45, -1e-45, 2},                  /* +-the smallest subnormal */
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        uint64_t got = ga_ulp_distance_in(F32, c[i].a, c[i].b);
        cr_expect_eq(got, c[i].want, "ga_ulp_distance_in(float32, %a, %a) = %llu, NumPy %llu", c[i].a,
                     c[i].b, (unsigned long long)got, (unsigned long long)c[i].want);
        cr_expect_eq(ga_ulp_distance_in(F32, c[i].b, c[i].a), got, "symmetric");
    }
    cr_expect_eq(ga_ulp_distance_in(F32, NAN, 1.0), UINT64_MAX);
    cr_expect_eq(ga_ulp_distance_in(GA_PREC_FLOAT64, 1.0, 0x1.0000000000001p0), 1);
}

Test(helpers, precision_names)
{
    const struct {
        const char *name;
        int status;
        ga_precision p;
    } c[] = {{"float32", GA_OK, F32},  {"float", GA_OK, F32},    {"f32", GA_OK, F32},
             {"float64", GA_OK, GA_PREC_FLOAT64}, {"double", GA_OK, GA_PREC_FLOAT64},
             {"f64", GA_OK, GA_PREC_FLOAT64},     {"float16", GA_EINVAL, F32},
             {"FLOAT32", GA_EINVAL, F32},         {"", GA_EINVAL, F32}};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        ga_precision p = (ga_precision)-1;
        cr_expect_eq(ga_precision_from_name(&p, c[i].name), c[i].status, "'%s'", c[i].name);
        if (c[i].status == GA_OK) {
            cr_expect_eq(p, c[i].p, "'%s'", c[i].name);
            cr_expect_str_eq(ga_precision_name(p), p == F32 ? "float32" : "float64");
        }
    }
    cr_expect_eq(ga_precision_u(F32), 0x1p-24);
    cr_expect_eq(ga_precision_min_normal(F32), 1.1754943508222875e-38); /* np.finfo(np.float32).tiny */
    cr_expect_eq(ga_precision_max(F32), 3.4028234663852886e38);        /* np.finfo(np.float32).max */
}

/* ga_round_problem: NumPy's roundings in place; a number that overflows is
 * named and nothing is changed */
Test(helpers, round_problem)
{
    ga_net *net = one_layer(2, GA_ACT_IDENTITY, 0.0);
    ga_error err = {{0}};
    const double p0[4] = {0.1, 1.0 / 3.0, 1e-40, -2.0 / 3.0}; /* W1 (2, 1), b1 (2, 1) */
    const double want[4] = {0.10000000149011612, 0.3333333432674408, 9.99994610111476e-41,
                            -0.6666666865348816};
    memcpy(net->params, p0, sizeof p0);
    double x[2] = {0.1, 1e-46}, y[4] = {16777217.0, 1.0, 0.1, 2.0};
    cr_assert_eq(ga_round_problem(&err, F32, net, net->params, x, y, 2), GA_OK, "%s", err.msg);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(net->params[i], want[i], "param %d: %.17g", i, net->params[i]);
    cr_expect(x[0] == 0.10000000149011612 && x[1] == 0.0);
    cr_expect(y[0] == 16777216.0 && y[2] == 0.10000000149011612);
    memcpy(net->params, p0, sizeof p0);
    net->params[3] = 4e38; /* b1[1] */
    cr_expect_eq(ga_round_problem(&err, F32, net, net->params, x, y, 2), GA_EINVAL);
    cr_expect(strstr(err.msg, "b1[1]") && strstr(err.msg, "overflows float32"), "%s", err.msg);
    cr_expect_eq(net->params[0], 0.1, "nothing changed on refusal");
    net->params[3] = 0.5;
    y[3] = -1e39;
    cr_expect_eq(ga_round_problem(&err, F32, net, net->params, x, y, 2), GA_EINVAL);
    cr_expect(strstr(err.msg, "y[3]"), "%s", err.msg);
    /* x and y's sizes come from the net and the batch: one past a size_t is refused */
    cr_expect_eq(ga_round_problem(&err, F32, net, net->params, x, y, SIZE_MAX), GA_ERANGE);
    cr_expect(strstr(err.msg, "overflows a size"), "%s", err.msg);
    ga_net_free(net);
}

/* ---- the float32 check on the float32 core -------------------------------
 * Two pieces written apart agree: the float32 core's gradients of random
 * nets lie inside the float32 enclosure (checks/ga_enclose.c) entry by
 * entry, 0 FAIL; and the same gradient with its largest entry moved by 1%
 * (some 80 000 float32 ulps) FAILs there wherever that is twice its
 * tolerance: the check at u = 2^-24 can fail. Measured once with REPS 60
 * (2400 nets, 43064 entries): 0 FAIL, 0 unjudgeable; one 1% move of 2400
 * passed, rightly (an entry with a tolerance of 2.8% of its value). */
static void run_float32_check(ga_layout layout, ga_activation hidden, ga_loss_kind loss, uint32_t seed,
                              size_t *n_entries, size_t *n_unjudgeable, size_t *n_moved)
{
    ga_randnet p;
    char what[128];
    f32_randnet(&p, what, layout, hidden, loss, seed, 4);
    ga_net *net = p.net;
    ga_error err = {{0}};
    double *g32 = malloc(net->n_params * sizeof *g32);
    cr_assert(g32);
    ga_check_options opt;
    ga_check_options_default(&opt);
    cr_assert_eq(ga_loss_grad_f32(&opt.analytic_loss, g32, &err, net, net->params, p.x, p.y, p.batch),
                 GA_OK, "%s: %s", what, err.msg);
    opt.analytic = g32;
    opt.analytic_own_forward = 1;
    opt.precision = F32;
    opt.cross_check = 0;
    ga_check_report *r;
    cr_assert_eq(ga_check_run(&r, &err, net, net->params, p.x, p.y, p.batch, &opt), GA_OK, "%s: %s",
                 what, err.msg);
    for (size_t i = 0; i < r->n_entries; i++)
        cr_expect_neq(r->entries[i].verdict, GA_VERDICT_FAIL, "%s: %s FAILs: %s", what,
                      r->entries[i].name, r->entries[i].reason);
    *n_entries += r->n_entries;
    *n_unjudgeable += r->n_unjudgeable;
    size_t big = 0;
    for (size_t i = 1; i < net->n_params; i++)
        if (fabs(g32[i]) > fabs(g32[big]))
            big = i;
    /* a move of 1% must fail where it is more than twice the entry's
     * tolerance away from where it was (an entry whose enclosure is wider,
     * cancellation, may rightly take it) */
    int must_fail = 0.01 * fabs(g32[big]) > 2 * r->entries[big].tol;
    ga_check_report_free(r);
    *n_moved += must_fail;
    if (must_fail) {
        g32[big] = (double)(float)(g32[big] * 1.01);
        cr_assert_eq(ga_check_run(&r, &err, net, net->params, p.x, p.y, p.batch, &opt), GA_OK, "%s", err.msg);
        cr_expect(r->entries[big].verdict == GA_VERDICT_FAIL, "%s: %s moved by 1%% is %s: %s", what, r->entries[big].name,
                  ga_verdict_name(r->entries[big].verdict), r->entries[big].reason);
        ga_check_report_free(r);
    }
    free(g32);
    ga_randnet_clear(&p);
}

#ifndef REPS
#define REPS 3 /* nets per activation and loss */
#endif
Test(check, float32_core_passes_its_enclosure_and_a_moved_entry_fails, .timeout = 100)
{
    const ga_loss_kind losses[] = {GA_LOSS_MSE, GA_LOSS_BCE, GA_LOSS_BCE_LOGITS, GA_LOSS_SOFTMAX_CE,
                                   GA_LOSS_CCE};
    uint32_t seed = 1000;
    size_t n = 0, unj = 0, moved = 0;
    for (int a = 0; a < GA_ACT_COUNT; a++) {
        if (a == GA_ACT_SOFTMAX)
            continue;
        for (size_t l = 0; l < sizeof losses / sizeof *losses * REPS; l++, seed++)
            run_float32_check(seed % 2 ? GA_LAYOUT_ROW : GA_LAYOUT_COLUMN, (ga_activation)a,
                              losses[l % (sizeof losses / sizeof *losses)], seed, &n, &unj, &moved);
    }
    fprintf(stderr, "# float32 check of the float32 core: %u nets, %zu entries, 0 FAIL expected, "
            "%zu unjudgeable; %zu moved entries FAIL\n", seed - 1000, n, unj, moved);
    cr_expect(moved * 10 >= (size_t)(seed - 1000) * 9, "only %zu of %u nets had an entry to move",
              moved, seed - 1000);
}
