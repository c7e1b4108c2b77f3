/* test_gate_slow.c: the longer sweep behind the gate (meson test --suite slow,
 * with -Dslow_tests=true). More seeds, deeper and wider nets, every method:
 *   - oracle: every activation x loss x batch {1, 2, 7, 64} x layout, 8 seeds,
 *     depth 4, width 6: zero failures;
 *   - central, gsl, ridders: the same on smooth activations, batch 7, 2 seeds:
 *     zero failures (the finite differences' own estimates never raise a
 *     false alarm);
 *   - the step sweep: V for every correct entry, plateau for every entry
 *     scaled by 1.01 (entries with |g| >= 1e-3), over 40 nets.
 * Seeds are printed in every failure message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "ga_check.h"
#include "ga_randnet.h"
#include "gate_common.h"

static void check_case(const ga_randnet_case *c, ga_check_method m)
{
    char what[160];
    ga_check_report *r = gate_check_case(what, sizeof what, c, m);
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        cr_expect_neq(e->verdict, GA_VERDICT_FAIL, "%s method %s: %s analytic %.17g ref %.17g: %s",
                      what, ga_check_method_name(m), e->name, e->analytic, e->ref, e->reason);
    }
    ga_check_report_free(r);
}

Test(gate_slow, oracle_many_seeds, .timeout = 3000)
{
    static const ga_randnet_table table = {{1, 2, 7, 64}, 4, 8, 7000000, 4, 6};
    static ga_randnet_case cases[GA_RANDNET_TABLE_MAX(8)];
    size_t n = ga_randnet_table_cases(cases, &table);
    for (size_t i = 0; i < n; i++)
        check_case(&cases[i], GA_CHECK_ORACLE);
}

Test(gate_slow, finite_differences_no_false_alarm, .timeout = 3000)
{
    static const ga_activation smooth[] = {GA_ACT_IDENTITY, GA_ACT_SIGMOID, GA_ACT_TANH,
                                           GA_ACT_SOFTPLUS, GA_ACT_SOFTMAX};
    static const ga_check_method methods[] = {GA_CHECK_CENTRAL, GA_CHECK_GSL, GA_CHECK_RIDDERS,
                                              GA_CHECK_FORWARD};
    uint32_t seed = 8000000;
    for (size_t a = 0; a < 5; a++)
        for (int l = 0; l < GA_LOSS_COUNT; l++)
            for (size_t m = 0; m < 4; m++)
                for (int s = 0; s < 2; s++) {
                    ga_randnet_case c = {smooth[a], (ga_loss_kind)l, 7, (ga_layout)(s % 2), 3, 4, seed};
                    check_case(&c, methods[m]);
                    seed++;
                }
}

Test(gate_slow, sweep_v_and_plateau, .timeout = 3000)
{
    static const ga_activation smooth[] = {GA_ACT_SIGMOID, GA_ACT_TANH, GA_ACT_SOFTPLUS,
                                           GA_ACT_IDENTITY};
    size_t total = 0;
    for (uint32_t s = 0; s < 40; s++) {
        uint32_t seed = 9000000 + s;
        ga_randnet p;
        ga_error err;
        cr_assert_eq(ga_randnet_make(&p, &err, (ga_layout)(s % 2), smooth[s % 4], GA_LOSS_MSE,
                                     GA_REDUCE_MEAN, 5, 3, 3, 0.0, seed), GA_OK);
        size_t P = p.net->n_params;
        double *g = malloc(P * sizeof *g), L;
        ga_workspace *ws;
        cr_assert_eq(ga_workspace_alloc(&ws, &err, p.net, p.batch), GA_OK);
        cr_assert_eq(ga_loss_and_grad(&L, g, NULL, ws, p.net, p.net->params, p.x, p.y, p.batch), GA_OK);
        ga_fd_ctx *fd;
        cr_assert_eq(ga_fd_ctx_alloc(&fd, &err, p.net, p.net->params, p.x, p.y, p.batch, 0.0), GA_OK);
        for (size_t i = 0; i < P; i++) {
            if (fabs(g[i]) < 1e-3)
                continue;
            ga_sweep sw;
            cr_assert_eq(ga_fd_sweep(&sw, &err, fd, i, g[i]), GA_OK);
            cr_expect_eq(sw.shape, GA_SWEEP_V, "seed %u entry %zu correct: %s", seed, i, sw.msg);
            cr_assert_eq(ga_fd_sweep(&sw, &err, fd, i, g[i] * 1.01), GA_OK);
            cr_expect_eq(sw.shape, GA_SWEEP_PLATEAU, "seed %u entry %zu x1.01: %s", seed, i, sw.msg);
            total++;
        }
        ga_fd_ctx_free(fd);
        ga_workspace_free(ws);
        free(g);
        ga_randnet_clear(&p);
    }
    cr_expect_gt(total, 200);
}
