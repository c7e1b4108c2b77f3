/* test_cli_check.c: gradaudit check as a program: exit statuses (0 pass, 1 a
 * FAIL, 2 bad input), messages naming what was wrong, CSV output, kinks.
 * The spec files are written here; the expected verdicts follow from hand
 * reasoning stated at each test (a wrong entry must fail, a correct gradient
 * must pass, z = 0 exactly at a relu is a kink). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ga_testsupport.h"

typedef struct {
    int status;
    char *out, *err;
} run_result;

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/ga_cli_check_XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static const char *tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* gradaudit check ARGS... (NULL-terminated), stdout and stderr captured */
static run_result run_check(const char *a1, ...)
{
    va_list ap;
    va_start(ap, a1);
    ga_test_run run;
    int rc = ga_test_vrun_gradaudit(&run, "check", a1, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "cannot run $GRADAUDIT (meson sets it to the program's path)");
    cr_assert(run.signal == 0 && run.status >= 0, "gradaudit check did not exit normally");
    run_result r = {run.status, run.out, run.err};
    return r;
}

static void done(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* 2-3-1 tanh regression with explicit values, batch 2 (column layout) */
static const char *smooth_spec =
    "{\"layout\": \"column\", \"input\": 2,\n"
    " \"layers\": [{\"size\": 3, \"activation\": \"tanh\"}, {\"size\": 1, \"activation\": \"identity\"}],\n"
    " \"loss\": {\"type\": \"mse\", \"reduction\": \"mean\"},\n"
    " \"data\": {\"x\": [[0.5, -1.25], [1.5, 0.75]], \"y\": [[0.25], [-0.5]]},\n"
    " \"parameters\": {\"values\": {\n"
    "   \"W1\": [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.25]], \"b1\": [[0.1], [-0.2], [0.05]],\n"
    "   \"W2\": [[0.7, -0.3, 0.2]], \"b2\": [[0.1]]}}}\n";

/* 1-1-1 relu net with z1 = 1*1 + (-1) = 0 exactly: W1 and b1 sit on the kink */
static const char *kink_spec =
    "{\"layout\": \"column\", \"input\": 1,\n"
    " \"layers\": [{\"size\": 1, \"activation\": \"relu\"}, {\"size\": 1, \"activation\": \"identity\"}],\n"
    " \"loss\": {\"type\": \"mse\", \"reduction\": \"sum\"},\n"
    " \"data\": {\"x\": [[1.0]], \"y\": [[0.0]]},\n"
    " \"parameters\": {\"values\": {\"W1\": [[1.0]], \"b1\": [[-1.0]], \"W2\": [[2.0]], \"b2\": [[0.5]]}}}\n";

Test(cli_check, correct_gradient_passes_exit_0)
{
    make_tmpdir();
    char spec[128];
    write_file(tmp_path(spec, sizeof spec, "net.json"), smooth_spec);
    run_result r = run_check(spec, NULL);
    cr_expect_eq(r.status, 0, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.out, "13 pass, 0 FAIL, 0 kink") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "reproduce: gradaudit check ") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "W2[0,1]") != NULL, "%s", r.out);
    done(&r);
    for (const char *m = "central"; m; m = !strcmp(m, "central") ? "gsl" : !strcmp(m, "gsl") ? "ridders" : NULL) {
        r = run_check(spec, "--method", m, NULL);
        cr_expect_eq(r.status, 0, "method %s:\n%s%s", m, r.out, r.err);
        done(&r);
    }
    unlink(spec);
    rmdir(tmpdir);
}

Test(cli_check, wrong_entry_fails_exit_1)
{
    make_tmpdir();
    char spec[128];
    write_file(tmp_path(spec, sizeof spec, "net.json"), smooth_spec);
    /* one entry off by 1e-9 relative: far outside any rounding bound */
    run_result r = run_check(spec, "--inject", "W1[1,0]*1.000000001", NULL);
    cr_expect_eq(r.status, 1, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.out, "12 pass, 1 FAIL") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "FAIL W1[1,0]") != NULL, "%s", r.out);
    /* the reproduce line carries the injection */
    cr_expect(strstr(r.out, "--seed 1 --inject 'W1[1,0]*1.000000001'\n") != NULL, "%s", r.out);
    done(&r);
    unlink(spec);
    rmdir(tmpdir);
}

