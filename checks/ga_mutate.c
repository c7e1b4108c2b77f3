/* ga_mutate.c: a plain-loop backward pass with switches for known bugs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_loss_internal.h"
#include "ga_mutate.h"
#include "ga_plainpass.h"
#include "ga_random.h"
#include "ga_rounding.h"

static const char *const mutation_names[GA_MUT_COUNT] = {
    "sign_flip",       "missing_factor_2", "missing_act_deriv", "deriv_at_a",
    "transposed_dW",   "bias_missing",     "bias_averaged",     "batch_sum_vs_mean",
    "batch_1/(B-1)",   "dropped_decay",    "ce_without_softmax", "scale_1e-9",
    "ulp_2^20",        "gelu_tanh_cubic",
};

const char *ga_mutation_name(ga_mutation m)
{
    return (unsigned)m < GA_MUT_COUNT ? mutation_names[m] : "?";
}

/* the entry or layer a seed picks: splitmix64's mix of the seed */
static uint64_t mix(uint64_t z)
{
    return ga_splitmix64(&z);
}

/* layer l's activation is applied by the backward pass (not fused into
 * the loss), and is `only` when that is not GA_ACT_COUNT */
static int act_layer_is(const ga_net *net, size_t l, ga_activation only)
{
    const ga_net_desc *d = &net->desc;
    int fused = l + 1 == d->n_layers && ga_loss_fuses_output(d->loss.kind);
    return d->layers[l].act != GA_ACT_IDENTITY && !fused &&
           (only == GA_ACT_COUNT || d->layers[l].act == only);
}

static int has_act_layer(const ga_net *net, ga_activation only)
{
    for (size_t l = 0; l < net->desc.n_layers; l++)
        if (act_layer_is(net, l, only))
            return 1;
    return 0;
}

int ga_mutation_applies(const ga_net *net, size_t batch, ga_mutation m)
{
    const ga_loss_desc *ld = &net->desc.loss;
    switch (m) {
    case GA_MUT_MISSING_FACTOR_2: return ld->kind == GA_LOSS_MSE;
    case GA_MUT_MISSING_ACT_DERIV:
    case GA_MUT_DERIV_AT_A: return has_act_layer(net, GA_ACT_COUNT);
    case GA_MUT_GELU_TANH_CUBIC: return has_act_layer(net, GA_ACT_GELU_TANH);
    case GA_MUT_BIAS_AVERAGED:
    case GA_MUT_BATCH_SUM_MEAN:
    case GA_MUT_BATCH_B_MINUS_1: return batch > 1;
    case GA_MUT_DROPPED_DECAY: return ld->weight_decay > 0;
    case GA_MUT_CE_NO_SOFTMAX: return ld->kind == GA_LOSS_SOFTMAX_CE || ld->kind == GA_LOSS_CCE;
    default: return (unsigned)m < GA_MUT_COUNT;
    }
}

/* index of a nonzero entry picked by seed, or SIZE_MAX when all are zero */
static size_t pick_entry(const double *g, size_t n, uint64_t seed)
{
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++)
        nonzero += g[i] != 0.0;
    if (!nonzero)
        return SIZE_MAX;
    size_t want = mix(seed) % nonzero;
    for (size_t i = 0; i < n; i++)
        if (g[i] != 0.0 && want-- == 0)
            return i;
    return SIZE_MAX;
}

/* need_activation: 0 any layer, 1 one whose activation the backward pass
 * applies; `only` narrows that to one activation (GA_ACT_COUNT: any) */
static size_t pick_layer(const ga_net *net, uint64_t seed, int need_activation, ga_activation only)
{
    const ga_net_desc *d = &net->desc;
    size_t candidates[64], count = 0;
    for (size_t l = 0; l < d->n_layers && count < 64; l++)
        if (!need_activation || act_layer_is(net, l, only))
            candidates[count++] = l;
    return count ? candidates[mix(seed) % count] : SIZE_MAX;
}

