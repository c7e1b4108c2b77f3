/* test_mutation.c: the checker catches every known backprop bug (a
 * representative sample for the gate; checks/mutation_sweep.c runs the full
 * sweep in the slow suite).
 *
 * Each bug is injected into an otherwise correct backward pass
 * (checks/ga_mutate.c); the mutant gradient is checked against the MPFR
 * oracle with the derived tolerances, and must draw at least one FAIL
 * wherever the bug moves an entry beyond its rounding scale (the spread a
 * correct double computation has, ga_rounding.h). A bug that leaves every
 * bit unchanged at a point (a missing relu derivative where every z > 0)
 * has nothing to detect; one that moves entries only within their rounding
 * scale (1e-9 of an entry that is itself a cancellation) cannot be told
 * from rounding by any check in double. Both are counted apart. */
#include <stdio.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>

#include "ga_check.h"
#include "ga_mutate.h"
#include "ga_randnet.h"

typedef struct {
    ga_activation hidden;
    ga_loss_kind loss;
    ga_reduction reduction;
} config;

static const config configs[] = {
    {GA_ACT_SIGMOID, GA_LOSS_MSE, GA_REDUCE_MEAN},
    {GA_ACT_TANH, GA_LOSS_MSE, GA_REDUCE_SUM},
    {GA_ACT_RELU, GA_LOSS_MSE, GA_REDUCE_BATCH_MEAN},
    {GA_ACT_LEAKY_RELU, GA_LOSS_BCE, GA_REDUCE_MEAN},
    {GA_ACT_ELU, GA_LOSS_BCE_LOGITS, GA_REDUCE_SUM},
    {GA_ACT_SOFTPLUS, GA_LOSS_SOFTMAX_CE, GA_REDUCE_BATCH_MEAN},
    {GA_ACT_TANH, GA_LOSS_CCE, GA_REDUCE_MEAN},
    {GA_ACT_SIGMOID, GA_LOSS_SOFTMAX_CE, GA_REDUCE_SUM},
    {GA_ACT_IDENTITY, GA_LOSS_MSE, GA_REDUCE_MEAN},
    {GA_ACT_SOFTMAX, GA_LOSS_MSE, GA_REDUCE_SUM},
    {GA_ACT_GELU_TANH, GA_LOSS_BCE_LOGITS, GA_REDUCE_BATCH_MEAN},
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

/* Runs bug m over every config x batch {1, 3} x both layouts x weight decay
 * {0, 0.01}, seeds from base_seed; returns counts. */
static void run_class(ga_mutation m, uint32_t base_seed, size_t *effective, size_t *detected,
                      size_t *no_effect, size_t *below)
{
    *effective = *detected = *no_effect = *below = 0;
    size_t batches[2] = {1, 3};
    double decays[2] = {0.0, 0.01};
    uint32_t seed = base_seed;
    for (size_t c = 0; c < N_CONFIGS; c++)
        for (int bi = 0; bi < 2; bi++)
            for (int layout = 0; layout < 2; layout++)
                for (int di = 0; di < 2; di++, seed++) {
                    ga_randnet p;
                    ga_error err;
                    cr_assert_eq(ga_randnet_make(&p, &err, (ga_layout)layout, configs[c].hidden,
                                                 configs[c].loss, configs[c].reduction,
                                                 batches[bi], 3, 0, decays[di], seed),
                                 GA_OK, "%s", err.msg);
                    if (ga_mutation_applies(p.net, p.batch, m)) {
                        int detect, effect;
                        char where[64], what[160];
                        ga_randnet_describe(what, sizeof what, &p);
                        cr_assert_eq(ga_mutation_trial(&detect, &effect, where, sizeof where, &err,
                                                       &p, m, seed, GA_CHECK_ORACLE),
                                     GA_OK, "%s: %s", what, err.msg);
                        *no_effect += effect == GA_MUT_NO_EFFECT;
                        *below += effect == GA_MUT_BELOW_ROUNDING;
                        *effective += effect == GA_MUT_RESOLVABLE;
                        *detected += effect == GA_MUT_RESOLVABLE && detect;
                        if (effect == GA_MUT_RESOLVABLE && !detect)
                            cr_log_error("MISSED %s at %s on %s", ga_mutation_name(m), where, what);
                    }
                    ga_randnet_clear(&p);
                }
}

ParameterizedTestParameters(mutation, every_class_is_caught)
{
    static int classes[GA_MUT_COUNT];
    for (int i = 0; i < GA_MUT_COUNT; i++)
        classes[i] = i;
    return cr_make_param_array(int, classes, GA_MUT_COUNT);
}

ParameterizedTest(int *cls, mutation, every_class_is_caught)
{
    ga_mutation m = (ga_mutation)*cls;
    uint32_t base_seed = 1000u * (uint32_t)(m + 1);
    size_t effective, detected, no_effect, below;
    run_class(m, base_seed, &effective, &detected, &no_effect, &below);
    cr_log_info("%-20s detected %zu/%zu (no effect at %zu points, below rounding at %zu), "
                "seeds from %u",
                ga_mutation_name(m), detected, effective, no_effect, below, base_seed);
    cr_assert_gt(effective, 0, "%s never had an effect: the sample does not exercise it",
                 ga_mutation_name(m));
    cr_assert_eq(detected, effective, "%s: detected %zu of %zu (seeds from %u)",
                 ga_mutation_name(m), detected, effective, base_seed);
}

/* The checker's verdict is not a coin: the unmutated gradient of the same
 * nets draws no FAIL (the false-alarm half of the same sample). */
Test(mutation, unmutated_gradients_pass)
{
    uint32_t seed = 77;
    for (size_t c = 0; c < N_CONFIGS; c++)
        for (int layout = 0; layout < 2; layout++, seed++) {
            ga_randnet p;
            ga_error err;
            cr_assert_eq(ga_randnet_make(&p, &err, (ga_layout)layout, configs[c].hidden,
                                         configs[c].loss, configs[c].reduction, 3, 3, 0, 0.01,
                                         seed),
                         GA_OK, "%s", err.msg);
            ga_check_options opt;
            ga_check_options_default(&opt);
            opt.seed = seed;
            ga_check_report *r;
            cr_assert_eq(ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt),
                         GA_OK, "%s", err.msg);
            char what[160];
            ga_randnet_describe(what, sizeof what, &p);
            cr_assert_eq(r->n_fail, 0, "false alarm on %s", what);
            ga_check_report_free(r);
            ga_randnet_clear(&p);
        }
}
