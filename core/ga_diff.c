/* ga_diff.c: finite differences of a plain objective (ga_diff.h), and the
 * double instance of the extrapolation tableau.
 *
 * Steps are made exactly representable offsets (x + h) - x, so a quotient's
 * denominator is exact (the "h trick", Numerical Recipes 2nd ed. sec. 5.7).
 */
#include <math.h>
#include <string.h>

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>

#include "ga_diff.h"

#define GA_DIFF_BASE_DOUBLE
#include "ga_diff_templates_on.h"
#include "ga_diff_tableau_source.c"
#include "ga_diff_templates_off.h"
#undef GA_DIFF_BASE_DOUBLE

void ga_diff_tableau_init(ga_diff_tableau *t, size_t ntab, double ratio, double safe)
{
    t->ntab = ntab < GA_DIFF_NTAB_MAX ? ntab : GA_DIFF_NTAB_MAX;
    t->ratio = ratio;
    t->safe = safe;
    t->ans_round = 0.0;
    ga_diff_tableau_start(t);
}

int ga_diff_tableau_add(ga_diff_tableau *t, double a0, double ro0)
{
    t->a[0][t->rows] = a0;
    t->ro[0][t->rows] = ro0;
    ga_diff_tableau_push(t);
    return t->rows >= t->ntab || ga_diff_tableau_stop(t);
}

double ga_diff_scale(double x)
{
    return fabs(x) > 1.0 ? fabs(x) : 1.0;
}

double ga_diff_step_forward(double eta, double scale)
{
    return sqrt(eta) * scale;
}

double ga_diff_step_central(double eta, double scale)
{
    return cbrt(eta) * scale;
}

double ga_diff_step_5point(double eta, double scale)
{
    return pow(eta, 0.2) * scale;
}

/* One evaluation; E (*emax) is the largest error bound reported so far. */
static int eval(double *fx, double *emax, const ga_diff_fn *fn, double x)
{
    double e = 0.0;
    int status = fn->f(fx, &e, x, fn->params);
    if (status)
        return status;
    if (e > *emax)
        *emax = e;
    return 0;
}

/* (f(x+h) - f(x-h)) / hd with hd = (x+h) - (x-h), exact */
static int central(double *d, double *hd, double *emax, const ga_diff_fn *fn, double x, double h)
{
    double tp = x + h, tm = x - h, fp, fm;
    int status = eval(&fp, emax, fn, tp);
    if (!status)
        status = eval(&fm, emax, fn, tm);
    if (status)
        return status;
    *hd = tp - tm;
    *d = (fp - fm) / *hd;
    return 0;
}

int ga_diff_quotient(double *d, double *hd, const ga_diff_fn *fn, double x, double h)
{
    double emax = 0.0;
    return central(d, hd, &emax, fn, x, h);
}

int ga_diff_forward(ga_diff_result *r, const ga_diff_fn *fn, double x, double fx, double fx_err,
                    double h)
{
    double emax = fx_err, t1 = x + h, t2 = x + h / 2, f1, f2;
    int status = eval(&f1, &emax, fn, t1);
    if (!status)
        status = eval(&f2, &emax, fn, t2);
    if (status)
        return status;
    double d1 = (f1 - fx) / (t1 - x), d2 = (f2 - fx) / (t2 - x);
    r->value = d1;
    r->trunc = 2.0 * fabs(d1 - d2);
    r->round = 2.0 * emax / (t1 - x) + GA_U * fabs(d1);
    r->h = t1 - x;
    return 0;
}

int ga_diff_central(ga_diff_result *r, const ga_diff_fn *fn, double x, double h)
{
    double emax = 0.0, d1, d2, hd1, hd2;
    int status = central(&d1, &hd1, &emax, fn, x, h);
    if (!status)
        status = central(&d2, &hd2, &emax, fn, x, h / 2);
    if (status)
        return status;
    r->value = d1;
    r->trunc = (4.0 / 3.0) * fabs(d1 - d2);
    r->round = 2.0 * emax / hd1 + GA_U * fabs(d1);
    r->h = hd1 / 2;
    return 0;
}

/* gsl_function over a ga_diff_fn: the first failure is kept and every later
 * evaluation skipped (GSL's callback cannot return a status) */
typedef struct {
    const ga_diff_fn *fn;
    double x, emax, min_off;
    int status;
} gsl_adapter;

static double gsl_eval(double t, void *p)
{
    gsl_adapter *a = p;
    double off = fabs(t - a->x), v;
    if (off > 0 && off < a->min_off)
        a->min_off = off;
    if (a->status)
        return NAN;
    a->status = eval(&v, &a->emax, a->fn, t);
    return a->status ? NAN : v;
}

int ga_diff_5point(ga_diff_result *r, const ga_diff_fn *fn, double x, double h)
{
    gsl_adapter a = {fn, x, 0.0, INFINITY, 0};
    gsl_function F = {gsl_eval, &a};
    double result = NAN, abserr = NAN;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_deriv_central(&F, x, h, &result, &abserr);
    gsl_set_error_handler(old);
    if (a.status)
        return a.status;
    /* GSL evaluates at x +- h/2 and x +- h, then possibly once more with a
     * smaller h: the rounding is bounded with the smallest step it used,
     * whose half is the smallest offset evaluated */
    double hmin = 2.0 * a.min_off;
    r->value = result;
    r->trunc = abserr;
    r->round = 3.0 * a.emax / hmin + GA_U * fabs(result);
    r->h = hmin;
    return 0;
}

int ga_diff_ridders(ga_diff_result *r, const ga_diff_fn *fn, double x, double h, int side)
{
    const double con = side ? GA_DIFF_CON_ONE_SIDED : GA_DIFF_CON;
    ga_diff_tableau t;
    ga_diff_tableau_init(&t, GA_DIFF_NTAB, side ? con : con * con, GA_DIFF_SAFE);
    double hs[GA_DIFF_NTAB_MAX], emax = 0.0, f0 = 0.0, hh = h;
    int status = side ? eval(&f0, &emax, fn, x) : 0;
    for (int stop = 0; !status && !stop; hh /= con) {
        double d, hd, ro, fp;
        hs[t.rows] = hh;
        if (side) {
            double tp = x + side * hh;
            hd = tp - x;
            if ((status = eval(&fp, &emax, fn, tp)))
                break;
            d = (fp - f0) / hd;
            ro = 2.0 * emax / fabs(hd);
        } else {
            if ((status = central(&d, &hd, &emax, fn, x, hh)))
                break;
            ro = 2.0 * emax / hd;
        }
        stop = ga_diff_tableau_add(&t, d, ro);
    }
    if (status)
        return status;
    r->value = t.ans;
    r->trunc = isfinite(t.best) ? t.best : fabs(t.ans);
    r->round = t.ans_round + GA_U * fabs(t.ans);
    r->h = hs[t.ans_row];
    return 0;
}
