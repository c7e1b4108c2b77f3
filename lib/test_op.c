/* test_op.c: gradaudit_check_op on ops written by hand for this test
 * (test_op_kernels.h: llm.c-style layernorm, gelu and attention backward
 * passes, a scatter-add embedding, a direct conv2d; in float32 and in
 * double; no code of gradaudit's), through the public header alone.
 * Expected: every correct op passes every entry in both precisions; each
 * wrong variant, a bug people make, FAILs in the tensor it breaks; a backward
 * that accumulates (+=) FAILs; bad input is refused with a status and a
 * message, never a crash. The exact values come from gradaudit's oracle at
 * the op's (rounded) numbers. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "gradaudit.h"
#include "test_op_support.h"

enum bug { GOOD = 0, LN_NO_MEAN, GELU_TYPO, ATTN_NO_SCALE, EMB_OVERWRITE, CONV_FLIP };

#define MAXW 512 /* the widest row or table the kernels keep */
#define MAXT 16  /* the most attention tokens */

#include "test_op_kernels_f32.h"
#define REAL double
#define FN(name) name##_f64
#define SQRT sqrt
#define EXP exp
#define ERFC erfc
#define TANH tanh
#define COSH cosh
#include "test_op_kernels.h"

/* what a callback is asked to do */
typedef struct {
    int bug;
    int accumulate; /* 1: add into the buffers (+=) instead of writing them */
    size_t T, H, d; /* attention's shape */
    size_t C, Hi, Wi, OC, K, P; /* conv2d's */
    int fast_math;  /* judged by the fast-math model (gradaudit_op.fast_math) */
} variant;

/* every parameter gradient and dx, as the variant writes or adds them */
static void deliver(double *dst, const double *src, size_t n, const variant *v)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = v->accumulate ? dst[i] + src[i] : src[i];
}

/* ---- layernorm ------------------------------------------------------------ */

static int ln_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                       size_t n_out, void *user)
{
    const variant *v = user;
    size_t B = op->batch, n = op->n_in;
    cr_assert_eq(n_out, n);
    static double gx[4 * MAXW], gg[MAXW], gb[MAXW];
    /* params in the order the test gave them: gamma1, beta1 */
    if (op->float32)
        layernorm_backward_f32(gx, gg, gb, dy, op->x, op->params[0].data, B, n, 1e-5f, v->bug);
    else
        layernorm_backward_f64(gx, gg, gb, dy, op->x, op->params[0].data, B, n, 1e-5, v->bug);
    deliver(dx, gx, B * n, v);
    deliver(dp[0], gg, n, v);
    deliver(dp[1], gb, n, v);
    return 0;
}

#define LN_N 24
#define LN_B 4
static double ln_x[LN_B * LN_N], ln_gamma[LN_N], ln_beta[LN_N];

static gradaudit_op_result check_ln_variant(int float32, variant v)
{
    for (size_t i = 0; i < LN_B * LN_N; i++)
        ln_x[i] = fill(i, 2.0, 0.3);
    for (size_t k = 0; k < LN_N; k++) {
        ln_gamma[k] = 1.0 + 0.5 * cos((double)k);
        ln_beta[k] = 0.1 * sin((double)k);
    }
    gradaudit_tensor p[2] = {{"gamma1", ln_gamma, LN_N}, {"beta1", ln_beta, LN_N}};
    gradaudit_op op = {"{\"type\": \"layernorm\", \"eps\": 1e-5}", NULL, LN_N, LN_B, ln_x, p, 2,
                       NULL, float32, 11};
    op.fast_math = v.fast_math;
    gradaudit_op_result r = run(&op, ln_backward, &v);
    cr_assert_eq(r.n_out, LN_N);
    cr_assert_eq(r.n_tensors, 3);
    cr_assert_eq(r.n_entries, LN_B * LN_N + 2 * LN_N);
    cr_assert_str_eq(r.tensors[0].name, "dx");
    cr_assert_str_eq(r.tensors[1].name, "dgamma1");
    cr_assert_str_eq(r.tensors[2].name, "dbeta1");
    return r;
}

static gradaudit_op_result check_ln(int float32, int bug)
{
    return check_ln_variant(float32, (variant){bug});
}

/* n FAIL entries in tensor `name` of r */
static size_t fails(const gradaudit_op_result *r, const char *name)
{
    const gradaudit_op_tensor *t = gradaudit_op_result_tensor(r, name);
    cr_assert(t != NULL, "no tensor %s", name);
    return t->n_fail;
}

static void expect_all_pass(const gradaudit_op_result *r)
{
    cr_expect_eq(r->n_fail, 0, "%zu FAIL: %s", r->n_fail, r->first_fail);
    cr_expect_eq(r->n_rerun_differ, 0, "a rerun differed: %s", r->rerun_first);
    cr_expect_eq(r->n_nonfinite, 0, "%zu non-finite gradient entries", r->n_nonfinite);
    cr_expect_eq(r->n_unjudgeable, 0, "%zu unjudgeable", r->n_unjudgeable);
    cr_expect_eq(r->n_pass + r->n_kink, r->n_entries);
}

Test(op_layernorm, a_backward_that_accumulates_fails_every_entry)
{
    gradaudit_op_result r = check_ln_variant(0, (variant){GOOD, 1});
    cr_expect_eq(r.n_fail, r.n_entries);
    cr_expect(strstr(r.first_fail, "+=") != NULL, "%s", r.first_fail);
    cr_expect_eq(r.n_nonfinite, r.n_entries, "%zu of %zu entries non-finite", r.n_nonfinite,
                 r.n_entries); /* every one NaN, every exact value finite */
}

/* ---- the fast-math model (gradaudit_op.fast_math) --------------------------
 * A float32 layernorm written in plain C as GCC's -Ofast compiles llm.c's
 * (f32_layers_soak.c): the mean and the variance as sums times the
 * reciprocal 1/C, two roundings where the op's maths has one division, and
 * y = (x - m) (s w) + b, the product regrouped. No compiler flag does it:
 * the C says so. Two rows of C = 3 each time, drawn by a search over rows
 * like the soak's (the numbers as float hex): nearly constant rows, where
 * m's extra rounding becomes most of x - m's digits, and rows near 2^22
 * with weights near 2^-121, where s w underflows and ((x - m) s) w does not.
 * Both FAIL the IEEE model (the forward output y), pass the fast-math model
 * (a few entries unjudgeable), and a real bug (the mean term left out of dx)
 * still FAILs with it. */
