/* test_vjp.c: gradaudit_check_vjp on an op written here and unknown to
 * gradaudit, through the public header alone: the gated product
 *   y_j = x_j sigmoid(g_j)          (outputs "y", n entries)
 *   s   = sum_j w_j x_j^2 / 2       (output "s", 1 entry)
 * with inputs x, g, w (n each), its forward in double and in MPFR, and its
 * backward (derived by hand below) in double and in float32:
 *   dx_j = dy_j sigmoid(g_j) + ds w_j x_j
 *   dg_j = dy_j x_j sigmoid(g_j) (1 - sigmoid(g_j))
 *   dw_j = ds x_j^2 / 2
 * Expected: the correct backward passes every entry (oracle and Ridders, in
 * double and, with options.float32, in float32); a wrong entry FAILs under its
 * own name; a forward_mpfr that disagrees with forward or does not compute in
 * MPFR is refused before any gradient is judged; bad input is refused with a
 * status and a message. The exact values come from gradaudit's oracle on the
 * MPFR forward written here. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "gradaudit.h"

#define N 6
#define NI 3 /* inputs x, g, w */

enum bug { GOOD = 0, DG_SCALED, DG_TYPO, DW_OVERWRITE_DS, MPFR_OFF, MPFR_WRAPS_DOUBLE, MPFR_NOISY,
           BACKWARD_FAILS, DOUBLED };

typedef struct {
    int bug;
    int mpfr_noisy;   /* forward_mpfr adds noise of 2^-45 relative that no precision removes */
    int float32;      /* the backward computes in float */
    size_t bad_entry; /* which entry a bug touches */
    double dy_seen[N + 1];
} gated;

static int fwd(double *const *outs, const double *const *ins, void *user)
{
    (void)user;
    const double *x = ins[0], *g = ins[1], *w = ins[2];
    double s = 0;
    for (size_t j = 0; j < N; j++) {
        outs[0][j] = x[j] / (1 + exp(-g[j]));
        s += w[j] * x[j] * x[j] / 2;
    }
    outs[1][0] = s;
    return 0;
}

