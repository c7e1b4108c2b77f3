/* ga_diff_tableau_source.c: Ridders' extrapolation tableau, written once for
 * every base type (included by ga_diff.c for double and by
 * oracle/ga_diff_mpfr.c for MPFR, between ga_diff_templates_on.h and
 * ga_diff_templates_off.h; not compiled on its own).
 *
 * Ridders (1982), "Accurate computation of F'(x) and F'(x)F''(x)", Adv. Eng.
 * Software 4(2); the tableau and stopping rule of Numerical Recipes' dfridr
 * (2nd ed. sec. 5.7). Row r holds the difference at step h_r; its error is
 * a series in h_r^k whose terms shrink by the ratio R between rows, so
 *   a[j][r] = (R^j a[j-1][r] - a[j-1][r-1]) / (R^j - 1)
 * removes the next term (Richardson). The estimate of a[j][r] is its larger
 * change against the two entries it came from; the value is the entry whose
 * estimate is smallest (ties go to the later entry: smaller steps). */

/* Empties the tableau; the caller has set its size, ratio and factor. */
void GA_DIFF_FN(start)(GA_DIFF_TABLEAU *t)
{
    t->rows = 0;
    t->ans_row = 0;
    GA_DIFF_SET_INF(t->best);
    GA_DIFF_SET_NAN(t->ans);
}

/* Extrapolates row r = t->rows, whose difference the caller has put in
 * a[0][r] (and, in double, its rounding bound in ro[0][r]). */
void GA_DIFF_FN(push)(GA_DIFF_TABLEAU *t)
{
    size_t r = t->rows++;
    if (r == 0) {
        GA_DIFF_SET(t->ans, GA_DIFF_AT(t, 0, 0));
        GA_DIFF_TAKE_ROUND(t, 0, 0);
        t->ans_row = 0;
        return;
    }
    GA_DIFF_SCRATCH(t);
    GA_DIFF_FAC_T fac = GA_DIFF_FAC_FIRST(t);
    for (size_t j = 1; j <= r; j++) {
        GA_DIFF_EXTRAP(GA_DIFF_AT(t, j, r), GA_DIFF_AT(t, j - 1, r), GA_DIFF_AT(t, j - 1, r - 1), fac);
        GA_DIFF_EXTRAP_ROUND(t, j, r, fac);
        GA_DIFF_FAC_NEXT(fac, t);
        GA_DIFF_ABSDIFF_UP(s1, GA_DIFF_AT(t, j, r), GA_DIFF_AT(t, j - 1, r));
        GA_DIFF_ABSDIFF_UP(s2, GA_DIFF_AT(t, j, r), GA_DIFF_AT(t, j - 1, r - 1));
        GA_DIFF_MAX(et, s1, s2);
        if (GA_DIFF_LE(et, t->best)) {
            GA_DIFF_SET(t->best, et);
            GA_DIFF_SET(t->ans, GA_DIFF_AT(t, j, r));
            GA_DIFF_TAKE_ROUND(t, j, r);
            t->ans_row = r;
        }
    }
}

/* Ridders' stop, after row r >= 1: the diagonal moved by at least SAFE
 * times the best estimate, so rounding has taken over. */
int GA_DIFF_FN(stop)(GA_DIFF_TABLEAU *t)
{
    if (t->rows < 2)
        return 0;
    size_t r = t->rows - 1;
    GA_DIFF_SCRATCH(t);
    (void)et;
    GA_DIFF_ABSDIFF(s1, GA_DIFF_AT(t, r, r), GA_DIFF_AT(t, r - 1, r - 1));
    GA_DIFF_TIMES_SAFE(s2, t->best, t);
    return GA_DIFF_GE(s1, s2);
}
