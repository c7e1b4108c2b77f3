/* test_scan: the log-domain scan (ga_scan.h) against an MPFR evaluation of the same
 * forward and backward recursion, and measured per-layer gradient ratios against
 * the mean-field prediction.
 *
 * The MPFR reference here shares only the inputs with the code under test: the
 * draws (ga_rng, the weights as ga_init.h documents randn: g * scale) and the
 * network definition in ga_scan.h. Its arithmetic is MPFR at 160 bits with the
 * widest exponent range, so 10^(+-3000) are ordinary numbers to it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <mpfr.h>

#include "ga_random.h"
#include "ga_scan.h"

#define PREC 160
#define CAP ((size_t)1 << 31)

static void m_act(mpfr_t out, const mpfr_t z, ga_activation a, double p)
{
    mpfr_t t;
    mpfr_init2(t, PREC);
    switch (a) {
    case GA_ACT_IDENTITY: mpfr_set(out, z, MPFR_RNDN); break;
    case GA_ACT_RELU:
        if (mpfr_sgn(z) > 0) mpfr_set(out, z, MPFR_RNDN); else mpfr_set_zero(out, 1);
        break;
    case GA_ACT_LEAKY_RELU:
        if (mpfr_sgn(z) > 0) mpfr_set(out, z, MPFR_RNDN); else mpfr_mul_d(out, z, p, MPFR_RNDN);
        break;
    case GA_ACT_TANH: mpfr_tanh(out, z, MPFR_RNDN); break;
    case GA_ACT_SIGMOID: /* 1/(1+exp(-z)) */
        mpfr_neg(t, z, MPFR_RNDN); mpfr_exp(t, t, MPFR_RNDN); mpfr_add_ui(t, t, 1, MPFR_RNDN);
        mpfr_ui_div(out, 1, t, MPFR_RNDN);
        break;
    case GA_ACT_ELU: /* z > 0 ? z : alpha expm1(z) */
        if (mpfr_sgn(z) > 0) mpfr_set(out, z, MPFR_RNDN);
        else { mpfr_expm1(t, z, MPFR_RNDN); mpfr_mul_d(out, t, p, MPFR_RNDN); }
        break;
    case GA_ACT_SOFTPLUS: /* log1p(exp(z)) = z + log1p(exp(-z)): exp(z) may overflow even MPFR */
        if (mpfr_sgn(z) > 0) {
            mpfr_neg(t, z, MPFR_RNDN); mpfr_exp(t, t, MPFR_RNDN); mpfr_log1p(t, t, MPFR_RNDN);
            mpfr_add(out, z, t, MPFR_RNDN);
        } else {
            mpfr_exp(t, z, MPFR_RNDN); mpfr_log1p(out, t, MPFR_RNDN);
        }
        break;
    default: mpfr_set_nan(out);
    }
    mpfr_clear(t);
}

static void m_dact(mpfr_t out, const mpfr_t z, ga_activation a, double p)
{
    mpfr_t t, s;
    mpfr_inits2(PREC, t, s, (mpfr_ptr)0);
    switch (a) {
    case GA_ACT_IDENTITY: mpfr_set_ui(out, 1, MPFR_RNDN); break;
    case GA_ACT_RELU: mpfr_set_ui(out, mpfr_sgn(z) > 0, MPFR_RNDN); break;
    case GA_ACT_LEAKY_RELU:
        if (mpfr_sgn(z) > 0) mpfr_set_ui(out, 1, MPFR_RNDN); else mpfr_set_d(out, p, MPFR_RNDN);
        break;
    case GA_ACT_TANH: /* sech^2 z (not 1 - tanh^2: that cancels) */
        mpfr_sech(t, z, MPFR_RNDN); mpfr_sqr(out, t, MPFR_RNDN);
        break;
    case GA_ACT_SIGMOID: /* e^{-|z|} / (1 + e^{-|z|})^2 */
        mpfr_abs(t, z, MPFR_RNDN); mpfr_neg(t, t, MPFR_RNDN); mpfr_exp(t, t, MPFR_RNDN);
        mpfr_add_ui(s, t, 1, MPFR_RNDN); mpfr_sqr(s, s, MPFR_RNDN); mpfr_div(out, t, s, MPFR_RNDN);
        break;
    case GA_ACT_ELU:
        if (mpfr_sgn(z) > 0) mpfr_set_ui(out, 1, MPFR_RNDN);
        else { mpfr_exp(t, z, MPFR_RNDN); mpfr_mul_d(out, t, p, MPFR_RNDN); }
        break;
    case GA_ACT_SOFTPLUS: /* 1/(1+exp(-z)) */
        mpfr_neg(t, z, MPFR_RNDN); mpfr_exp(t, t, MPFR_RNDN); mpfr_add_ui(t, t, 1, MPFR_RNDN);
        mpfr_ui_div(out, 1, t, MPFR_RNDN);
        break;
    default: mpfr_set_nan(out);
    }
    mpfr_clears(t, s, (mpfr_ptr)0);
}

