/* fuzz_npy: libFuzzer target over the .npy parser and the norm of what it reads.
 *
 * Input: a .npy image (seeds: the arrays inside fixtures/norms/steps/*.npz,
 * extracted by fuzz/README.md's command). What counts as a finding (the
 * process aborts, libFuzzer keeps the input):
 *   - a crash, a leak or undefined behaviour (built with ASan and UBSan);
 *   - a refusal without a message, or with data allocated;
 *   - an accepted array whose size is not the product of its shape;
 *   - for an accepted array without NaN or Inf: ga_norm2 farther from a long
 *     double sum of squares (64-bit significand, exponents to 16383: no
 *     overflow or underflow at any double) than gamma_n / 2 + u plus that
 *     sum's own error n 2^-64; max-abs not the largest |x_i|. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ga_normlog.h"
#include "ga_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* With FUZZ_STATS set in the environment: how many inputs were accepted and
 * how many of those had their norm checked, printed at exit. */
static unsigned long n_accepted, n_normed;

static void print_stats(void)
{
    fprintf(stderr, "fuzz_npy: %lu arrays accepted, %lu norms checked\n", n_accepted, n_normed);
}

static void finding(const char *what)
{
    fprintf(stderr, "fuzz_npy: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        registered = 1;
        if (getenv("FUZZ_STATS"))
            atexit(print_stats);
    }
    ga_npy_array a;
    ga_error err = {{0}};
    int st = ga_npy_parse(&a, &err, data, size, "fuzz", (size_t)1 << 26);
    if (st != GA_OK) {
        if (!err.msg[0])
            finding("refused without a message");
        if (a.data)
            finding("refused with data allocated");
        return 0;
    }
    n_accepted++;
    size_t n = 1;
    for (size_t d = 0; d < a.ndim; d++)
        n *= a.shape[d];
    if (n != a.size)
        finding("size is not the product of the shape");
    ga_tensor_stats s;
    ga_tensor_stats_compute(&s, a.data, a.size);
    if (a.size && !s.nan && !s.inf) {
        n_normed++;
        long double sum = 0;
        double mx = 0;
        for (size_t i = 0; i < a.size; i++) {
            sum += (long double)a.data[i] * a.data[i];
            mx = fabs(a.data[i]) > mx ? fabs(a.data[i]) : mx;
        }
        long double ref = sqrtl(sum);
        double nu = (double)a.size * GA_U;
        long double bound = (nu / (1 - nu) / 2 + GA_U + (long double)a.size * ldexpl(1, -64)) * ref;
        long double got = s.norm;
        /* a norm beyond DBL_MAX is Inf; one in the subnormal range is off by
         * at most half the smallest subnormal */
        int ok = ref > DBL_MAX ? isinf(s.norm)
                               : fabsl(got - ref) <= bound + ldexpl(1, -1075);
        if (!ok) {
            fprintf(stderr, "fuzz_npy: norm %a, long double %La, %zu entries\n", s.norm, ref,
                    a.size);
            finding("the norm is off");
        }
        if (s.max_abs != mx)
            finding("max-abs is not the largest |x|");
    }
    ga_npy_array_free(&a);
    return 0;
}