int ga_mutant_gradient(double *grad, int *effect, char *describe, size_t describe_size,
                       ga_error *err, ga_workspace *ws, const ga_net *net,
                       const double *params, const double *x, const double *y, size_t batch,
                       ga_mutation m, uint64_t seed)
{
    if (!grad || !effect || !ws || !net || !params || !x || !y)
        return ga_fail(err, GA_EINVAL, "ga_mutant_gradient: a required argument is NULL");
    if (!ga_mutation_applies(net, batch, m))
        return ga_fail(err, GA_EINVAL, "mutation %s does not apply to this net and batch",
                       ga_mutation_name(m));
    double loss;
    int status = ga_forward(&loss, ws, net, params, x, y, batch);
    if (status)
        return ga_fail(err, status, "forward pass: %s", ga_strerror(status));
    double *correct = malloc(net->n_params * sizeof *correct);
    if (!correct)
        return ga_fail(err, GA_ENOMEM, "out of memory for %zu gradient entries", net->n_params);
    status = ga_backward(correct, NULL, ws, net, params, x, y, batch);
    if (status) {
        free(correct);
        return ga_fail(err, status, "backward pass: %s", ga_strerror(status));
    }
    ga_plain_options mu;
    ga_plain_options_default(&mu);
    char where[64] = "every entry";
    size_t entry = SIZE_MAX, layer = SIZE_MAX;
    switch (m) {
    case GA_MUT_SIGN_FLIP:
    case GA_MUT_SCALE_1E_9:
    case GA_MUT_ULP_2_20:
        entry = pick_entry(correct, net->n_params, seed);
        break;
    case GA_MUT_MISSING_FACTOR_2: mu.factor_scale = 0.5; break;
    case GA_MUT_MISSING_ACT_DERIV:
    case GA_MUT_DERIV_AT_A:
        layer = mu.act_layer = pick_layer(net, seed, 1, GA_ACT_COUNT);
        mu.act_missing = m == GA_MUT_MISSING_ACT_DERIV;
        break;
    case GA_MUT_GELU_TANH_CUBIC:
        layer = mu.act_layer = pick_layer(net, seed, 1, GA_ACT_GELU_TANH);
        mu.act_missing = 2;
        break;
    case GA_MUT_TRANSPOSED_DW: layer = mu.transposed_layer = pick_layer(net, seed, 0, GA_ACT_COUNT); break;
    case GA_MUT_BIAS_MISSING:
        layer = mu.bias_layer = pick_layer(net, seed, 0, GA_ACT_COUNT);
        mu.bias_scale = 0.0;
        break;
    case GA_MUT_BIAS_AVERAGED:
        layer = mu.bias_layer = pick_layer(net, seed, 0, GA_ACT_COUNT);
        mu.bias_scale = 1.0 / (double)batch;
        break;
    case GA_MUT_BATCH_SUM_MEAN: mu.factor_scale = (double)batch; break;
    case GA_MUT_BATCH_B_MINUS_1: mu.factor_scale = (double)batch / (double)(batch - 1); break;
    case GA_MUT_DROPPED_DECAY: mu.no_decay = 1; break;
    case GA_MUT_CE_NO_SOFTMAX: mu.ce_no_softmax = 1; break;
    default: break;
    }
    if (entry != SIZE_MAX) {
        memcpy(grad, correct, net->n_params * sizeof *grad);
        double g = grad[entry];
        if (m == GA_MUT_SIGN_FLIP)
            grad[entry] = -g;
        else if (m == GA_MUT_SCALE_1E_9)
            grad[entry] = g * (1.0 + 1e-9);
        else /* 2^20 ulps away from zero: |g| * (1 + 2^20 * 2^-52) in the binade of g */
            grad[entry] = g + copysign(ldexp(1.0, ilogb(g) - 52 + 20), g);
        ga_param_name(where, sizeof where, net, entry);
    } else if (m == GA_MUT_SIGN_FLIP || m == GA_MUT_SCALE_1E_9 || m == GA_MUT_ULP_2_20) {
        memcpy(grad, correct, net->n_params * sizeof *grad); /* every entry is 0 */
        snprintf(where, sizeof where, "no nonzero entry");
    } else {
        /* The baseline for "no effect" is the same plain-loop pass without the
         * bug, so that rounding differences from ga_backward's kernel never
         * count as an effect. */
        ga_plain_options none;
        ga_plain_options_default(&none);
        status = ga_plain_pass(NULL, correct, err, ws, net, params, x, y, batch, &none);
        if (!status)
            status = ga_plain_pass(NULL, grad, err, ws, net, params, x, y, batch, &mu);
        if (status) {
            free(correct);
            return status;
        }
        if (layer != SIZE_MAX)
            snprintf(where, sizeof where, "layer %zu", layer + 1);
    }
    *effect = memcmp(grad, correct, net->n_params * sizeof *grad) != 0;
    if (describe && describe_size)
        snprintf(describe, describe_size, "%s", where);
    free(correct);
    return GA_OK;
}