#define RA_C 3
#define RA_B 2

static void ln_reassoc_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                               const float *b)
{
    const float inv = 1.0f / RA_C;
    for (size_t r = 0; r < RA_B; r++) {
        const float *xr = x + r * RA_C;
        float m = 0.0f, v = 0.0f;
        for (size_t i = 0; i < RA_C; i++)
            m += xr[i];
        m = m * inv; /* m / C */
        for (size_t i = 0; i < RA_C; i++) {
            float d = xr[i] - m;
            v += d * d;
        }
        v = v * inv;
        float s = 1.0f / sqrtf(v + 1e-5f);
        for (size_t i = 0; i < RA_C; i++) {
            float sw = s * w[i]; /* ((x - m) s) w regrouped */
            y[r * RA_C + i] = (xr[i] - m) * sw + b[i];
        }
        mean[r] = m;
        rstd[r] = s;
    }
}

/* dx, dgamma, dbeta of ln_reassoc_forward; user: the bug (GOOD or LN_NO_MEAN) */
static int ln_reassoc_backward(double *dx, double *const *dp, const double *dy,
                               const gradaudit_op *op, size_t n_out, void *user)
{
    const int bug = *(const int *)user;
    const float inv = 1.0f / RA_C;
    float x[RA_B * RA_C], w[RA_C], b[RA_C], y[RA_B * RA_C], m[RA_B], s[RA_B];
    float gw[RA_C] = {0}, gb[RA_C] = {0};
    cr_assert_eq(n_out, RA_C);
    for (size_t i = 0; i < RA_B * RA_C; i++)
        x[i] = (float)op->x[i];
    for (size_t i = 0; i < RA_C; i++) {
        w[i] = (float)op->params[0].data[i];
        b[i] = (float)op->params[1].data[i];
    }
    ln_reassoc_forward(y, m, s, x, w, b);
    for (size_t r = 0; r < RA_B; r++) {
        float g[RA_C], sum_dxh = 0.0f, sum_dxh_xh = 0.0f;
        for (size_t i = 0; i < RA_C; i++) {
            g[i] = (float)dy[r * RA_C + i];
            float xh = (x[r * RA_C + i] - m[r]) * s[r], dxh = w[i] * g[i];
            sum_dxh += dxh;
            sum_dxh_xh += dxh * xh;
        }
        float mean_dxh = sum_dxh * inv, mean_dxh_xh = sum_dxh_xh * inv;
        for (size_t i = 0; i < RA_C; i++) {
            float xh = (x[r * RA_C + i] - m[r]) * s[r], dxh = w[i] * g[i];
            gb[i] += g[i];
            gw[i] += xh * g[i];
            float d = dxh - xh * mean_dxh_xh;
            if (bug != LN_NO_MEAN)
                d -= mean_dxh;
            dx[r * RA_C + i] = s[r] * d;
        }
    }
    for (size_t i = 0; i < RA_C; i++) {
        dp[0][i] = gw[i];
        dp[1][i] = gb[i];
    }
    return 0;
}

/* the check of ln_reassoc on rows x (RA_B, RA_C), gamma w and beta b, its
 * forward output judged */
static gradaudit_op_result check_ln_reassoc(const float *x, const float *w, const float *b,
                                            int fast_math, int bug)
{
    float y[RA_B * RA_C], m[RA_B], s[RA_B];
    double xd[RA_B * RA_C], yd[RA_B * RA_C], wd[RA_C], bd[RA_C];
    ln_reassoc_forward(y, m, s, x, w, b);
    for (size_t i = 0; i < RA_B * RA_C; i++) {
        xd[i] = x[i];
        yd[i] = y[i];
    }
    for (size_t i = 0; i < RA_C; i++) {
        wd[i] = w[i];
        bd[i] = b[i];
    }
    gradaudit_tensor p[2] = {{"gamma1", wd, RA_C}, {"beta1", bd, RA_C}};
    gradaudit_op op = {"{\"type\": \"layernorm\", \"eps\": 1e-5}", NULL, RA_C, RA_B, xd, p, 2,
                       yd, 1, 7};
    op.fast_math = fast_math;
    return run(&op, ln_reassoc_backward, &bug);
}

/* nearly constant rows (the second exactly): m (1/C) is not m / C */
static const float ra_x1[RA_B * RA_C] = {-0x1.5105acp+2f, -0x1.5105bcp+2f, -0x1.5105c8p+2f,
                                         0x1.9870dcp+5f, 0x1.9870dcp+5f, 0x1.9870dcp+5f};
static const float ra_w1[RA_C] = {0x1.637b5cp+0f, -0x1.4f3658p-2f, -0x1.d13cdcp-3f};
static const float ra_b1[RA_C] = {-0x1.ff0494p-2f, 0x1.33719cp-3f, -0x1.15b92cp+0f};
/* rows near 2^22, weights near 2^-121: s w underflows */
static const float ra_x2[RA_B * RA_C] = {-0x1.d67f4cp+20f, -0x1.826acep+20f, -0x1.459d0cp+21f,
                                         -0x1.8c1616p+22f, 0x1.184218p+23f, -0x1.9079c2p+21f};
static const float ra_w2[RA_C] = {0x1.0d985p-121f, 0x1.3a37aap-122f, -0x1.0350ep-120f};
static const float ra_b2[RA_C] = {0.0f, 0.0f, 0.0f};

Test(op_fast_math, a_reciprocal_for_the_mean_fails_the_ieee_model_and_passes_the_fast_one)
{
    gradaudit_op_result r = check_ln_reassoc(ra_x1, ra_w1, ra_b1, 0, GOOD);
    cr_expect_gt(fails(&r, "y"), 0, "the IEEE model held m (1/C) on nearly constant rows");
    r = check_ln_reassoc(ra_x1, ra_w1, ra_b1, 1, GOOD);
    cr_expect_eq(r.n_fail, 0, "%zu FAIL: %s", r.n_fail, r.first_fail);
    cr_expect_lt(r.n_unjudgeable, r.n_entries / 4, "%zu of %zu unjudgeable", r.n_unjudgeable,
                 r.n_entries);
}

