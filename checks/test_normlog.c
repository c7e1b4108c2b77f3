/* test_normlog.c: the gradient-norm log (core/ga_normlog.h).
 *
 * Expected values: by hand (norms of Pythagorean triples scaled by powers of
 * two, which every step computes exactly), from MPFR (the exact norm of random
 * vectors, 256 bits, against the stated error bound gamma_n / 2 + u), and
 * from the four index-order sums of squares unscaled (the bit-equality the
 * header claims wherever they neither overflow nor underflow). Every refused
 * argument is checked for its status and its message. */
#include <fcntl.h>
#include <float.h>
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
#include <criterion/parameterized.h>
#include <mpfr.h>

#include "ga_health.h"
#include "ga_normlog.h"
#include "ga_random.h"
#include "ga_testsupport.h"

static char dir[64], path[128];

static void make_dir(void)
{
    strcpy(dir, "/tmp/ga_normlog_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/norms.csv", dir);
}

/* ---- the norm ------------------------------------------------------------------ */
Test(norm2, pythagorean_triples_exact_at_every_scale)
{
    /* (3, 4) 2^k has norm 5 2^k exactly: scaled entries 3/8, 1/2 (k's exponent
     * taken out), 9/64 + 16/64 = 25/64, sqrt = 5/8, all exact. The plain sum of
     * squares overflows from k = 511 and underflows below k = -538. */
    const int ks[] = {0, 660, 1020, -600, -1074 + 2, 100, -1000};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int k = ks[i];
        double x[2] = {ldexp(3, k), ldexp(-4, k)};
        double want = ldexp(5, k);
        cr_expect_eq(ga_norm2(x, 2), want, "k %d: %.17g, want %.17g", k, ga_norm2(x, 2), want);
    }
    /* 1e300 four times: 2e300 (sqrt(fl(y^2)) = |y| in binary64), where the
     * plain sum of squares is Inf */
    double big[4] = {1e300, -1e300, 1e300, 1e300};
    cr_expect_eq(ga_norm2(big, 4), 2e300, "%.17g", ga_norm2(big, 4));
    double one[1] = {-DBL_MAX};
    cr_expect_eq(ga_norm2(one, 1), DBL_MAX);
    double over[2] = {DBL_MAX, DBL_MAX};
    cr_expect(isinf(ga_norm2(over, 2)), "the true norm sqrt(2) DBL_MAX is beyond double");
    double zero[3] = {0, -0.0, 0};
    cr_expect_eq(ga_norm2(zero, 3), 0.0);
}

Test(norm2, nan_and_inf_counted)
{
    double x[6] = {1, NAN, INFINITY, -INFINITY, 2, -NAN};
    ga_tensor_stats s;
    ga_tensor_stats_compute(&s, x, 6);
    cr_expect_eq(s.nan, 2);
    cr_expect_eq(s.inf, 2);
    cr_expect(isnan(s.norm) && isnan(s.max_abs), "NaN propagates as in NumPy");
    double y[3] = {1, -INFINITY, -5};
    ga_tensor_stats_compute(&s, y, 3);
    cr_expect_eq(s.nan, 0);
    cr_expect_eq(s.inf, 1);
    cr_expect(isinf(s.norm) && isinf(s.max_abs) && s.norm > 0);
    double z[3] = {1, -7.5, 5};
    ga_tensor_stats_compute(&s, z, 3);
    cr_expect_eq(s.max_abs, 7.5);
    cr_expect_eq(s.nan + s.inf, 0);
}

/* uniform in [-1, 1) times 10^(-scale..scale) */
static void random_vector(double *x, size_t n, ga_rng *rng, double decades)
{
    for (size_t i = 0; i < n; i++) {
        double u = ga_rng_uniform(rng) * 2 - 1;
        double d = (ga_rng_uniform(rng) * 2 - 1) * decades;
        x[i] = u * pow(10, d);
    }
}

/* The four index-order sums of squares, unscaled: what ga_norm2 must equal bit
 * for bit wherever they neither overflow nor underflow */
static double four_way_plain(const double *x, size_t n)
{
    double s[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++)
        s[i % 4] += x[i] * x[i];
    return sqrt((s[0] + s[1]) + (s[2] + s[3]));
}

Test(norm2, same_bits_as_unscaled_sums_in_range)
{
    ga_rng rng;
    ga_rng_seed(&rng, 20261203);
    enum { N = 1000 };
    static double x[N];
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + (size_t)(ga_rng_uniform(&rng) * N);
        random_vector(x, n, &rng, 140); /* squares within 1e-280..1e280 */
        double plain = four_way_plain(x, n);
        cr_assert_eq(ga_norm2(x, n), plain, "seed 20261203 trial %d n %zu: %.17g vs %.17g",
                     trial, n, ga_norm2(x, n), plain);
    }
}

