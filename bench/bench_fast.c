/* bench_fast: time to detect and localise one bad entry in a network of over
 * 100,000 parameters, fast mode against full per-entry checks.
 *
 * usage: bench_fast [WIDTH BATCH]   (default 220 16: a 100-W-W-W-1 tanh MLP,
 *                                    119,681 parameters at W = 220)
 *
 * One entry of the correct gradient is doubled (a 100% error). Timed:
 *   fast:     ga_fast_check (2 directions, bisection, oracle confirmation);
 *   oracle:   ga_check_run with the MPFR oracle on every entry;
 *   central:  per-entry central differences; 200 entries are timed and the
 *             full run extrapolated (2 forward passes per entry), said so. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ga_check.h"
#include "ga_fast.h"
#include "ga_randnet.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    size_t width = argc > 1 ? strtoul(argv[1], NULL, 10) : 220;
    size_t batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
    if (width < 2 || width > 4096 || batch < 1 || batch > 4096) {
        fprintf(stderr, "usage: bench_fast [WIDTH BATCH]\n");
        return 2;
    }
    ga_randnet p;
    ga_error err;
    /* ga_randnet's widths are uniform when given; the input width follows */
    if (ga_randnet_make(&p, &err, GA_LAYOUT_ROW, GA_ACT_TANH, GA_LOSS_MSE, GA_REDUCE_MEAN, batch,
                        4, width, 0.0, 7)) {
        fprintf(stderr, "bench_fast: %s\n", err.msg);
        return 3;
    }
    size_t n = p.net->n_params;
    ga_workspace *ws;
    ga_workspace_alloc(&ws, &err, p.net, batch);
    double *g = malloc(n * sizeof *g), loss;
    ga_loss_and_grad(&loss, g, NULL, ws, p.net, p.net->params, p.x, p.y, batch);
    size_t bad = n / 3;
    while (g[bad] == 0.0)
        bad++;
    g[bad] *= 2.0;
    char name[40];
    ga_param_name(name, sizeof name, p.net, bad);
    printf("network: %zu-%zu-%zu-%zu tanh, MSE, batch %zu, %zu parameters; %s doubled\n", width,
           width, width, width, batch, n, name);

    ga_fast_options fo;
    ga_fast_options_default(&fo);
    fo.analytic = g;
    ga_fast_report *fr;
    double t0 = now();
    if (ga_fast_check(&fr, &err, p.net, p.net->params, p.x, p.y, batch, &fo)) {
        fprintf(stderr, "bench_fast: %s\n", err.msg);
        return 3;
    }
    double t_fast = now() - t0;
    int found = 0;
    for (size_t k = 0; k < fr->n_bad; k++)
        found |= fr->bad[k].index == bad && fr->bad[k].confirmed;
    printf("fast:    %.3f s, %zu forward passes (%zu to detect), %zu directional checks, "
           "localised %zu entr%s, bad entry %s\n",
           t_fast, fr->forward_passes, fr->detect_passes, fr->n_checks, fr->n_bad,
           fr->n_bad == 1 ? "y" : "ies", found ? "found and confirmed" : "NOT found");
    printf("         set-up %.3f s, detection %.3f s, localisation %.3f s, confirmation %.3f s\n",
           fr->seconds_setup, fr->seconds_detect, fr->seconds_localise, fr->seconds_confirm);
    ga_fast_report_free(fr);

    fo.confirm_with_oracle = 0;
    t0 = now();
    if (ga_fast_check(&fr, &err, p.net, p.net->params, p.x, p.y, batch, &fo)) {
        fprintf(stderr, "bench_fast: %s\n", err.msg);
        return 3;
    }
    double t_fast_ridders = now() - t0;
    int found_r = 0;
    for (size_t k = 0; k < fr->n_bad; k++)
        found_r |= fr->bad[k].index == bad && fr->bad[k].confirmed;
    printf("fast, confirmed by Ridders instead: %.3f s, bad entry %s\n", t_fast_ridders,
           found_r ? "found and confirmed" : "NOT found");
    ga_fast_report_free(fr);

    ga_check_options co;
    ga_check_options_default(&co);
    co.cross_check = 0; /* the per-entry verdicts alone, as fast mode gives */
    co.analytic = g;
    ga_check_report *cr;
    t0 = now();
    if (ga_check_run(&cr, &err, p.net, p.net->params, p.x, p.y, batch, &co)) {
        fprintf(stderr, "bench_fast: %s\n", err.msg);
        return 3;
    }
    double t_oracle = now() - t0;
    printf("oracle:  %.3f s for every entry (MPFR reverse pass), %zu FAIL, bad entry %s\n",
           t_oracle, cr->n_fail, cr->entries[bad].verdict == GA_VERDICT_FAIL ? "FAIL" : "missed");
    ga_check_report_free(cr);

    ga_fd_ctx *fd;
    if (ga_fd_ctx_alloc(&fd, &err, p.net, p.net->params, p.x, p.y, batch, 0)) {
        fprintf(stderr, "bench_fast: %s\n", err.msg);
        return 3;
    }
    size_t sample = 200;
    t0 = now();
    for (size_t k = 0; k < sample; k++) {
        ga_fd_result r;
        ga_fd_entry(&r, &err, fd, GA_FD_CENTRAL, (k * 599) % n, 0);
    }
    double t_central = (now() - t0) / sample * n;
    ga_fd_ctx_free(fd);
    printf("central: %.1f s for every entry (extrapolated from %zu entries)\n", t_central, sample);
    printf("ratios: per-entry oracle / fast = %.1f (Ridders confirmation: %.1f), "
           "per-entry central / fast = %.0f (%.0f)\n",
           t_oracle / t_fast, t_oracle / t_fast_ridders, t_central / t_fast,
           t_central / t_fast_ridders);
    free(g);
    ga_workspace_free(ws);
    ga_randnet_clear(&p);
    return found && found_r ? 0 : 1;
}
