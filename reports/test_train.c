/* test_train: gradaudit train --norms against the MPFR oracle.
 *
 * Expected gradient norms come from oracle/ (an MPFR reverse pass, each entry
 * correctly rounded), not from core's backprop that train runs. Epoch 2 is checked
 * at p1 = p0 - lr * g0 with the oracle's g0: the core's gradient differs from it by
 * a few ulps, which moves p1 by ~lr * 1e-16 relative, far inside the tolerance.
 * Tolerance 1e-12 relative: a norm of ~50 entries each a few ulps off.
 * Mini-batches: with batch size 1 and the parameters held still (lr 1e-300) each
 * epoch's losses must be the per-sample losses (the core on one sample at a
 * time) in some order, and a different order from epoch to epoch. Rows are
 * read by column name (the norm log's header, docs/norms.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ga_oracle.h"
#include "ga_report_cli.h"
#include "ga_spec.h"
#include "ga_testsupport.h"

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
        if (!argv)
            _exit(127); /* the child cannot assert: the parent sees the status */
        for (int i = 0; i < argc && args[i]; i++)
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

/* The CSV at path, parsed; every row must have the header's fields. */
static ga_test_csv read_csv(const char *path)
{
    char *text = ga_test_slurp(path, NULL);
    cr_assert_not_null(text, "cannot read %s", path);
    ga_test_csv c;
    size_t bad;
    cr_assert_eq(ga_test_csv_parse(&c, text, &bad), 0, "%s: row %zu is not whole", path, bad);
    return c;
}

