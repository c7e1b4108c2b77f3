/* test_cli_dtype.c: `gradaudit check --dtype` and `gradaudit eval --dtype` as
 * a program: the combinations float32 refuses (exit 2, one line), a bad
 * value, a spec number beyond float32's range (exit 2 naming it), eval's
 * float32 numbers against NumPy's, and check --dtype float32 on the
 * fixture specs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ga_testsupport.h"

typedef struct {
    int status;
    char *out, *err;
} run_result;

/* GRADAUDIT ARGS... (NULL-terminated), stdout and stderr captured */
static run_result run(const char *a1, ...)
{
    va_list ap;
    va_start(ap, a1);
    ga_test_run r;
    int rc = ga_test_vrun_gradaudit(&r, NULL, a1, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "cannot run $GRADAUDIT (meson sets it to the program's path)");
    cr_assert(r.signal == 0 && r.status >= 0, "gradaudit did not exit normally");
    return (run_result){r.status, r.out, r.err};
}

static void done(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* exit 2, nothing on stdout, one line on stderr holding want */
static void expect_refused(run_result *r, const char *want, const char *what)
{
    cr_expect_eq(r->status, 2, "%s: exit %d\n%s%s", what, r->status, r->out, r->err);
    cr_expect_str_empty(r->out, "%s: stdout %s", what, r->out);
    const char *nl = strchr(r->err, '\n');
    cr_expect(nl && nl[1] == '\0', "%s: one line on stderr: %s", what, r->err);
    cr_expect(strstr(r->err, want), "%s: stderr lacks '%s': %s", what, want, r->err);
}

static char tmpdir[64];

/* A spec file with text in a fresh directory; the path in buf. */
static const char *spec_file(char *buf, size_t size, const char *text)
{
    strcpy(tmpdir, "/tmp/ga_cli_dtype_XXXXXX");
    cr_assert(mkdtemp(tmpdir));
    snprintf(buf, size, "%s/spec.json", tmpdir);
    FILE *f = fopen(buf, "w");
    cr_assert(f, "cannot write %s", buf);
    fputs(text, f);
    fclose(f);
    return buf;
}

static void spec_file_remove(const char *path)
{
    unlink(path);
    rmdir(tmpdir);
}

#define SPECS GA_SOURCE_ROOT "/fixtures/specs/"

/* ---- refused -------------------------------------------------------------- */
Test(cli_dtype, float32_refuses_the_methods_it_has_no_tolerance_for)
{
    const char *spec = SPECS "relu-regression.json";
    const char *cases[][3] = {{"--method", "central", "not with --method other than oracle"},
                              {"--method", "ridders", "not with --method other than oracle"},
                              {"--fast", NULL, "not with --fast"},
                              {"--inject", "W1[0,0]*2", "not with --inject"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run_result r = run("check", spec, "--dtype", "float32", cases[i][0], cases[i][1], NULL);
        expect_refused(&r, cases[i][2], cases[i][0]);
        cr_expect(strstr(r.err, "--dtype float32 goes with the oracle method only"), "%s", r.err);
        done(&r);
    }
    /* float64 keeps them all */
    run_result r = run("check", spec, "--dtype", "float64", "--method", "central", NULL);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    done(&r);
}

Test(cli_dtype, a_bad_value_is_a_usage_error)
{
    const char *cmds[] = {"check", "eval"};
    for (int c = 0; c < 2; c++) {
        run_result r = run(cmds[c], SPECS "relu-regression.json", "--dtype", "float16", NULL);
        expect_refused(&r, "--dtype 'float16': expected float32 or float64", cmds[c]);
        done(&r);
    }
}

/* A number that overflows float32 (FLT_MAX = 3.4028234663852886e38): the
 * spec is refused by name, for both commands, before any work. */
static const char *overflow_spec(const char *w1, const char *x, const char *slope)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"layout\": \"column\", \"input\": 1,\n"
             " \"layers\": [{\"size\": 1, \"activation\": \"leaky_relu\", \"slope\": %s}],\n"
             " \"loss\": {\"type\": \"mse\", \"reduction\": \"sum\"},\n"
             " \"data\": {\"x\": [[%s]], \"y\": [[0]]},\n"
             " \"parameters\": {\"values\": {\"W1\": [[%s]], \"b1\": [0]}}}\n",
             slope, x, w1);
    return buf;
}