/* log10 of the 2-norm of v (n) */
static double m_log10_norm(mpfr_t *v, size_t n)
{
    mpfr_t s, t;
    mpfr_inits2(PREC, s, t, (mpfr_ptr)0);
    mpfr_set_zero(s, 1);
    for (size_t i = 0; i < n; i++) {
        mpfr_sqr(t, v[i], MPFR_RNDN);
        mpfr_add(s, s, t, MPFR_RNDN);
    }
    double r;
    if (mpfr_zero_p(s))
        r = -INFINITY;
    else {
        mpfr_log10(s, s, MPFR_RNDN);
        r = 0.5 * mpfr_get_d(s, MPFR_RNDN);
    }
    mpfr_clears(s, t, (mpfr_ptr)0);
    return r;
}

static mpfr_t *m_vec(size_t n)
{
    mpfr_t *v = malloc(n * sizeof *v);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) {
        mpfr_init2(v[i], PREC);
        mpfr_set_zero(v[i], 1);
    }
    return v;
}

static void m_free(mpfr_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mpfr_clear(v[i]);
    free(v);
}

typedef struct {
    double act, preact, delta, wgrad, bgrad; /* log10 of the norms; preact of the mean square */
} ref_layer;

/* The recursion of ga_scan.h in MPFR, for init randn scaled by w_scale. */
static ref_layer *reference(double *global, const ga_scan_config *c, double w_scale)
{
    size_t L = c->depth, N = c->width, B = c->batch, BN = B * N;
    ga_rng rng;
    ga_rng_seed(&rng, c->seed);
    double *buf = malloc((2 * BN + N * N + N) * sizeof *buf);
    double *W = malloc(L * N * N * sizeof *W);
    cr_assert(buf && W);
    double *x0 = buf, *y = x0 + BN, *Wt = y + BN, *bias = Wt + N * N;
    ga_rng_fill_gauss(x0, BN, &rng);
    ga_rng_fill_gauss(y, BN, &rng);
    mpfr_t *h = m_vec(L * BN), *x = m_vec((L + 1) * BN), *g = m_vec(BN), *d = m_vec(BN);
    mpfr_t *gn = m_vec(BN), *dW = m_vec(N * N), *db = m_vec(N), *tot = m_vec(2);
    mpfr_t t;
    mpfr_init2(t, PREC);
    ref_layer *out = calloc(L, sizeof *out);
    double sb = sqrt(c->sigma_b2);
    for (size_t i = 0; i < BN; i++)
        mpfr_set_d(x[i], x0[i], MPFR_RNDN);
    for (size_t l = 0; l < L; l++) {
        for (size_t i = 0; i < N * N; i++)
            W[l * N * N + i] = ga_rng_gauss(&rng) * w_scale; /* randn: g * scale, (out, in) */
        for (size_t k = 0; k < N; k++)
            bias[k] = ga_rng_gauss(&rng) * sb;
        for (size_t n = 0; n < B; n++)
            for (size_t k = 0; k < N; k++) {
                mpfr_ptr hk = h[l * BN + n * N + k];
                mpfr_set_d(hk, bias[k], MPFR_RNDN);
                for (size_t j = 0; j < N; j++) {
                    mpfr_mul_d(t, x[l * BN + n * N + j], W[l * N * N + k * N + j], MPFR_RNDN);
                    mpfr_add(hk, hk, t, MPFR_RNDN);
                }
                m_act(x[(l + 1) * BN + n * N + k], hk, c->act, c->act_param);
            }
        out[l].preact = 2.0 * m_log10_norm(h + l * BN, BN) - log10((double)BN);
        out[l].act = m_log10_norm(x + (l + 1) * BN, BN);
    }
    for (size_t i = 0; i < BN; i++) /* dL/dx_L = y / B */
    {
        mpfr_set_d(t, y[i], MPFR_RNDN);
        mpfr_div_ui(g[i], t, (unsigned long)B, MPFR_RNDN);
    }
    mpfr_set_zero(tot[0], 1);
    for (size_t l = L; l-- > 0;) {
        for (size_t i = 0; i < BN; i++) {
            m_dact(t, h[l * BN + i], c->act, c->act_param);
            mpfr_mul(d[i], t, g[i], MPFR_RNDN);
        }
        out[l].delta = m_log10_norm(d, BN);
        for (size_t k = 0; k < N; k++) {
            mpfr_set_zero(db[k], 1);
            for (size_t n = 0; n < B; n++)
                mpfr_add(db[k], db[k], d[n * N + k], MPFR_RNDN);
            for (size_t j = 0; j < N; j++) {
                mpfr_ptr e = dW[k * N + j];
                mpfr_set_zero(e, 1);
                for (size_t n = 0; n < B; n++) {
                    mpfr_mul(t, d[n * N + k], x[l * BN + n * N + j], MPFR_RNDN);
                    mpfr_add(e, e, t, MPFR_RNDN);
                }
                mpfr_sqr(t, e, MPFR_RNDN);
                mpfr_add(tot[0], tot[0], t, MPFR_RNDN);
            }
            mpfr_sqr(t, db[k], MPFR_RNDN);
            mpfr_add(tot[0], tot[0], t, MPFR_RNDN);
        }
        out[l].wgrad = m_log10_norm(dW, N * N);
        out[l].bgrad = m_log10_norm(db, N);
        for (size_t n = 0; n < B; n++)
            for (size_t j = 0; j < N; j++) {
                mpfr_ptr e = gn[n * N + j];
                mpfr_set_zero(e, 1);
                for (size_t k = 0; k < N; k++) {
                    mpfr_mul_d(t, d[n * N + k], W[l * N * N + k * N + j], MPFR_RNDN);
                    mpfr_add(e, e, t, MPFR_RNDN);
                }
            }
        for (size_t i = 0; i < BN; i++)
            mpfr_set(g[i], gn[i], MPFR_RNDN);
    }
    mpfr_log10(t, tot[0], MPFR_RNDN);
    *global = 0.5 * mpfr_get_d(t, MPFR_RNDN);
    mpfr_clear(t);
    m_free(h, L * BN); m_free(x, (L + 1) * BN); m_free(g, BN); m_free(d, BN);
    m_free(gn, BN); m_free(dW, N * N); m_free(db, N); m_free(tot, 2);
    free(buf);
    free(W);
    return out;
}

