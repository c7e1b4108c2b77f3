/* ga_diff_templates_on.h: the operations ga_diff_tableau_source.c is written
 * in, for the base type the includer names (GSL's templates_on.h idiom):
 *   #define GA_DIFF_BASE_DOUBLE   (or GA_DIFF_BASE_MPFR)
 *   #include "ga_diff_templates_on.h"
 *   #include "ga_diff_tableau_source.c"
 *   #include "ga_diff_templates_off.h"
 * Operands are lvalues in double and mpfr_ptr in MPFR; every operation
 * writes its first argument. Each is one rounding in the type's own mode
 * (round to nearest), except the estimates' differences, which MPFR rounds
 * away from zero (an error estimate is not made smaller by its rounding).
 * A later arithmetic (a ball type) adds one more block here. */
#if defined(GA_DIFF_BASE_DOUBLE)
#define GA_DIFF_TABLEAU ga_diff_tableau
#define GA_DIFF_FN(name) ga_diff_tableau_##name
/* the tableau's entry a[j][r] */
#define GA_DIFF_AT(t, j, r) ((t)->a[j][r])
/* scratch: the two changes and their maximum */
#define GA_DIFF_SCRATCH(t) double s1, s2, et
/* fac: R^j, by repeated multiplication (j = 1 first) */
#define GA_DIFF_FAC_T double
#define GA_DIFF_FAC_FIRST(t) ((t)->ratio)
#define GA_DIFF_FAC_NEXT(fac, t) ((fac) *= (t)->ratio)
/* d = (fac am - amm) / (fac - 1) */
#define GA_DIFF_EXTRAP(d, am, amm, fac) ((d) = ((am) * (fac) - (amm)) / ((fac) - 1.0))
/* the rounding column: (fac rm + rmm) / (fac - 1), the weights in absolute value */
#define GA_DIFF_EXTRAP_ROUND(t, j, r, fac)                                                       \
    ((t)->ro[j][r] = ((t)->ro[(j) - 1][r] * (fac) + (t)->ro[(j) - 1][(r) - 1]) / ((fac) - 1.0))
#define GA_DIFF_ABSDIFF_UP(d, a, b) ((d) = fabs((a) - (b)))
#define GA_DIFF_ABSDIFF(d, a, b) ((d) = fabs((a) - (b)))
#define GA_DIFF_MAX(d, a, b) ((d) = (a) > (b) ? (a) : (b))
#define GA_DIFF_LE(a, b) ((a) <= (b))
#define GA_DIFF_GE(a, b) ((a) >= (b))
#define GA_DIFF_SET(d, s) ((d) = (s))
#define GA_DIFF_SET_INF(d) ((d) = INFINITY)
#define GA_DIFF_SET_NAN(d) ((d) = NAN)
#define GA_DIFF_TIMES_SAFE(d, s, t) ((d) = (t)->safe * (s))
/* the value's rounding bound follows the value */
#define GA_DIFF_TAKE_ROUND(t, j, r) ((t)->ans_round = (t)->ro[j][r])
#elif defined(GA_DIFF_BASE_MPFR)
#define GA_DIFF_TABLEAU ga_diff_tableau_mpfr
#define GA_DIFF_FN(name) ga_diff_tableau_mpfr_##name
#define GA_DIFF_AT(t, j, r) ((t)->a[(size_t)(j) * (t)->ntab + (size_t)(r)])
#define GA_DIFF_SCRATCH(t) mpfr_ptr s1 = (t)->s1, s2 = (t)->s2, et = (t)->et
/* fac: log2 of R^j, so R^j a and the division by R^j - 1 are MPFR's exact
 * shift and one rounding */
#define GA_DIFF_FAC_T unsigned long
#define GA_DIFF_FAC_FIRST(t) ((t)->ratio_log2)
#define GA_DIFF_FAC_NEXT(fac, t) ((fac) += (t)->ratio_log2)
#define GA_DIFF_EXTRAP(d, am, amm, fac)                                                          \
    (mpfr_mul_2ui(d, am, fac, MPFR_RNDN), mpfr_sub(d, d, amm, MPFR_RNDN),                        \
     mpfr_div_ui(d, d, (1UL << (fac)) - 1, MPFR_RNDN))
#define GA_DIFF_EXTRAP_ROUND(t, j, r, fac) ((void)0)
#define GA_DIFF_ABSDIFF_UP(d, a, b) (mpfr_sub(d, a, b, MPFR_RNDA), mpfr_abs(d, d, MPFR_RNDN))
#define GA_DIFF_ABSDIFF(d, a, b) (mpfr_sub(d, a, b, MPFR_RNDN), mpfr_abs(d, d, MPFR_RNDN))
#define GA_DIFF_MAX(d, a, b) mpfr_max(d, a, b, MPFR_RNDN)
#define GA_DIFF_LE(a, b) mpfr_lessequal_p(a, b)
#define GA_DIFF_GE(a, b) mpfr_greaterequal_p(a, b)
#define GA_DIFF_SET(d, s) mpfr_set(d, s, MPFR_RNDN)
#define GA_DIFF_SET_INF(d) mpfr_set_inf(d, 1)
#define GA_DIFF_SET_NAN(d) mpfr_set_nan(d)
#define GA_DIFF_TIMES_SAFE(d, s, t) mpfr_mul_2ui(d, s, (t)->safe_log2, MPFR_RNDN)
#define GA_DIFF_TAKE_ROUND(t, j, r) ((void)0)
#else
#error "ga_diff_templates_on.h: define GA_DIFF_BASE_DOUBLE or GA_DIFF_BASE_MPFR"
#endif
