/* test_cli_spec.c: `gradaudit eval` as a program: exit statuses, messages,
 * empty stdout on error, and its numbers against NumPy.
 *
 * The program's path comes from the environment (GRADAUDIT, set by meson).
 * Expected numbers come from NumPy 1.24 (Debian's /usr/bin/python3) running
 * the tutorials' own formulas; the Python is quoted next to each table. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>

#include "ga_testsupport.h"

#define SRC(p) GA_SOURCE_ROOT "/" p

typedef struct {
    int status;   /* exit status, or -1 if the program did not exit normally */
    char *out;    /* stdout, NUL-terminated */
    char *err;    /* stderr */
} run_result;

/* Runs GRADAUDIT eval ARGS... with stdout and stderr captured. */
static run_result run_eval(const char *const *args, size_t n)
{
    const char *prog = getenv("GRADAUDIT");
    cr_assert(prog && *prog, "GRADAUDIT is not set (meson passes the program's path)");
    char *argv[32];
    cr_assert(n + 3 < 32);
    argv[0] = (char *)prog;
    argv[1] = (char *)"eval";
    for (size_t i = 0; i < n; i++)
        argv[2 + i] = (char *)args[i];
    argv[2 + n] = NULL;
    ga_test_run run;
    cr_assert_eq(ga_test_run_program(&run, argv), 0, "cannot run %s", prog);
    run_result r = {run.status, run.out, run.err};
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* A bad-input run: exit 2, nothing on stdout, one line on stderr containing want. */
static void expect_bad(const run_result *r, const char *want, const char *what)
{
    cr_expect_eq(r->status, 2, "[%s] exit status %d, expected 2; stderr: %s", what, r->status,
                 r->err);
    cr_expect_str_empty(r->out, "[%s] stdout not empty: %s", what, r->out);
    cr_expect(strstr(r->err, want) != NULL, "[%s] stderr\n  %s\nlacks\n  %s", what, r->err, want);
    size_t len = strlen(r->err);
    cr_expect(len > 0 && r->err[len - 1] == '\n' && strchr(r->err, '\n') == r->err + len - 1,
              "[%s] stderr is not exactly one line: %s", what, r->err);
}

/* ---- usage ------------------------------------------------------------------- */

Test(cli_eval, help)
{
    const char *a[] = {"--help"};
    run_result r = run_eval(a, 1);
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "usage: gradaudit eval SPEC.json"), "%s", r.out);
    cr_expect_str_empty(r.err);
    run_free(&r);
}

typedef struct {
    int n;
    const char *args[3];
    const char *want;
} usage_case;

static const usage_case usage_cases[] = {
    {0, {NULL}, "gradaudit eval: missing SPEC.json"},
    {2, {SRC("fixtures/specs/first-draft.json"), "--bogus"}, "unknown option '--bogus'"},
    {2, {SRC("fixtures/specs/first-draft.json"), "--seed"}, "--seed needs a value"},
    {3, {SRC("fixtures/specs/first-draft.json"), "--seed", "abc"}, "--seed 'abc': expected an integer in 0..4294967295"},
    {3, {SRC("fixtures/specs/first-draft.json"), "--seed", "4294967296"}, "--seed '4294967296'"},
    {3, {SRC("fixtures/specs/first-draft.json"), "--seed", "-1"}, "--seed '-1'"},
    {3, {SRC("fixtures/specs/first-draft.json"), "--kernel", "fast"}, "--kernel 'fast': expected blas or reference"},
    {2, {SRC("fixtures/specs/first-draft.json"), SRC("fixtures/specs/hand-by-hand.json")}, "one spec file only"},
    {3, {SRC("fixtures/specs/algorithm-that-enables-learning.json"), "--seed", "3"},
     "--seed applies only to a spec with parameters.init"},
    {1, {"/nonexistent/spec.json"}, "gradaudit eval: /nonexistent/spec.json: cannot open: No such file or directory"},
};
#define N_USAGE (sizeof usage_cases / sizeof usage_cases[0])
static int usage_index[N_USAGE];

ParameterizedTestParameters(cli_eval, usage_errors)
{
    for (size_t i = 0; i < N_USAGE; i++)
        usage_index[i] = (int)i;
    return cr_make_param_array(int, usage_index, N_USAGE);
}

ParameterizedTest(int *k, cli_eval, usage_errors)
{
    const usage_case *c = &usage_cases[*k];
    run_result r = run_eval(c->args, (size_t)c->n);
    expect_bad(&r, c->want, c->want);
    run_free(&r);
}

/* ---- bad specs: exit 2, one message naming the file, nothing on stdout -------- */

