/* test_graph.c: nets that are not a chain (layernorm, rmsnorm, residual
 * adds, dropout, an embedding among dense layers; issue 14) judged by the oracle method: random
 * nets built to be hard (saturated and cancelling weights, exact kinks from
 * zero weights, layernorm rows of nearly equal entries whose variance is far
 * below eps, rounding ties from dyadic data), in float64 and in float32.
 *
 * Expected values come from the oracle (Arb balls, settled by proof) and the
 * enclosure (ga_enclose.c, the generic reference in intervals): the core's
 * correct gradient must never FAIL; a gradient moved by a relative 1e-6, or
 * computed with layernorm's dx missing its - mean(dxh) term (the mutation
 * class of issue 14) or an embedding's dE overwritten instead of summed
 * over repeated ids, must FAIL wherever the move is beyond twice the
 * entry's tolerance. The seeds are printed with every failure. The torch
 * float64 comparison of the same ops is test_torch_graph.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ga_check.h"
#include "ga_oracle.h"
#include "ga_fast.h"
#include "ga_plainpass.h"
#include "ga_random.h"

#define MAXL 8

typedef struct {
    ga_net *net;
    double *x, *y;
    size_t batch;
    size_t ln_layer; /* a layernorm layer (0-based), or SIZE_MAX */
    size_t vocab;    /* an embedding's vocabulary (the first layer), or 0 */
    size_t pool_layer; /* a max pool (0-based), or SIZE_MAX */
    int has_conv, has_attn, has_rnn, has_bn, has_skip, has_drop, has_pool;
    char what[160];
} gnet;

static const ga_activation hidden_acts[] = {GA_ACT_TANH, GA_ACT_RELU, GA_ACT_GELU, GA_ACT_SIGMOID,
                                            GA_ACT_IDENTITY, GA_ACT_SILU};

static size_t pick(ga_rng *r, size_t n)
{
    return ga_rng_u32(r) % n;
}

/* A random net of 2 .. MAXL layers mixing dense layers, norms and adds, and
 * its data, from seed. */
