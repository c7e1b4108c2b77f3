/* bench_normlog: the cost of logging one step's gradient norms (ga_normlog_step)
 * against one forward + backward pass of the core, on a ~1M-parameter MLP.
 *
 * usage: bench_normlog [WIDTH DEPTH BATCH REPS OUT.csv]
 *        (default 500 4 32 50 /tmp/bench_normlog.csv: 4 sigmoid layers of
 *        500 x 500 + 500 = 1,002,000 parameters, 8 tensors)
 * Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that another
 * process taking the core mid-step does not count; the median and the best of
 * REPS repetitions (after a warm-up):
 *   pass     ga_loss_and_grad (forward + backward, the configured CBLAS)
 *   log      ga_normlog_step with the gradients only
 *   log+p    ga_normlog_step with the parameters too (update ratios: a copy
 *            and a difference of every parameter)
 * and the two logging times as a percentage of pass. The rows go to OUT.csv
 * (one write(2) each, no fsync). */
#include <stdio.h>
#include <stdlib.h>

#include <time.h>

#include "bench_mlp.h"
#include "ga_core.h"
#include "ga_normlog.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* sorts t; the median */
static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    return t[n / 2];
}

int main(int argc, char **argv)
{
    size_t width = argc > 1 ? strtoul(argv[1], NULL, 10) : 500;
    size_t depth = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 32;
    int reps = argc > 4 ? atoi(argv[4]) : 50;
    const char *out = argc > 5 ? argv[5] : "/tmp/bench_normlog.csv";
    if (!width || !depth || depth > 64 || !batch || reps < 1 || reps > 100000) {
        fprintf(stderr, "usage: bench_normlog [WIDTH DEPTH BATCH REPS OUT.csv]\n");
        return 2;
    }
    ga_net *net;
    ga_workspace *ws;
    ga_error err;
    double *x, *y, *t_pass = malloc(3 * (size_t)reps * sizeof *t_pass);
    if (!t_pass || bench_core_net(&net, &ws, &x, &y, &err, width, depth, batch)) {
        fprintf(stderr, "bench_normlog: %s\n", t_pass ? err.msg : "out of memory");
        return 3;
    }
    double *t_log = t_pass + reps, *t_logp = t_log + reps;

    ga_normlog_tensor t[128];
    const double *g[128], *p[128];
    for (size_t v = 0; v < net->n_views; v++) {
        const ga_view *vw = &net->views[v];
        t[v] = (ga_normlog_tensor){vw->name, 2, {vw->rows, vw->cols}};
        g[v] = net->grads + vw->offset;
        p[v] = net->params + vw->offset;
    }
    ga_normlog *log;
    if (ga_normlog_open(&log, &err, out, t, net->n_views, NULL)) {
        fprintf(stderr, "bench_normlog: %s\n", err.msg);
        return 3;
    }
    double loss;
    uint64_t step = 0;
    ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, batch); /* warm-up */
    ga_normlog_step(log, &err, step++, loss, g, p, NULL);
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_now();
        ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, batch);
        double t1 = cpu_now();
        int st = ga_normlog_step(log, &err, step++, loss, g, NULL, NULL);
        double t2 = cpu_now();
        st |= ga_normlog_step(log, &err, step++, loss, g, p, NULL);
        double t3 = cpu_now();
        if (st) {
            fprintf(stderr, "bench_normlog: %s\n", err.msg);
            return 3;
        }
        t_pass[r] = t1 - t0, t_log[r] = t2 - t1, t_logp[r] = t3 - t2;
        /* an SGD step (not timed), as training does: every parameter moves, so the
         * update ratios take the full path */
        ga_sgd_step(net->params, net->grads, net->n_params, 0.1);
    }
    ga_normlog_close(log, NULL);
    double mp = median(t_pass, reps), ml = median(t_log, reps), mlp = median(t_logp, reps);
    printf("bench_normlog (%s): %zu parameters (width %zu depth %zu), batch %zu, %d reps, "
           "thread CPU time:\n"
           "  median: forward+backward %.3f ms; log %.3f ms (%.2f%%); log with parameters "
           "%.3f ms (%.2f%%)\n"
           "  best:   forward+backward %.3f ms; log %.3f ms (%.2f%%); log with parameters "
           "%.3f ms (%.2f%%)\n",
#ifdef GA_CBLAS_OPENBLAS
           "OpenBLAS",
#else
           "GSL CBLAS",
#endif
           net->n_params, width, depth, batch, reps, 1e3 * mp, 1e3 * ml, 100 * ml / mp, 1e3 * mlp,
           100 * mlp / mp, 1e3 * t_pass[0], 1e3 * t_log[0], 100 * t_log[0] / t_pass[0],
           1e3 * t_logp[0], 100 * t_logp[0] / t_pass[0]);
    free(x), free(y), free(t_pass);
    ga_workspace_free(ws);
    ga_net_free(net);
    return 0;
}
