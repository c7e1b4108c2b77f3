/* test_verdict_soak.c (slow suite): verdicts in every hard region (issue 12).
 *
 * The nets come from ga_hardnet (saturation, exact and near kinks, huge and
 * tiny weights, forward cancellation, subnormals, extreme logits, 0/1
 * targets, exact ties, ordinary nets); the gradient checked is the core's
 * own, which is right up to rounding. For each spec the oracle check of
 * `gradaudit check` (default options) runs, and per regime the table counts
 * specs, entries, FAIL entries (analytic value finite: false alarms; NaN/Inf
 * analytic: true FAILs, reported apart), specs with an error status (what
 * exits 3), kink and not-judgeable entries (a verdict other than pass, FAIL
 * or kink), and the tightness: medians over passing entries of
 * tol / max(|analytic - oracle|, half an ulp of the oracle) and of
 * tol / |oracle|. The table is printed (TAP comments) before anything is
 * asserted. Asserted: no FAIL on a finite analytic value, no error status,
 * and every NaN/Inf analytic value whose exact value is finite FAILs.
 * Every failing spec is written as a reproducer spec file; its seed and
 * path are in a line of verdict_soak_failures.txt (the injection test's in
 * verdict_soak_injection_failures.txt), which the failure message names.
 *
 * The second test injects errors with ga_check_options.analytic into one
 * kink-labelled and one ordinary entry per spec (x2, x(-1), +2^20 ulps; a NaN
 * into a third) and counts detection. Asserted: a NaN always FAILs, and no
 * verdict contradicts its own tolerance (a pass farther than tol from the
 * oracle; a kink outside [slope_lo - tol, slope_hi + tol] and farther than
 * tol from the oracle).
 *
 * With GA_VERDICT_SOAK_DTYPE=float32 the gradient checked is the float32
 * core's (ga_loss_grad_f32) at the spec's numbers rounded to float32, judged
 * at float32's precision (issue 15's float32 false-alarm soak); a spec with a
 * number beyond float32's range is refused as no float32 code could hold it,
 * and counted apart. Reproducers and tables go to verdict_soak_f32/.
 *
 * Environment: GA_VERDICT_SOAK_SPECS (default 10000), GA_VERDICT_SOAK_SEED
 * (first seed, default 1200000; spec k has seed first + k),
 * GA_VERDICT_SOAK_INJECT (specs given injections, default specs / 5),
 * GA_VERDICT_SOAK_OUT (directory of the reproducers and of the two tables,
 * verdict_soak_table.txt and verdict_soak_injection.txt; default
 * verdict_soak/ in the working directory, under meson the build directory).
 * A quick run: GA_VERDICT_SOAK_SPECS=300 build-slow/checks/test_verdict_soak */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ga_check.h"
#include "ga_hardnet.h"
#include "ga_testsupport.h"

static size_t env_size(const char *name, size_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? (size_t)strtoull(s, NULL, 10) : dflt;
}

static size_t n_specs(void) { return env_size("GA_VERDICT_SOAK_SPECS", 10000); }

/* float32 (GA_VERDICT_SOAK_DTYPE=float32) or float64, the default */
static ga_precision soak_dtype(void)
{
    const char *s = getenv("GA_VERDICT_SOAK_DTYPE");
    ga_precision p = GA_PREC_FLOAT64;
    if (s && *s)
        cr_assert_eq(ga_precision_from_name(&p, s), GA_OK, "GA_VERDICT_SOAK_DTYPE=%s: not a precision", s);
    return p;
}

static size_t refused_f32; /* specs with a number beyond float32's range */
static uint32_t first_seed(void) { return (uint32_t)env_size("GA_VERDICT_SOAK_SEED", 1200000); }

/* Where reproducers and tables go: GA_VERDICT_SOAK_OUT, else verdict_soak/ in
 * the working directory (the build directory under meson), made if missing. */
