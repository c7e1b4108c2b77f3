/* test_refmp: the generic reference in MPFR (oracle/ga_refmp.h) and in Arb's
 * balls (oracle/ga_refball.h) against the oracle's own reverse pass (route
 * (b), oracle/orc_passes.c).
 *
 * The two share the network description and nothing of the arithmetic: the
 * generic reference takes every op's maths and every activation from
 * core/ga_ref_tmpl.h, the oracle from its hand-written MPFR passes. Where
 * both settle an entry (a correctly rounded double), the doubles must be
 * equal bit for bit. Nets: every activation x loss x batch {1, 2, 7} x both
 * layouts (checks/ga_randnet.h, seeds printed), and hard nets 1..240
 * (saturation, kinks, huge and tiny weights, cancellation, subnormals,
 * extreme logits, 0/1 targets, exact ties: checks/ga_hardnet.h). Nets where
 * the oracle reports a boundary or unsettled entry are compared on the
 * entries whose oracle bound is within half an ulp. */
#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "ga_check.h"
#include "ga_hardnet.h"
#include "ga_oracle.h"
#include "ga_randnet.h"
#include "ga_refball.h"
#include "ga_refmp.h"
#include "ga_testsupport.h"

enum { GENERIC_MPFR, GENERIC_BALL };

/* compares one net; *compared entries compared, returns mismatches */
static size_t compare_net(size_t *compared, const ga_net *net, const double *x, const double *y,
                          size_t batch, const char *what, int which)
{
    ga_error err;
    size_t n = net->n_params;
    double *go = malloc(n * sizeof *go), *eo = malloc(n * sizeof *eo), *gr = malloc(n * sizeof *gr);
    unsigned char *ok = malloc(n);
    cr_assert(go && eo && gr && ok);
    ga_oracle_options opt;
    ga_oracle_options_default(&opt);
    ga_oracle_stats st;
    double lo, lo_err, lr;
    int lr_ok;
    int s = ga_oracle_loss_gradient(&lo, &lo_err, go, eo, NULL, &st, &err, net, net->params, x, y,
                                    batch, &opt);
    cr_assert(s == GA_OK || s == GA_EFAIL, "%s: oracle: %s", what, err.msg);
    if (which == GENERIC_MPFR) {
        ga_refmp_stats rs;
        s = ga_refmp_loss_gradient(&lr, &lr_ok, gr, ok, &rs, &err, net, net->params, x, y, batch, 4096);
    } else {
        ga_refball_stats bs;
        s = ga_refball_loss_gradient(&lr, NULL, &lr_ok, gr, NULL, ok, &bs, &err, net, net->params, x, y, batch,
                                     128, 4096, NULL);
    }
    cr_assert_eq(s, GA_OK, "%s: generic reference: %s", what, err.msg);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        /* the oracle's entry is correctly rounded when its bound is at most
         * half an ulp of it (boundary entries are faithful only) */
        if (!ok[i] || !(eo[i] <= ga_test_half_ulp(go[i])))
            continue;
        (*compared)++;
        if (go[i] != gr[i]) {
            bad++;
            char name[64];
            ga_param_name(name, sizeof name, net, i);
            cr_log_error("%s: %s oracle %.17g generic %.17g", what, name, go[i], gr[i]);
        }
    }
    if (lr_ok && lo_err <= ga_test_half_ulp(lo) && lo != lr) {
        bad++;
        cr_log_error("%s: loss oracle %.17g generic %.17g", what, lo, lr);
    }
    free(go);
    free(eo);
    free(gr);
    free(ok);
    return bad;
}