typedef struct {
    char act[16];   /* inline: Criterion copies parameters into the test process */
    int init;         /* GA_INIT_RANDN or GA_SCAN_INIT_NORMAL */
    double sigma_w2, sigma_b2;
    size_t depth, width, batch;
    unsigned seed;
    double growth;    /* rounding growth per layer in units of u (see below) */
} mp_case;

/* Tolerance on log10 norms: the double run rounds O(width + batch) times per
 * element per layer and the relative errors add up along the depth (these nets are
 * ordered or piecewise linear, not chaotic), so |rel err| <= growth * L * u with
 * growth = 8 (width + batch) by default; where tanh saturates, log phi' = -2|z|
 * carries z's own relative error times |z| ~ 1e3, hence a larger growth. log10
 * adds |log10 value| * 4u for forming m + e log10(2). */
ParameterizedTestParameters(scan_mpfr, matches_mpfr)
{
    static mp_case cases[] = {
        /* 10,000 layers: exploding past 1e+308 (identity, randn unscaled: sigma_w2 = 4) */
        {"identity", GA_INIT_RANDN, 0, 0, 10000, 4, 2, 3, 0},
        /* 10,000 layers: vanishing past 1e-308 in both passes (tanh, ordered, sigma_w2 0.5) */
        {"tanh", GA_SCAN_INIT_NORMAL, 0.5, 0, 10000, 4, 2, 5, 0},
        /* leaky relu, randn unscaled, width 4: forward and backward leave the range */
        {"leaky_relu", GA_INIT_RANDN, 0, 0, 10000, 4, 2, 7, 0},
        /* sigmoid: chi ~ 0.06 per layer, gradients to ~1e-3700 */
        {"sigmoid", GA_SCAN_INIT_NORMAL, 1.0, 0.1, 3000, 4, 2, 1, 0},
        /* saturated tanh: phi' underflows in every unit, the log-domain path */
        {"tanh", GA_SCAN_INIT_NORMAL, 1e6, 0, 40, 4, 2, 2, 4000},
        /* elu, softplus with growing pre-activations past 2^600 */
        {"elu", GA_SCAN_INIT_NORMAL, 1e4, 0, 150, 16, 2, 4, 0},
        {"softplus", GA_SCAN_INIT_NORMAL, 1e4, 0, 150, 16, 2, 4, 0},
        /* shallow, with biases, every activation */
        {"relu", GA_SCAN_INIT_NORMAL, 1.7, 0.3, 6, 5, 3, 11, 0},
        {"tanh", GA_SCAN_INIT_NORMAL, 1.7, 0.3, 6, 5, 3, 11, 0},
        {"sigmoid", GA_SCAN_INIT_NORMAL, 1.7, 0.3, 6, 5, 3, 11, 0},
        {"elu", GA_SCAN_INIT_NORMAL, 1.7, 0.3, 6, 5, 3, 11, 0},
        {"softplus", GA_SCAN_INIT_NORMAL, 1.7, 0.3, 6, 5, 3, 11, 0},
        {"leaky_relu", GA_SCAN_INIT_NORMAL, 1.7, 0.3, 6, 5, 3, 11, 0},
    };
    return cr_make_param_array(mp_case, cases, sizeof cases / sizeof cases[0]);
}