static const char *out_dir(char *buf, size_t size)
{
    const char *dir = getenv("GA_VERDICT_SOAK_OUT");
    if (dir && *dir)
        return dir;
    char cwd[1024];
    int n = snprintf(buf, size, "%s/verdict_soak%s", getcwd(cwd, sizeof cwd) ? cwd : ".",
                     soak_dtype() == GA_PREC_FLOAT32 ? "_f32" : "");
    if (n < 0 || (size_t)n >= size || (mkdir(buf, 0777) != 0 && errno != EEXIST))
        return ".";
    return buf;
}

/* Writes h as a reproducer; path receives the file's name (or why not). */
static void save_reproducer(char *path, size_t size, const ga_hardnet *h, const char *what)
{
    char cwd[2048];
    snprintf(path, size, "%s/verdict_soak_%s_%u.json", out_dir(cwd, sizeof cwd), what, h->seed);
    ga_error err;
    if (ga_hardnet_save(&err, h, path) != GA_OK)
        snprintf(path, size, "(not written: %s)", err.msg);
}

/* One line per failing spec: to cr_log_error (seen when the test is run by
 * hand) and to a file in out_dir, since Criterion's TAP output drops logs;
 * the summary assertion names the file. */
static char failures_path[2300];

static void failures_start(const char *name)
{
    char cwd[2048];
    snprintf(failures_path, sizeof failures_path, "%s/%s", out_dir(cwd, sizeof cwd), name);
    FILE *f = fopen(failures_path, "w");
    if (f)
        fclose(f);
}

static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cr_log_error("%s", line);
    FILE *f = fopen(failures_path, "a");
    if (f) {
        fprintf(f, "%s\n", line);
        fclose(f);
    }
}

/* ---- tables ----------------------------------------------------------------
 * Criterion's TAP output drops what a test prints, so a table goes to
 * stdout (seen when the test is run by hand), to the file `name` in the
 * reproducer directory, and into the failure messages. */
typedef struct {
    char *text;
    size_t len;
    FILE *f;
} table;

static void table_open(table *t)
{
    t->text = NULL;
    t->f = open_memstream(&t->text, &t->len);
    cr_assert_not_null(t->f, "cannot open a memory stream for the table");
}

/* Closes t, prints it and writes it to `name`; path receives the file's name. */
static void table_publish(table *t, const char *name, char *path, size_t size)
{
    fclose(t->f);
    fputs(t->text, stdout);
    fflush(stdout);
    char cwd[2048];
    const char *dir = out_dir(cwd, sizeof cwd);
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(t->text, f) == EOF)
        snprintf(path, size, "(not written: %s/%s)", dir, name);
    if (f)
        fclose(f);
}

/* ---- per-regime counts ------------------------------------------------------ */
typedef struct {
    double *v;
    size_t n, cap;
} samples;