Test(cli_check, kink_is_explained_exit_0)
{
    make_tmpdir();
    char spec[128];
    write_file(tmp_path(spec, sizeof spec, "kink.json"), kink_spec);
    run_result r = run_check(spec, NULL);
    cr_expect_eq(r.status, 0, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.out, "kink W1[0,0]: z1[0] = 0 is exactly at relu's kink") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "2 pass, 0 FAIL, 2 kink") != NULL, "%s", r.out);
    done(&r);
    unlink(spec);
    rmdir(tmpdir);
}

Test(cli_check, csv_written_with_header)
{
    make_tmpdir();
    char spec[128], csv[128];
    write_file(tmp_path(spec, sizeof spec, "net.json"), smooth_spec);
    tmp_path(csv, sizeof csv, "out.csv");
    run_result r = run_check(spec, "--csv", csv, "--seed", "5", NULL);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "seed 5") != NULL, "%s", r.out);
    char *text = ga_test_slurp(csv, NULL);
    cr_assert_not_null(text, "cannot read %s", csv);
    const char *head = "param,index,analytic,oracle,fd,abs_err,rel_err,ulps,tol,verdict,";
    cr_expect_eq(strncmp(text, head, strlen(head)), 0, "%s", text);
    cr_expect(strstr(text, "\n\"W1[0,0]\",0,") != NULL && !strchr(text, '\r'), "%s", text);
    size_t lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 14, "header + 13 entries");
    free(text);
    done(&r);
    unlink(csv);
    unlink(spec);
    rmdir(tmpdir);
}

Test(cli_check, bad_input_exit_2)
{
    make_tmpdir();
    char spec[128], bad[160];
    write_file(tmp_path(spec, sizeof spec, "net.json"), smooth_spec);

    /* unreadable spec: named */
    run_result r = run_check("/nonexistent/net.json", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "/nonexistent/net.json") != NULL, "%s", r.err);
    cr_expect_eq(r.out[0], 0, "nothing on stdout: %s", r.out);
    done(&r);

    /* unwritable CSV path: named, nothing on stdout, no file left */
    snprintf(bad, sizeof bad, "%s/no_such_dir/out.csv", tmpdir);
    r = run_check(spec, "--csv", bad, NULL);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, bad) != NULL, "%s", r.err);
    cr_expect_eq(r.out[0], 0, "%s", r.out);
    done(&r);

    /* malformed spec: the parser's message, status 2 */
    char broken[128];
    write_file(tmp_path(broken, sizeof broken, "broken.json"), "{\"layout\": \"column\", ");
    r = run_check(broken, NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "broken.json") != NULL, "%s", r.err);
    done(&r);
    unlink(broken);

    /* usage errors */
    r = run_check(spec, "--method", "bogus", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--method 'bogus'") != NULL, "%s", r.err);
    done(&r);
    r = run_check(NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "missing SPEC.json") != NULL, "%s", r.err);
    done(&r);
    r = run_check(spec, "--inject", "W9[0,0]*2", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "W9[0,0]") != NULL, "%s", r.err);
    done(&r);
    r = run_check(spec, "--engine", "gmp", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--engine 'gmp': expected mpfr or ball") != NULL, "%s", r.err);
    done(&r);
    /* the MPFR engine: the same verdicts, and the reproduce line says so (the
     * ball engine is the default: named by neither) */
    r = run_check(spec, "--engine", "mpfr", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, " --engine mpfr") != NULL, "%s", r.out);
    done(&r);
    r = run_check(spec, "--engine", "ball", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, " --engine") == NULL, "%s", r.out);
    done(&r);

    unlink(spec);
    cr_expect_eq(rmdir(tmpdir), 0, "a stray file was left in %s", tmpdir);
}

/* --fast: the correct gradient passes with a few dozen forward passes; a
 * doubled entry (a 100% error, which a fast gradcheck can miss) is detected,
 * localised and confirmed by name; options that only go with per-entry
 * checks are refused. */