Test(norm2, within_stated_bound_of_mpfr)
{
    ga_rng rng;
    ga_rng_seed(&rng, 7);
    enum { N = 4096 };
    static double x[N];
    mpfr_t acc, sq;
    mpfr_inits2(4096, acc, sq, (mpfr_ptr)0);
    double worst = 0;
    for (int trial = 0; trial < 60; trial++) {
        size_t n = 1 + (size_t)(ga_rng_uniform(&rng) * N);
        random_vector(x, n, &rng, trial % 3 == 0 ? 300 : 3); /* some overflow a plain sum */
        mpfr_set_zero(acc, 1);
        for (size_t i = 0; i < n; i++) {
            mpfr_set_d(sq, x[i], MPFR_RNDN);
            mpfr_sqr(sq, sq, MPFR_RNDN); /* exact at 4096 bits */
            mpfr_add(acc, acc, sq, MPFR_RNDN);
        }
        mpfr_sqrt(acc, acc, MPFR_RNDN);
        double got = ga_norm2(x, n);
        mpfr_sub_d(sq, acc, got, MPFR_RNDN);
        mpfr_div(sq, sq, acc, MPFR_RNDN);
        double rel = fabs(mpfr_get_d(sq, MPFR_RNDN));
        double nu = (double)n * GA_U, bound = nu / (1 - nu) / 2 + GA_U;
        cr_expect_leq(rel, bound, "seed 7 trial %d n %zu: rel err %.3g > bound %.3g", trial, n,
                      rel, bound);
        if (rel / bound > worst)
            worst = rel / bound;
    }
    cr_log_info("largest error / bound: %.3g", worst);
    mpfr_clears(acc, sq, (mpfr_ptr)0);
}

/* ---- the log ---------------------------------------------------------------------- */
static const ga_normlog_tensor two[2] = {{"W1", 2, {2, 2}}, {"b1", 1, {2}}};

static char *read_file(const char *p)
{
    char *s = ga_test_slurp(p, NULL);
    cr_assert_not_null(s, "cannot read %s", p);
    return s;
}

Test(normlog, header_and_rows_by_hand)
{
    make_dir();
    ga_normlog *log;
    ga_error err;
    cr_assert_eq(ga_normlog_open(&log, &err, path, two, 2, NULL), GA_OK, "%s", err.msg);
    const char *hdr =
        "step,loss,"
        "grad_norm_W1,grad_max_abs_W1,grad_nan_W1,grad_inf_W1,update_ratio_W1,norm_ratio_W1,"
        "vanished_W1,exploded_W1,"
        "grad_norm_b1,grad_max_abs_b1,grad_nan_b1,grad_inf_b1,update_ratio_b1,norm_ratio_b1,"
        "vanished_b1,exploded_b1,"
        "global_norm,global_norm_clipped,clipped,clip_max,growth,vanished,exploded,nan_inf,"
        "vanish_below,explode_above,row_complete\n";
    char *s = read_file(path);
    cr_expect_str_eq(s, hdr, "the header is on disk once open returns");
    free(s);

    /* step 0: ||W1|| = 5, ||b1|| = 12 (5, 12, 13), global 13; clip at 26: not fired.
     * b1/W1 = 2.4; W1 has 2 dimensions, so it is the reference. */
    double W1[4] = {3, 0, 0, -4}, b1[2] = {0, 12};
    double P1[4] = {1, 0, 0, 0}, p1[2] = {0, 2};
    const double *g[2] = {W1, b1}, *p[2] = {P1, p1};
    ga_normlog_clip clip = {26, 0};
    cr_assert_eq(ga_normlog_step(log, &err, 0, 0.5, g, p, &clip), GA_OK, "%s", err.msg);
    /* step 3: gradients x 1e5 (growth 1e5 > 1e4: exploded), clip at 13 fires:
     * 13e5 x fl(13 / 13e5) = 13e5 x fl(1e-5) = 13 + 1.06e-15, past half an ulp
     * of 13 (8.9e-16): 13.000000000000002. Parameters moved by (0, 0, 3, 4) and (0, 0): ratios 5/1, 0/2 */
    double W1b[4] = {3e5, 0, 0, -4e5}, b1b[2] = {0, 12e5};
    double P2[4] = {1, 0, 3, 4};
    const double *g2[2] = {W1b, b1b}, *p2[2] = {P2, p1};
    clip.max_norm = 13;
    cr_assert_eq(ga_normlog_step(log, &err, 3, NAN, g2, p2, &clip), GA_OK, "%s", err.msg);
    /* step 4: no params, no clip; b1 1e-5 of W1: vanished. global
     * sqrt(25 + 2.5e-9) = 5.00000000025 (to 17 digits), growth that / 13 */
    double b1c[2] = {0, 5e-5};
    const double *g3[2] = {W1, b1c};
    cr_assert_eq(ga_normlog_step(log, &err, 4, 1.25, g3, NULL, NULL), GA_OK, "%s", err.msg);
    ga_normlog_last last;
    cr_assert_eq(ga_normlog_last_step(&last, log), GA_OK);
    cr_expect_eq(last.vanished[1], 1);
    cr_expect_eq(last.step_vanished, 1);
    cr_assert_eq(ga_normlog_close(log, &err), GA_OK, "%s", err.msg);

    s = read_file(path);
    char *rows = s + strlen(hdr);
    const char *want =
        "0,0.5,5,4,0,0,,1,0,0,12,12,0,0,,2.3999999999999999,0,0,13,13,0,26,1,0,0,0,0.0001,10000,1\n"
        "3,nan,500000,400000,0,0,5,1,0,0,1200000,1200000,0,0,0,2.3999999999999999,0,0,"
        "1300000,13.000000000000002,1,13,100000,0,1,0,0.0001,10000,1\n"
        "4,1.25,5,4,0,0,,1,0,0,5.0000000000000002e-05,5.0000000000000002e-05,0,0,,"
        "1.0000000000000001e-05,1,0,5.00000000025,5.00000000025,0,,"
        "0.38461538463461536,1,0,0,0.0001,10000,1\n";
    cr_expect_str_eq(rows, want, "rows:\n%s", rows);
    free(s);
}

