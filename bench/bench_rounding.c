/* bench_rounding: is the Monte Carlo rounding scale calibrated?
 *
 * usage: bench_rounding [WIDTH DEPTH BATCH]   (default 220 4 16)
 *
 * For MLPs of each elementwise activation (MSE mean, row layout, seed 7),
 * the double gradient's true error |ga_backward - oracle| (the oracle
 * correctly rounded, so exact to half an ulp) is compared with the spread
 * sigma that ga_rounding measures over GA_ROUNDING_RUNS perturbed runs, and
 * with the worst-case bound gamma_n * sum|terms|. Printed per activation:
 * the largest and the geometric mean of error/sigma (a calibrated sigma puts
 * the largest of n near-Gaussian errors at a few sigma), the median and
 * largest tolerance 32 sigma relative to |g|, and the worst-case bound
 * relative to |g|. Entries whose exact gradient is 0 are left out of the
 * relative figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ga_check.h"
#include "ga_randnet.h"
#include "ga_rounding.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t width = argc > 1 ? strtoul(argv[1], NULL, 10) : 220;
    size_t depth = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 16;
    if (width < 1 || width > 2048 || depth < 1 || depth > GA_RANDNET_MAX_LAYERS || batch < 1 ||
        batch > 4096) {
        fprintf(stderr, "usage: bench_rounding [WIDTH DEPTH BATCH] (depth 1..%d)\n",
                GA_RANDNET_MAX_LAYERS);
        return 2;
    }
    const ga_activation acts[] = {GA_ACT_SIGMOID, GA_ACT_TANH, GA_ACT_RELU, GA_ACT_SOFTPLUS,
                                  GA_ACT_ELU};
    printf("width %zu, depth %zu, batch %zu, %d runs, tolerance %g sigma\n", width, depth, batch,
           GA_ROUNDING_RUNS, GA_ROUNDING_LAMBDA);
    printf("%-9s %8s %12s %12s %14s %14s %14s\n", "act", "entries", "max err/sig",
           "geo err/sig", "med tol/|g|", "max tol/|g|", "med worst/|g|");
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        ga_randnet p;
        ga_error err;
        if (ga_randnet_make(&p, &err, GA_LAYOUT_ROW, acts[a], GA_LOSS_MSE, GA_REDUCE_MEAN, batch,
                            depth, width, 0.0, 7)) {
            fprintf(stderr, "bench_rounding: %s\n", err.msg);
            return 3;
        }
        size_t n = p.net->n_params;
        double *g = malloc(n * sizeof *g), *o = malloc(n * sizeof *o), *oe = malloc(n * sizeof *oe);
        double *rel_tol = malloc(n * sizeof *rel_tol), *rel_worst = malloc(n * sizeof *rel_worst);
        ga_workspace *ws;
        ga_bound *bd;
        ga_rounding *rd;
        ga_oracle_options oo;
        ga_oracle_options_default(&oo);
        if (!g || !o || !oe || !rel_tol || !rel_worst ||
            ga_workspace_alloc(&ws, &err, p.net, batch) ||
            ga_bound_alloc(&bd, &err, p.net, batch) ||
            ga_bound_compute(bd, &err, ws, p.net, p.net->params, p.x, p.y, batch) ||
            ga_backward(g, NULL, ws, p.net, p.net->params, p.x, p.y, batch) ||
            ga_rounding_alloc(&rd, &err, p.net, batch, GA_ROUNDING_RUNS) ||
            ga_rounding_compute(rd, &err, p.net, p.net->params, p.x, p.y, batch, 1) ||
            ga_oracle_gradient(o, oe, NULL, NULL, &err, p.net, p.net->params, p.x, p.y, batch, &oo)) {
            fprintf(stderr, "bench_rounding: %s\n", err.msg);
            return 3;
        }
        double worst = 0.0, sum_log = 0.0;
        size_t n_log = 0, n_rel = 0;
        for (size_t i = 0; i < n; i++) {
            double e = fabs(g[i] - o[i]);
            if (rd->sigma[i] > 0 && e > 0) {
                double r = e / rd->sigma[i];
                worst = r > worst ? r : worst;
                sum_log += log10(r);
                n_log++;
            } else if (e > 0) {
                worst = INFINITY; /* an error where the runs saw no spread */
            }
            if (o[i] != 0) {
                rel_tol[n_rel] = GA_ROUNDING_LAMBDA * rd->sigma[i] / fabs(o[i]);
                rel_worst[n_rel++] = bd->grad_err[i] / fabs(o[i]);
            }
        }
        qsort(rel_tol, n_rel, sizeof *rel_tol, cmp);
        qsort(rel_worst, n_rel, sizeof *rel_worst, cmp);
        printf("%-9s %8zu %12.3g %12.3g %14.3g %14.3g %14.3g\n", ga_activation_name(acts[a]), n,
               worst, n_log ? pow(10.0, sum_log / n_log) : 0.0, rel_tol[n_rel / 2],
               rel_tol[n_rel - 1], rel_worst[n_rel / 2]);
        ga_rounding_free(rd);
        ga_bound_free(bd);
        ga_workspace_free(ws);
        free(g), free(o), free(oe), free(rel_tol), free(rel_worst);
        ga_randnet_clear(&p);
    }
    return 0;
}
