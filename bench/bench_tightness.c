/* bench_tightness: how tight the oracle method's tolerance is, on correct
 * random nets: per activation, the median over passing entries of
 *   tol / |analytic - oracle|  (entries whose error is not 0; the tolerance
 *                               in units of the error it has to cover), and
 *   tol / |oracle|             (the tolerance relative to the entry; the
 *                               smallest relative error the check can see).
 *
 * usage: bench_tightness [WIDTH DEPTH BATCH NETS]   (default 8 3 8 4)
 *
 * Only the public fields of ga_check_report are read, so the same source
 * measures any commit's checker (bench/README.md, "Tightness"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_randnet.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    size_t width = argc > 1 ? strtoul(argv[1], NULL, 10) : 8;
    size_t depth = argc > 2 ? strtoul(argv[2], NULL, 10) : 3;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 8;
    size_t nets = argc > 4 ? strtoul(argv[4], NULL, 10) : 4;
    if (!width || width > 512 || !depth || depth > GA_RANDNET_MAX_LAYERS || !batch || batch > 256 ||
        !nets || nets > 100) {
        fprintf(stderr, "usage: bench_tightness [WIDTH(1-512) DEPTH(1-%d) BATCH(1-256) NETS(1-100)]\n",
                GA_RANDNET_MAX_LAYERS);
        return 2;
    }
    const ga_activation acts[] = {GA_ACT_SIGMOID, GA_ACT_TANH, GA_ACT_RELU, GA_ACT_SOFTPLUS,
                                  GA_ACT_ELU};
    printf("oracle tolerance on correct %zu-wide, %zu-deep nets, batch %zu, mse (mean), %zu nets each\n",
           width, depth, batch, nets);
    printf("%-9s %8s %8s %14s %14s %8s\n", "act", "entries", "nonzero", "med tol/err", "med tol/|g|",
           "FAIL");
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        size_t cap = 0, n_ratio = 0, n_rel = 0, n_entries = 0, fails = 0;
        double *ratio = NULL, *rel = NULL;
        for (size_t t = 0; t < nets; t++) {
            ga_randnet p;
            ga_error err;
            uint32_t seed = 7000u + (uint32_t)(100 * a + t);
            if (ga_randnet_make(&p, &err, GA_LAYOUT_ROW, acts[a], GA_LOSS_MSE, GA_REDUCE_MEAN, batch,
                                depth, width, 0.0, seed)) {
                fprintf(stderr, "bench_tightness: %s\n", err.msg);
                return 3;
            }
            ga_check_options opt;
            ga_check_options_default(&opt);
            opt.cross_check = 0;
            opt.seed = seed;
            ga_check_report *r;
            if (ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt)) {
                fprintf(stderr, "bench_tightness: seed %u: %s\n", seed, err.msg);
                return 3;
            }
            if (cap < n_entries + r->n_entries) {
                cap = 2 * (n_entries + r->n_entries);
                double *ra = malloc(cap * sizeof *ra), *re = malloc(cap * sizeof *re);
                if (!ra || !re) {
                    fprintf(stderr, "bench_tightness: out of memory\n");
                    return 3;
                }
                if (n_ratio)
                    memcpy(ra, ratio, n_ratio * sizeof *ra);
                if (n_rel)
                    memcpy(re, rel, n_rel * sizeof *re);
                free(ratio);
                free(rel);
                ratio = ra;
                rel = re;
            }
            for (size_t i = 0; i < r->n_entries; i++) {
                const ga_check_entry *e = &r->entries[i];
                n_entries++;
                if (e->verdict == GA_VERDICT_FAIL)
                    fails++;
                if (e->verdict != GA_VERDICT_PASS)
                    continue;
                double d = fabs(e->analytic - e->oracle);
                if (d > 0)
                    ratio[n_ratio++] = e->tol / d;
                if (e->oracle != 0)
                    rel[n_rel++] = e->tol / fabs(e->oracle);
            }
            ga_check_report_free(r);
            ga_randnet_clear(&p);
        }
        printf("%-9s %8zu %8zu %14.3g %14.3g %8zu\n", ga_activation_name(acts[a]), n_entries, n_ratio,
               median(ratio, n_ratio), median(rel, n_rel), fails);
        free(ratio);
        free(rel);
    }
    return 0;
}