int ga_mutation_trial(int *detected, int *effect, char *where, size_t where_size, ga_error *err,
                      const ga_randnet *p, ga_mutation m, uint64_t seed, ga_check_method method)
{
    *detected = *effect = 0;
    ga_workspace *ws;
    int status = ga_workspace_alloc(&ws, err, p->net, p->batch);
    if (status)
        return status;
    double *g = malloc(p->net->n_params * sizeof *g);
    if (!g) {
        ga_workspace_free(ws);
        return ga_fail(err, GA_ENOMEM, "out of memory for the mutant gradient");
    }
    status = ga_mutant_gradient(g, effect, where, where_size, err, ws, p->net, p->net->params,
                                p->x, p->y, p->batch, m, seed);
    if (!status && *effect) {
        /* resolvable: some entry moved beyond LAMBDA times its rounding
         * scale, measured from the correct double gradient */
        ga_rounding *rd = NULL;
        double *ok = malloc(p->net->n_params * sizeof *ok), loss;
        status = ok ? ga_rounding_alloc(&rd, err, p->net, p->batch, GA_ROUNDING_RUNS) : GA_ENOMEM;
        if (!status)
            status = ga_rounding_compute(rd, err, p->net, p->net->params, p->x, p->y, p->batch, seed);
        if (!status)
            status = ga_loss_and_grad(&loss, ok, NULL, ws, p->net, p->net->params, p->x, p->y,
                                      p->batch);
        if (!status) {
            *effect = GA_MUT_BELOW_ROUNDING;
            for (size_t i = 0; i < p->net->n_params; i++)
                if (!(fabs(g[i] - ok[i]) <= GA_ROUNDING_LAMBDA * rd->sigma[i]))
                    *effect = GA_MUT_RESOLVABLE;
        }
        ga_rounding_free(rd);
        free(ok);
    }
    if (!status && *effect) {
        ga_check_options opt;
        ga_check_options_default(&opt);
        opt.cross_check = 0; /* verdicts only: the oracle's two routes are compared in test_oracle */
        opt.method = method;
        opt.seed = seed;
        opt.analytic = g;
        /* a mutated backward runs the plain pass's own forward loops: the
         * whole enclosure; an entry moved in the core's own gradient (sign,
         * scale, ulps) comes from the core's forward pass, as check --inject
         * does, and gets the enclosure built on that pass (ga_check.h) */
        opt.analytic_own_forward = !(m == GA_MUT_SIGN_FLIP || m == GA_MUT_SCALE_1E_9 ||
                                     m == GA_MUT_ULP_2_20);
        ga_check_report *r;
        status = ga_check_run(&r, err, p->net, p->net->params, p->x, p->y, p->batch, &opt);
        if (!status) {
            *detected = r->n_fail > 0;
            ga_check_report_free(r);
        }
    }
    free(g);
    ga_workspace_free(ws);
    return status;
}