static void gate_nets(int which)
{
    static const ga_randnet_table table = {{1, 2, 7}, 3, 1, 20261203u, 3, 3};
    static ga_randnet_case cases[GA_RANDNET_TABLE_MAX(1)];
    size_t nets = ga_randnet_table_cases(cases, &table), compared = 0, bad = 0;
    for (size_t i = 0; i < nets; i++) {
        ga_randnet p;
        ga_error err;
        cr_assert_eq(ga_randnet_make_case(&p, &err, &cases[i]), GA_OK, "seed %u: %s", cases[i].seed,
                     err.msg);
        char what[160];
        ga_randnet_describe(what, sizeof what, &p);
        bad += compare_net(&compared, p.net, p.x, p.y, p.batch, what, which);
        ga_randnet_clear(&p);
    }
    cr_log_info("gate nets: %zu nets, %zu entries compared", nets, compared);
    cr_expect_gt(compared, nets * 20, "too few entries compared: %zu", compared);
    cr_expect_eq(bad, 0, "%zu entries differ", bad);
}

static void hard_nets(int which)
{
    size_t compared = 0, bad = 0;
    for (uint32_t seed = 1; seed <= 240; seed++) {
        ga_hardnet h;
        ga_error err;
        cr_assert_eq(ga_hardnet_make(&h, &err, seed), GA_OK, "hardnet %u: %s", seed, err.msg);
        bad += compare_net(&compared, h.net, h.x, h.y, h.batch, h.description, which);
        ga_hardnet_clear(&h);
    }
    cr_log_info("hard nets: 240 nets, %zu entries compared", compared);
    cr_expect_gt(compared, 240 * 10, "too few entries compared: %zu", compared);
    cr_expect_eq(bad, 0, "%zu entries differ", bad);
}

Test(refmp, agrees_with_oracle_on_gate_nets) { gate_nets(GENERIC_MPFR); }
Test(refmp, agrees_with_oracle_on_hard_nets, .timeout = 120) { hard_nets(GENERIC_MPFR); }
Test(refball, agrees_with_oracle_on_gate_nets) { gate_nets(GENERIC_BALL); }
Test(refball, agrees_with_oracle_on_hard_nets, .timeout = 120) { hard_nets(GENERIC_BALL); }

/* the Ziv loop settles what it should: an exact zero gradient (a relu unit
 * that is off for every sample) settles at once as +0 */
Test(refmp, dead_relu_unit_settles_to_zero)
{
    ga_randnet p;
    ga_error err;
    cr_assert_eq(ga_randnet_make(&p, &err, GA_LAYOUT_ROW, GA_ACT_RELU, GA_LOSS_MSE, GA_REDUCE_MEAN,
                                 2, 2, 3, 0.0, 77), GA_OK, "%s", err.msg);
    /* unit 0 of layer 1 off for every sample: W1(0, :) = 0, b1[0] = -1 */
    const ga_view *W = &p.net->views[0], *b = &p.net->views[1];
    for (size_t j = 0; j < p.net->desc.n_in; j++)
        p.net->params[ga_weight_index(p.net, W, 0, j)] = 0.0;
    p.net->params[b->offset] = -1.0;
    size_t n = p.net->n_params;
    double *g = malloc(n * sizeof *g);
    unsigned char *ok = malloc(n);
    ga_refmp_stats rs;
    cr_assert_eq(ga_refmp_loss_gradient(NULL, NULL, g, ok, &rs, &err, p.net, p.net->params, p.x,
                                        p.y, p.batch, 4096), GA_OK, "%s", err.msg);
    cr_expect(ok[b->offset] && g[b->offset] == 0 && !signbit(g[b->offset]),
              "db1[0] = %g settled %d", g[b->offset], ok[b->offset]);
    cr_expect_eq(rs.final_prec, 160, "settled at %ld bits", rs.final_prec);
    free(g);
    free(ok);
    ga_randnet_clear(&p);
}

/* The check with the ball engine (route (b) from ga_refball, MPFR only for
 * what the balls leave) against the default MPFR engine: on hard nets the
 * same oracle double and the same verdict for every entry. */
