/* bench_mpfr_ops: what the oracle's MPFR operations cost, the figures
 * oracle/orc_route_a.c and bench/README.md quote. At prec bits (default 160):
 *   - a multiply-add summed over 64 products whose operands repeat for every
 *     output (the branches inside MPFR repeat too), against a 64-wide layer
 *     of 32 samples whose operands differ for every output, as in the
 *     oracle's forward pass;
 *   - mpfr_exp on [-2, 2];
 *   - mpfr_expm1 on |x| = 2^-20 .. 2^-50, the moves of z in route (a).
 * Operands: doubles from a fixed LCG, a third of them divided by 3 (full
 * precision). Prints nanoseconds per operation, the fastest of 3 runs.
 * usage: bench_mpfr_ops [PREC] */
#include <stdio.h>
#include <stdlib.h>

#include <mpfr.h>

#include "bench_mlp.h"

static double lcg(unsigned long long *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1p-53 - 0.5;
}

int main(int argc, char **argv)
{
    long p = argc > 1 ? strtol(argv[1], NULL, 10) : 160;
    if (p < 53 || p > 4096) {
        fprintf(stderr, "usage: bench_mpfr_ops [PREC], 53 <= PREC <= 4096\n");
        return 2;
    }
    enum { W = 64, B = 32 };
    static mpfr_t wt[W * W], xs[B * W], z[B * W];
    mpfr_t t, e;
    unsigned long long s = 1;
    for (int i = 0; i < W * W; i++) {
        mpfr_init2(wt[i], p);
        mpfr_set_d(wt[i], lcg(&s) / 8, MPFR_RNDN);
    }
    for (int i = 0; i < B * W; i++) {
        mpfr_inits2(p, xs[i], z[i], (mpfr_ptr)0);
        mpfr_set_d(xs[i], lcg(&s), MPFR_RNDN);
        mpfr_div_ui(xs[i], xs[i], 3, MPFR_RNDN);
    }
    mpfr_inits2(p, t, e, (mpfr_ptr)0);
    double rep = 1e9, layer = 1e9, ex = 1e9, em1[4] = {1e9, 1e9, 1e9, 1e9};
    for (int run = 0; run < 3; run++) {
        /* the same 64 weights for every output: z[n,k] = sum_j x[n,j] w[j] */
        double t0 = bench_now();
        for (int n = 0; n < B; n++)
            for (int k = 0; k < W; k++) {
                mpfr_set_zero(z[n * W + k], 1);
                for (int j = 0; j < W; j++) {
                    mpfr_mul(t, xs[n * W + j], wt[j], MPFR_RNDN);
                    mpfr_add(z[n * W + k], z[n * W + k], t, MPFR_RNDN);
                }
            }
        double d = (bench_now() - t0) / (B * W * W) * 1e9;
        rep = d < rep ? d : rep;
        /* a layer: z[n,k] = sum_j x[n,j] W(k,j) */
        t0 = bench_now();
        for (int n = 0; n < B; n++)
            for (int k = 0; k < W; k++) {
                mpfr_set_zero(z[n * W + k], 1);
                for (int j = 0; j < W; j++) {
                    mpfr_mul(t, xs[n * W + j], wt[k * W + j], MPFR_RNDN);
                    mpfr_add(z[n * W + k], z[n * W + k], t, MPFR_RNDN);
                }
            }
        d = (bench_now() - t0) / (B * W * W) * 1e9;
        layer = d < layer ? d : layer;
        const int N = 20000;
        t0 = bench_now();
        for (int i = 0; i < N; i++) {
            mpfr_set_d(t, -2.0 + 4.0 * i / N, MPFR_RNDN);
            mpfr_exp(e, t, MPFR_RNDN);
        }
        d = (bench_now() - t0) / N * 1e9;
        ex = d < ex ? d : ex;
        for (int q = 0; q < 4; q++) {
            t0 = bench_now();
            for (int i = 0; i < N; i++) {
                mpfr_set_d(t, -(1.0 + i * 1e-6), MPFR_RNDN);
                mpfr_mul_2si(t, t, -(20 + 10 * q), MPFR_RNDN);
                mpfr_expm1(e, t, MPFR_RNDN);
            }
            d = (bench_now() - t0) / N * 1e9;
            em1[q] = d < em1[q] ? d : em1[q];
        }
    }
    printf("# bench_mpfr_ops at %ld bits (ns per operation, fastest of 3 runs)\n", p);
    printf("multiply-add, operands repeating per output: %.1f\n", rep);
    printf("multiply-add, a 64-wide layer of 32 samples:  %.1f\n", layer);
    printf("mpfr_exp on [-2, 2]: %.0f\n", ex);
    for (int q = 0; q < 4; q++)
        printf("mpfr_expm1 at |x| ~ 2^-%d: %.0f\n", 20 + 10 * q, em1[q]);
    for (int i = 0; i < W * W; i++)
        mpfr_clear(wt[i]);
    for (int i = 0; i < B * W; i++)
        mpfr_clears(xs[i], z[i], (mpfr_ptr)0);
    mpfr_clears(t, e, (mpfr_ptr)0);
    mpfr_free_cache();
    return 0;
}
