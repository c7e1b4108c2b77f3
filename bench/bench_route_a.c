/* bench_route_a.c: route (a)'s time per entry, the chains' tuned MPFR pass
 * (ga_oracle_fd_entry, which updates a kept forward pass from the entry's
 * layer) against the generic forward pass in MPFR (ga_refmp_route_a, whole
 * passes, what every other net takes), on the same entries of the chain
 * specs given (bench/README.md, "Route (a) on nets that are not chains").
 *
 *     build/bench/bench_route_a SPEC.json ...
 *
 * Four entries per spec (entry k * 7919 mod n_params); nets that are not
 * chains are skipped. Prints the mean time per entry of each and how many
 * entries both settled to the same double. */
#include <stdio.h>
#include <time.h>

#include "ga_oracle.h"
#include "ga_refmp.h"
#include "ga_spec.h"

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    double t_tuned = 0, t_generic = 0;
    size_t n = 0, both = 0, equal = 0;
    for (int a = 1; a < argc; a++) {
        ga_spec *spec;
        ga_net *net;
        ga_error err;
        if (ga_spec_load(&spec, &err, argv[a], (size_t)1 << 30)) {
            fprintf(stderr, "bench_route_a: %s\n", err.msg);
            return 2;
        }
        if (ga_spec_make_net(&net, &err, spec, 0, 0)) {
            fprintf(stderr, "bench_route_a: %s\n", err.msg);
            ga_spec_free(spec);
            return 2;
        }
        size_t P = net->n_params, B = spec->batch;
        for (size_t k = 0; k < 4 && k < P && ga_net_desc_is_chain(&net->desc); k++) {
            size_t i = (k * 7919) % P;
            double g1, g2;
            int kink;
            ga_oracle_stats st;
            double t0 = seconds_now();
            int s1 = ga_oracle_fd_entry(&g1, NULL, &st, &err, net, net->params, spec->x, spec->y,
                                        B, i, NULL);
            double t1 = seconds_now();
            int s2 = ga_refmp_route_a(&g2, NULL, NULL, &kink, NULL, NULL, &err, net, net->params,
                                      spec->x, spec->y, B, i, 128, 8192);
            double t2 = seconds_now();
            t_tuned += t1 - t0;
            t_generic += t2 - t1;
            n++;
            if (s1 == GA_OK && s2 == GA_OK) {
                both++;
                equal += g1 == g2;
            }
        }
        ga_net_free(net);
        ga_spec_free(spec);
    }
    if (n == 0) {
        fprintf(stderr, "bench_route_a: no chain among the specs\n");
        return 2;
    }
    printf("%zu entries: tuned %.4f s/entry, generic %.4f s/entry (ratio %.2f); both settled %zu, "
           "equal %zu\n", n, t_tuned / (double)n, t_generic / (double)n, t_generic / t_tuned, both,
           equal);
    return 0;
}
