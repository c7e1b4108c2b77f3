/* test_random.c: core/ga_random.c against NumPy's legacy RandomState.
 *
 * Expected values come from real NumPy (Debian's python3-numpy 1.24.2), made by
 *
 *   /usr/bin/python3 - <<'PY'
 *   import numpy as np
 *   for s in [0, 1, 42, 12345, 2**31-1, 2**31, 4294967294, 4294967295]:
 *       np.random.seed(s)
 *       seq  = [('g', v) for v in np.random.randn(3)]
 *       seq += [('u', v) for v in np.random.rand(2)]
 *       seq += [('g', np.random.randn())]          # the cached second value
 *       seq += [('u', v) for v in np.random.rand(1)]
 *       seq += [('g', v) for v in np.random.randn(2, 2).ravel()]
 *       tail = np.random.randn(1500)[-1]           # after several twists
 *       bg = np.random.MT19937(); bg._legacy_seeding(s)
 *       raw = bg.random_raw(3)                     # first raw 32-bit outputs
 *       print(s, [(k, float(v).hex()) for k, v in seq], float(tail).hex(), raw)
 *   PY
 *
 * and pasted below as hex floats (exact). The comparison is bit for bit.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ga_random.h"

typedef struct {
    int gauss; /* 1: randn(), 0: rand() */
    double v;
} draw;

typedef struct {
    uint32_t seed;
    draw seq[11];
    double tail; /* randn(1500)[-1] after seq */
    uint32_t raw[3];
} seed_case;

static const seed_case cases[] = {
    {0u,
     {{1, 0x1.c398ef3e5cfa5p+0}, {1, 0x1.99c2cfacc8953p-2}, {1, 0x1.f51d25222c9abp-1},
      {0, 0x1.b1d2904fd0ef6p-2}, {0, 0x1.4ab2a21899b5bp-1}, {1, 0x1.1ed5969e3314ep+1},
      {0, 0x1.c016dca6159d2p-2}, {1, 0x1.4420580e99483p+0}, {1, -0x1.03023ff42b8a9p-1},
      {1, 0x1.45c9239ca4b9bp+1}, {1, 0x1.14b016ebb3491p+0}},
     0x1.d676bf06a0704p-1,
     {2357136044u, 2546248239u, 3071714933u}},
    {1u,
     {{1, 0x1.9fd5190657c50p+0}, {1, -0x1.393822fb7d9adp-1}, {1, -0x1.0e6c872548fd2p-1},
      {0, 0x1.964a3677bfbe8p-2}, {0, 0x1.13dfc97629f54p-1}, {1, -0x1.12ae1255cb80cp+0},
      {0, 0x1.ad4153a81958ap-2}, {1, -0x1.045b09d7b20e9p+0}, {1, 0x1.465449a639a98p-1},
      {1, -0x1.b845adc312fdfp-1}, {1, 0x1.c5c99d14c3bcfp+0}},
     -0x1.47987dcdaf846p-2,
     {1791095845u, 4282876139u, 3093770124u}},
    {42u,
     {{1, 0x1.fca2a28a9307cp-2}, {1, -0x1.1b2a505de052ap-3}, {1, 0x1.4b9dd50245e68p-1},
      {0, 0x1.3f86b37222184p-3}, {0, 0x1.3f7a0e1997f4cp-3}, {1, 0x1.85e548e01aa2bp+0},
      {0, 0x1.dbd229d645570p-5}, {1, 0x1.1dbd0020eec47p-2}, {1, 0x1.02b121345a26fp+0},
      {1, -0x1.2968dbd92f5c6p-1}, {1, -0x1.0ce30e955a81bp-1}},
     -0x1.5d8eeb493ed53p+0,
     {1608637542u, 3421126067u, 4083286876u}},
    {12345u,
     {{1, -0x1.a33dc4f5d203dp-3}, {1, 0x1.ea701f566080fp-2}, {1, -0x1.09f3df0ae3d0ep-1},
      {0, 0x1.22acdae20d908p-1}, {0, 0x1.30eb3c3d342ecp-1}, {1, -0x1.1c88aeb5231f1p-1},
      {0, 0x1.edd4d8dd90335p-1}, {1, 0x1.3f85a23ff8a71p+0}, {1, 0x1.89447f07609e4p-1},
      {1, 0x1.3fb1988a270bap+0}, {1, 0x1.8c62c88c0509cp-1}},
     0x1.f14bba1d48ddep+0,
     {3992670690u, 3823185381u, 1358822685u}},
    {2147483647u,
     {{1, 0x1.a0f13c1b9bd1bp+0}, {1, -0x1.1bbb04a96bdc6p+0}, {1, 0x1.64a69280e73e0p+0},
      {0, 0x1.edd2eb617a6d8p-4}, {0, 0x1.f8c4da898dedbp-1}, {1, 0x1.6087f4d821128p-1},
      {0, 0x1.cad250967e7d0p-2}, {1, 0x1.a76ac9e9428e4p-4}, {1, -0x1.31b85f737dbe8p+0},
      {1, 0x1.1caaa1f1f5641p-2}, {1, -0x1.649283fda9558p-2}},
     0x1.26f126a126293p+0,
     {1689602031u, 3831148394u, 2820341149u}},
    {2147483648u,
     {{1, 0x1.461e9b1db9e84p-2}, {1, -0x1.620d341998be7p-2}, {1, 0x1.cdf64e98a6ca1p-3},
      {0, 0x1.5e5ea0b692ffap-2}, {0, 0x1.2acb74a6f74d6p-2}, {1, 0x1.8355f7470ef24p+0},
      {0, 0x1.a04399056a602p-2}, {1, -0x1.c6e2dc9234245p-2}, {1, -0x1.b40abbdfe2686p-6},
      {1, 0x1.c9425f0c808a6p-1}, {1, 0x1.edb199aad220bp-2}},
     -0x1.792a943fc6e4cp-1,
     {652847386u, 1439962116u, 3524204305u}},
    {4294967294u,
     {{1, 0x1.3a5a0069d1558p+1}, {1, 0x1.22ec6284ebaf2p+1}, {1, 0x1.1305107f67c31p+1},
      {0, 0x1.1f193ea121f73p-1}, {0, 0x1.9346514f997dbp-1}, {1, 0x1.0c1e9adf4c85bp+0},
      {0, 0x1.9ca404f9e56d0p-1}, {1, -0x1.02f41d6663ec2p-1}, {1, -0x1.886e657bfd74bp-3},
      {1, 0x1.67a87ff67778fp-1}, {1, 0x1.a7d7011bbf1ecp-2}},
     0x1.d0c6287dbf579p-2,
     {2236247450u, 437438088u, 2243395601u}},
    {4294967295u,
     {{1, 0x1.4bfc38c486d8ap-1}, {1, 0x1.56b192e507eeep-1}, {1, -0x1.149e836f192fdp+0},
      {0, 0x1.d1999c0aed972p-1}, {0, 0x1.1b835369cb7f1p-1}, {1, 0x1.23543dec5a0fcp-2},
      {0, 0x1.f817aa7489a4bp-1}, {1, -0x1.bdce69d4cae60p+0}, {1, -0x1.b2ebd1a253e04p-1},
      {1, -0x1.74f5240804000p+0}, {1, -0x1.9ae8a712c8c97p-5}},
     -0x1.0c4fb5021cb74p+0,
     {419326371u, 479346978u, 3918654476u}},
};
static const size_t n_cases = sizeof cases / sizeof cases[0];

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

