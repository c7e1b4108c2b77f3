/* ga_layer.c: one dense layer's backward pass checked against gradaudit's own
 * exact op (gradaudit_check_dense in gradaudit.h).
 *
 * The vector-Jacobian product with an upstream gradient dy is the gradient of
 * the linear loss dy . out (the `dot` loss, docs/spec.md), so dW and db are
 * the parameter gradient of a one-layer net whose loss is `dot` with targets
 * dy: the oracle computes it exactly and the proven enclosure judges the
 * user's values (analytic_own_forward: the user's code has a forward pass of
 * its own). dx[n] is the gradient of the bias of an identity layer put in
 * front of the layer, with zero weights, constant input 1 and the bias x[n]
 * (its output is x[n] exactly): one small net per sample. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_lib.h"
#include "ga_random.h"

/* The entries [from, from + count) of a check's report, tallied into out as
 * tensor `tensor` (fails counts its FAILs); entry i's name is
 * tensor[(i + base) / cols, (i + base) % cols], or tensor[i + base] when
 * cols is 0. */
typedef struct {
    const char *tensor;
    size_t from, count, base, cols;
    size_t *fails;
} entry_range;

static void tally(gradaudit_layer_result *out, const ga_check_report *r, const entry_range *g)
{
    for (size_t i = 0; i < g->count; i++) {
        const ga_check_entry *e = &r->entries[g->from + i];
        out->n_entries++;
        switch (e->verdict) {
        case GA_VERDICT_PASS: out->n_pass++; break;
        case GA_VERDICT_KINK: out->n_kink++; break;
        case GA_VERDICT_UNJUDGEABLE: out->n_unjudgeable++; break;
        case GA_VERDICT_FAIL:
            out->n_fail++;
            (*g->fails)++;
            if (!out->first_fail[0]) {
                size_t k = i + g->base;
                char name[64];
                if (g->cols)
                    snprintf(name, sizeof name, "%s[%zu,%zu]", g->tensor, k / g->cols, k % g->cols);
                else
                    snprintf(name, sizeof name, "%s[%zu]", g->tensor, k);
                snprintf(out->first_fail, sizeof out->first_fail, "%s: analytic %.17g, exact %.17g: %s",
                         name, e->analytic, e->oracle, e->reason);
            }
            break;
        }
    }
}

/* The oracle check of net at (x, y) with the analytic gradient g (n_params),
 * in precision prec; *r receives the report. */
static int run(ga_check_report **r, ga_error *err, ga_net *net, const double *x, const double *y,
               size_t batch, const double *g, ga_precision prec, uint64_t seed)
{
    ga_check_options opt;
    ga_check_options_default(&opt);
    opt.seed = seed;
    opt.cross_check = 0; /* the verdicts; the oracle's routes are tested elsewhere */
    opt.analytic = g;
    opt.analytic_own_forward = 1;
    opt.precision = prec;
    return ga_check_run(r, err, net, net->params, x, y, batch, &opt);
}

/* a net of the given layers with the dot loss (column layout: W (out, in)) */
static int dot_net(ga_net **net, ga_error *err, size_t n_in, ga_layer_desc *layers, size_t n_layers)
{
    ga_net_desc d = {GA_LAYOUT_COLUMN, n_in, n_layers, layers,
                     {GA_LOSS_DOT, 1.0, GA_REDUCE_SUM, 0.0}};
    return ga_net_alloc(net, err, &d);
}

static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