static void gnet_make(gnet *g, uint32_t seed)
{
    ga_rng rng;
    ga_rng_seed(&rng, seed);
    ga_layer_desc L[MAXL];
    memset(L, 0, sizeof L);
    size_t n_in = 1 + pick(&rng, 8), width[MAXL + 1], nl = 0;
    width[0] = n_in;
    size_t target = 2 + pick(&rng, MAXL - 2);
    g->ln_layer = SIZE_MAX;
    g->vocab = 0;
    g->pool_layer = SIZE_MAX;
    g->has_conv = g->has_attn = g->has_rnn = g->has_bn = 0;
    g->has_skip = g->has_drop = g->has_pool = 0;
    int pos = snprintf(g->what, sizeof g->what, "seed %u:", seed);
    if (pick(&rng, 4) == 0) { /* token ids in, an embedding first */
        ga_layer_desc *d = &L[nl];
        d->kind = GA_LAYER_EMBEDDING;
        d->vocab = g->vocab = 1 + pick(&rng, 6);
        d->dim = 1 + pick(&rng, 3);
        d->n_out = n_in * d->dim;
        width[++nl] = d->n_out;
        pos += snprintf(g->what + pos, sizeof g->what - (size_t)pos, " embedding(%zu,%zu)", d->vocab,
                        d->dim);
    }
    while (nl + 1 < target) {
        size_t w = width[nl], kind = pick(&rng, 10);
        ga_layer_desc *d = &L[nl];
        if (kind == 9) { /* a recurrent cell over T steps */
            size_t T = w % 3 == 0 ? 3 : w % 2 == 0 ? 2 : 1;
            d->kind = GA_LAYER_RNN;
            d->tokens = T;
            d->n_out = T * (1 + pick(&rng, 3));
            d->act = pick(&rng, 3) ? GA_ACT_TANH : hidden_acts[pick(&rng, sizeof hidden_acts / sizeof *hidden_acts)];
            g->has_rnn = 1;
            pos += snprintf(g->what + pos, sizeof g->what - (size_t)pos, " rnn(T%zu %s)", T,
                            ga_activation_name(d->act));
            if (pos >= (int)sizeof g->what - 40)
                pos = (int)sizeof g->what - 40;
            width[++nl] = d->n_out;
            continue;
        }
        if (kind == 7 && nl + 2 < target) { /* a per-token qkv projection, then attention */
            size_t T = w % 3 == 0 ? 3 : w % 2 == 0 ? 2 : 1, dd = (size_t[]){1, 2, 4}[pick(&rng, 3)];
            d->n_out = T * 3 * dd;
            d->tokens = T;
            d->act = pick(&rng, 2) ? GA_ACT_IDENTITY : GA_ACT_TANH;
            width[nl + 1] = d->n_out;
            ga_layer_desc *at = &L[nl + 1];
            at->kind = GA_LAYER_ATTENTION;
            at->tokens = T;
            at->heads = dd % 2 == 0 && pick(&rng, 2) ? 2 : 1;
            at->n_out = T * dd;
            at->act_param = 1.0 / sqrt((double)(dd / at->heads));
            width[nl + 2] = at->n_out;
            pos += snprintf(g->what + pos, sizeof g->what - (size_t)pos, " qkv(T%zu) attention(H%zu)", T,
                            at->heads);
            if (pos >= (int)sizeof g->what - 40)
                pos = (int)sizeof g->what - 40;
            g->has_attn = 1;
            nl += 2;
            continue;
        }
        if (kind == 8) {
            d->kind = GA_LAYER_BIAS;
            d->n_out = w;
        } else if (kind == 5 || kind == 6) { /* a conv or a pool over w read as (c, h, w') */
            ga_geom gm = {0};
            gm.c = w % 3 == 0 ? 3 : w % 2 == 0 ? 2 : 1;
            size_t rest = w / gm.c, divs[16], nd = 0;
            for (size_t h = 1; h <= rest && nd < 16; h++)
                if (rest % h == 0)
                    divs[nd++] = h;
            gm.h = divs[pick(&rng, nd)];
            gm.w = rest / gm.h;
            int conv = kind == 5;
            gm.ph = conv ? pick(&rng, 2) : 0;
            gm.pw = conv ? pick(&rng, 2) : 0;
            gm.kh = 1 + pick(&rng, gm.h + 2 * gm.ph < 3 ? gm.h + 2 * gm.ph : 3);
            gm.kw = 1 + pick(&rng, gm.w + 2 * gm.pw < 3 ? gm.w + 2 * gm.pw : 3);
            gm.sh = 1 + pick(&rng, 2);
            gm.sw = 1 + pick(&rng, 2);
            gm.oc = conv ? 1 + pick(&rng, 3) : gm.c;
            if (!ga_geom_finish(&gm) || gm.oc * gm.ho * gm.wo > 48)
                continue; /* draw again */
            d->kind = conv ? GA_LAYER_CONV : pick(&rng, 2) ? GA_LAYER_MAXPOOL : GA_LAYER_AVGPOOL;
            d->geom = gm;
            d->n_out = gm.oc * gm.ho * gm.wo;
            if (conv)
                d->act = hidden_acts[pick(&rng, sizeof hidden_acts / sizeof *hidden_acts)];
            g->has_pool |= !conv;
            if (d->kind == GA_LAYER_MAXPOOL && g->pool_layer == SIZE_MAX)
                g->pool_layer = nl;
            if (conv)
                g->has_conv = 1;
        } else if (kind == 4) {
            d->kind = GA_LAYER_DROPOUT;
            d->n_out = w;
            d->p = (double[]){0.0, 0.25, 0.5, 0.9}[pick(&rng, 4)];
            g->has_drop |= d->p > 0;
            d->act_param = 1.0 / (1.0 - d->p);
            d->seed = ga_rng_u32(&rng);
        } else if (kind == 1 || kind == 2) {
            d->kind = kind == 1 ? GA_LAYER_LAYERNORM : pick(&rng, 2) ? GA_LAYER_RMSNORM : GA_LAYER_BATCHNORM;
            d->n_out = w;
            if (d->kind != GA_LAYER_BATCHNORM && w % 2 == 0 && pick(&rng, 2))
                d->tokens = w % 4 == 0 && pick(&rng, 2) ? 4 : 2; /* per token */
            if (d->kind == GA_LAYER_BATCHNORM)
                g->has_bn = 1;
            d->eps = pick(&rng, 2) ? 1e-5 : 0.25;
            if (kind == 1 && g->ln_layer == SIZE_MAX)
                g->ln_layer = nl;
        } else if (kind == 3) {
            size_t cand[MAXL + 1], nc = 0;
            for (size_t v = 0; v <= nl; v++)
                if (width[v] == w)
                    cand[nc++] = v;
            d->kind = GA_LAYER_RESIDUAL;
            d->from = cand[pick(&rng, nc)]; /* the previous layer's own output is a candidate */
            d->n_out = w;
            if (pick(&rng, 3) == 0) { /* a concat instead, of any earlier value */
                d->kind = GA_LAYER_CONCAT;
                d->from = pick(&rng, nl + 1);
                d->n_out = w + width[d->from];
                if (d->n_out > 24) { /* keep rows small: a plain residual then */
                    d->kind = GA_LAYER_RESIDUAL;
                    d->from = cand[0];
                    d->n_out = w;
                }
            }
            g->has_skip |= d->kind == GA_LAYER_RESIDUAL && d->from > 0;
        } else {
            d->n_out = 1 + pick(&rng, 8);
            d->act = hidden_acts[pick(&rng, sizeof hidden_acts / sizeof *hidden_acts)];
        }
        pos += snprintf(g->what + pos, sizeof g->what - (size_t)pos, " %s",
                        d->kind == GA_LAYER_DENSE ? ga_activation_name(d->act) : ga_layer_kind_name(d->kind));
        if (pos >= (int)sizeof g->what - 40)
            pos = (int)sizeof g->what - 40;
        width[nl + 1] = d->n_out;
        nl++;
    }
    static const ga_loss_kind losses[] = {GA_LOSS_MSE, GA_LOSS_SOFTMAX_CE, GA_LOSS_BCE_LOGITS, GA_LOSS_DOT};
    ga_loss_kind lk = losses[pick(&rng, 4)];
    L[nl].n_out = 1 + pick(&rng, 4);
    L[nl].act = lk == GA_LOSS_MSE ? GA_ACT_TANH : GA_ACT_IDENTITY;
    if (width[nl] % 2 == 0 && pick(&rng, 3) == 0) { /* a loss per token */
        L[nl].tokens = 2;
        L[nl].n_out *= 2;
    }
    nl++;
    snprintf(g->what + pos, sizeof g->what - (size_t)pos, " dense -> %s", ga_loss_name(lk));
    ga_net_desc desc = {pick(&rng, 2) ? GA_LAYOUT_ROW : GA_LAYOUT_COLUMN, n_in, nl, L,
                        {lk, 1.0, pick(&rng, 2) ? GA_REDUCE_SUM : GA_REDUCE_BATCH_MEAN,
                         pick(&rng, 4) == 0 ? 0.01 : 0.0}};
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&g->net, &err, &desc), GA_OK, "%s: %s", g->what, err.msg);
    ga_net *net = g->net;
    /* parameters: N(0, s^2 / fan_in) with s in {0.5, 1, 4} (saturation), an
     * exact 0 now and then (kinks at exactly 0); gamma near 1, beta small */
    double s = (double[]){0.5, 1.0, 4.0}[pick(&rng, 3)];
    for (size_t v = 0; v < net->n_views; v++) {
        const ga_view *vw = &net->views[v];
        size_t n = vw->rows * vw->cols;
        const ga_layer_desc *d = &net->desc.layers[vw->layer];
        size_t fi = vw->layer == 0 ? n_in : net->desc.layers[vw->layer - 1].n_out;
        for (size_t i = 0; i < n; i++) {
            double *p = &net->params[vw->offset + i];
            if (d->kind != GA_LAYER_DENSE)
                *p = v % 2 == 0 ? 1.0 + 0.25 * ga_rng_gauss(&rng) : 0.1 * ga_rng_gauss(&rng);
            else
                *p = pick(&rng, 8) == 0 ? 0.0 : s * ga_rng_gauss(&rng) / sqrt((double)fi);
        }
    }
    g->batch = 1 + pick(&rng, 4);
    size_t n_out = L[nl - 1].n_out;
    g->x = malloc(g->batch * n_in * sizeof *g->x);
    g->y = malloc(g->batch * n_out * sizeof *g->y);
    cr_assert(g->x && g->y);
    for (size_t n = 0; n < g->batch; n++) {
        int flat = pick(&rng, 3) == 0; /* nearly equal entries: a tiny variance */
        double c = ga_rng_gauss(&rng);
        for (size_t j = 0; j < n_in; j++)
            g->x[n * n_in + j] = g->vocab ? (double)pick(&rng, g->vocab)
                                 : flat ? c + 0x1p-30 * (double)j
                                      : pick(&rng, 4) == 0 ? ldexp((double)pick(&rng, 16) - 8.0, -3)
                                                           : ga_rng_gauss(&rng);
        for (size_t k = 0; k < n_out; k++)
            g->y[n * n_out + k] = lk == GA_LOSS_SOFTMAX_CE ? (k == n % n_out)
                                  : lk == GA_LOSS_BCE_LOGITS ? (double)pick(&rng, 2)
                                                             : ga_rng_gauss(&rng);
    }
}

