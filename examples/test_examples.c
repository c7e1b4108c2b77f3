/* test_examples: the hand-written MLP of mlp.c through the public API and the
 * Criterion helper. The correct backprop must pass with both references and
 * both tolerance models; each deliberately wrong variant must FAIL on exactly
 * the entries its bug touches, and nowhere else.
 *
 * Independent expectations (by hand, from mlp.c's formulas): dropping the 2
 * of the square halves every entry of the gradient, so the reference must be
 * twice the analytic value everywhere; dropping tanh's derivative changes
 * dz1 only, so W1 and b1 (20 entries) FAIL and W2, b2 (12 entries) pass. */
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>
#include <gradaudit_criterion.h>

#include "mlp.h"

static mlp_data d;
static double theta[MLP_N];
static gradaudit_problem prob;
static gradaudit_options opt;

static void setup(void)
{
    mlp_example_data(&d, theta);
    mlp_problem(&prob, &d, theta);
    gradaudit_options_default(&opt);
}

TestSuite(mlp, .init = setup);

Test(mlp, correct_passes_oracle_bound)
{
    opt.reference = GRADAUDIT_REF_ORACLE;
    cr_assert_gradient(&prob, &opt);
}

Test(mlp, correct_passes_oracle_noise)
{
    opt.reference = GRADAUDIT_REF_ORACLE;
    opt.ignore_bound = 1;
    cr_assert_gradient(&prob, &opt);
}

Test(mlp, correct_passes_ridders_noise_without_mpfr)
{
    prob.loss_mpfr = NULL;
    prob.grad_bound = NULL;
    cr_assert_gradient(&prob, NULL);
}

Test(mlp, correct_passes_ridders_bound)
{
    opt.reference = GRADAUDIT_REF_RIDDERS;
    cr_assert_gradient(&prob, &opt);
}

/* Every entry of the gradient is nonzero at this point, so the missing 2 must
 * fail all 32, with reference = 2 x analytic (to the oracle's accuracy). */
Test(mlp, wrong_factor2_fails_every_entry)
{
    d.bug = MLP_BUG_FACTOR2;
    gradaudit_report *rep;
    gradaudit_error err;
    cr_assert_eq(gradaudit_check(&rep, &err, &prob, &opt), GRADAUDIT_OK, "%s", err.msg);
    const gradaudit_summary *sum = gradaudit_report_summary(rep);
    cr_expect_eq(sum->reference, GRADAUDIT_REF_ORACLE);
    cr_expect_eq(sum->n_fail, (size_t)MLP_N, "n_fail %zu", sum->n_fail);
    cr_expect_not(gradaudit_report_ok(rep));
    for (size_t i = 0; i < MLP_N; i++) {
        const gradaudit_entry *e = gradaudit_report_entry(rep, i);
        cr_expect_eq(e->verdict, GRADAUDIT_VERDICT_FAIL, "%s: %s", e->name, e->reason);
        cr_expect_leq(fabs(e->ref - 2 * e->analytic), 1e-12 * fabs(e->ref),
                      "%s: reference %.17g is not twice analytic %.17g", e->name, e->ref,
                      e->analytic);
    }
    gradaudit_report_free(rep);
}

