/* test_activation.c: every activation and loss derivative against its closed
 * form, evaluated in MPFR at 256 bits (independent of core/'s formulas, which
 * use rearranged stable forms), at many points including +-1e3 and +-1e300. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <mpfr.h>

#include "ga_core.h"
#include "ga_enclose.h"

/* 2048 bits keep the textbook forms (1 - tanh^2, s(1-s)) accurate wherever
 * the double result is a normal number: e^-700 needs about 1010 bits. */
#define PREC 2048

static const double points[] = {
    0.0, 1e-300, -1e-300, 1e-8, -1e-8, 0.1, -0.1, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5,
    10.0, -10.0, 30.0, -30.0, 37.5, -37.5, 100.0, -100.0, 700.0, -700.0,
    1e3, -1e3, 1e10, -1e10, 1e300, -1e300, DBL_MAX, -DBL_MAX,
};
#define N_POINTS (sizeof points / sizeof points[0])

/* Closed forms, textbook shape, in MPFR:
 *   sigmoid: s = 1/(1+e^-z), s' = s(1-s)          tanh: t = tanh z, t' = 1 - t^2
 *   elu (z<=0): a(e^z - 1), a e^z                   softplus: log(1+e^z), s(z)  */
static void exact_value_and_deriv(mpfr_t f, mpfr_t df, ga_activation act, double param, double zd)
{
    mpfr_t z, t;
    mpfr_inits2(PREC, z, t, (mpfr_ptr)0);
    mpfr_set_d(z, zd, MPFR_RNDN);
    switch (act) {
    case GA_ACT_IDENTITY:
        mpfr_set(f, z, MPFR_RNDN);
        mpfr_set_ui(df, 1, MPFR_RNDN);
        break;
    case GA_ACT_SIGMOID:
        mpfr_neg(t, z, MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_add_ui(t, t, 1, MPFR_RNDN);
        mpfr_ui_div(f, 1, t, MPFR_RNDN);
        mpfr_ui_sub(t, 1, f, MPFR_RNDN);
        mpfr_mul(df, f, t, MPFR_RNDN);
        break;
    case GA_ACT_TANH:
        mpfr_tanh(f, z, MPFR_RNDN);
        mpfr_sqr(t, f, MPFR_RNDN);
        mpfr_ui_sub(df, 1, t, MPFR_RNDN);
        break;
    case GA_ACT_RELU:
        if (zd > 0)
            mpfr_set(f, z, MPFR_RNDN), mpfr_set_ui(df, 1, MPFR_RNDN);
        else
            mpfr_set_zero(f, 1), mpfr_set_zero(df, 1);
        break;
    case GA_ACT_LEAKY_RELU:
        if (zd > 0)
            mpfr_set(f, z, MPFR_RNDN), mpfr_set_ui(df, 1, MPFR_RNDN);
        else
            mpfr_mul_d(f, z, param, MPFR_RNDN), mpfr_set_d(df, param, MPFR_RNDN);
        break;
    case GA_ACT_ELU:
        if (zd > 0) {
            mpfr_set(f, z, MPFR_RNDN), mpfr_set_ui(df, 1, MPFR_RNDN);
        } else {
            mpfr_exp(t, z, MPFR_RNDN);
            mpfr_mul_d(df, t, param, MPFR_RNDN);
            mpfr_sub_ui(t, t, 1, MPFR_RNDN);
            mpfr_mul_d(f, t, param, MPFR_RNDN);
        }
        break;
    case GA_ACT_SOFTPLUS:
        /* log(1+e^z) = max(z,0) + log(1+e^-|z|): the identity keeps e^z from
         * overflowing MPFR's exponent range at z = 1e300 */
        mpfr_abs(t, z, MPFR_RNDN);
        mpfr_neg(t, t, MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_log1p(f, t, MPFR_RNDN);
        if (zd > 0)
            mpfr_add(f, f, z, MPFR_RNDN);
        mpfr_neg(t, z, MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_add_ui(t, t, 1, MPFR_RNDN);
        mpfr_ui_div(df, 1, t, MPFR_RNDN);
        break;
    default:
        cr_assert_fail("no closed form for %s", ga_activation_name(act));
    }
    mpfr_clears(z, t, (mpfr_ptr)0);
}

/* Allowed error, from the rounding count of the core's stable forms: each
 * is at most ~5 correctly rounded operations plus one glibc exp/expm1/log1p/
 * tanh call (< 2 ulps each in glibc's published accuracy tables); relative
 * error <= ~8u, i.e. 16 ulps at the outside. Values that underflow to the
 * subnormal range lose relative accuracy by definition: there we allow an
 * absolute error of 16 ulps of DBL_MIN's neighbourhood instead. */
static void assert_close(double got, const mpfr_t exact, const char *what, ga_activation act,
                         double z)
{
    double want = mpfr_get_d(exact, MPFR_RNDN);
    cr_assert(!isnan(got), "%s of %s at %.17g is NaN (exact %.17g)", what,
              ga_activation_name(act), z, want);
    if (fabs(want) < DBL_MIN) {
        cr_assert(fabs(got - want) <= 16 * DBL_MIN * DBL_EPSILON || fabs(got) < 4 * DBL_MIN,
                  "%s of %s at %.17g: got %.17g, exact %.17g", what, ga_activation_name(act), z,
                  got, want);
        return;
    }
    uint64_t d = ga_ulp_distance(got, want);
    cr_assert(d <= 16, "%s of %s at %.17g: got %.17g, exact %.17g (%llu ulps)", what,
              ga_activation_name(act), z, got, want, (unsigned long long)d);
}

static void check_activation(ga_activation act, double param)
{
    mpfr_t f, df;
    mpfr_inits2(PREC, f, df, (mpfr_ptr)0);
    for (size_t i = 0; i < N_POINTS; i++) {
        double z = points[i];
        exact_value_and_deriv(f, df, act, param, z);
        double a = ga_act_value(act, param, z);
        assert_close(a, f, "value", act, z);
        assert_close(ga_act_deriv(act, param, z, a), df, "derivative", act, z);
    }
    /* a dense sweep over [-40, 40] where every function is far from trivial */
    for (int i = -4000; i <= 4000; i += 7) {
        double z = i / 100.0 + 1.0 / 3.0;
        exact_value_and_deriv(f, df, act, param, z);
        double a = ga_act_value(act, param, z);
        assert_close(a, f, "value", act, z);
        assert_close(ga_act_deriv(act, param, z, a), df, "derivative", act, z);
    }
    mpfr_clears(f, df, (mpfr_ptr)0);
}

Test(activation, identity) { check_activation(GA_ACT_IDENTITY, 0); }
Test(activation, sigmoid) { check_activation(GA_ACT_SIGMOID, 0); }
Test(activation, tanh) { check_activation(GA_ACT_TANH, 0); }
Test(activation, relu) { check_activation(GA_ACT_RELU, 0); }
Test(activation, leaky_relu) { check_activation(GA_ACT_LEAKY_RELU, 0.01); }
Test(activation, leaky_relu_slope_03) { check_activation(GA_ACT_LEAKY_RELU, 0.3); }
Test(activation, elu) { check_activation(GA_ACT_ELU, 1.0); }
Test(activation, elu_alpha_15) { check_activation(GA_ACT_ELU, 1.5); }
Test(activation, softplus) { check_activation(GA_ACT_SOFTPLUS, 0); }

/* silu against its textbook form in MPFR: f = z / (1 + e^-z), f' = s (1 + z (1 - s)).
 * f' crosses 0 near z = -1.2785, where no formula keeps a relative accuracy:
 * the core's is s + z s(-z) s, whose terms are at most 1.23 in size, so its
 * error there is absolute, a few u times sup |f'|. Allowed: 16 ulps, or
 * 16 u sup |f'| absolutely. */
Test(activation, silu)
{
    mpfr_t z, s, f, df, t;
    mpfr_inits2(PREC, z, s, f, df, t, (mpfr_ptr)0);
    double L = ga_activation_lipschitz(GA_ACT_SILU, 0);
    size_t n = 0;
    for (int i = -4200; i <= 4200 + (int)N_POINTS; i++) {
        double zd = i <= 4200 ? i / 100.0 + 1.0 / 7.0 : points[i - 4201];
        mpfr_set_d(z, zd, MPFR_RNDN);
        mpfr_neg(t, z, MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_add_ui(t, t, 1, MPFR_RNDN);
        mpfr_ui_div(s, 1, t, MPFR_RNDN);      /* s = 1/(1+e^-z) */
        mpfr_mul(f, z, s, MPFR_RNDN);         /* f = z s */
        mpfr_ui_sub(t, 1, s, MPFR_RNDN);
        mpfr_mul(t, t, z, MPFR_RNDN);
        mpfr_add_ui(t, t, 1, MPFR_RNDN);
        mpfr_mul(df, s, t, MPFR_RNDN);        /* f' = s (1 + z (1 - s)) */
        double v, d;
        ga_act_eval(&v, &d, GA_ACT_SILU, 0, zd);
        double fw = mpfr_get_d(f, MPFR_RNDN), dw = mpfr_get_d(df, MPFR_RNDN);
        if (isinf(fw)) /* DBL_MAX s rounds to DBL_MAX (s < 1 by 2^-many) */
            fw = copysign(DBL_MAX, fw);
        cr_assert(ga_ulp_distance(v, fw) <= 16 || (fabs(fw) < DBL_MIN && fabs(v - fw) < 4 * DBL_MIN),
                  "silu(%.17g) = %.17g, exact %.17g", zd, v, fw);
        cr_assert(ga_ulp_distance(d, dw) <= 16 || fabs(d - dw) <= 16 * GA_U * L,
                  "silu'(%.17g) = %.17g, exact %.17g", zd, d, dw);
        n++;
    }
    cr_assert_gt(n, 8000);
    mpfr_clears(z, s, f, df, t, (mpfr_ptr)0);
}

/* The textbook GELUs in MPFR at prec bits: f and f' of gelu (erf) or
 * gelu_tanh (c = 0.044715 read as the decimal) at z. 1 + erf and 1 + tanh
 * cancel in the left tail: down to e^-890 at z = -42 in the erf form, to
 * e^-5360 in the tanh form, so 1500 and 8000 bits keep every digit there. */
#define GELU_ZMIN (-42.0)
static void gelu_textbook(mpfr_t f, mpfr_t df, mpfr_srcptr z, int tanh_form)
{
    mpfr_t x, t, k, q;
    mpfr_inits2(mpfr_get_prec(f), x, t, k, q, (mpfr_ptr)0);
    if (!tanh_form) { /* f = z/2 (1 + erf(z/sqrt2)), f' = (1 + erf)/2 + z e^(-z^2/2)/sqrt(2 pi) */
        mpfr_sqrt_ui(t, 2, MPFR_RNDN);
        mpfr_div(x, z, t, MPFR_RNDN);
        mpfr_erf(x, x, MPFR_RNDN);
        mpfr_add_ui(x, x, 1, MPFR_RNDN);
        mpfr_div_ui(x, x, 2, MPFR_RNDN);              /* Phi */
        mpfr_mul(f, z, x, MPFR_RNDN);
        mpfr_sqr(t, z, MPFR_RNDN);
        mpfr_div_si(t, t, -2, MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_const_pi(k, MPFR_RNDN);
        mpfr_mul_ui(k, k, 2, MPFR_RNDN);
        mpfr_sqrt(k, k, MPFR_RNDN);
        mpfr_div(t, t, k, MPFR_RNDN);
        mpfr_mul(t, t, z, MPFR_RNDN);
        mpfr_add(df, x, t, MPFR_RNDN);
    } else { /* t = tanh(k (z + c z^3)); f = z/2 (1 + t), f' = (1 + t)/2 + z/2 (1 - t^2) k (1 + 3 c z^2) */
        mpfr_const_pi(k, MPFR_RNDN);
        mpfr_ui_div(k, 2, k, MPFR_RNDN);
        mpfr_sqrt(k, k, MPFR_RNDN);
        mpfr_set_str(q, "0.044715", 10, MPFR_RNDN);
        mpfr_sqr(x, z, MPFR_RNDN);
        mpfr_mul(q, q, x, MPFR_RNDN);                 /* c z^2 */
        mpfr_add_ui(t, q, 1, MPFR_RNDN);
        mpfr_mul(t, t, z, MPFR_RNDN);
        mpfr_mul(t, t, k, MPFR_RNDN);
        mpfr_tanh(t, t, MPFR_RNDN);
        mpfr_add_ui(x, t, 1, MPFR_RNDN);
        mpfr_div_ui(x, x, 2, MPFR_RNDN);              /* (1 + t)/2 */
        mpfr_mul(f, z, x, MPFR_RNDN);
        mpfr_sqr(t, t, MPFR_RNDN);
        mpfr_ui_sub(t, 1, t, MPFR_RNDN);
        mpfr_mul(t, t, z, MPFR_RNDN);
        mpfr_div_ui(t, t, 2, MPFR_RNDN);
        mpfr_mul(t, t, k, MPFR_RNDN);
        mpfr_mul_ui(q, q, 3, MPFR_RNDN);
        mpfr_add_ui(q, q, 1, MPFR_RNDN);
        mpfr_mul(t, t, q, MPFR_RNDN);
        mpfr_add(df, x, t, MPFR_RNDN);
    }
    mpfr_clears(x, t, k, q, (mpfr_ptr)0);
}

/* The core's GELUs against the textbook forms, held to the model that
 * checks/ga_enclose.c assumes for every activation without tuned code (K =
 * GA_ENCLOSE_ELEM_ULPS): the computed value is f(z (1 + d1)) (1 + d2) + e,
 * |d1|, |d2| <= K u, because a formula rounds its inner argument (z/sqrt 2,
 * u = k (z + c z^3)) before erfc or the sigmoid amplifies that relative
 * error by 2 x^2 in the tails, and |e| <= K eta (1 + |z|), eta the smallest
 * subnormal, because z multiplies a Phi or a sigmoid that has underflowed;
 * f' likewise, plus K u sup|f'| absolutely where f' crosses 0 and cancels.
 * Tested with the local slope for sup|f'| near z (twice it, for its change
 * over z (1 +- K u)), which is stricter than the enclosure's global one:
 * |v - f| <= K u (|f| + 2 |z f'(z)|) + e, |d - f'| <= K u (|f'| + 2 |z f''(z)|
 * + sup|f'|) + e, f'' by an MPFR difference quotient of f'. Below z = -42
 * both round to 0 or a few subnormals. */
static void check_gelu(ga_activation a)
{
    int tanh_form = a == GA_ACT_GELU_TANH;
    const double K = GA_ENCLOSE_ELEM_ULPS;
    mpfr_t z, f, df, f2, df2, zh;
    mpfr_inits2(tanh_form ? 8000 : 1500, z, f, df, f2, df2, zh, (mpfr_ptr)0);
    double L = ga_activation_lipschitz(a, 0), h = 0x1p-30;
    size_t n = 0, tail = 0;
    for (int i = -500; i <= 500 + (int)N_POINTS; i++) {
        double zd = i <= 500 ? i / 12.0 + 1.0 / 7.0 : points[i - 501];
        double v, d;
        ga_act_eval(&v, &d, a, 0, zd);
        double e = K * DBL_TRUE_MIN * (1 + fabs(zd));
        if (zd < GELU_ZMIN) { /* f and f' are below e^-880 here */
            cr_assert(fabs(v) <= e && fabs(d) <= e, "%s(%.17g) = %.17g, f' %.17g: not ~0",
                      ga_activation_name(a), zd, v, d);
            continue;
        }
        if (zd > 1e100) { /* f = z, f' = 1 to far below an ulp */
            cr_assert(v == zd && d == 1.0, "%s(%.17g) = %.17g, f' %.17g", ga_activation_name(a),
                      zd, v, d);
            continue;
        }
        mpfr_set_d(z, zd, MPFR_RNDN);
        gelu_textbook(f, df, z, tanh_form);
        mpfr_set_d(zh, zd + h * fmax(1.0, fabs(zd)), MPFR_RNDN);
        gelu_textbook(f2, df2, zh, tanh_form);
        double dz = mpfr_get_d(zh, MPFR_RNDN) - zd;
        double fw = mpfr_get_d(f, MPFR_RNDN), dw = mpfr_get_d(df, MPFR_RNDN);
        double d2 = (mpfr_get_d(df2, MPFR_RNDN) - dw) / dz; /* f'' to a few digits */
        double tol_v = K * GA_U * (fabs(fw) + 2 * fabs(zd * dw)) + e;
        double tol_d = K * GA_U * (fabs(dw) + 2 * fabs(zd * d2) + L) + e;
        cr_assert(fabs(v - fw) <= tol_v, "%s(%.17g) = %.17g, exact %.17g (tol %.3g)",
                  ga_activation_name(a), zd, v, fw, tol_v);
        cr_assert(fabs(d - dw) <= tol_d, "%s'(%.17g) = %.17g, exact %.17g (tol %.3g)",
                  ga_activation_name(a), zd, d, dw, tol_d);
        tail += fw != 0 && ga_ulp_distance(v, fw) > 2 * K; /* where the model is needed */
        n++;
    }
    cr_assert_gt(n, 1000);
    cr_log_info("%s: %zu points, %zu beyond 2K ulps (within the model)",
                ga_activation_name(a), n, tail);
    mpfr_clears(z, f, df, f2, df2, zh, (mpfr_ptr)0);
}

Test(activation, gelu, .timeout = 120) { check_gelu(GA_ACT_GELU); }
Test(activation, gelu_tanh, .timeout = 120) { check_gelu(GA_ACT_GELU_TANH); }

/* The constants of ga_activation_lipschitz*, which the checks use for
 * activations without tuned code: no sampled |f'| exceeds the first, no
 * difference quotient of f' the second (plus the quotient's rounding), and
 * for silu both are reached (sup |f'| at z = 2.3994 from mpmath's root of
 * f'', sup |f''| = f''(0) = 1/2 by hand). */
Test(activation, lipschitz_constants_bound_the_derivatives)
{
    for (int a = 0; a < GA_ACT_COUNT; a++) {
        if (a == GA_ACT_SOFTMAX)
            continue;
        double p = a == GA_ACT_LEAKY_RELU ? 0.3 : a == GA_ACT_ELU ? 1.5 : 0.0;
        double L1 = ga_activation_lipschitz((ga_activation)a, p);
        double L2 = ga_activation_lipschitz_deriv((ga_activation)a, p);
        double max1 = 0, max2 = 0, h = 1e-4;
        for (int i = -60000; i <= 60000; i++) {
            double z = i / 1000.0 + 1.0 / 3.0;
            double d0 = ga_act_deriv((ga_activation)a, p, z, 0), d1 = ga_act_deriv((ga_activation)a, p, z + h, 0);
            max1 = fmax(max1, fabs(d0));
            if ((z > 0) == (z + h > 0)) /* not across a kink */
                max2 = fmax(max2, fabs(d1 - d0) / h - 4 * GA_U * (1 + L1) / h);
        }
        cr_expect_leq(max1, L1, "%s: |f'| %.17g above sup %.17g", ga_activation_name((ga_activation)a), max1, L1);
        cr_expect_leq(max2, L2 * (1 + 1e-6), "%s: |f''| ~ %.17g above sup %.17g",
                      ga_activation_name((ga_activation)a), max2, L2);
    }
    double z = 2.39935728051546766;
    cr_expect_geq(ga_act_deriv(GA_ACT_SILU, 0, z, 0), ga_activation_lipschitz(GA_ACT_SILU, 0) * (1 - 1e-15));
    double h = 1e-6, d2 = (ga_act_deriv(GA_ACT_SILU, 0, h, 0) - ga_act_deriv(GA_ACT_SILU, 0, -h, 0)) / (2 * h);
    cr_expect(fabs(d2 - 0.5) < 1e-8, "silu''(0) ~ %.17g", d2);
}

/* The conventions at the kink are part of the contract (checks/ relies on them). */
Test(activation, kink_conventions_at_zero)
{
    cr_assert_eq(ga_act_deriv(GA_ACT_RELU, 0, 0.0, 0.0), 0.0, "relu'(0) = 0");
    cr_assert_eq(ga_act_deriv(GA_ACT_RELU, 0, -0.0, 0.0), 0.0);
    cr_assert_eq(ga_act_deriv(GA_ACT_LEAKY_RELU, 0.2, 0.0, 0.0), 0.2, "leaky_relu'(0) = slope");
    cr_assert_eq(ga_act_deriv(GA_ACT_ELU, 1.5, 0.0, 0.0), 1.5, "elu'(0) = alpha");
    cr_assert(ga_activation_has_kink(GA_ACT_RELU, 0));
    cr_assert(ga_activation_has_kink(GA_ACT_LEAKY_RELU, 0.01));
    cr_assert(!ga_activation_has_kink(GA_ACT_ELU, 1.0));
    cr_assert(ga_activation_has_kink(GA_ACT_ELU, 2.0));
    cr_assert(!ga_activation_has_kink(GA_ACT_TANH, 0));
}

Test(activation, names_round_trip)
{
    for (int i = 0; i < GA_ACT_COUNT; i++) {
        ga_activation a;
        cr_assert_eq(ga_activation_from_name(&a, ga_activation_name((ga_activation)i)), GA_OK);
        cr_assert_eq((int)a, i);
    }
    ga_activation a;
    cr_assert_eq(ga_activation_from_name(&a, "sigmod"), GA_EINVAL);
    cr_assert_eq(ga_activation_from_name(&a, NULL), GA_EINVAL);
}

Test(softmax, rows_sum_to_one_and_stay_finite)
{
    const double rows[][4] = {
        {0, 0, 0, 0}, {1, 2, 3, 4}, {-1e300, 1e300, 0, 5}, {1e3, 1e3, -1e3, 0},
        {-DBL_MAX, DBL_MAX, DBL_MAX, -1}, {-745, -746, -747, -748},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double p[4];
        ga_softmax_row(p, rows[r], 4);
        double s = 0;
        for (int k = 0; k < 4; k++) {
            cr_assert(isfinite(p[k]) && p[k] >= 0 && p[k] <= 1, "row %zu: p[%d] = %g", r, k, p[k]);
            s += p[k];
        }
        /* four terms each rounded once and summed: |s - 1| <= 8 u */
        cr_assert(fabs(s - 1.0) <= 8 * GA_U, "row %zu sums to %.17g", r, s);
    }
    /* against MPFR on the ordinary row: p_k = e^{z_k} / sum e^{z_j} */
    mpfr_t e[4], s;
    mpfr_init2(s, PREC);
    mpfr_set_zero(s, 1);
    for (int k = 0; k < 4; k++) {
        mpfr_init2(e[k], PREC);
        mpfr_set_d(e[k], rows[1][k], MPFR_RNDN);
        mpfr_exp(e[k], e[k], MPFR_RNDN);
        mpfr_add(s, s, e[k], MPFR_RNDN);
    }
    double p[4];
    ga_softmax_row(p, rows[1], 4);
    for (int k = 0; k < 4; k++) {
        mpfr_div(e[k], e[k], s, MPFR_RNDN);
        double want = mpfr_get_d(e[k], MPFR_RNDN);
        cr_assert(ga_ulp_distance(p[k], want) <= 8, "p[%d] %.17g vs %.17g", k, p[k], want);
        mpfr_clear(e[k]);
    }
    mpfr_clear(s);
}

Test(cross_entropy, finite_at_probabilities_zero_and_one_where_defined)
{
    cr_assert_eq(ga_bce_prob_term(1.0, 1.0), 0.0);
    cr_assert_eq(ga_bce_prob_term(0.0, 0.0), 0.0);
    cr_assert(isinf(ga_bce_prob_term(0.0, 1.0)), "p = 0 with y = 1 has no finite loss");
    cr_assert(isinf(ga_bce_prob_term(1.0, 0.0)));
    cr_assert(fabs(ga_bce_prob_term(0.5, 1.0) - log(2.0)) <= DBL_EPSILON);
    double p[3] = {0.0, 1.0, 0.0}, y[3] = {0.0, 1.0, 0.0};
    cr_assert_eq(ga_cce_prob_term(p, y, 3), 0.0);
    double y2[3] = {1.0, 0.0, 0.0};
    cr_assert(isinf(ga_cce_prob_term(p, y2, 3)));
}

/* Loss derivatives through the public passes: one identity layer with W = 0
 * makes z = b, so dL/db is dL/dz of the loss alone. Closed forms (hand):
 *   mse: 2 (z - y);  bce/bce_logits: s(z) - y;  softmax_ce/cce: p sum(y) - y
 * times scale / N (N = 1, B n or B by reduction). */
typedef struct {
    ga_loss_kind kind;
    ga_activation out;
    ga_reduction red;
    double scale;
} loss_case;

static void exact_loss_grad(mpfr_t *g, mpfr_t L, const loss_case *c, const double *z,
                            const double *y, size_t n)
{
    mpfr_t t, s, m;
    mpfr_inits2(PREC, t, s, m, (mpfr_ptr)0);
    mpfr_set_zero(L, 1);
    if (c->kind == GA_LOSS_MSE) {
        /* with an identity or sigmoid output; only identity is used here */
        for (size_t k = 0; k < n; k++) {
            mpfr_set_d(t, z[k], MPFR_RNDN);
            mpfr_sub_d(t, t, y[k], MPFR_RNDN);
            mpfr_mul_ui(g[k], t, 2, MPFR_RNDN);
            mpfr_sqr(t, t, MPFR_RNDN);
            mpfr_add(L, L, t, MPFR_RNDN);
        }
    } else if (c->kind == GA_LOSS_BCE || c->kind == GA_LOSS_BCE_LOGITS) {
        for (size_t k = 0; k < n; k++) {
            /* p = 1/(1+e^-z); l = -(y log p + (1-y) log(1-p)); dl/dz = p - y.
             * -log p = log(1+e^-z) and -log(1-p) = log(1+e^z), written so
             * that p = 1 at |z| = 1000 does not turn log(1-p) into log 0. */
            mpfr_set_d(t, -z[k], MPFR_RNDN);
            mpfr_exp(t, t, MPFR_RNDN);
            mpfr_log1p(s, t, MPFR_RNDN);
            mpfr_mul_d(s, s, y[k], MPFR_RNDN);
            mpfr_add(L, L, s, MPFR_RNDN);
            mpfr_add_ui(t, t, 1, MPFR_RNDN);
            mpfr_ui_div(t, 1, t, MPFR_RNDN);
            mpfr_sub_d(g[k], t, y[k], MPFR_RNDN);
            mpfr_set_d(t, z[k], MPFR_RNDN);
            mpfr_exp(t, t, MPFR_RNDN);
            mpfr_log1p(s, t, MPFR_RNDN);
            mpfr_mul_d(s, s, 1.0 - y[k], MPFR_RNDN);
            mpfr_add(L, L, s, MPFR_RNDN);
        }
    } else {
        /* p = softmax(z); l = -sum y log p; dl/dz_j = p_j sum(y) - y_j */
        mpfr_set_zero(s, 1);
        for (size_t k = 0; k < n; k++) {
            mpfr_set_d(t, z[k], MPFR_RNDN);
            mpfr_exp(t, t, MPFR_RNDN);
            mpfr_add(s, s, t, MPFR_RNDN);
        }
        double sy = 0;
        for (size_t k = 0; k < n; k++)
            sy += y[k]; /* targets here are exact binary fractions: the sum is exact */
        for (size_t k = 0; k < n; k++) {
            mpfr_set_d(t, z[k], MPFR_RNDN);
            mpfr_exp(t, t, MPFR_RNDN);
            mpfr_div(t, t, s, MPFR_RNDN);
            mpfr_mul_d(g[k], t, sy, MPFR_RNDN);
            mpfr_sub_d(g[k], g[k], y[k], MPFR_RNDN);
            mpfr_log(m, t, MPFR_RNDN);
            mpfr_mul_d(m, m, y[k], MPFR_RNDN);
            mpfr_sub(L, L, m, MPFR_RNDN);
        }
    }
    double N = c->red == GA_REDUCE_SUM ? 1.0 : c->red == GA_REDUCE_MEAN ? (double)n : 1.0;
    for (size_t k = 0; k < n; k++) {
        mpfr_mul_d(g[k], g[k], c->scale, MPFR_RNDN);
        mpfr_div_d(g[k], g[k], N, MPFR_RNDN);
    }
    mpfr_mul_d(L, L, c->scale, MPFR_RNDN);
    mpfr_div_d(L, L, N, MPFR_RNDN);
    mpfr_clears(t, s, m, (mpfr_ptr)0);
}

static void check_loss(const loss_case *c)
{
    enum { n = 3 };
    ga_layer_desc layer = {n, c->out, 0};
    ga_net_desc d = {GA_LAYOUT_ROW, 1, 1, &layer, {c->kind, c->scale, c->red, 0}};
    ga_net *net;
    ga_workspace *ws;
    ga_error err;
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, 1), GA_OK);
    const double zs[][n] = {{0.3, -1.2, 2.0}, {40, -40, 0.5}, {1e3, -1e3, 3}, {-0.25, 0.0, 0.125}};
    const double ys_prob[][n] = {{0, 1, 0}, {0.25, 0.5, 0.25}, {1, 0, 0}};
    const double ys_bin[][n] = {{0, 1, 1}, {1, 0, 0.5}, {0.25, 0.75, 1}};
    int multi = c->kind == GA_LOSS_SOFTMAX_CE || c->kind == GA_LOSS_CCE;
    mpfr_t g[n], L;
    mpfr_init2(L, PREC);
    for (int k = 0; k < n; k++)
        mpfr_init2(g[k], PREC);
    for (size_t zi = 0; zi < sizeof zs / sizeof zs[0]; zi++)
        for (size_t yi = 0; yi < 3; yi++) {
            const double *z = zs[zi], *y = multi ? ys_prob[yi] : ys_bin[yi];
            if (c->kind == GA_LOSS_MSE && fabs(z[0]) > 100)
                continue;
            memcpy(net->params + net->views[1].offset, z, sizeof zs[0]); /* W = 0, b = z */
            double x = 1.0, loss;
            cr_assert_eq(ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, &x, y, 1),
                         GA_OK);
            exact_loss_grad(g, L, c, z, y, n);
            char what[96];
            snprintf(what, sizeof what, "%s loss at z=(%g,%g,%g)", ga_loss_name(c->kind), z[0], z[1], z[2]);
            double want = mpfr_get_d(L, MPFR_RNDN);
            cr_assert(ga_ulp_distance(loss, want) <= 16 || fabs(loss - want) <= 1e-15 * fabs(want) + 1e-300,
                      "%s: %.17g vs exact %.17g", what, loss, want);
            for (int k = 0; k < n; k++) {
                double gw = mpfr_get_d(g[k], MPFR_RNDN), got = net->grads[net->views[1].offset + k];
                /* A difference p - y that cancels (p near y) is accurate to
                 * u * max(p, y) absolutely, not relatively: allow 8 u of the
                 * larger operand's magnitude. */
                double mag = fabs(gw) + fabs(y[k]) * fabs(c->scale) + 1e-300;
                cr_assert(ga_ulp_distance(got, gw) <= 16 || fabs(got - gw) <= 8 * DBL_EPSILON * mag,
                          "%s: dL/dz[%d] %.17g vs exact %.17g", what, k, got, gw);
            }
        }
    for (int k = 0; k < n; k++)
        mpfr_clear(g[k]);
    mpfr_clear(L);
    ga_workspace_free(ws);
    ga_net_free(net);
}

Test(loss, mse_sum) { loss_case c = {GA_LOSS_MSE, GA_ACT_IDENTITY, GA_REDUCE_SUM, 1.0}; check_loss(&c); }
Test(loss, mse_mean_half) { loss_case c = {GA_LOSS_MSE, GA_ACT_IDENTITY, GA_REDUCE_MEAN, 0.5}; check_loss(&c); }
Test(loss, bce_logits) { loss_case c = {GA_LOSS_BCE_LOGITS, GA_ACT_IDENTITY, GA_REDUCE_SUM, 1.0}; check_loss(&c); }
Test(loss, bce_through_sigmoid) { loss_case c = {GA_LOSS_BCE, GA_ACT_SIGMOID, GA_REDUCE_MEAN, 1.0}; check_loss(&c); }
Test(loss, softmax_ce) { loss_case c = {GA_LOSS_SOFTMAX_CE, GA_ACT_IDENTITY, GA_REDUCE_SUM, 1.0}; check_loss(&c); }
Test(loss, cce_through_softmax) { loss_case c = {GA_LOSS_CCE, GA_ACT_SOFTMAX, GA_REDUCE_BATCH_MEAN, 2.0}; check_loss(&c); }

Test(loss, names_and_pairs)
{
    for (int i = 0; i < GA_LOSS_COUNT; i++) {
        ga_loss_kind k;
        cr_assert_eq(ga_loss_from_name(&k, ga_loss_name((ga_loss_kind)i)), GA_OK);
        cr_assert_eq((int)k, i);
    }
    ga_reduction r;
    cr_assert_eq(ga_reduction_from_name(&r, "batch_mean"), GA_OK);
    cr_assert_eq(r, GA_REDUCE_BATCH_MEAN);
    cr_assert_eq(ga_reduction_from_name(&r, "avg"), GA_EINVAL);
    ga_error err;
    cr_assert_eq(ga_loss_check_pair(&err, GA_LOSS_CCE, GA_ACT_SIGMOID), GA_EINVAL);
    cr_assert(strstr(err.msg, "\"softmax\""), "%s", err.msg);
    cr_assert_eq(ga_loss_check_pair(&err, GA_LOSS_MSE, GA_ACT_SOFTMAX), GA_OK);
    cr_assert_eq(ga_loss_check_pair(&err, GA_LOSS_SOFTMAX_CE, GA_ACT_IDENTITY), GA_OK);
}
