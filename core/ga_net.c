/* ga_net.c: validating a description, the parameter slab and its views, the workspace. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_core.h"

int ga_size_mul(size_t *r, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

int ga_size_add(size_t *r, size_t a, size_t b)
{
    if (b > SIZE_MAX - a)
        return 0;
    *r = a + b;
    return 1;
}

int ga_net_desc_validate(size_t *n_params, ga_error *err, const ga_net_desc *desc,
                         size_t memory_cap)
{
    if (!desc)
        return ga_fail(err, GA_EINVAL, "no network description");
    if (desc->layout != GA_LAYOUT_COLUMN && desc->layout != GA_LAYOUT_ROW)
        return ga_fail(err, GA_EINVAL, "layout: must be column or row");
    if (desc->n_in == 0 || desc->n_in > GA_MAX_WIDTH)
        return ga_fail(err, GA_EINVAL, "input: size %zu is outside 1..%zu", desc->n_in,
                       (size_t)GA_MAX_WIDTH);
    if (desc->n_layers == 0 || desc->n_layers > GA_MAX_LAYERS || !desc->layers)
        return ga_fail(err, GA_EINVAL, "layers: count %zu is outside 1..%d", desc->n_layers,
                       GA_MAX_LAYERS);
    size_t total = 0, fan_in = desc->n_in;
    for (size_t l = 0; l < desc->n_layers; l++) {
        const ga_layer_desc *L = &desc->layers[l];
        if (L->n_out == 0 || L->n_out > GA_MAX_WIDTH)
            return ga_fail(err, GA_EINVAL, "layers[%zu].size: %zu is outside 1..%zu", l, L->n_out,
                           (size_t)GA_MAX_WIDTH);
        if ((unsigned)L->act >= GA_ACT_COUNT)
            return ga_fail(err, GA_EINVAL, "layers[%zu].activation: unknown activation %d", l,
                           (int)L->act);
        if (!isfinite(L->act_param))
            return ga_fail(err, GA_EINVAL, "layers[%zu]: activation parameter is not finite", l);
        size_t w, wb;
        if (!ga_size_mul(&w, fan_in, L->n_out) || !ga_size_add(&wb, w, L->n_out) || !ga_size_add(&total, total, wb))
            return ga_fail(err, GA_ERANGE, "layers[%zu]: the parameter count overflows", l);
        fan_in = L->n_out;
    }
    const ga_loss_desc *loss = &desc->loss;
    if ((unsigned)loss->kind >= GA_LOSS_COUNT)
        return ga_fail(err, GA_EINVAL, "loss.type: unknown loss %d", (int)loss->kind);
    if ((unsigned)loss->reduction >= GA_REDUCE_COUNT)
        return ga_fail(err, GA_EINVAL, "loss.reduction: unknown reduction %d", (int)loss->reduction);
    if (!isfinite(loss->scale))
        return ga_fail(err, GA_EINVAL, "loss.scale: not finite");
    if (!isfinite(loss->weight_decay) || loss->weight_decay < 0)
        return ga_fail(err, GA_EINVAL, "loss.weight_decay: must be finite and >= 0");
    int status = ga_loss_check_pair(err, loss->kind, desc->layers[desc->n_layers - 1].act);
    if (status)
        return status;
    size_t bytes;
    if (!ga_size_mul(&bytes, total, 2 * sizeof(double)))
        return ga_fail(err, GA_ERANGE, "the parameter count %zu overflows in bytes", total);
    if (memory_cap && bytes > memory_cap)
        return ga_fail(err, GA_ENOMEM,
                       "%zu parameters need %zu bytes for values and gradients, over the memory cap of %zu bytes",
                       total, bytes, memory_cap);
    if (n_params)
        *n_params = total;
    return GA_OK;
}

int ga_net_alloc(ga_net **out, ga_error *err, const ga_net_desc *desc)
{
    size_t n_params;
    *out = NULL;
    int status = ga_net_desc_validate(&n_params, err, desc, GA_DEFAULT_MEMORY_CAP);
    if (status)
        return status;
    ga_net *net = calloc(1, sizeof *net);
    if (!net)
        return ga_fail(err, GA_ENOMEM, "out of memory for the network");
    net->desc = *desc;
    net->desc.layers = malloc(desc->n_layers * sizeof *desc->layers);
    net->n_views = 2 * desc->n_layers;
    net->views = calloc(net->n_views, sizeof *net->views);
    net->n_params = n_params;
    net->params = calloc(n_params, sizeof(double));
    net->grads = calloc(n_params, sizeof(double));
    if (!net->desc.layers || !net->views || !net->params || !net->grads) {
        ga_net_free(net);
        return ga_fail(err, GA_ENOMEM, "out of memory for %zu parameters", n_params);
    }
    memcpy(net->desc.layers, desc->layers, desc->n_layers * sizeof *desc->layers);
    size_t offset = 0, fan_in = desc->n_in;
    for (size_t l = 0; l < desc->n_layers; l++) {
        size_t fan_out = desc->layers[l].n_out;
        ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
        snprintf(W->name, sizeof W->name, "W%zu", l + 1);
        snprintf(b->name, sizeof b->name, "b%zu", l + 1);
        W->layer = b->layer = l;
        b->is_bias = 1;
        if (desc->layout == GA_LAYOUT_COLUMN) {
            W->rows = fan_out, W->cols = fan_in; /* (out, in) */
            b->rows = fan_out, b->cols = 1;      /* (out, 1) */
        } else {
            W->rows = fan_in, W->cols = fan_out; /* (in, out) */
            b->rows = 1, b->cols = fan_out;      /* (1, out) */
        }
        W->offset = offset;
        offset += fan_in * fan_out;
        b->offset = offset;
        offset += fan_out;
        fan_in = fan_out;
    }
    net->kernel = GA_KERNEL_BLAS;
    *out = net;
    return GA_OK;
}

