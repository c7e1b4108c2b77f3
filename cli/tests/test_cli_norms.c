/* test_cli_norms.c: gradaudit norms.
 *
 * The gate: the norms it writes for fixtures/norms/steps (a NumPy loop's
 * np.savez files) against NumPy's numbers in fixtures/norms/expected.csv,
 * produced by fixtures/norms/make_npz.py:
 *   - bit for bit against NumPy running the same operations (scaled squares
 *     summed in C order with np.add.accumulate): same IEEE operations in the
 *     same order, so the same bits; max |g| and the NaN/Inf counts likewise;
 *   - within (gamma_n + 2u) relative of np.linalg.norm (a BLAS dot product in
 *     its own order; each is within gamma_n / 2 + u of the exact norm), except
 *     where np.linalg.norm overflows (entries of 1e200) and gradaudit does not.
 * Then every bad input: exit 2, one line naming the file and the field, and no
 * output file (nor a temporary one) left behind. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ga_testsupport.h"

static ga_test_run run(char **args)
{
    const char *prog = getenv("GRADAUDIT");
    cr_assert(prog && *prog, "GRADAUDIT is not set (meson passes the program's path)");
    char *argv[16] = {(char *)prog, "norms"};
    int n = 2;
    for (; args[n - 2]; n++)
        argv[n] = args[n - 2];
    argv[n] = NULL;
    ga_test_run r;
    cr_assert_eq(ga_test_run_program(&r, argv), 0, "cannot run %s", prog);
    return r;
}

static char dir[64], out[128];

static void make_dir(void)
{
    strcpy(dir, "/tmp/ga_norms_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/out/norms.csv", dir);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/out", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
}

/* ---- reading the CSV ---------------------------------------------------------- */
typedef ga_test_csv csv;

static void csv_parse(csv *c, char *text)
{
    size_t bad;
    cr_assert_eq(ga_test_csv_parse(c, text, &bad), 0, "row %zu is not whole", bad);
}

static const char *cell(const csv *c, size_t row, const char *col)
{
    const char *v = ga_test_csv_cell(c, row, col);
    cr_assert_not_null(v, "no column %s or row %zu", col, row);
    return v;
}

static size_t row_of_step(const csv *c, const char *step)
{
    for (size_t r = 1; r < c->rows; r++)
        if (!strcmp(cell(c, r, "step"), step))
            return r;
    cr_assert_fail("no row for step %s", step);
    return 0;
}