Test(normlog, lightning_names)
{
    make_dir();
    ga_normlog_options o;
    ga_normlog_options_default(&o);
    o.lightning_names = 1;
    ga_normlog *log;
    ga_error err;
    cr_assert_eq(ga_normlog_open(&log, &err, path, two, 2, &o), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_normlog_close(log, &err), GA_OK);
    char *s = read_file(path);
    cr_expect(!strncmp(s, "step,loss,grad_2.0_norm/W1,grad_max_abs_W1,", 43), "%s", s);
    cr_expect_not_null(strstr(s, ",grad_2.0_norm/b1,grad_max_abs_b1,"), "%s", s);
    cr_expect_not_null(strstr(s, ",exploded_b1,grad_2.0_norm_total,global_norm_clipped,"), "%s", s);
    cr_expect_null(strstr(s, "global_norm,"), "%s", s);
    free(s);
}

Test(normlog, nan_gradient_is_data)
{
    make_dir();
    ga_normlog *log;
    ga_error err;
    cr_assert_eq(ga_normlog_open(&log, &err, path, two, 2, NULL), GA_OK, "%s", err.msg);
    double W1[4] = {1, NAN, INFINITY, 0}, b1[2] = {-INFINITY, 1};
    const double *g[2] = {W1, b1};
    cr_assert_eq(ga_normlog_step(log, &err, 1, INFINITY, g, NULL, NULL), GA_OK, "%s", err.msg);
    ga_normlog_last last;
    cr_assert_eq(ga_normlog_last_step(&last, log), GA_OK);
    cr_expect_eq(last.tensors[0].nan, 1);
    cr_expect_eq(last.tensors[0].inf, 1);
    cr_expect_eq(last.tensors[1].inf, 1);
    cr_expect_eq(last.nan_inf, 1);
    cr_expect_eq(last.step_exploded, 1, "a non-finite global norm counts as exploded");
    cr_assert_eq(ga_normlog_close(log, &err), GA_OK);
    char *s = read_file(path);
    cr_expect_not_null(strstr(s, "\n1,inf,nan,nan,1,1,,nan,0,0,inf,inf,0,1,,nan,0,0,nan,nan,0,,"
                                 "nan,0,1,1,0.0001,10000,1\n"), "%s", s);
    free(s);
}

/* every refused argument: its status, a message naming what was wrong, and
 * (for open) no file left behind */
/* Criterion copies the parameters into a fresh process (pointers would dangle):
 * names and messages are held in arrays */
typedef struct {
    char what[24];
    char name[2][8];
    size_t ndim[2], shape[2][3];
    size_t n;
    double vanish, explode;
    long ref;
    int status;
    char msg[96];
} bad_open;