void ga_net_free(ga_net *net)
{
    if (!net)
        return;
    free(net->desc.layers);
    free(net->views);
    free(net->params);
    free(net->grads);
    free(net);
}

const ga_view *ga_net_locate(size_t *row, size_t *col, const ga_net *net, size_t i)
{
    if (!net || i >= net->n_params)
        return NULL;
    /* binary search over the views' offsets */
    size_t lo = 0, hi = net->n_views;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (net->views[mid].offset <= i)
            lo = mid;
        else
            hi = mid;
    }
    const ga_view *v = &net->views[lo];
    size_t k = i - v->offset;
    if (row)
        *row = k / v->cols;
    if (col)
        *col = k % v->cols;
    return v;
}

int ga_param_name(char *buf, size_t size, const ga_net *net, size_t i)
{
    size_t r, c;
    const ga_view *v = ga_net_locate(&r, &c, net, i);
    if (!v)
        return snprintf(buf, size, "?[%zu]", i);
    return snprintf(buf, size, "%s[%zu,%zu]", v->name, r, c);
}

int ga_workspace_alloc(ga_workspace **out, ga_error *err, const ga_net *net, size_t max_batch)
{
    *out = NULL;
    if (!net)
        return ga_fail(err, GA_EINVAL, "no network");
    if (max_batch == 0)
        return ga_fail(err, GA_EINVAL, "batch size must be at least 1");
    const ga_net_desc *d = &net->desc;
    size_t per_sample = 0, max_width = d->n_in;
    for (size_t l = 0; l < d->n_layers; l++) {
        size_t n = d->layers[l].n_out;
        if (n > max_width)
            max_width = n;
        if (!ga_size_add(&per_sample, per_sample, 3 * n))
            return ga_fail(err, GA_ERANGE, "workspace size overflows");
    }
    size_t total, deltas, bytes;
    if (!ga_size_add(&per_sample, per_sample, 2 * max_width) || !ga_size_mul(&total, per_sample, max_batch) ||
        !ga_size_mul(&bytes, total, sizeof(double)))
        return ga_fail(err, GA_ERANGE, "workspace size overflows for batch %zu", max_batch);
    if (bytes > GA_DEFAULT_MEMORY_CAP)
        return ga_fail(err, GA_ENOMEM, "a batch of %zu needs %zu bytes of workspace, over the cap of %zu",
                       max_batch, bytes, (size_t)GA_DEFAULT_MEMORY_CAP);
    deltas = max_batch * max_width;
    ga_workspace *ws = calloc(1, sizeof *ws);
    if (!ws)
        return ga_fail(err, GA_ENOMEM, "out of memory for the workspace");
    ws->z = calloc(d->n_layers, sizeof *ws->z);
    ws->a = calloc(d->n_layers, sizeof *ws->a);
    ws->dact = calloc(d->n_layers, sizeof *ws->dact);
    ws->buf = malloc(bytes);
    if (!ws->z || !ws->a || !ws->dact || !ws->buf) {
        ga_workspace_free(ws);
        return ga_fail(err, GA_ENOMEM, "out of memory for %zu bytes of workspace", bytes);
    }
    double *p = ws->buf;
    for (size_t l = 0; l < d->n_layers; l++) {
        size_t n = max_batch * d->layers[l].n_out;
        ws->z[l] = p, p += n;
        ws->a[l] = p, p += n;
        ws->dact[l] = p, p += n;
    }
    ws->delta = p, p += deltas;
    ws->delta_prev = p;
    ws->max_batch = max_batch;
    ws->n_layers = d->n_layers;
    *out = ws;
    return GA_OK;
}

void ga_workspace_free(ga_workspace *ws)
{
    if (!ws)
        return;
    free(ws->z);
    free(ws->a);
    free(ws->dact);
    free(ws->buf);
    free(ws);
}