/* ---- the gate ------------------------------------------------------------------ */
static void check_against_numpy(int lightning)
{
    make_dir();
    char *args[] = {GA_SOURCE_ROOT "/fixtures/norms/steps", "-o", out,
                    lightning ? "--lightning" : NULL, NULL};
    ga_test_run r = run(args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect_eq(r.out_len, 0);
    ga_test_run_free(&r);
    csv got, want;
    char *t = ga_test_slurp(out, NULL);
    cr_assert_not_null(t);
    csv_parse(&got, t);
    t = ga_test_slurp(GA_SOURCE_ROOT "/fixtures/norms/expected.csv", NULL);
    cr_assert_not_null(t);
    csv_parse(&want, t);
    cr_assert_eq(got.rows, 1 + 7, "seven steps");
    const char *order[] = {"0", "5", "10", "15", "20", "25", "30"};
    for (size_t i = 0; i < 7; i++)
        cr_expect_str_eq(cell(&got, i + 1, "step"), order[i], "rows in step order");
    const double u = ldexp(1, -53);
    size_t checked = 0, overflowed = 0;
    for (size_t w = 1; w < want.rows; w++) {
        const char *step = cell(&want, w, "step"), *name = cell(&want, w, "tensor");
        size_t g = row_of_step(&got, step);
        int global = !strcmp(name, "(global)");
        char col[64];
        if (global)
            snprintf(col, sizeof col, "%s", lightning ? "grad_2.0_norm_total" : "global_norm");
        else
            snprintf(col, sizeof col, lightning ? "grad_2.0_norm/%s" : "grad_norm_%s", name);
        double norm = strtod(cell(&got, g, col), NULL);
        double exact = strtod(cell(&want, w, "norm"), NULL);
        double linalg = strtod(cell(&want, w, "linalg"), NULL);
        double n = strtod(cell(&want, w, "n"), NULL);
        cr_expect(norm == exact || (isnan(norm) && isnan(exact)),
                  "step %s %s: %a, NumPy in the same order %a", step, name, norm, exact);
        if (isfinite(linalg)) {
            double bound = (n * u / (1 - n * u) + 2 * u) * linalg;
            cr_expect_leq(fabs(norm - linalg), bound, "step %s %s: %a vs np.linalg.norm %a",
                          step, name, norm, linalg);
        } else if (isinf(linalg) && isfinite(norm)) {
            overflowed++;
        }
        if (!global) {
            snprintf(col, sizeof col, "grad_max_abs_%s", name);
            double mx = strtod(cell(&got, g, col), NULL), wmx = strtod(cell(&want, w, "max_abs"),
                                                                        NULL);
            cr_expect(mx == wmx || (isnan(mx) && isnan(wmx)), "step %s %s max_abs %a vs %a",
                      step, name, mx, wmx);
            snprintf(col, sizeof col, "grad_nan_%s", name);
            cr_expect_str_eq(cell(&got, g, col), cell(&want, w, "nan"), "step %s %s", step, name);
            snprintf(col, sizeof col, "grad_inf_%s", name);
            cr_expect_str_eq(cell(&got, g, col), cell(&want, w, "inf"), "step %s %s", step, name);
        }
        checked++;
    }
    cr_expect_eq(checked, 7 * 5, "every tensor and the global norm of every step");
    cr_expect_eq(overflowed, 2, "step 25: dW2 (1e200) and the global norm, where "
                                "np.linalg.norm gives inf");
    /* the NaN step: flagged; the 1e200 step: exploded (growth) */
    cr_expect_str_eq(cell(&got, row_of_step(&got, "30"), "nan_inf"), "1");
    cr_expect_str_eq(cell(&got, row_of_step(&got, "25"), "exploded"), "1");
    cr_expect_str_eq(cell(&got, row_of_step(&got, "20"), "exploded"), "0");
    cr_expect_str_eq(cell(&got, row_of_step(&got, "20"), "update_ratio_dW1"), "",
                     "no parameters saved: no ratio");
    ga_test_csv_free(&got);
    ga_test_csv_free(&want);
}

Test(cli_norms, fixture_equals_numpy)
{
    check_against_numpy(0);
}

Test(cli_norms, fixture_equals_numpy_lightning_names)
{
    check_against_numpy(1);
}

/* ---- bad input ------------------------------------------------------------------ */
static unsigned char img[4][512];

/* an archive with arrays W (2, 2) <f8 and b (2,) <f8, the second one's header
 * replaced by dict_b when given, and names replaced when given */
static void write_npz(const char *path, const char *name_w, const char *name_b,
                      const char *dict_b)
{
    double v[4] = {1, 2, 3, 4};
    size_t lens[2] = {
        ga_test_npy_image(img[0], sizeof img[0], 1,
                          "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", v, 32),
        ga_test_npy_image(img[1], sizeof img[1], 1,
                          dict_b ? dict_b
                                 : "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                          v, 16)};
    unsigned char *bufs[2] = {img[0], img[1]};
    const char *names[2] = {name_w ? name_w : "W.npy", name_b ? name_b : "b.npy"};
    cr_assert_eq(ga_test_zip(path, 2, names, bufs, lens), 0, "%s", path);
}

static void expect_refused(char **args, const char *msg)
{
    FILE *f = NULL;
    ga_test_run r = run(args);
    cr_expect_eq(r.status, 2, "%s: exit %d, stderr %s", msg, r.status, r.err);
    cr_expect_not_null(strstr(r.err, msg), "stderr '%s' lacks '%s'", r.err, msg);
    cr_expect_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "one line: %s", r.err);
    cr_expect_eq(r.out_len, 0);
    ga_test_run_free(&r);
    /* nothing in the output directory: no file, no temporary */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/out", dir);
    DIR *d = opendir(sub);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        cr_expect(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."),
                  "%s: left %s behind", msg, e->d_name);
    closedir(d);
    (void)f;
}

Test(cli_norms, usage_errors)
{
    make_dir();
    char good[160];
    snprintf(good, sizeof good, "%s/step1.npz", dir);
    write_npz(good, NULL, NULL, NULL);
    expect_refused((char *[]){good, NULL}, "missing -o NORMS.csv");
    expect_refused((char *[]){"-o", out, NULL}, "no FILE.npz or directory given");
    expect_refused((char *[]){good, "-o", out, "--bogus", NULL}, "unknown option '--bogus'");
    expect_refused((char *[]){good, "-o", NULL}, "-o needs a value");
    expect_refused((char *[]){good, "-o", out, "--vanish-below", "0", NULL},
                   "--vanish-below '0': expected a finite positive number");
    expect_refused((char *[]){good, "-o", out, "--explode-above", "1e4x", NULL},
                   "--explode-above '1e4x': expected a finite positive number");
    expect_refused((char *[]){good, "-o", out, "--ref", "nope", NULL},
                   "step1.npz: --ref nope: no such array");
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/missing/norms.csv", dir);
    expect_refused((char *[]){good, "-o", nodir, NULL}, "cannot write");
}

Test(cli_norms, bad_files_leave_no_output)
{
    make_dir();
    char p1[160], p2[160], p3[160];
    snprintf(p1, sizeof p1, "%s/step1.npz", dir);
    snprintf(p2, sizeof p2, "%s/step2.npz", dir);
    snprintf(p3, sizeof p3, "%s/nonumber.npz", dir);
    write_npz(p1, NULL, NULL, NULL);
    /* each malformed second file: the first was already logged */
    struct {
        const char *w, *b, *dict, *msg;
    } cases[] = {
        {NULL, NULL, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
         "step2.npz:b.npy: header: 'descr' is '<i8': expected"},
        {NULL, NULL, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,) ",
         "step2.npz:b.npy: header: expected ',' or '}' after the value of 'shape'"},
        {NULL, NULL, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
         "step2.npz:b.npy: data truncated: 16 bytes for shape (3,) of '<f8' (24 expected)"},
        {NULL, NULL, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }",
         "step2.npz: array 'b' has another shape than in the first file"},
        {NULL, "c.npy", NULL, "step2.npz: array 'c' is not in the first file"},
        {NULL, "loss.npy", NULL, "step2.npz: 'loss' has shape (2,), 2 entries: expected one number"},
        {NULL, "b.txt", NULL, "step2.npz:b.txt: entry is not NAME.npy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_npz(p2, cases[i].w, cases[i].b, cases[i].dict);
        expect_refused((char *[]){p1, p2, "-o", out, NULL}, cases[i].msg);
    }
    /* 'b' missing in the second: an archive of W alone */
    size_t len = ga_test_npy_image(img[2], sizeof img[2], 1,
                                   "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                                   (double[4]){1, 2, 3, 4}, 32);
    cr_assert_eq(ga_test_zip(p2, 1, (const char *[]){"W.npy"}, (unsigned char *[]){img[2]},
                             &len), 0);
    expect_refused((char *[]){p1, p2, "-o", out, NULL},
                   "step2.npz: array 'b' of the first file is missing");
    /* a name the CSV cannot carry */
    write_npz(p2, "d W.npy", NULL, NULL);
    expect_refused((char *[]){p2, "-o", out, NULL}, "step2.npz: ");
    expect_refused((char *[]){p2, "-o", out, NULL}, "name 'd W' is not");
    /* not a zip; missing file */
    FILE *f = fopen(p2, "w");
    cr_assert_not_null(f);
    fputs("dW1,db1\n", f);
    fclose(f);
    expect_refused((char *[]){p1, p2, "-o", out, NULL},
                   "step2.npz: cannot read as a .npz (zip) archive: Not a zip archive");
    unlink(p2);
    expect_refused((char *[]){p1, p2, "-o", out, NULL}, "step2.npz: No such file or directory");
    /* two files with the same step */
    char p4[160];
    snprintf(p4, sizeof p4, "%s/step01.npz", dir);
    write_npz(p4, NULL, NULL, NULL);
    expect_refused((char *[]){p1, p4, "-o", out, NULL}, "are both step 1");
    unlink(p4);
    /* a directory: every file needs a number; an empty one is refused */
    write_npz(p3, NULL, NULL, NULL);
    expect_refused((char *[]){dir, "-o", out, NULL},
                   "nonumber.npz: no step number in the file's name");
    char empty[160];
    snprintf(empty, sizeof empty, "%s/out", dir);
    expect_refused((char *[]){empty, "-o", out, NULL}, "a directory without .npz files");
}

Test(cli_norms, existing_output_untouched_on_error)
{
    make_dir();
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f);
    fputs("old\n", f);
    fclose(f);
    char p1[160];
    snprintf(p1, sizeof p1, "%s/step1.npz", dir);
    write_npz(p1, NULL, NULL, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}");
    ga_test_run r = run((char *[]){p1, "-o", out, NULL});
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "unknown key 'x'"), "%s", r.err);
    ga_test_run_free(&r);
    char *s = ga_test_slurp(out, NULL);
    cr_expect_str_eq(s, "old\n");
    free(s);
}