ParameterizedTestParameters(normlog, bad_open_refused)
{
    static bad_open cases[] = {
        {"no tensors", {"W"}, {1}, {{2}}, 0, 1e-4, 1e4, -1, GA_EINVAL, "no tensors to log"},
        {"comma in name", {"W,1"}, {1}, {{2}}, 1, 1e-4, 1e4, -1, GA_EINVAL, "name 'W,1' is not"},
        {"empty name", {""}, {1}, {{2}}, 1, 1e-4, 1e4, -1, GA_EINVAL, "name '' is not"},
        {"duplicate", {"W", "W"}, {1, 1}, {{2}, {3}}, 2, 1e-4, 1e4, -1, GA_EINVAL,
         "tensor name 'W' given twice (0 and 1)"},
        {"zero dim", {"W"}, {2}, {{2, 0}}, 1, 1e-4, 1e4, -1, GA_EINVAL,
         "tensor W: dimension 1 is 0"},
        {"too many dims", {"W"}, {33}, {{2}}, 1, 1e-4, 1e4, -1, GA_EINVAL,
         "tensor W: 33 dimensions (at most 32)"},
        {"overflow", {"W"}, {3}, {{1UL << 40, 1UL << 40, 4}}, 1, 1e-4, 1e4, -1, GA_ERANGE,
         "tensor W: the shape's size overflows"},
        {"vanish 0", {"W"}, {1}, {{2}}, 1, 0, 1e4, -1, GA_EINVAL,
         "vanish_below 0 and explode_above 10000 must be finite and positive"},
        {"explode nan", {"W"}, {1}, {{2}}, 1, 1e-4, NAN, -1, GA_EINVAL, "must be finite"},
        {"ref 1 of 1", {"W"}, {1}, {{2}}, 1, 1e-4, 1e4, 1, GA_EINVAL,
         "ref_tensor 1 is not -1 or a tensor index below 1"},
        {"ref -2", {"W"}, {1}, {{2}}, 1, 1e-4, 1e4, -2, GA_EINVAL, "ref_tensor -2"},
    };
    return cr_make_param_array(bad_open, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_open *c, normlog, bad_open_refused)
{
    make_dir();
    ga_normlog_tensor t[2];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 2; i++) {
        t[i].name = c->name[i];
        t[i].ndim = c->ndim[i];
        memcpy(t[i].shape, c->shape[i], sizeof c->shape[i]);
    }
    ga_normlog_options o;
    ga_normlog_options_default(&o);
    o.vanish_below = c->vanish;
    o.explode_above = c->explode;
    o.ref_tensor = c->ref;
    ga_normlog *log = (ga_normlog *)1;
    ga_error err = {{0}};
    int st = ga_normlog_open(&log, &err, path, t, c->n, &o);
    cr_expect_eq(st, c->status, "%s: status %d (%s)", c->what, st, err.msg);
    cr_expect_null(log, "%s", c->what);
    cr_expect_not_null(strstr(err.msg, c->msg), "%s: message '%s' lacks '%s'", c->what,
                       err.msg, c->msg);
    cr_expect_not_null(strstr(err.msg, path), "%s: message names the file: %s", c->what,
                       err.msg);
    cr_expect_neq(access(path, F_OK), 0, "%s: a refused open leaves no file", c->what);
    /* and an existing file as it was */
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("earlier run\n", f);
    fclose(f);
    cr_expect_eq(ga_normlog_open(&log, &err, path, t, c->n, &o), c->status, "%s", c->what);
    char *s = ga_test_slurp(path, NULL);
    cr_expect_str_eq(s, "earlier run\n", "%s: the existing file was touched", c->what);
    free(s);
}

Test(normlog, bad_paths_refused)
{
    make_dir();
    ga_normlog *log;
    ga_error err = {{0}};
    cr_expect_eq(ga_normlog_open(&log, &err, dir, two, 2, NULL), GA_EIO);
    cr_expect_not_null(strstr(err.msg, "cannot write"), "%s", err.msg);
    cr_expect_eq(ga_normlog_open(&log, &err, "", two, 2, NULL), GA_EINVAL);
    cr_expect_str_eq(err.msg, "normlog: no output file name");
    cr_expect_eq(ga_normlog_open(NULL, &err, path, two, 2, NULL), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "out is NULL"), "%s", err.msg);
    cr_expect_eq(ga_normlog_open_fd(&log, &err, -1, "x", two, 2, NULL), GA_EINVAL);
    cr_expect_str_eq(err.msg, "x: invalid file descriptor -1");
    /* a full disk: the header cannot be written */
    int fd = open("/dev/full", O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_expect_eq(ga_normlog_open_fd(&log, &err, fd, "full", two, 2, NULL), GA_EIO);
    cr_expect_str_eq(err.msg, "writing full failed: No space left on device");
    close(fd);
}

