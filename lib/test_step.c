/* test_step.c: gradaudit_check_step on a training function written here as
 * genann and FANN write theirs: one sample's forward pass, the backward pass
 * and the SGD update fused, the gradient never stored. The net: 2 inputs, 3
 * sigmoid units, 1 sigmoid output, loss L = (o - t)^2 / 2; theta = W1 (3, 2),
 * b1 (3), W2 (3), b2 (1). Its backward, derived by hand:
 *   delta_o = (o - t) o (1 - o)
 *   dW2_j = delta_o h_j, db2 = delta_o
 *   delta_j = delta_o W2_j h_j (1 - h_j), dW1_ji = delta_j x_i, db1_j = delta_j
 * Expected: the correct step passes every entry (oracle with the MPFR loss
 * written here, and Ridders), in double and with the update in float32
 * (options.float32); a step with a wrong delta FAILs; bad arguments are
 * refused with a status and a message. The exact values come from
 * gradaudit's oracle on the MPFR loss. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "gradaudit.h"

#define NP 13

typedef struct {
    double x[2], t;
    int bug;     /* 1: delta_o without o (1 - o); 2: the step returns an error */
    int float32; /* the step computes and updates in float */
} sample;

static double sig(double z) { return 1 / (1 + exp(-z)); }

static int loss(double *out, const double *th, size_t n, void *user)
{
    (void)n;
    const sample *s = user;
    double o = th[12];
    for (int j = 0; j < 3; j++)
        o += th[9 + j] * sig(th[2 * j] * s->x[0] + th[2 * j + 1] * s->x[1] + th[6 + j]);
    o = sig(o);
    *out = (o - s->t) * (o - s->t) / 2;
    return 0;
}

static void sig_mpfr(mpfr_ptr r, mpfr_srcptr z, mpfr_ptr tmp)
{
    mpfr_neg(tmp, z, MPFR_RNDN);
    mpfr_exp(tmp, tmp, MPFR_RNDN);
    mpfr_add_ui(tmp, tmp, 1, MPFR_RNDN);
    mpfr_ui_div(r, 1, tmp, MPFR_RNDN);
}

static int loss_mpfr(mpfr_ptr out, mpfr_srcptr th, size_t n, mpfr_prec_t prec, void *user)
{
    (void)n;
    const sample *s = user;
    mpfr_t o, z, a, tmp;
    mpfr_inits2(prec, o, z, a, tmp, (mpfr_ptr)0);
    mpfr_set(o, th + 12, MPFR_RNDN);
    for (int j = 0; j < 3; j++) {
        mpfr_mul_d(z, th + 2 * j, s->x[0], MPFR_RNDN);
        mpfr_mul_d(a, th + 2 * j + 1, s->x[1], MPFR_RNDN);
        mpfr_add(z, z, a, MPFR_RNDN);
        mpfr_add(z, z, th + 6 + j, MPFR_RNDN);
        sig_mpfr(a, z, tmp);
        mpfr_mul(a, a, th + 9 + j, MPFR_RNDN);
        mpfr_add(o, o, a, MPFR_RNDN);
    }
    sig_mpfr(o, o, tmp);
    mpfr_sub_d(o, o, s->t, MPFR_RNDN);
    mpfr_sqr(o, o, MPFR_RNDN);
    mpfr_div_2ui(out, o, 1, MPFR_RNDN);
    mpfr_clears(o, z, a, tmp, (mpfr_ptr)0);
    return 0;
}