static void expect_close(double got, double want, double tol, const char *what, size_t layer,
                         const mp_case *p)
{
    if (isinf(want) && want < 0) {
        cr_expect(isinf(got) && got < 0, "%s layer %zu: got %.17g, MPFR -inf (%s seed %u)", what,
                  layer, got, p->act, p->seed);
        return;
    }
    cr_expect(isfinite(got), "%s layer %zu: not finite: %g (%s seed %u)", what, layer, got, p->act,
              p->seed);
    cr_expect(fabs(got - want) <= tol,
              "%s layer %zu: log10 %.17g vs MPFR %.17g, |diff| %.3g > tol %.3g (%s seed %u)", what,
              layer, got, want, fabs(got - want), tol, p->act, p->seed);
}

ParameterizedTest(mp_case *p, scan_mpfr, matches_mpfr, .timeout = 60)
{
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    ga_scan_config c = {0};
    cr_assert_eq(ga_activation_from_name(&c.act, p->act), GA_OK);
    c.act_param = ga_activation_default_param(c.act);
    c.init = p->init;
    c.sigma_w2 = ga_scan_sigma_w2(p->init, p->width, p->sigma_w2);
    c.sigma_b2 = p->sigma_b2;
    c.depth = p->depth;
    c.width = p->width;
    c.batch = p->batch;
    c.seed = p->seed;
    ga_scan_result r;
    ga_error err = {{0}};
    cr_assert_eq(ga_scan_run(&r, &err, &c, CAP, NULL), GA_OK, "%s", err.msg);
    double w_scale = p->init == GA_INIT_RANDN ? 1.0 : sqrt(p->sigma_w2 / (double)p->width);
    double global;
    ref_layer *ref = reference(&global, &c, w_scale);
    double growth = p->growth > 0 ? p->growth : 8.0 * (double)(p->width + p->batch);
    double rel = growth * (double)p->depth * GA_U;
    int out_of_range = 0;
    for (size_t l = 0; l < c.depth; l++) {
        const ga_scan_layer *g = &r.layers[l];
        const ref_layer *w = &ref[l];
        const double vals[5][2] = {{ga_xreal_log10(g->act_norm), w->act},
                                   {ga_xreal_log10(g->preact_var), w->preact},
                                   {ga_xreal_log10(g->delta_norm), w->delta},
                                   {ga_xreal_log10(g->weight_grad), w->wgrad},
                                   {ga_xreal_log10(g->bias_grad), w->bgrad}};
        const char *names[5] = {"act_norm", "preact_var", "delta_norm", "weight_grad", "bias_grad"};
        for (int k = 0; k < 5; k++) {
            double tol = rel / M_LN10 + 4.0 * GA_U * fabs(vals[k][1]);
            expect_close(vals[k][0], vals[k][1], tol, names[k], l + 1, p);
            if (fabs(vals[k][1]) > 308.0)
                out_of_range = 1;
        }
        cr_expect_eq(g->nan_inf, 0, "layer %zu flagged nan_inf", l + 1);
    }
    expect_close(ga_xreal_log10(r.global_grad), global, rel / M_LN10 + 4.0 * GA_U * fabs(global),
                 "global", 0, p);
    if (p->depth >= 3000)
        cr_expect(out_of_range, "case %s depth %zu never left the double range: not a test of it",
                  p->act, p->depth);
    free(ref);
    ga_scan_result_free(&r);
}

