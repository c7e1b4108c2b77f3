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

#include "bench_mlp.h"
#include "ga_core.h"

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
    ga_net *net;
    ga_workspace *ws;
    ga_error err;
    double *x, *y, *times = malloc(reps * sizeof *times);
    if (!times || bench_core_net(&net, &ws, &x, &y, &err, width, depth, batch)) {
        fprintf(stderr, "bench_core: %s\n", times ? err.msg : "out of memory");
        return 3;
    }
    double loss, flops = 2.0 * batch * width * width * (3.0 * depth - 1.0);
    ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, batch); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, batch);
        times[r] = bench_now() - t0;
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
    free(x), free(y), free(times);
    ga_workspace_free(ws);
    ga_net_free(net);
    return 0;
}