Test(cli_check, fast_mode_detects_and_names_the_entry)
{
    make_tmpdir();
    char spec[128];
    write_file(tmp_path(spec, sizeof spec, "net.json"), smooth_spec);
    run_result r = run_check(spec, "--fast", NULL);
    cr_expect_eq(r.status, 0, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.out, "fast check: 2 direction(s)") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, ": pass") != NULL, "%s", r.out);
    done(&r);
    r = run_check(spec, "--fast", "--directions", "3", "--inject", "W2[0,2]*2", NULL);
    cr_expect_eq(r.status, 1, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.out, "W2[0,2]") != NULL && strstr(r.out, " FAIL\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "1 confirmed by the oracle") != NULL, "%s", r.out);
    char want[256];
    snprintf(want, sizeof want, "reproduce: gradaudit check %s --fast --seed 1 --directions 3 "
             "--inject 'W2[0,2]*2'\n", spec);
    cr_expect(strstr(r.out, want) != NULL, "the reproduce line lacks an option: %s", r.out);
    done(&r);
    r = run_check(spec, "--fast", "--csv", "/tmp/never-written.csv", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--fast goes with") != NULL, "%s", r.err);
    cr_expect_eq(r.out[0], '\0');
    done(&r);
    r = run_check(spec, "--fast", "--directions", "0", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--directions '0'") != NULL, "%s", r.err);
    done(&r);
    unlink(spec);
    rmdir(tmpdir);
}

/* --grad FILE (docs/gradfiles.md): a gradient of zeros and one holding a NaN
 * are judged (exit 1, the NaN entry a FAIL, not refused); a file of the wrong
 * length, and --grad with the options that do not judge a file, are bad input
 * (exit 2, one line naming it, nothing on stdout). The passing gradients are
 * NumPy's, in cli/tests/grad_numpy.py. */
Test(cli_check, grad_file)
{
    make_tmpdir();
    char spec[128], zeros[128], nan[128], shrt[128];
    write_file(tmp_path(spec, sizeof spec, "net.json"), smooth_spec);
    write_file(tmp_path(zeros, sizeof zeros, "zeros.csv"), "0\n0\n0\n0\n0\n0\n0\n0\n0\n0\n0\n0\n0\n");
    write_file(tmp_path(nan, sizeof nan, "nan.csv"), "name,index,value\nW1,0,nan\nW1,1,0\nW1,2,0\n"
               "W1,3,0\nW1,4,0\nW1,5,0\nb1,0,0\nb1,1,0\nb1,2,0\nW2,0,0\nW2,1,0\nW2,2,0\nb2,0,0\n");
    write_file(tmp_path(shrt, sizeof shrt, "short.csv"), "0\n0\n");
    run_result r = run_check(spec, "--grad", zeros, NULL);
    cr_expect_eq(r.status, 1, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.out, "result: 0 pass, 13 FAIL") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, " --grad ") && strstr(r.out, "zeros.csv\n"), "reproduce line: %s", r.out);
    done(&r);
    r = run_check(spec, "--grad", nan, "--top", "13", NULL);
    cr_expect_eq(r.status, 1, "%s", r.err);
    cr_expect(strstr(r.out, "FAIL W1[0,0]: analytic NaN, reference 0.696") != NULL, "%s", r.out);
    done(&r);
    static const char *const bad[][4] = {
        {"--grad", "short.csv", NULL, "short.csv: 2 values: expected 13, one a line in slab order"},
        {"--grad", "zeros.csv", "--fast", "--grad is judged by the oracle method alone"},
        {"--grad", "zeros.csv", "--method=central", "--grad is judged by the oracle method alone"},
        {"--grad", "zeros.csv", "--inject=W1[0,0]*2", "--grad is judged by the oracle method alone"},
        {"--grad", "zeros.csv", "--dtype=float32", "--dtype is the core's precision; a --grad "
         "file's is its own (--grad-dtype)"},
        {"--grad-layout=spec", NULL, NULL, "--grad-layout and --grad-dtype describe a --grad FILE"},
        {"--grad", "zeros.csv", "--grad-layout=sideways", "--grad-layout 'sideways': expected spec, "
         "transposed or auto"},
        {"--grad", "zeros.csv", "--grad-dtype=float16", "--grad-dtype 'float16': expected float64 "
         "or float32"},
        {"--grad", "none.npz", NULL, "none.npz"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char file[128];
        r = bad[i][1] ? run_check(spec, bad[i][0], tmp_path(file, sizeof file, bad[i][1]), bad[i][2], NULL)
                      : run_check(spec, bad[i][0], NULL);
        cr_expect_eq(r.status, 2, "%s %s %s: exit %d: %s", bad[i][0], bad[i][1] ? bad[i][1] : "",
                     bad[i][2] ? bad[i][2] : "", r.status, r.err);
        cr_expect(strstr(r.err, bad[i][3]) != NULL, "got %s, want %s", r.err, bad[i][3]);
        cr_expect(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "one line: %s", r.err);
        cr_expect_eq(r.out[0], '\0', "%s", r.out);
        done(&r);
    }
    /* a float32 gradient of a spec whose number overflows float32: named, exit 2 */
    char big[128];
    char *text = strdup(smooth_spec), *w = strstr(text, "[[0.3, -0.2]");
    cr_assert(w && text);
    memcpy(w, "[[4e38,-0.2]", 12);
    write_file(tmp_path(big, sizeof big, "big.json"), text);
    free(text);
    r = run_check(big, "--grad", zeros, "--grad-dtype", "float32", NULL);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "big.json: W1[0] = 3.9999999999999999e+38 overflows float32"), "%s",
              r.err);
    done(&r);
    unlink(big);
    r = run_check("-", "--grad", "-", NULL);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "the spec and --grad cannot both be standard input"), "%s", r.err);
    done(&r);
    /* the report never written over the gradient it judges */
    r = run_check(spec, "--grad", zeros, "--csv", zeros, NULL);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "is the input") && strstr(r.err, "zeros.csv"), "%s", r.err);
    done(&r);
    r = run_check(spec, "--grad", zeros, "--json", zeros, NULL);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "is the input"), "%s", r.err);
    done(&r);
    unlink(spec), unlink(zeros), unlink(nan), unlink(shrt);
    cr_expect_eq(rmdir(tmpdir), 0, "a stray file was left in %s", tmpdir);
}

