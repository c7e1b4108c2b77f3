/* bench_core: forward + backward of a sigmoid MLP with MSE, in GFLOP/s.
 *
 * usage: bench_core [WIDTH DEPTH BATCH REPS]   (default 512 8 256 20)
 * Every layer is WIDTH wide (input too). The FLOP count is that of the three
 * products per layer a dense backward pass needs: Z = A W (forward),
 * dW = A^T dZ, and dA = dZ W^T for every layer but the first, each
 * 2 * BATCH * WIDTH^2; bench/bench_numpy.py counts the same steps. Prints the
 * best and the median time of REPS repetitions. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ga_core.h"
#include "ga_random.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t width = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
    size_t depth = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 256;
    int reps = argc > 4 ? atoi(argv[4]) : 20;
    if (!width || !depth || !batch || reps < 1 || reps > 10000) {
        fprintf(stderr, "usage: bench_core [WIDTH DEPTH BATCH REPS]\n");
        return 2;
    }
    ga_layer_desc *layers = malloc(depth * sizeof *layers);
    if (!layers)
        return 3;
    for (size_t l = 0; l < depth; l++)
        layers[l] = (ga_layer_desc){width, GA_ACT_SIGMOID, 0};
    ga_net_desc d = {GA_LAYOUT_ROW, width, depth, layers, {GA_LOSS_MSE, 1, GA_REDUCE_MEAN, 0}};
    ga_net *net;
    ga_workspace *ws;
    ga_error err;
    if (ga_net_alloc(&net, &err, &d) || ga_workspace_alloc(&ws, &err, net, batch)) {
        fprintf(stderr, "bench_core: %s\n", err.msg);
        return 3;
    }
    ga_rng rng;
    ga_rng_seed(&rng, 0);
    double *x = malloc(batch * width * sizeof *x), *y = malloc(batch * width * sizeof *y);
    double *times = malloc(reps * sizeof *times);
    if (!x || !y || !times)
        return 3;
    ga_rng_fill_gauss(net->params, net->n_params, &rng);
    for (size_t i = 0; i < net->n_params; i++)
        net->params[i] *= 0.04; /* ~ 1/sqrt(512): keeps sigmoid out of saturation */
    ga_rng_fill_gauss(x, batch * width, &rng);
    ga_rng_fill_uniform(y, batch * width, &rng);
    double loss, flops = 2.0 * batch * width * width * (3.0 * depth - 1.0);
    ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, batch); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, batch);
        times[r] = now() - t0;
    }
    qsort(times, reps, sizeof *times, cmp);
    printf("gradaudit core (%s): width %zu depth %zu batch %zu: best %.2f ms (%.1f GFLOP/s), "
           "median %.2f ms (%.1f GFLOP/s), loss %.6g\n",
#ifdef GA_CBLAS_OPENBLAS
           "OpenBLAS",
#else
           "GSL CBLAS",
#endif
           width, depth, batch, 1e3 * times[0], flops / times[0] * 1e-9, 1e3 * times[reps / 2],
           flops / times[reps / 2] * 1e-9, loss);
    free(x), free(y), free(times), free(layers);
    ga_workspace_free(ws);
    ga_net_free(net);
    return 0;
}
