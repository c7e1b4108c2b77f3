/* bench_check: time of a full per-entry oracle check (analytic gradient, its
 * running error bound, the MPFR oracle gradient and loss, a verdict for every
 * entry) of sigmoid MLPs w-w-w-1, batch 32, MSE (mean), w = 8, 16, 32, 64.
 * Parameters and data are drawn from NumPy's legacy stream (seed printed);
 * bench_gradcheck.py builds the same networks for torch.autograd.gradcheck.
 * Two threads (the oracle's). Prints one line per width: w, entries, seconds, verdicts,
 * the oracle's precision, the entries cross-checked and their mismatches.
 * usage: bench_check [SEED [CROSS [ENGINE [MAXW [REPS]]]]]: CROSS entries of
 * the oracle's reverse pass are compared with its MPFR differences (the
 * library's default when absent or "-"; 0 times the verdicts alone); ENGINE
 * the oracle's route (b), mpfr or ball (the library's default when absent);
 * widths up to MAXW (default 128); each check run REPS times (default 1),
 * the fastest printed (the first run of a process pays its first calls). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mlp.h"
#include "ga_check.h"

int main(int argc, char **argv)
{
    const size_t widths[] = {8, 16, 32, 64, 128}, B = 32;
    const uint32_t seed = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 2026;
    ga_check_options dflt;
    ga_check_options_default(&dflt);
    const size_t cross = argc > 2 && strcmp(argv[2], "-") ? strtoul(argv[2], NULL, 10)
                                                           : dflt.cross_check;
    int engine = dflt.oracle.engine;
    if (argc > 3 && strcmp(argv[3], "mpfr") && strcmp(argv[3], "ball")) {
        fprintf(stderr, "bench_check: engine '%s': mpfr or ball\n", argv[3]);
        return 2;
    }
    if (argc > 3)
        engine = strcmp(argv[3], "ball") ? GA_ORACLE_MPFR : GA_ORACLE_BALL;
    const size_t max_w = argc > 4 ? strtoul(argv[4], NULL, 10) : 128;
    const int reps = argc > 5 ? atoi(argv[5]) : 1;
    if (reps < 1 || reps > 1000) {
        fprintf(stderr, "bench_check: reps %d: 1 .. 1000\n", reps);
        return 2;
    }
    printf("# bench_check seed %u, batch %zu, sigmoid w-w-w-1, mse(mean), method oracle, "
           "cross-check %zu entries, engine %s\n", seed, B, cross,
           engine == GA_ORACLE_BALL ? "ball" : "mpfr");
    printf("%4s %8s %10s %6s %6s %6s %6s %7s %5s %24s\n", "w", "entries", "seconds", "pass", "FAIL",
           "kink", "prec", "crossed", "mism", "loss");
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths && widths[wi] <= max_w; wi++) {
        size_t w = widths[wi];
        ga_net *net;
        ga_error err;
        double *x, *y;
        if (bench_sigmoid_mlp(&net, &x, &y, &err, w, B, seed)) {
            fprintf(stderr, "bench_check: %s\n", err.msg);
            return 3;
        }
        ga_check_options o;
        ga_check_options_default(&o);
        o.seed = seed;
        o.top_k = 0;
        o.cross_check = cross;
        o.oracle.engine = engine;
        ga_check_report *r = NULL;
        double best = INFINITY;
        for (int k = 0; k < reps; k++) {
            ga_check_report_free(r);
            double t0 = bench_now();
            int st = ga_check_run(&r, &err, net, net->params, x, y, B, &o);
            double t1 = bench_now();
            if (st) {
                fprintf(stderr, "bench_check: w=%zu: %s\n", w, err.msg);
                return 3;
            }
            best = t1 - t0 < best ? t1 - t0 : best;
        }
        printf("%4zu %8zu %10.4f %6zu %6zu %6zu %6ld %7zu %5zu %24.17g\n", w, r->n_entries, best,
               r->n_pass, r->n_fail, r->n_kink, r->oracle_stats.final_prec, r->cross_checked,
               r->cross_mismatches, r->loss);
        ga_check_report_free(r);
        free(x);
        free(y);
        ga_net_free(net);
    }
    return 0;
}