Test(cli_dtype, a_number_beyond_float32_is_named)
{
    const struct {
        const char *w1, *x, *slope, *want;
    } c[] = {
        {"4e38", "1", "0.01", "W1[0] = 3.9999999999999999e+38 overflows float32"},
        {"1", "-1e39", "0.01", "x[0] = -9.9999999999999994e+38 overflows float32"},
        {"1", "1", "5e38", "layer 1's activation parameter 4.9999999999999997e+38 overflows float32"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        char path[128];
        spec_file(path, sizeof path, overflow_spec(c[i].w1, c[i].x, c[i].slope));
        const char *cmds[] = {"check", "eval"};
        for (int k = 0; k < 2; k++) {
            run_result r = run(cmds[k], path, "--dtype", "float32", NULL);
            expect_refused(&r, c[i].want, cmds[k]);
            done(&r);
            /* in float64 the same spec runs */
            r = run(cmds[k], path, NULL);
            cr_expect(r.status == 0 || r.status == 1, "%s float64: exit %d %s", cmds[k], r.status, r.err);
            done(&r);
        }
        spec_file_remove(path);
    }
}

/* ---- eval --dtype float32: NumPy's float32 numbers ------------------------
 * z = x W + b, L = (z - y)^2 (mse, sum, scale 1), x = 0.3, W = 0.1, b = 0.2,
 * y = 0, every operation in float32 in the float pass's order; the
 * expected lines were printed by Debian's NumPy 1.24.2:
 *   import numpy as np; f = np.float32
 *   x, w, b = f(0.3), f(0.1), f(0.2); z = (f(0) + x*w) + b
 *   loss = (f(0) + z*z) * f(1); dz = f(1) * (z * f(2))
 *   dW = f(0) + dz*x; db = f(0) + dz
 *   print('%.17g' % loss, '%.17g' % dW, '%.17g' % db, '%.17g' % w, '%.17g' % b)
 * The double core's are 0.052900000000000003, 0.13800000000000001 and
 * 0.46000000000000002: the float pass is not the double one rounded. */
static const char *tiny_spec =
    "{\"layout\": \"column\", \"input\": 1,\n"
    " \"layers\": [{\"size\": 1, \"activation\": \"identity\"}],\n"
    " \"loss\": {\"type\": \"mse\", \"reduction\": \"sum\"},\n"
    " \"data\": {\"x\": [[0.3]], \"y\": [[0]]},\n"
    " \"parameters\": {\"values\": {\"W1\": [[0.1]], \"b1\": [0.2]}}}\n";

Test(cli_dtype, eval_float32_prints_numpys_float32_numbers)
{
    char path[128];
    spec_file(path, sizeof path, tiny_spec);
    run_result r = run("eval", path, "--dtype", "float32", "--params", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "dtype float32\n"
                            "loss 0.052900001406669617\n"
                            "param W1[0,0] 0.10000000149011612\n"
                            "param b1[0,0] 0.20000000298023224\n"
                            "grad W1[0,0] 0.1380000114440918\n"
                            "grad b1[0,0] 0.46000000834465027\n");
    done(&r);
    /* --dtype float64 is the default: the same bytes as no --dtype */
    run_result a = run("eval", path, "--params", NULL), b = run("eval", path, "--dtype", "float64", "--params", NULL);
    cr_expect_eq(a.status, 0);
    cr_expect_str_eq(a.out, b.out);
    cr_expect(strstr(a.out, "loss 0.052900000000000003\n") && !strstr(a.out, "dtype"), "%s", a.out);
    done(&a), done(&b);
    /* --json says the dtype */
    r = run("eval", path, "--dtype", "float32", "--json", "-", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"dtype\": \"float32\""), "%s", r.out);
    cr_expect(strstr(r.out, "\"loss\": 0.052900001406669617"), "%s", r.out);
    done(&r);
    spec_file_remove(path);
}