Test(op_fast_math, a_regrouped_product_that_underflows_fails_the_ieee_model_and_passes_the_fast_one)
{
    gradaudit_op_result r = check_ln_reassoc(ra_x2, ra_w2, ra_b2, 0, GOOD);
    cr_expect_gt(fails(&r, "y"), 0, "the IEEE model held (x - m) (s w) where s w underflows");
    r = check_ln_reassoc(ra_x2, ra_w2, ra_b2, 1, GOOD);
    cr_expect_eq(r.n_fail, 0, "%zu FAIL: %s", r.n_fail, r.first_fail);
}

Test(op_fast_math, a_layernorm_without_its_mean_term_still_fails)
{
    gradaudit_op_result r = check_ln_reassoc(ra_x1, ra_w1, ra_b1, 1, LN_NO_MEAN);
    cr_expect_gt(fails(&r, "dx"), 0, "the fast-math model held dx without - mean(dxh)");
    cr_expect_eq(fails(&r, "dgamma1") + fails(&r, "dbeta1") + fails(&r, "y"), 0, "%s",
                 r.first_fail);
    /* and the ordinary llm.c-style layernorm's bug, judged by the fast-math model */
    r = check_ln_variant(1, (variant){GOOD, .fast_math = 1});
    cr_expect_eq(r.n_fail, 0, "%zu FAIL: %s", r.n_fail, r.first_fail);
    r = check_ln_variant(1, (variant){LN_NO_MEAN, .fast_math = 1});
    cr_expect_eq(fails(&r, "dx"), LN_B * LN_N, "%s", r.first_fail);
}

/* ---- gelu, erf and tanh forms, activations alone --------------------------- */

static int gelu_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                         size_t n_out, void *user)
{
    const variant *v = user;
    size_t n = op->batch * op->n_in;
    (void)dp;
    cr_assert_eq(n_out, op->n_in);
    int erf_form = strstr(op->layer, "gelu_tanh") == NULL;
    if (erf_form && op->float32)
        gelu_backward_f32(dx, dy, op->x, n);
    else if (erf_form)
        gelu_backward_f64(dx, dy, op->x, n);
    else if (op->float32)
        gelu_tanh_backward_f32(dx, dy, op->x, n, v->bug);
    else
        gelu_tanh_backward_f64(dx, dy, op->x, n, v->bug);
    return 0;
}

#define G_N 40
#define G_B 3
static double g_x[G_B * G_N], g_y[G_B * G_N];

static gradaudit_op_result check_gelu(const char *layer, int float32, variant v, const double *y)
{
    for (size_t i = 0; i < G_B * G_N; i++)
        g_x[i] = fill(i, 3.0, 0.1);
    gradaudit_op op = {layer, NULL, G_N, G_B, g_x, NULL, 0, y, float32, 5};
    gradaudit_op_result r = run(&op, gelu_backward, &v);
    cr_assert_eq(r.n_tensors, y ? 2 : 1);
    return r;
}

static gradaudit_op_result check_gelu_erf(int float32, int bug)
{
    return check_gelu("{\"activation\": \"gelu\"}", float32, (variant){bug}, NULL);
}

static gradaudit_op_result check_gelu_tanh(int float32, int bug)
{
    return check_gelu("{\"activation\": \"gelu_tanh\"}", float32, (variant){bug}, NULL);
}

/* the forward output: gradaudit's whole enclosure of it in the precision */
Test(op_gelu, forward_output_is_judged_when_given)
{
    for (int f32 = 0; f32 < 2; f32++) {
        for (size_t i = 0; i < G_B * G_N; i++)
            g_x[i] = fill(i, 3.0, 0.1);
        /* x is rounded to float32 by the check; the forward reads it so too */
        double xr[G_B * G_N];
        for (size_t i = 0; i < G_B * G_N; i++)
            xr[i] = f32 ? (double)(float)g_x[i] : g_x[i];
        if (f32)
            gelu_tanh_forward_f32(g_y, xr, G_B * G_N, GOOD);
        else
            gelu_tanh_forward_f64(g_y, xr, G_B * G_N, GOOD);
        gradaudit_op_result r =
            check_gelu("{\"activation\": \"gelu_tanh\"}", f32, (variant){GOOD}, g_y);
        expect_all_pass(&r);
        cr_expect_eq(gradaudit_op_result_tensor(&r, "y")->n, G_B * G_N);
        if (f32)
            gelu_tanh_forward_f32(g_y, xr, G_B * G_N, GELU_TYPO);
        else
            gelu_tanh_forward_f64(g_y, xr, G_B * G_N, GELU_TYPO);
        r = check_gelu("{\"activation\": \"gelu_tanh\"}", f32, (variant){GOOD}, g_y);
        cr_expect_gt(fails(&r, "y"), G_B * G_N / 4, "float32 %d: %zu", f32, fails(&r, "y"));
        cr_expect_eq(fails(&r, "dx"), 0);
        cr_expect(strstr(r.first_fail, "forward output") != NULL, "%s", r.first_fail);
    }
}

/* ---- attention ------------------------------------------------------------ */

static int attn_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                         size_t n_out, void *user)
{
    const variant *v = user;
    (void)dp;
    cr_assert_eq(n_out, v->T * v->d);
    for (size_t s = 0; s < op->batch; s++) {
        double *gx = dx + s * op->n_in;
        const double *x = op->x + s * op->n_in, *g = dy + s * n_out;
        if (op->float32)
            attention_backward_f32(gx, g, x, v->T, v->H, v->d, v->bug);
        else
            attention_backward_f64(gx, g, x, v->T, v->H, v->d, v->bug);
    }
    return 0;
}

#define A_T 4
#define A_H 2
#define A_D 6 /* head size 3: the scale 1/sqrt(3) is no float32 number */
#define A_B 2
static double a_x[A_B * 3 * A_T * A_D];

static gradaudit_op_result check_attn(int float32, int bug)
{
    for (size_t i = 0; i < A_B * 3 * A_T * A_D; i++)
        a_x[i] = fill(i, 1.5, 0.7);
    variant v = {.bug = bug, .T = A_T, .H = A_H, .d = A_D};
    gradaudit_op op = {"{\"type\": \"attention\", \"tokens\": 4, \"heads\": 2}", NULL,
                       3 * A_T * A_D, A_B, a_x, NULL, 0, NULL, float32, 3};
    gradaudit_op_result r = run(&op, attn_backward, &v);
    cr_assert_eq(r.n_out, A_T * A_D);
    cr_assert_eq(r.n_entries, A_B * 3 * A_T * A_D);
    return r;
}