/* ---- measured ratios against the mean-field prediction --------------------- */
/* Reference q-map and chi for tanh by QAGI (independent of ga_meanfield's
 * Gauss-Hermite): E[tanh(sqrt(q) z)^2] and E[sech^4(sqrt(q) z)]. */
typedef struct {
    double s;
    int deriv;
} tanh_prm;

static double tanh_integrand(double z, void *vp)
{
    const tanh_prm *p = vp;
    double v = p->deriv ? 1.0 / (cosh(p->s * z) * cosh(p->s * z)) : tanh(p->s * z);
    return v * v * exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
}

static double qagi_tanh(double q, int deriv)
{
    gsl_integration_workspace *w = gsl_integration_workspace_alloc(1000);
    cr_assert_not_null(w);
    tanh_prm prm = {sqrt(q), deriv};
    gsl_function F = {tanh_integrand, &prm};
    double r, e;
    gsl_set_error_handler_off();
    cr_assert_eq(gsl_integration_qagi(&F, 1e-15, 1e-13, 1000, w, &r, &e), GSL_SUCCESS);
    gsl_integration_workspace_free(w);
    return r;
}

/* Geometric mean over layers 1..L-1 and seeds of the measured ||delta_l||^2 /
 * ||delta_{l+1}||^2 divided by the predicted chi(q_l). Width 512, batch 32: one
 * layer's ratio scatters by ~4%, so 11 layers x 3 seeds put the mean within ~1%. */
