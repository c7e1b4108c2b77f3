/* bench_oracle_cost: the exact oracle's cost as a multiple of one double
 * forward + backward pass of the same net (issue 16's second bench).
 *
 * usage: bench_oracle_cost [SEED [MAXW]]
 * Sigmoid MLPs w-w-w-1, batch 32, MSE mean (bench_check's nets), w = 22, 70,
 * 223, 706: 1.0e3, 1.0e4, 1.0e5 and 1.0e6 parameters (up to MAXW, default
 * 706). Per net: the core's ga_loss_and_grad (median of repetitions that
 * fill about a second, after a warm-up), the oracle's loss and gradient
 * (ga_oracle_run, LOSS | GRADIENT; the ball engine, the default; best of 3,
 * 1 at w = 706), and the whole check (ga_check_run, the default method and
 * cross-check; once); each time and its ratio to the core's. Build with
 * -Dcblas=openblas for the figure (the core is BLAS-bound, the
 * oracle is not). */
#include <stdio.h>
#include <stdlib.h>

#include "bench_mlp.h"
#include "ga_check.h"
#include "ga_oracle.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const size_t widths[] = {22, 70, 223, 706}, B = 32;
    const uint32_t seed = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 2026;
    const size_t max_w = argc > 2 ? strtoul(argv[2], NULL, 10) : 706;
    printf("# bench_oracle_cost seed %u, batch %zu, sigmoid w-w-w-1, mse(mean), core %s\n", seed,
           B,
#ifdef GA_CBLAS_OPENBLAS
           "OpenBLAS"
#else
           "GSL CBLAS"
#endif
    );
    printf("%5s %9s %11s %11s %9s %11s %9s %5s %5s\n", "w", "params", "core_ms", "oracle_ms",
           "oracle_x", "check_ms", "check_x", "prec", "FAIL");
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths && widths[wi] <= max_w; wi++) {
        size_t w = widths[wi];
        ga_net *net;
        ga_workspace *ws;
        ga_error err;
        double *x, *y, loss;
        if (bench_sigmoid_mlp(&net, &x, &y, &err, w, B, seed) ||
            ga_workspace_alloc(&ws, &err, net, B)) {
            fprintf(stderr, "bench_oracle_cost: %s\n", err.msg);
            return 3;
        }
        /* the core: median of as many passes as fill about a second */
        double t0 = bench_now();
        ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, B);
        double one = bench_now() - t0;
        int reps = one > 0 ? (int)(1.0 / one) : 1000;
        reps = reps < 5 ? 5 : reps > 2000 ? 2000 : reps;
        double *t = malloc(reps * sizeof *t);
        for (int r = 0; r < reps; r++) {
            t0 = bench_now();
            ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, B);
            t[r] = bench_now() - t0;
        }
        qsort(t, reps, sizeof *t, cmp);
        double core = t[reps / 2];
        free(t);
        /* the oracle's loss and gradient */
        double orc = 1e300;
        long prec = 0;
        for (int r = 0; r < (w >= 706 ? 1 : 3); r++) {
            ga_oracle *o;
            ga_oracle_result res;
            t0 = bench_now();
            if (ga_oracle_alloc(&o, &err, net, net->params, x, y, B, NULL) ||
                ga_oracle_run(&res, &err, o, GA_ORACLE_LOSS | GA_ORACLE_GRADIENT)) {
                fprintf(stderr, "bench_oracle_cost: w=%zu: %s\n", w, err.msg);
                return 3;
            }
            double dt = bench_now() - t0;
            prec = res.stats.final_prec;
            ga_oracle_free(o);
            if (dt < orc)
                orc = dt;
        }
        /* the whole check */
        ga_check_options opt;
        ga_check_options_default(&opt);
        opt.seed = seed;
        opt.top_k = 0;
        ga_check_report *rep;
        t0 = bench_now();
        if (ga_check_run(&rep, &err, net, net->params, x, y, B, &opt)) {
            fprintf(stderr, "bench_oracle_cost: w=%zu: check: %s\n", w, err.msg);
            return 3;
        }
        double chk = bench_now() - t0;
        printf("%5zu %9zu %11.3f %11.1f %9.0f %11.1f %9.0f %5ld %5zu\n", w, net->n_params,
               1e3 * core, 1e3 * orc, orc / core, 1e3 * chk, chk / core, prec, rep->n_fail);
        fflush(stdout);
        ga_check_report_free(rep);
        ga_workspace_free(ws);
        free(x);
        free(y);
        ga_net_free(net);
    }
    return 0;
}