/* ---- embedding ------------------------------------------------------------ */

#define E_V 7
#define E_D 5
#define E_T 6
#define E_B 3
static double e_ids[E_B * E_T], e_table[E_V * E_D];

static int emb_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                        size_t n_out, void *user)
{
    const variant *v = user;
    static double gE[E_V * E_D];
    cr_assert(dx == NULL);
    cr_assert_eq(n_out, E_T * E_D);
    if (op->float32)
        embedding_backward_f32(gE, dy, op->x, op->batch * op->n_in, E_V, E_D, v->bug);
    else
        embedding_backward_f64(gE, dy, op->x, op->batch * op->n_in, E_V, E_D, v->bug);
    deliver(dp[0], gE, E_V * E_D, v);
    return 0;
}

static gradaudit_op_result check_emb(int float32, int bug)
{
    /* ids with repeats within a sample and across the batch; id 6 never occurs */
    static const double ids[E_B * E_T] = {0, 3, 3, 1, 5, 0, 2, 3, 4, 4, 1, 0, 5, 5, 2, 3, 0, 1};
    memcpy(e_ids, ids, sizeof ids);
    for (size_t i = 0; i < E_V * E_D; i++)
        e_table[i] = fill(i, 0.8, 1.1);
    gradaudit_tensor p[1] = {{"E1", e_table, E_V * E_D}};
    variant v = {.bug = bug};
    gradaudit_op op = {"{\"type\": \"embedding\", \"vocab\": 7, \"dim\": 5}", "row", E_T, E_B,
                       e_ids, p, 1, NULL, float32, 9};
    gradaudit_op_result r = run(&op, emb_backward, &v);
    cr_assert_eq(r.n_tensors, 1);
    cr_assert_str_eq(r.tensors[0].name, "dE1");
    return r;
}

/* ---- conv2d --------------------------------------------------------------- */

static int conv_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                         size_t n_out, void *user)
{
    const variant *v = user;
    size_t nW = v->OC * v->C * v->K * v->K;
    static double gx[MAXW], gW[MAXW], gb[MAXW];
    float fx[MAXW], fW[MAXW], fb[MAXW];
    double dxs[MAXW], dWs[MAXW], dbs[MAXW];
    memset(fW, 0, sizeof fW), memset(fb, 0, sizeof fb);
    memset(dWs, 0, sizeof dWs), memset(dbs, 0, sizeof dbs);
    const double *W = op->params[0].data; /* W1 first, then b1 */
    for (size_t s = 0; s < op->batch; s++) {
        const double *x = op->x + s * op->n_in, *dz = dy + s * n_out;
        memset(fx, 0, sizeof fx), memset(dxs, 0, sizeof dxs);
        if (op->float32)
            conv2d_backward_f32(fx, fW, fb, dz, x, W, v->C, v->Hi, v->Wi, v->OC, v->K, v->P, v->bug);
        else
            conv2d_backward_f64(dxs, dWs, dbs, dz, x, W, v->C, v->Hi, v->Wi, v->OC, v->K, v->P,
                                v->bug);
        for (size_t i = 0; i < op->n_in; i++)
            gx[s * op->n_in + i] = op->float32 ? (double)fx[i] : dxs[i];
    }
    for (size_t i = 0; i < nW; i++)
        gW[i] = op->float32 ? (double)fW[i] : dWs[i];
    for (size_t o = 0; o < v->OC; o++)
        gb[o] = op->float32 ? (double)fb[o] : dbs[o];
    deliver(dx, gx, op->batch * op->n_in, v);
    deliver(dp[0], gW, nW, v);
    deliver(dp[1], gb, v->OC, v);
    return 0;
}

#define C_C 2
#define C_H 5
#define C_W 5
#define C_OC 3
#define C_K 3
#define C_B 2
static double c_x[C_B * C_C * C_H * C_W], c_W[C_OC * C_C * C_K * C_K], c_b[C_OC];

static gradaudit_op_result check_conv(int float32, int bug)
{
    for (size_t i = 0; i < C_B * C_C * C_H * C_W; i++)
        c_x[i] = fill(i, 1.0, 0.2);
    for (size_t i = 0; i < C_OC * C_C * C_K * C_K; i++)
        c_W[i] = fill(i, 0.5, 2.0);
    for (size_t o = 0; o < C_OC; o++)
        c_b[o] = 0.1 * (double)o;
    gradaudit_tensor p[2] = {{"W1", c_W, C_OC * C_C * C_K * C_K}, {"b1", c_b, C_OC}};
    variant v = {.bug = bug, .C = C_C, .Hi = C_H, .Wi = C_W, .OC = C_OC, .K = C_K, .P = 1};
    gradaudit_op op = {"{\"type\": \"conv2d\", \"in_shape\": [2, 5, 5], \"channels\": 3, "
                       "\"kernel\": 3, \"padding\": 1, \"activation\": \"identity\"}",
                       NULL, C_C * C_H * C_W, C_B, c_x, p, 2, NULL, float32, 4};
    gradaudit_op_result r = run(&op, conv_backward, &v);
    cr_assert_eq(r.n_out, C_OC * C_H * C_W);
    cr_assert_eq(r.n_tensors, 3);
    return r;
}

/* ---- the table: each op correct, and with its bug ---------------------------- */

/* The table holds numbers and names inline, no pointers: Criterion may run
 * each case in a new process, where a pointer of this one means nothing. */
enum op_kind { LAYERNORM, GELU_ERF, GELU_TANH, ATTENTION, EMBEDDING, CONV2D };

typedef struct {
    enum op_kind op;
    int bug;
    char broken[8];  /* the tensor the bug breaks; "": the op is correct */
    size_t min_fail; /* at least this many of its entries FAIL */
    size_t max_fail; /* at most (every one: SIZE_MAX) */
} op_case;

static gradaudit_op_result (*const checks[])(int float32, int bug) = {
    [LAYERNORM] = check_ln, [GELU_ERF] = check_gelu_erf, [GELU_TANH] = check_gelu_tanh,
    [ATTENTION] = check_attn, [EMBEDDING] = check_emb, [CONV2D] = check_conv};