/* column col of row (1-based after the header) as a double */
static double num(const ga_test_csv *c, size_t row, const char *col)
{
    const char *v = ga_test_csv_cell(c, row, col);
    cr_assert_not_null(v, "no column %s or row %zu", col, row);
    return strtod(v, NULL);
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
    cr_assert(g && p);
    memcpy(p, net->params, n * sizeof *p);
    ga_oracle_options opt;
    ga_oracle_options_default(&opt);
    for (int epoch = 1; epoch <= 2; epoch++) {
        double loss, lerr;
        cr_assert_eq(ga_oracle_loss(&loss, &lerr, NULL, &e, net, p, spec->x, spec->y, spec->batch,
                                    &opt), GA_OK, "%s", e.msg);
        cr_assert_eq(ga_oracle_gradient(g, NULL, NULL, NULL, &e, net, p, spec->x, spec->y,
                                        spec->batch, &opt), GA_OK, "%s", e.msg);
        ga_test_csv c = read_csv(in_dir("n.csv"));
        cr_assert_eq(c.cols, 2 + 8 * net->n_views + 11, "columns: %zu", c.cols);
        cr_assert_eq(c.rows, 3, "header and two steps");
        cr_expect_eq(num(&c, epoch, "step"), epoch, "full batch: one step per epoch");
        expect_rel(num(&c, epoch, "loss"), loss, 1e-12, "loss", epoch);
        for (size_t v = 0; v < net->n_views; v++) {
            char col[64];
            snprintf(col, sizeof col, "grad_norm_%s", net->views[v].name);
            expect_rel(num(&c, epoch, col), norm(g + net->views[v].offset,
                                                  net->views[v].rows * net->views[v].cols),
                       1e-12, net->views[v].name, epoch);
        }
        double gn = norm(g, n);
        expect_rel(num(&c, epoch, "global_norm"), gn, 1e-12, "global", epoch);
        cr_expect_eq(num(&c, epoch, "global_norm_clipped"), num(&c, epoch, "global_norm"),
                     "no clipping: post == pre");
        cr_expect_eq(num(&c, epoch, "clipped"), 0, "clipped flag without --clip");
        ga_test_csv_free(&c);
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
    ga_test_csv c = read_csv(in_dir("c.csv"));
    cr_assert_eq(c.rows, 41);
    for (int ep = 1; ep <= 40; ep++) {
        double pre = num(&c, (size_t)ep, "global_norm"), post = num(&c, (size_t)ep,
                                                                    "global_norm_clipped");
        int flag = (int)num(&c, (size_t)ep, "clipped");
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
    ga_test_csv_free(&c);
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
        {"train", SPEC, "--norms", out, "--batch-size", "0", NULL},
        {"train", SPEC, "--norms", out, "--batch-size", "5", NULL},       /* 4 samples */
        {"train", SPEC, "--norms", out, "--steps", "0", NULL},
        {"train", SPEC, "--norms", out, "--shuffle-seed", "-1", NULL},
        {"train", SPEC, "--norms", out, "--plot", "p.jpg", NULL},
        {"train", SPEC, "--norms", out, "--steps", NULL},
    };
    const char *messages[] = {
        "missing --norms FILE.csv; try 'gradaudit train --help'",
        "missing SPEC.json; try 'gradaudit train --help'", "/nonexistent/spec.json",
        "--optimizer: unknown 'rmsprop'", "--lr: '-1' is not a finite positive number",
        "--lr: 'nan'", "--epochs: '0' is not an integer in 1..10000000",
        "--clip: '0' is not a finite positive number", "/nonexistent/dir/n.csv",
        "unknown option '--bogus'", "--batch-size: '0' is not an integer in 1..",
        "--batch-size 5: the spec", "--steps: '0' is not an integer in 1..1000000000",
        "--shuffle-seed: '-1' is not an integer in 0..4294967295",
        "--plot: 'p.jpg' must end in .svg, .png or .pdf", "--steps needs a value"};
    cr_assert_eq(sizeof messages / sizeof messages[0], sizeof cases / sizeof cases[0]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err;
        int rc = run_train(&err, cases[i]);
        cr_expect_eq(rc, 2, "case %zu: exit %d (%s)", i, rc, err);
        size_t lines = 0;
        for (char *q = err; *q; q++)
            lines += *q == '\n';
        cr_expect_eq(lines, 1, "case %zu: not one message line: %s", i, err);
        cr_expect_not_null(strstr(err, messages[i]), "case %zu: '%s' lacks '%s'", i, err,
                           messages[i]);
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

/* ---- mini-batches, steps, streaming, plot ------------------------------------------- */
/* --batch-size 1 with lr 1e-300 (the parameters do not move): each epoch's four
 * steps are the four samples in some order, so their losses are the per-sample
 * losses (computed here by the core on each sample alone) permuted. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(train, batch_size_1_visits_every_sample_each_epoch, .init = make_dir, .fini = remove_dir)
{
    const char *args[] = {"train", SPEC, "--norms", in_dir("b.csv"), "--epochs", "3", "--lr",
                          "1e-300", "--batch-size", "1", "--shuffle-seed", "7", NULL};
    char *err;
    cr_assert_eq(run_train(&err, args), 0, "stderr: %s", err);
    cr_expect_not_null(strstr(err, "mini-batches of 1 of 4 samples, 4 steps per epoch, shuffled "
                                   "at every epoch from --shuffle-seed 7"), "%s", err);
    cr_expect_null(strchr(err, '\r'), "no progress line when stderr is not a terminal");
    ga_spec *spec;
    ga_net *net;
    ga_workspace *ws;
    ga_error e = {{0}};
    cr_assert_eq(ga_spec_load(&spec, &e, SPEC, 0), GA_OK, "%s", e.msg);
    cr_assert_eq(ga_spec_make_net(&net, &e, spec, 0, 0), GA_OK, "%s", e.msg);
    cr_assert_eq(ga_workspace_alloc(&ws, &e, net, 1), GA_OK);
    size_t n_in = net->desc.n_in, n_out = 1;
    double want[4];
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(ga_loss_and_grad(&want[i], net->grads, NULL, ws, net, net->params,
                                      spec->x + i * n_in, spec->y + i * n_out, 1), GA_OK);
    qsort(want, 4, sizeof *want, cmp_double);
    ga_test_csv c = read_csv(in_dir("b.csv"));
    cr_assert_eq(c.rows, 1 + 12, "3 epochs x 4 steps");
    int orders_differ = 0;
    double first[4] = {0};
    for (size_t ep = 0; ep < 3; ep++) {
        double got[4];
        for (size_t k = 0; k < 4; k++) {
            cr_expect_eq(num(&c, 1 + 4 * ep + k, "step"), (double)(4 * ep + k + 1));
            got[k] = num(&c, 1 + 4 * ep + k, "loss");
            if (ep == 0)
                first[k] = got[k];
            else
                orders_differ |= got[k] != first[k];
        }
        qsort(got, 4, sizeof *got, cmp_double);
        for (size_t k = 0; k < 4; k++)
            expect_rel(got[k], want[k], 1e-12, "sorted per-sample loss", (int)ep + 1);
    }
    cr_expect(orders_differ, "every epoch visited the samples in the same order: not shuffled");
    ga_test_csv_free(&c);
    ga_workspace_free(ws);
    ga_net_free(net);
    ga_spec_free(spec);
}

Test(train, shuffle_seed_reproduces_and_changes_the_order, .init = make_dir, .fini = remove_dir)
{
    const char *a1[] = {"train", SPEC, "--norms", in_dir("s1.csv"), "--epochs", "2",
                        "--batch-size", "1", "--shuffle-seed", "11", NULL};
    const char *a2[] = {"train", SPEC, "--norms", in_dir("s2.csv"), "--epochs", "2",
                        "--batch-size", "1", "--shuffle-seed", "11", NULL};
    const char *a3[] = {"train", SPEC, "--norms", in_dir("s3.csv"), "--epochs", "2",
                        "--batch-size", "1", "--shuffle-seed", "12", NULL};
    cr_assert_eq(run_train(NULL, a1), 0);
    cr_assert_eq(run_train(NULL, a2), 0);
    cr_assert_eq(run_train(NULL, a3), 0);
    char *s1 = ga_test_slurp(in_dir("s1.csv"), NULL), *s2 = ga_test_slurp(in_dir("s2.csv"), NULL),
         *s3 = ga_test_slurp(in_dir("s3.csv"), NULL);
    cr_assert(s1 && s2 && s3);
    cr_expect_str_eq(s1, s2, "the same seed gives the same file");
    cr_expect_str_neq(s1, s3, "another seed, another order");
    free(s1), free(s2), free(s3);
}

Test(train, lightning_names, .init = make_dir, .fini = remove_dir)
{
    const char *a[] = {"train", SPEC, "--norms", in_dir("l.csv"), "--epochs", "2",
                       "--lightning", NULL};
    cr_assert_eq(run_train(NULL, a), 0);
    ga_test_csv c = read_csv(in_dir("l.csv"));
    cr_expect_not_null(ga_test_csv_cell(&c, 0, "grad_2.0_norm/W1"));
    cr_expect_not_null(ga_test_csv_cell(&c, 0, "grad_2.0_norm/b3"));
    cr_expect_not_null(ga_test_csv_cell(&c, 0, "grad_2.0_norm_total"));
    cr_expect_null(ga_test_csv_cell(&c, 0, "global_norm"));
    cr_expect_null(ga_test_csv_cell(&c, 0, "grad_norm_W1"));
    ga_test_csv_free(&c);
}

Test(train, steps_stop_mid_epoch, .init = make_dir, .fini = remove_dir)
{
    const char *a[] = {"train", SPEC, "--norms", in_dir("st.csv"), "--batch-size", "3",
                       "--steps", "5", NULL};
    char *err;
    cr_assert_eq(run_train(&err, a), 0, "%s", err);
    cr_expect_not_null(strstr(err, "2 steps per epoch"), "%s", err);
    ga_test_csv c = read_csv(in_dir("st.csv"));
    cr_expect_eq(c.rows, 1 + 5, "--steps 5 alone: five steps, the third epoch cut short");
    cr_expect_eq(num(&c, 5, "step"), 5);
    ga_test_csv_free(&c);
    /* both limits: the first reached wins */
    const char *b[] = {"train", SPEC, "--norms", in_dir("st2.csv"), "--batch-size", "3",
                       "--steps", "5", "--epochs", "1", NULL};
    cr_assert_eq(run_train(NULL, b), 0);
    c = read_csv(in_dir("st2.csv"));
    cr_expect_eq(c.rows, 1 + 2, "one epoch of two steps");
    ga_test_csv_free(&c);
}

/* Rows are on disk while train runs: a run of ten million epochs is sent
 * SIGTERM once its file has 20 rows; it stops between steps with status 143
 * (128 + SIGTERM) and the rows are whole. */
Test(train, rows_streamed_while_running, .init = make_dir, .fini = remove_dir)
{
    const char *path = in_dir("live.csv");
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fo = open("/dev/null", O_WRONLY);
        dup2(fo, 1), dup2(fo, 2);
        char *argv[] = {"train", SPEC, "--norms", (char *)path, "--epochs", "10000000", "--lr",
                        "0.01", NULL};
        _exit(ga_report_train_main(8, argv));
    }
    size_t lines = 0;
    for (int i = 0; i < 5000 && lines < 21; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        char *s = ga_test_slurp(path, NULL);
        lines = 0;
        for (char *q = s; q && *q; q++)
            lines += *q == '\n';
        free(s);
    }
    kill(pid, SIGTERM);
    int ws;
    waitpid(pid, &ws, 0);
    cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 128 + SIGTERM,
              "the run was still going: stopped by SIGTERM with status 143, not finished");
    cr_assert_geq(lines, 21, "rows did not appear while the run went on");
    ga_test_csv c = read_csv(path); /* every row whole (SIGTERM waits for a row's end) */
    cr_expect_geq(c.rows, 21);
    ga_test_csv_free(&c);
}