static double mean_ratio_vs_theory(const char *act, int init, double sw2, const double *chi_ref)
{
    double acc = 0.0;
    int count = 0;
    for (unsigned seed = 0; seed < 3; seed++) {
        ga_scan_config c = {0};
        cr_assert_eq(ga_activation_from_name(&c.act, act), GA_OK);
        c.act_param = ga_activation_default_param(c.act);
        c.init = init;
        c.sigma_w2 = ga_scan_sigma_w2(init, 512, sw2);
        c.depth = 12;
        c.width = 512;
        c.batch = 32;
        c.seed = seed;
        ga_scan_result r;
        ga_error err = {{0}};
        cr_assert_eq(ga_scan_run(&r, &err, &c, CAP, NULL), GA_OK, "%s", err.msg);
        for (size_t l = 0; l + 1 < c.depth; l++) {
            double lr = 2.0 * (ga_xreal_log10(r.layers[l].delta_norm) -
                               ga_xreal_log10(r.layers[l + 1].delta_norm));
            acc += lr * M_LN10 - log(chi_ref[l]);
            count++;
        }
        ga_scan_result_free(&r);
    }
    return exp(acc / count);
}

Test(scan_theory, tanh_sigma_w2_2_25_width_512)
{
    /* q_1 = sigma_w2 * E[x_0^2] = 2.25, then the q-map; chi(q_l) = sigma_w2 E[sech^4] */
    double chi[12], q = 2.25;
    for (int l = 0; l < 12; l++) {
        chi[l] = 2.25 * qagi_tanh(q, 1);
        q = 2.25 * qagi_tanh(q, 0);
    }
    double m = mean_ratio_vs_theory("tanh", GA_SCAN_INIT_NORMAL, 2.25, chi);
    cr_expect(fabs(m - 1.0) <= 0.02, "measured/predicted per-layer ratio %.5f, not within 2%%", m);
}

Test(scan_theory, relu_he_width_512)
{
    double chi[12]; /* He: sigma_w2 = 2, relu chi = sigma_w2 / 2 = 1 (by hand) */
    for (int l = 0; l < 12; l++)
        chi[l] = 1.0;
    double m = mean_ratio_vs_theory("relu", GA_INIT_HE, 0.0, chi);
    cr_expect(fabs(m - 1.0) <= 0.02, "measured/predicted per-layer ratio %.5f, not within 2%%", m);
}

/* ---- exact identities and the regenerated-weights path ----------------------- */
static ga_scan_config mk_config(const char *act, int init, double sw2, size_t depth, size_t width,
                                size_t batch, unsigned seed)
{
    ga_scan_config c = {0};
    cr_assert_eq(ga_activation_from_name(&c.act, act), GA_OK);
    c.act_param = ga_activation_default_param(c.act);
    c.init = init;
    c.sigma_w2 = ga_scan_sigma_w2(init, width, sw2);
    c.depth = depth;
    c.width = width;
    c.batch = batch;
    c.seed = seed;
    return c;
}

/* A linear net with orthogonal weights of gain g maps norms exactly: ||x_l|| = g^l ||x_0||
 * and ||delta_l|| = g^(L-l) ||delta_L|| per sample, so for the batch too (by hand:
 * W^T W = g^2 I). Rounding leaves ~depth * width ulps. */
Test(scan_exact, orthogonal_linear_net_preserves_norms)
{
    const double gains2[] = {1.0, 2.25};
    for (size_t k = 0; k < 2; k++) {
        ga_scan_config c = mk_config("identity", GA_INIT_ORTHOGONAL, gains2[k], 30, 16, 3, 9);
        ga_scan_result r;
        ga_error err = {{0}};
        cr_assert_eq(ga_scan_run(&r, &err, &c, CAP, NULL), GA_OK, "%s", err.msg);
        double lg = 0.5 * log10(gains2[k]), tol = 30.0 * 16.0 * GA_U / M_LN10 * 8.0;
        double top = ga_xreal_log10(r.layers[29].delta_norm);
        double first = ga_xreal_log10(r.layers[0].act_norm);
        for (size_t l = 0; l < 30; l++) {
            double d = ga_xreal_log10(r.layers[l].delta_norm) - top;
            cr_expect(fabs(d - (double)(29 - l) * lg) <= tol, "gain^2 %g layer %zu: log10 ratio "
                      "%.17g, want %.17g", gains2[k], l + 1, d, (double)(29 - l) * lg);
            double a = ga_xreal_log10(r.layers[l].act_norm) - first;
            cr_expect(fabs(a - (double)l * lg) <= tol, "gain^2 %g layer %zu: act log10 ratio %.17g",
                      gains2[k], l + 1, a);
        }
        ga_scan_result_free(&r);
    }
}