ParameterizedTestParameters(op, correct_passes_and_each_bug_fails_in_its_tensor)
{
    static op_case cases[] = {
        {LAYERNORM, GOOD, "", 0, 0},
        {LAYERNORM, LN_NO_MEAN, "dx", LN_B * LN_N / 2, SIZE_MAX},
        {GELU_ERF, GOOD, "", 0, 0},
        {GELU_TANH, GOOD, "", 0, 0},
        {GELU_TANH, GELU_TYPO, "dx", G_B * G_N / 4, SIZE_MAX},
        {ATTENTION, GOOD, "", 0, 0},
        /* dq and dk (of tokens that attend to more than one), not dv */
        {ATTENTION, ATTN_NO_SCALE, "dx", A_B * A_T * A_D, SIZE_MAX},
        {EMBEDDING, GOOD, "", 0, 0},
        /* ids 0 .. 5 repeat: their rows FAIL; row 6, never read, passes */
        {EMBEDDING, EMB_OVERWRITE, "dE1", 6 * E_D, 6 * E_D},
        {CONV2D, GOOD, "", 0, 0},
        {CONV2D, CONV_FLIP, "dx", C_B * C_C * C_H * C_W / 2, SIZE_MAX},
    };
    return cr_make_param_array(op_case, cases, sizeof cases / sizeof cases[0]);
}

/* in double and in float32: a correct op passes every entry; a bug FAILs
 * in its tensor alone, first_fail naming the entry */
ParameterizedTest(op_case *c, op, correct_passes_and_each_bug_fails_in_its_tensor)
{
    for (int f32 = 0; f32 < 2; f32++) {
        gradaudit_op_result r = checks[c->op](f32, c->bug);
        if (!c->broken[0]) {
            expect_all_pass(&r);
            continue;
        }
        size_t nf = fails(&r, c->broken);
        cr_expect(nf >= c->min_fail && nf <= c->max_fail, "bug %d, float32 %d: %zu FAIL in %s",
                  c->bug, f32, nf, c->broken);
        cr_expect_eq(r.n_fail, nf, "bug %d, float32 %d: FAILs outside %s: %s", c->bug, f32,
                     c->broken, r.first_fail);
        cr_expect(strncmp(r.first_fail, c->broken, strlen(c->broken)) == 0 &&
                      r.first_fail[strlen(c->broken)] == '[',
                  "%s", r.first_fail);
    }
}

/* ---- more ops: a batch norm (dx through the whole batch), a softmax alone,
 * a dropout (its mask from gradaudit_op_dropout_keep), a max pool with ties */

static int bn_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                       size_t n_out, void *user)
{
    (void)user, (void)n_out;
    if (op->float32)
        batchnorm_backward_f32(dx, dp[0], dp[1], dy, op->x, op->params[0].data, op->batch,
                               op->n_in, 1e-5f);
    else
        batchnorm_backward_f64(dx, dp[0], dp[1], dy, op->x, op->params[0].data, op->batch,
                               op->n_in, 1e-5);
    return 0;
}

Test(op_more, batchnorm_passes_in_double_and_float32)
{
    double x[6 * 5], gamma[5], beta[5];
    for (size_t i = 0; i < 30; i++)
        x[i] = fill(i, 1.2, 0.4);
    for (size_t k = 0; k < 5; k++)
        gamma[k] = 0.5 + 0.25 * (double)k, beta[k] = -0.125 * (double)k;
    gradaudit_tensor p[2] = {{"gamma1", gamma, 5}, {"beta1", beta, 5}};
    for (int f32 = 0; f32 < 2; f32++) {
        gradaudit_op op = {"{\"type\": \"batchnorm\"}", NULL, 5, 6, x, p, 2, NULL, f32, 8};
        gradaudit_op_result r = run(&op, bn_backward, NULL);
        expect_all_pass(&r);
        cr_expect_eq(r.n_entries, 30 + 10);
    }
}

/* softmax of each sample's row: dx = p (dy - sum p dy) */
static int softmax_backward(double *dx, double *const *dp, const double *dy,
                            const gradaudit_op *op, size_t n_out, void *user)
{
    const variant *v = user;
    (void)dp;
    for (size_t s = 0; s < op->batch; s++) {
        const double *z = op->x + s * n_out, *g = dy + s * n_out;
        double mx = z[0], sum = 0, pg = 0, p[64];
        for (size_t k = 1; k < n_out; k++)
            mx = z[k] > mx ? z[k] : mx;
        for (size_t k = 0; k < n_out; k++)
            sum += p[k] = exp(z[k] - mx);
        for (size_t k = 0; k < n_out; k++)
            pg += (p[k] /= sum) * g[k];
        for (size_t k = 0; k < n_out; k++) /* the bug: the Jacobian's diagonal alone */
            dx[s * n_out + k] = v->bug ? p[k] * (1 - p[k]) * g[k] : p[k] * (g[k] - pg);
    }
    return 0;
}

Test(op_more, softmax_alone_passes_and_its_diagonal_alone_fails)
{
    double x[3 * 10];
    for (size_t i = 0; i < 30; i++)
        x[i] = fill(i, 2.5, 0.9);
    gradaudit_op op = {"{\"activation\": \"softmax\"}", NULL, 10, 3, x, NULL, 0, NULL, 0, 6};
    gradaudit_op_result r = run(&op, softmax_backward, &(variant){GOOD});
    expect_all_pass(&r);
    r = run(&op, softmax_backward, &(variant){1});
    cr_expect_gt(fails(&r, "dx"), 15, "%zu", fails(&r, "dx"));
}

/* dropout: dx = dy m where kept, m = 1/(1 - p) */
static int dropout_backward(double *dx, double *const *dp, const double *dy,
                            const gradaudit_op *op, size_t n_out, void *user)
{
    const variant *v = user;
    (void)dp;
    double m = 1.0 / (1.0 - 0.3);
    for (size_t s = 0; s < op->batch; s++)
        for (size_t k = 0; k < n_out; k++) {
            int keep = v->bug || gradaudit_op_dropout_keep(17, s, k, 0.3);
            dx[s * n_out + k] = keep ? dy[s * n_out + k] * m : 0.0;
        }
    return 0;
}