Test(normlog, bad_steps_refused)
{
    make_dir();
    ga_normlog *log;
    ga_error err = {{0}};
    cr_assert_eq(ga_normlog_open(&log, &err, path, two, 2, NULL), GA_OK, "%s", err.msg);
    double W1[4] = {1, 2, 3, 4}, b1[2] = {1, 2};
    const double *g[2] = {W1, b1}, *gnull[2] = {W1, NULL}, *pnull[2] = {NULL, b1};
    cr_expect_eq(ga_normlog_step(NULL, &err, 0, 0, g, NULL, NULL), GA_EINVAL);
    cr_expect_str_eq(err.msg, "normlog: log is NULL");
    cr_expect_eq(ga_normlog_step(log, &err, 0, 0, NULL, NULL, NULL), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "step 0: grads is NULL"), "%s", err.msg);
    cr_expect_eq(ga_normlog_step(log, &err, 0, 0, gnull, NULL, NULL), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "step 0: the gradient of b1 is NULL"), "%s", err.msg);
    cr_expect_eq(ga_normlog_step(log, &err, 0, 0, g, pnull, NULL), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "the parameters of W1 are NULL"), "%s", err.msg);
    ga_normlog_clip bad[] = {{0, 0}, {NAN, 0}, {INFINITY, 0}, {1, -1}, {1, NAN}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(ga_normlog_step(log, &err, 0, 0, g, NULL, &bad[i]), GA_EINVAL, "clip %zu", i);
        cr_expect_not_null(strstr(err.msg, "clip max_norm"), "%s", err.msg);
    }
    ga_normlog_last last;
    cr_expect_eq(ga_normlog_last_step(&last, log), GA_EINVAL, "no step logged yet");
    cr_assert_eq(ga_normlog_step(log, &err, 5, 0, g, NULL, NULL), GA_OK, "%s", err.msg);
    cr_expect_eq(ga_normlog_step(log, &err, 5, 0, g, NULL, NULL), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "step 5 does not follow step 5"), "%s", err.msg);
    cr_expect_eq(ga_normlog_step(log, &err, 2, 0, g, NULL, NULL), GA_EINVAL);
    /* the refused steps wrote nothing: header + one row */
    cr_assert_eq(ga_normlog_close(log, &err), GA_OK);
    char *s = read_file(path);
    size_t lines = 0;
    for (char *c = s; *c; c++)
        lines += *c == '\n';
    cr_expect_eq(lines, 2, "%s", s);
    free(s);
}

Test(normlog, write_failure_reported_and_sticky)
{
    make_dir();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    cr_assert_geq(fd, 0);
    ga_normlog *log;
    ga_error err = {{0}};
    cr_assert_eq(ga_normlog_open_fd(&log, &err, fd, path, two, 2, NULL), GA_OK, "%s", err.msg);
    int full = open("/dev/full", O_WRONLY);
    cr_assert_geq(full, 0);
    cr_assert_geq(dup2(full, fd), 0); /* the disk fills up */
    double W1[4] = {1, 2, 3, 4}, b1[2] = {1, 2};
    const double *g[2] = {W1, b1};
    cr_expect_eq(ga_normlog_step(log, &err, 1, 0, g, NULL, NULL), GA_EIO);
    cr_expect_not_null(strstr(err.msg, "No space left on device"), "%s", err.msg);
    cr_expect_eq(ga_normlog_step(log, &err, 2, 0, g, NULL, NULL), GA_EIO);
    cr_expect_not_null(strstr(err.msg, "an earlier write failed"), "%s", err.msg);
    cr_expect_eq(ga_normlog_close(log, &err), GA_EIO);
    cr_expect_not_null(strstr(err.msg, "a write had failed"), "%s", err.msg);
    close(full);
    close(fd);
}

