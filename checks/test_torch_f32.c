/* test_torch_f32.c: gradients that gradaudit did not compute, judged. The
 * references in fixtures/reference/torch_f32/ (oracle/gen_torch_f32.py) hold,
 * per spec, torch's CPU autograd gradient computed in float32 and in float64
 * from the spec's numbers rounded to float32 (the file's "spec" is that
 * rounded problem, exactly), and the same computation with torch's formulas
 * that cancel replaced (sigmoid', tanh' from z; elu by expm1; gelu by erfc,
 * gelu_tanh by a sigmoid; the logit losses' dL/dz without p - y): the
 * "stable" gradient.
 *
 * Each gradient is checked by the oracle method against the whole
 * enclosure (analytic_own_forward: torch's forward pass is its own) at the
 * precision it was computed in, on the problem's numbers after
 * ga_round_problem. Asserted, per precision:
 *   - the stable gradient, a correct computation of the spec's maths in that
 *     precision by torch's kernels, has no FAIL on a finite value;
 *   - every FAIL of torch's own gradient on a finite value is at an entry
 *     the stable formulas change and pass: torch's 1 - y^2, y (1 - y),
 *     p - y, exp(z) - 1 and 1 + erf lose digits by cancellation, which an
 *     enclosure of the roundings of the core's formulas does not hold
 *     (docs/verdicts.md). This classifies a FAIL; it does not bound the
 *     roundings of torch's formulas, so a wrong value at such an entry
 *     would be classified alike;
 *   - (counted and listed, not asserted: FAILs on an infinity inside the
 *     entry's own enclosure, which the check compares before the interval;
 *     see assert_tally);
 *   - no NaN or infinite torch value is judged anything but FAIL;
 *   - torch's 2-thread float32 gradient, where it differs from the 1-thread
 *     one (on no spec today), FAILs only where the 1-thread one does;
 *   - in every spec, the first passing entry that a relative change of 1e-5
 *     moves out of its enclosure, so changed, FAILs (the test can fail).
 * The counts (pass, kink, unjudgeable, each kind of FAIL) and every FAIL as
 * (spec, entry, torch value, enclosure, oracle, reason) are printed and
 * written to torch_f32_failures_PRECISION.txt in the working directory (the
 * build directory under meson). */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "ga_check.h"
#include "ga_spec.h"

#define REFDIR GA_SOURCE_ROOT "/fixtures/reference/torch_f32"
#define MAX_REFS 4096

typedef struct {
    char path[600];
    const char *source;  /* the spec the reference came from */
    json_t *root;
    ga_spec *spec;
    ga_net *net;
    double *params;      /* (n_params) rounded with ga_round_problem */
    double *x, *y;       /* (B, n_in), (B, n_out) likewise */
    double *grad;        /* (n_params) torch's gradient */
    double *grad2;       /* (n_params) torch's with 2 threads (float32 only; else grad) */
    double *sgrad;       /* (n_params) torch's with its formulas that cancel replaced:
                            sigmoid', tanh' from z, the fused losses' dL/dz, elu by expm1 */
} reference;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The reference files' names, sorted; *n receives their count. */
static char **list_references(size_t *n)
{
    DIR *d = opendir(REFDIR);
    cr_assert_not_null(d, "cannot open %s", REFDIR);
    char **names = calloc(MAX_REFS, sizeof *names);
    cr_assert_not_null(names);
    struct dirent *e;
    *n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".json")) {
            cr_assert_lt(*n, MAX_REFS, "more than %d references", MAX_REFS);
            names[(*n)++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, *n, sizeof *names, by_name);
    return names;
}

/* A JSON number, or "nan", "inf", "-inf" for the values JSON cannot write. */
static double number(const json_t *v)
{
    if (json_is_number(v))
        return json_number_value(v);
    const char *s = json_string_value(v);
    cr_assert_not_null(s, "a number or \"nan\"/\"inf\"/\"-inf\" expected");
    if (!strcmp(s, "nan"))
        return NAN;
    cr_assert(!strcmp(s, "inf") || !strcmp(s, "-inf"), "unknown number \"%s\"", s);
    return s[0] == '-' ? -INFINITY : INFINITY;
}