Test(op_more, dropout_with_the_documented_mask_passes_and_without_it_fails)
{
    double x[4 * 12];
    for (size_t i = 0; i < 48; i++)
        x[i] = fill(i, 1.0, 0.0);
    gradaudit_op op = {"{\"type\": \"dropout\", \"p\": 0.3, \"seed\": 17}", NULL, 12, 4, x, NULL, 0,
                       NULL, 0, 2};
    gradaudit_op_result r = run(&op, dropout_backward, &(variant){GOOD});
    expect_all_pass(&r);
    size_t dropped = 0;
    for (size_t s = 0; s < 4; s++)
        for (size_t k = 0; k < 12; k++)
            dropped += !gradaudit_op_dropout_keep(17, s, k, 0.3);
    cr_assert_gt(dropped, 0);
    r = run(&op, dropout_backward, &(variant){1});
    cr_expect_eq(fails(&r, "dx"), dropped);
}

/* 2x2 max pool over (1, 4, 4): dy to the first largest entry of each window */
static int maxpool_backward(double *dx, double *const *dp, const double *dy,
                            const gradaudit_op *op, size_t n_out, void *user)
{
    (void)dp, (void)user, (void)n_out;
    for (size_t s = 0; s < op->batch; s++) {
        const double *x = op->x + s * 16;
        for (size_t i = 0; i < 16; i++)
            dx[s * 16 + i] = 0;
        for (size_t wi = 0; wi < 2; wi++)
            for (size_t wj = 0; wj < 2; wj++) {
                size_t best = (2 * wi) * 4 + 2 * wj;
                for (size_t u = 0; u < 2; u++)
                    for (size_t v = 0; v < 2; v++) {
                        size_t at = (2 * wi + u) * 4 + 2 * wj + v;
                        best = x[at] > x[best] ? at : best;
                    }
                dx[s * 16 + best] = dy[s * 4 + wi * 2 + wj];
            }
    }
    return 0;
}

Test(op_more, maxpool_ties_are_kinks_not_fails)
{
    double x[2 * 16];
    for (size_t i = 0; i < 32; i++)
        x[i] = fill(i, 1.0, 0.5);
    x[0] = x[1] = 3.0; /* sample 0's first window: a tie */
    gradaudit_op op = {"{\"type\": \"maxpool2d\", \"in_shape\": [1, 4, 4], \"kernel\": 2}", NULL, 16,
                       2, x, NULL, 0, NULL, 0, 1};
    gradaudit_op_result r = run(&op, maxpool_backward, NULL);
    cr_expect_eq(r.n_out, 4);
    cr_expect_eq(r.n_fail, 0, "%s", r.first_fail);
    cr_expect_gt(r.n_kink, 0);
}

/* a dense layer per token in the row layout: z[t] = x[t] W + b, W (in, out)
 * shared by T tokens, a = tanh(z); dz = dy (1 - a^2), dW[i,o] = sum over
 * samples and tokens of x[t,i] dz[t,o], db[o] = sum dz[t,o], dx[t,i] = sum_o
 * W[i,o] dz[t,o]; the bug reads W as (out, in), the column layout's */
static int tokens_backward(double *dx, double *const *dp, const double *dy,
                           const gradaudit_op *op, size_t n_out, void *user)
{
    const variant *v = user;
    size_t T = 2, I = op->n_in / T, O = n_out / T;
    const double *W = op->params[0].data, *b = op->params[1].data;
    for (size_t i = 0; i < I * O; i++)
        dp[0][i] = 0;
    for (size_t o = 0; o < O; o++)
        dp[1][o] = 0;
    for (size_t r = 0; r < op->batch * T; r++) {
        const double *x = op->x + r * I;
        for (size_t i = 0; i < I; i++)
            dx[r * I + i] = 0;
        for (size_t o = 0; o < O; o++) {
            double z = b[o];
            for (size_t i = 0; i < I; i++)
                z += x[i] * (v->bug ? W[o * I + i] : W[i * O + o]);
            double a = tanh(z), dz = dy[r * O + o] * (1 - a * a);
            dp[1][o] += dz;
            for (size_t i = 0; i < I; i++) {
                dp[0][i * O + o] += x[i] * dz;
                dx[r * I + i] += (v->bug ? W[o * I + i] : W[i * O + o]) * dz;
            }
        }
    }
    return 0;
}

Test(op_more, dense_over_tokens_in_the_row_layout)
{
    double x[3 * 2 * 4], W[4 * 5], b[5];
    for (size_t i = 0; i < 24; i++)
        x[i] = fill(i, 1.0, 0.6);
    for (size_t i = 0; i < 20; i++)
        W[i] = fill(i, 0.4, 1.7);
    for (size_t o = 0; o < 5; o++)
        b[o] = 0.05 * (double)o;
    gradaudit_tensor p[2] = {{"W1", W, 20}, {"b1", b, 5}};
    gradaudit_op op = {"{\"size\": 5, \"tokens\": 2, \"activation\": \"tanh\"}", "row", 8, 3,
                       x, p, 2, NULL, 0, 12};
    gradaudit_op_result r = run(&op, tokens_backward, &(variant){GOOD});
    cr_expect_eq(r.n_out, 10);
    expect_all_pass(&r);
    r = run(&op, tokens_backward, &(variant){1});
    cr_expect_gt(fails(&r, "dW1") + fails(&r, "dx"), 20, "%s", r.first_fail);
}

/* A dense tanh layer whose code starts its sum at the bias, as llm.c's
 * matmul_forward does (acc = b; acc += x w ...). With b = 1, x = 1 and each
 * product 0.4 ulp of 1, every addition rounds back to 1: the code's z is 1,
 * 25.6 ulps below the exact 1 + 64 (0.4 ulp), a correct order of the same
 * sum (Higham's gamma_65 (|b| + sum |x w|) is 65 ulps), and f'(z), every
 * gradient entry and the output follow it. The enclosure once added the bias
 * after the dot product, one rounding, and FAILed all 130 entries of each
 * precision. The bias last passes as before. */
#define BF_N 64
static int bias_first_backward(double *dx, double *const *dp, const double *dy,
                               const gradaudit_op *op, size_t n_out, void *user)
{
    const variant *v = user; /* bug: the bias added last instead */
    const double *W = op->params[0].data, *b = op->params[1].data, *x = op->x;
    double d;
    (void)n_out;
    if (op->float32) {
        float z = v->bug ? 0.0f : (float)b[0];
        for (size_t i = 0; i < BF_N; i++)
            z += (float)x[i] * (float)W[i];
        z = v->bug ? z + (float)b[0] : z;
        float a = tanhf(z);
        d = (double)((float)dy[0] * (1.0f - a * a));
    } else {
        double z = v->bug ? 0.0 : b[0];
        for (size_t i = 0; i < BF_N; i++)
            z += x[i] * W[i];
        z = v->bug ? z + b[0] : z;
        double a = tanh(z);
        d = dy[0] * (1.0 - a * a);
    }
    dp[1][0] = d;
    for (size_t i = 0; i < BF_N; i++) { /* d x[i] and d W[i]: exact in either precision */
        dp[0][i] = op->float32 ? (double)((float)d * (float)x[i]) : d * x[i];
        dx[i] = op->float32 ? (double)((float)d * (float)W[i]) : d * W[i];
    }
    return 0;
}