static int fwd_mpfr(mpfr_ptr const *outs, mpfr_srcptr const *ins, mpfr_prec_t prec, void *user)
{
    const gated *c = user;
    mpfr_srcptr x = ins[0], g = ins[1], w = ins[2];
    mpfr_t t, s;
    mpfr_inits2(prec, t, s, (mpfr_ptr)0);
    mpfr_set_zero(s, 1);
    for (size_t j = 0; j < N; j++) {
        mpfr_neg(t, g + j, MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_add_ui(t, t, 1, MPFR_RNDN);
        mpfr_div(outs[0] + j, x + j, t, MPFR_RNDN);
        mpfr_sqr(t, x + j, MPFR_RNDN);
        mpfr_mul(t, t, w + j, MPFR_RNDN);
        mpfr_div_2ui(t, t, 1, MPFR_RNDN);
        mpfr_add(s, s, t, MPFR_RNDN);
    }
    mpfr_set(outs[1], s, MPFR_RNDN);
    if (c->mpfr_noisy) {
        static uint64_t calls;
        for (size_t j = 0; j < N; j++) {
            uint64_t r = (++calls) * 0x9e3779b97f4a7c15ULL;
            mpfr_mul_d(outs[0] + j, outs[0] + j, 1 + ((r >> 40) & 1 ? 0x1p-45 : -0x1p-45), MPFR_RNDN);
        }
    }
    if (c->bug == MPFR_OFF) /* one output 1.001 times what it should be */
        mpfr_mul_d(outs[0] + c->bad_entry, outs[0] + c->bad_entry, 1.001, MPFR_RNDN);
    if (c->bug == MPFR_WRAPS_DOUBLE) { /* "MPFR" that only rounds the double forward */
        double xd[N], gd[N], wd[N], yd[N], sd;
        for (size_t j = 0; j < N; j++) {
            xd[j] = mpfr_get_d(x + j, MPFR_RNDN);
            gd[j] = mpfr_get_d(g + j, MPFR_RNDN);
            wd[j] = mpfr_get_d(w + j, MPFR_RNDN);
        }
        const double *in[NI] = {xd, gd, wd};
        double *out[2] = {yd, &sd};
        fwd(out, in, NULL);
        for (size_t j = 0; j < N; j++)
            mpfr_set_d(outs[0] + j, yd[j], MPFR_RNDN);
        mpfr_set_d(outs[1], sd, MPFR_RNDN);
    }
    mpfr_clears(t, s, (mpfr_ptr)0);
    return 0;
}

static int bwd(double *const *dins, const double *const *douts, const double *const *ins, void *user)
{
    gated *c = user;
    if (c->bug == BACKWARD_FAILS)
        return 7;
    const double *x = ins[0], *g = ins[1], *w = ins[2], *dy = douts[0];
    double ds = douts[1][0];
    memcpy(c->dy_seen, dy, N * sizeof *dy);
    c->dy_seen[N] = ds;
    for (size_t j = 0; j < N; j++) {
        if (c->float32) {
            float sg = 1.0f / (1.0f + expf(-(float)g[j]));
            dins[0][j] = (float)dy[j] * sg + (float)ds * (float)w[j] * (float)x[j];
            dins[1][j] = (float)dy[j] * (float)x[j] * sg * (1.0f - sg);
            dins[2][j] = (float)ds * (float)x[j] * (float)x[j] / 2.0f;
        } else {
            double sg = 1 / (1 + exp(-g[j]));
            dins[0][j] = dy[j] * sg + ds * w[j] * x[j];
            dins[1][j] = dy[j] * x[j] * sg * (1 - sg);
            dins[2][j] = ds * x[j] * x[j] / 2;
        }
    }
    if (c->bug == DG_TYPO) /* sigmoid' written as s (1 + s) at one entry */
        dins[1][c->bad_entry] = dy[c->bad_entry] * x[c->bad_entry] * (1 / (1 + exp(-g[c->bad_entry]))) *
                                (1 + 1 / (1 + exp(-g[c->bad_entry])));
    if (c->bug == DOUBLED)
        for (size_t i = 0; i < NI; i++)
            for (size_t j = 0; j < N; j++)
                dins[i][j] *= 2;
    if (c->bug == DG_SCALED) /* one entry off by a relative 2^-13 (about 1.2e-4) */
        dins[1][c->bad_entry] *= 1 + 0x1p-13;
    if (c->bug == DW_OVERWRITE_DS) /* dw forgets the upstream ds */
        dins[2][c->bad_entry] = x[c->bad_entry] * x[c->bad_entry] / 2;
    return 0;
}

/* inputs drawn from seed, rounded to float32 when asked */
static void draw(double *x, double *g, double *w, uint64_t seed, int float32)
{
    uint64_t st = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t j = 0; j < 3 * N; j++) {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        double u = (double)(st >> 11) * 0x1p-53 * 4 - 2; /* [-2, 2) */
        double *dst = j < N ? x + j : j < 2 * N ? g + j - N : w + j - 2 * N;
        *dst = float32 ? (double)(float)u : u;
    }
}

static const gradaudit_vjp_output outputs[2] = {{"y", N}, {"s", 1}};

static int run(gradaudit_report **rep, gradaudit_error *err, gated *c, const double *x,
               const double *g, const double *w, int mpfr, gradaudit_options *o)
{
    gradaudit_tensor in[NI] = {{"x", x, N}, {"g", g, N}, {"w", w, N}};
    gradaudit_vjp op = {in, NI, outputs, 2, fwd, mpfr ? fwd_mpfr : NULL, bwd, 42, c};
    return gradaudit_check_vjp(rep, err, &op, o);
}

/* Correct backward, double: every entry passes, with the oracle and with
 * Ridders, on 20 draws; the entries are named by tensor. */