static void read_gradient(double *g, size_t np, const char *path, const json_t *run,
                          const char *key)
{
    const json_t *a = json_object_get(run, key);
    cr_assert_eq(json_array_size(a), np, "%s: %s has %zu entries, the net %zu parameters", path,
                 key, json_array_size(a), np);
    for (size_t i = 0; i < np; i++)
        g[i] = number(json_array_get(a, i));
}

static void reference_load(reference *r, const char *name, ga_precision prec)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, REFDIR "/%s", name);
    ga_error err = {{0}};
    cr_assert_eq(ga_json_load(&r->root, &err, r->path, (size_t)1 << 24), GA_OK, "%s", err.msg);
    r->source = json_string_value(json_object_get(r->root, "source"));
    char *text = json_dumps(json_object_get(r->root, "spec"), JSON_COMPACT);
    cr_assert_not_null(text, "%s: no \"spec\"", r->path);
    cr_assert_eq(ga_spec_parse(&r->spec, &err, text, r->path, 0), GA_OK, "%s", err.msg);
    free(text);
    cr_assert_eq(ga_spec_make_net(&r->net, &err, r->spec, 0, 0), GA_OK, "%s", err.msg);
    size_t np = r->net->n_params, nx = r->spec->batch * r->net->desc.n_in;
    size_t ny = r->spec->batch * r->net->desc.layers[r->net->desc.n_layers - 1].n_out;
    r->params = malloc(np * sizeof(double));
    r->x = malloc(nx * sizeof(double));
    r->y = malloc(ny * sizeof(double));
    r->grad = malloc(np * sizeof(double));
    r->grad2 = malloc(np * sizeof(double));
    r->sgrad = malloc(np * sizeof(double));
    cr_assert(r->params && r->x && r->y && r->grad && r->grad2 && r->sgrad, "out of memory");
    memcpy(r->params, r->net->params, np * sizeof(double));
    memcpy(r->x, r->spec->x, nx * sizeof(double));
    memcpy(r->y, r->spec->y, ny * sizeof(double));
    cr_assert_eq(ga_round_problem(&err, GA_PREC_FLOAT32, r->net, r->params, r->x, r->y, r->spec->batch),
                 GA_OK, "%s: %s", r->path, err.msg);
    /* the generator stored the rounded numbers: rounding again changes none */
    cr_assert(!memcmp(r->params, r->net->params, np * sizeof(double)) &&
                  !memcmp(r->x, r->spec->x, nx * sizeof(double)) &&
                  !memcmp(r->y, r->spec->y, ny * sizeof(double)),
              "%s: the stored problem is not float32 numbers", r->path);
    const json_t *run = json_object_get(r->root, ga_precision_name(prec));
    read_gradient(r->grad, np, r->path, run, "grad");
    read_gradient(r->grad2, np, r->path, run,
                  json_object_get(run, "threads2_grad") ? "threads2_grad" : "grad");
    read_gradient(r->sgrad, np, r->path, run, "stable_grad");
}

static void reference_free(reference *r)
{
    free(r->params);
    free(r->x);
    free(r->y);
    free(r->grad);
    free(r->grad2);
    free(r->sgrad);
    ga_net_free(r->net);
    ga_spec_free(r->spec);
    json_decref(r->root);
}

/* The check of `analytic` at precision prec; NULL with err filled when it
 * could not run. */
static ga_check_report *judge(ga_error *err, const reference *r, const double *analytic,
                              ga_precision prec)
{
    ga_check_options o;
    ga_check_options_default(&o);
    o.method = GA_CHECK_ORACLE;
    o.analytic = analytic;
    o.analytic_own_forward = 1;
    o.precision = prec;
    o.spec_path = r->path;
    ga_check_report *rep = NULL;
    if (ga_check_run(&rep, err, r->net, r->params, r->x, r->y, r->spec->batch, &o) != GA_OK)
        return NULL;
    return rep;
}

