/* ga_randnet.c: random small networks for the suites. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_random.h"
#include "ga_randnet.h"

ga_activation ga_randnet_output_activation(ga_loss_kind loss, ga_activation hidden)
{
    switch (loss) {
    case GA_LOSS_BCE: return GA_ACT_SIGMOID;
    case GA_LOSS_CCE: return GA_ACT_SOFTMAX;
    case GA_LOSS_BCE_LOGITS:
    case GA_LOSS_SOFTMAX_CE: return GA_ACT_IDENTITY;
    default: return hidden;
    }
}

static double param_for(ga_activation a)
{
    return a == GA_ACT_LEAKY_RELU ? 0.1 : a == GA_ACT_ELU ? 1.3 : ga_activation_default_param(a);
}

int ga_randnet_make(ga_randnet *p, ga_error *err, ga_layout layout, ga_activation hidden,
                    ga_loss_kind loss, ga_reduction reduction, size_t batch, size_t depth,
                    size_t width, double weight_decay, uint32_t seed)
{
    memset(p, 0, sizeof *p);
    if (depth < 1 || depth > GA_RANDNET_MAX_LAYERS || batch < 1)
        return ga_fail(err, GA_EINVAL, "randnet: depth %zu or batch %zu out of range", depth, batch);
    ga_rng rng;
    ga_rng_seed(&rng, seed);
    size_t n_in = width ? width : 1 + ga_rng_u32(&rng) % 4;
    for (size_t l = 0; l < depth; l++) {
        int last = l + 1 == depth;
        size_t n = width ? width : 1 + ga_rng_u32(&rng) % 4;
        if (last && (loss == GA_LOSS_SOFTMAX_CE || loss == GA_LOSS_CCE) && n < 2)
            n = 2;
        ga_activation a = last ? ga_randnet_output_activation(loss, hidden) : hidden;
        p->layers[l] = (ga_layer_desc){n, a, param_for(a)};
    }
    ga_net_desc d = {layout, n_in, depth, p->layers, {loss, 1.0, reduction, weight_decay}};
    if (loss == GA_LOSS_MSE)
        d.loss.scale = 0.5;
    int status = ga_net_alloc(&p->net, err, &d);
    if (status)
        return status;
    size_t n_out = p->layers[depth - 1].n_out;
    p->x = malloc(batch * n_in * sizeof *p->x);
    p->y = malloc(batch * n_out * sizeof *p->y);
    if (!p->x || !p->y) {
        ga_randnet_clear(p);
        return ga_fail(err, GA_ENOMEM, "randnet: out of memory");
    }
    p->batch = batch;
    p->seed = seed;
    ga_randnet_fill_params(p->net, &rng);
    ga_rng_fill_gauss(p->x, batch * n_in, &rng);
    ga_randnet_fill_targets(p->y, batch, n_out, loss, &rng);
    return GA_OK;
}

void ga_randnet_fill_params(ga_net *net, ga_rng *rng)
{
    for (size_t v = 0; v < net->n_views; v++) {
        const ga_view *view = &net->views[v];
        size_t fan_in = view->layer ? net->desc.layers[view->layer - 1].n_out : net->desc.n_in;
        double sd = 1.0 / sqrt((double)fan_in);
        for (size_t i = 0; i < view->rows * view->cols; i++)
            net->params[view->offset + i] = sd * ga_rng_gauss(rng);
    }
}

void ga_randnet_fill_targets(double *y, size_t batch, size_t n_out, ga_loss_kind loss, ga_rng *rng)
{
    for (size_t n = 0; n < batch; n++) {
        double *yn = y + n * n_out;
        if (loss == GA_LOSS_MSE || loss == GA_LOSS_DOT) { /* dot: a cotangent of either sign */
            ga_rng_fill_gauss(yn, n_out, rng);
        } else if (loss == GA_LOSS_SOFTMAX_CE || loss == GA_LOSS_CCE) {
            double s = 0;
            for (size_t k = 0; k < n_out; k++)
                s += yn[k] = ga_rng_uniform(rng);
            for (size_t k = 0; k < n_out; k++)
                yn[k] /= s;
        } else {
            ga_rng_fill_uniform(yn, n_out, rng);
        }
    }
}

void ga_randnet_clear(ga_randnet *p)
{
    ga_net_free(p->net);
    free(p->x);
    free(p->y);
    memset(p, 0, sizeof *p);
}

int ga_randnet_describe(char *buf, size_t size, const ga_randnet *p)
{
    const ga_net_desc *d = &p->net->desc;
    return snprintf(buf, size, "%s/%s(%s) %s B=%zu depth %zu wd %g seed %u",
                    ga_activation_name(d->layers[0].act), ga_loss_name(d->loss.kind),
                    ga_reduction_name(d->loss.reduction),
                    d->layout == GA_LAYOUT_COLUMN ? "column" : "row", p->batch, d->n_layers,
                    d->loss.weight_decay, p->seed);
}

size_t ga_randnet_table_cases(ga_randnet_case *cases, const ga_randnet_table *t)
{
    assert(t->n_batches <= GA_RANDNET_TABLE_BATCHES);
    size_t n = 0;
    for (int a = 0; a < GA_ACT_COUNT; a++)
        for (int l = 0; l < GA_LOSS_COUNT; l++) {
            /* the pair is valid by construction: ga_randnet_make puts the
             * loss's activation on the output; mse keeps the hidden one there */
            ga_activation out = ga_randnet_output_activation((ga_loss_kind)l, (ga_activation)a);
            if (ga_loss_check_pair(NULL, (ga_loss_kind)l, out) != GA_OK)
                continue;
            for (size_t b = 0; b < t->n_batches; b++)
                for (int lay = 0; lay < 2; lay++)
                    for (size_t s = 0; s < t->n_seeds; s++, n++)
                        if (cases)
                            cases[n] = (ga_randnet_case){(ga_activation)a, (ga_loss_kind)l,
                                                         t->batches[b], (ga_layout)lay, t->depth,
                                                         t->width, (uint32_t)(t->first_seed + n)};
        }
    return n;
}

int ga_randnet_make_case(ga_randnet *p, ga_error *err, const ga_randnet_case *c)
{
    return ga_randnet_make(p, err, c->layout, c->act, c->loss, (ga_reduction)(c->seed % 3), c->batch,
                           c->depth, c->width, (c->seed % 2) ? 0.01 : 0.0, c->seed);
}