Test(vjp, correct_backward_passes_in_double)
{
    for (uint64_t seed = 1; seed <= 20; seed++)
        for (int mpfr = 0; mpfr <= 1; mpfr++) {
            double x[N], g[N], w[N];
            draw(x, g, w, seed, 0);
            gated c = {GOOD, 0, 0, 0, {0}};
            gradaudit_report *rep = NULL;
            gradaudit_error err = {{0}};
            cr_assert_eq(run(&rep, &err, &c, x, g, w, mpfr, NULL), GRADAUDIT_OK, "%s", err.msg);
            const gradaudit_summary *s = gradaudit_report_summary(rep);
            cr_assert_eq(s->n_entries, 3 * N);
            cr_expect_eq(s->n_fail, 0, "seed %llu mpfr %d: %zu FAIL", (unsigned long long)seed,
                         mpfr, s->n_fail);
            cr_expect_eq(s->reference, mpfr ? GRADAUDIT_REF_ORACLE : GRADAUDIT_REF_RIDDERS);
            cr_expect(gradaudit_report_ok(rep));
            cr_expect_str_eq(gradaudit_report_entry(rep, N + 2)->name, "g[2]");
            cr_expect_str_eq(gradaudit_report_entry(rep, 3 * N - 1)->name, "w[5]");
            cr_expect_eq(s->n_groups, 3);
            gradaudit_report_free(rep);
        }
}

/* The backward receives gradaudit_vjp_dy's numbers, float32 numbers. */
Test(vjp, douts_are_the_published_dy)
{
    double x[N], g[N], w[N], dy[N + 1];
    draw(x, g, w, 3, 0);
    gated c = {GOOD, 0, 0, 0, {0}};
    gradaudit_report *rep = NULL;
    cr_assert_eq(run(&rep, NULL, &c, x, g, w, 1, NULL), GRADAUDIT_OK);
    gradaudit_vjp_dy(dy, N + 1, 42);
    for (size_t j = 0; j <= N; j++) {
        cr_expect_eq(c.dy_seen[j], dy[j]);
        cr_expect_eq(dy[j], (double)(float)dy[j]);
    }
    gradaudit_report_free(rep);
}

/* One wrong entry FAILs under its own name, every other entry passes. */
Test(vjp, wrong_entries_fail_by_name)
{
    static const struct { int bug; size_t entry; const char *name; } cases[] = {
        {DG_TYPO, 4, "g[4]"}, {DW_OVERWRITE_DS, 1, "w[1]"}};
    for (size_t k = 0; k < 2; k++)
        for (int mpfr = 0; mpfr <= 1; mpfr++) {
            double x[N], g[N], w[N];
            draw(x, g, w, 5, 0);
            gated c = {cases[k].bug, 0, 0, cases[k].entry, {0}};
            gradaudit_report *rep = NULL;
            gradaudit_error err = {{0}};
            cr_assert_eq(run(&rep, &err, &c, x, g, w, mpfr, NULL), GRADAUDIT_OK, "%s", err.msg);
            const gradaudit_summary *s = gradaudit_report_summary(rep);
            cr_expect_eq(s->n_fail, 1, "%s mpfr %d: %zu FAIL", cases[k].name, mpfr, s->n_fail);
            cr_expect_str_eq(gradaudit_report_top(rep, 0)->name, cases[k].name);
            cr_expect_eq(gradaudit_report_top(rep, 0)->verdict, GRADAUDIT_VERDICT_FAIL);
            cr_expect_not(gradaudit_report_ok(rep));
            gradaudit_report_free(rep);
        }
}

/* A float32 backward against the double forward's oracle, options.float32
 * set: 0 FAIL on 200 draws; every entry's tolerance at least 2 float32 ulps
 * of the analytic value (the floor: a move of double ulps is lost in float
 * code, so only float ulps measure it) and its ulps counted in float32; a
 * float-sized bug (one entry off by 2^-13 relative) and one without its
 * factor ds FAIL on every draw. */
