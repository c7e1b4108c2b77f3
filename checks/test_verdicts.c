/* test_verdicts.c: the oracle method's verdicts on issue 12's reproducers
 * (fixtures/specs/verdicts/), each a spec on which the project's own correct
 * core drew a wrong verdict or none: zero FAIL and no error status now; and
 * errors injected at kink entries (x2, x(-1), +2^20 ulps) FAIL exactly when
 * they leave the proven interval the report prints for the entry.
 *
 * The expected verdicts are not taken from the program: the core is
 * correct (its gradient is a correct double computation), so any FAIL on it
 * is a false alarm; an injected value outside the entry's proven interval
 * is wrong by the interval's definition (docs/verdicts.md), and one inside
 * it could be a correct computation's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ga_check.h"
#include "ga_spec.h"

#define VERDICTS GA_SOURCE_ROOT "/fixtures/specs/verdicts/"

typedef struct {
    ga_spec *spec;
    ga_net *net;
} loaded;

static loaded load(const char *file)
{
    loaded l = {NULL, NULL};
    char path[512];
    snprintf(path, sizeof path, VERDICTS "%s", file);
    ga_error err;
    cr_assert_eq(ga_spec_load(&l.spec, &err, path, 0), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_spec_make_net(&l.net, &err, l.spec, 0, 0), GA_OK, "%s", err.msg);
    return l;
}

static void unload(loaded *l)
{
    ga_net_free(l->net);
    ga_spec_free(l->spec);
}

static ga_check_report *check(const loaded *l, const double *analytic)
{
    ga_check_options o;
    ga_check_options_default(&o);
    o.analytic = analytic;
    ga_check_report *r = NULL;
    ga_error err = {{0}};
    int st = ga_check_run(&r, &err, l->net, l->net->params, l->spec->x, l->spec->y, l->spec->batch,
                          &o);
    cr_assert_eq(st, GA_OK, "ga_check_run: %s", err.msg);
    return r;
}

/* each reproducer, and what it did before the proven enclosure */
static const char *const reproducers[] = {
    "fail_cancel.json",          /* 1 ulp off against 0.26 ulp: forward rounding */
    "fail_few_ulps.json",        /* a few ulps: the same, milder */
    "fail_saturation_50ulps.json", /* 50 ulps at a saturated unit */
    "fail_saturation_underflow.json", /* exact 1.6e-288, core 0, tolerance 4e-306 */
    "fail_near_kinks.json",      /* 126 FAIL near several kinks at once */
    "fail_nan_tol.json",         /* tolerance NaN where every value is 0 */
    "fail_nan_tol_overflow.json", /* 13/13 tolerance NaN, W1 = 1e308 */
    "kink_accepts_wrong.json",   /* a sign-flipped kink entry accepted */
    "exit3_tie_plain.json",      /* exit 3: an exact tie never settled */
    "exit3_saturated_logit_tie.json", /* exit 3: the same with a saturated logit */
    "exit3_zero_weights_kink.json", /* exit 3: an exact 0 at a kink "not proven" */
};

/* Parameters are indices into the file lists: a pointer into the binary is
 * not valid in the process Criterion runs a test in (it is started anew, at
 * another address). */
static size_t indices[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
_Static_assert(sizeof indices / sizeof indices[0] == sizeof reproducers / sizeof reproducers[0],
               "one index per reproducer");

ParameterizedTestParameters(verdicts, correct_core_no_fail)
{
    return cr_make_param_array(size_t, indices, sizeof reproducers / sizeof reproducers[0]);
}

ParameterizedTest(size_t *which, verdicts, correct_core_no_fail)
{
    const char *const *file = &reproducers[*which];
    loaded l = load(*file);
    ga_check_report *r = check(&l, NULL);
    cr_expect_eq(r->n_fail, 0, "%s: %zu FAIL", *file, r->n_fail);
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        cr_expect_neq(e->verdict, GA_VERDICT_FAIL, "%s %s: %s", *file, e->name, e->reason);
        /* every tolerance a number (an infinite one only on an unjudgeable entry) */
        cr_expect(!isnan(e->tol), "%s %s: NaN tolerance", *file, e->name);
        cr_expect(isfinite(e->tol) || e->verdict == GA_VERDICT_UNJUDGEABLE, "%s %s: tol %g (%s)",
                  *file, e->name, e->tol, e->reason);
        /* the oracle's value lies in the interval (else ga_check_run fails) */
        cr_expect(e->lo <= e->oracle && e->oracle <= e->hi, "%s %s", *file, e->name);
    }
    ga_check_report_free(r);
    unload(&l);
}