typedef struct {
    size_t specs, entries, pass, kink, unjudgeable;
    size_t fail;            /* torch's gradient: FAIL on a finite value */
    size_t fail_explained;  /*   of them at an entry sgrad changes and passes there */
    size_t fail_nonfinite;  /* torch NaN, or an infinity outside its enclosure: FAIL */
    size_t nonfinite_judged;/* torch NaN/Inf judged other than FAIL */
    size_t sfail;           /* sgrad: FAIL on a finite value (false alarms) */
    size_t sfail_nonfinite; /* sgrad NaN, or an infinity outside its enclosure */
    size_t inf_inside;      /* an infinity inside the entry's own enclosure (unjudgeable),
                               torch's gradient and the stable one together */
    size_t inf_inside_judged; /*   of them given a verdict other than unjudgeable */
    size_t threads_differ;  /* specs whose 2-thread float32 gradient differs in a bit */
    size_t threads_unexplained; /* its FAILs where the 1-thread gradient has none */
    size_t injected, injected_caught;
} tally;

static FILE *failures;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (failures) {
        va_start(ap, fmt);
        vfprintf(failures, fmt, ap);
        va_end(ap);
    }
}

static void note_fail(const char *what, const reference *r, const ga_check_entry *e,
                      ga_precision prec)
{
    note("%s %s %s (%s): torch %.9g (%a), enclosure [%.17g, %.17g], oracle %.17g +- %.3g; %s\n",
         what, r->source ? r->source : r->path, e->name, ga_precision_name(prec), e->analytic,
         e->analytic, e->lo, e->hi, e->oracle, e->oracle_err, e->reason);
}

/* An infinite value inside the entry's own enclosure, where the exact value
 * does not round to it: a correct computation may overflow there, and the
 * verdict must be unjudgeable (ga_check.c). Counted and listed apart, for
 * torch's gradient and sgrad alike. 1 when e is one. */
static int inf_inside(tally *t, const reference *r, const ga_check_entry *e, ga_precision prec,
                      const char *which)
{
    if (!isinf(e->analytic) || !(e->analytic >= e->lo) || !(e->analytic <= e->hi) ||
        ga_round_to(prec, e->oracle) == e->analytic)
        return 0;
    t->inf_inside++;
    char what[96];
    snprintf(what, sizeof what, "%s(inf-inside-enclosure, %s)",
             e->verdict == GA_VERDICT_UNJUDGEABLE ? "UNJUDGEABLE" : "JUDGED", which);
    if (e->verdict != GA_VERDICT_UNJUDGEABLE)
        t->inf_inside_judged++;
    note_fail(what, r, e, prec);
    return 1;
}

/* The first passing entry that a relative change of 1e-5 takes out of its
 * enclosure gets it; that check must FAIL it. */
static void inject(tally *t, const reference *r, const ga_check_report *rep, ga_precision prec)
{
    for (size_t i = 0; i < rep->n_entries; i++) {
        const ga_check_entry *e = &rep->entries[i];
        double v = e->analytic * (1 + 1e-5);
        if (e->verdict != GA_VERDICT_PASS || !isfinite(v) || e->analytic == 0 ||
            (v >= e->lo && v <= e->hi))
            continue;
        double *g = malloc(rep->n_entries * sizeof(double));
        cr_assert_not_null(g);
        memcpy(g, r->grad, rep->n_entries * sizeof(double));
        g[i] = v;
        ga_error err = {{0}};
        ga_check_report *bad = judge(&err, r, g, prec);
        cr_assert_not_null(bad, "%s (perturbed %s): %s", r->path, e->name, err.msg);
        t->injected++;
        if (bad->entries[i].verdict == GA_VERDICT_FAIL)
            t->injected_caught++;
        else
            note("MISSED %s %s (%s): torch %.9g times 1 + 1e-5 = %.9g is outside [%.17g, %.17g] "
                 "but was judged %s\n", r->path, e->name, ga_precision_name(prec), e->analytic, v,
                 e->lo, e->hi, ga_verdict_name(bad->entries[i].verdict));
        ga_check_report_free(bad);
        free(g);
        return;
    }
}

