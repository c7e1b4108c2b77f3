/* ga_random.h: NumPy's legacy RandomState stream (MT19937), bit for bit.
 *
 * np.random.seed(S) for an integer 0 <= S <= 2^32-1 seeds MT19937 with the
 * reference init_genrand(S) (Matsumoto & Nishimura 2002); random_sample()
 * builds a 53-bit double from two draws, (a >> 5, b >> 6); randn() is the
 * polar Box-Muller method that caches its second value. Every scheme in
 * ga_init_* draws through this stream so a spec can express a tutorial's
 * initialisation exactly.
 */
#ifndef GA_RANDOM_H
#define GA_RANDOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t key[624];
    int pos;
    int has_gauss;
    double gauss;
} ga_rng;

/* np.random.seed(seed) */
void ga_rng_seed(ga_rng *rng, uint32_t seed);
/* next raw 32-bit output of MT19937 */
uint32_t ga_rng_u32(ga_rng *rng);
/* np.random.random_sample(): uniform on [0, 1) with 53 random bits */
double ga_rng_uniform(ga_rng *rng);
/* np.random.standard_normal() / randn(): legacy polar method with cache */
double ga_rng_gauss(ga_rng *rng);

/* Fill out (n) in C order as np.random.randn(...) / rand(...) would. */
void ga_rng_fill_gauss(double *out, size_t n, ga_rng *rng);
void ga_rng_fill_uniform(double *out, size_t n, ga_rng *rng);

/* splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014; Vigna's reference code): *state advances by the
 * golden gamma 0x9e3779b97f4a7c15 and the new state is mixed. The checks'
 * picks (sampled entries, directions, perturbations, mutation sites) draw
 * from it; ga_splitmix64(&(uint64_t){z}) is the mix of one value z. */
uint64_t ga_splitmix64(uint64_t *state);

#endif