static void gnet_clear(gnet *g)
{
    ga_net_free(g->net);
    free(g->x);
    free(g->y);
}

/* check g's gradient `grad` (NULL: the core's) at precision p; core: grad is
 * the double or float32 core's, judged as its build computes (the fast-math
 * model with -Dcore_fast_math=true); returns the report */
static ga_check_report *judge(gnet *g, const double *grad, ga_precision p, int core)
{
    ga_check_options opt;
    ga_check_options_default(&opt);
    opt.precision = p;
    opt.cross_check = 0;
    opt.fast_math = core && ga_core_fast_math();
    if (grad) {
        opt.analytic = grad;
        opt.analytic_own_forward = 1;
    }
    ga_check_report *r;
    ga_error err = {{0}};
    cr_assert_eq(ga_check_run(&r, &err, g->net, g->net->params, g->x, g->y, g->batch, &opt), GA_OK,
                 "%s: %s", g->what, err.msg);
    return r;
}

/* nets per test: GA_GRAPH_NETS (the slow suite's 10,000), else 300 */
static uint32_t n_nets(void)
{
    const char *e = getenv("GA_GRAPH_NETS");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 && v < 10000000 ? (uint32_t)v : 300;
}
#define NETS n_nets()

/* float64: the core's gradient (and in float32, the float32 core's on the
 * net rounded to float32) passes every entry; one entry moved by 1e-6
 * relative FAILs where that is beyond twice its tolerance. */
static void soak(ga_precision prec)
{
    size_t entries = 0, unjudgeable = 0, kinks = 0, moved = 0, caught = 0, nets = 0, graphs = 0;
    for (uint32_t seed = 1; seed <= NETS; seed++) {
        gnet g;
        gnet_make(&g, seed);
        ga_error err = {{0}};
        double *grad = malloc(g.net->n_params * sizeof *grad);
        cr_assert(grad);
        if (prec == GA_PREC_FLOAT32) {
            if (ga_round_problem(&err, prec, g.net, g.net->params, g.x, g.y, g.batch) != GA_OK) {
                free(grad);
                gnet_clear(&g);
                continue;
            }
            cr_assert_eq(ga_loss_grad_f32(NULL, grad, &err, g.net, g.net->params, g.x, g.y, g.batch),
                         GA_OK, "%s: %s", g.what, err.msg);
        } else {
            ga_workspace *ws;
            cr_assert_eq(ga_workspace_alloc(&ws, &err, g.net, g.batch), GA_OK);
            double L;
            cr_assert_eq(ga_loss_and_grad(&L, grad, NULL, ws, g.net, g.net->params, g.x, g.y, g.batch), GA_OK);
            ga_workspace_free(ws);
        }
        /* judged as code with a forward pass of its own, both times: the
         * whole enclosure, the tolerance the moved entry meets again */
        ga_check_report *r = judge(&g, grad, prec, 1);
        for (size_t i = 0; i < r->n_entries; i++)
            cr_expect_neq(r->entries[i].verdict, GA_VERDICT_FAIL, "%s (%s): %s FAILs: %s", g.what,
                          ga_precision_name(prec), r->entries[i].name, r->entries[i].reason);
        entries += r->n_entries;
        unjudgeable += r->n_unjudgeable;
        kinks += r->n_kink;
        nets++;
        graphs += !ga_net_desc_is_chain(&g.net->desc);
        size_t big = 0;
        for (size_t i = 1; i < g.net->n_params; i++)
            if (fabs(grad[i]) > fabs(grad[big]))
                big = i;
        double rel = prec == GA_PREC_FLOAT32 ? 1e-4 : 1e-6;
        int must_fail = r->entries[big].verdict == GA_VERDICT_PASS &&
                        rel * fabs(grad[big]) > 2 * r->entries[big].tol;
        ga_check_report_free(r);
        if (must_fail) {
            moved++;
            grad[big] = prec == GA_PREC_FLOAT32 ? (double)(float)(grad[big] * (1 + rel))
                                                : grad[big] * (1 + rel);
            r = judge(&g, grad, prec, 1);
            caught += r->entries[big].verdict == GA_VERDICT_FAIL;
            cr_expect_eq(r->entries[big].verdict, GA_VERDICT_FAIL, "%s: %s moved by %g is %s: %s", g.what,
                         r->entries[big].name, rel, ga_verdict_name(r->entries[big].verdict),
                         r->entries[big].reason);
            ga_check_report_free(r);
        }
        free(grad);
        gnet_clear(&g);
    }
    fprintf(stderr, "graph nets %s: %zu nets (%zu with a layer other than dense), %zu entries, %zu unjudgeable, "
            "%zu kink; moved entry caught %zu/%zu\n", ga_precision_name(prec), nets, graphs, entries,
            unjudgeable, kinks, caught, moved);
    cr_assert(nets >= NETS / 2 && entries > 0);
}