static int same_bits(double a, double b)
{
    return !memcmp(&a, &b, sizeof a);
}

/* Counts torch's gradient's verdicts (rep) and sgrad's (srep) into t. */
static void count(tally *t, const reference *r, const ga_check_report *rep,
                  const ga_check_report *srep, ga_precision prec)
{
    t->specs++;
    t->entries += rep->n_entries;
    t->pass += rep->n_pass;
    t->kink += rep->n_kink;
    t->unjudgeable += rep->n_unjudgeable;
    for (size_t i = 0; i < rep->n_entries; i++) {
        const ga_check_entry *e = &rep->entries[i], *se = &srep->entries[i];
        int inside = inf_inside(t, r, e, prec, "torch");
        if (!inside && !isfinite(e->analytic) && e->verdict != GA_VERDICT_FAIL &&
            !(isinf(e->analytic) && ga_round_to(prec, e->oracle) == e->analytic)) {
            t->nonfinite_judged++;
            note_fail("NONFINITE-NOT-FAIL", r, e, prec);
        }
        if (inside) {
        } else if (e->verdict == GA_VERDICT_FAIL && isfinite(e->analytic)) {
            t->fail++;
            int explained = se->verdict != GA_VERDICT_FAIL && !same_bits(r->grad[i], r->sgrad[i]);
            t->fail_explained += explained;
            note_fail(explained ? "FAIL(torch-cancelling-formula)" : "FAIL", r, e, prec);
        } else if (e->verdict == GA_VERDICT_FAIL) {
            t->fail_nonfinite++;
        }
        if (inf_inside(t, r, se, prec, "stable formulas")) {
        } else if (se->verdict == GA_VERDICT_FAIL && isfinite(se->analytic)) {
            t->sfail++;
            note_fail("FAIL(stable-formulas)", r, se, prec);
        } else if (se->verdict == GA_VERDICT_FAIL) {
            t->sfail_nonfinite++;
        }
    }
}

/* torch's 2-thread gradient, where it differs from the 1-thread one (rep1's):
 * it may FAIL only where the 1-thread gradient FAILs too. */
static int judge_threads2(tally *t, ga_error *err, const reference *r,
                          const ga_check_report *rep1, ga_precision prec)
{
    ga_check_report *rep = judge(err, r, r->grad2, prec);
    if (!rep)
        return GA_EINVAL;
    t->threads_differ++;
    for (size_t i = 0; i < rep->n_entries; i++) {
        const ga_check_entry *e = &rep->entries[i];
        if (e->verdict == GA_VERDICT_FAIL && rep1->entries[i].verdict != GA_VERDICT_FAIL) {
            t->threads_unexplained++;
            note_fail("FAIL(2 threads)", r, e, prec);
        }
    }
    ga_check_report_free(rep);
    return GA_OK;
}

/* Judges every reference's gradients of precision prec; 0, or the status
 * of the first check that could not run (its message in err). */
