/* bench_cross: what the per-run cross-check adds to the oracle, by sample.
 * On the sigmoid w-w-w-1 MLP of bench_check (batch 32, MSE mean, NumPy's
 * legacy stream with seed 2026), times the oracle's loss and gradient alone
 * (GA_ORACLE_LOSS | GA_ORACLE_GRADIENT, the fastest of six runs), then the
 * same with GA_ORACLE_CROSS_CHECK on 2 entries for sample seeds 1..N (an
 * oracle each: the seed is an option), and prints the
 * extra time's min, mean and max: the entries drawn decide it (a first-layer
 * entry moves every unit of the layer above, a last-layer entry almost
 * nothing). ENGINE: the oracle's route (b), ball (the library's default) or
 * mpfr. usage: bench_cross W [N [ENGINE]] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mlp.h"
#include "ga_oracle.h"

int main(int argc, char **argv)
{
    const size_t B = 32;
    const uint32_t seed = 2026;
    size_t w = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    int n_samples = argc > 2 ? atoi(argv[2]) : 20;
    const char *engine = argc > 3 ? argv[3] : "ball";
    if (w < 1 || w > 4096 || n_samples < 1 || (strcmp(engine, "ball") && strcmp(engine, "mpfr"))) {
        fprintf(stderr, "usage: bench_cross W [N [ENGINE]], 1 <= W <= 4096, N >= 1, ENGINE ball "
                "or mpfr\n");
        return 2;
    }
    ga_net *net;
    ga_error err;
    double *x, *y;
    if (bench_sigmoid_mlp(&net, &x, &y, &err, w, B, seed)) { /* the draws of bench_check */
        fprintf(stderr, "bench_cross: %s\n", err.msg);
        return 3;
    }
    size_t P = net->n_params;
    const unsigned both = GA_ORACLE_LOSS | GA_ORACLE_GRADIENT;
    ga_oracle_options opt;
    ga_oracle_options_default(&opt);
    opt.cross_count = 2;
    opt.engine = strcmp(engine, "ball") ? GA_ORACLE_MPFR : GA_ORACLE_BALL;
    ga_oracle *o;
    ga_oracle_result res;
    /* the loss and gradient alone: the fastest of 6 runs (the first warms up) */
    double t0, base = INFINITY, lo = INFINITY, hi = 0, sum = 0;
    if (ga_oracle_alloc(&o, &err, net, net->params, x, y, B, &opt)) {
        fprintf(stderr, "bench_cross: %s\n", err.msg);
        return 3;
    }
    for (int r = 0; r < 6; r++) {
        t0 = bench_now();
        if (ga_oracle_run(&res, &err, o, both)) {
            fprintf(stderr, "bench_cross: %s\n", err.msg);
            return 3;
        }
        double t = bench_now() - t0;
        base = t < base ? t : base;
    }
    ga_oracle_free(o);
    size_t all_mism = 0;
    for (int s = 1; s <= n_samples; s++) {
        opt.cross_seed = (uint64_t)s;
        t0 = bench_now();
        if (ga_oracle_alloc(&o, &err, net, net->params, x, y, B, &opt) ||
            ga_oracle_run(&res, &err, o, both | GA_ORACLE_CROSS_CHECK)) {
            fprintf(stderr, "bench_cross: sample seed %d: %s\n", s, err.msg);
            return 3;
        }
        double extra = bench_now() - t0 - base;
        ga_oracle_free(o);
        lo = extra < lo ? extra : lo;
        hi = extra > hi ? extra : hi;
        sum += extra;
        all_mism += res.mismatches;
    }
    printf("# bench_cross seed %u, batch %zu, sigmoid %zu-%zu-%zu-1, 2 entries per sample, "
           "engine %s\n", seed, B, w, w, w, engine);
    printf("w %zu entries %zu: loss and gradient %.4f s; cross-check extra over %d samples: "
           "min %.4f mean %.4f max %.4f s; mismatches %zu\n",
           w, P, base, n_samples, lo, sum / n_samples, hi, all_mism);
    free(x), free(y);
    ga_net_free(net);
    return 0;
}