static void push(samples *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        double *v = realloc(s->v, cap * sizeof *v);
        cr_assert_not_null(v, "out of memory for %zu tightness samples", cap);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(samples *s)
{
    if (!s->n)
        return NAN;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    return s->n % 2 ? s->v[s->n / 2] : 0.5 * (s->v[s->n / 2 - 1] + s->v[s->n / 2]);
}

typedef struct {
    size_t specs, entries, fail, fail_specs, true_fail, errors, kink, not_judgeable;
    size_t true_missed; /* NaN/Inf analytic, finite oracle, not FAILed */
    samples tight_err; /* tol / max(|analytic - oracle|, half ulp of oracle) */
    samples tight_rel; /* tol / |oracle| */
} regime_row;

#define N_ROWS (GA_HARD_COUNT + 1) /* one per regime, then all specs */

static void tally(regime_row *row, unsigned regimes, int status, const ga_check_report *r)
{
    for (int k = 0; k < N_ROWS; k++) {
        if (k < GA_HARD_COUNT && !(regimes & (1u << k)))
            continue;
        regime_row *w = &row[k];
        w->specs++;
        if (status != GA_OK) {
            w->errors++;
            continue;
        }
        size_t fails = 0;
        for (size_t i = 0; i < r->n_entries; i++) {
            const ga_check_entry *e = &r->entries[i];
            w->entries++;
            /* an infinity the exact value rounds to (in float32: beyond FLT_MAX) is right;
             * one inside its own enclosure (the pass may overflow) is unjudgeable */
            int inf_inside = isinf(e->analytic) && e->analytic >= e->lo && e->analytic <= e->hi &&
                             e->verdict == GA_VERDICT_UNJUDGEABLE;
            if (!isfinite(e->analytic) && isfinite(ga_round_to(soak_dtype(), e->oracle)) &&
                e->verdict != GA_VERDICT_FAIL && !inf_inside)
                w->true_missed++;
            if (e->verdict == GA_VERDICT_FAIL) {
                if (isfinite(e->analytic))
                    fails++;
                else
                    w->true_fail++;
            } else if (e->verdict == GA_VERDICT_KINK) {
                w->kink++;
            } else if (e->verdict != GA_VERDICT_PASS) {
                w->not_judgeable++;
            } else if (isfinite(e->tol) && isfinite(e->oracle)) {
                double d = fabs(e->analytic - e->oracle), h = ga_test_half_ulp(e->oracle);
                push(&w->tight_err, e->tol / fmax(d, h > 0 ? h : DBL_TRUE_MIN));
                if (e->oracle != 0)
                    push(&w->tight_rel, e->tol / fabs(e->oracle));
            }
        }
        w->fail += fails;
        w->fail_specs += fails > 0;
    }
}

static void print_table(FILE *out, regime_row *row, size_t n, uint32_t seed0)
{
    fprintf(out, "# verdict soak (%s): %zu specs, seeds %u..%u", ga_precision_name(soak_dtype()), n,
            seed0, seed0 + (uint32_t)n - 1);
    if (soak_dtype() == GA_PREC_FLOAT32)
        fprintf(out, "; %zu refused (a number beyond float32's range)", refused_f32);
    fputc('\n', out);
    fprintf(out, "# %-15s %6s %8s %7s %6s %6s %7s %7s %6s %11s %11s\n", "regime", "specs", "entries",
            "FAIL", "F.spec", "errors", "trueF", "kink", "n.judg", "med tol/err", "med tol/|g|");
    for (int k = 0; k < N_ROWS; k++) {
        regime_row *w = &row[k];
        fprintf(out, "# %-15s %6zu %8zu %7zu %6zu %6zu %7zu %7zu %6zu %11.3g %11.3g\n",
                k < GA_HARD_COUNT ? ga_hard_regime_name((ga_hard_regime)k) : "all", w->specs,
                w->entries, w->fail, w->fail_specs, w->errors, w->true_fail, w->kink,
                w->not_judgeable, median(&w->tight_err), median(&w->tight_rel));
    }
    fprintf(out, "# FAIL: entries with a finite analytic value that FAILed (false alarms); F.spec: specs with"
            " one; trueF: NaN/Inf analytic FAILs; errors: specs whose check returned an error status\n");
    fprintf(out, "# NaN/Inf analytic entries with a finite oracle value that did not FAIL: %zu\n",
            row[GA_HARD_COUNT].true_missed);
}

/* Walks specs seed0 .. seed0 + n - 1: makes each case, runs the check of
 * `gradaudit check --seed SEED` (cross_check entries cross-checked) and hands
 * case, options, report (NULL on error) and status to visit. */
typedef void (*case_visitor)(void *ctx, ga_hardnet *h, ga_check_options *opt,
                             const ga_check_report *r, int status, const ga_error *err);

static void for_each_case(size_t n, uint32_t seed0, size_t cross_check, case_visitor visit, void *ctx)
{
    for (size_t s = 0; s < n; s++) {
        uint32_t seed = seed0 + (uint32_t)s;
        ga_hardnet h;
        ga_error err;
        cr_assert_eq(ga_hardnet_make(&h, &err, seed), GA_OK, "hardnet seed %u: %s", seed, err.msg);
        ga_check_options opt;
        ga_check_options_default(&opt);
        opt.seed = seed;
        opt.cross_check = cross_check;
        double *g32 = NULL;
        ga_workspace *fw32 = NULL;
        if (soak_dtype() == GA_PREC_FLOAT32) {
            size_t B = h.batch;
            if (ga_round_problem(&err, GA_PREC_FLOAT32, h.net, h.net->params, h.x, h.y, B) != GA_OK) {
                refused_f32++;
                ga_hardnet_clear(&h);
                continue;
            }
            g32 = malloc(h.net->n_params * sizeof *g32);
            cr_assert_not_null(g32);
            cr_assert_eq(ga_workspace_alloc(&fw32, &err, h.net, B), GA_OK, "%s", err.msg);
            cr_assert_eq(ga_loss_grad_f32_ws(&opt.analytic_loss, g32, fw32, &err, h.net,
                                             h.net->params, h.x, h.y, B),
                         GA_OK, "seed %u: %s", seed, err.msg);
            opt.analytic = g32;
            opt.analytic_own_forward = 1;
            opt.analytic_forward = fw32; /* as `gradaudit check --dtype float32` */
            opt.precision = GA_PREC_FLOAT32;
            opt.fast_math = ga_core_fast_math(); /* likewise */
        }
        ga_check_report *r = NULL;
        int status = ga_check_run(&r, &err, h.net, h.net->params, h.x, h.y, h.batch, &opt);
        visit(ctx, &h, &opt, status == GA_OK ? r : NULL, status, &err);
        ga_check_report_free(r);
        free(g32);
        ga_workspace_free(fw32);
        ga_hardnet_clear(&h);
    }
}

static void soak_visit(void *ctx, ga_hardnet *h, ga_check_options *opt, const ga_check_report *r,
                       int status, const ga_error *err)
{
    (void)opt;
    tally(ctx, h->regimes, status, r);
    char path[2300];
    if (status != GA_OK) {
        save_reproducer(path, sizeof path, h, "error");
        failure("seed %u (%s): check returned %s: %s; reproducer %s", h->seed, h->description,
                ga_strerror(status), err->msg, path);
        return;
    }
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        if (e->verdict != GA_VERDICT_FAIL || !isfinite(e->analytic))
            continue;
        save_reproducer(path, sizeof path, h, "fail");
        failure("seed %u (%s): %zu FAIL, first %s analytic %.17g oracle %.17g tol %.3g: "
                "%s; reproducer %s", h->seed, h->description, r->n_fail, e->name, e->analytic,
                e->oracle, e->tol, e->reason, path);
        return;
    }
}