/* The oracle's two routes on the random nets: route (a), Ridders on the
 * generic forward pass in MPFR (ga_refmp_route_a), against route (b), the
 * generic backward pass in Arb's balls, on 4 entries of each net drawn from
 * its seed: never a mismatch, and every entry route (a) cannot settle is a
 * kink or a rounding boundary (else ga_oracle_run fails). */
Test(graph, oracle_routes_agree_on_every_net)
{
    size_t nets = 0, checked = 0;
    for (uint32_t seed = 1; seed <= NETS; seed++) {
        gnet g;
        gnet_make(&g, seed);
        ga_oracle_options opt;
        ga_oracle_options_default(&opt);
        opt.cross_count = 4;
        opt.cross_seed = seed;
        ga_oracle *o;
        ga_oracle_result r;
        ga_error err = {{0}};
        cr_assert_eq(ga_oracle_alloc(&o, &err, g.net, g.net->params, g.x, g.y, g.batch, &opt),
                     GA_OK, "%s: %s", g.what, err.msg);
        cr_expect_eq(ga_oracle_run(&r, &err, o, GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK), GA_OK,
                     "%s: %s", g.what, err.msg);
        cr_expect_eq(r.mismatches, 0, "%s: %zu mismatches of %zu", g.what, r.mismatches, r.checked);
        checked += r.checked;
        nets++;
        ga_oracle_free(o);
        gnet_clear(&g);
    }
    fprintf(stderr, "graph nets: route (a) against the balls on %zu entries of %zu nets\n", checked,
            nets);
    cr_assert(checked > 2 * nets, "%zu entries compared on %zu nets", checked, nets);
}

Test(graph, float64_core_passes_and_a_moved_entry_fails)
{
    soak(GA_PREC_FLOAT64);
}

Test(graph, float32_core_passes_and_a_moved_entry_fails)
{
    soak(GA_PREC_FLOAT32);
}

/* A mutation class on the random nets: every net the selector takes is run
 * through the plain pass twice, correct and with the fault; wherever the
 * fault moves some entry beyond twice its tolerance (plus the correct
 * pass's own distance to the exact value), the check of the faulty
 * gradient must FAIL some entry. */
static void mutation_trial(int (*has)(const gnet *), void (*fault)(ga_plain_options *, const gnet *),
                           const char *label, const char *what)
{
    size_t effective = 0, caught = 0, tried = 0;
    for (uint32_t seed = 1; seed <= 2 * NETS; seed++) {
        gnet g;
        gnet_make(&g, seed);
        if (!has(&g)) {
            gnet_clear(&g);
            continue;
        }
        tried++;
        ga_error err = {{0}};
        size_t P = g.net->n_params;
        double *good = malloc(2 * P * sizeof *good), *bad = good + P;
        ga_workspace *ws;
        cr_assert(good);
        cr_assert_eq(ga_workspace_alloc(&ws, &err, g.net, g.batch), GA_OK);
        ga_plain_options o;
        ga_plain_options_default(&o);
        cr_assert_eq(ga_plain_pass(NULL, good, &err, ws, g.net, g.net->params, g.x, g.y, g.batch, &o), GA_OK,
                     "%s: %s", g.what, err.msg);
        fault(&o, &g);
        cr_assert_eq(ga_plain_pass(NULL, bad, &err, ws, g.net, g.net->params, g.x, g.y, g.batch, &o), GA_OK,
                     "%s: %s", g.what, err.msg);
        ga_workspace_free(ws);
        ga_check_report *r = judge(&g, good, GA_PREC_FLOAT64, 0);
        size_t must = 0;
        for (size_t i = 0; i < P; i++)
            must += r->entries[i].verdict == GA_VERDICT_PASS &&
                    fabs(bad[i] - good[i]) > 2 * (r->entries[i].tol + fabs(r->entries[i].analytic - r->entries[i].ref));
        ga_check_report_free(r);
        if (must) {
            effective++;
            r = judge(&g, bad, GA_PREC_FLOAT64, 0);
            caught += r->n_fail > 0;
            cr_expect(r->n_fail > 0, "%s: %s moves %zu entries, none FAILs", g.what, label, must);
            ga_check_report_free(r);
        }
        free(good);
        gnet_clear(&g);
    }
    fprintf(stderr, "%s: %zu nets with %s, %zu where it moves an entry beyond rounding, caught in %zu\n",
            label, tried, what, effective, caught);
    cr_assert(effective > 10, "%s: only %zu effective cases", label, effective);
}

/* The mutation class of issue 14's norms: layernorm's dx without the
 * - mean(dxh) term (ga_plainpass's fault norm_no_mean). Wherever it moves
 * an entry beyond twice that entry's tolerance, the check must FAIL it. */
static int has_layernorm_without_mean_term(const gnet *g)
{
    return g->ln_layer != SIZE_MAX;
}

static void fault_layernorm_without_mean_term(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->norm_no_mean = g->ln_layer;
}

Test(graph, layernorm_without_mean_term_is_caught)
{
    mutation_trial(has_layernorm_without_mean_term, fault_layernorm_without_mean_term, "layernorm without its mean term", "a layernorm");
}

/* A residual add from the input, then a dense layer, computes the dense
 * layer on x + x = 2x, exactly (doubling is exact in binary): its gradient
 * equals the plain dense net's on 2x bit for bit. */
