/* bench_mlp.c: see bench_mlp.h. */
#include "bench_mlp.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "ga_random.h"

int bench_sigmoid_mlp(ga_net **net, double **x, double **y, ga_error *err, size_t w, size_t B,
                      uint32_t seed)
{
    ga_layer_desc layers[3] = {{w, GA_ACT_SIGMOID, 0}, {w, GA_ACT_SIGMOID, 0}, {1, GA_ACT_SIGMOID, 0}};
    ga_net_desc d = {GA_LAYOUT_ROW, w, 3, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_MEAN, 0.0}};
    int status = ga_net_alloc(net, err, &d);
    if (status)
        return status;
    ga_rng rng;
    ga_rng_seed(&rng, seed);
    for (size_t v = 0; v < (*net)->n_views; v++) {
        const ga_view *V = &(*net)->views[v];
        size_t fan_in = V->layer == 0 ? w : layers[V->layer - 1].n_out;
        double sc = V->is_bias ? 0.5 : 1.0 / sqrt((double)fan_in);
        for (size_t i = 0; i < V->rows * V->cols; i++)
            (*net)->params[V->offset + i] = ga_rng_gauss(&rng) * sc;
    }
    *x = malloc(B * w * sizeof **x);
    *y = malloc(B * sizeof **y);
    if (!*x || !*y) {
        free(*x), free(*y);
        ga_net_free(*net);
        return ga_fail(err, GA_ENOMEM, "out of memory for a batch of %zu", B);
    }
    ga_rng_fill_gauss(*x, B * w, &rng);
    ga_rng_fill_uniform(*y, B, &rng);
    return GA_OK;
}

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int bench_core_net(ga_net **net, ga_workspace **ws, double **x, double **y, ga_error *err,
                   size_t width, size_t depth, size_t batch)
{
    *net = NULL, *ws = NULL, *x = *y = NULL;
    ga_layer_desc *layers = malloc(depth * sizeof *layers);
    if (!layers)
        return ga_fail(err, GA_ENOMEM, "out of memory");
    for (size_t l = 0; l < depth; l++)
        layers[l] = (ga_layer_desc){width, GA_ACT_SIGMOID, 0};
    ga_net_desc d = {GA_LAYOUT_ROW, width, depth, layers, {GA_LOSS_MSE, 1, GA_REDUCE_MEAN, 0}};
    int st = ga_net_alloc(net, err, &d);
    free(layers);
    if (st == GA_OK)
        st = ga_workspace_alloc(ws, err, *net, batch);
    if (st == GA_OK) {
        *x = malloc(batch * width * sizeof **x);
        *y = malloc(batch * width * sizeof **y);
        if (!*x || !*y)
            st = ga_fail(err, GA_ENOMEM, "out of memory");
    }
    if (st != GA_OK) {
        ga_workspace_free(*ws);
        ga_net_free(*net);
        free(*x), free(*y);
        *net = NULL, *ws = NULL, *x = *y = NULL;
        return st;
    }
    ga_rng rng;
    ga_rng_seed(&rng, 0);
    ga_rng_fill_gauss((*net)->params, (*net)->n_params, &rng);
    for (size_t i = 0; i < (*net)->n_params; i++)
        (*net)->params[i] *= 0.04;
    ga_rng_fill_gauss(*x, batch * width, &rng);
    ga_rng_fill_uniform(*y, batch * width, &rng);
    return GA_OK;
}
