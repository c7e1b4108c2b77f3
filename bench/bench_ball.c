/* bench_ball: the generic reference in Arb's balls (oracle/ga_refball.h)
 * against the MPFR oracle's reverse pass (ga_oracle_loss_gradient), on
 * bench_check's networks (sigmoid w-w-w-1, batch 32, MSE mean, seed 2026):
 * seconds of each for the loss and every gradient entry settled, their
 * ratio, the precision each settled at, and whether every entry both settle
 * is the same double. Issue 16's first measurement.
 *
 * usage: bench_ball [SEED [MAX_W]]   (default 2026 128) */
#include <stdio.h>
#include <stdlib.h>

#include "bench_mlp.h"
#include "ga_oracle.h"
#include "ga_refball.h"

int main(int argc, char **argv)
{
    const uint32_t seed = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 2026;
    const size_t max_w = argc > 2 ? strtoul(argv[2], NULL, 10) : 128, B = 32;
    printf("# bench_ball seed %u, batch %zu, sigmoid w-w-w-1, mse(mean)\n", seed, B);
    printf("%4s %8s %12s %12s %7s %6s %6s %9s %6s\n", "w", "entries", "mpfr_s", "ball_s", "ratio",
           "prec_m", "prec_b", "unsettled", "differ");
    for (size_t w = 8; w <= max_w; w *= 2) {
        ga_net *net;
        ga_error err;
        double *x, *y;
        if (bench_sigmoid_mlp(&net, &x, &y, &err, w, B, seed)) {
            fprintf(stderr, "bench_ball: %s\n", err.msg);
            return 3;
        }
        size_t n = net->n_params;
        double *go = malloc(n * sizeof *go), *gb = malloc(n * sizeof *gb), lo, lb;
        unsigned char *ok = malloc(n);
        if (!go || !gb || !ok)
            return 3;
        ga_oracle_options opt;
        ga_oracle_options_default(&opt);
        ga_oracle_stats so;
        double t0 = bench_now();
        int st = ga_oracle_loss_gradient(&lo, NULL, go, NULL, NULL, &so, &err, net, net->params, x,
                                         y, B, &opt);
        double t1 = bench_now();
        if (st) {
            fprintf(stderr, "bench_ball: oracle: %s\n", err.msg);
            return 3;
        }
        ga_refball_stats sb;
        int lok;
        double t2 = bench_now();
        st = ga_refball_loss_gradient(&lb, NULL, &lok, gb, NULL, ok, &sb, &err, net, net->params, x, y,
                                      B, 128, 8192, NULL);
        double t3 = bench_now();
        if (st) {
            fprintf(stderr, "bench_ball: ball: %s\n", err.msg);
            return 3;
        }
        size_t differ = lok && lb != lo;
        for (size_t i = 0; i < n; i++)
            differ += ok[i] && gb[i] != go[i];
        printf("%4zu %8zu %12.4f %12.4f %7.2f %6ld %6ld %9zu %6zu\n", w, n, t1 - t0, t3 - t2,
               (t1 - t0) / (t3 - t2), so.final_prec, sb.final_prec, sb.unsettled, differ);
        free(go);
        free(gb);
        free(ok);
        free(x);
        free(y);
        ga_net_free(net);
    }
    return 0;
}
