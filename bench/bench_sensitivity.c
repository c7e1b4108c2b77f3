/* bench_sensitivity: the smallest single-entry relative error each check
 * method detects.
 *
 * usage: bench_sensitivity [NETS ENTRIES OUT.json [float32]]
 *        (default 6 8 sensitivity_nets.json)
 *
 * With float32: the same networks with every number rounded to float32, the
 * float32 core's gradient (ga_loss_grad_f32), checked at float32 by the
 * oracle method (the finite-difference methods judge double code only); an
 * injected value is g_j (1 + eps) rounded to float32, as float32 code would
 * hold it, so eps below half a float32 ulp injects nothing.
 *
 * For NETS random tanh MLPs (4-8-8-1 and 6-10-1, MSE mean, batch 8, row
 * layout, seeds printed) and ENTRIES sampled entries each, the analytic
 * entry g_j is replaced by g_j (1 + eps) for eps on the grid 10^(-16),
 * 10^(-15.5), ..., 10^0, and the smallest eps whose check draws FAIL on
 * entry j is recorded, for the oracle path and each double FD method alone.
 * The verdict of an entry depends only on its own analytic value, its
 * reference and its tolerance, so one check per method gives every
 * threshold; two more checks per method (every sampled entry at its
 * threshold, then one grid step below) confirm that the real check agrees.
 *
 * The networks and entries are written to OUT.json so that
 * bench/bench_sensitivity_torch.py measures torch.autograd.gradcheck on the
 * very same problems. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_randnet.h"

#define GRID 33 /* 10^-16 ... 10^0 in half decades */

static double grid_eps(int k) { return pow(10.0, -16.0 + 0.5 * k); }

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static ga_precision prec = GA_PREC_FLOAT64;

/* g (1 + eps) as code in the precision holds it */
static double injected(double g, int k) { return ga_round_to(prec, g * (1.0 + grid_eps(k))); }

/* smallest grid index whose eps makes entry e FAIL, GRID when none does */
static int threshold_of(const ga_check_entry *e, double g)
{
    for (int k = 0; k < GRID; k++) {
        double a = injected(g, k);
        /* the oracle's interval is not symmetric about the oracle: test it */
        if (!isnan(e->lo) ? !(a >= e->lo && a <= e->hi) : fabs(a - e->ref) > e->tol)
            return k;
    }
    return GRID;
}

static void write_net(FILE *f, const ga_randnet *p, const size_t *entries, size_t n_entries,
                      int last)
{
    const ga_net_desc *d = &p->net->desc;
    fprintf(f, "  {\"seed\": %u, \"n_in\": %zu, \"batch\": %zu, \"layers\": [", p->seed, d->n_in,
            p->batch);
    for (size_t l = 0; l < d->n_layers; l++)
        fprintf(f, "%s[%zu, \"%s\"]", l ? ", " : "", d->layers[l].n_out,
                ga_activation_name(d->layers[l].act));
    fprintf(f, "],\n   \"loss\": \"mse\", \"scale\": %.17g, \"reduction\": \"%s\",\n   \"params\": [",
            d->loss.scale, ga_reduction_name(d->loss.reduction));
    for (size_t i = 0; i < p->net->n_params; i++)
        fprintf(f, "%s%.17g", i ? ", " : "", p->net->params[i]);
    size_t n_out = d->layers[d->n_layers - 1].n_out;
    fprintf(f, "],\n   \"x\": [");
    for (size_t i = 0; i < p->batch * d->n_in; i++)
        fprintf(f, "%s%.17g", i ? ", " : "", p->x[i]);
    fprintf(f, "],\n   \"y\": [");
    for (size_t i = 0; i < p->batch * n_out; i++)
        fprintf(f, "%s%.17g", i ? ", " : "", p->y[i]);
    fprintf(f, "],\n   \"entries\": [");
    for (size_t k = 0; k < n_entries; k++)
        fprintf(f, "%s%zu", k ? ", " : "", entries[k]);
    fprintf(f, "]}%s\n", last ? "" : ",");
}

