/* ga_random.c: NumPy's legacy RandomState stream, bit for bit.
 *
 * MT19937 after M. Matsumoto and T. Nishimura, "Mersenne Twister: a
 * 623-dimensionally equidistributed uniform pseudo-random number generator",
 * ACM TOMACS 8(1), 1998, with the 2002 init_genrand seeding, which is what
 * np.random.seed(S) uses for an integer S (numpy/random/src/mt19937,
 * mt19937_seed). GSL's gsl_rng_mt19937 has the same recurrence but maps the
 * seed 0 to 4357, so it differs from NumPy for S = 0; the generator is short
 * enough to write out and be exact for every seed.
 */
#include "ga_random.h"

#include <math.h>

enum { MT_N = 624, MT_M = 397 };
#define MT_MATRIX_A 0x9908b0dfU /* constant vector a */
#define MT_UPPER 0x80000000U    /* most significant w-r bits */
#define MT_LOWER 0x7fffffffU    /* least significant r bits */

/* key[0] = S; key[i] = 1812433253 * (key[i-1] ^ (key[i-1] >> 30)) + i (mod 2^32) */
void ga_rng_seed(ga_rng *rng, uint32_t seed)
{
    uint32_t s = seed;
    for (int i = 0; i < MT_N; i++) {
        rng->key[i] = s;
        s = (uint32_t)(1812433253U * (s ^ (s >> 30)) + (uint32_t)i + 1U);
    }
    rng->pos = MT_N;
    rng->has_gauss = 0;
    rng->gauss = 0.0;
}

/* Regenerate the 624 words (the twist). */
static void mt_twist(ga_rng *rng)
{
    uint32_t *k = rng->key;
    uint32_t y;
    int i;
    for (i = 0; i < MT_N - MT_M; i++) {
        y = (k[i] & MT_UPPER) | (k[i + 1] & MT_LOWER);
        k[i] = k[i + MT_M] ^ (y >> 1) ^ ((0U - (y & 1U)) & MT_MATRIX_A);
    }
    for (; i < MT_N - 1; i++) {
        y = (k[i] & MT_UPPER) | (k[i + 1] & MT_LOWER);
        k[i] = k[i + (MT_M - MT_N)] ^ (y >> 1) ^ ((0U - (y & 1U)) & MT_MATRIX_A);
    }
    y = (k[MT_N - 1] & MT_UPPER) | (k[0] & MT_LOWER);
    k[MT_N - 1] = k[MT_M - 1] ^ (y >> 1) ^ ((0U - (y & 1U)) & MT_MATRIX_A);
    rng->pos = 0;
}

uint32_t ga_rng_u32(ga_rng *rng)
{
    if (rng->pos >= MT_N)
        mt_twist(rng);
    uint32_t y = rng->key[rng->pos++];
    /* tempering */
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= (y >> 18);
    return y;
}

/* (a * 2^26 + b) / 2^53 with a = u32 >> 5 (27 bits), b = u32 >> 6 (26 bits) */
double ga_rng_uniform(ga_rng *rng)
{
    uint32_t a = ga_rng_u32(rng) >> 5;
    uint32_t b = ga_rng_u32(rng) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

/* Polar Box-Muller as NumPy's legacy_gauss: draw (x1, x2) in the unit disc,
 * f = sqrt(-2 log(r2) / r2), return f * x2 and keep f * x1 for the next call. */
double ga_rng_gauss(ga_rng *rng)
{
    if (rng->has_gauss) {
        double tmp = rng->gauss;
        rng->has_gauss = 0;
        rng->gauss = 0.0;
        return tmp;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * ga_rng_uniform(rng) - 1.0;
        x2 = 2.0 * ga_rng_uniform(rng) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    rng->gauss = f * x1;
    rng->has_gauss = 1;
    return f * x2;
}

void ga_rng_fill_gauss(double *out, size_t n, ga_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ga_rng_gauss(rng);
}

void ga_rng_fill_uniform(double *out, size_t n, ga_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ga_rng_uniform(rng);
}

uint64_t ga_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