Test(mlp, wrong_tanh_deriv_fails_first_layer_only)
{
    d.bug = MLP_BUG_TANH_DERIV;
    for (int model = 0; model < 2; model++) {
        opt.ignore_bound = model;
        gradaudit_report *rep;
        gradaudit_error err;
        cr_assert_eq(gradaudit_check(&rep, &err, &prob, &opt), GRADAUDIT_OK, "%s", err.msg);
        const gradaudit_summary *sum = gradaudit_report_summary(rep);
        cr_expect_eq(sum->n_fail, (size_t)(MLP_H * MLP_D + MLP_H), "model %d: n_fail %zu", model,
                     sum->n_fail);
        for (size_t i = 0; i < MLP_N; i++) {
            const gradaudit_entry *e = gradaudit_report_entry(rep, i);
            int first = e->name[1] == '1';
            cr_expect_eq(e->verdict, first ? GRADAUDIT_VERDICT_FAIL : GRADAUDIT_VERDICT_PASS,
                         "model %d: %s: %s", model, e->name, e->reason);
        }
        /* groups W1, b1, W2, b2 from the names */
        cr_expect_eq(sum->n_groups, 4);
        cr_expect_str_eq(gradaudit_report_group(rep, 0)->name, "W1");
        cr_expect_eq(gradaudit_report_group(rep, 0)->fail, 15);
        cr_expect_str_eq(gradaudit_report_group(rep, 3)->name, "b2");
        cr_expect_eq(gradaudit_report_group(rep, 3)->pass, 2);
        /* worst entries first, all of them failures */
        cr_expect_eq(sum->n_top, 10);
        for (size_t t = 0; t < sum->n_top; t++)
            cr_expect_eq(gradaudit_report_top(rep, t)->verdict, GRADAUDIT_VERDICT_FAIL);
        gradaudit_report_free(rep);
    }
}

/* The Criterion helper's failure message names the worst entries. */
Test(mlp, helper_message_lists_worst_entries)
{
    d.bug = MLP_BUG_TANH_DERIV;
    char msg[GRADAUDIT_CR_MSG_SIZE];
    cr_assert_not(gradaudit_cr_check_(msg, sizeof msg, &prob, &opt));
    cr_expect(strstr(msg, "20 of 32 entries FAIL") != NULL, "%s", msg);
    cr_expect(strstr(msg, "worst 10 entries") != NULL, "%s", msg);
    cr_expect(strstr(msg, "FAIL W1[") != NULL || strstr(msg, "FAIL b1[") != NULL, "%s", msg);
    cr_expect(strstr(msg, "W2[") == NULL, "a passing W2 entry among the worst: %s", msg);
    d.bug = MLP_CORRECT;
    cr_expect(gradaudit_cr_check_(msg, sizeof msg, &prob, &opt), "%s", msg);
    cr_expect_str_eq(msg, "");
}

/* A check that cannot run is reported, not a crash. */
Test(mlp, helper_message_on_bad_problem)
{
    prob.grad = NULL;
    char msg[GRADAUDIT_CR_MSG_SIZE];
    cr_assert_not(gradaudit_cr_check_(msg, sizeof msg, &prob, &opt));
    cr_expect(strstr(msg, "problem.grad") != NULL, "%s", msg);
}

/* No false alarm on random points of the correct network, for every
 * reference and tolerance model (a small sample of the soak in
 * docs/library.md). The points come from a printed seed. */
Test(mlp, correct_passes_at_random_points)
{
    const uint64_t seed = 20261122;
    uint64_t st = seed;
    for (int t = 0; t < 25; t++) {
        /* 53-bit uniforms from a 64-bit LCG (Knuth's MMIX constants) */
        double u[MLP_N + MLP_B * MLP_O + 1];
        for (size_t k = 0; k < sizeof u / sizeof u[0]; k++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            u[k] = (double)(st >> 11) * 0x1p-53;
        }
        double scale = pow(10, 2 * u[0] - 1); /* 0.1 .. 10 */
        for (size_t i = 0; i < MLP_N; i++)
            theta[i] = scale * (2 * u[1 + i] - 1);
        for (int b = 0; b < MLP_B; b++)
            for (int k = 0; k < MLP_O; k++)
                d.y[b][k] = u[1 + MLP_N + b * MLP_O + k];
        for (int m = 0; m < 4; m++) {
            opt.reference = m < 2 ? GRADAUDIT_REF_ORACLE : GRADAUDIT_REF_RIDDERS;
            opt.ignore_bound = m & 1;
            char msg[GRADAUDIT_CR_MSG_SIZE];
            cr_expect(gradaudit_cr_check_(msg, sizeof msg, &prob, &opt),
                      "seed %llu point %d (scale %g) reference %d model %d: %s",
                      (unsigned long long)seed, t, scale, (int)opt.reference, m & 1, msg);
        }
    }
}
