/* bench_mlp.h: the network and data of the oracle-vs-gradcheck benchmarks
 * (bench_check, bench_cross), drawn as bench/bench_gradcheck.py draws them. */
#ifndef BENCH_MLP_H
#define BENCH_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "ga_core.h"

/* Sigmoid MLP w-w-w-1 (row layout, MSE mean) with batch B from NumPy's legacy
 * stream seeded with seed: W (in, out) in C order ~ N(0,1)/sqrt(fan_in), b ~
 * N(0,1)/2, then x (B, w) ~ N(0,1), then y (B, 1) ~ U[0,1). *x and *y are
 * malloc'd. Returns GA_OK or the status of the failure, with err set. */
int bench_sigmoid_mlp(ga_net **net, double **x, double **y, ga_error *err, size_t w, size_t B,
                      uint32_t seed);

/* Seconds on the monotonic clock. */
double bench_now(void);

#endif
