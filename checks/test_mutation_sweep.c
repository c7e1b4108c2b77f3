/* test_mutation_sweep.c (slow suite): the full mutation sweep. Every bug
 * class over every hidden activation x loss x reduction x batch {1, 2, 7} x
 * layout, with and without weight decay: the detection rate per class with
 * the oracle, which must be 100% wherever the bug moves an entry beyond its
 * rounding scale (see test_mutation.c); the rest are counted and printed.
 * Run: meson configure build -Dslow_tests=true && meson test -C build --suite slow */
#include <stdio.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ga_mutate.h"
#include "soak_common.h"

ParameterizedTestParameters(mutation_sweep, detection_rate)
{
    static int classes[GA_MUT_COUNT];
    for (int i = 0; i < GA_MUT_COUNT; i++)
        classes[i] = i;
    return cr_make_param_array(int, classes, GA_MUT_COUNT);
}

ParameterizedTest(int *cls, mutation_sweep, detection_rate, .timeout = 3000)
{
    ga_mutation m = (ga_mutation)*cls;
    const size_t batches[] = {1, 2, 7};
    size_t grid = SOAK_GRID(3), applicable = 0, effective = 0, detected = 0, below = 0,
           below_detected = 0;
    for (size_t k = 0; k < 2 * grid; k++) {
        soak_config c = soak_config_at(k, batches, 3);
        uint32_t seed = 900000u + 10000u * (uint32_t)m + (uint32_t)k;
        ga_randnet p;
        ga_error err;
        cr_assert_eq(ga_randnet_make(&p, &err, c.layout, c.hidden, c.loss, c.reduction, c.batch,
                                     3, 0, k >= grid ? 0.01 : 0.0, seed),
                     GA_OK, "%s", err.msg);
        if (ga_mutation_applies(p.net, p.batch, m)) {
            int detect, effect;
            char where[64], what[160];
            ga_randnet_describe(what, sizeof what, &p);
            cr_assert_eq(ga_mutation_trial(&detect, &effect, where, sizeof where, &err, &p, m, seed,
                                           GA_CHECK_ORACLE),
                         GA_OK, "%s: %s", what, err.msg);
            applicable++;
            effective += effect == GA_MUT_RESOLVABLE;
            detected += effect == GA_MUT_RESOLVABLE && detect;
            below += effect == GA_MUT_BELOW_ROUNDING;
            below_detected += effect == GA_MUT_BELOW_ROUNDING && detect;
            if (effect == GA_MUT_RESOLVABLE && !detect)
                cr_log_error("MISSED %s at %s on %s", ga_mutation_name(m), where, what);
        }
        ga_randnet_clear(&p);
    }
    printf("# %-20s detected %zu/%zu beyond rounding (%zu applicable; %zu within rounding, "
           "%zu of them flagged)\n",
           ga_mutation_name(m), detected, effective, applicable, below, below_detected);
    cr_assert_eq(detected, effective, "%s: detected %zu of %zu", ga_mutation_name(m), detected,
                 effective);
}
