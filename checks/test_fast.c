/* test_fast.c: fast mode detects and localises wrong entries with a few
 * directional checks, and stays quiet on correct gradients. The truth of
 * each case is known by construction: the correct gradient is ga_backward's
 * (itself checked against the MPFR oracle in test_gate), and the wrong
 * entries are the ones this test corrupts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ga_fast.h"
#include "ga_randnet.h"

static double *correct_gradient(const ga_randnet *p)
{
    ga_workspace *ws;
    ga_error err;
    cr_assert_eq(ga_workspace_alloc(&ws, &err, p->net, p->batch), GA_OK);
    double *g = malloc(p->net->n_params * sizeof *g), loss;
    cr_assert_not_null(g);
    cr_assert_eq(ga_loss_and_grad(&loss, g, NULL, ws, p->net, p->net->params, p->x, p->y, p->batch),
                 GA_OK);
    ga_workspace_free(ws);
    return g;
}

Test(fast, quiet_on_correct_gradients)
{
    const ga_activation acts[] = {GA_ACT_SIGMOID, GA_ACT_TANH, GA_ACT_SOFTPLUS, GA_ACT_ELU};
    const ga_loss_kind losses[] = {GA_LOSS_MSE, GA_LOSS_SOFTMAX_CE, GA_LOSS_BCE, GA_LOSS_MSE};
    for (uint32_t seed = 1; seed <= 8; seed++) {
        ga_randnet p;
        ga_error err;
        cr_assert_eq(ga_randnet_make(&p, &err, (ga_layout)(seed % 2), acts[seed % 4],
                                     losses[seed % 4], GA_REDUCE_MEAN, 5, 3, 6, 0.0, seed),
                     GA_OK, "%s", err.msg);
        ga_fast_options opt;
        ga_fast_options_default(&opt);
        opt.seed = seed;
        ga_fast_report *r;
        cr_assert_eq(ga_fast_check(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt), GA_OK,
                     "%s", err.msg);
        cr_assert(!r->failed, "false alarm, seed %u: v.g %.17g vs %.17g (tol %.3g)", seed,
                  r->dir_analytic[0], r->dir_reference[0], r->dir_tol[0]);
        ga_fast_report_free(r);
        ga_randnet_clear(&p);
    }
}

/* One entry wrong by 100% (doubled), the error a gradcheck fast mode can
 * miss: detected, localised to exactly that entry, confirmed by the oracle. */
Test(fast, localises_one_doubled_entry)
{
    for (uint32_t seed = 11; seed <= 16; seed++) {
        ga_randnet p;
        ga_error err;
        cr_assert_eq(ga_randnet_make(&p, &err, GA_LAYOUT_ROW, GA_ACT_TANH, GA_LOSS_MSE,
                                     GA_REDUCE_MEAN, 4, 3, 8, 0.0, seed),
                     GA_OK, "%s", err.msg);
        double *g = correct_gradient(&p);
        size_t bad = (seed * 37u) % p.net->n_params;
        while (g[bad] == 0.0)
            bad = (bad + 1) % p.net->n_params;
        g[bad] *= 2.0;
        ga_fast_options opt;
        ga_fast_options_default(&opt);
        opt.seed = seed;
        opt.analytic = g;
        ga_fast_report *r;
        cr_assert_eq(ga_fast_check(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt), GA_OK,
                     "%s", err.msg);
        cr_assert(r->failed, "seed %u: entry %zu doubled went unnoticed", seed, bad);
        size_t confirmed = 0, found = 0;
        for (size_t k = 0; k < r->n_bad; k++) {
            confirmed += r->bad[k].confirmed;
            if (r->bad[k].index == bad)
                found = r->bad[k].confirmed;
            else
                cr_assert(!r->bad[k].confirmed, "seed %u: %s confirmed wrong but is right", seed,
                          r->bad[k].name);
        }
        cr_assert(found, "seed %u: entry %zu was not localised and confirmed", seed, bad);
        cr_assert_eq(confirmed, 1);
        /* bisection: about 2 checks per level of log2(n), far fewer passes
         * than the 2n of per-entry central differences */
        cr_assert_lt(r->forward_passes, 2 * p.net->n_params * 10);
        ga_fast_report_free(r);
        free(g);
        ga_randnet_clear(&p);
    }
}

/* Two wrong entries in different halves are both named. */
Test(fast, localises_two_entries)
{
    ga_randnet p;
    ga_error err;
    cr_assert_eq(ga_randnet_make(&p, &err, GA_LAYOUT_COLUMN, GA_ACT_SIGMOID, GA_LOSS_MSE,
                                 GA_REDUCE_SUM, 3, 3, 8, 0.0, 21),
                 GA_OK, "%s", err.msg);
    double *g = correct_gradient(&p);
    size_t a = 3, b = p.net->n_params - 2;
    g[a] = -g[a] + 0.5;
    g[b] = g[b] * 1.5 + 0.25;
    ga_fast_options opt;
    ga_fast_options_default(&opt);
    opt.analytic = g;
    ga_fast_report *r;
    cr_assert_eq(ga_fast_check(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt), GA_OK,
                 "%s", err.msg);
    cr_assert(r->failed);
    int fa = 0, fb = 0;
    for (size_t k = 0; k < r->n_bad; k++) {
        fa |= r->bad[k].index == a && r->bad[k].confirmed;
        fb |= r->bad[k].index == b && r->bad[k].confirmed;
    }
    cr_assert(fa && fb, "entries %zu and %zu: found %d %d", a, b, fa, fb);
    ga_fast_report_free(r);
    free(g);
    ga_randnet_clear(&p);
}

Test(fast, bad_arguments)
{
    ga_fast_report *r = (ga_fast_report *)1;
    ga_error err;
    cr_assert_eq(ga_fast_check(&r, &err, NULL, NULL, NULL, NULL, 1, NULL), GA_EINVAL);
    cr_assert_null(r);
    cr_assert(strstr(err.msg, "fast check"), "%s", err.msg);
}
