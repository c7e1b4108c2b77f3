/* ga_diff_mpfr.c: the MPFR instance of the extrapolation tableau
 * (core/ga_diff_tableau_source.c; ga_diff_mpfr.h). */
#include <math.h>

#include "ga_diff_mpfr.h"
#include "ga_oracle.h"

#define GA_DIFF_BASE_MPFR
#include "ga_diff_templates_on.h"
#include "ga_diff_tableau_source.c"
#include "ga_diff_templates_off.h"
#undef GA_DIFF_BASE_MPFR

void ga_diff_tableau_mpfr_init(ga_diff_tableau_mpfr *t, size_t ntab, mpfr_t *a, mpfr_ptr best,
                               mpfr_ptr ans, mpfr_ptr s1, mpfr_ptr s2, mpfr_ptr et)
{
    t->ntab = ntab;
    t->ratio_log2 = GA_DIFF_RATIO_LOG2_MPFR;
    t->safe_log2 = 1; /* GA_DIFF_SAFE = 2^1 */
    t->a = a;
    t->best = best;
    t->ans = ans;
    t->s1 = s1;
    t->s2 = s2;
    t->et = et;
    ga_diff_tableau_mpfr_start(t);
}

void ga_diff_mpfr_quotient(mpfr_ptr d, mpfr_srcptr fp, mpfr_srcptr fm, long k)
{
    mpfr_sub(d, fp, fm, MPFR_RNDN);
    mpfr_mul_2si(d, d, k - 1, MPFR_RNDN);
}

void ga_diff_mpfr_total(mpfr_ptr tot, const ga_diff_tableau_mpfr *t, mpfr_srcptr eps, long k,
                        mpfr_ptr tmp)
{
    mpfr_mul_2ui(tot, t->best, 2, MPFR_RNDU);
    mpfr_mul_2si(tmp, eps, t->ratio_log2 == GA_DIFF_RATIO_LOG2_MPFR_ONE_SIDED ? k + 5 : k + 1,
                 MPFR_RNDU);
    mpfr_add(tot, tot, tmp, MPFR_RNDU);
}

int ga_diff_mpfr_row_settle(double *g, double *abserr, ga_diff_tableau_mpfr *t, mpfr_ptr tot,
                            mpfr_srcptr eps, long k)
{
    /* a[j][r] = (R^j a[j-1][r] - a[j-1][r-1]) / (R^j - 1) */
    ga_diff_tableau_mpfr_push(t);
    if (t->rows < 2)
        return 0;
    ga_diff_mpfr_total(tot, t, eps, k, t->s1);
    if (ga_oracle_settle(g, abserr, t->ans, tot, t->s1, t->s2))
        return 1;
    return ga_diff_tableau_mpfr_stop(t) ? -1 : 0;
}

long ga_diff_mpfr_step_bits(double theta, long k_first, long k_last)
{
    int ex = 0;
    if (theta != 0)
        frexp(theta, &ex); /* 2^(ex-1) <= |theta| < 2^ex */
    long top = ex > 1 - k_first ? ex : 1 - k_first, bot = ex - 53 < -k_last ? ex - 53 : -k_last;
    return top - bot + 2;
}

void ga_diff_mpfr_bracket(double bracket[2], mpfr_srcptr ans, mpfr_srcptr tot, mpfr_ptr lo,
                          mpfr_ptr hi)
{
    bracket[0] = bracket[1] = NAN;
    if (!mpfr_number_p(ans) || !mpfr_number_p(tot))
        return;
    mpfr_sub(lo, ans, tot, MPFR_RNDD);
    mpfr_add(hi, ans, tot, MPFR_RNDU);
    bracket[0] = mpfr_get_d(lo, MPFR_RNDN);
    bracket[1] = mpfr_get_d(hi, MPFR_RNDN);
}