/* ---- check --dtype float32 on the fixture specs ----------------------------
 * The float32 core's gradients of small nets are correct float32
 * computations: every entry passes against the float32 enclosure. */
static const char *fixture_specs[] = {"algorithm-that-enables-learning.json", "first-draft.json",
                                      "hand-by-hand.json", "relu-regression.json",
                                      "softmax-classifier.json", "wrapping-your-head.json"};

ParameterizedTestParameters(cli_dtype, check_float32_passes_on_fixture_specs)
{
    static int idx[sizeof fixture_specs / sizeof *fixture_specs];
    for (size_t i = 0; i < sizeof idx / sizeof *idx; i++)
        idx[i] = (int)i;
    return cr_make_param_array(int, idx, sizeof idx / sizeof *idx);
}

ParameterizedTest(int *k, cli_dtype, check_float32_passes_on_fixture_specs)
{
    char spec[512];
    snprintf(spec, sizeof spec, SPECS "%s", fixture_specs[*k]);
    run_result r = run("check", spec, "--dtype", "float32", "--no-progress", NULL);
    cr_expect_eq(r.status, 0, "%s: exit %d\n%s%s", spec, r.status, r.out, r.err);
    const char *nl = strchr(r.out, '\n');
    cr_expect(nl && strstr(r.out, ", a float32 gradient") && strstr(r.out, ", a float32 gradient") < nl,
              "the first line says float32: %s", r.out);
    cr_expect(strstr(r.out, " 0 FAIL, "), "%s", r.out);
    cr_expect(strstr(r.out, " --dtype float32\n"), "the reproduce line: %s", r.out);
    done(&r);
}

/* ---- check --fast-math ---------------------------------------------------------
 * The fast-math model (docs/verdicts.md) on request: the report says so in
 * a line of its own, the reproduce line and the JSON carry it, the float32
 * core's correct gradient still passes; without it neither appears. The
 * finite-difference methods and --fast, which do not judge by the
 * enclosure, refuse it. */
Test(cli_dtype, fast_math_is_said_and_refused_where_it_has_no_meaning)
{
    const char *spec = SPECS "softmax-classifier.json";
    run_result r = run("check", spec, "--dtype", "float32", "--fast-math", "--no-progress", NULL);
    cr_expect_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
    cr_expect(strstr(r.out, "\nfast-math model: code built with -Ofast"), "%s", r.out);
    cr_expect(strstr(r.out, " 0 FAIL, "), "%s", r.out);
    cr_expect(strstr(r.out, " --fast-math --dtype float32\n"), "the reproduce line: %s", r.out);
    done(&r);
    r = run("check", spec, "--fast-math", "--json", "-", "--no-progress", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"fast_math\": true"), "%s", r.out);
    done(&r);
    r = run("check", spec, "--json", "-", "--no-progress", NULL);
    cr_expect(!strstr(r.out, "fast_math"), "the default run names no fast-math model: %s", r.out);
    done(&r);
    r = run("check", spec, "--no-progress", NULL);
    cr_expect(!strstr(r.out, "fast-math"), "%s", r.out);
    done(&r);
    const char *cases[][3] = {{"--method", "central", "not with --method other than oracle"},
                              {"--fast", NULL, "not with --fast"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        r = run("check", spec, "--fast-math", cases[i][0], cases[i][1], NULL);
        expect_refused(&r, cases[i][2], cases[i][0]);
        cr_expect(strstr(r.err, "--fast-math judges by the oracle method's enclosure"), "%s", r.err);
        done(&r);
    }
}