Test(graph, residual_from_input_doubles_exactly)
{
    ga_layer_desc L2[2] = {{0}, {3, GA_ACT_TANH, 0}}, L1[1] = {{3, GA_ACT_TANH, 0}};
    L2[0].kind = GA_LAYER_RESIDUAL;
    L2[0].n_out = 2;
    L2[0].from = 0;
    ga_net_desc d2 = {GA_LAYOUT_ROW, 2, 2, L2, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net_desc d1 = {GA_LAYOUT_ROW, 2, 1, L1, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *n2, *n1;
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&n2, &err, &d2), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_net_alloc(&n1, &err, &d1), GA_OK, "%s", err.msg);
    cr_assert_eq(n2->n_params, n1->n_params);
    double x[2] = {0.3, -1.7}, x2[2] = {0.6, -3.4}, y[3] = {0.1, 0.2, -0.3}, L;
    for (size_t i = 0; i < n1->n_params; i++)
        n1->params[i] = n2->params[i] = 0.1 * (double)i - 0.35;
    ga_workspace *w1, *w2;
    cr_assert_eq(ga_workspace_alloc(&w1, &err, n1, 1), GA_OK);
    cr_assert_eq(ga_workspace_alloc(&w2, &err, n2, 1), GA_OK);
    double g1[64], g2[64];
    cr_assert(n1->n_params <= 64);
    cr_assert_eq(ga_loss_and_grad(&L, g2, NULL, w2, n2, n2->params, x, y, 1), GA_OK);
    cr_assert_eq(ga_loss_and_grad(&L, g1, NULL, w1, n1, n1->params, x2, y, 1), GA_OK);
    for (size_t i = 0; i < n1->n_params; i++)
        cr_expect_eq(g1[i], g2[i], "entry %zu: %.17g vs %.17g", i, g1[i], g2[i]);
    ga_workspace_free(w1);
    ga_workspace_free(w2);
    ga_net_free(n1);
    ga_net_free(n2);
}

/* The mutation class of embeddings: dE[v] overwritten by v's last position
 * instead of summed over its positions (ga_plainpass's embed_overwrite).
 * Wherever it moves an entry beyond twice that entry's tolerance, the check
 * must FAIL it. */
static int has_embedding_overwrite(const gnet *g)
{
    return g->vocab != 0;
}

static void fault_embedding_overwrite(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->embed_overwrite = 1;
}

Test(graph, embedding_overwrite_is_caught)
{
    mutation_trial(has_embedding_overwrite, fault_embedding_overwrite, "embedding overwrite", "an embedding");
}

/* Token ids that are not ids are refused by every entry point that reads
 * them, by name, before anything indexes the table with them. */
Test(graph, bad_token_ids_are_refused)
{
    ga_layer_desc L[2] = {{0}, {1, GA_ACT_IDENTITY, 0}};
    L[0].kind = GA_LAYER_EMBEDDING;
    L[0].vocab = 3;
    L[0].dim = 2;
    L[0].n_out = 4;
    ga_net_desc d = {GA_LAYOUT_ROW, 2, 2, L, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net;
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    double bad[3][2] = {{0, 3}, {-1, 0}, {0.5, 1}}, y[1] = {1}, g[16], L1;
    ga_workspace *ws;
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, 1), GA_OK);
    for (int c = 0; c < 3; c++) {
        cr_expect_eq(ga_net_check_ids(&err, &net->desc, bad[c], 1), GA_EINVAL);
        cr_expect(strstr(err.msg, "is not a token id"), "%s", err.msg);
        cr_expect_eq(ga_forward(&L1, ws, net, net->params, bad[c], y, 1), GA_EINVAL);
        cr_expect_eq(ga_loss_grad_f32(NULL, g, &err, net, net->params, bad[c], y, 1), GA_EINVAL);
        ga_check_report *r = NULL;
        cr_expect_eq(ga_check_run(&r, &err, net, net->params, bad[c], y, 1, NULL), GA_EINVAL);
        cr_expect_null(r);
        ga_oracle *o = NULL;
        cr_expect_eq(ga_oracle_alloc(&o, &err, net, net->params, bad[c], y, 1, NULL), GA_EINVAL, "%s", err.msg);
        ga_oracle_free(o);
    }
    double good[2] = {2, 2};
    cr_expect_eq(ga_forward(&L1, ws, net, net->params, good, y, 1), GA_OK);
    ga_workspace_free(ws);
    ga_net_free(net);
}

/* The mutation class of convolutions: the input gradient computed with the
 * kernel flipped (ga_plainpass's conv_flip), the bug of code that writes the
 * backward as a correlation where a convolution belongs or the reverse. */
static int has_conv_flipped_kernel(const gnet *g)
{
    return g->has_conv;
}

static void fault_conv_flipped_kernel(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->conv_flip = 1;
}

Test(graph, conv_flipped_kernel_is_caught)
{
    mutation_trial(has_conv_flipped_kernel, fault_conv_flipped_kernel, "conv with a flipped kernel", "a conv");
}

/* check --fast on the same random nets: the core's gradient raises no
 * alarm (a directional check that disagrees on a correct gradient is a
 * false alarm, whatever the confirmation says), and one entry moved by a
 * relative 1e-3, where that move is beyond the entry's whole enclosure, is
 * detected and confirmed by the oracle. */