Test(vjp, float32_backward)
{
    size_t fail = 0, caught = 0, below_floor = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        double x[N], g[N], w[N];
        draw(x, g, w, seed, 1);
        gated c = {GOOD, 0, 1, 0, {0}};
        gradaudit_options o;
        gradaudit_options_default(&o);
        o.float32 = 1;
        gradaudit_report *rep = NULL;
        gradaudit_error err = {{0}};
        cr_assert_eq(run(&rep, &err, &c, x, g, w, 1, &o), GRADAUDIT_OK, "%s", err.msg);
        const gradaudit_summary *s = gradaudit_report_summary(rep);
        fail += s->n_fail;
        cr_expect(strstr(s->model, "float32 ulps") != NULL, "%s", s->model);
        for (size_t i = 0; i < s->n_entries; i++) {
            const gradaudit_entry *e = gradaudit_report_entry(rep, i);
            float a = fabsf((float)e->analytic);
            below_floor += e->bound < 2.0 * ((double)nextafterf(a, INFINITY) - (double)a);
            /* analytic and ref within 1/2 float ulp of each other count 0 or 1 */
            if (fabs(e->analytic - e->ref) < 0.25 * ((double)nextafterf(a, INFINITY) - (double)a))
                cr_expect_leq(e->ulps, 1, "%s: %llu float32 ulps", e->name,
                              (unsigned long long)e->ulps);
        }
        gradaudit_report_free(rep);
    }
    cr_expect_eq(fail, 0, "%zu false FAIL in float32", fail);
    cr_expect_eq(below_floor, 0, "%zu tolerances below 2 float32 ulps", below_floor);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        double x[N], g[N], w[N];
        draw(x, g, w, seed, 1);
        for (int bug = DG_SCALED; bug <= DW_OVERWRITE_DS; bug += DW_OVERWRITE_DS - DG_SCALED) {
            gated c = {bug, 0, 1, 2, {0}};
            gradaudit_options o;
            gradaudit_options_default(&o);
            o.float32 = 1;
            gradaudit_report *rep = NULL;
            cr_assert_eq(run(&rep, NULL, &c, x, g, w, 1, &o), GRADAUDIT_OK);
            caught += gradaudit_report_summary(rep)->n_fail == 1;
            gradaudit_report_free(rep);
        }
    }
    cr_expect_eq(caught, 40);
}

/* A number drawn hard: saturating sigmoids, tiny and huge scales, exact
 * zeros, powers of 2 (ties in products), ordinary ones. */
static double hard(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    uint64_t r = *st;
    double u = (double)(r >> 11) * 0x1p-53 * 2 - 1;
    switch (r & 7) {
    case 0: return 30 * u;
    case 1: return 1e-30 * u;
    case 2: return 0.0;
    case 3: return ldexp((r >> 59) & 1 ? -1.0 : 1.0, (int)(r >> 60) - 4);
    case 4: return 1e4 * u;
    default: return 2 * u;
    }
}

/* The false-alarm soak of the float32 noise model on hard inputs: VJP_SOAK
 * instances (300 in the gate; the slow suite runs 10,000, 0 FAIL when
 * written: 180,000 entries, 50 unjudgeable), each a float32 backward
 * against the oracle on the MPFR forward, dy from the instance's seed. */
Test(vjp, float32_hard_inputs_soak)
{
    const char *env = getenv("VJP_SOAK");
    long n = env ? strtol(env, NULL, 10) : 300;
    size_t fail = 0, judged = 0;
    for (uint64_t seed = 1; seed <= (uint64_t)n; seed++) {
        uint64_t st = seed * 0x9e3779b97f4a7c15ULL + 3;
        double x[N], g[N], w[N];
        for (size_t j = 0; j < N; j++) {
            x[j] = (double)(float)hard(&st);
            g[j] = (double)(float)hard(&st);
            w[j] = (double)(float)hard(&st);
        }
        gated c = {GOOD, 0, 1, 0, {0}};
        gradaudit_tensor in[NI] = {{"x", x, N}, {"g", g, N}, {"w", w, N}};
        gradaudit_vjp op = {in, NI, outputs, 2, fwd, fwd_mpfr, bwd, seed, &c};
        gradaudit_options o;
        gradaudit_options_default(&o);
        o.float32 = 1;
        gradaudit_report *rep = NULL;
        gradaudit_error err = {{0}};
        cr_assert_eq(gradaudit_check_vjp(&rep, &err, &op, &o), GRADAUDIT_OK, "seed %llu: %s",
                     (unsigned long long)seed, err.msg);
        const gradaudit_summary *sm = gradaudit_report_summary(rep);
        fail += sm->n_fail;
        judged += sm->n_entries - sm->n_unjudgeable;
        cr_expect_eq(sm->n_fail, 0, "seed %llu: %s %s", (unsigned long long)seed,
                     gradaudit_report_top(rep, 0)->name, gradaudit_report_top(rep, 0)->reason);
        gradaudit_report_free(rep);
    }
    cr_expect_eq(fail, 0);
    cr_expect_gt(judged, (size_t)n * 3 * N * 9 / 10, "only %zu entries judged", judged);
}

/* A forward_mpfr off by 1.001 in one output entry is refused before any
 * gradient is judged, naming the entry; one that wraps the double forward
 * (settles at once, a derivative of 0) is refused too. */
