/* bench_op.c: the time of one op-level check of a layer of about 3,000
 * gradient entries through the public API (issue 15's target: under a
 * second with the oracle), in float32: gradaudit_check_op on layernorm,
 * gelu_tanh and causal attention with lib/test_op_kernels.h's float32
 * backward passes, and gradaudit_check_vjp (an op gradaudit does not know:
 * its reference is the oracle on the user's MPFR forward, one Richardson
 * tableau per entry) on a gated product of 3 x 1,000 entries. Prints the
 * median and the fastest of REPS runs of each, and its verdict counts.
 *
 *   build/bench/bench_op [REPS]      (default 5)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gradaudit.h"

enum bug { GOOD = 0, LN_NO_MEAN, GELU_TYPO, ATTN_NO_SCALE, EMB_OVERWRITE, CONV_FLIP };
#define MAXW 3072
#define MAXT 16
#include "test_op_kernels_f32.h"

#define LN_N 768
#define LN_B 4
#define A_T 8
#define A_H 4
#define A_D 32
#define A_B 4
#define G_N 768
#define G_B 4
#define V_N 1000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double fill(size_t i, double scale, double phase)
{
    return scale * sin(0.7 * (double)i + phase) + 0.1 * cos(1.3 * (double)i);
}

static int ln_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                       size_t n_out, void *user)
{
    (void)n_out, (void)user;
    layernorm_backward_f32(dx, dp[0], dp[1], dy, op->x, op->params[0].data, op->batch, op->n_in,
                           1e-5f, GOOD);
    return 0;
}

static int gelu_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                         size_t n_out, void *user)
{
    (void)dp, (void)n_out, (void)user;
    gelu_tanh_backward_f32(dx, dy, op->x, op->batch * op->n_in, GOOD);
    return 0;
}

static int attn_backward(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                         size_t n_out, void *user)
{
    (void)dp, (void)user;
    for (size_t s = 0; s < op->batch; s++)
        attention_backward_f32(dx + s * op->n_in, dy + s * n_out, op->x + s * op->n_in, A_T, A_H,
                               A_D, GOOD);
    return 0;
}

/* the gated product y = x sigmoid(g), s = sum w x^2 / 2 (as lib/test_vjp.c) */
static int v_fwd(double *const *outs, const double *const *ins, void *user)
{
    (void)user;
    double s = 0;
    for (size_t j = 0; j < V_N; j++) {
        outs[0][j] = ins[0][j] / (1 + exp(-ins[1][j]));
        s += ins[2][j] * ins[0][j] * ins[0][j] / 2;
    }
    outs[1][0] = s;
    return 0;
}