#define NET "\"layout\": \"row\", \"input\": 2, \"layers\": [{\"size\": 2, \"activation\": \"sigmoid\"}, {\"size\": 1, \"activation\": \"sigmoid\"}]"
#define LOSS "\"loss\": {\"type\": \"mse\", \"reduction\": \"mean\"}"
#define DATA "\"data\": {\"x\": [[0, 1], [1, 0]], \"y\": [[1], [1]]}"
#define PARAMS "\"parameters\": {\"init\": {\"seed\": 0, \"default\": {\"scheme\": \"randn\"}}}"

typedef struct {
    const char *what;
    const char *text;
    const char *want; /* after "gradaudit eval: FILE" */
} spec_case;

static const spec_case spec_cases[] = {
    {"not json", "this is not json", ":1:4: invalid JSON: '[' or '{' expected near 'this'"},
    {"missing field", "{" NET ", " DATA ", " PARAMS "}", ": loss: missing (expected an object)"},
    {"wrong type", "{" NET ", \"loss\": [1], " DATA ", " PARAMS "}", ": loss: is an array (expected an object)"},
    {"unknown name", "{\"layout\": \"row\", \"input\": 2, \"layers\": [{\"size\": 1, \"activation\": \"sigmod\"}], " LOSS ", " DATA ", " PARAMS "}",
     ": layers[0].activation: unknown activation \"sigmod\" (expected one of: identity, sigmoid, tanh, relu, leaky_relu, elu, softplus, softmax, silu, gelu, gelu_tanh)"},
    {"unknown top-level key", "{" NET ", " LOSS ", " DATA ", " PARAMS ", \"lerning_rate\": 0.1}", ": unknown key \"lerning_rate\" at top level"},
    {"NaN", "{" NET ",\n" LOSS ",\n\"data\": {\"x\": [[NaN, 1]], \"y\": [[1]]},\n" PARAMS "}", ":3:"},
    {"Infinity", "{" NET ",\n" LOSS ",\n\"data\": {\"x\": [[-Infinity, 1]], \"y\": [[1]]},\n" PARAMS "}", "NaN and Infinity are not JSON numbers"},
    {"overflow", "{" NET ",\n" LOSS ",\n\"data\": {\"x\": [[1e999, 1]], \"y\": [[1]]},\n" PARAMS "}", "number 1e999 overflows a double"},
    {"data shape", "{" NET ", " LOSS ", \"data\": {\"x\": [[0, 1, 2]], \"y\": [[1]]}, " PARAMS "}", ": data.x[0]: has 3 entries (expected 2: the input size)"},
    {"data rows", "{" NET ", " LOSS ", \"data\": {\"x\": [[0, 1]], \"y\": [[1], [0]]}, " PARAMS "}", ": data.y: has 2 rows (expected 1"},
    {"zero size", "{\"layout\": \"row\", \"input\": 0}", ": input: is 0 (expected an integer input size >= 1)"},
    {"negative size", "{\"layout\": \"row\", \"input\": 2, \"layers\": [{\"size\": -4, \"activation\": \"tanh\"}]}", ": layers[0].size: is -4"},
    {"invalid pair", "{\"layout\": \"row\", \"input\": 2, \"layers\": [{\"size\": 3, \"activation\": \"sigmoid\"}], \"loss\": {\"type\": \"softmax_ce\", \"reduction\": \"batch_mean\"}}",
     ": loss.type: loss \"softmax_ce\" needs the last layer's activation to be \"identity\""},
    {"over the memory cap", "{\"layout\": \"row\", \"input\": 16777216, \"layers\": [{\"size\": 16777216, \"activation\": \"tanh\"}, {\"size\": 16777216, \"activation\": \"tanh\"}], " LOSS "}",
     "over the memory cap"},
    {"values shape", "{" NET ", " LOSS ", " DATA ", \"parameters\": {\"values\": {\"W1\": [[1, 2, 3]]}}}", ": parameters.values.W1: has 1 rows (expected 2"},
    {"duplicate tensor", "{" NET ", " LOSS ", " DATA ", \"parameters\": {\"values\": {\"W1\": [[1]], \"W1\": [[1]]}}}", "duplicate key \"W1\""},
};
#define N_SPEC (sizeof spec_cases / sizeof spec_cases[0])
static int spec_index[N_SPEC];

ParameterizedTestParameters(cli_eval, bad_specs)
{
    for (size_t i = 0; i < N_SPEC; i++)
        spec_index[i] = (int)i;
    return cr_make_param_array(int, spec_index, N_SPEC);
}