/* the fused step, in REAL (double or float) */
#define TRAIN(REAL, EXP)                                                                         \
    {                                                                                            \
        REAL h[3], o = (REAL)th[12], x0 = (REAL)s->x[0], x1 = (REAL)s->x[1], r = (REAL)lr;      \
        for (int j = 0; j < 3; j++) {                                                            \
            h[j] = (REAL)1 / ((REAL)1 + EXP(-((REAL)th[2 * j] * x0 + (REAL)th[2 * j + 1] * x1 +  \
                                                (REAL)th[6 + j])));                              \
            o += (REAL)th[9 + j] * h[j];                                                         \
        }                                                                                        \
        o = (REAL)1 / ((REAL)1 + EXP(-o));                                                       \
        REAL dout = (o - (REAL)s->t) * (s->bug == 1 ? (REAL)1 : o * ((REAL)1 - o));            \
        for (int j = 0; j < 3; j++) {                                                            \
            REAL dh = dout * (REAL)th[9 + j] * h[j] * ((REAL)1 - h[j]);                          \
            th[9 + j] = (REAL)th[9 + j] - r * dout * h[j];                                       \
            th[2 * j] = (REAL)th[2 * j] - r * dh * x0;                                           \
            th[2 * j + 1] = (REAL)th[2 * j + 1] - r * dh * x1;                                   \
            th[6 + j] = (REAL)th[6 + j] - r * dh;                                                \
        }                                                                                        \
        th[12] = (REAL)th[12] - r * dout;                                                        \
    }

static int train(double *th, size_t n, double lr, void *user)
{
    (void)n;
    const sample *s = user;
    if (s->bug == 2)
        return 5;
    if (s->float32)
        TRAIN(float, expf)
    else
        TRAIN(double, exp)
    return 0;
}

static void draw(double *th, sample *s, uint64_t seed, int float32)
{
    uint64_t st = seed * 0x9e3779b97f4a7c15ULL + 7;
    double v[NP + 3];
    for (int k = 0; k < NP + 3; k++) {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        v[k] = (double)(st >> 11) * 0x1p-53 * 3 - 1.5;
        if (float32)
            v[k] = (double)(float)v[k];
    }
    memcpy(th, v, NP * sizeof *th);
    s->x[0] = v[NP];
    s->x[1] = v[NP + 1];
    s->t = v[NP + 2] > 0 ? 1 : 0;
}

static int check(gradaudit_report **rep, gradaudit_error *err, sample *s, const double *th,
                 double lr, int mpfr, const gradaudit_options *o)
{
    gradaudit_problem p = {NP, th, loss, NULL, mpfr ? loss_mpfr : NULL, NULL, NULL, NULL, s};
    return gradaudit_check_step(rep, err, &p, train, lr, o);
}

/* The correct step passes every entry, in double, with the oracle and with
 * Ridders, at lr = 0.5 (lr g exact), 0.1 and 2^-20 (a step that moves theta
 * by a few hundred ulps: the inference error grows as 1/lr, and is in the
 * tolerance). */
Test(step, correct_step_passes)
{
    static const double lrs[] = {0.5, 0.1, 0x1p-20};
    for (uint64_t seed = 1; seed <= 10; seed++)
        for (size_t k = 0; k < 3; k++)
            for (int mpfr = 0; mpfr <= 1; mpfr++) {
                double th[NP];
                sample s = {{0, 0}, 0, 0, 0};
                draw(th, &s, seed, 0);
                gradaudit_report *rep = NULL;
                gradaudit_error err = {{0}};
                cr_assert_eq(check(&rep, &err, &s, th, lrs[k], mpfr, NULL), GRADAUDIT_OK, "%s",
                             err.msg);
                const gradaudit_summary *sm = gradaudit_report_summary(rep);
                cr_expect_eq(sm->n_fail + sm->n_unjudgeable, 0, "seed %llu lr %g mpfr %d: %zu FAIL",
                             (unsigned long long)seed, lrs[k], mpfr, sm->n_fail);
                cr_expect(strstr(sm->model, "SGD step") != NULL, "%s", sm->model);
                gradaudit_report_free(rep);
            }
}

/* The step in float32 (options.float32, lr = 0.25 and 0.1f): 0 FAIL on 100
 * draws against the oracle; the wrong delta FAILs on every draw where it
 * changes the gradient beyond float precision. */
