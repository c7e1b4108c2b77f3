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

static const char *const layer_kind_names[GA_LAYER_KIND_COUNT] = {
    "dense", "layernorm", "rmsnorm", "residual", "dropout", "embedding", "conv", "maxpool", "avgpool",
    "bias", "attention", "rnn", "batchnorm", "concat"};

int ga_geom_finish(ga_geom *g)
{
    size_t hp, wp, t;
    if (!g->c || !g->h || !g->w || !g->oc || !g->kh || !g->kw || !g->sh || !g->sw ||
        g->h > GA_MAX_WIDTH || g->w > GA_MAX_WIDTH || g->ph > GA_MAX_WIDTH || g->pw > GA_MAX_WIDTH ||
        !ga_size_add(&hp, g->h, 2 * g->ph) || !ga_size_add(&wp, g->w, 2 * g->pw) || g->kh > hp ||
        g->kw > wp)
        return 0;
    g->ho = (hp - g->kh) / g->sh + 1;
    g->wo = (wp - g->kw) / g->sw + 1;
    return ga_size_mul(&t, g->c, g->h) && ga_size_mul(&t, t, g->w) && ga_size_mul(&t, g->oc, g->ho) &&
           ga_size_mul(&t, t, g->wo) && ga_size_mul(&t, g->oc, g->c) && ga_size_mul(&t, t, g->kh) &&
           ga_size_mul(&t, t, g->kw);
}

int ga_dropout_keep(uint32_t seed, size_t l, size_t n, size_t k, double p)
{
    /* splitmix64 over the four coordinates, one after another */
    uint64_t h = (uint64_t)seed;
    uint64_t in[3] = {(uint64_t)l, (uint64_t)n, (uint64_t)k};
    for (int i = 0; i < 4; i++) {
        h += 0x9E3779B97F4A7C15ULL + (i ? in[i - 1] : 0);
        uint64_t z = h;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        h = z ^ (z >> 31);
    }
    return (double)(h >> 11) * 0x1p-53 >= p;
}

int ga_net_check_ids(ga_error *err, const ga_net_desc *d, const double *x, size_t batch)
{
    if (d->layers[0].kind != GA_LAYER_EMBEDDING)
        return GA_OK;
    for (size_t i = 0; i < batch * d->n_in; i++)
        if (!(x[i] >= 0 && x[i] < (double)d->layers[0].vocab && x[i] == floor(x[i])))
            return ga_fail(err, GA_EINVAL, "data.x[%zu][%zu] = %.17g is not a token id (an "
                           "integer 0 .. %zu for the embedding)", i / d->n_in, i % d->n_in, x[i],
                           d->layers[0].vocab - 1);
    return GA_OK;
}

const char *ga_layer_kind_name(ga_layer_kind k)
{
    return (unsigned)k < GA_LAYER_KIND_COUNT ? layer_kind_names[k] : "?";
}

int ga_layer_kind_from_name(ga_layer_kind *out, const char *name)
{
    for (int k = 0; k < GA_LAYER_KIND_COUNT; k++)
        if (name && strcmp(name, layer_kind_names[k]) == 0) {
            *out = (ga_layer_kind)k;
            return GA_OK;
        }
    return GA_EINVAL;
}

int ga_net_desc_is_chain(const ga_net_desc *d)
{
    for (size_t l = 0; l < d->n_layers; l++)
        if (d->layers[l].kind != GA_LAYER_DENSE || ga_layer_tokens(&d->layers[l]) > 1)
            return 0;
    return 1;
}

int ga_net_require_chain(ga_error *err, const ga_net_desc *d, const char *what)
{
    for (size_t l = 0; l < d->n_layers; l++)
        if (d->layers[l].kind != GA_LAYER_DENSE)
            return ga_fail(err, GA_EINVAL, "%s: for nets of dense layers only; layer %zu is %s", what,
                           l + 1, ga_layer_kind_name(d->layers[l].kind));
    return GA_OK;
}

/* The entries of a layer's two views (views[2 l], views[2 l + 1]); 0 when a
 * count overflows. */
