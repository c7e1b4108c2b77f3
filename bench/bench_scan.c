/* bench_scan: throughput of one gradient-scan configuration (reports/ga_scan.h),
 * in layer-samples per second (depth x batch / wall time), and how the time grows
 * with depth and with width. Headline: width 512 x depth 100, batch 32, tanh.
 *
 * Each figure is the best of `reps` runs (default 3) to damp the noise of a shared
 * machine. Usage: bench_scan [reps]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ga_scan.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_config(size_t depth, size_t width, size_t batch, int reps)
{
    ga_scan_config c = {0};
    ga_activation_from_name(&c.act, "tanh");
    c.init = GA_SCAN_INIT_NORMAL;
    c.sigma_w2 = 2.25;
    c.depth = depth;
    c.width = width;
    c.batch = batch;
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        ga_scan_result res;
        ga_error err = {{0}};
        c.seed = (uint32_t)r;
        double t0 = now_s();
        if (ga_scan_run(&res, &err, &c, GA_DEFAULT_MEMORY_CAP, NULL) != GA_OK) {
            fprintf(stderr, "bench_scan: %s\n", err.msg);
            exit(3);
        }
        double t = now_s() - t0;
        ga_scan_result_free(&res);
        if (t < best)
            best = t;
    }
    return best;
}

static void row(size_t depth, size_t width, size_t batch, int reps)
{
    double t = time_config(depth, width, batch, reps);
    double ls = (double)depth * (double)batch / t;
    /* forward, backward and dW products: 3 x 2 x batch x width^2 flops per layer */
    double gflops = 6.0 * (double)batch * (double)width * (double)width * (double)depth / t / 1e9;
    printf("| %5zu | %5zu | %5zu | %9.4f | %12.0f | %6.2f |\n", depth, width, batch, t, ls, gflops);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1)
        reps = 1;
    printf("tanh, normal init sigma_w2 = 2.25, best of %d runs\n\n", reps);
    printf("| depth | width | batch | time (s)  | layer-samples/s | GFLOP/s |\n");
    printf("|------:|------:|------:|----------:|-------------:|-------:|\n");
    printf("headline:\n");
    row(100, 512, 32, reps);
    printf("depth (width 128, batch 32):\n");
    for (size_t d = 10; d <= 10000; d *= 10)
        row(d, 128, 32, d >= 1000 ? 1 : reps);
    printf("width (depth 20, batch 32):\n");
    for (size_t w = 32; w <= 1024; w *= 2)
        row(20, w, 32, reps);
    printf("batch (depth 20, width 512):\n");
    for (size_t b = 1; b <= 256; b *= 4)
        row(20, 512, b, reps);
    return 0;
}
