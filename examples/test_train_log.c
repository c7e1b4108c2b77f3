/* test_train_log: the example training loop's norm log flags what happened.
 *
 * Independent expectations: an observer in the loop sees each step's gradient
 * and computes, in this file, the plain norms sqrt(sum g^2) (no scaling, no
 * norm of norms) and their ratios; the log's flags, read back from the CSV,
 * must agree with the thresholds applied to those numbers:
 *   - explode (identity net, gain 3, no clipping): the first step whose global
 *     norm exceeds 1e4 times the first step's is flagged exploded, no step
 *     before it is, and it comes before the loss turns non-finite;
 *   - vanish (ten sigmoid layers): at step 0 exactly the layers whose
 *     ||dW_l|| / ||dW_L|| is below 1e-4 are flagged, and they are the layers
 *     nearest the input (sigmoid' <= 1/4 shrinks the gradient going down);
 *   - normal (tanh, clip 1): no flag at any step; clipped = 1 exactly where
 *     the plain global norm exceeds 1 + 1e-6.
 * No expectation is borderline: each test checks its margin to the threshold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ga_testsupport.h"
#include "train_mlp.h"

#define MAX_STEPS 256

typedef struct {
    size_t layers, steps;
    double loss[MAX_STEPS];
    double global[MAX_STEPS];                  /* plain sqrt(sum of all g^2) */
    double wnorm[MAX_STEPS][TM_MAX_LAYERS];    /* plain ||dW_l|| */
} seen;

static void observe(size_t step, double loss, const double *const *grads, const size_t *sizes,
                    void *user)
{
    seen *s = user;
    cr_assert_lt(step, MAX_STEPS);
    double all = 0;
    for (size_t t = 0; t < 2 * s->layers; t++) {
        double sq = 0;
        for (size_t i = 0; i < sizes[t]; i++)
            sq += grads[t][i] * grads[t][i];
        all += sq;
        if (t % 2 == 0)
            s->wnorm[step][t / 2] = sqrt(sq);
    }
    s->global[step] = sqrt(all);
    s->loss[step] = loss;
    s->steps = step + 1;
}

static ga_test_csv run(seen *s, const char *which)
{
    tm_config c;
    tm_example_config(&c, which);
    memset(s, 0, sizeof *s);
    s->layers = c.layers;
    char path[64];
    snprintf(path, sizeof path, "/tmp/ga_train_log_%s_%d.csv", which, (int)getpid());
    gradaudit_error err;
    cr_assert_eq(tm_train(&err, &c, path, NULL, observe, s), GRADAUDIT_OK, "%s", err.msg);
    ga_test_csv csv;
    size_t bad;
    char *text = ga_test_slurp(path, NULL);
    cr_assert_not_null(text);
    cr_assert_eq(ga_test_csv_parse(&csv, text, &bad), 0, "row %zu", bad);
    cr_assert_eq(csv.rows, s->steps + 1, "one row per step the loop took");
    unlink(path);
    return csv;
}

static const char *cell(const ga_test_csv *c, size_t r, const char *col)
{
    const char *v = ga_test_csv_cell(c, r, col);
    cr_assert_not_null(v, "no column %s", col);
    return v;
}

Test(train_log, explode_flagged_at_the_step_it_explodes)
{
    seen s;
    ga_test_csv csv = run(&s, "explode");
    size_t first = SIZE_MAX;
    for (size_t t = 0; t < s.steps && first == SIZE_MAX; t++)
        if (!(s.global[t] / s.global[0] <= 1e4))
            first = t;
    cr_assert_neq(first, SIZE_MAX, "the configuration did not explode");
    cr_assert_gt(first, 0);
    cr_expect_gt(s.global[first] / s.global[0], 1e4 * (1 + 1e-6), "margin above 1e4");
    cr_expect_lt(s.global[first - 1] / s.global[0], 1e4 * (1 - 1e-6), "margin below 1e4");
    cr_expect(isfinite(s.loss[first]), "the flag comes before the loss turns non-finite");
    for (size_t t = 0; t <= first; t++)
        cr_expect_str_eq(cell(&csv, t + 1, "exploded"), t == first ? "1" : "0", "step %zu", t);
    cr_log_info("explode: flagged at step %zu (growth %.3g), loss non-finite at step %zu",
                first, s.global[first] / s.global[0], s.steps - 1);
    ga_test_csv_free(&csv);
}

Test(train_log, vanish_flagged_at_the_layers_it_vanishes)
{
    seen s;
    ga_test_csv csv = run(&s, "vanish");
    size_t L = s.layers, flagged = 0;
    double top = s.wnorm[0][L - 1];
    for (size_t l = 0; l < L; l++) {
        double r = s.wnorm[0][l] / top;
        cr_expect_gt(fabs(log10(r) + 4), 1e-6, "layer %zu: ratio %.17g too close to 1e-4", l + 1,
                     r);
        int want = r < 1e-4;
        flagged += (size_t)want;
        char col[32];
        snprintf(col, sizeof col, "vanished_W%zu", l + 1);
        cr_expect_str_eq(cell(&csv, 1, col), want ? "1" : "0", "layer %zu: ratio %.3g", l + 1, r);
        if (l > 0 && want)
            cr_expect(s.wnorm[0][l - 1] / top < 1e-4, "layer %zu vanished, layer %zu below it not",
                      l + 1, l);
    }
    cr_expect_gt(flagged, 0, "the deep sigmoid net vanished somewhere");
    cr_expect_lt(flagged, L - 1, "and not everywhere");
    cr_expect_str_eq(cell(&csv, 1, "vanished"), "1");
    cr_expect_str_eq(cell(&csv, 1, "exploded"), "0");
    cr_log_info("vanish: layers 1..%zu of %zu flagged at step 0", flagged, L);
    ga_test_csv_free(&csv);
}

Test(train_log, normal_run_unflagged_and_clipping_recorded)
{
    seen s;
    ga_test_csv csv = run(&s, "normal");
    size_t clipped = 0;
    for (size_t t = 0; t < s.steps; t++) {
        cr_expect_str_eq(cell(&csv, t + 1, "vanished"), "0", "step %zu", t);
        cr_expect_str_eq(cell(&csv, t + 1, "exploded"), "0", "step %zu", t);
        /* clip 1, eps 1e-6: fires when norm + 1e-6 > 1 */
        double g = s.global[t];
        cr_assert_gt(fabs(g - (1 - 1e-6)), 1e-9, "step %zu: global norm %.17g borderline", t, g);
        int want = g > 1 - 1e-6;
        clipped += (size_t)want;
        cr_expect_str_eq(cell(&csv, t + 1, "clipped"), want ? "1" : "0", "step %zu: norm %.17g",
                         t, g);
    }
    cr_expect_gt(clipped, 0, "clipping fired at some step");
    cr_expect_lt(clipped, s.steps, "and not at every step");
    /* update_ratio: empty at step 0, then ||lr g_clipped|| / ||W|| > 0 */
    cr_expect_str_eq(cell(&csv, 1, "update_ratio_W1"), "");
    cr_expect_gt(strtod(cell(&csv, 2, "update_ratio_W1"), NULL), 0);
    ga_test_csv_free(&csv);
}
