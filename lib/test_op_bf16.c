/* test_op_bf16.c: gradaudit_check_op with bfloat16 storage (op.bfloat16):
 * the float32 kernels of test_op_kernels.h (written for lib/test_op.c, none
 * of gradaudit's code) run on the bfloat16 inputs gradaudit hands them, and
 * their results are stored in bfloat16 by this file's own rounding
 * (round-to-nearest-even on float32's bits, as bfloat16 hardware and
 * libraries store floats). Expected: the correct ops pass every entry; the
 * same stored results judged as float32 code (op.float32 alone) FAIL, which
 * is what the option is for; the wrong variants that a bfloat16 result can
 * show (beyond its 2^-8 relative precision) FAIL; a number bfloat16 cannot
 * hold is refused. The exact values come from gradaudit's oracle. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "gradaudit.h"
#include "test_op_support.h"

enum bug { GOOD = 0, LN_NO_MEAN, GELU_TYPO, ATTN_NO_SCALE, EMB_OVERWRITE, CONV_FLIP };
#define MAXW 512
#define MAXT 16

#include "test_op_kernels_f32.h"

/* float32 v stored in bfloat16: its upper 16 bits, rounded to nearest even */
static double to_bf16(double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) != 0x7f800000u) /* finite: add half, ties to even, cut */
        u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return (double)f;
}

static int is_bf16(double v)
{
    return to_bf16(v) == v;
}

static void store_bf16(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = to_bf16(a[i]);
}

typedef struct {
    int bug;
    int store_bf16; /* 1: results rounded to bfloat16 */
    size_t T, H, d;
} variant;

/* gradaudit hands bfloat16 numbers with op.bfloat16 */
static void expect_bf16_inputs(const gradaudit_op *op, const double *dy, size_t n_out)
{
    if (!op->bfloat16)
        return;
    for (size_t i = 0; i < op->batch * op->n_in; i++)
        cr_assert(is_bf16(op->x[i]), "x[%zu] = %a is no bfloat16 number", i, op->x[i]);
    for (size_t i = 0; i < op->batch * n_out; i++)
        cr_assert(is_bf16(dy[i]), "dy[%zu] = %a is no bfloat16 number", i, dy[i]);
    for (size_t t = 0; t < op->n_params; t++)
        for (size_t i = 0; i < op->params[t].n; i++)
            cr_assert(is_bf16(op->params[t].data[i]), "%s[%zu] is no bfloat16 number",
                      op->params[t].name, i);
}

/* ---- layernorm ------------------------------------------------------------ */
#define LN_N 24
#define LN_B 4
static double ln_x[LN_B * LN_N], ln_gamma[LN_N], ln_beta[LN_N];

static int ln_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                       size_t n_out, void *user)
{
    const variant *v = user;
    expect_bf16_inputs(op, dy, n_out);
    layernorm_backward_f32(dx, dp[0], dp[1], dy, op->x, op->params[0].data, op->batch, op->n_in,
                           1e-5f, v->bug);
    if (v->store_bf16) {
        store_bf16(dx, op->batch * op->n_in);
        store_bf16(dp[0], op->n_in);
        store_bf16(dp[1], op->n_in);
    }
    return 0;
}

static gradaudit_op_result check_ln(double scale, int bfloat16, variant v)
{
    for (size_t i = 0; i < LN_B * LN_N; i++)
        ln_x[i] = fill(i, scale, 0.3);
    for (size_t k = 0; k < LN_N; k++) {
        ln_gamma[k] = 1.0 + 0.5 * cos((double)k);
        ln_beta[k] = 0.1 * sin((double)k);
    }
    gradaudit_tensor p[2] = {{"gamma1", ln_gamma, LN_N}, {"beta1", ln_beta, LN_N}};
    gradaudit_op op = {"{\"type\": \"layernorm\", \"eps\": 1e-5}", NULL, LN_N, LN_B, ln_x, p, 2,
                       NULL, 1, 11, bfloat16};
    return run(&op, ln_backward, &v);
}

/* ---- gelu_tanh, its forward output judged too ------------------------------ */
#define G_N 40
#define G_B 3
static double g_x[G_B * G_N], g_y[G_B * G_N];

static int gelu_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                         size_t n_out, void *user)
{
    const variant *v = user;
    (void)dp;
    expect_bf16_inputs(op, dy, n_out);
    gelu_tanh_backward_f32(dx, dy, op->x, op->batch * op->n_in, v->bug);
    if (v->store_bf16)
        store_bf16(dx, op->batch * op->n_in);
    return 0;
}

static gradaudit_op_result check_gelu(double scale, int bfloat16, variant v, int off_entry)
{
    gradaudit_op op = {"{\"activation\": \"gelu_tanh\"}", NULL, G_N, G_B, g_x, NULL, 0, g_y, 1, 5,
                       bfloat16};
    for (size_t i = 0; i < G_B * G_N; i++)
        g_x[i] = to_bf16(fill(i, scale, 0.1)); /* the forward runs on the stored inputs */
    gelu_tanh_forward_f32(g_y, g_x, G_B * G_N, 0);
    store_bf16(g_y, G_B * G_N);
    if (off_entry >= 0) /* 2^-6 relative: 2 to 4 bfloat16 ulps off, still a bfloat16 number */
        g_y[off_entry] = to_bf16(g_y[off_entry] * (1 + 0x1p-6));
    return run(&op, gelu_backward, &v);
}

/* ---- attention ------------------------------------------------------------ */
#define A_T 4
#define A_H 2
#define A_D 6
#define A_B 2
static double a_x[A_B * 3 * A_T * A_D];