Test(graph, fast_mode_no_false_alarm_and_detects)
{
    size_t nets = 0, alarms = 0, moved = 0, detected = 0, confirmed = 0;
    uint32_t count = NETS < 1000 ? NETS : 1000;
    for (uint32_t seed = 1; seed <= count; seed++) {
        gnet g;
        gnet_make(&g, seed);
        ga_error err = {{0}};
        size_t P = g.net->n_params;
        double *grad = malloc(P * sizeof *grad), L;
        ga_workspace *ws;
        cr_assert(grad);
        cr_assert_eq(ga_workspace_alloc(&ws, &err, g.net, g.batch), GA_OK);
        cr_assert_eq(ga_loss_and_grad(&L, grad, NULL, ws, g.net, g.net->params, g.x, g.y, g.batch), GA_OK);
        ga_workspace_free(ws);
        ga_fast_options fo;
        ga_fast_options_default(&fo);
        fo.seed = seed;
        fo.analytic = grad;
        ga_fast_report *fr;
        cr_assert_eq(ga_fast_check(&fr, &err, g.net, g.net->params, g.x, g.y, g.batch, &fo), GA_OK,
                     "%s: %s", g.what, err.msg);
        nets++;
        alarms += fr->failed;
        cr_expect(!fr->failed, "%s: --fast raises an alarm on the core's gradient", g.what);
        if (fr->failed && getenv("GA_GRAPH_DEBUG")) {
            ga_fast_report_print(stderr, fr);
            for (size_t l = 0; l < g.net->desc.n_layers; l++) {
                const ga_layer_desc *d = &g.net->desc.layers[l];
                fprintf(stderr, "layer %zu: %s act %s n_out %zu geom c%zu h%zu w%zu oc%zu k%zux%zu s%zux%zu p%zux%zu from %zu\n",
                        l + 1, ga_layer_kind_name(d->kind), ga_activation_name(d->act), d->n_out, d->geom.c,
                        d->geom.h, d->geom.w, d->geom.oc, d->geom.kh, d->geom.kw, d->geom.sh, d->geom.sw,
                        d->geom.ph, d->geom.pw, d->from);
            }
            ga_workspace *w2;
            ga_workspace_alloc(&w2, &err, g.net, g.batch);
            double *pp = malloc(P * sizeof *pp);
            for (int s = -8; s <= 8; s++) {
                double t = s * 0.01, Lt;
                for (size_t i = 0; i < P; i++)
                    pp[i] = g.net->params[i] + t * ((i * 2654435761u) % 3 == 0 ? 1.0 : 0.0);
                ga_forward(&Lt, w2, g.net, pp, g.x, g.y, g.batch);
                fprintf(stderr, "t %+.2f L %.17g\n", t, Lt);
            }
            free(pp);
            ga_workspace_free(w2);
        }
        ga_fast_report_free(fr);
        /* the largest entry moved, where that is beyond its whole enclosure */
        size_t big = 0;
        for (size_t i = 1; i < P; i++)
            if (fabs(grad[i]) > fabs(grad[big]))
                big = i;
        ga_check_report *r = judge(&g, grad, GA_PREC_FLOAT64, 1);
        int must = r->entries[big].verdict == GA_VERDICT_PASS &&
                   1e-3 * fabs(grad[big]) > 2 * (r->entries[big].hi - r->entries[big].lo) &&
                   1e-3 * fabs(grad[big]) > 1e-6;
        ga_check_report_free(r);
        if (must) {
            moved++;
            grad[big] *= 1.001;
            cr_assert_eq(ga_fast_check(&fr, &err, g.net, g.net->params, g.x, g.y, g.batch, &fo), GA_OK);
            detected += fr->failed;
            int conf = 0;
            for (size_t k = 0; k < fr->n_bad; k++)
                conf |= fr->bad[k].index == big && fr->bad[k].confirmed;
            confirmed += conf;
            if (!(fr->failed && conf) && getenv("GA_GRAPH_DEBUG"))
                ga_fast_report_print(stderr, fr);
            cr_expect(fr->failed || !fr->disagreed, "%s: entry %zu moved by 1e-3: a direction disagreed "
                      "and the oracle cleared it", g.what, big);
            if (fr->failed)
                cr_expect(conf, "%s: entry %zu moved by 1e-3 is detected, not confirmed", g.what, big);
            ga_fast_report_free(fr);
        }
        free(grad);
        gnet_clear(&g);
    }
    fprintf(stderr, "--fast on graph nets: %zu nets, %zu false alarms; a 1e-3 move detected %zu and "
            "confirmed %zu of %zu\n", nets, alarms, detected, confirmed, moved);
    /* --fast is a screen by finite differences: its power is measured, not
     * promised; the oracle method is the gate (test above) */
    cr_expect(confirmed * 100 >= moved * 95, "--fast caught %zu of %zu moves", confirmed, moved);
}

/* The mutation class of attention: the score gradients without the
 * 1/sqrt(head size) scale (ga_plainpass's attn_no_scale). */
static int has_attention_without_scale(const gnet *g)
{
    return g->has_attn;
}

static void fault_attention_without_scale(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->attn_no_scale = 1;
}

Test(graph, attention_without_scale_is_caught)
{
    mutation_trial(has_attention_without_scale, fault_attention_without_scale, "attention without its scale", "attention");
}

/* The mutation class of recurrent cells: backpropagation through time that
 * stops one step early (ga_plainpass's rnn_short). */
static int has_rnn_bptt_one_step_short(const gnet *g)
{
    return g->has_rnn;
}

static void fault_rnn_bptt_one_step_short(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->rnn_short = 1;
}

Test(graph, rnn_bptt_one_step_short_is_caught)
{
    mutation_trial(has_rnn_bptt_one_step_short, fault_rnn_bptt_one_step_short, "BPTT one step short", "an rnn");
}

/* The mutation class of batch norms: the input gradient without the path
 * through the variance (ga_plainpass's bn_no_var). */
static int has_batchnorm_without_variance_path(const gnet *g)
{
    return g->has_bn;
}

static void fault_batchnorm_without_variance_path(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->bn_no_var = 1;
}

Test(graph, batchnorm_without_variance_path_is_caught)
{
    mutation_trial(has_batchnorm_without_variance_path, fault_batchnorm_without_variance_path, "batch norm without its variance path", "a batch norm");
}

