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
