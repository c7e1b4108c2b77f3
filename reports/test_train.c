/* test_train: gradaudit train --norms against the MPFR oracle.
 *
 * Expected gradient norms come from oracle/ (an MPFR reverse pass, each entry
 * correctly rounded), not from core's backprop that train runs. Epoch 2 is checked
 * at p1 = p0 - lr * g0 with the oracle's g0: the core's gradient differs from it by
 * a few ulps, which moves p1 by ~lr * 1e-16 relative, far inside the tolerance.
 * Tolerance 1e-12 relative: a norm of ~50 entries each a few ulps off.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ga_oracle.h"
#include "ga_report_cli.h"
#include "ga_spec.h"

#ifndef GA_SOURCE_ROOT
#error "GA_SOURCE_ROOT must name the source tree"
#endif
#define SPEC GA_SOURCE_ROOT "/fixtures/specs/relu-regression.json"

static char g_dir[256];
static void make_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ga-train-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}
static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
}
static const char *in_dir(const char *name)
{
    static char b[4][512];
    static int k;
    char *p = b[k++ % 4];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static int run_train(char **err_text, const char *const *args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    const char *ep = in_dir("stderr.txt");
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fe, 2);
        int fo = open("/dev/null", O_WRONLY);
        dup2(fo, 1);
        char **argv = calloc((size_t)argc + 1, sizeof *argv);
        for (int i = 0; i < argc; i++)
            argv[i] = strdup(args[i]);
        _exit(ga_report_train_main(argc, argv));
    }
    int status;
    waitpid(pid, &status, 0);
    if (err_text) {
        FILE *f = fopen(ep, "r");
        static char buf[4096];
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        buf[n] = '\0';
        if (f)
            fclose(f);
        *err_text = buf;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Row `row` (1-based after the header) of a CSV as doubles. */
static size_t read_row(double *out, size_t max, const char *path, int row)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    char line[8192];
    for (int r = 0; r <= row; r++)
        cr_assert_not_null(fgets(line, sizeof line, f), "row %d missing", row);
    fclose(f);
    size_t n = 0;
    for (char *p = line; n < max;) {
        out[n++] = strtod(p, &p);
        if (*p != ',')
            break;
        p++;
    }
    return n;
}

static double norm(const double *g, size_t n)
{
    long double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (long double)g[i] * g[i];
    return (double)sqrtl(s);
}

static void expect_rel(double got, double want, double tol, const char *what, int epoch)
{
    cr_expect(fabs(got - want) <= tol * fabs(want), "epoch %d %s: %.17g vs oracle %.17g", epoch,
              what, got, want);
}

Test(train, norms_match_oracle, .init = make_dir, .fini = remove_dir)
{
    const char *args[] = {"train", SPEC, "--norms", in_dir("n.csv"), "--epochs", "2", "--lr",
                          "0.05", NULL};
    char *err;
    cr_assert_eq(run_train(&err, args), 0, "stderr: %s", err);
    ga_spec *spec;
    ga_net *net;
    ga_error e = {{0}};
    cr_assert_eq(ga_spec_load(&spec, &e, SPEC, 0), GA_OK, "%s", e.msg);
    cr_assert_eq(ga_spec_make_net(&net, &e, spec, 0, 0), GA_OK, "%s", e.msg);
    size_t n = net->n_params;
    double *g = malloc(n * sizeof *g), *p = malloc(n * sizeof *p);
    memcpy(p, net->params, n * sizeof *p);
    ga_oracle_options opt;
    ga_oracle_options_default(&opt);
    for (int epoch = 1; epoch <= 2; epoch++) {
        double loss, lerr;
        cr_assert_eq(ga_oracle_loss(&loss, &lerr, NULL, &e, net, p, spec->x, spec->y, spec->batch,
                                    &opt), GA_OK, "%s", e.msg);
        cr_assert_eq(ga_oracle_gradient(g, NULL, NULL, NULL, &e, net, p, spec->x, spec->y,
                                        spec->batch, &opt), GA_OK, "%s", e.msg);
        double row[64];
        size_t cols = read_row(row, 64, in_dir("n.csv"), epoch);
        cr_assert_eq(cols, 2 + net->n_views + 3, "columns: %zu", cols);
        cr_expect_eq(row[0], epoch);
        expect_rel(row[1], loss, 1e-12, "loss", epoch);
        for (size_t v = 0; v < net->n_views; v++)
            expect_rel(row[2 + v], norm(g + net->views[v].offset,
                                        net->views[v].rows * net->views[v].cols), 1e-12,
                       net->views[v].name, epoch);
        double gn = norm(g, n);
        expect_rel(row[2 + net->n_views], gn, 1e-12, "global", epoch);
        cr_expect_eq(row[3 + net->n_views], row[2 + net->n_views], "no clipping: post == pre");
        cr_expect_eq(row[4 + net->n_views], 0, "clipped flag without --clip");
        for (size_t i = 0; i < n; i++)
            p[i] -= 0.05 * g[i];
    }
    free(g);
    free(p);
    ga_net_free(net);
    ga_spec_free(spec);
}

