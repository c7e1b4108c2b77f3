/* bench_mcscale: seconds per Monte Carlo rounding scale (ga_rounding_compute:
 * GA_ROUNDING_RUNS perturbed forward + backward passes of the generic
 * reference, on two threads), for issue 13's "no slower than 1.5x".
 *
 * usage: bench_mcscale [WIDTH DEPTH BATCH REPS]   (default 64 4 16 20)
 *
 * Net: ga_randnet, tanh hidden layers, MSE mean, row layout, seed 7. Prints
 * the best and the median of REPS timings. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_mlp.h"
#include "ga_randnet.h"
#include "ga_rounding.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t width = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    size_t depth = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 16;
    int reps = argc > 4 ? atoi(argv[4]) : 20;
    if (width == 0 || depth == 0 || depth > GA_RANDNET_MAX_LAYERS || batch == 0 || reps < 1 ||
        reps > 1000) {
        fprintf(stderr, "usage: bench_mcscale [WIDTH DEPTH(1..%d) BATCH REPS(1..1000)]\n",
                GA_RANDNET_MAX_LAYERS);
        return 2;
    }
    ga_error err;
    ga_randnet p;
    if (ga_randnet_make(&p, &err, GA_LAYOUT_ROW, GA_ACT_TANH, GA_LOSS_MSE, GA_REDUCE_MEAN, batch,
                        depth, width, 0.0, 7)) {
        fprintf(stderr, "bench_mcscale: %s\n", err.msg);
        return 3;
    }
    ga_rounding *r;
    if (ga_rounding_alloc(&r, &err, p.net, batch, GA_ROUNDING_RUNS)) {
        fprintf(stderr, "bench_mcscale: %s\n", err.msg);
        return 3;
    }
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t)
        return 3;
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        if (ga_rounding_compute(r, &err, p.net, p.net->params, p.x, p.y, batch, 1)) {
            fprintf(stderr, "bench_mcscale: %s\n", err.msg);
            return 3;
        }
        t[i] = bench_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    printf("mcscale width %zu depth %zu batch %zu params %zu: best %.6f s, median %.6f s (%d reps)\n",
           width, depth, batch, p.net->n_params, t[0], t[reps / 2], reps);
    free(t);
    ga_rounding_free(r);
    ga_randnet_clear(&p);
    return 0;
}