Test(vjp, wrong_forward_mpfr_is_refused)
{
    double x[N], g[N], w[N];
    draw(x, g, w, 9, 0);
    gated c = {MPFR_OFF, 0, 0, 3, {0}};
    gradaudit_report *rep = NULL;
    gradaudit_error err = {{0}};
    cr_expect_eq(run(&rep, &err, &c, x, g, w, 1, NULL), GRADAUDIT_EMPFRLOSS);
    cr_expect_null(rep);
    cr_expect(strstr(err.msg, "disagree at y[3]") != NULL, "%s", err.msg);
    c.bug = MPFR_WRAPS_DOUBLE;
    err.msg[0] = '\0';
    cr_expect_eq(run(&rep, &err, &c, x, g, w, 1, NULL), GRADAUDIT_EMPFRLOSS, "%s", err.msg);
    cr_expect_null(rep);
    /* with Ridders asked for, forward_mpfr is not used and not judged */
    gradaudit_options o;
    gradaudit_options_default(&o);
    o.reference = GRADAUDIT_REF_RIDDERS;
    c.bug = MPFR_OFF;
    cr_expect_eq(run(&rep, &err, &c, x, g, w, 1, &o), GRADAUDIT_OK, "%s", err.msg);
    gradaudit_report_free(rep);
}

/* A forward_mpfr with noise no precision removes never yields a pass: a
 * doubled gradient is refused or FAILs or is unjudgeable, never ok. */
Test(vjp, noisy_forward_mpfr_never_passes)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        double x[N], g[N], w[N];
        draw(x, g, w, seed, 0);
        gated c = {DOUBLED, 1, 0, 0, {0}};
        gradaudit_report *rep = NULL;
        gradaudit_error err = {{0}};
        int st = run(&rep, &err, &c, x, g, w, 1, NULL);
        if (st == GRADAUDIT_OK) {
            const gradaudit_summary *s = gradaudit_report_summary(rep);
            cr_expect_not(gradaudit_report_ok(rep), "seed %llu: doubled gradient ok",
                          (unsigned long long)seed);
            cr_expect_eq(s->n_pass, 0, "seed %llu: %zu entries pass", (unsigned long long)seed,
                         s->n_pass);
            gradaudit_report_free(rep);
        } else {
            cr_expect_eq(st, GRADAUDIT_EMPFRLOSS, "%s", err.msg);
        }
    }
}

/* An op with kinks: y = relu(x) w (inputs x, w; K entries), some x exactly
 * at the kink. A backward with either one-sided convention (relu'(0) = 0 or
 * 1) gives kink verdicts there, no FAIL; one with relu'(0) = 2 FAILs. */
#define K 5
static int relu_fwd(double *const *outs, const double *const *ins, void *user)
{
    (void)user;
    for (size_t j = 0; j < K; j++)
        outs[0][j] = (ins[0][j] > 0 ? ins[0][j] : 0) * ins[1][j];
    return 0;
}

static int relu_fwd_mpfr(mpfr_ptr const *outs, mpfr_srcptr const *ins, mpfr_prec_t prec, void *user)
{
    (void)prec, (void)user;
    for (size_t j = 0; j < K; j++) {
        if (mpfr_sgn(ins[0] + j) > 0)
            mpfr_mul(outs[0] + j, ins[0] + j, ins[1] + j, MPFR_RNDN);
        else
            mpfr_set_zero(outs[0] + j, 1);
    }
    return 0;
}

static int relu_bwd(double *const *dins, const double *const *douts, const double *const *ins,
                    void *user)
{
    const double *slope_at_0 = user;
    for (size_t j = 0; j < K; j++) {
        double x = ins[0][j], d = x > 0 ? 1 : x < 0 ? 0 : *slope_at_0;
        dins[0][j] = douts[0][j] * d * ins[1][j];
        dins[1][j] = douts[0][j] * (x > 0 ? x : 0);
    }
    return 0;
}