/* The tight verdicts: the core's own double gradient judged with the
 * enclosure of its backward pass from its own forward values (the default
 * check), and the float32 core's with the enclosure of its backward pass
 * from the float32 forward it exported (an attention's weights recomputed
 * as the float32 core computes them); both must never FAIL, on the same
 * random nets. */
Test(graph, tight_enclosures_never_fail)
{
    size_t entries = 0, unj64 = 0, unj32 = 0, tight32 = 0;
    for (uint32_t seed = 1; seed <= NETS; seed++) {
        gnet g;
        gnet_make(&g, seed);
        ga_check_report *r = judge(&g, NULL, GA_PREC_FLOAT64, 1); /* the core's own: tight */
        for (size_t i = 0; i < r->n_entries; i++)
            cr_expect_neq(r->entries[i].verdict, GA_VERDICT_FAIL, "%s (tight float64): %s FAILs: %s",
                          g.what, r->entries[i].name, r->entries[i].reason);
        entries += r->n_entries;
        unj64 += r->n_unjudgeable;
        ga_check_report_free(r);
        ga_error err = {{0}};
        if (ga_round_problem(&err, GA_PREC_FLOAT32, g.net, g.net->params, g.x, g.y, g.batch) != GA_OK) {
            gnet_clear(&g);
            continue;
        }
        double *g32 = malloc(g.net->n_params * sizeof *g32);
        ga_workspace *ws;
        cr_assert(g32);
        cr_assert_eq(ga_workspace_alloc(&ws, &err, g.net, g.batch), GA_OK);
        ga_check_options opt;
        ga_check_options_default(&opt);
        cr_assert_eq(ga_loss_grad_f32_ws(&opt.analytic_loss, g32, ws, &err, g.net, g.net->params, g.x,
                                         g.y, g.batch), GA_OK, "%s: %s", g.what, err.msg);
        opt.precision = GA_PREC_FLOAT32;
        opt.cross_check = 0;
        opt.analytic = g32;
        opt.analytic_own_forward = 1;
        opt.analytic_forward = ws; /* its backward pass alone is enclosed */
        opt.fast_math = ga_core_fast_math(); /* the core's, built -Ofast or not */
        cr_assert_eq(ga_check_run(&r, &err, g.net, g.net->params, g.x, g.y, g.batch, &opt), GA_OK,
                     "%s: %s", g.what, err.msg);
        for (size_t i = 0; i < r->n_entries; i++)
            cr_expect_neq(r->entries[i].verdict, GA_VERDICT_FAIL, "%s (tight float32): %s FAILs: %s [%.17g %.17g] ref %.17g a %.17g",
                          g.what, r->entries[i].name, r->entries[i].reason, r->entries[i].lo, r->entries[i].hi, r->entries[i].ref, r->entries[i].analytic);
        unj32 += r->n_unjudgeable;
        tight32 += r->n_entries;
        ga_check_report_free(r);
        ga_workspace_free(ws);
        free(g32);
        gnet_clear(&g);
    }
    fprintf(stderr, "tight enclosures: float64 %zu entries, %zu unjudgeable; float32 "
            "%zu entries, %zu unjudgeable; 0 FAIL expected\n", entries, unj64, tight32, unj32);
}

/* A max pool over a tie: x = (0.5, 0.5, 0.25, 2.0), a bias P (zeros) before a
 * pool of kernel 2, then a dense layer W = [[1, 2], [3, 4]] (row layout) and
 * the dot loss with y = (0.3, -0.7). By hand: dL/d(pool output 0) = 0.3 * 1 -
 * 0.7 * 2 = -1.1, and the first of the tied pair takes it (P[0] gets -1.1,
 * P[1] gets 0). Both are labelled kink with the pool named; a value outside
 * the hull of 0 and -1.1 FAILs. */
Test(graph, max_pool_tie_is_a_labelled_kink)
{
    ga_layer_desc L[3] = {{0}, {0}, {2, GA_ACT_IDENTITY, 0}};
    L[0].kind = GA_LAYER_BIAS;
    L[0].n_out = 4;
    L[1].kind = GA_LAYER_MAXPOOL;
    L[1].geom = (ga_geom){.c = 1, .h = 1, .w = 4, .oc = 1, .kh = 1, .kw = 2, .sh = 1, .sw = 2};
    L[1].n_out = 2;
    ga_net_desc d = {GA_LAYOUT_ROW, 4, 3, L, {GA_LOSS_DOT, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net;
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    double W[4] = {1, 2, 3, 4}, x[4] = {0.5, 0.5, 0.25, 2.0}, y[2] = {0.3, -0.7};
    memcpy(net->params + net->views[4].offset, W, sizeof W); /* W3 after P1 (4) */
    ga_check_report *r;
    cr_assert_eq(ga_check_run(&r, &err, net, net->params, x, y, 1, NULL), GA_OK, "%s", err.msg);
    /* the dot product in index order, as the core sums it: 0.3 * 1 + (-0.7) * 2 */
    cr_expect_eq(r->entries[0].analytic, 0.3 * 1.0 + -0.7 * 2.0, "P1[0,0] = %.17g", r->entries[0].analytic);
    cr_expect_eq(r->entries[1].analytic, 0.0);
    for (int i = 0; i < 2; i++)
        cr_expect(r->entries[i].verdict == GA_VERDICT_KINK && strstr(r->entries[i].reason, "max pool"),
                  "%s: %s: %s", r->entries[i].name, ga_verdict_name(r->entries[i].verdict),
                  r->entries[i].reason);
    cr_expect_eq(r->n_fail, 0);
    ga_check_report_free(r);
    double wrong[10];
    ga_workspace *ws;
    double Lv;
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, 1), GA_OK);
    cr_assert_eq(ga_loss_and_grad(&Lv, wrong, NULL, ws, net, net->params, x, y, 1), GA_OK);
    ga_workspace_free(ws);
    wrong[0] = 0.5; /* outside [-1.1, 0] */
    ga_check_options opt;
    ga_check_options_default(&opt);
    opt.analytic = wrong;
    opt.analytic_own_forward = 1;
    cr_assert_eq(ga_check_run(&r, &err, net, net->params, x, y, 1, &opt), GA_OK, "%s", err.msg);
    cr_expect_eq(r->entries[0].verdict, GA_VERDICT_FAIL, "%s", r->entries[0].reason);
    ga_check_report_free(r);
    ga_net_free(net);
}