Test(step, float32_step)
{
    size_t fail = 0, caught = 0, draws = 0;
    for (uint64_t seed = 1; seed <= 100; seed++) {
        double th[NP];
        sample s = {{0, 0}, 0, 0, 1};
        draw(th, &s, seed, 1);
        gradaudit_options o;
        gradaudit_options_default(&o);
        o.float32 = 1;
        gradaudit_report *rep = NULL;
        gradaudit_error err = {{0}};
        double lr = seed % 2 ? 0.25 : (double)0.1f;
        cr_assert_eq(check(&rep, &err, &s, th, lr, 1, &o), GRADAUDIT_OK, "%s", err.msg);
        fail += gradaudit_report_summary(rep)->n_fail;
        gradaudit_report_free(rep);
        if (seed <= 20) {
            s.bug = 1;
            cr_assert_eq(check(&rep, &err, &s, th, lr, 1, &o), GRADAUDIT_OK, "%s", err.msg);
            caught += gradaudit_report_summary(rep)->n_fail > 0;
            draws++;
            gradaudit_report_free(rep);
        }
    }
    cr_expect_eq(fail, 0, "%zu false FAIL", fail);
    cr_expect_eq(caught, draws, "the wrong delta caught on %zu of %zu draws", caught, draws);
}

/* The wrong delta FAILs in double, with both references. */
Test(step, wrong_delta_fails)
{
    for (int mpfr = 0; mpfr <= 1; mpfr++) {
        double th[NP];
        sample s = {{0, 0}, 0, 1, 0};
        draw(th, &s, 3, 0);
        gradaudit_report *rep = NULL;
        cr_assert_eq(check(&rep, NULL, &s, th, 0.5, mpfr, NULL), GRADAUDIT_OK);
        cr_expect_eq(gradaudit_report_summary(rep)->n_fail, NP, "%zu FAIL",
                     gradaudit_report_summary(rep)->n_fail);
        cr_expect_not(gradaudit_report_ok(rep));
        gradaudit_report_free(rep);
    }
}

/* a gradient callback for gradaudit_check's own refusal (never called) */
static int grad_of_step_unused(double *g, const double *th, size_t n, void *user)
{
    (void)g, (void)th, (void)n, (void)user;
    return 1;
}

Test(step, bad_arguments)
{
    double th[NP];
    sample s = {{0, 0}, 0, 0, 0};
    draw(th, &s, 4, 0);
    gradaudit_problem p = {NP, th, loss, NULL, loss_mpfr, NULL, NULL, NULL, &s};
    gradaudit_report *rep = NULL;
    gradaudit_error err = {{0}};
    cr_expect_eq(gradaudit_check_step(&rep, &err, &p, NULL, 0.5, NULL), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "step is NULL") != NULL, "%s", err.msg);
    static const double bad[] = {0.0, -1.0, NAN, INFINITY};
    for (size_t k = 0; k < 4; k++) {
        cr_expect_eq(gradaudit_check_step(&rep, &err, &p, train, bad[k], NULL), GRADAUDIT_EINVAL);
        cr_expect(strstr(err.msg, "lr =") != NULL, "%s", err.msg);
        cr_expect_null(rep);
    }
    gradaudit_options o;
    gradaudit_options_default(&o);
    o.float32 = 1;
    draw(th, &s, 4, 1);
    cr_expect_eq(gradaudit_check_step(&rep, &err, &p, train, 0.1, &o), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "float32 number") != NULL, "%s", err.msg);
    th[5] = 0.1; /* theta must hold float32 numbers too, in gradaudit_check as here */
    cr_expect_eq(gradaudit_check_step(&rep, &err, &p, train, 0.25, &o), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "problem.theta[5] = 0.10000000000000001 is not a float32 number"),
              "%s", err.msg);
    p.grad = grad_of_step_unused;
    cr_expect_eq(gradaudit_check(&rep, &err, &p, &o), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "problem.theta[5]") != NULL, "%s", err.msg);
    p.grad = NULL;
    cr_expect_null(rep);
    gradaudit_options_default(&o);
    o.grad_buffer = GRADAUDIT_BUFFER_OVERWRITE;
    cr_expect_eq(gradaudit_check_step(&rep, &err, &p, train, 0.5, &o), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "grad_buffer") != NULL, "%s", err.msg);
    s.bug = 2;
    cr_expect_eq(gradaudit_check_step(&rep, &err, &p, train, 0.5, NULL), GRADAUDIT_ECALLBACK);
    cr_expect(strstr(err.msg, "step callback returned 5") != NULL, "%s", err.msg);
    cr_expect_null(rep);
}