/* Under a memory cap too small for every weight matrix the weights are drawn twice
 * (forward, then again backward) instead of stored: the numbers must be identical. */
Test(scan_exact, regenerated_weights_give_the_same_bits)
{
    const int inits[] = {GA_SCAN_INIT_NORMAL, GA_INIT_ORTHOGONAL, GA_INIT_XAVIER_UNIFORM};
    for (size_t k = 0; k < 3; k++) {
        ga_scan_config c = mk_config("tanh", inits[k], 1.7, 40, 48, 5, 3);
        c.sigma_b2 = 0.05;
        double need, stored;
        ga_scan_memory(&need, &stored, &c);
        ga_scan_result a, b;
        cr_assert_eq(ga_scan_run(&a, NULL, &c, CAP, NULL), GA_OK);
        cr_assert_eq(ga_scan_run(&b, NULL, &c, (size_t)((need + stored) / 2), NULL), GA_OK);
        cr_expect(!a.weights_regenerated && b.weights_regenerated, "paths not as intended");
        for (size_t l = 0; l < c.depth; l++) {
            const ga_scan_layer *x = &a.layers[l], *y = &b.layers[l];
            cr_expect(x->delta_norm.m == y->delta_norm.m && x->delta_norm.e == y->delta_norm.e &&
                      x->weight_grad.m == y->weight_grad.m && x->act_norm.m == y->act_norm.m &&
                      x->bias_grad.m == y->bias_grad.m, "init %d layer %zu differs", inits[k], l + 1);
        }
        ga_scan_result_free(&a);
        ga_scan_result_free(&b);
        /* and a cap below the minimum is refused with a message, nothing allocated */
        ga_error err = {{0}};
        cr_expect_eq(ga_scan_run(&a, &err, &c, (size_t)(need / 2), NULL), GA_ENOMEM);
        cr_expect(strstr(err.msg, "memory cap") != NULL, "message: %s", err.msg);
    }
}

/* The theory columns stay right where q leaves the double range: relu with sigma_w2
 * 0.5 has q_l = 0.5 * 0.25^(l-1) (1e-1200 at l = 2000) and chi = sigma_w2 / 2 = 0.25 at
 * every layer (by hand), so the predicted log10 ratio at layer l is
 * (L - l)/2 log10 0.25. */
Test(scan_exact, theory_beyond_double_range)
{
    ga_scan_config c = mk_config("relu", GA_SCAN_INIT_NORMAL, 0.5, 2000, 4, 1, 0);
    ga_scan_result r;
    cr_assert_eq(ga_scan_run(&r, NULL, &c, CAP, NULL), GA_OK);
    for (size_t l = 0; l < 2000; l += 111) {
        cr_expect_eq(r.layers[l].theory_chi, 0.25, "layer %zu chi %.17g", l + 1,
                     r.layers[l].theory_chi);
        double want = 0.5 * (double)(1999 - l) * log10(0.25);
        cr_expect(fabs(r.layers[l].theory_log10_ratio - want) <= 1e-12 * fabs(want) + 1e-15,
                  "layer %zu: %.17g, want %.17g", l + 1, r.layers[l].theory_log10_ratio, want);
        double lq = log10(0.5) + (double)l * log10(0.25);
        cr_expect(fabs(ga_xreal_log10(r.layers[l].theory_q) - lq) <= 1e-12 * fabs(lq) + 1e-15,
                  "layer %zu: log10 q %.17g, want %.17g", l + 1,
                  ga_xreal_log10(r.layers[l].theory_q), lq);
    }
    ga_scan_result_free(&r);
}