Test(cli_norms, named_files_without_numbers_by_position)
{
    make_dir();
    char a[160], b[160];
    snprintf(a, sizeof a, "%s/zeta.npz", dir);
    snprintf(b, sizeof b, "%s/alpha.npz", dir);
    write_npz(a, NULL, NULL, NULL);
    write_npz(b, NULL, NULL, NULL);
    ga_test_run r = run((char *[]){a, b, "-o", out, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    ga_test_run_free(&r);
    char *s = ga_test_slurp(out, NULL);
    cr_assert_not_null(s);
    csv c;
    csv_parse(&c, s);
    cr_expect_eq(c.rows, 3);
    cr_expect_str_eq(cell(&c, 1, "step"), "0");
    cr_expect_str_eq(cell(&c, 2, "step"), "1");
    /* W = [[1, 2], [3, 4]]: sqrt(30) by hand; loss absent: nan */
    cr_expect_eq(strtod(cell(&c, 1, "grad_norm_W"), NULL), sqrt(30.0));
    cr_expect_str_eq(cell(&c, 1, "loss"), "nan");
    ga_test_csv_free(&c);
}

Test(cli_norms, help_names_the_three_lines)
{
    ga_test_run r = run((char *[]){"--help", NULL});
    cr_expect_eq(r.status, 0);
    cr_expect_eq(r.err_len, 0);
    cr_expect_not_null(strstr(r.out, "usage: gradaudit norms FILE.npz|DIR... -o NORMS.csv"), "%s",
                       r.out);
    cr_expect_not_null(strstr(r.out, "np.savez(f\"grads/step{i:06d}.npz\""), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "W1=W1, b1=b1, W2=W2, b2=b2, loss=loss)"), "%s", r.out);
    ga_test_run_free(&r);
}

/* ---- parameters beside their gradients (NAME beside dNAME) ----------------------- */
static unsigned char pimg[5][512];

/* an archive of n arrays (names without ".npy"): shape "(2, 2)" and the like,
 * entries from v */
static void write_arrays(const char *path, size_t n, const char *const *names,
                         const char *const *shapes, const double *const *v)
{
    char dict[128], name[5][32];
    size_t lens[5];
    unsigned char *bufs[5];
    const char *entries[5];
    cr_assert_leq(n, 5);
    for (size_t i = 0; i < n; i++) {
        size_t size = 1;
        for (const char *c = shapes[i]; *c; c++)
            if (*c >= '0' && *c <= '9')
                size *= (size_t)(*c - '0'); /* one-digit dimensions */
        snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }",
                 shapes[i]);
        lens[i] = ga_test_npy_image(pimg[i], sizeof pimg[i], 1, dict, v[i], 8 * size);
        snprintf(name[i], sizeof name[i], "%s.npy", names[i]);
        bufs[i] = pimg[i], entries[i] = name[i];
    }
    cr_assert_eq(ga_test_zip(path, n, entries, bufs, lens), 0, "%s", path);
}