Test(train, plot_or_note, .init = make_dir, .fini = remove_dir)
{
    int have = system("command -v gnuplot >/dev/null 2>&1") == 0;
    const char *a[] = {"train", SPEC, "--norms", in_dir("p.csv"), "--epochs", "30", "--clip",
                       "0.5", "--plot", in_dir("p.svg"), NULL};
    char *err;
    cr_assert_eq(run_train(&err, a), 0, "%s", err);
    char *svg = ga_test_slurp(in_dir("p.svg"), NULL);
    if (have) {
        cr_assert_not_null(svg, "no plot although gnuplot is installed");
        cr_expect_not_null(strstr(svg, "<svg"), "not an SVG");
        cr_expect_not_null(strstr(svg, "global"), "the global norm's key is missing");
        cr_expect_not_null(strstr(svg, "clipped"), "the clip marks' key is missing");
    } else {
        cr_expect_null(svg);
        cr_expect_not_null(strstr(err, "gnuplot is not installed"), "%s", err);
    }
    free(svg);
}

/* What train writes on stderr when stderr is a terminal (a pseudo-terminal here). */
static char *stderr_on_a_terminal(const char *const *args)
{
    char *seen;
    int st = ga_test_stderr_on_pty(&seen, ga_report_train_main, args);
    cr_assert_not_null(seen, "could not run on a pseudo-terminal");
    cr_expect_eq(st, 0, "status %d: %s", st, seen);
    return seen;
}

Test(train, progress_only_on_a_terminal, .init = make_dir, .fini = remove_dir)
{
    const char *a[] = {"train", SPEC, "--norms", in_dir("pr.csv"), "--epochs", "3000", NULL};
    char *seen = stderr_on_a_terminal(a);
    cr_expect(strstr(seen, "\r\033[Ktrain [") && strstr(seen, "/3000 steps "),
              "no progress line on the terminal: %s", seen);
    size_t n = strlen(seen);
    /* erased at the end, so that the shell's prompt starts at column 0 on a
     * clean line: nothing of it left, and no newline of its own */
    cr_expect(n >= 4 && !strcmp(seen + n - 4, "\r\033[K") && !strchr(seen, '\n'),
              "the line is not erased at the end: %s", seen);
    free(seen);
    const char *b[] = {"train", SPEC, "--norms", in_dir("pr.csv"), "--epochs", "3000",
                       "--no-progress", NULL};
    seen = stderr_on_a_terminal(b);
    cr_expect_str_empty(seen, "--no-progress: %s", seen);
    free(seen);
}
