/* test_gate.c: the gate. Every activation x every loss x batch {1, 2, 7, 64}
 * x both layouts, on random small nets and data from printed seeds, checked
 * entry by entry against the MPFR oracle with derived tolerances (the
 * backward pass's running error bound plus the oracle's own bound): zero
 * failures allowed. Kinks met by chance are labelled and checked against the
 * one-sided slopes. Nets placed deliberately at relu kinks follow.
 *
 * The hidden activation runs over all eight (elu and leaky_relu with the
 * non-default parameters 1.3 and 0.1 of ga_randnet, so elu has a kink); the
 * output activation is the one the loss needs (ga_loss_check_pair), the
 * hidden one for mse. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ga_check.h"
#include "ga_randnet.h"
#include "gate_common.h"

ParameterizedTestParameters(gate, oracle_zero_failures)
{
    static const ga_randnet_table gate = GA_RANDNET_GATE_TABLE;
    static ga_randnet_case cases[GA_RANDNET_TABLE_MAX(1)];
    size_t n = ga_randnet_table_cases(cases, &gate);
    return cr_make_param_array(ga_randnet_case, cases, n);
}

ParameterizedTest(ga_randnet_case *c, gate, oracle_zero_failures)
{
    char what[160];
    ga_check_report *r = gate_check_case(what, sizeof what, c, GA_CHECK_ORACLE);
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        cr_expect_neq(e->verdict, GA_VERDICT_FAIL, "%s: %s analytic %.17g oracle %.17g: %s", what,
                      e->name, e->analytic, e->oracle, e->reason);
    }
    cr_expect_eq(r->n_fail, 0, "%s: %zu FAIL", what, r->n_fail);
    cr_expect_eq(r->n_pass + r->n_kink, r->n_entries);
    cr_expect_eq(r->oracle_stats.unsettled, 0, "%s: oracle left entries unsettled", what);
    /* every run compares the oracle's reverse pass with its MPFR differences
     * on a sample (route (a) needs no derivative formula) */
    cr_expect_eq(r->cross_checked, 2, "%s: cross-checked %zu entries", what, r->cross_checked);
    cr_expect_eq(r->cross_mismatches, 0, "%s: the oracle's two routes disagree", what);
    ga_check_report_free(r);
}

/* ---- nets placed at relu kinks ------------------------------------------
 * A random relu net whose first-layer bias b1[k] is reset so that
 * z1[0, k] = offset for sample 0: exactly 0 (the convention relu'(0) = 0
 * decides the analytic value) or 3e-9 (inside any finite-difference step).
 * z1[0,k] = sum_j x[0,j] W1(k,j) + b1[k]; with b1[k] := -s, s the double
 * dot product, the reference kernel's z is s + (-s) = 0 exactly; for 3e-9
 * the computed z is within rounding of it. */
typedef struct {
    double offset;
    ga_check_method method;
    size_t batch;
    ga_layout layout;
    uint32_t seed;
} kink_case;

ParameterizedTestParameters(gate, relu_kinks)
{
    static kink_case cases[] = {
        {0.0, GA_CHECK_ORACLE, 1, GA_LAYOUT_COLUMN, 501}, {0.0, GA_CHECK_ORACLE, 7, GA_LAYOUT_ROW, 502},
        {0.0, GA_CHECK_CENTRAL, 1, GA_LAYOUT_ROW, 503},   {0.0, GA_CHECK_RIDDERS, 7, GA_LAYOUT_COLUMN, 504},
        {0.0, GA_CHECK_GSL, 2, GA_LAYOUT_COLUMN, 505},    {3e-9, GA_CHECK_ORACLE, 1, GA_LAYOUT_ROW, 506},
        {3e-9, GA_CHECK_CENTRAL, 1, GA_LAYOUT_COLUMN, 507}, {3e-9, GA_CHECK_RIDDERS, 7, GA_LAYOUT_ROW, 508},
        {3e-9, GA_CHECK_GSL, 2, GA_LAYOUT_ROW, 509},      {-3e-9, GA_CHECK_CENTRAL, 7, GA_LAYOUT_COLUMN, 510},
    };
    return cr_make_param_array(kink_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(kink_case *c, gate, relu_kinks)
{
    ga_randnet p;
    ga_error err;
    int st = ga_randnet_make(&p, &err, c->layout, GA_ACT_RELU, GA_LOSS_MSE, GA_REDUCE_MEAN, c->batch,
                             3, 3, 0.0, c->seed);
    cr_assert_eq(st, GA_OK, "seed %u: %s", c->seed, err.msg);
    p.net->kernel = GA_KERNEL_REFERENCE;
    const ga_net *net = p.net;
    const ga_view *W = &net->views[0], *b = &net->views[1];
    size_t n_in = net->desc.n_in, k = 0;
    double s = 0.0;
    for (size_t j = 0; j < n_in; j++)
        s += p.x[j] * net->params[ga_weight_index(net, W, k, j)];
    net->params[b->offset + k] = c->offset - s;
    ga_workspace *ws;
    double L;
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, c->batch), GA_OK);
    cr_assert_eq(ga_forward(&L, ws, net, net->params, p.x, p.y, c->batch), GA_OK);
    double z = ws->z[0][0];
    if (c->offset == 0.0)
        cr_assert_eq(z, 0.0, "seed %u: z1[0] = %.17g, wanted exactly 0", c->seed, z);
    else
        cr_assert(fabs(z - c->offset) < 1e-15, "seed %u: z1[0] = %.17g", c->seed, z);
    ga_workspace_free(ws);

    ga_check_options o;
    ga_check_options_default(&o);
    o.method = c->method;
    o.seed = c->seed;
    ga_check_report *r = NULL;
    cr_assert_eq(ga_check_run(&r, &err, net, net->params, p.x, p.y, c->batch, &o), GA_OK, "%s", err.msg);
    for (size_t i = 0; i < r->n_entries; i++)
        cr_expect_neq(r->entries[i].verdict, GA_VERDICT_FAIL, "seed %u %s %s: %s", c->seed,
                      ga_check_method_name(c->method), r->entries[i].name, r->entries[i].reason);
    /* W1[0,*] and b1[0] depend on z1[0]: labelled kink when it is exactly 0
     * (any method) or 3e-9 (finite differences reach it; the oracle's reach,
     * the rounding bound of z1, does not) */
    int expect_kink = c->offset == 0.0 || c->method != GA_CHECK_ORACLE;
    size_t bi = b->offset + k;
    if (expect_kink) {
        cr_expect_eq(r->entries[bi].verdict, GA_VERDICT_KINK, "seed %u %s b1[0]: %s", c->seed,
                     ga_check_method_name(c->method), r->entries[bi].reason);
        cr_expect(strstr(r->entries[bi].reason, "relu's kink") != NULL, "%s", r->entries[bi].reason);
    } else {
        cr_expect_eq(r->entries[bi].verdict, GA_VERDICT_PASS, "seed %u b1[0]: %s", c->seed,
                     r->entries[bi].reason);
    }
    ga_check_report_free(r);
    ga_randnet_clear(&p);
}