static int judge_all(tally *t, ga_error *err, ga_precision prec)
{
    memset(t, 0, sizeof *t);
    char file[64];
    snprintf(file, sizeof file, "torch_f32_failures_%s.txt", ga_precision_name(prec));
    failures = fopen(file, "w");
    size_t n;
    char **names = list_references(&n);
    int status = GA_OK;
    for (size_t k = 0; k < n && status == GA_OK; k++) {
        reference r;
        reference_load(&r, names[k], prec);
        ga_check_report *rep = judge(err, &r, r.grad, prec);
        ga_check_report *srep = rep ? judge(err, &r, r.sgrad, prec) : NULL;
        if (rep && srep) {
            count(t, &r, rep, srep, prec);
            inject(t, &r, rep, prec);
            if (memcmp(r.grad, r.grad2, rep->n_entries * sizeof(double)) &&
                judge_threads2(t, err, &r, rep, prec) != GA_OK)
                status = GA_EINVAL;
        } else {
            status = GA_EINVAL;
        }
        ga_check_report_free(rep);
        ga_check_report_free(srep);
        reference_free(&r);
    }
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
    note("torch %s gradients: %zu specs, %zu entries: %zu pass, %zu kink, %zu unjudgeable, "
         "%zu FAIL on a finite torch value (%zu of them where torch's cancelling formulas "
         "1 - y^2, y (1 - y), p - y, exp(z) - 1, 1 + erf are to blame), %zu FAIL on a NaN or an "
         "infinity outside its enclosure, %zu NaN/Inf not FAILed; with stable formulas: %zu "
         "FAIL on a finite value, %zu on a NaN or an infinity outside its enclosure; both: %zu "
         "infinities inside their own enclosure (%zu of them judged other than unjudgeable); "
         "%zu specs whose 2-thread gradient differs (%zu FAIL it alone has); "
         "torch's gradient perturbed by 1e-5 out of the "
         "enclosure: %zu of %zu FAIL\n",
         ga_precision_name(prec), t->specs, t->entries, t->pass, t->kink, t->unjudgeable, t->fail,
         t->fail_explained, t->fail_nonfinite, t->nonfinite_judged, t->sfail, t->sfail_nonfinite,
         t->inf_inside, t->inf_inside_judged, t->threads_differ, t->threads_unexplained,
         t->injected_caught, t->injected);
    if (failures)
        fclose(failures);
    failures = NULL;
    return status;
}

static void assert_tally(const tally *t, ga_precision prec)
{
    const char *p = ga_precision_name(prec);
    cr_assert_gt(t->specs, 0, "no references in " REFDIR);
    cr_assert_eq(t->sfail, 0,
                 "%zu FAIL on torch's %s gradients with stable formulas (correct "
                 "computations), listed in torch_f32_failures_%s.txt", t->sfail, p, p);
    /* torch's own formulas (1 - y^2, y (1 - y), s - y, alpha (exp(z) - 1))
     * are the common ones: the whole enclosure allows for them
     * (ga_enclose.c, "the formulas other code uses") */
    cr_assert_eq(t->fail, 0,
                 "%zu FAIL on torch's own %s gradients (%zu at entries its cancelling formulas "
                 "move), listed in torch_f32_failures_%s.txt", t->fail, p, t->fail_explained, p);
    /* an infinity a correct computation can give (hardnet seed 355: an exact
     * 1.1e29 whose float32 enclosure is [-inf, inf]) is unjudgeable */
    cr_assert_eq(t->inf_inside_judged, 0, "%zu infinities inside their own %s enclosure were "
                 "given a verdict", t->inf_inside_judged, p);
    cr_assert_eq(t->threads_unexplained, 0, "%zu FAIL on torch's 2-thread %s gradient where "
                 "the 1-thread one passes", t->threads_unexplained, p);
    cr_assert_eq(t->nonfinite_judged, 0, "%zu NaN/Inf torch values not FAILed (%s)",
                 t->nonfinite_judged, p);
    cr_assert_gt(t->injected, 0, "no entry a relative 1e-5 takes out of its enclosure");
    cr_assert_eq(t->injected_caught, t->injected,
                 "%zu of %zu entries perturbed out of their enclosure did not FAIL",
                 t->injected - t->injected_caught, t->injected);
}

Test(torch_f32, float64_gradients, .timeout = 600)
{
    tally t;
    ga_error err = {{0}};
    cr_assert_eq(judge_all(&t, &err, GA_PREC_FLOAT64), GA_OK, "%s", err.msg);
    assert_tally(&t, GA_PREC_FLOAT64);
}

Test(torch_f32, float32_gradients, .timeout = 600)
{
    tally t;
    ga_error err = {{0}};
    cr_assert_eq(judge_all(&t, &err, GA_PREC_FLOAT32), GA_OK, "%s", err.msg);
    assert_tally(&t, GA_PREC_FLOAT32);
}
