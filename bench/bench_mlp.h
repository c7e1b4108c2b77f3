/* bench_mlp.h: the networks and data of the benchmarks: the oracle-vs-gradcheck
 * one (bench_check, bench_cross), drawn as bench/bench_gradcheck.py draws it,
 * and the core's (bench_core, bench_normlog). */
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

/* The network and data of bench_core and bench_normlog: depth sigmoid layers of
 * width units (input width too), row layout, MSE mean; params N(0,1) x 0.04
 * (~1/sqrt(512): sigmoid stays out of saturation), x (B, width) ~ N(0,1), y
 * (B, width) ~ U[0,1), from ga_rng seed 0. *net, *ws, *x, *y are the caller's
 * to free. Returns GA_OK or the failing status, with err set. */
int bench_core_net(ga_net **net, ga_workspace **ws, double **x, double **y, ga_error *err,
                   size_t width, size_t depth, size_t batch);

/* Seconds on the monotonic clock. */
double bench_now(void);

#endif