Test(op_more, dense_with_its_sum_started_at_the_bias_passes)
{
    double x[BF_N], W[BF_N], b[1] = {1.0}, y[1];
    gradaudit_tensor p[2] = {{"W1", W, BF_N}, {"b1", b, 1}};
    for (int f32 = 0; f32 < 2; f32++)
        for (int last = 0; last < 2; last++) {
            for (size_t i = 0; i < BF_N; i++)
                x[i] = 1.0, W[i] = 0.4 * (f32 ? 0x1p-23 : 0x1p-52);
            if (f32) {
                float z = last ? 0.0f : 1.0f;
                for (size_t i = 0; i < BF_N; i++)
                    W[i] = (double)(float)W[i], z += (float)W[i];
                y[0] = (double)tanhf(last ? z + 1.0f : z);
                cr_assert_eq(last ? 0 : (double)z, last ? 0 : 1.0); /* every addition rounded back */
            } else {
                double z = last ? 0.0 : 1.0;
                for (size_t i = 0; i < BF_N; i++)
                    z += W[i];
                y[0] = tanh(last ? z + 1.0 : z);
                cr_assert_eq(last ? 0 : z, last ? 0 : 1.0);
            }
            gradaudit_op op = {"{\"size\": 1, \"activation\": \"tanh\"}", NULL, BF_N, 1, x, p,
                               2, y, f32, 16};
            gradaudit_op_result r = run(&op, bias_first_backward, &(variant){last});
            cr_expect_eq(r.n_entries, 2 * BF_N + 2);
            expect_all_pass(&r);
        }
}

/* ---- bad input ------------------------------------------------------------ */

static int never_called(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                        size_t n_out, void *user)
{
    (void)dx, (void)dp, (void)dy, (void)op, (void)n_out, (void)user;
    cr_assert_fail("the backward was called on bad input");
    return 0;
}

static int refusing(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                    size_t n_out, void *user)
{
    (void)dx, (void)dp, (void)dy, (void)op, (void)n_out, (void)user;
    return 1;
}

/* gradaudit_check_op on op returns status with `word` in the message */
static void refused(const gradaudit_op *op, gradaudit_op_backward_fn fn, int status,
                    const char *word)
{
    gradaudit_op_result r;
    gradaudit_error err = {{0}};
    cr_expect_eq(gradaudit_check_op(&r, &err, op, fn, NULL), status, "%s: %s", word, err.msg);
    cr_expect(strstr(err.msg, word) != NULL, "expected \"%s\" in: %s", word, err.msg);
    cr_expect(strncmp(err.msg, "check_op", 8) == 0, "%s", err.msg);
}