Test(random, raw_outputs_match_numpy_legacy_seeding)
{
    for (size_t c = 0; c < n_cases; c++) {
        ga_rng rng;
        ga_rng_seed(&rng, cases[c].seed);
        for (int i = 0; i < 3; i++) {
            uint32_t got = ga_rng_u32(&rng);
            cr_expect_eq(got, cases[c].raw[i], "seed %u, raw draw %d: got %u, NumPy %u",
                         cases[c].seed, i, got, cases[c].raw[i]);
        }
    }
}

Test(random, randn_and_rand_interleaved_bit_for_bit)
{
    for (size_t c = 0; c < n_cases; c++) {
        ga_rng rng;
        ga_rng_seed(&rng, cases[c].seed);
        for (int i = 0; i < 11; i++) {
            const draw *d = &cases[c].seq[i];
            double got = d->gauss ? ga_rng_gauss(&rng) : ga_rng_uniform(&rng);
            cr_expect(same_bits(got, d->v), "seed %u, draw %d (%s): got %a, NumPy %a",
                      cases[c].seed, i, d->gauss ? "randn" : "rand", got, d->v);
        }
        double buf[1500];
        ga_rng_fill_gauss(buf, 1500, &rng);
        cr_expect(same_bits(buf[1499], cases[c].tail),
                  "seed %u, randn(1500)[-1]: got %a, NumPy %a", cases[c].seed, buf[1499],
                  cases[c].tail);
    }
}

Test(random, reseeding_drops_the_cached_gauss)
{
    /* np.random.seed clears the cached second value: after an odd number of
     * randn draws, reseeding must restart the stream exactly. */
    ga_rng rng;
    ga_rng_seed(&rng, 42);
    (void)ga_rng_gauss(&rng);
    cr_assert(rng.has_gauss, "one randn draw leaves a cached value");
    ga_rng_seed(&rng, 42);
    double first = ga_rng_gauss(&rng);
    cr_expect(same_bits(first, cases[2].seq[0].v), "seed 42 after reseed: got %a, NumPy %a",
              first, cases[2].seq[0].v);
}

Test(random, fill_functions_equal_repeated_draws)
{
    ga_rng a, b;
    double u[7], g[7];
    ga_rng_seed(&a, 4294967295u);
    ga_rng_seed(&b, 4294967295u);
    ga_rng_fill_uniform(u, 7, &a);
    ga_rng_fill_gauss(g, 7, &a);
    for (int i = 0; i < 7; i++) {
        double x = ga_rng_uniform(&b);
        cr_expect(same_bits(u[i], x), "uniform %d: fill %a, single %a", i, u[i], x);
    }
    for (int i = 0; i < 7; i++) {
        double x = ga_rng_gauss(&b);
        cr_expect(same_bits(g[i], x), "gauss %d: fill %a, single %a", i, g[i], x);
    }
}

Test(random, uniform_stays_in_unit_interval)
{
    /* 53-bit construction: (a*2^26 + b) / 2^53 lies in [0, 1) */
    ga_rng rng;
    ga_rng_seed(&rng, 7);
    for (int i = 0; i < 100000; i++) {
        double x = ga_rng_uniform(&rng);
        cr_assert(x >= 0.0 && x < 1.0, "seed 7, draw %d: %a outside [0, 1)", i, x);
    }
}
