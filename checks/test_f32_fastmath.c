/* test_f32_fastmath.c (gate): float32 code built as llm.c builds itself.
 *
 * core/ga_f32.c compiled a second time with -Ofast -march=native
 * -ffp-contract=fast (reassociated sums, vectorised loops, FMA contraction,
 * GCC's fast-math libm calls), its entry points renamed *_ofast (meson.build).
 * Its gradients of random correct nets (every hidden activation x loss x
 * reduction x batch x layout, the numbers rounded to float32) are judged the
 * way a gradient from code gradaudit cannot rerun is: against the whole
 * order-independent float32 enclosure (analytic_own_forward, no forward
 * values). Asserted: no FAIL, and that the fast-math build computes other
 * bits than the plain one on some nets (or the test would prove nothing). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ga_check.h"
#include "soak_common.h"

int ga_loss_grad_f32_ofast(double *loss, double *grad, ga_error *err, const ga_net *net,
                           const double *params, const double *x, const double *y, size_t batch);

Test(f32_fastmath, ofast_build_draws_no_fail_against_the_whole_enclosure, .timeout = 600)
{
    const size_t batches[] = {1, 3, 8};
    size_t grid = SOAK_GRID(3), nets = 0, entries = 0, fails = 0, differ = 0, unjudgeable = 0;
    for (size_t k = 0; k < grid; k++) {
        soak_config c = soak_config_at(k, batches, 3);
        ga_randnet p;
        ga_error err;
        uint32_t seed = 3300000u + (uint32_t)k;
        cr_assert_eq(ga_randnet_make(&p, &err, c.layout, c.hidden, c.loss, c.reduction, c.batch, 3,
                                     0, k % 2 ? 0.01 : 0.0, seed),
                     GA_OK, "%s", err.msg);
        size_t P = p.net->n_params;
        cr_assert_eq(ga_round_problem(&err, GA_PREC_FLOAT32, p.net, p.net->params, p.x, p.y,
                                      p.batch),
                     GA_OK, "%s", err.msg);
        double *fast = malloc(P * sizeof *fast), *plain = malloc(P * sizeof *plain), lf, lp;
        cr_assert(fast && plain);
        cr_assert_eq(ga_loss_grad_f32_ofast(&lf, fast, &err, p.net, p.net->params, p.x, p.y,
                                            p.batch), GA_OK, "%s", err.msg);
        cr_assert_eq(ga_loss_grad_f32(&lp, plain, &err, p.net, p.net->params, p.x, p.y, p.batch),
                     GA_OK, "%s", err.msg);
        differ += memcmp(fast, plain, P * sizeof *fast) != 0;
        ga_check_options opt;
        ga_check_options_default(&opt);
        opt.seed = seed;
        opt.cross_check = 0;
        opt.analytic = fast;
        opt.analytic_loss = lf;
        opt.analytic_own_forward = 1;
        opt.precision = GA_PREC_FLOAT32;
        ga_check_report *r;
        cr_assert_eq(ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt), GA_OK,
                     "seed %u: %s", seed, err.msg);
        for (size_t i = 0; i < r->n_entries && r->n_fail; i++)
            if (r->entries[i].verdict == GA_VERDICT_FAIL)
                cr_log_error("seed %u (%s, %s): %s = %.9g, exact %.9g, tol %.3g: %s", seed,
                             ga_activation_name(c.hidden), ga_loss_name(c.loss), r->entries[i].name,
                             r->entries[i].analytic, r->entries[i].oracle, r->entries[i].tol,
                             r->entries[i].reason);
        nets++;
        entries += r->n_entries;
        fails += r->n_fail;
        unjudgeable += r->n_unjudgeable;
        ga_check_report_free(r);
        free(fast);
        free(plain);
        ga_randnet_clear(&p);
    }
    cr_log_info("-Ofast float32 core: %zu nets, %zu entries, %zu FAIL, %zu unjudgeable; %zu nets "
                "whose gradient differs in a bit from the plain build's", nets, entries, fails,
                unjudgeable, differ);
    cr_expect_eq(fails, 0, "%zu FAIL over %zu nets (%zu entries)", fails, nets, entries);
    cr_expect_gt(differ, 0, "the -Ofast build computed the same bits as the plain one on every "
                 "net: the flags did not change the arithmetic, and this test proves nothing");
}