Test(op_bad_input, is_refused_with_a_status_and_a_message)
{
    double x[4 * 8], g[8], b[8];
    for (size_t i = 0; i < 32; i++)
        x[i] = fill(i, 1.0, 0.0);
    for (size_t k = 0; k < 8; k++)
        g[k] = 1, b[k] = 0;
    gradaudit_tensor p[2] = {{"gamma1", g, 8}, {"beta1", b, 8}};
    const gradaudit_op good = {"{\"type\": \"layernorm\"}", NULL, 8, 4, x, p, 2, NULL, 0, 1};
    gradaudit_op op = good;
    gradaudit_op_result r;
    gradaudit_error err;
    cr_expect_eq(gradaudit_check_op(NULL, &err, &op, never_called, NULL), GRADAUDIT_EINVAL);
    cr_expect_eq(gradaudit_check_op(&r, &err, NULL, never_called, NULL), GRADAUDIT_EINVAL);
    cr_expect_eq(gradaudit_check_op(&r, &err, &op, NULL, NULL), GRADAUDIT_EINVAL);
    cr_expect_eq(gradaudit_check_op(&r, NULL, &op, NULL, NULL), GRADAUDIT_EINVAL); /* no err */
    op.layer = NULL;
    refused(&op, never_called, GRADAUDIT_EINVAL, "NULL");
    op = good, op.x = NULL;
    refused(&op, never_called, GRADAUDIT_EINVAL, "NULL");
    /* descriptions the spec refuses, and the words that say why */
    static const struct {
        const char *layer, *word;
    } bad[] = {
        {"{\"type\": \"layernrom\"}", "unknown layer type \"layernrom\""},
        {"{\"type\": \"layernorm\", \"eps\": 0}", "layer.eps"},
        {"{\"type\": \"layernorm\", \"epsilon\": 1e-5}", "unknown key \"epsilon\""},
        {"{\"type\": \"layernorm\",", "check_op:1:"},
        {"[1, 2]", "layer object"},
        {"{\"type\": \"residual\", \"from\": 0}", "two layers"},
        {"{\"type\": \"conv1d\", \"in_shape\": [3, 3], \"channels\": 1, \"kernel\": 2, "
         "\"activation\": \"relu\"}", "in_shape"},
        {"{\"activation\": \"gelu\", \"slope\": 0.1}", "only leaky_relu takes a slope"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        op = good, op.layer = bad[i].layer;
        refused(&op, never_called, GRADAUDIT_EINVAL, bad[i].word);
    }
    op = good, op.layout = "diagonal";
    refused(&op, never_called, GRADAUDIT_EINVAL, "diagonal");
    op = good, op.n_in = 0;
    refused(&op, never_called, GRADAUDIT_EINVAL, "input width 0");
    op = good, op.batch = 0;
    refused(&op, never_called, GRADAUDIT_EINVAL, "batch 0");
    op = good, op.batch = (size_t)1 << 40;
    refused(&op, never_called, GRADAUDIT_EINVAL, "batch 1099511627776");
    /* sizes each legal, together over the memory cap: refused before x is read */
    op = good, op.layer = "{\"activation\": \"softmax\"}", op.n_in = (size_t)1 << 20;
    op.params = NULL, op.n_params = 0;
    refused(&op, never_called, GRADAUDIT_ENOMEM, "memory cap");
    op = good, op.layer = "{\"activation\": \"tanh\"}", op.n_in = (size_t)1 << 24;
    op.batch = (size_t)1 << 20, op.params = NULL, op.n_params = 0;
    refused(&op, never_called, GRADAUDIT_ENOMEM, "memory cap");
    op = good, op.n_params = 1;
    refused(&op, never_called, GRADAUDIT_EINVAL, "beta1 is missing");
    gradaudit_tensor q[3] = {{"gamma1", g, 8}, {"beta1", b, 8}, {"W1", g, 8}};
    op = good, op.params = q, op.n_params = 3;
    refused(&op, never_called, GRADAUDIT_EINVAL, "\"W1\"");
    q[2] = q[0];
    refused(&op, never_called, GRADAUDIT_EINVAL, "twice");
    q[1].n = 7, op.n_params = 2;
    refused(&op, never_called, GRADAUDIT_EINVAL, "beta1 has 7 entries");
    q[1].n = 8, q[1].data = NULL;
    refused(&op, never_called, GRADAUDIT_EINVAL, "NULL");
    op = good, op.params = NULL;
    refused(&op, never_called, GRADAUDIT_EINVAL, "params is NULL");
    op = good, op.layer = "{\"type\": \"attention\", \"tokens\": 1, \"heads\": 1}", op.n_in = 6;
    refused(&op, never_called, GRADAUDIT_EINVAL, "gamma1");
    op = good;
    x[13] = NAN;
    refused(&op, never_called, GRADAUDIT_ENONFINITE, "x[1][5]");
    x[13] = 0.5;
    g[3] = INFINITY;
    refused(&op, never_called, GRADAUDIT_ENONFINITE, "gamma1[3]");
    g[3] = 1e39;
    op.float32 = 1;
    refused(&op, never_called, GRADAUDIT_EINVAL, "float32");
    g[3] = 1;
    refused(&op, refusing, GRADAUDIT_ECALLBACK, "backward");
    double ids[2 * 3] = {0, 1, 2, 3, 4, 1.5}, E[5 * 2] = {0};
    gradaudit_tensor pe[1] = {{"E1", E, 10}};
    gradaudit_op emb = {"{\"type\": \"embedding\", \"vocab\": 5, \"dim\": 2}", NULL, 3, 2, ids, pe,
                        1, NULL, 0, 1};
    refused(&emb, never_called, GRADAUDIT_EINVAL, "x[1][2] = 1.5 is not a token id");
    ids[5] = 5;
    refused(&emb, never_called, GRADAUDIT_EINVAL, "x[1][2] = 5 is not a token id");
}

Test(op_bad_input, n_out_of_an_op)
{
    size_t n = 0;
    gradaudit_error err;
    cr_expect_eq(gradaudit_op_n_out(&n, &err, "{\"type\": \"layernorm\"}", 8), GRADAUDIT_OK);
    cr_expect_eq(n, 8);
    cr_expect_eq(gradaudit_op_n_out(&n, &err, "{\"type\": \"attention\", \"tokens\": 2, \"heads\": 1}",
                                    12), GRADAUDIT_OK);
    cr_expect_eq(n, 4);
    cr_expect_eq(gradaudit_op_n_out(&n, &err, "{\"type\": \"embedding\", \"vocab\": 9, \"dim\": 3}",
                                    5), GRADAUDIT_OK);
    cr_expect_eq(n, 15);
    cr_expect_eq(gradaudit_op_n_out(&n, &err, "{\"size\": 3, \"tokens\": 2, \"activation\": \"relu\"}",
                                    8), GRADAUDIT_OK);
    cr_expect_eq(n, 6);
    cr_expect_eq(gradaudit_op_n_out(&n, &err, "{\"activation\": \"silu\"}", 7), GRADAUDIT_OK);
    cr_expect_eq(n, 7);
    cr_expect_eq(gradaudit_op_n_out(&n, &err, "{\"size\": 0, \"activation\": \"relu\"}", 8),
                 GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "layer.size") != NULL, "%s", err.msg);
    cr_expect_eq(gradaudit_op_n_out(&n, &err, NULL, 8), GRADAUDIT_EINVAL);
    cr_expect_eq(gradaudit_op_n_out(NULL, &err, "{\"activation\": \"relu\"}", 8), GRADAUDIT_EINVAL);
    cr_expect_eq(gradaudit_op_n_out(&n, &err, "{\"activation\": \"relu\"}", 0), GRADAUDIT_EINVAL);
}

/* An identity op whose backward is right on its first call and moves dx[3]
 * by 2^-20 of itself on every second one (as a race or an uninitialised read
 * would):
 * every entry passes (the first call is the one judged) and the rerun names
 * the entry that changed, with both values. By hand: dx = dy. */
static int flaky_identity(double *dx, double *const *dparams, const double *dy,
                          const gradaudit_op *op, size_t n_out, void *user)
{
    (void)dparams;
    unsigned *calls = user;
    for (size_t i = 0; i < op->batch * n_out; i++)
        dx[i] = dy[i];
    if ((*calls)++ % 2)
        dx[3] *= 1 + 0x1p-20;
    return 0;
}

Test(op_more, a_backward_that_differs_on_a_rerun_is_reported)
{
    double x[8];
    for (size_t i = 0; i < 8; i++)
        x[i] = fill(i, 1.0, 0.3);
    gradaudit_op op = {.layer = "{\"activation\": \"identity\"}", .n_in = 4, .batch = 2, .x = x,
                       .seed = 5};
    unsigned calls = 0;
    gradaudit_op_result r = run(&op, flaky_identity, &calls);
    cr_expect_eq(calls, 2, "the backward was called %u times", calls);
    cr_expect_eq(r.n_fail, 0, "%s", r.first_fail);
    cr_expect_eq(r.n_rerun_differ, 1, "%zu entries differ: %s", r.n_rerun_differ, r.rerun_first);
    cr_expect(strncmp(r.rerun_first, "dx[3]: ", 7) == 0, "%s", r.rerun_first);
    calls = 1; /* the first call now the flaky one: it is judged, and FAILs at dx[3] */
    r = run(&op, flaky_identity, &calls);
    cr_expect_eq(r.n_fail, 1, "%zu FAIL: %s", r.n_fail, r.first_fail);
    cr_expect_eq(r.n_rerun_differ, 1);
}