int ga_layer_param_counts(size_t *first, size_t *second, const ga_layer_desc *L, size_t fan_in)
{
    switch (L->kind) {
    case GA_LAYER_DENSE:
        *second = L->n_out / ga_layer_tokens(L);
        return ga_size_mul(first, fan_in / ga_layer_tokens(L), *second);
    case GA_LAYER_LAYERNORM:
        *first = *second = L->n_out / ga_layer_tokens(L);
        return 1;
    case GA_LAYER_BATCHNORM:
        *first = *second = L->n_out;
        return 1;
    case GA_LAYER_RMSNORM:
        *first = L->n_out / ga_layer_tokens(L);
        *second = 0;
        return 1;
    case GA_LAYER_EMBEDDING:
        *second = 0;
        return ga_size_mul(first, L->vocab, L->dim);
    case GA_LAYER_BIAS:
        *first = 0;
        *second = L->n_out;
        return 1;
    case GA_LAYER_RNN: { /* W (H, d + H), b (H) */
        size_t T = ga_layer_tokens(L), H = L->n_out / T, dH;
        *second = H;
        return ga_size_add(&dH, fan_in / T, H) && ga_size_mul(first, H, dH);
    }
    case GA_LAYER_CONV: /* W (oc, c kh kw), b (oc) */
        *second = L->geom.oc;
        return ga_size_mul(first, L->geom.oc, L->geom.c) && ga_size_mul(first, *first, L->geom.kh) &&
               ga_size_mul(first, *first, L->geom.kw);
    default:
        *first = *second = 0;
        return 1;
    }
}

/* The stored shape and name of view v (layer v / 2) of a described net. */
void ga_view_shape(size_t *rows, size_t *cols, const ga_net_desc *d, size_t v)
{
    size_t l = v / 2, fan_in = l == 0 ? d->n_in : d->layers[l - 1].n_out, n[2];
    const ga_layer_desc *L = &d->layers[l];
    int column = d->layout == GA_LAYOUT_COLUMN;
    if (!ga_layer_param_counts(&n[0], &n[1], L, fan_in)) {
        *rows = *cols = 0;
        return;
    }
    if (L->kind == GA_LAYER_EMBEDDING) { /* E (vocab, dim) in both layouts */
        *rows = v % 2 ? 0 : L->vocab;
        *cols = v % 2 ? 0 : L->dim;
        return;
    }
    if (L->kind == GA_LAYER_CONV && v % 2 == 0) { /* W (oc, c kh kw) in both layouts */
        *rows = L->geom.oc;
        *cols = n[0] / L->geom.oc;
        return;
    }
    if (L->kind == GA_LAYER_DENSE && v % 2 == 0) { /* W: column (out, in), row (in, out) */
        size_t T = ga_layer_tokens(L);
        *rows = column ? L->n_out / T : fan_in / T;
        *cols = column ? fan_in / T : L->n_out / T;
        return;
    }
    if (L->kind == GA_LAYER_RNN && v % 2 == 0) { /* W: column (H, d + H), row (d + H, H) */
        size_t T = ga_layer_tokens(L), H = L->n_out / T, in = fan_in / T + H;
        *rows = column ? H : in;
        *cols = column ? in : H;
        return;
    }
    size_t m = n[v % 2]; /* b, gamma, beta: column (m, 1), row (1, m) */
    *rows = column ? m : (m ? 1 : 0);
    *cols = column ? (m ? 1 : 0) : m;
}