ParameterizedTest(int *k, cli_eval, bad_specs)
{
    const spec_case *c = &spec_cases[*k];
    char path[] = "/tmp/ga_badspec_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(f);
    fputs(c->text, f);
    fclose(f);
    const char *a[] = {path};
    run_result r = run_eval(a, 1);
    char want[1024];
    snprintf(want, sizeof want, "gradaudit eval: %s%s", path, c->want);
    expect_bad(&r, c->want, c->what);
    cr_expect(strncmp(r.err, want, strlen("gradaudit eval: ") + strlen(path)) == 0,
              "[%s] stderr does not start with the file name: %s", c->what, r.err);
    run_free(&r);
    remove(path);
}

/* 65537 layers of width 2^24: the parameter count overflows size_t. */
Test(cli_eval, parameter_count_overflow)
{
    char path[] = "/tmp/ga_bigspec_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    fputs("{\"layout\": \"row\", \"input\": 16777216, \"layers\": [", f);
    for (int i = 0; i < 65537; i++)
        fputs("{\"size\": 16777216, \"activation\": \"tanh\"},", f);
    fputs("{\"size\": 1, \"activation\": \"identity\"}], " LOSS ", " DATA ", " PARAMS "}", f);
    fclose(f);
    const char *a[] = {path};
    run_result r = run_eval(a, 1);
    expect_bad(&r, "overflows", "parameter count overflow");
    run_free(&r);
    remove(path);
}

/* ---- good runs ------------------------------------------------------------------ */

/* Parses "loss V" and "grad NAME V" lines; returns the number of grads read. */
static size_t parse_output(double *loss, char names[][64], double *grads, size_t max,
                           const char *out)
{
    size_t n = 0;
    *loss = NAN;
    const char *p = out;
    while (*p) {
        const char *eol = strchr(p, '\n');
        cr_assert(eol, "output does not end in a newline");
        char line[256];
        size_t len = (size_t)(eol - p);
        cr_assert(len < sizeof line);
        memcpy(line, p, len);
        line[len] = 0;
        char name[64];
        double v;
        if (sscanf(line, "loss %lf", &v) == 1)
            *loss = v;
        else if (sscanf(line, "grad %63s %lf", name, &v) == 2) {
            cr_assert(n < max);
            snprintf(names[n], 64, "%s", name);
            grads[n++] = v;
        }
        p = eol + 1;
    }
    return n;
}

/* Relative agreement with NumPy: the two compute the same formulas in a
 * different order of operations, so they differ by a few ulps; 1e-12 is far
 * above that and far below any wrong gradient. */
static void expect_close(double got, double want, const char *what)
{
    cr_expect(fabs(got - want) <= 1e-12 * fabs(want), "%s: got %.17g, NumPy %.17g", what, got,
              want);
}

/* NumPy, the tutorial wrapping-your-head's own forward and backward at seed 3:
 *   np.random.seed(3); x = np.array([[0.5], [0.1]]); y_true = np.array([[1.0]])
 *   W1 = np.random.randn(3, 2); b1 = np.random.randn(3, 1); W2 = np.random.randn(1, 3); b2 = np.random.randn(1, 1)
 *   s = lambda z: 1/(1+np.exp(-z)); z1 = W1 @ x + b1; a1 = s(z1); z2 = W2 @ a1 + b2; y_pred = s(z2)
 *   loss = 0.5*np.square(y_pred - y_true).sum()
 *   d2 = (y_pred - y_true)*s(z2)*(1-s(z2)); dW2 = d2 @ a1.T; d1 = W2.T @ d2 * s(z1)*(1-s(z1)); dW1 = d1 @ x.T
 *   print(repr(loss), [repr(v) for v in np.concatenate([dW1.ravel(), d1.ravel(), dW2.ravel(), d2.ravel()])]) */
Test(cli_eval, wrapping_your_head_matches_numpy)
{
    static const double want_loss = 0.06919950393798485;
    static const double want[13] = {
        0.004341124330539086, 0.0008682248661078172, 0.01237299412559913,
        0.0024745988251198264, -0.009497241831077316, -0.0018994483662154633,
        0.008682248661078171, 0.02474598825119826, -0.018994483662154633,
        -0.0609826789739803, -0.02759794775074369, -0.03873812453945883,
        -0.08691178525412994};
    static const char *const want_names[13] = {"W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]",
                                               "W1[2,0]", "W1[2,1]", "b1[0,0]", "b1[1,0]",
                                               "b1[2,0]", "W2[0,0]", "W2[0,1]", "W2[0,2]",
                                               "b2[0,0]"};
    const char *kernels[] = {"reference", "blas"};
    for (int k = 0; k < 2; k++) {
        const char *a[] = {SRC("fixtures/specs/wrapping-your-head.json"), "--seed", "3",
                           "--kernel", kernels[k]};
        run_result r = run_eval(a, 5);
        cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
        cr_expect_str_empty(r.err);
        cr_expect(strncmp(r.out, "seed 3\nloss ", 12) == 0, "%s", r.out);
        double loss, g[16];
        char names[16][64];
        size_t n = parse_output(&loss, names, g, 16, r.out);
        cr_assert_eq(n, 13, "%zu gradient lines", n);
        expect_close(loss, want_loss, "loss");
        for (size_t i = 0; i < 13; i++) {
            cr_expect_str_eq(names[i], want_names[i]);
            expect_close(g[i], want[i], want_names[i]);
        }
        run_free(&r);
    }
}