Test(normlog, reference_tensor)
{
    make_dir();
    /* default: the last tensor of 2+ dimensions (W2), not the last (b2) */
    ga_normlog_tensor t[4] = {{"W1", 2, {1, 2}}, {"b1", 1, {1}}, {"W2", 2, {1, 1}},
                              {"b2", 1, {1}}};
    double W1[2] = {6, 8}, b1[1] = {1e-5}, W2[1] = {2}, b2[1] = {3e4};
    const double *g[4] = {W1, b1, W2, b2};
    ga_normlog *log;
    ga_error err;
    cr_assert_eq(ga_normlog_open(&log, &err, path, t, 4, NULL), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_normlog_step(log, &err, 0, 0, g, NULL, NULL), GA_OK, "%s", err.msg);
    ga_normlog_last l;
    cr_assert_eq(ga_normlog_last_step(&l, log), GA_OK);
    cr_expect_eq(l.norm_ratio[0], 5.0);
    cr_expect_eq(l.norm_ratio[2], 1.0);
    cr_expect_eq(l.norm_ratio[3], 15000.0);
    cr_expect(l.vanished[1] && !l.exploded[1], "1e-5 / 2 = 5e-6 < 1e-4");
    cr_expect(l.exploded[3] && !l.vanished[3], "15000 > 1e4");
    cr_expect(!l.vanished[0] && !l.exploded[0] && !l.vanished[2] && !l.exploded[2]);
    cr_expect_eq(l.growth, 1.0);
    cr_assert_eq(ga_normlog_close(log, &err), GA_OK);
    /* explicit: b1 */
    ga_normlog_options o;
    ga_normlog_options_default(&o);
    o.ref_tensor = 1;
    cr_assert_eq(ga_normlog_open(&log, &err, path, t, 4, &o), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_normlog_step(log, &err, 0, 0, g, NULL, NULL), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_normlog_last_step(&l, log), GA_OK);
    cr_expect_eq(l.norm_ratio[1], 1.0);
    cr_expect(l.exploded[0] && l.exploded[2] && l.exploded[3] && l.step_exploded);
    cr_assert_eq(ga_normlog_close(log, &err), GA_OK);
}

/* update_ratio = ||p - q|| / ||q|| with ga_norm2's bits, through the fused
 * path (ordinary values), the p == q shortcut, and the plain path (NaN, Inf,
 * exponents beyond +-1021): the reference is ga_norm2 on the explicit
 * difference, computed here */
Test(normlog, update_ratio_every_path)
{
    make_dir();
    enum { N = 39 }; /* 39 = 4 x 9 + 3: every tail slot used */
    ga_normlog_tensor t[5] = {{"a", 1, {N}}, {"same", 1, {N}}, {"huge", 1, {N}},
                              {"tiny", 1, {N}}, {"nan", 1, {N}}};
    static double p[5][N], q[5][N], g[N];
    const double *gp[5] = {g, g, g, g, g}, *pp[5] = {p[0], p[1], p[2], p[3], p[4]};
    ga_rng rng;
    ga_rng_seed(&rng, 99);
    random_vector(g, N, &rng, 1);
    const double scale[5] = {1, 1, 1e308, 1e-310, 1};
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < N; i++)
            p[k][i] = scale[k] * (ga_rng_uniform(&rng) - 0.5);
    ga_normlog *log;
    ga_error err;
    cr_assert_eq(ga_normlog_open(&log, &err, path, t, 5, NULL), GA_OK, "%s", err.msg);
    for (uint64_t step = 0; step < 4; step++) {
        memcpy(q, p, sizeof p);
        if (step > 0)
            for (int k = 0; k < 5; k++)
                for (int i = 0; i < N; i++)
                    if (k != 1)
                        p[k][i] += scale[k] * 1e-3 * (ga_rng_uniform(&rng) - 0.5);
        if (step == 3)
            p[4][5] = NAN;
        cr_assert_eq(ga_normlog_step(log, &err, step, 0, gp, pp, NULL), GA_OK, "%s", err.msg);
        if (step == 0)
            continue;
        ga_normlog_last l;
        cr_assert_eq(ga_normlog_last_step(&l, log), GA_OK);
        for (int k = 0; k < 5; k++) {
            double d[N];
            for (int i = 0; i < N; i++)
                d[i] = p[k][i] - q[k][i];
            double want = ga_norm2(d, N) / ga_norm2(q[k], N);
            cr_expect(l.update_ratio[k] == want || (isnan(want) && isnan(l.update_ratio[k])),
                      "step %llu %s: %a, want %a", (unsigned long long)step, t[k].name,
                      l.update_ratio[k], want);
        }
        cr_expect_eq(l.update_ratio[1], 0.0, "an unchanged tensor: ratio 0");
    }
    ga_normlog_last l;
    cr_assert_eq(ga_normlog_last_step(&l, log), GA_OK);
    cr_expect(isnan(l.update_ratio[4]), "a NaN parameter gives a NaN ratio");
    cr_expect(isfinite(l.update_ratio[2]) && l.update_ratio[2] > 0, "1e308 entries: finite");
    cr_expect(isfinite(l.update_ratio[3]) && l.update_ratio[3] > 0, "subnormal entries: finite");
    cr_assert_eq(ga_normlog_close(log, &err), GA_OK);
}