int ga_view_name(char *buf, size_t size, const ga_net_desc *d, size_t v)
{
    static const char *const names[GA_LAYER_KIND_COUNT][2] = {
        {"W", "b"}, {"gamma", "beta"}, {"gamma", ""}, {"", ""}, {"", ""}, {"E", ""},
        {"W", "b"}, {"", ""}, {"", ""}, {"", "P"}, {"", ""}, {"W", "b"}, {"gamma", "beta"}, {"", ""}};
    size_t l = v / 2;
    const char *stem = names[d->layers[l].kind][v % 2];
    if (!*stem) {
        if (size)
            buf[0] = 0;
        return 0;
    }
    return snprintf(buf, size, "%s%zu", stem, l + 1);
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
        if ((unsigned)L->kind >= GA_LAYER_KIND_COUNT)
            return ga_fail(err, GA_EINVAL, "layers[%zu].type: unknown layer type %d", l, (int)L->kind);
        if (L->kind == GA_LAYER_CONV || L->kind == GA_LAYER_MAXPOOL || L->kind == GA_LAYER_AVGPOOL) {
            ga_geom gm = L->geom;
            const char *kn = ga_layer_kind_name(L->kind);
            if (L->kind != GA_LAYER_CONV)
                gm.oc = gm.c;
            if (!ga_geom_finish(&gm) || gm.c * gm.h * gm.w != fan_in || gm.oc != L->geom.oc ||
                gm.oc * gm.ho * gm.wo != L->n_out)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: a %s of input (%zu, %zu, %zu), kernel "
                               "(%zu, %zu), strides (%zu, %zu), padding (%zu, %zu) does not fit "
                               "its input width %zu or its size %zu", l, kn, L->geom.c, L->geom.h,
                               L->geom.w, L->geom.kh, L->geom.kw, L->geom.sh, L->geom.sw,
                               L->geom.ph, L->geom.pw, fan_in, L->n_out);
            if (L->kind != GA_LAYER_CONV && (L->act != GA_ACT_IDENTITY || L->geom.ph || L->geom.pw ||
                                             L->geom.kh * L->geom.kw > GA_POOL_MAX_WINDOW))
                return ga_fail(err, GA_EINVAL, "layers[%zu]: a %s has no activation, no padding and "
                               "a window of at most %d entries", l, kn, GA_POOL_MAX_WINDOW);
            if (L->act == GA_ACT_SOFTMAX)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: a conv's activation is elementwise "
                               "(not softmax)", l);
            if (l + 1 == desc->n_layers)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: the last layer is a %s; the loss reads "
                               "a dense layer's output", l, kn);
        } else if (L->kind == GA_LAYER_EMBEDDING) {
            size_t td;
            if (l != 0)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: an embedding must be the first layer "
                               "(it reads the ids in x)", l);
            if (L->vocab == 0 || L->vocab > GA_MAX_WIDTH || L->dim == 0 || L->dim > GA_MAX_WIDTH)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: vocab %zu and dim %zu must be 1 .. %zu",
                               l, L->vocab, L->dim, (size_t)GA_MAX_WIDTH);
            if (!ga_size_mul(&td, fan_in, L->dim) || L->n_out != td)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: an embedding of %zu ids of dim %zu has "
                               "width %zu (its size is %zu)", l, fan_in, L->dim, fan_in * L->dim,
                               L->n_out);
            if (L->act != GA_ACT_IDENTITY || l + 1 == desc->n_layers)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: an embedding has no activation and "
                               "is followed by another layer", l);
        } else if (L->kind != GA_LAYER_DENSE) {
            const char *kn = ga_layer_kind_name(L->kind);
            if (L->kind == GA_LAYER_ATTENTION) {
                size_t T = ga_layer_tokens(L), H = L->heads;
                if (T < 1 || H < 1 || fan_in % (3 * T) || (fan_in / (3 * T)) % H ||
                    L->n_out != fan_in / 3 || !(L->act_param > 0))
                    return ga_fail(err, GA_EINVAL, "layers[%zu]: attention over %zu tokens and %zu "
                                   "heads needs an input of 3 T d numbers (%zu), d a multiple of "
                                   "the heads, an output of T d (%zu) and a scale > 0 (%g)", l, T,
                                   H, fan_in, L->n_out, L->act_param);
            }
            if (L->kind == GA_LAYER_DROPOUT && !(L->p >= 0 && L->p < 1))
                return ga_fail(err, GA_EINVAL, "layers[%zu].p: %g must be in [0, 1)", l, L->p);
            if (L->kind == GA_LAYER_DROPOUT && !(L->act_param > 0))
                return ga_fail(err, GA_EINVAL, "layers[%zu]: dropout's scale (act_param) %g must be "
                               "> 0: 1/(1 - p), as the code under test holds it", l, L->act_param);
            if (L->kind == GA_LAYER_RNN) {
                size_t T = ga_layer_tokens(L);
                if (fan_in % T || L->n_out % T || L->act == GA_ACT_SOFTMAX)
                    return ga_fail(err, GA_EINVAL, "layers[%zu]: an rnn over %zu steps needs input "
                                   "(%zu) and output (%zu) widths the steps divide, and an "
                                   "elementwise activation", l, T, fan_in, L->n_out);
            }
            if (L->kind != GA_LAYER_ATTENTION && L->kind != GA_LAYER_RNN && L->kind != GA_LAYER_CONCAT &&
                L->n_out != fan_in)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: a %s layer keeps its input's width %zu "
                               "(its size is %zu)", l, kn, fan_in, L->n_out);
            if (L->act != GA_ACT_IDENTITY && L->kind != GA_LAYER_RNN)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: a %s layer has no activation (put a "
                               "dense layer after it)", l, kn);
            if (l + 1 == desc->n_layers)
                return ga_fail(err, GA_EINVAL, "layers[%zu]: the last layer is %s; the loss reads a "
                               "dense layer's output (end with a dense layer)", l, kn);
            if ((L->kind == GA_LAYER_LAYERNORM || L->kind == GA_LAYER_RMSNORM ||
                 L->kind == GA_LAYER_BATCHNORM) &&
                !(isfinite(L->eps) && L->eps > 0))
                return ga_fail(err, GA_EINVAL, "layers[%zu].eps: %g must be finite and > 0", l, L->eps);
            if (L->kind == GA_LAYER_CONCAT) {
                if (L->from > l)
                    return ga_fail(err, GA_EINVAL, "layers[%zu].from: %zu names no earlier layer", l,
                                   L->from);
                size_t wf = L->from == 0 ? desc->n_in : desc->layers[L->from - 1].n_out;
                if (L->n_out != fan_in + wf)
                    return ga_fail(err, GA_EINVAL, "layers[%zu]: a concat of %zu and %zu numbers has "
                                   "width %zu (its size is %zu)", l, fan_in, wf, fan_in + wf, L->n_out);
            }
            if (L->kind == GA_LAYER_RESIDUAL) {
                if (L->from > l)
                    return ga_fail(err, GA_EINVAL, "layers[%zu].from: %zu names no earlier layer "
                                   "(0 is the input, 1 .. %zu the layers before this one)", l,
                                   L->from, l);
                size_t wf = L->from == 0 ? desc->n_in : desc->layers[L->from - 1].n_out;
                if (wf != fan_in)
                    return ga_fail(err, GA_EINVAL, "layers[%zu].from: %s has width %zu, this "
                                   "layer's input %zu (a residual add needs equal widths)", l,
                                   L->from == 0 ? "the input" : "that layer", wf, fan_in);
            }
        }
        size_t T = ga_layer_tokens(L);
        if (T > 1 && L->kind != GA_LAYER_ATTENTION && L->kind != GA_LAYER_RNN &&
            (!(L->kind == GA_LAYER_DENSE || L->kind == GA_LAYER_LAYERNORM ||
               L->kind == GA_LAYER_RMSNORM) ||
                      fan_in % T || L->n_out % T || L->act == GA_ACT_SOFTMAX))
            return ga_fail(err, GA_EINVAL, "layers[%zu].tokens: %zu tokens need a dense layer or a "
                           "norm whose input (%zu) and output (%zu) widths they divide, and an "
                           "elementwise activation", l, T, fan_in, L->n_out);
        if (L->n_out == 0 || L->n_out > GA_MAX_WIDTH)
            return ga_fail(err, GA_EINVAL, "layers[%zu].size: %zu is outside 1..%zu", l, L->n_out,
                           (size_t)GA_MAX_WIDTH);
        if ((unsigned)L->act >= GA_ACT_COUNT)
            return ga_fail(err, GA_EINVAL, "layers[%zu].activation: unknown activation %d", l,
                           (int)L->act);
        if (!isfinite(L->act_param))
            return ga_fail(err, GA_EINVAL, "layers[%zu]: activation parameter is not finite", l);
        size_t w, wb;
        if (!ga_layer_param_counts(&w, &wb, L, fan_in) || !ga_size_add(&wb, w, wb) ||
            !ga_size_add(&total, total, wb))
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
    for (size_t l = 0; l < desc->n_layers; l++) { /* a conv's or a pool's output size, validated */
        ga_layer_desc *L = &net->desc.layers[l];
        if (L->kind == GA_LAYER_MAXPOOL || L->kind == GA_LAYER_AVGPOOL)
            L->geom.oc = L->geom.c;
        if (L->kind == GA_LAYER_CONV || L->kind == GA_LAYER_MAXPOOL || L->kind == GA_LAYER_AVGPOOL)
            ga_geom_finish(&L->geom);
    }
    size_t offset = 0, fan_in = desc->n_in;
    for (size_t l = 0; l < desc->n_layers; l++) {
        const ga_layer_desc *L = &desc->layers[l];
        size_t fan_out = L->n_out, n_first, n_second;
        ga_layer_param_counts(&n_first, &n_second, L, fan_in); /* validated */
        ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
        W->layer = b->layer = l;
        ga_view_name(W->name, sizeof W->name, desc, 2 * l);
        ga_view_name(b->name, sizeof b->name, desc, 2 * l + 1);
        ga_view_shape(&W->rows, &W->cols, desc, 2 * l);
        ga_view_shape(&b->rows, &b->cols, desc, 2 * l + 1);
        W->is_weight = L->kind == GA_LAYER_DENSE || L->kind == GA_LAYER_CONV || L->kind == GA_LAYER_RNN;
        b->is_bias = L->kind == GA_LAYER_DENSE || L->kind == GA_LAYER_CONV ||
                     L->kind == GA_LAYER_LAYERNORM || L->kind == GA_LAYER_RNN ||
                     L->kind == GA_LAYER_BATCHNORM;
        W->offset = offset;
        offset += n_first;
        b->offset = offset;
        offset += n_second;
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

int ga_workspace_scratch(size_t *entries, const ga_net_desc *d)
{
    size_t most = 0, n;
    for (size_t l = 0; l < d->n_layers; l++) {
        const ga_layer_desc *L = &d->layers[l];
        const ga_geom *g = &L->geom;
        size_t T = ga_layer_tokens(L);
        int ok = 1;
        if (L->kind == GA_LAYER_CONV)
            ok = ga_size_mul(&n, g->c * g->kh * g->kw, g->ho) && ga_size_mul(&n, n, g->wo);
        else if (L->kind == GA_LAYER_ATTENTION)
            ok = ga_size_mul(&n, T, T) && ga_size_mul(&n, n, L->heads + 1);
        else
            n = 0;
        if (!ok)
            return GA_ERANGE;
        if (n > most)
            most = n;
    }
    *entries = most;
    return GA_OK;
}

int ga_workspace_alloc(ga_workspace **out, ga_error *err, const ga_net *net, size_t max_batch)
{
    *out = NULL;
    if (!net)
        return ga_fail(err, GA_EINVAL, "no network");
    if (max_batch == 0)
        return ga_fail(err, GA_EINVAL, "batch size must be at least 1");
    const ga_net_desc *d = &net->desc;
    size_t per_sample = 0, max_width = d->n_in, per_layer = ga_net_desc_is_chain(d) ? 3 : 4;
    for (size_t l = 0; l < d->n_layers; l++) {
        size_t n = d->layers[l].n_out;
        if (n > max_width)
            max_width = n;
        if (!ga_size_add(&per_sample, per_sample, per_layer * n))
            return ga_fail(err, GA_ERANGE, "workspace size overflows");
    }
    size_t total, deltas, bytes, scratch;
    if (ga_workspace_scratch(&scratch, d) != GA_OK)
        return ga_fail(err, GA_ERANGE, "workspace size overflows");
    if (!ga_size_add(&per_sample, per_sample, 2 * max_width) || !ga_size_mul(&total, per_sample, max_batch) ||
        !ga_size_add(&total, total, scratch) || !ga_size_mul(&bytes, total, sizeof(double)))
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
    if (per_layer == 4)
        ws->grad_a = calloc(d->n_layers, sizeof *ws->grad_a);
    ws->buf = malloc(bytes);
    if (!ws->z || !ws->a || !ws->dact || !ws->buf || (per_layer == 4 && !ws->grad_a)) {
        ga_workspace_free(ws);
        return ga_fail(err, GA_ENOMEM, "out of memory for %zu bytes of workspace", bytes);
    }
    double *p = ws->buf;
    for (size_t l = 0; l < d->n_layers; l++) {
        size_t n = max_batch * d->layers[l].n_out;
        ws->z[l] = p, p += n;
        ws->a[l] = p, p += n;
        ws->dact[l] = p, p += n;
        if (ws->grad_a)
            ws->grad_a[l] = p, p += n;
    }
    ws->delta = p, p += deltas;
    ws->delta_prev = p, p += deltas;
    ws->scratch = scratch ? p : NULL;
    ws->n_scratch = scratch;
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
    free(ws->grad_a);
    free(ws->buf);
    free(ws);
}