/* NumPy, the tutorial hand-by-hand's forward and its summed gradient at seed 0:
 *   np.random.seed(0); x = np.array([[0, 0], [0, 1], [1, 0], [-1, 1]]); y = np.array([[0], [1], [1], [0]])
 *   W1 = np.random.rand(2, 2); b1 = np.random.rand(1, 2); W2 = np.random.rand(2, 1); b2 = np.random.rand(1, 1)
 *   a1 = s(x @ W1 + b1); a2 = s(a1 @ W2 + b2); loss = np.sum(0.5 * (y - a2)**2)
 *   delta2 = (a2 - y) * a2 * (1 - a2); delta1 = (delta2 @ W2.T) * a1 * (1 - a1)
 *   g = np.concatenate([(x.T @ delta1).ravel(), delta1.sum(0).ravel(), (a1.T @ delta2).ravel(), delta2.sum(0).ravel()]) */
Test(cli_eval, hand_by_hand_matches_numpy)
{
    static const double want_loss = 0.7507939272003976;
    static const double want[9] = {
        -0.012007875490559048, -0.024066249277059214, 0.009783555884970638,
        0.020129614125924074, 0.019523959536294995, 0.039149886820352864,
        0.10882923258110612, 0.11284499199717879, 0.1832549229066684};
    const char *a[] = {SRC("fixtures/specs/hand-by-hand.json"), "--kernel", "reference"};
    run_result r = run_eval(a, 3);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    double loss, g[16];
    char names[16][64];
    size_t n = parse_output(&loss, names, g, 16, r.out);
    cr_assert_eq(n, 9);
    expect_close(loss, want_loss, "loss");
    for (size_t i = 0; i < 9; i++)
        expect_close(g[i], want[i], names[i]);
    run_free(&r);
}

/* --params at --seed 4294967295 prints the tutorial's own NumPy initialisation
 * bit for bit (fixtures/reference/init_tutorials.json, from NumPy). */
Test(cli_eval, params_at_max_seed_equal_numpy)
{
    json_error_t je;
    json_t *ref = json_load_file(SRC("fixtures/reference/init_tutorials.json"), 0, &je);
    cr_assert(ref, "%s", je.text);
    const json_t *tuts = json_object_get(ref, "tutorials");
    size_t checked = 0;
    for (size_t t = 0; t < json_array_size(tuts); t++) {
        const json_t *tu = json_array_get(tuts, t);
        char spec[512];
        snprintf(spec, sizeof spec, "%s/fixtures/specs/%s.json", GA_SOURCE_ROOT,
                 json_string_value(json_object_get(tu, "slug")));
        const json_t *vals = json_object_get(json_object_get(tu, "values"), "4294967295");
        cr_assert(vals);
        const char *a[] = {spec, "--params", "--seed", "4294967295"};
        run_result r = run_eval(a, 4);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_expect(strncmp(r.out, "seed 4294967295\n", 16) == 0, "%s", r.out);
        const char *tensor;
        json_t *arr;
        json_object_foreach((json_t *)vals, tensor, arr) {
            /* entries print in C order of the stored shape: count them per tensor */
            size_t i = 0;
            char key[48];
            snprintf(key, sizeof key, "param %s[", tensor);
            for (const char *p = strstr(r.out, key); p; p = strstr(p + 1, key), i++) {
                const char *sp = strchr(p + 6, ' ');
                cr_assert(sp && i < json_array_size(arr));
                double got = strtod(sp + 1, NULL);
                double want = json_real_value(json_array_get(arr, i));
                cr_expect(got == want && signbit(got) == signbit(want),
                          "%s %s[%zu]: got %.17g, NumPy %.17g", spec, tensor, i, got, want);
                checked++;
            }
            cr_expect_eq(i, json_array_size(arr), "%s: %zu entries of %s printed", spec, i, tensor);
        }
        run_free(&r);
    }
    cr_expect_eq(checked, 13 + 9 + 9, "entries checked");
    json_decref(ref);
}