Test(vjp, kinks)
{
    double x[K] = {0.0, 0.75, 0.0, -0.5, 0.0}, w[K] = {1.5, -2.0, 0.25, 3.0, -1.0};
    gradaudit_tensor in[2] = {{"x", x, K}, {"w", w, K}};
    const gradaudit_vjp_output out[1] = {{"y", K}};
    static const double slopes[3] = {0.0, 1.0, 2.0};
    for (int mpfr = 0; mpfr <= 1; mpfr++)
        for (size_t k = 0; k < 3; k++) {
            double slope = slopes[k];
            gradaudit_vjp op = {in, 2, out, 1, relu_fwd, mpfr ? relu_fwd_mpfr : NULL, relu_bwd, 8,
                                &slope};
            gradaudit_report *rep = NULL;
            gradaudit_error err = {{0}};
            cr_assert_eq(gradaudit_check_vjp(&rep, &err, &op, NULL), GRADAUDIT_OK, "%s", err.msg);
            const gradaudit_summary *sm = gradaudit_report_summary(rep);
            if (slope <= 1) {
                cr_expect_eq(sm->n_fail, 0, "slope %g mpfr %d: %zu FAIL", slope, mpfr, sm->n_fail);
                cr_expect_eq(sm->n_kink, 3, "slope %g mpfr %d: %zu kink", slope, mpfr, sm->n_kink);
                cr_expect(gradaudit_report_ok(rep));
            } else {
                cr_expect_eq(sm->n_fail, 3, "slope 2 mpfr %d: %zu FAIL", mpfr, sm->n_fail);
                cr_expect(strstr(gradaudit_report_top(rep, 0)->reason, "outside the one-sided") !=
                              NULL,
                          "%s", gradaudit_report_top(rep, 0)->reason);
            }
            gradaudit_report_free(rep);
        }
}

/* Bad input: a status and a message naming it, no report. */
Test(vjp, bad_input)
{
    double x[N], g[N], w[N];
    draw(x, g, w, 11, 0);
    gated c = {GOOD, 0, 0, 0, {0}};
    gradaudit_report *rep = (gradaudit_report *)&c; /* must come back NULL */
    gradaudit_error err = {{0}};
    cr_expect_eq(gradaudit_check_vjp(&rep, &err, NULL, NULL), GRADAUDIT_EINVAL);
    cr_expect_null(rep);

    gradaudit_tensor in[NI] = {{"x", x, N}, {"g", g, N}, {"", w, N}};
    gradaudit_vjp op = {in, NI, outputs, 2, fwd, fwd_mpfr, bwd, 42, &c};
    cr_expect_eq(gradaudit_check_vjp(&rep, &err, &op, NULL), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "inputs[2]") != NULL, "%s", err.msg);
    in[2].name = "w";
    op.n_outputs = 0;
    cr_expect_eq(gradaudit_check_vjp(&rep, &err, &op, NULL), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "no outputs") != NULL, "%s", err.msg);
    op.n_outputs = 2;
    op.backward = NULL;
    cr_expect_eq(gradaudit_check_vjp(&rep, &err, &op, NULL), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "backward") != NULL, "%s", err.msg);
    op.backward = bwd;
    gradaudit_options ro;
    gradaudit_options_default(&ro);
    ro.reference = GRADAUDIT_REF_ORACLE;
    op.forward_mpfr = NULL;
    cr_expect_eq(gradaudit_check_vjp(&rep, &err, &op, &ro), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "op.forward_mpfr") != NULL, "%s", err.msg);
    op.forward_mpfr = fwd_mpfr;

    g[1] = NAN;
    cr_expect_eq(gradaudit_check_vjp(&rep, &err, &op, NULL), GRADAUDIT_ENONFINITE);
    cr_expect(strstr(err.msg, "g[1] is NaN") != NULL, "%s", err.msg);
    g[1] = 0.1; /* not a float32 number */
    gradaudit_options o;
    gradaudit_options_default(&o);
    o.float32 = 1;
    draw(x, g, w, 11, 1);
    g[1] = 0.1;
    cr_expect_eq(gradaudit_check_vjp(&rep, &err, &op, &o), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "float32") != NULL && strstr(err.msg, "g[1] = 0.1") != NULL, "%s",
              err.msg);
    g[1] = 0.125;
    c.bug = BACKWARD_FAILS;
    cr_expect_eq(gradaudit_check_vjp(&rep, &err, &op, NULL), GRADAUDIT_ECALLBACK);
    cr_expect(strstr(err.msg, "returned 7") != NULL, "%s", err.msg);
    cr_expect_null(rep);
}