static int attn_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                         size_t n_out, void *user)
{
    const variant *v = user;
    (void)dp;
    expect_bf16_inputs(op, dy, n_out);
    for (size_t s = 0; s < op->batch; s++)
        attention_backward_f32(dx + s * op->n_in, dy + s * n_out, op->x + s * op->n_in, v->T, v->H,
                               v->d, v->bug);
    if (v->store_bf16)
        store_bf16(dx, op->batch * op->n_in);
    return 0;
}

static gradaudit_op_result check_attn(double scale, int bfloat16, variant v)
{
    for (size_t i = 0; i < A_B * 3 * A_T * A_D; i++)
        a_x[i] = fill(i, scale, 0.7);
    v.T = A_T, v.H = A_H, v.d = A_D;
    gradaudit_op op = {"{\"type\": \"attention\", \"tokens\": 4, \"heads\": 2}", NULL,
                       3 * A_T * A_D, A_B, a_x, NULL, 0, NULL, 1, 3, bfloat16};
    return run(&op, attn_backward, &v);
}

static const double scales[] = {0.25, 1.0, 3.0, 40.0};

/* Correct ops, results stored in bfloat16: no FAIL at four input scales (the
 * forward output of gelu_tanh too); at scales up to 3 every entry passes (at
 * 40, saturated GELUs and one-hot attention leave entries unjudgeable, as in
 * float32: 19 of 240 and 83 of 144 when measured). */
Test(op_bf16, correct_ops_pass)
{
    for (size_t k = 0; k < 4; k++) {
        variant v = {GOOD, 1, 0, 0, 0};
        gradaudit_op_result r = check_ln(scales[k], 1, v);
        cr_expect_eq(r.n_fail, 0, "layernorm scale %g: %zu FAIL: %s", scales[k], r.n_fail,
                     r.first_fail);
        cr_expect(scales[k] > 3 || r.n_unjudgeable == 0, "%zu unjudgeable", r.n_unjudgeable);
        r = check_gelu(scales[k], 1, v, -1);
        cr_expect_eq(r.n_fail, 0, "gelu scale %g: %zu FAIL: %s", scales[k], r.n_fail,
                     r.first_fail);
        cr_expect(scales[k] > 3 || r.n_unjudgeable == 0, "%zu unjudgeable", r.n_unjudgeable);
        cr_expect_eq(gradaudit_op_result_tensor(&r, "y")->n_pass, G_B * G_N);
        r = check_attn(scales[k], 1, v);
        cr_expect_eq(r.n_fail, 0, "attention scale %g: %zu FAIL: %s", scales[k], r.n_fail,
                     r.first_fail);
        cr_expect(scales[k] > 3 || r.n_unjudgeable == 0, "%zu unjudgeable", r.n_unjudgeable);
    }
}

/* The same stored results judged as float32 code FAIL: bfloat16's rounding
 * of the result is 2^16 times float32's. */
Test(op_bf16, bf16_results_fail_as_float32)
{
    variant v = {GOOD, 1, 0, 0, 0};
    gradaudit_op_result r = check_ln(1.0, 0, v);
    cr_expect_gt(r.n_fail, r.n_entries / 2, "%zu of %zu FAIL", r.n_fail, r.n_entries);
    r = check_attn(1.0, 0, v);
    cr_expect_gt(r.n_fail, r.n_entries / 2, "%zu of %zu FAIL", r.n_fail, r.n_entries);
}

/* Mistakes a bfloat16 result still shows FAIL in the tensor they break; a
 * forward output 2 to 4 bfloat16 ulps off FAILs in y alone. */
Test(op_bf16, wrong_variants_fail)
{
    gradaudit_op_result r = check_ln(1.0, 1, (variant){LN_NO_MEAN, 1, 0, 0, 0});
    cr_expect_gt(gradaudit_op_result_tensor(&r, "dx")->n_fail, 0, "%s", r.first_fail);
    cr_expect_eq(gradaudit_op_result_tensor(&r, "dgamma1")->n_fail, 0);
    r = check_attn(1.0, 1, (variant){ATTN_NO_SCALE, 1, 0, 0, 0});
    cr_expect_gt(r.n_fail, 0);
    r = check_gelu(1.0, 1, (variant){GOOD, 1, 0, 0, 0}, 17);
    cr_expect_eq(gradaudit_op_result_tensor(&r, "y")->n_fail, 1, "%s", r.first_fail);
    cr_expect_eq(gradaudit_op_result_tensor(&r, "dx")->n_fail, 0);
    cr_expect(strstr(r.first_fail, "y[") != NULL && strstr(r.first_fail, "bfloat16") != NULL, "%s",
              r.first_fail);
}

/* A number float32 holds but bfloat16 does not (3.4e38 > 0x1.fep127) is
 * refused, naming it. */
Test(op_bf16, overflow_is_refused)
{
    for (size_t i = 0; i < G_B * G_N; i++)
        g_x[i] = 0.5;
    g_x[7] = 3.4e38;
    gradaudit_op op = {"{\"activation\": \"gelu_tanh\"}", NULL, G_N, G_B, g_x, NULL, 0, NULL, 1, 5,
                       1};
    gradaudit_op_result r;
    gradaudit_error err;
    variant v = {GOOD, 1, 0, 0, 0};
    cr_expect_eq(gradaudit_check_op(&r, &err, &op, gelu_backward, &v), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "x[0][7]") != NULL && strstr(err.msg, "overflows bfloat16") != NULL,
              "%s", err.msg);
    op.bfloat16 = 0; /* float32 holds it */
    cr_expect_eq(gradaudit_check_op(&r, &err, &op, gelu_backward, &v), GRADAUDIT_OK, "%s", err.msg);
}