static int v_fwd_mpfr(mpfr_ptr const *outs, mpfr_srcptr const *ins, mpfr_prec_t prec, void *user)
{
    (void)user;
    mpfr_t t, s;
    mpfr_inits2(prec, t, s, (mpfr_ptr)0);
    mpfr_set_zero(s, 1);
    for (size_t j = 0; j < V_N; j++) {
        mpfr_neg(t, ins[1] + j, MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_add_ui(t, t, 1, MPFR_RNDN);
        mpfr_div(outs[0] + j, ins[0] + j, t, MPFR_RNDN);
        mpfr_sqr(t, ins[0] + j, MPFR_RNDN);
        mpfr_mul(t, t, ins[2] + j, MPFR_RNDN);
        mpfr_div_2ui(t, t, 1, MPFR_RNDN);
        mpfr_add(s, s, t, MPFR_RNDN);
    }
    mpfr_set(outs[1], s, MPFR_RNDN);
    mpfr_clears(t, s, (mpfr_ptr)0);
    return 0;
}

static int v_bwd(double *const *dins, const double *const *douts, const double *const *ins,
                 void *user)
{
    (void)user;
    float ds = (float)douts[1][0];
    for (size_t j = 0; j < V_N; j++) {
        float x = (float)ins[0][j], w = (float)ins[2][j], dy = (float)douts[0][j];
        float sg = 1.0f / (1.0f + expf(-(float)ins[1][j]));
        dins[0][j] = dy * sg + ds * w * x;
        dins[1][j] = dy * x * sg * (1.0f - sg);
        dins[2][j] = ds * x * x / 2.0f;
    }
    return 0;
}

static void report(const char *name, double *t, int reps, size_t entries, size_t fail,
                   size_t unj)
{
    qsort(t, (size_t)reps, sizeof *t, cmp);
    printf("%-34s %6zu entries  median %8.4f s  fastest %8.4f s  FAIL %zu  unjudgeable %zu\n", name,
           entries, t[reps / 2], t[0], fail, unj);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 1000) {
        fprintf(stderr, "bench_op: REPS %s: expected 1 .. 1000\n", argv[1]);
        return 2;
    }
    double *t = malloc((size_t)reps * sizeof *t);
    static double ln_x[LN_B * LN_N], ln_g[LN_N], ln_b[LN_N], a_x[A_B * 3 * A_T * A_D],
        g_x[G_B * G_N], vx[V_N], vg[V_N], vw[V_N];
    for (size_t i = 0; i < LN_B * LN_N; i++)
        ln_x[i] = fill(i, 2.0, 0.3);
    for (size_t k = 0; k < LN_N; k++) {
        ln_g[k] = 1.0 + 0.5 * cos((double)k);
        ln_b[k] = 0.1 * sin((double)k);
    }
    for (size_t i = 0; i < A_B * 3 * A_T * A_D; i++)
        a_x[i] = fill(i, 1.5, 0.7);
    for (size_t i = 0; i < G_B * G_N; i++)
        g_x[i] = fill(i, 3.0, 0.1);
    for (size_t j = 0; j < V_N; j++) {
        vx[j] = (double)(float)fill(j, 1.5, 0.2);
        vg[j] = (double)(float)fill(j, 2.0, 0.9);
        vw[j] = (double)(float)fill(j, 1.0, 1.7);
    }
    gradaudit_tensor lnp[2] = {{"gamma1", ln_g, LN_N}, {"beta1", ln_b, LN_N}};
    char attn_layer[96];
    snprintf(attn_layer, sizeof attn_layer, "{\"type\": \"attention\", \"tokens\": %d, \"heads\": %d}",
             A_T, A_H);
    struct {
        const char *name;
        gradaudit_op op;
        gradaudit_op_backward_fn fn;
    } ops[3] = {
        {"check_op layernorm (4 x 768)",
         {"{\"type\": \"layernorm\", \"eps\": 1e-5}", NULL, LN_N, LN_B, ln_x, lnp, 2, NULL, 1, 11, 0},
         ln_backward},
        {"check_op gelu_tanh (4 x 768)",
         {"{\"activation\": \"gelu_tanh\"}", NULL, G_N, G_B, g_x, NULL, 0, NULL, 1, 5, 0},
         gelu_backward},
        {"check_op attention (4 x 8 x 96)",
         {attn_layer, NULL, 3 * A_T * A_D, A_B, a_x, NULL, 0, NULL, 1, 3, 0}, attn_backward},
    };
    for (int k = 0; k < 3; k++) {
        gradaudit_op_result r;
        gradaudit_error err;
        for (int i = 0; i < reps; i++) {
            double t0 = now();
            if (gradaudit_check_op(&r, &err, &ops[k].op, ops[k].fn, NULL)) {
                fprintf(stderr, "bench_op: %s: %s\n", ops[k].name, err.msg);
                return 1;
            }
            t[i] = now() - t0;
        }
        report(ops[k].name, t, reps, r.n_entries, r.n_fail, r.n_unjudgeable);
    }
    gradaudit_tensor in[3] = {{"x", vx, V_N}, {"g", vg, V_N}, {"w", vw, V_N}};
    gradaudit_vjp_output out[2] = {{"y", V_N}, {"s", 1}};
    for (int mpfr = 1; mpfr >= 0; mpfr--) {
        gradaudit_vjp op = {in, 3, out, 2, v_fwd, mpfr ? v_fwd_mpfr : NULL, v_bwd, 42, NULL};
        gradaudit_options o;
        gradaudit_options_default(&o);
        o.float32 = 1;
        size_t n = 0, fail = 0, unj = 0;
        for (int i = 0; i < reps; i++) {
            gradaudit_report *rep;
            gradaudit_error err;
            double t0 = now();
            if (gradaudit_check_vjp(&rep, &err, &op, &o)) {
                fprintf(stderr, "bench_op: check_vjp: %s\n", err.msg);
                return 1;
            }
            t[i] = now() - t0;
            const gradaudit_summary *s = gradaudit_report_summary(rep);
            n = s->n_entries, fail = s->n_fail, unj = s->n_unjudgeable;
            gradaudit_report_free(rep);
        }
        report(mpfr ? "check_vjp gated product, oracle" : "check_vjp gated product, Ridders", t,
               reps, n, fail, unj);
    }
    free(t);
    return 0;
}