Test(verdict_soak, correct_core_draws_no_false_fail, .timeout = 3500)
{
    size_t n = n_specs();
    uint32_t seed0 = first_seed();
    regime_row row[N_ROWS];
    memset(row, 0, sizeof row);
    ga_check_options dflt;
    ga_check_options_default(&dflt); /* `gradaudit check` as a user runs it */
    failures_start("verdict_soak_failures.txt");
    for_each_case(n, seed0, dflt.cross_check, soak_visit, row);
    table t;
    char where[2300];
    table_open(&t);
    print_table(t.f, row, n, seed0);
    table_publish(&t, "verdict_soak_table.txt", where, sizeof where);
    regime_row *all = &row[GA_HARD_COUNT];
    for (int k = 0; k < N_ROWS; k++) {
        free(row[k].tight_err.v);
        free(row[k].tight_rel.v);
    }
    cr_expect_eq(all->fail, 0, "%zu entries with a finite analytic value FAILed in %zu of %zu specs "
                 "(seeds from %u; table in %s, every spec in %s)\n%s", all->fail, all->fail_specs, n,
                 seed0, where, failures_path, t.text);
    cr_expect_eq(all->true_missed, 0, "%zu NaN/Inf analytic entries with a finite exact value did "
                 "not FAIL", all->true_missed);
    cr_expect_eq(all->errors, 0, "%zu of %zu specs ended with an error status (seeds from %u; table "
                 "in %s, every spec in %s)", all->errors, n, seed0, where, failures_path);
    free(t.text);
}