/* The mutation classes of residual adds, dropout and pooling: a skip whose
 * gradient is never sent down it; a dropout whose backward forgets its mask;
 * a max pool sending dy to the last largest entry (and an average pool not
 * dividing dy by the window). */
static int has_skip(const gnet *g)
{
    return g->has_skip;
}

static void fault_skip(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->add_no_skip = 1;
}

Test(graph, residual_without_skip_gradient_is_caught)
{
    mutation_trial(has_skip, fault_skip, "residual add without its skip's gradient", "a residual");
}

static int has_drop(const gnet *g)
{
    return g->has_drop;
}

static void fault_drop(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->mask_forgotten = 1;
}

Test(graph, dropout_backward_without_mask_is_caught)
{
    mutation_trial(has_drop, fault_drop, "dropout backward without its mask", "a dropout");
}

static int has_pool(const gnet *g)
{
    return g->has_pool;
}

static void fault_pool(ga_plain_options *o, const gnet *g)
{
    (void)g;
    o->pool_last_max = 1;
}

Test(graph, pool_gradient_misrouted_is_caught)
{
    mutation_trial(has_pool, fault_pool, "pooling's gradient to the last largest (max) or undivided (avg)",
                   "a pool");
}

/* The BLAS kernel's conv and attention are dense products in which the
 * padding's taps and the causal mask's entries enter as 0 times a value;
 * where a value there is infinite, 0 inf would be a NaN the maths does not
 * have, so a non-finite operand sends them to the plain loops. Two nets
 * whose backward or forward meets an infinity exactly there, by hand: a 3x3
 * conv with padding 1 on a 1x1 image (only the centre tap is inside; its
 * delta overflows to inf through a dense layer of weight 1e300, so the eight
 * padding taps' dW are 0, not NaN), and a causal attention whose second
 * token's v is inf (1e10 times 1e300): the first token's output is p00 v0 =
 * 1e300, not 1e300 + 0 inf. Both kernels must agree, value for value.
 * (GSL's CBLAS, the default build's, skips a zero of its first operand, so
 * there the attention's half holds either way; OpenBLAS does not skip.) */
static void both_kernels_agree(ga_net *net, const double *x, const double *y, size_t watch_layer,
                               size_t watch)
{
    ga_error err = {{0}};
    ga_workspace *ws;
    size_t P = net->n_params;
    double *g = malloc(2 * P * sizeof *g), L, a[2];
    cr_assert(g);
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, 1), GA_OK, "%s", err.msg);
    for (int k = 0; k < 2; k++) {
        net->kernel = k ? GA_KERNEL_BLAS : GA_KERNEL_REFERENCE;
        cr_assert_eq(ga_loss_and_grad(&L, g + k * P, NULL, ws, net, net->params, x, y, 1), GA_OK);
        a[k] = ws->a[watch_layer][watch];
    }
    cr_expect_eq(a[1], a[0], "layer %zu output %zu: blas %g, reference %g", watch_layer + 1, watch,
                 a[1], a[0]);
    for (size_t i = 0; i < P; i++) {
        char name[64];
        ga_param_name(name, sizeof name, net, i);
        cr_expect(isnan(g[P + i]) == isnan(g[i]) && (isnan(g[i]) || g[P + i] == g[i]),
                  "%s: blas %g, reference %g", name, g[P + i], g[i]);
    }
    ga_workspace_free(ws);
    free(g);
}

Test(graph, padding_and_causal_mask_meet_no_zero_times_inf)
{
    ga_error err = {{0}};
    ga_layer_desc C[2] = {{1, GA_ACT_IDENTITY, 0}, {1, GA_ACT_IDENTITY, 0}};
    C[0].kind = GA_LAYER_CONV;
    C[0].geom = (ga_geom){.c = 1, .h = 1, .w = 1, .oc = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                          .ph = 1, .pw = 1};
    ga_net_desc dc = {GA_LAYOUT_ROW, 1, 2, C, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net;
    cr_assert_eq(ga_net_alloc(&net, &err, &dc), GA_OK, "%s", err.msg);
    for (size_t i = 0; i < 9; i++)
        net->params[net->views[0].offset + i] = 0.5;
    net->params[net->views[2].offset] = 1e300; /* delta of the conv: 1e300 * 2 * 5e299 = inf */
    double x1[1] = {1.0}, y1[1] = {0.0};
    both_kernels_agree(net, x1, y1, 0, 0);
    ga_net_free(net);

    ga_layer_desc A[3] = {{6, GA_ACT_IDENTITY, 0}, {0}, {2, GA_ACT_IDENTITY, 0}};
    A[0].tokens = 2; /* (q, k, v) = (0, 0, 1e300) x_t per token */
    A[1].kind = GA_LAYER_ATTENTION;
    A[1].tokens = 2;
    A[1].heads = 1;
    A[1].n_out = 2;
    A[1].act_param = 1.0;
    A[2].tokens = 2;
    ga_net_desc da = {GA_LAYOUT_ROW, 2, 3, A, {GA_LOSS_DOT, 1.0, GA_REDUCE_SUM, 0.0}};
    cr_assert_eq(ga_net_alloc(&net, &err, &da), GA_OK, "%s", err.msg);
    net->params[net->views[0].offset + 2] = 1e300; /* W1 (1, 3) in the row layout: v's weight */
    net->params[net->views[4].offset] = 1.0;
    double x2[2] = {1.0, 1e10}, y2[2] = {1.0, 1.0};
    both_kernels_agree(net, x2, y2, 1, 0);
    ga_net_free(net);
}