static const double ones[4] = {1, 1, 1, 1};

Test(cli_norms, parameters_give_the_update_ratio)
{
    make_dir();
    char p1[160], p2[160], p3[160];
    snprintf(p1, sizeof p1, "%s/step1.npz", dir);
    snprintf(p2, sizeof p2, "%s/step2.npz", dir);
    snprintf(p3, sizeof p3, "%s/step3.npz", dir);
    /* W = [[1, 2], [3, 4]], then [[1, 2], [3, 6]], then the same: the ratios
     * ||(0, 0, 0, 2)|| / ||W_1|| = 2 / sqrt(30) and 0; b = 0 throughout: 0/0 */
    const double w1[4] = {1, 2, 3, 4}, w2[4] = {1, 2, 3, 6}, zero[2] = {0, 0}, loss = 0.5;
    write_arrays(p1, 4, (const char *[]){"dW", "db", "W", "b"},
                 (const char *[]){"(2, 2)", "(2,)", "(2, 2)", "(2,)"},
                 (const double *[]){ones, ones, w1, zero});
    write_arrays(p2, 4, (const char *[]){"W", "b", "dW", "db"},
                 (const char *[]){"(2, 2)", "(2,)", "(2, 2)", "(2,)"},
                 (const double *[]){w2, zero, ones, ones});
    write_arrays(p3, 4, (const char *[]){"dW", "loss", "W", "b"},
                 (const char *[]){"(2, 2)", "()", "(2, 2)", "(2,)"},
                 (const double *[]){ones, &loss, w2, zero});
    /* step3 lacks db: refused; rewritten whole below */
    expect_refused((char *[]){p1, p2, p3, "-o", out, NULL},
                   "step3.npz: array 'db' of the first file is missing");
    write_arrays(p3, 5, (const char *[]){"dW", "db", "W", "b", "loss"},
                 (const char *[]){"(2, 2)", "(2,)", "(2, 2)", "(2,)", "()"},
                 (const double *[]){ones, ones, w2, zero, &loss});
    ga_test_run r = run((char *[]){dir, "-o", out, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    ga_test_run_free(&r);
    char *s = ga_test_slurp(out, NULL);
    cr_assert_not_null(s);
    csv c;
    csv_parse(&c, s);
    cr_assert_eq(c.rows, 4);
    cr_expect_null(ga_test_csv_cell(&c, 0, "grad_norm_W"), "W is a parameter, not a column");
    cr_expect_str_eq(cell(&c, 1, "update_ratio_dW"), "", "the first step has no earlier one");
    cr_expect_str_eq(cell(&c, 2, "loss"), "nan", "no loss saved");
    cr_expect_str_eq(cell(&c, 3, "loss"), "0.5");
    cr_expect_eq(strtod(cell(&c, 2, "update_ratio_dW"), NULL), 2 / sqrt(30.0));
    cr_expect_str_eq(cell(&c, 3, "update_ratio_dW"), "0");
    cr_expect_str_eq(cell(&c, 2, "update_ratio_db"), "nan", "0/0");
    cr_expect_eq(strtod(cell(&c, 1, "grad_norm_db"), NULL), sqrt(2.0));
    ga_test_csv_free(&c);
}

Test(cli_norms, bad_parameters_refused)
{
    make_dir();
    char p1[160], p2[160];
    snprintf(p1, sizeof p1, "%s/step1.npz", dir);
    snprintf(p2, sizeof p2, "%s/step2.npz", dir);
    const char *pair[] = {"dW", "W"}, *grad[] = {"dW"};
    const char *sq[] = {"(2, 2)", "(2, 2)"};
    const double *v[] = {ones, ones, ones, ones};
    /* parameters of another shape than their gradient, in the first file and
     * in a later one */
    write_arrays(p1, 2, pair, (const char *[]){"(2, 2)", "(4,)"}, v);
    expect_refused((char *[]){p1, "-o", out, NULL},
                   "step1.npz: parameters 'W' have shape (4,), their gradient 'dW' (2,2)");
    write_arrays(p1, 2, pair, sq, v);
    write_arrays(p2, 2, pair, (const char *[]){"(2, 2)", "(2, 1)"}, v);
    expect_refused((char *[]){p1, p2, "-o", out, NULL},
                   "step2.npz: parameters 'W' have shape (2,1), their gradient 'dW' (2,2)");
    /* a step without the parameters the first step has, and the reverse */
    write_arrays(p2, 1, grad, sq, v);
    expect_refused((char *[]){p1, p2, "-o", out, NULL},
                   "step2.npz: array 'W', the parameters of 'dW', is missing");
    write_arrays(p1, 1, grad, sq, v);
    write_arrays(p2, 2, pair, sq, v);
    expect_refused((char *[]){p1, p2, "-o", out, NULL},
                   "step2.npz: array 'W' holds the parameters of 'dW', which ");
    /* ambiguity: dW beside both W and ddW */
    write_arrays(p1, 3, (const char *[]){"W", "dW", "ddW"},
                 (const char *[]){"(2, 2)", "(2, 2)", "(2, 2)"}, v);
    expect_refused((char *[]){p1, "-o", out, NULL},
                   "step1.npz: array 'dW' is ambiguous: the gradient of 'W' and the parameters "
                   "of 'ddW'");
    /* some gradients with parameters, one without */
    write_arrays(p1, 3, (const char *[]){"dW", "W", "db"},
                 (const char *[]){"(2, 2)", "(2, 2)", "(2,)"}, v);
    expect_refused((char *[]){p1, "-o", out, NULL},
                   "step1.npz: array 'db' is not in a pair of parameters NAME and gradient "
                   "dNAME, while 'dW' has 'W'");
    /* a loss that is not one number */
    write_arrays(p1, 3, (const char *[]){"dW", "W", "loss"},
                 (const char *[]){"(2, 2)", "(2, 2)", "(2, 2)"}, v);
    expect_refused((char *[]){p1, "-o", out, NULL},
                   "step1.npz: 'loss' has shape (2,2), 4 entries: expected one number");
}

/* The gate for update ratios: fixtures/norms/params (the loop saving W1 beside
 * dW1, ..., with a Fortran-ordered, a float32 and a big-endian parameter
 * array) against NumPy's ratios in the same operations, bit for bit. */
Test(cli_norms, fixture_update_ratios_equal_numpy)
{
    make_dir();
    ga_test_run r = run((char *[]){GA_SOURCE_ROOT "/fixtures/norms/params", "-o", out, NULL});
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    ga_test_run_free(&r);
    csv got, want;
    char *t = ga_test_slurp(out, NULL);
    cr_assert_not_null(t);
    csv_parse(&got, t);
    t = ga_test_slurp(GA_SOURCE_ROOT "/fixtures/norms/expected_params.csv", NULL);
    cr_assert_not_null(t);
    csv_parse(&want, t);
    cr_assert_eq(got.rows, 1 + 4);
    size_t checked = 0;
    for (size_t w = 1; w < want.rows; w++) {
        const char *step = cell(&want, w, "step"), *name = cell(&want, w, "tensor");
        const char *ratio = cell(&want, w, "update_ratio");
        char col[64];
        snprintf(col, sizeof col, "update_ratio_%s", name);
        const char *v = cell(&got, row_of_step(&got, step), col);
        if (!*ratio)
            cr_expect_str_eq(v, "", "step %s %s: the first step has no ratio", step, name);
        else
            cr_expect_eq(strtod(v, NULL), strtod(ratio, NULL), "step %s %s: %s, NumPy %s", step,
                         name, v, ratio);
        checked++;
    }
    cr_expect_eq(checked, 4 * 4);
    cr_expect_null(ga_test_csv_cell(&got, 0, "grad_norm_W1"), "parameters are not columns");
    ga_test_csv_free(&got);
    ga_test_csv_free(&want);
}