/* ---- injected errors ---------------------------------------------------------- */
enum { INJ_DOUBLE, INJ_NEGATE, INJ_ULPS, INJ_COUNT };
static const char *const inj_names[INJ_COUNT] = {"x2", "x(-1)", "+2^20 ulps"};

/* v moved by n representable doubles upwards (finite v; saturates at +-DBL_MAX). */
static double ulps_up(double v, int64_t n)
{
    int64_t i;
    memcpy(&i, &v, sizeof i);
    int64_t ord = i < 0 ? INT64_MIN - i : i; /* monotone in v; -0 and +0 both 0 */
    const int64_t max = 0x7fefffffffffffffLL;
    ord = ord > max - n ? max : ord + n;
    i = ord < 0 ? INT64_MIN - ord : ord;
    memcpy(&v, &i, sizeof v);
    return v;
}

static double inject(double v, int kind)
{
    return kind == INJ_DOUBLE ? 2 * v : kind == INJ_NEGATE ? -v : ulps_up(v, (int64_t)1 << 20);
}

/* The verdict agrees with its own numbers: a pass is within tol of the oracle,
 * a kink within the printed slopes widened by tol (or within tol of the oracle). */
static int consistent(const ga_check_entry *e)
{
    double a = e->analytic;
    if (isnan(a))
        return e->verdict == GA_VERDICT_FAIL;
    int near_oracle = fabs(a - e->oracle) <= e->tol;
    if (e->verdict == GA_VERDICT_PASS)
        return near_oracle;
    if (e->verdict == GA_VERDICT_KINK)
        return near_oracle || (a >= fmin(e->slope_lo, e->slope_hi) - e->tol &&
                               a <= fmax(e->slope_lo, e->slope_hi) + e->tol);
    return 1;
}

typedef struct {
    size_t injected, detected, outside, inconsistent;
} inj_count;

typedef struct {
    inj_count c[2][INJ_COUNT]; /* [kink-labelled, ordinary][kind] */
    size_t nan_injected, nan_missed, skipped;
} inj_tally;

/* Injects each kind of error into one kink-labelled and one ordinary nonzero
 * finite entry of r (a NaN into a third with the first kind) and checks again. */