Test(health, thresholds_on_log10)
{
    cr_expect(ga_health_vanished(log10(9.9e-5), GA_VANISH_BELOW_DEFAULT));
    cr_expect_not(ga_health_vanished(log10(1e-4), GA_VANISH_BELOW_DEFAULT));
    cr_expect(ga_health_exploded(log10(1.0001e4), GA_EXPLODE_ABOVE_DEFAULT));
    cr_expect_not(ga_health_exploded(log10(1e4), GA_EXPLODE_ABOVE_DEFAULT));
    cr_expect_not(ga_health_vanished(NAN, 1e-4) || ga_health_exploded(NAN, 1e4));
}

/* ---- interruption ---------------------------------------------------------------- */
/* A CSV reader's test of a row (line, len bytes, without its '\n'): it has the
 * header's fields_hdr fields and its last, row_complete, is "1" (pandas:
 * df[df.row_complete == 1]; a short row's missing fields are NaN there). */
static int reader_takes(const char *line, size_t len, size_t fields_hdr)
{
    size_t fields = 1;
    for (size_t i = 0; i < len; i++)
        fields += line[i] == ',';
    return fields == fields_hdr && len >= 2 && line[len - 2] == ',' && line[len - 1] == '1';
}

/* Every way a kill can cut a row is a prefix of it (the kernel copies a
 * write in order and the file grows with it): the reader's test refuses
 * every prefix but the whole row, with or without its '\n'. Without the
 * row_complete column, a field count alone would take the prefixes cut
 * inside the last number (explode_above 10000 read as 1, 10, 100, 1000). */
Test(normlog, every_cut_of_a_row_fails_the_row_complete_test)
{
    make_dir();
    ga_normlog *log;
    ga_error err;
    cr_assert_eq(ga_normlog_open(&log, &err, path, two, 2, NULL), GA_OK, "%s", err.msg);
    double W1[4] = {3, 0, 0, -4}, b1[2] = {0, 12};
    const double *g[2] = {W1, b1};
    cr_assert_eq(ga_normlog_step(log, &err, 7, 0.25, g, g, NULL), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_normlog_close(log, &err), GA_OK, "%s", err.msg);
    char *s = read_file(path);
    char *row = strchr(s, '\n') + 1;
    size_t fields_hdr = 1, len = strlen(row);
    for (char *c = s; c < row; c++)
        fields_hdr += *c == ',';
    cr_assert_eq(row[len - 1], '\n');
    size_t taken = 0, short_by_count = 0;
    for (size_t cut = 0; cut < len - 1; cut++) {
        taken += reader_takes(row, cut, fields_hdr);
        size_t fields = 1;
        for (size_t i = 0; i < cut; i++)
            fields += row[i] == ',';
        short_by_count += fields == fields_hdr; /* cut inside the last field */
    }
    cr_expect_eq(taken, 0, "%zu of the %zu cuts pass the reader's test", taken, len - 1);
    cr_expect(reader_takes(row, len - 1, fields_hdr), "the whole row passes: %s", row);
    cr_expect_eq(short_by_count, 1, "the cut just before row_complete's value is the only "
                 "one with every field, refused by the value");
    free(s);
}


/* A child logs 400 tensors (rows of about 65 kB, 16 pages) as fast as it
 * can; it is killed with sig once the file holds a few rows, at a random
 * moment. Every '\n'-terminated line must have the header's number of fields.
 * Signals the log can hold (SIGINT, SIGTERM): the file must end with '\n'.
 * SIGKILL: a trailing fragment without '\n' is possible (ga_normlog.h); it is
 * counted, and ga_normlog_repair must leave whole rows only. Returns the
 * number of rounds that ended with a fragment. */