/* kink_accepts_wrong.json: W1[1,0] with its sign flipped lay outside its
 * slopes and was accepted; it FAILs now, naming the pre-activation and the
 * proven interval. */
Test(verdicts, flipped_kink_entry_fails)
{
    loaded l = load("kink_accepts_wrong.json");
    ga_check_report *r0 = check(&l, NULL);
    size_t P = l.net->n_params, i = SIZE_MAX;
    for (size_t k = 0; k < P; k++)
        if (!strcmp(r0->entries[k].name, "W1[1,0]"))
            i = k;
    cr_assert_neq(i, SIZE_MAX);
    cr_assert_eq(r0->entries[i].verdict, GA_VERDICT_KINK, "%s", r0->entries[i].reason);
    double *g = malloc(P * sizeof *g);
    cr_assert_not_null(g);
    for (size_t k = 0; k < P; k++)
        g[k] = r0->entries[k].analytic;
    g[i] = -g[i];
    ga_check_report *r = check(&l, g);
    const ga_check_entry *e = &r->entries[i];
    cr_expect_eq(e->verdict, GA_VERDICT_FAIL, "%s", e->reason);
    cr_expect(strstr(e->reason, "kink") && strstr(e->reason, "outside the proven interval"), "%s",
              e->reason);
    cr_expect_eq(r->n_fail, 1);
    free(g);
    ga_check_report_free(r);
    ga_check_report_free(r0);
    unload(&l);
}

/* Every kink entry of the kink reproducers, each injection in turn: the
 * verdict is FAIL exactly when the injected value leaves the entry's proven
 * interval (lo, hi of the uninjected report: the interval does not depend on
 * the analytic value). Counts are printed; the assertion is the
 * equivalence, entry by entry. */
static const char *const kink_specs[] = {"kink_accepts_wrong.json", "fail_near_kinks.json",
                                         "fail_nan_tol.json"};

ParameterizedTestParameters(verdicts, kink_injections_fail_outside_the_interval)
{
    return cr_make_param_array(size_t, indices, sizeof kink_specs / sizeof kink_specs[0]);
}

ParameterizedTest(size_t *which, verdicts, kink_injections_fail_outside_the_interval)
{
    const char *const *file = &kink_specs[*which];
    loaded l = load(*file);
    ga_check_report *r0 = check(&l, NULL);
    size_t P = l.net->n_params, injected = 0, detected = 0, kinks = r0->n_kink, seen = 0;
    /* at most 12 kink entries, spread over the net: a few seconds */
    size_t stride = kinks > 12 ? (kinks + 11) / 12 : 1;
    double *g = malloc(P * sizeof *g);
    cr_assert_not_null(g);
    for (size_t i = 0; i < P; i++) {
        const ga_check_entry *e0 = &r0->entries[i];
        if (e0->verdict != GA_VERDICT_KINK || seen++ % stride)
            continue;
        for (int kind = 0; kind < 3; kind++) {
            for (size_t k = 0; k < P; k++)
                g[k] = r0->entries[k].analytic;
            double a = e0->analytic;
            g[i] = kind == 0 ? 2 * a : kind == 1 ? -a : a + ldexp(nextafter(fabs(a), INFINITY) - fabs(a), 20);
            ga_check_report *r = check(&l, g);
            const ga_check_entry *e = &r->entries[i];
            int outside = !(g[i] >= e0->lo && g[i] <= e0->hi);
            injected++;
            detected += e->verdict == GA_VERDICT_FAIL;
            cr_expect_eq(e->verdict == GA_VERDICT_FAIL, outside,
                         "%s %s, injection %d: %.17g vs proven [%.17g, %.17g]: %s", *file, e->name,
                         kind, g[i], e0->lo, e0->hi, e->reason);
            /* the other entries are untouched and keep their verdicts */
            cr_expect_eq(r->n_fail, (size_t)(e->verdict == GA_VERDICT_FAIL), "%s", *file);
            ga_check_report_free(r);
        }
    }
    cr_log_info("%s: %zu kink injections, %zu outside their proven interval and FAILed", *file,
                injected, detected);
    cr_expect_gt(injected, 0, "%s has no kink entry", *file);
    free(g);
    ga_check_report_free(r0);
    unload(&l);
}