static void inject_visit(void *ctx, ga_hardnet *h, ga_check_options *opt, const ga_check_report *r,
                         int status, const ga_error *err0)
{
    inj_tally *t = ctx;
    (void)err0;
    if (status != GA_OK) {
        t->skipped++; /* counted by the first test */
        return;
    }
    uint32_t seed = h->seed;
    size_t P = h->net->n_params;
    size_t pick[2] = {SIZE_MAX, SIZE_MAX}, nan_at = (seed * 7u) % P;
    for (size_t u = 0; u < P; u++) {
        size_t i = (u + seed) % P;
        const ga_check_entry *e = &r->entries[i];
        if (!isfinite(e->analytic) || e->analytic == 0)
            continue;
        int cls = e->verdict == GA_VERDICT_KINK ? 0 : e->verdict == GA_VERDICT_PASS ? 1 : -1;
        if (cls >= 0 && pick[cls] == SIZE_MAX)
            pick[cls] = i;
    }
    double *g = malloc(P * sizeof *g);
    cr_assert_not_null(g);
    for (int kind = 0; kind < INJ_COUNT; kind++) {
        for (size_t i = 0; i < P; i++)
            g[i] = r->entries[i].analytic;
        for (int cls = 0; cls < 2; cls++)
            if (pick[cls] != SIZE_MAX)
                g[pick[cls]] = inject(g[pick[cls]], kind);
        int with_nan = kind == INJ_DOUBLE && nan_at != pick[0] && nan_at != pick[1];
        if (with_nan)
            g[nan_at] = NAN;
        opt->analytic = g;
        ga_check_report *q = NULL;
        ga_error err;
        int st = ga_check_run(&q, &err, h->net, h->net->params, h->x, h->y, h->batch, opt);
        opt->analytic = NULL;
        if (st != GA_OK) {
            char path[2300];
            save_reproducer(path, sizeof path, h, "inject_error");
            cr_expect_eq(st, GA_OK, "seed %u (%s) injected %s: %s; reproducer %s", seed,
                         h->description, inj_names[kind], err.msg, path);
            continue;
        }
        for (int cls = 0; cls < 2; cls++) {
            if (pick[cls] == SIZE_MAX)
                continue;
            const ga_check_entry *e = &q->entries[pick[cls]];
            inj_count *w = &t->c[cls][kind];
            w->injected++;
            w->detected += e->verdict == GA_VERDICT_FAIL;
            w->outside += !(fabs(e->analytic - e->oracle) <= e->tol);
            if (!consistent(e)) {
                char path[2300];
                w->inconsistent++;
                save_reproducer(path, sizeof path, h, "inject");
                failure("seed %u (%s): %s %s gives %.17g, oracle %.17g, tol %.3g, slopes "
                        "[%.6g, %.6g], verdict %s: %s; reproducer %s (gradaudit check "
                        "--inject)", seed, h->description, e->name, inj_names[kind],
                        e->analytic, e->oracle, e->tol, e->slope_lo, e->slope_hi,
                        ga_verdict_name(e->verdict), e->reason, path);
            }
        }
        if (with_nan) {
            t->nan_injected++;
            if (q->entries[nan_at].verdict != GA_VERDICT_FAIL) {
                t->nan_missed++;
                failure("seed %u (%s): NaN at %s not FAILed: %s", seed, h->description,
                        q->entries[nan_at].name, q->entries[nan_at].reason);
            }
        }
        ga_check_report_free(q);
    }
    free(g);
}

Test(verdict_soak, injected_errors_are_judged_by_their_own_tolerance, .timeout = 3500)
{
    size_t n = env_size("GA_VERDICT_SOAK_INJECT", n_specs() / 5);
    uint32_t seed0 = first_seed();
    inj_tally t;
    memset(&t, 0, sizeof t);
    failures_start("verdict_soak_injection_failures.txt");
    /* the verdicts are under test here, not the oracle's two routes */
    for_each_case(n, seed0, 0, inject_visit, &t);
    table tb;
    char where[2300];
    table_open(&tb);
    fprintf(tb.f, "# injection: %zu specs from seed %u (%zu skipped: check error)\n", n, seed0,
            t.skipped);
    fprintf(tb.f, "# %-8s %-11s %8s %8s %8s %12s\n", "entry", "injection", "injected", "detected",
            "out.tol", "inconsistent");
    size_t bad = 0;
    for (int cls = 0; cls < 2; cls++)
        for (int kind = 0; kind < INJ_COUNT; kind++) {
            inj_count *w = &t.c[cls][kind];
            fprintf(tb.f, "# %-8s %-11s %8zu %8zu %8zu %12zu\n", cls ? "ordinary" : "kink",
                    inj_names[kind], w->injected, w->detected, w->outside, w->inconsistent);
            bad += w->inconsistent;
        }
    fprintf(tb.f, "# NaN injected %zu, not FAILed %zu\n", t.nan_injected, t.nan_missed);
    table_publish(&tb, "verdict_soak_injection.txt", where, sizeof where);
    cr_expect_eq(t.nan_missed, 0, "%zu of %zu NaN entries did not FAIL (every one in %s)", t.nan_missed,
                 t.nan_injected, failures_path);
    cr_expect_eq(bad, 0, "%zu injected entries drew a verdict their own tolerance contradicts "
                 "(table in %s, every entry in %s)\n%s", bad, where, failures_path, tb.text);
    free(tb.text);
}