/* The fixture nets of the layer types (fixtures/specs/gen_layer_fixtures.py):
 * a LeNet-like CNN and a GPT-2-like block without attention. The core's
 * gradient passes every entry, every entry settled by the oracle (the ball
 * engine: its JSON says 0 unsettled), in float64 and float32; --fast with one
 * entry moved by 1e-3 relative names that entry, and the oracle confirms it
 * and only it (the expected entry is the one injected, by construction; the
 * group tests may name other candidates, which the oracle then clears). */
Test(cli_check, layer_fixtures_pass_and_fast_localises)
{
    static const struct {
        const char *spec, *inject, *entry;
    } cases[] = {
        {"lenet-like.json", "W3[2,17]*1.001", "W3[2,17]"},
        {"gpt-block-like.json", "gamma2[0,1]*1.001", "gamma2[0,1]"},
        {"gpt-block-like.json", "E1[5,2]*1.001", "E1[5,2]"}, /* id 5: three positions */
        {"gpt2-like.json", "W4[2,13]*1.001", "W4[2,13]"},   /* the qkv projection's k part */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char spec[512];
        snprintf(spec, sizeof spec, "%s/fixtures/specs/%s", GA_SOURCE_ROOT, cases[k].spec);
        run_result r = run_check(spec, "--json", "-", NULL);
        cr_expect_eq(r.status, 0, "%s: stdout:\n%.2000s\nstderr:\n%s", spec, r.out, r.err);
        cr_expect(strstr(r.out, "\"unsettled\": 0") != NULL, "%s: some entry unsettled: %.3000s", spec, r.out);
        cr_expect(strstr(r.out, "\"FAIL\": 0") != NULL, "%s: %.3000s", spec, r.out);
        done(&r);
        r = run_check(spec, "--dtype", "float32", NULL);
        /* gpt2-like in float32: 0 FAIL, many entries unjudgeable (docs/ops.md) */
        cr_expect_eq(r.status, 0, "%s float32: stdout:\n%.2000s\nstderr:\n%s", spec, r.out, r.err);
        cr_expect(strstr(r.out, " 0 FAIL,") != NULL, "%s float32: %.2000s", spec, r.out);
        done(&r);
        r = run_check(spec, "--method", "ridders", NULL); /* bad input: exit 2, one line */
        cr_expect_eq(r.status, 2, "%s --method ridders: %s", spec, r.err);
        cr_expect(strstr(r.err, "judged by the oracle method only") != NULL && r.out[0] == '\0',
                  "%s --method ridders: stdout %s stderr %s", spec, r.out, r.err);
        done(&r);
        r = run_check(spec, "--fast", "--inject", cases[k].inject, NULL);
        cr_expect_eq(r.status, 1, "%s --fast: stdout:\n%s\nstderr:\n%s", spec, r.out, r.err);
        char want[64];
        snprintf(want, sizeof want, "    %-14s", cases[k].entry);
        const char *line = strstr(r.out, want), *eol = line ? strchr(line, '\n') : NULL;
        cr_expect(line && eol && eol - line > 5 && !strncmp(eol - 5, " FAIL", 5) &&
                      strstr(r.out, " (1 confirmed by the oracle") != NULL,
                  "%s --fast --inject %s: %s", spec, cases[k].inject, r.out);
        done(&r);
    }
}