static int kill_during_logging(int sig, int rounds)
{
    enum { T = 400, SZ = 100 };
    static ga_normlog_tensor t[T];
    static char names[T][16];
    for (int i = 0; i < T; i++) {
        snprintf(names[i], sizeof names[i], "layer%02d.weight", i);
        t[i] = (ga_normlog_tensor){names[i], 2, {10, 10}};
    }
    srand(12345);
    int fragments = 0;
    for (int round = 0; round < rounds; round++) {
        make_dir();
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            static double g[T][SZ], p[T][SZ];
            const double *gp[T], *pp[T];
            for (int i = 0; i < T; i++) {
                for (int j = 0; j < SZ; j++)
                    g[i][j] = p[i][j] = 1.0 / (1 + i + j);
                gp[i] = g[i], pp[i] = p[i];
            }
            ga_normlog *log;
            ga_error err;
            if (ga_normlog_open(&log, &err, path, t, T, NULL))
                _exit(3);
            for (uint64_t s = 0;; s++) {
                for (int i = 0; i < T; i++)
                    p[i][s % SZ] += 1e-3, g[i][s % SZ] *= 1.001;
                if (ga_normlog_step(log, &err, s, 1.0 / (double)(s + 1), gp, pp, NULL))
                    _exit(4);
            }
        }
        struct stat sb;
        /* wait for a few rows, then a random extra moment */
        struct timespec tick = {0, 100000};
        for (int i = 0; i < 20000 && (stat(path, &sb) != 0 || sb.st_size < 300000); i++)
            nanosleep(&tick, NULL);
        struct timespec ts = {0, (long)(rand() % 3000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, sig);
        int ws;
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        cr_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == sig, "round %d: child ended otherwise (%d)",
                  round, ws);
        for (int pass = 0; pass < 2; pass++) {
            size_t len;
            char *s = ga_test_slurp(path, &len);
            cr_assert_not_null(s);
            cr_assert_gt(len, 0);
            int fragment = s[len - 1] != '\n';
            if (pass == 0 && sig == SIGKILL) {
                fragments += fragment;
                if (fragment) { /* a reader must refuse it */
                    const char *last = strrchr(s, '\n') + 1, *nl = strchr(s, '\n');
                    size_t hdr = 1;
                    for (const char *c = s; c < nl; c++)
                        hdr += *c == ',';
                    cr_expect_not(reader_takes(last, len - (size_t)(last - s), hdr),
                                  "round %d: the fragment passes the row_complete test", round);
                }
            } else
                cr_expect_not(fragment, "round %d%s: the file ends inside a row", round,
                              pass ? " after repair" : "");
            size_t rows = 0, fields_hdr = 0;
            for (char *line = s; *line;) {
                char *nl = strchr(line, '\n');
                if (!nl)
                    break;
                size_t fields = 1;
                for (char *c = line; c < nl; c++)
                    fields += *c == ',';
                if (line == s)
                    fields_hdr = fields;
                else {
                    rows++;
                    cr_expect_eq(fields, fields_hdr, "round %d row %zu: %zu fields, header %zu",
                                 round, rows, fields, fields_hdr);
                }
                line = nl + 1;
            }
            cr_expect_eq(fields_hdr, 2 + 8 * T + 11);
            cr_expect_gt(rows, 3, "round %d", round);
            free(s);
            if (pass == 0) {
                ga_error err;
                size_t cut;
                cr_assert_eq(ga_normlog_repair(&err, path, &cut), GA_OK, "%s", err.msg);
                cr_expect_eq(cut > 0, fragment, "round %d: repair cut %zu bytes", round, cut);
            }
        }
    }
    return fragments;
}

Test(normlog, sigkill_leaves_whole_rows_but_a_repairable_fragment, .timeout = 60)
{
    int f = kill_during_logging(SIGKILL, 50);
    cr_log_info("SIGKILL: %d of 50 rounds cut the last row", f);
}

/* Without the signal mask in write_row, 50 such kills ended inside a row in 1
 * of 3 runs; 200 make a miss unlikely. */
Test(normlog, sigint_and_sigterm_leave_whole_rows, .timeout = 60)
{
    kill_during_logging(SIGINT, 100);
    kill_during_logging(SIGTERM, 100);
}

Test(normlog, repair_refuses_what_it_cannot_fix)
{
    make_dir();
    ga_error err;
    cr_expect_eq(ga_normlog_repair(&err, path, NULL), GA_EIO);
    cr_expect_not_null(strstr(err.msg, "cannot open"), "%s", err.msg);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("no newline", f);
    fclose(f);
    cr_expect_eq(ga_normlog_repair(&err, path, NULL), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "no complete line"), "%s", err.msg);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("a,b\n1,2\n3,", f);
    fclose(f);
    size_t cut;
    cr_expect_eq(ga_normlog_repair(&err, path, &cut), GA_OK);
    cr_expect_eq(cut, 2);
    char *s = ga_test_slurp(path, NULL);
    cr_expect_str_eq(s, "a,b\n1,2\n");
    free(s);
}