/* Clipping: fires exactly when the global norm exceeds MAX; afterwards the norm is
 * MAX * norm / (norm + eps) (by hand from the rule g *= MAX / (norm + eps)). */
Test(train, clipping_reported, .init = make_dir, .fini = remove_dir)
{
    const double eps = 1e-6, max = 0.9;
    const char *args[] = {"train", SPEC, "--norms", in_dir("c.csv"), "--epochs", "40", "--lr",
                          "0.1", "--optimizer", "momentum", "--clip", "0.9", "--clip-eps", "1e-6",
                          NULL};
    cr_assert_eq(run_train(NULL, args), 0);
    int fired = 0, quiet = 0;
    for (int ep = 1; ep <= 40; ep++) {
        double row[64];
        size_t c = read_row(row, 64, in_dir("c.csv"), ep);
        double pre = row[c - 3], post = row[c - 2];
        int flag = (int)row[c - 1];
        cr_expect_eq(flag, max / (pre + eps) < 1.0, "epoch %d: flag %d with norm %.17g", ep, flag,
                     pre);
        if (flag) {
            fired++;
            expect_rel(post, max * pre / (pre + eps), 1e-14, "clipped norm", ep);
        } else {
            quiet++;
            cr_expect_eq(post, pre, "epoch %d: unclipped norm changed", ep);
        }
    }
    cr_expect(fired > 0 && quiet > 0, "want both cases in 40 epochs: fired %d, quiet %d", fired,
              quiet);
}

Test(train, bad_input, .init = make_dir, .fini = remove_dir)
{
    char out[512];
    snprintf(out, sizeof out, "%s", in_dir("bad.csv")); /* in_dir's buffers rotate */
    const char *const cases[][10] = {
        {"train", SPEC, NULL},                                            /* no --norms */
        {"train", "--norms", out, NULL},                                  /* no spec */
        {"train", "/nonexistent/spec.json", "--norms", out, NULL},
        {"train", SPEC, "--norms", out, "--optimizer", "rmsprop", NULL},
        {"train", SPEC, "--norms", out, "--lr", "-1", NULL},
        {"train", SPEC, "--norms", out, "--lr", "nan", NULL},
        {"train", SPEC, "--norms", out, "--epochs", "0", NULL},
        {"train", SPEC, "--norms", out, "--clip", "0", NULL},
        {"train", SPEC, "--norms", "/nonexistent/dir/n.csv", NULL},
        {"train", SPEC, "--norms", out, "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err;
        int rc = run_train(&err, cases[i]);
        cr_expect_eq(rc, 2, "case %zu: exit %d (%s)", i, rc, err);
        size_t lines = 0;
        for (char *q = err; *q; q++)
            lines += *q == '\n';
        cr_expect_eq(lines, 1, "case %zu: not one message line: %s", i, err);
        struct stat sb;
        cr_expect(stat(out, &sb) != 0, "case %zu wrote a file", i);
    }
}

/* Divergence: the rows up to the first non-finite loss are written, exit 1. */
Test(train, divergence_exits_1, .init = make_dir, .fini = remove_dir)
{
    const char *args[] = {"train", SPEC, "--norms", in_dir("d.csv"), "--epochs", "50", "--lr",
                          "1e5", NULL};
    char *err;
    cr_expect_eq(run_train(&err, args), 1, "exit status; stderr %s", err);
    cr_expect(strstr(err, "non-finite") != NULL, "message: %s", err);
    FILE *f = fopen(in_dir("d.csv"), "r");
    cr_assert_not_null(f, "rows before the divergence not written");
    char line[8192], last[8192] = "";
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        rows++;
        strcpy(last, line);
    }
    fclose(f);
    cr_expect(rows >= 2 && rows < 51, "rows: %d", rows);
    cr_expect(strstr(last, "nan") || strstr(last, "inf"), "last row is finite: %s", last);
    cr_expect(strstr(last, "-nan") == NULL, "'-nan' written: %s", last);
}