int gradaudit_check_dense(gradaudit_layer_result *out, gradaudit_error *uerr,
                          const gradaudit_dense_layer *layer, gradaudit_dense_backward_fn backward,
                          void *user)
{
    ga_error err = {{0}};
    if (!out || !layer || !backward || !layer->activation || !layer->W || !layer->b || !layer->x)
        return ga_lib_pass_error(uerr, &err, ga_fail(&err, GA_EINVAL, "check_dense: a required "
                                                     "argument is NULL"));
    memset(out, 0, sizeof *out);
    size_t I = layer->n_in, O = layer->n_out, B = layer->batch;
    ga_activation act;
    if (!I || !O || !B || I > GA_MAX_WIDTH || O > GA_MAX_WIDTH || B > GA_MAX_WIDTH)
        return ga_lib_pass_error(uerr, &err, ga_fail(&err, GA_EINVAL, "check_dense: sizes %zu, "
                                                     "%zu, batch %zu: each from 1 to %zu", I, O,
                                                     B, (size_t)GA_MAX_WIDTH));
    if (ga_activation_from_name(&act, layer->activation) != GA_OK || act == GA_ACT_SOFTMAX)
        return ga_lib_pass_error(uerr, &err, ga_fail(&err, GA_EINVAL, "check_dense: \"%s\" is not "
                                                     "an elementwise activation of gradaudit's",
                                                     layer->activation));
    if (!all_finite(layer->W, I * O) || !all_finite(layer->b, O) || !all_finite(layer->x, B * I))
        return ga_lib_pass_error(uerr, &err, ga_fail(&err, GA_ENONFINITE, "check_dense: W, b or x "
                                                     "holds a NaN or an infinity"));
    ga_precision prec = layer->float32 ? GA_PREC_FLOAT32 : GA_PREC_FLOAT64;
    double param = layer->act_param != 0 ? layer->act_param : ga_activation_default_param(act);
    ga_layer_desc one[1] = {{O, act, param}};
    ga_layer_desc two[2] = {{I, GA_ACT_IDENTITY, 0.0}, {O, act, param}};
    ga_net *na = NULL, *nb = NULL;
    ga_check_report *r = NULL;
    /* one slab: dy (B O), x (B I), the user's dx (B I), dW (O I), db (O), the
     * per-sample slab (I + I + O I + O), the constant input 1 */
    size_t n = 2 * B * I + B * O + O * I + O + 2 * I + O * I + O + 1;
    double *buf = malloc(n * sizeof *buf);
    int status = buf ? dot_net(&na, &err, I, one, 1) : ga_fail(&err, GA_ENOMEM, "check_dense: out of memory");
    if (!status)
        status = dot_net(&nb, &err, 1, two, 2);
    if (status)
        goto done;
    double *dy = buf, *x = dy + B * O, *dx = x + B * I, *g = dx + B * I, *gb = g + O * I + O;
    double *one_in = gb + 2 * I + O * I + O;
    *one_in = 1.0;
    /* net a's slab: W1 (O, I), b1 (O, 1) */
    memcpy(na->params, layer->W, O * I * sizeof *na->params);
    memcpy(na->params + O * I, layer->b, O * sizeof *na->params);
    memcpy(x, layer->x, B * I * sizeof *x);
    ga_rng rng;
    ga_rng_seed(&rng, (uint32_t)(layer->seed ^ (layer->seed >> 32)));
    for (size_t i = 0; i < B * O; i++) /* float32 numbers: exact in either precision */
        dy[i] = (double)(float)ga_rng_gauss(&rng);
    if (prec == GA_PREC_FLOAT32 &&
        (status = ga_round_problem(&err, prec, na, na->params, x, dy, B)))
        goto done;
    /* the activation parameter as the code under test holds it (rounded) */
    nb->desc.layers[1].act_param = na->desc.layers[0].act_param;
    gradaudit_dense_layer seen = *layer;
    seen.W = na->params;
    seen.b = na->params + O * I;
    seen.x = x;
    seen.act_param = na->desc.layers[0].act_param;
    if (backward(dx, g, g + O * I, dy, &seen, user)) {
        status = ga_fail(&err, GA_ECALLBACK, "check_dense: the backward callback returned non-zero");
        goto done;
    }
    size_t fail_w = 0, fail_b = 0, fail_x = 0;
    if ((status = run(&r, &err, na, x, dy, B, g, prec, layer->seed)))
        goto done;
    tally(out, r, &(entry_range){"dW", 0, O * I, 0, I, &fail_w});
    tally(out, r, &(entry_range){"db", O * I, O, 0, 0, &fail_b});
    ga_check_report_free(r);
    r = NULL;
    /* dx[n]: net b's slab W1 (I, 1) = 0, b1 (I, 1) = x[n], W2 = W, b2 = b; its b1's
     * gradient is dx[n] (and so is its W1's, times the input 1) */
    memset(nb->params, 0, I * sizeof *nb->params);
    memcpy(nb->params + 2 * I, na->params, (O * I + O) * sizeof *nb->params);
    for (size_t s = 0; s < B; s++) {
        memcpy(nb->params + I, x + s * I, I * sizeof *nb->params);
        memcpy(gb, dx + s * I, I * sizeof *gb);
        memcpy(gb + I, dx + s * I, I * sizeof *gb);
        memset(gb + 2 * I, 0, (O * I + O) * sizeof *gb); /* not judged here */
        if ((status = run(&r, &err, nb, one_in, dy + s * O, 1, gb, prec, layer->seed + s)))
            goto done;
        tally(out, r, &(entry_range){"dx", I, I, s * I, I, &fail_x});
        ga_check_report_free(r);
        r = NULL;
    }
    out->fail_dW = fail_w;
    out->fail_db = fail_b;
    out->fail_dx = fail_x;
done:
    ga_check_report_free(r);
    ga_net_free(na);
    ga_net_free(nb);
    free(buf);
    return ga_lib_pass_error(uerr, &err, status);
}