int main(int argc, char **argv)
{
    size_t n_nets = argc > 1 ? strtoul(argv[1], NULL, 10) : 6;
    size_t n_entries = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
    const char *out_path = argc > 3 ? argv[3] : "sensitivity_nets.json";
    if (argc > 4 && ga_precision_from_name(&prec, argv[4]) != GA_OK)
        n_nets = 0;
    if (!n_nets || !n_entries || n_nets > 1000 || n_entries > 1000) {
        fprintf(stderr, "usage: bench_sensitivity [NETS ENTRIES OUT.json [float32]]\n");
        return 2;
    }
    const ga_check_method methods[] = {GA_CHECK_ORACLE, GA_CHECK_RIDDERS, GA_CHECK_GSL,
                                       GA_CHECK_CENTRAL, GA_CHECK_FORWARD};
    enum { N_METHODS = sizeof methods / sizeof methods[0] };
    int n_methods = prec == GA_PREC_FLOAT32 ? 1 : N_METHODS; /* float32: the oracle's */
    double *eps_found[N_METHODS];
    size_t undetected[N_METHODS] = {0}, disagreements = 0, total = 0;
    for (int m = 0; m < N_METHODS; m++)
        if (!(eps_found[m] = malloc(n_nets * n_entries * sizeof(double)))) {
            fprintf(stderr, "bench_sensitivity: out of memory\n");
            return 3;
        }
    FILE *json = fopen(out_path, "w");
    if (!json) {
        fprintf(stderr, "bench_sensitivity: cannot write %s\n", out_path);
        return 2;
    }
    fprintf(json, "[\n");
    for (size_t t = 0; t < n_nets; t++) {
        ga_randnet p;
        ga_error err;
        uint32_t seed = 4242u + (uint32_t)t;
        if (ga_randnet_make(&p, &err, GA_LAYOUT_ROW, GA_ACT_TANH, GA_LOSS_MSE, GA_REDUCE_MEAN, 8,
                            t % 2 ? 2 : 3, t % 2 ? 10 : 8, 0.0, seed)) {
            fprintf(stderr, "bench_sensitivity: %s\n", err.msg);
            return 3;
        }
        size_t n = p.net->n_params, *entries = malloc(n_entries * sizeof *entries);
        double *g = malloc(n * sizeof *g), *mut = malloc(n * sizeof *mut), loss;
        ga_workspace *ws = NULL;
        if (prec == GA_PREC_FLOAT32 &&
            ga_round_problem(&err, prec, p.net, p.net->params, p.x, p.y, p.batch)) {
            fprintf(stderr, "bench_sensitivity: %s\n", err.msg);
            return 3;
        }
        if (!entries || !g || !mut || ga_workspace_alloc(&ws, &err, p.net, p.batch) ||
            (prec == GA_PREC_FLOAT32
                 ? ga_loss_grad_f32_ws(&loss, g, ws, &err, p.net, p.net->params, p.x, p.y, p.batch)
                 : ga_loss_and_grad(&loss, g, NULL, ws, p.net, p.net->params, p.x, p.y, p.batch))) {
            fprintf(stderr, "bench_sensitivity: %s\n", entries && g && mut ? err.msg : "out of memory");
            return 3;
        }
        for (size_t k = 0; k < n_entries; k++)
            entries[k] = (k * 7919u + t * 104729u) % n;
        write_net(json, &p, entries, n_entries, t + 1 == n_nets);
        for (int m = 0; m < n_methods; m++) {
            ga_check_options opt;
            ga_check_options_default(&opt);
            opt.cross_check = 0; /* thresholds only */
            opt.method = methods[m];
            opt.seed = seed;
            if (prec == GA_PREC_FLOAT32) {
                opt.analytic = g;
                opt.analytic_loss = loss;
                opt.analytic_own_forward = 1;
                opt.analytic_forward = ws; /* its forward values, as check --dtype float32 */
                opt.precision = prec;
            }
            ga_check_report *r;
            if (ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt)) {
                fprintf(stderr, "bench_sensitivity: %s\n", err.msg);
                return 3;
            }
            int thr[1000];
            for (size_t k = 0; k < n_entries; k++) {
                thr[k] = threshold_of(&r->entries[entries[k]], g[entries[k]]);
                eps_found[m][t * n_entries + k] = thr[k] < GRID ? grid_eps(thr[k]) : INFINITY;
                undetected[m] += thr[k] == GRID;
            }
            ga_check_report_free(r);
            /* confirm with the real check: at the threshold FAIL, one step below pass */
            for (int below = 0; below < 2; below++) {
                memcpy(mut, g, n * sizeof *mut);
                for (size_t k = 0; k < n_entries; k++) {
                    int kk = thr[k] - below;
                    if (thr[k] < GRID && kk >= 0)
                        mut[entries[k]] = injected(g[entries[k]], kk);
                }
                opt.analytic = mut;
                if (ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt)) {
                    fprintf(stderr, "bench_sensitivity: %s\n", err.msg);
                    return 3;
                }
                for (size_t k = 0; k < n_entries; k++) {
                    if (thr[k] == GRID || thr[k] - below < 0)
                        continue;
                    int is_fail = r->entries[entries[k]].verdict == GA_VERDICT_FAIL;
                    total++;
                    if (is_fail != !below) {
                        disagreements++;
                        fprintf(stderr, "note: %s net %zu entry %zu: the real check %s at eps %.3g\n",
                                ga_check_method_name(methods[m]), t, entries[k],
                                is_fail ? "fails" : "passes", grid_eps(thr[k] - below));
                    }
                }
                ga_check_report_free(r);
            }
        }
        ga_workspace_free(ws);
        free(entries), free(g), free(mut);
        ga_randnet_clear(&p);
    }
    fprintf(json, "]\n");
    if (fclose(json)) {
        fprintf(stderr, "bench_sensitivity: error writing %s\n", out_path);
        return 2;
    }
    size_t count = n_nets * n_entries;
    printf("smallest detected single-entry relative error, %zu entries of %zu tanh MLPs in %s "
           "(grid: half decades)\n", count, n_nets, ga_precision_name(prec));
    printf("%-10s %10s %10s %10s %10s %12s %12s\n", "method", "min", "median", "p90", "max",
           "at<=1e-12", "at<=1e-8");
    for (int m = 0; m < N_METHODS; m++) {
        double *e = eps_found[m];
        if (m >= n_methods) {
            free(e);
            continue;
        }
        qsort(e, count, sizeof *e, cmp);
        size_t le12 = 0, le8 = 0;
        for (size_t k = 0; k < count; k++)
            le12 += e[k] <= 1.0001e-12, le8 += e[k] <= 1.0001e-8;
        printf("%-10s %10.1e %10.1e %10.1e %10.1e %7zu/%-4zu %7zu/%-4zu\n",
               ga_check_method_name(methods[m]), e[0], e[count / 2], e[(count * 9) / 10],
               e[count - 1], le12, count, le8, count);
        free(e);
    }
    printf("confirmation by the real check: %zu of %zu verdicts agreed\n", total - disagreements, total);
    printf("networks and entries written to %s\n", out_path);
    return disagreements ? 1 : 0;
}