Test(refball, check_engine_ball_gives_the_same_verdicts, .timeout = 120)
{
    size_t entries = 0, fallback_nets = 0;
    for (uint32_t seed = 1; seed <= 120; seed++) {
        ga_hardnet h;
        ga_error err;
        cr_assert_eq(ga_hardnet_make(&h, &err, seed), GA_OK, "hardnet %u: %s", seed, err.msg);
        ga_check_options o;
        ga_check_options_default(&o);
        o.seed = seed;
        o.top_k = 0;
        ga_check_report *rm = NULL, *rb = NULL;
        int sm = ga_check_run(&rm, &err, h.net, h.net->params, h.x, h.y, h.batch, &o);
        o.oracle.engine = GA_ORACLE_BALL;
        int sb = ga_check_run(&rb, &err, h.net, h.net->params, h.x, h.y, h.batch, &o);
        cr_assert_eq(sb, sm, "%s: status %d with balls, %d with MPFR: %s", h.description, sb, sm,
                     err.msg);
        if (sm == GA_OK) {
            cr_assert_eq(rb->n_entries, rm->n_entries);
            for (size_t i = 0; i < rm->n_entries; i++, entries++) {
                const ga_check_entry *a = &rm->entries[i], *b = &rb->entries[i];
                cr_expect(a->verdict == b->verdict, "%s %s: verdict %d (MPFR) %d (balls)",
                          h.description, a->name, (int)a->verdict, (int)b->verdict);
                cr_expect(a->oracle == b->oracle || (isnan(a->oracle) && isnan(b->oracle)),
                          "%s %s: oracle %a (MPFR) %a (balls)", h.description, a->name, a->oracle,
                          b->oracle);
            }
            fallback_nets += rb->oracle_stats.ziv_iterations > 1;
            cr_expect_eq(rb->cross_mismatches, 0, "%s: route (a) against the balls", h.description);
            /* route (a) from its own base at 128 bits (computed beside the
             * balls, the second working set a copy) compares the entries it
             * compares from route (b)'s last Ziv step when that step was the
             * first (160 bits); from a later step it starts higher, and may
             * prove the side of a kink that it cannot at 128 bits */
            if (rm->oracle_stats.final_prec == 160)
                cr_expect_eq(rb->cross_checked, rm->cross_checked, "%s: %zu entries cross-"
                             "checked with balls, %zu with MPFR", h.description,
                             rb->cross_checked, rm->cross_checked);
            else
                cr_expect_leq(rb->cross_checked, rm->cross_checked, "%s", h.description);
        }
        ga_check_report_free(rm);
        ga_check_report_free(rb);
        ga_hardnet_clear(&h);
    }
    cr_log_info("check with balls: %zu entries of 120 hard nets, same verdicts and oracle values; "
                "%zu nets needed a second precision or MPFR", entries, fallback_nets);
    cr_expect_gt(entries, 5000);
}

/* The ball engine's cross-check starts route (a) from a base of its own, its
 * loss's error the running error bound alone (orc_cross.c): on 40 entries of
 * each of 60 hard nets, every entry route (a) settles equals the balls' bit
 * for bit. (A throwaway run of the same on hard nets 1..400 compared 12,667
 * entries, 0 mismatches.) */
Test(refball, ball_cross_check_agrees_on_hard_nets)
{
    size_t checked = 0;
    for (uint32_t seed = 1; seed <= 60; seed++) {
        ga_hardnet h;
        ga_error err;
        cr_assert_eq(ga_hardnet_make(&h, &err, seed), GA_OK, "hardnet %u: %s", seed, err.msg);
        ga_oracle_options op;
        ga_oracle_options_default(&op);
        op.cross_count = 40;
        op.cross_seed = seed;
        ga_oracle *o;
        ga_oracle_result r;
        cr_assert_eq(ga_oracle_alloc(&o, &err, h.net, h.net->params, h.x, h.y, h.batch, &op), GA_OK,
                     "%s: %s", h.description, err.msg);
        int st = ga_oracle_run(&r, &err, o, GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK);
        cr_assert(st == GA_OK || st == GA_EFAIL, "%s: %s", h.description, err.msg);
        cr_expect_eq(r.mismatches, 0, "%s: %zu of %zu entries differ", h.description,
                     r.mismatches, r.checked);
        checked += r.checked;
        ga_oracle_free(o);
        ga_hardnet_clear(&h);
    }
    cr_expect_gt(checked, 1500, "only %zu entries cross-checked", checked);
}
