/* ga_enclose.c: the proven enclosure of ga_enclose.h, pass by pass.
 *
 * The passes follow core/ga_backprop.c and core/ga_loss.c formula by
 * formula. Each quantity is an interval of long doubles: the exact range of
 * the formula over its arguments' intervals, then widened by what the
 * double computation's roundings can add (the "budget" of each step, named
 * next to it). Functions of one interval use their monotone pieces (every
 * activation is monotone on each side of 0), so no formula is evaluated
 * twice on the same interval and the ranges are the true ones, not
 * first-order estimates.
 */
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_enclose.h"
#include "ga_loss_internal.h"
#include "ga_ops.h"

/* Compiled twice (checks/meson.build): the IEEE model, and with
 * GA_ENCLOSE_FAST=1 the fast-math model (below), its entry points named
 * *_fast. Only the second's intervals carry a product's chain, so that the
 * first's stay two numbers and its passes as fast as they were. */
#ifndef GA_ENCLOSE_FAST
#define GA_ENCLOSE_FAST 0
#endif
#define FAST GA_ENCLOSE_FAST


/* The arithmetic enclosed (ga_precision): every budget below is taken in it.
 * Below `min` a product, quotient or function value may be off by half a
 * subnormal ulp absolutely (eta is the whole ulp, for margin); sums of
 * subnormals are exact.
 * The fast-math model (fast = 1, docs/verdicts.md "The fast-math model"):
 * code built with -Ofast, run with flush-to-zero and denormals-are-zero. A
 * result below `min` may become 0 and a subnormal operand may be read as 0,
 * so eta is `min` itself, a sum of n terms may lose (2 n + 1) eta, and no
 * exactness is taken below `min`; a product's factors may be grouped in any
 * order (the chain below); a division may be a multiplication by a
 * reciprocal, and a division or square root an approximation refined by
 * Newton's method (rcpps, rsqrtps): `approx` relative. */
typedef struct {
    long double u;       /* unit roundoff (1 + 2^-8): the margin covers the long
                            double evaluation's 2^-64 per operation */
    long double eta;     /* the smallest subnormal: 2^-1074, 2^-149; fast: min */
    long double min;     /* the smallest normal: DBL_MIN, FLT_MIN */
    long double max;     /* the largest finite: DBL_MAX, FLT_MAX */
    int digits;          /* significand bits: 53, 24 */
    long double exp_cut; /* exp(-d) is below eta/2 for d beyond it: 746, 104 (fast: kept,
                            a larger cap than its min needs) */
    ga_precision prec;
    long double approx;  /* a division's or square root's relative error: u (rounded
                            correctly), fast GA_ENCLOSE_FAST_APPROX_ULPS u */
    size_t k;            /* an elementary function's budget in u (and in eta):
                            GA_ENCLOSE_ELEM_ULPS; fast, that plus
                            GA_ENCLOSE_FAST_APPROX_ULPS for the division or square
                            root its formula may hold */
} fmodel;

#define U32 (0x1p-24L * (1.0L + 0x1p-8L))
#if !GA_ENCLOSE_FAST
static const fmodel model_float64 = {GA_ENCLOSE_U, 0x1p-1074L, DBL_MIN, DBL_MAX, 53, 746.0L,
                                     GA_PREC_FLOAT64, GA_ENCLOSE_U, GA_ENCLOSE_ELEM_ULPS};
static const fmodel model_float32 = {U32, 0x1p-149L, FLT_MIN, FLT_MAX, 24, 104.0L, GA_PREC_FLOAT32,
                                     U32, GA_ENCLOSE_ELEM_ULPS};
#else
#define K_FAST (GA_ENCLOSE_ELEM_ULPS + GA_ENCLOSE_FAST_APPROX_ULPS)
static const fmodel model_float64 = {GA_ENCLOSE_U, DBL_MIN, DBL_MIN, DBL_MAX, 53, 746.0L,
                                     GA_PREC_FLOAT64, GA_ENCLOSE_FAST_APPROX_ULPS * GA_ENCLOSE_U,
                                     K_FAST};
static const fmodel model_float32 = {U32, FLT_MIN, FLT_MIN, FLT_MAX, 24, 104.0L, GA_PREC_FLOAT32,
                                     GA_ENCLOSE_FAST_APPROX_ULPS * U32, K_FAST};
#endif

static const fmodel *model_of(ga_precision prec)
{
    return prec == GA_PREC_FLOAT32 ? &model_float32 : &model_float64;
}

/* the entry points of this instance: the fast-math model's are named *_fast */
#if GA_ENCLOSE_FAST
#define ENTRY(name) name##_fast
#else
#define ENTRY(name) name
#endif

/* The fast-math model's chain: 0 for a value that is not a product (a
 * leaf); for a product, prod 2 max(1, |f|) over its factors f (leaves): any
 * grouping of the factors loses at most eta times it to underflow
 * (docs/verdicts.md). Set by the products below, 0 in every literal. */
typedef struct {
    long double lo, hi;
#if GA_ENCLOSE_FAST
    long double chain;
#endif
} ivl;

#if GA_ENCLOSE_FAST
#define CHAIN(v) ((v).chain)
#define SET_CHAIN(v, c) ((v).chain = (c))
#else
#define CHAIN(v) 0.0L
#define SET_CHAIN(v, c) ((void)(c))
#endif

static long double gam(const fmodel *m, size_t n)
{
    long double nu = (long double)n * m->u;
    return nu < 0.5L ? nu / (1.0L - nu) : (long double)INFINITY;
}

static long double mag(ivl a)
{
    return fmaxl(fabsl(a.lo), fabsl(a.hi));
}

/* v as a factor of a product chain (fast-math model) */
static long double chain_of(ivl v)
{
    return CHAIN(v) > 0 ? CHAIN(v) : 2.0L * fmaxl(1.0L, mag(v));
}

static const ivl whole_line = {-(long double)INFINITY, (long double)INFINITY};

/* An interval whose ends came out NaN, or on the wrong infinite side, from
 * the long double arithmetic is replaced by a valid (wider) one. */
static ivl fix(ivl r)
{
    if (isnan(r.lo) || r.lo == (long double)INFINITY)
        r.lo = isnan(r.lo) ? -(long double)INFINITY : LDBL_MAX;
    if (isnan(r.hi) || r.hi == -(long double)INFINITY)
        r.hi = isnan(r.hi) ? (long double)INFINITY : -LDBL_MAX;
    return r;
}

/* Rounded to the precision, a value beyond its largest may come out infinite. */
static ivl may_overflow(const fmodel *m, ivl r)
{
    if (r.hi > m->max)
        r.hi = INFINITY;
    if (r.lo < -m->max)
        r.lo = -INFINITY;
    return r;
}

/* the range r widened by rel |r| + n_eta eta on both sides */
static ivl widen(const fmodel *m, ivl r, long double rel, size_t n_eta)
{
    long double w = rel * mag(r) + (long double)n_eta * m->eta;
    r.lo -= w;
    r.hi += w;
    return may_overflow(m, fix(r));
}

/* the range r widened by k eta on both sides */
static ivl widen_eta(const fmodel *m, ivl r, long double k)
{
    long double w = k * m->eta;
    return may_overflow(m, fix((ivl){r.lo - w, r.hi + w}));
}

/* exact values are finite: 0 times an infinite end is 0 */
static long double mul0(long double a, long double b)
{
    return a == 0 || b == 0 ? 0.0L : a * b;
}

static ivl iscale(long double w, ivl a)
{
    ivl r = w >= 0 ? (ivl){mul0(w, a.lo), mul0(w, a.hi)} : (ivl){mul0(w, a.hi), mul0(w, a.lo)};
    return fix(r);
}

static ivl imul(ivl a, ivl b)
{
    if (a.lo == a.hi)
        return iscale(a.lo, b);
    if (b.lo == b.hi)
        return iscale(b.lo, a);
    if (a.lo >= 0 && b.lo >= 0) /* the common case of the backward pass: no sign to sort */
        return fix((ivl){mul0(a.lo, b.lo), mul0(a.hi, b.hi)});
    long double p[4] = {mul0(a.lo, b.lo), mul0(a.lo, b.hi), mul0(a.hi, b.lo), mul0(a.hi, b.hi)};
    ivl r = {p[0], p[0]};
    for (int i = 1; i < 4; i++) {
        r.lo = fminl(r.lo, p[i]);
        r.hi = fmaxl(r.hi, p[i]);
    }
    return fix(r);
}

static ivl isub(ivl a, ivl b)
{
    return fix((ivl){a.lo - b.hi, a.hi - b.lo});
}

/* fast: 1 or -1, which leaves every grouping of a chain as it is */
static int is_unit(ivl a)
{
    return a.lo == a.hi && fabsl(a.lo) == 1.0L;
}

/* -a: a product's chain kept (fast-math model) */
static ivl g_neg(ivl a)
{
    ivl r = {-a.hi, -a.lo};
    SET_CHAIN(r, CHAIN(a));
    return r;
}

/* ---- exact operations ----
 * A product of two doubles is exact when fma(x, y, -xy) is 0 and it does not
 * underflow (of two float32 numbers: their double product, always exact, is
 * a normal float32); a sum of exact terms, each a multiple of 2^e, whose
 * absolute values add up to less than 2^(e + digits), is exact in every
 * order (every partial sum is such a multiple below 2^(e + digits)). Where a pass
 * stays exact (zero weights and biases, small integers, dyadic data), the
 * enclosure is a point: an exact 0 is exactly at a kink, and an exact value
 * must be matched exactly. */

/* the finite number of the precision an interval is, when it is one */
static int point_double(const fmodel *m, double *v, ivl a)
{
    if (a.lo != a.hi || !isfinite(a.lo) || (long double)(double)a.lo != a.lo)
        return 0;
    if (m->prec == GA_PREC_FLOAT32 &&
        (fabsl(a.lo) > m->max || (long double)(float)a.lo != a.lo))
        return 0;
    *v = (double)a.lo;
    return 1;
}

/* exponent of the lowest set bit of a nonzero finite double */
static int low_bit(double v)
{
    int ex;
    double m = frexp(fabs(v), &ex); /* v = m 2^ex, m in [1/2, 1) */
    uint64_t M = (uint64_t)ldexp(m, 53);
    return ex - 53 + __builtin_ctzll(M);
}

/* x y when it is an exact double product, else 0 */
static int exact_product(const fmodel *m, double *p, ivl x, ivl y)
{
    double a, b;
    if (!point_double(m, &a, x) || !point_double(m, &b, y))
        return 0;
    *p = a * b;
    if (a == 0 || b == 0) {
        *p = 0; /* fast: in any grouping, unless a partial product overflows */
        return !FAST || chain_of(x) * chain_of(y) <= m->max;
    }
    /* fast: a chain's other groupings round; a subnormal factor may be read as 0 */
    if (FAST && (CHAIN(x) > 0 || CHAIN(y) > 0 || fabs(a) < m->min || fabs(b) < m->min))
        return 0;
    if (m->prec == GA_PREC_FLOAT32)
        return fabs(*p) >= FLT_MIN && fabs(*p) <= FLT_MAX && (double)(float)*p == *p;
    return isfinite(*p) && fabs(*p) >= DBL_MIN && fma(a, b, -*p) == 0;
}

/* A sum of intervals computed in any order: its exact range, the magnitude
 * sum|terms| of the rounding bound, and the largest positive and negative
 * partial sums (a partial sum beyond DBL_MAX makes that side infinite). */
typedef struct {
    long double lo, hi, mag, pos, neg;
    size_t tiny;  /* products that may land below DBL_MIN (exact zeros do not) */
    int inexact;  /* some term is not an exact double */
    int low;      /* the lowest set bit over the nonzero terms */
#if GA_ENCLOSE_FAST
    long double chains; /* the sum of the products' chains (eta each) */
    int wild;     /* a product's chain beyond max (a grouping may overflow) */
#endif
} acc;

static const acc acc_empty = {0, 0, 0, 0, 0, 0, 0, INT_MAX};

/* the term's range, magnitude and signed parts into the sum */
static void acc_add_range(acc *s, ivl t)
{
    s->lo += t.lo;
    s->hi += t.hi;
    s->mag += mag(t);
    if (t.hi > 0)
        s->pos += t.hi;
    if (t.lo < 0)
        s->neg -= t.lo;
}

static void acc_add(const fmodel *m, acc *s, ivl t)
{
    acc_add_range(s, t);
    if (s->inexact) /* acc_close no longer asks for the lowest bit */
        return;
    double v;
    if (!point_double(m, &v, t))
        s->inexact = 1;
    else if (v != 0 && low_bit(v) < s->low)
        s->low = low_bit(v);
}

/* the product x y as a term: exact when it is, counted when it may underflow */
static void acc_add_product(const fmodel *m, acc *s, ivl x, ivl y)
{
    double p;
#if GA_ENCLOSE_FAST /* every inexact product: eta times its chain (docs/verdicts.md) */
    if (is_unit(x) || is_unit(y)) { /* the other factor, as it is */
        ivl o = is_unit(x) ? y : x;
        acc_add(m, s, (is_unit(x) ? x.lo : y.lo) > 0 ? o : (ivl){-o.hi, -o.lo});
        return;
    }
    if (exact_product(m, &p, x, y)) {
        acc_add(m, s, (ivl){p, p});
        return;
    }
    long double c = chain_of(x) * chain_of(y);
    acc_add_range(s, imul(x, y));
    s->inexact = 1;
    if (c <= m->max)
        s->chains += c;
    else
        s->wild = 1;
    return;
#endif
    if (s->inexact) {
        /* The sum is inexact already (acc_close widens it whatever comes),
         * so the term's exactness matters only to the count of products
         * that may underflow; an exact product is imul's point (a double
         * product that fma shows exact is exact in long double too), so the
         * sum is the same as by the path below, with one test per product
         * instead of three. The enclosure's inner loop. */
        ivl t = imul(x, y);
        acc_add_range(s, t);
        if ((t.lo != 0 || t.hi != 0) && (t.lo <= 0 ? t.hi >= -m->min : t.lo <= m->min) &&
            !exact_product(m, &p, x, y))
            s->tiny++;
        return;
    }
    if (exact_product(m, &p, x, y)) {
        acc_add(m, s, (ivl){p, p});
        return;
    }
    ivl t = imul(x, y);
    acc_add(m, s, t);
    s->inexact = 1;
    if ((t.lo != 0 || t.hi != 0) && (t.lo <= 0 ? t.hi >= -m->min : t.lo <= m->min))
        s->tiny++;
}

/* n_round roundings on the longest path of the sum, and its products that
 * may underflow: |fl(sum) - sum| <= gamma_{n_round} sum|terms| + tiny eta */
static ivl acc_close(const fmodel *m, const acc *s, size_t n_round)
{
    /* fast: exact only where every partial sum is a multiple of min (none flushed) */
    if (!s->inexact && (s->low == INT_MAX || (s->mag < ldexpl(1.0L, s->low + m->digits) &&
                                              (!FAST || ldexpl(1.0L, s->low) >= m->min))))
        return (ivl){s->lo, s->lo}; /* exact in every order (and in long double) */
    long double g = gam(m, n_round), w = g * s->mag + (long double)s->tiny * m->eta;
#if GA_ENCLOSE_FAST /* the products' chains; each term read as 0, each partial sum flushed */
    if (s->wild)
        return whole_line;
    w += (s->chains + 2.0L * (long double)n_round + 1.0L) * m->eta;
#endif
    ivl r = fix((ivl){s->lo - w, s->hi + w});
    if (s->pos * (1.0L + g) > m->max)
        r.hi = INFINITY;
    if (s->neg * (1.0L + g) > m->max)
        r.lo = -INFINITY;
    return may_overflow(m, r);
}

/* fast: r, a product of chains cx and cy, as any grouping of its factors
 * computes it: rel |r| (u for a product) and eta cx cy; beyond max the
 * chain's partial products may overflow, and any value may come out */
static ivl fast_product(const fmodel *m, ivl r, long double cx, long double cy, long double rel)
{
    long double c = cx * cy;
    if (!(c <= m->max))
        return whole_line;
    r = widen(m, r, rel, 0);
    r = may_overflow(m, fix((ivl){r.lo - m->eta * c, r.hi + m->eta * c}));
    SET_CHAIN(r, c);
    return r;
}

/* a single product as the core rounds it; fast: an exact one a chain too,
 * whose other groupings may round, but for a factor 1 or -1 */
static ivl round_product(const fmodel *m, ivl x, ivl y)
{
    double p;
    ivl r = {0, 0};
    if (FAST && (is_unit(x) || is_unit(y))) {
        ivl o = is_unit(x) ? y : x;
        return (is_unit(x) ? x.lo : y.lo) > 0 ? o : g_neg(o);
    }
    long double c = FAST ? chain_of(x) * chain_of(y) : 0.0L;
    /* an exact 0 times a finite number is exactly 0 (a dropped entry); fast:
     * unless a partial product of the chain may overflow */
    if (((x.lo == 0 && x.hi == 0 && isfinite(y.lo) && isfinite(y.hi)) ||
         (y.lo == 0 && y.hi == 0 && isfinite(x.lo) && isfinite(x.hi))) &&
        (!FAST || c <= m->max)) {
        SET_CHAIN(r, c);
        return r;
    }
    if (exact_product(m, &p, x, y)) {
        r = (ivl){p, p};
        SET_CHAIN(r, c);
        return r;
    }
    if (FAST)
        return fast_product(m, imul(x, y), chain_of(x), chain_of(y), m->u);
    return widen(m, imul(x, y), m->u, 1);
}

/* An interval wider than half its magnitude: a factor that varies by more
 * than 2x (or changes sign) over its argument's interval, where the forward
 * pass has left it without a correct digit. */
static int spread_wide(ivl r)
{
    return r.hi - r.lo > 0.5L * mag(r);
}

/* ---- activations ---- */

static long double sigm(long double z)
{
    if (z >= 0)
        return 1.0L / (1.0L + expl(-z));
    long double e = expl(z);
    return e / (1.0L + e);
}

/* ---- activations with no tuned code here: the generic formula ---------
 * core/ga_ref_act_tmpl.h compiled for long double (every operation rounded
 * to nearest in 64 bits, libm's long double functions): its value and the
 * mean-value form f([c - r, c + r]) in f(c) + [-L r, L r], L = sup |f'|,
 * need neither monotonicity nor anything of the activation but its
 * formula and its constants (ga_activation_lipschitz*). */
static long double ld_softplus(long double z)
{
    return (z > 0 ? z : 0.0L) + log1pl(expl(-fabsl(z)));
}

#define REF_T long double
#define REF_CTX void
#define REF_FN(name) ld_##name
#define A_INIT(c, r) ((void)(c), (void)(r))
#define A_CLEAR(c, r) ((void)(c), (void)(r))
#define A_SET_D(c, r, d) (*(r) = (d))
#define A_SET(c, r, a) (*(r) = *(a))
#define A_ADD(c, r, a, b) (*(r) = *(a) + *(b))
#define A_SUB(c, r, a, b) (*(r) = *(a) - *(b))
#define A_MUL(c, r, a, b) (*(r) = *(a) * *(b))
#define A_DIV(c, r, a, b) (*(r) = *(a) / *(b))
#define A_MUL_D(c, r, a, d) (*(r) = *(a) * (long double)(d))
#define A_D_ADD(c, r, d, a) (*(r) = (long double)(d) + *(a))
#define A_NEG(c, r, a) (*(r) = -*(a))
#define A_ABS(c, r, a) (*(r) = fabsl(*(a)))
#define A_EXP(c, r, a) (*(r) = expl(*(a)))
#define A_EXPM1(c, r, a) (*(r) = expm1l(*(a)))
#define A_TANH(c, r, a) (*(r) = tanhl(*(a)))
#define A_ERFC(c, r, a) (*(r) = erfcl(*(a)))
#define A_SQRT(c, r, a) (*(r) = sqrtl(*(a)))
#define A_CONST_PI(c, r) (*(r) = 3.14159265358979323846264338327950288L)
#define A_DIV_D(c, r, a, d) (*(r) = *(a) / (long double)(d))
#define A_D_DIV(c, r, d, a) (*(r) = (long double)(d) / *(a))
#define A_SIGMOID(c, r, a) (*(r) = sigm(*(a)))
#define A_SOFTPLUS(c, r, a) (*(r) = ld_softplus(*(a)))
#define A_CMP(c, a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#include "ga_ref_act_tmpl.h"

static long double generic_value(ga_activation a, long double p, long double z)
{
    long double v;
    ld_act_value(NULL, &v, a, (double)p, &z);
    return v;
}

static long double generic_deriv(ga_activation a, long double p, long double z)
{
    long double v;
    ld_act_deriv(NULL, &v, a, (double)p, &z);
    return v;
}

/* g over z by the mean-value form around the midpoint, L = sup |g'|; the
 * radius rounded up. An infinite end gives the whole line. */
static ivl mean_value(long double gc, long double L, ivl z)
{
    if (!isfinite(z.lo) || !isfinite(z.hi))
        return (ivl){-(long double)INFINITY, (long double)INFINITY};
    long double r = (z.hi - z.lo) / 2 * (1.0L + 0x1p-60L);
    return fix((ivl){gc - L * r, gc + L * r});
}

static long double act_ld(ga_activation a, long double p, long double z)
{
    switch (a) {
    case GA_ACT_SIGMOID: return sigm(z);
    case GA_ACT_TANH: return tanhl(z);
    case GA_ACT_RELU: return z > 0 ? z : 0.0L;
    case GA_ACT_LEAKY_RELU: return z > 0 ? z : mul0(p, z);
    case GA_ACT_ELU: return z > 0 ? z : p * expm1l(z);
    case GA_ACT_SOFTPLUS: return (z > 0 ? z : 0.0L) + log1pl(expl(-fabsl(z)));
    case GA_ACT_IDENTITY: return z;
    default: return generic_value(a, p, z);
    }
}

/* budget of the core's evaluation of f, in units of u */
static long double act_ulps(const fmodel *m, ga_activation a)
{
    switch (a) {
    case GA_ACT_IDENTITY:
    case GA_ACT_RELU: return 0.0L;
    case GA_ACT_LEAKY_RELU: return 1.0L;
    default: return m->k;
    }
}

/* min and max of the values v[0..n) into r */
static ivl hull(const long double *v, int n)
{
    ivl r = {v[0], v[0]};
    for (int i = 1; i < n; i++) {
        r.lo = fminl(r.lo, v[i]);
        r.hi = fmaxl(r.hi, v[i]);
    }
    return r;
}

/* f over z: every activation is monotone on each side of 0 */
/* A generic activation's formula may round an inner argument before a
 * function that amplifies its relative error (erfc(-z/sqrt 2) and s(2u) in
 * the tails, by 2 x^2 and 2 |u|), and may multiply z by a factor that has
 * underflowed (z Phi(z), z s(z)): its computed value is taken as
 * f(z (1 + d1)) (1 + d2) + e, |d1|, |d2| <= K u, |e| <= K eta (1 + |z|),
 * i.e. f over z widened by K u |z|, then K u of the result and e.
 * checks/test_activation.c holds the core's formulas to this model. */
static ivl generic_arg(const fmodel *m, ivl z)
{
    long double w = m->k * m->u * mag(z);
    return fix((ivl){z.lo - w, z.hi + w});
}

static ivl generic_abs(const fmodel *m, ivl r, ivl z)
{
    long double e = m->k * m->eta * (1.0L + mag(z));
    return may_overflow(m, fix((ivl){r.lo - e, r.hi + e}));
}

static ivl act_range(const fmodel *m, ga_activation a, long double p, ivl z)
{
    if (ga_activation_is_generic(a)) {
        ivl zw = generic_arg(m, z);
        long double c = zw.lo == zw.hi ? zw.lo : zw.lo / 2 + zw.hi / 2;
        ivl r = mean_value(act_ld(a, p, c), (long double)ga_activation_lipschitz(a, (double)p), zw);
        return generic_abs(m, widen(m, r, m->k * m->u, m->k), z);
    }
    double pz;
    if (a == GA_ACT_LEAKY_RELU && z.lo == z.hi &&
        (z.lo > 0 || exact_product(m, &pz, (ivl){p, p}, z)) &&
        (!FAST || fabsl(z.lo) >= m->min || z.lo == 0))
        return z.lo > 0 ? z : (ivl){pz, pz};
    long double v[3] = {act_ld(a, p, z.lo), act_ld(a, p, z.hi), 0.0L};
    /* f(0) = 0 for every activation; fast: z below min may be read as 0 */
    long double zero = FAST ? m->min : 0.0L;
    ivl r = hull(v, (z.lo < zero && z.hi > -zero) ? 3 : 2);
    r = widen(m, fix(r), act_ulps(m, a) * m->u, act_ulps(m, a) > 0 ? m->k : 0);
    if (FAST) /* f(z) against f(0) for a z read as 0: its slope at most max(1, |p|) */
        r = widen_eta(m, r, fmaxl(1.0L, fabsl(p)));
    return r;
}

/* sigmoid' = e/(1+e)^2 and tanh' = 4 e2/(1+e2)^2, e = exp(-|z|), e2 = e^2:
 * largest at 0, falling with |z| */
static long double bump(ga_activation a, long double z)
{
    if (a == GA_ACT_SIGMOID) {
        long double e = expl(-fabsl(z));
        return e / ((1.0L + e) * (1.0L + e));
    }
    long double e2 = expl(-2.0L * fabsl(z));
    return 4.0L * e2 / ((1.0L + e2) * (1.0L + e2));
}

/* f' over z. *amb: z may lie on either side of a kink, or exactly on it,
 * and the interval is the hull of both one-sided slopes: at an exact 0 any
 * value between them is a valid subgradient (the core takes relu'(0) = 0,
 * leaky_relu'(0) = slope, elu'(0) = alpha; other codes take 1). */
static ivl dact_range(const fmodel *m, int *amb, ga_activation a, long double p, ivl z)
{
    *amb = 0;
    ivl r;
    if (ga_activation_is_generic(a)) {
        /* the core's f' may cancel (silu' crosses 0): its budget is K u
         * times sup |f'|, absolutely, beside the relative one */
        ivl zw = generic_arg(m, z);
        long double c = zw.lo == zw.hi ? zw.lo : zw.lo / 2 + zw.hi / 2;
        long double L1 = (long double)ga_activation_lipschitz(a, (double)p);
        r = mean_value(generic_deriv(a, p, c), (long double)ga_activation_lipschitz_deriv(a, (double)p), zw);
        r.lo -= m->k * m->u * L1;
        r.hi += m->k * m->u * L1;
        return generic_abs(m, widen(m, r, m->k * m->u, m->k), z);
    }
    switch (a) {
    case GA_ACT_SIGMOID:
    case GA_ACT_TANH: {
        long double bl = bump(a, z.lo), bh = bump(a, z.hi);
        r.lo = fminl(bl, bh);
        r.hi = z.lo <= 0 && z.hi >= 0 ? (a == GA_ACT_SIGMOID ? 0.25L : 1.0L) : fmaxl(bl, bh);
        return widen(m, r, m->k * m->u, m->k);
    }
    case GA_ACT_SOFTPLUS:
        return widen(m, (ivl){sigm(z.lo), sigm(z.hi)}, m->k * m->u, m->k);
    case GA_ACT_RELU:
    case GA_ACT_LEAKY_RELU: {
        long double neg = a == GA_ACT_RELU ? 0.0L : p;
        /* fast: a z below min may be read as 0, which takes the branch at 0 */
        if (z.lo > 0 && (!FAST || z.lo >= m->min))
            return (ivl){1, 1};
        if (z.hi < 0 && (!FAST || z.hi <= -m->min))
            return (ivl){neg, neg};
        *amb = neg != 1.0L;
        long double v[2] = {1.0L, neg};
        return hull(v, 2);
    }
    case GA_ACT_ELU: {
        if (z.lo > 0 && (!FAST || z.lo >= m->min))
            return (ivl){1, 1};
        long double v[3] = {p * expl(z.lo), p * expl(fminl(z.hi, 0.0L)), 1.0L};
        int n = 2;
        if (z.hi >= 0 || (FAST && z.hi > -m->min)) {
            n = 3;
            *amb = p != 1.0L;
        }
        return widen(m, hull(v, n), m->k * m->u, m->k);
    }
    default: return (ivl){1, 1};
    }
}

/* ---- the formulas other code uses ----
 * The whole enclosure holds the gradient of any code that computes the same
 * maths, with gradaudit's formulas or with those in common use (torch's
 * autograd, NumPy tutorials, llm.c): f' from the computed activation a
 * (sigmoid' = a (1 - a), tanh' = 1 - a^2, elu' = a + alpha for z <= 0),
 * elu's alpha (exp(z) - 1), and bce's dL/dz as s(z) - y. Each is off by
 * c u absolutely where a, exp(z) or s(z) is off by u relatively:
 * |d/da (a (1 - a))| |a| <= 1, |d/da (1 - a^2)| |a| <= 2, |alpha|, and
 * |1 - y| + |y| for s - y; they get K c u on top of the bounds above. The
 * enclosure of a backward pass from known forward values
 * (ga_enclosure_backward_from) is for gradaudit's own passes, whose
 * formulas it follows, and takes none of this. */
static ivl widen_abs(const fmodel *m, ivl r, long double w)
{
    return may_overflow(m, fix((ivl){r.lo - w, r.hi + w}));
}

static ivl act_range_any(const fmodel *m, ga_activation a, long double p, ivl z)
{
    ivl r = act_range(m, a, p, z);
    return a == GA_ACT_ELU && z.lo <= 0 ? widen_abs(m, r, m->k * m->u * fabsl(p)) : r;
}

static ivl dact_range_any(const fmodel *m, int *amb, ga_activation a, long double p, ivl z)
{
    ivl r = dact_range(m, amb, a, p, z);
    switch (a) {
    case GA_ACT_SIGMOID:
    case GA_ACT_SOFTPLUS: return widen_abs(m, r, m->k * m->u);
    case GA_ACT_TANH: return widen_abs(m, r, 2 * m->k * m->u);
    case GA_ACT_ELU: return z.lo <= 0 ? widen_abs(m, r, m->k * m->u * fabsl(p)) : r;
    default: return r;
    }
}

/* ---- softmax ---- */

/* exp(a - b), with a NaN difference (inf - inf) taken as `nan_as` */
static long double exp_diff(long double a, long double b, long double nan_as)
{
    long double d = a - b;
    return expl(isnan(d) ? nan_as : d);
}

/* r_k = sum_{j != k} exp(z_j - z_k) over the box z (n): its range */
static ivl softmax_rest(const ivl *z, size_t n, size_t k)
{
    ivl r = {0, 0};
    for (size_t j = 0; j < n; j++)
        if (j != k) {
            r.lo += exp_diff(z[j].lo, z[k].hi, -(long double)INFINITY);
            r.hi += exp_diff(z[j].hi, z[k].lo, (long double)INFINITY);
        }
    return r;
}

/* p_k = 1 / (1 + r_k) falls with r_k */
static ivl softmax_p(ivl r)
{
    return (ivl){1.0L / (1.0L + r.hi), 1.0L / (1.0L + r.lo)};
}

/* 1 - p_k = r_k / (1 + r_k) rises with r_k */
static long double one_minus_p(long double r)
{
    return isinf(r) ? 1.0L : r / (1.0L + r);
}

/* The relative error the core's exp(z_j - m) (m the largest logit) gets
 * from rounding z_j - m: |z_j - m| u, at most. d is the largest |z_j - m|
 * over the box; beyond 746 the term is below 2^-1075, which the absolute
 * budget covers, so d is capped there. Every term of the sum s and every
 * p_k = exp(z_k - m) / s carries it twice at most. */
static long double softmax_shift(const fmodel *m, const ivl *z, size_t n)
{
    long double top = z[0].hi, bottom = z[0].lo;
    for (size_t j = 1; j < n; j++) {
        top = fmaxl(top, z[j].hi);
        bottom = fminl(bottom, z[j].lo);
    }
    long double d = top - bottom;
    return 2.0L * m->u * (isnan(d) || d > m->exp_cut ? m->exp_cut : d);
}

/* the core's softmax row: max, n subtractions and exponentials, a sum of n,
 * a division */
static void softmax_forward(const fmodel *m, ivl *a, const ivl *z, size_t n)
{
    long double shift = softmax_shift(m, z, n);
    for (size_t k = 0; k < n; k++)
        a[k] = widen(m, softmax_p(softmax_rest(z, n, k)),
                     gam(m, n + m->k + 2) + shift + (FAST ? m->approx : 0.0L), n + 2);
}

/* dz_j = a_j (da_j - sum_k a_k da_k), in place over da */
static void softmax_backward(const fmodel *m, ivl *da, const ivl *a, size_t n)
{
    acc s = acc_empty;
    for (size_t k = 0; k < n; k++)
        acc_add_product(m, &s, a[k], da[k]);
    ivl sv = acc_close(m, &s, n);
    for (size_t k = 0; k < n; k++)
        da[k] = round_product(m, a[k], widen(m, isub(da[k], sv), m->u, 0));
}

/* ---- the passes ---- */

#if !GA_ENCLOSE_FAST /* one instance of what does not depend on the model */
void ga_enclosure_free(ga_enclosure *e)
{
    if (!e)
        return;
    free(e->buf);
    free(e->z_lo);
    free(e);
}

int ga_enclosure_alloc(ga_enclosure **out, ga_error *err, const ga_net *net, size_t batch)
{
    *out = NULL;
    if (!net || batch == 0)
        return ga_fail(err, GA_EINVAL, "enclosure: no net or zero batch");
    const ga_net_desc *d = &net->desc;
    size_t L = d->n_layers, units = 0, P = net->n_params;
    for (size_t l = 0; l < L; l++)
        units += d->layers[l].n_out;
    if (units > SIZE_MAX / 4 / sizeof(double) / batch || P > SIZE_MAX / 4 / sizeof(double))
        return ga_fail(err, GA_ERANGE, "enclosure: workspace overflows for batch %zu", batch);
    size_t zs = units * batch;
    ga_enclosure *e = calloc(1, sizeof *e);
    if (!e)
        return ga_fail(err, GA_ENOMEM, "enclosure: out of memory");
    /* doubles: grad lo/hi (2P), z and a lo/hi (4 zs); bytes: grad_kink (P), amb and lost (2 zs) */
    size_t doubles = 2 * P + 4 * zs, bytes = P + 2 * zs;
    e->buf = malloc((doubles + (bytes + sizeof(double) - 1) / sizeof(double) + 1) * sizeof(double));
    e->z_lo = malloc(6 * (L ? L : 1) * sizeof(double *));
    if (!e->buf || !e->z_lo) {
        ga_enclosure_free(e);
        return ga_fail(err, GA_ENOMEM, "enclosure: out of memory (%zu parameters)", P);
    }
    e->n_params = P;
    e->batch = batch;
    e->n_layers = L;
    e->z_hi = e->z_lo + L;
    e->a_lo = e->z_hi + L;
    e->a_hi = e->a_lo + L;
    e->amb = (unsigned char **)(e->a_hi + L);
    e->lost = e->amb + L;
    e->grad_lo = e->buf;
    e->grad_hi = e->grad_lo + P;
    double *p = e->grad_hi + P;
    for (size_t l = 0; l < L; l++) {
        e->z_lo[l] = p;
        p += batch * d->layers[l].n_out;
        e->z_hi[l] = p;
        p += batch * d->layers[l].n_out;
        e->a_lo[l] = p;
        p += batch * d->layers[l].n_out;
        e->a_hi[l] = p;
        p += batch * d->layers[l].n_out;
    }
    unsigned char *c = (unsigned char *)p;
    e->grad_kink = c;
    c += P;
    for (size_t l = 0; l < L; l++) {
        e->amb[l] = c;
        c += batch * d->layers[l].n_out;
        e->lost[l] = c;
        c += batch * d->layers[l].n_out;
    }
    *out = e;
    return GA_OK;
}

int ga_enclosure_bytes(size_t *out, const ga_net_desc *d, size_t n_params, size_t batch)
{
    size_t units = 0, maxw = d->n_in, zs, t, n = 0;
    for (size_t l = 0; l < d->n_layers; l++) {
        if (!ga_size_add(&units, units, d->layers[l].n_out))
            return GA_ERANGE;
        if (d->layers[l].n_out > maxw)
            maxw = d->layers[l].n_out;
    }
    size_t bw; /* B maxw */
    int ok = ga_size_mul(&zs, units, batch) && ga_size_mul(&bw, batch, maxw);
    /* ga_enclosure_alloc: 2 P + 4 zs doubles, P + 2 zs bytes */
    ok = ok && ga_size_mul(&t, 2 * sizeof(double) + 1, n_params) && ga_size_add(&n, n, t);
    ok = ok && ga_size_mul(&t, 4 * sizeof(double) + 2, zs) && ga_size_add(&n, n, t);
    /* pass_work: 3 zs + 2 B maxw intervals, 2 B maxw + maxw bytes */
    ok = ok && ga_size_mul(&t, 3 * sizeof(ivl), zs) && ga_size_add(&n, n, t);
    ok = ok && ga_size_mul(&t, 2 * sizeof(ivl) + 2, bw) && ga_size_add(&n, n, t) &&
         ga_size_add(&n, n, maxw);
    /* ga_enclosure_backward_from's flags: P + zs bytes */
    ok = ok && ga_size_add(&n, n, n_params) && ga_size_add(&n, n, zs);
    if (!ok)
        return GA_ERANGE;
    if (!ga_net_desc_is_chain(d)) { /* graph_pass_alloc's intervals, the whole and the tight pass */
        ga_pass_sizes ps;
        int status = ga_desc_pass_sizes(&ps, d, batch);
        if (status)
            return status;
        if (!ga_size_add(&t, ps.n_vals, ps.n_delta) || !ga_size_add(&t, t, n_params + ps.maxw) ||
            !ga_size_mul(&t, t, 2 * sizeof(ivl)) || !ga_size_add(&n, n, t))
            return GA_ERANGE;
    }
    *out = n;
    return GA_OK;
}

#endif

/* double ends rounded outwards */
static double down(long double v)
{
    double d = (double)v;
    return (long double)d > v ? nextafter(d, -INFINITY) : d;
}

static double up(long double v)
{
    double d = (double)v;
    return (long double)d < v ? nextafter(d, INFINITY) : d;
}

static size_t fan_in(const ga_net *net, size_t l)
{
    return l == 0 ? net->desc.n_in : net->desc.layers[l - 1].n_out;
}

/* dL/dz (or dL/da for mse and dot) of the last layer for one sample, before the
 * factor: the loss's formulas as the core evaluates them (ga_loss.c) */
static void loss_delta(const fmodel *m, ivl *g, unsigned char *lost, const ga_loss_desc *ld, const ivl *z,
                       const ivl *a, const double *y, size_t n, int any_formula)
{
    switch (ld->kind) {
    case GA_LOSS_DOT:
        /* dL/da = y, exactly */
        for (size_t k = 0; k < n; k++) {
            g[k] = (ivl){y[k], y[k]};
            lost[k] = 0;
        }
        return;
    case GA_LOSS_BCE:
    case GA_LOSS_BCE_LOGITS:
        /* (1 - y) sigmoid(z) - y sigmoid(-z): 1 - y, two sigmoids, two
         * products and a subtraction */
        for (size_t k = 0; k < n; k++) {
            ivl s = {sigm(z[k].lo), sigm(z[k].hi)}, sm = {sigm(-z[k].hi), sigm(-z[k].lo)};
            ivl t1 = iscale(1.0L - (long double)y[k], s), t2 = iscale(y[k], sm);
            g[k] = isub(t1, t2);
            lost[k] = spread_wide(g[k]);
            long double w = gam(m, m->k + 3) * (mag(t1) + mag(t2)) + 3 * m->eta;
            if (any_formula) /* s(z) - y */
                w += m->k * m->u * (fabsl(1.0L - (long double)y[k]) + fabsl((long double)y[k]));
            g[k] = may_overflow(m, fix((ivl){g[k].lo - w, g[k].hi + w}));
        }
        return;
    case GA_LOSS_SOFTMAX_CE:
    case GA_LOSS_CCE: {
        /* p_k (Y - y_k) - y_k (1 - p_k), Y = sum y; p and 1 - p from the
         * rest r_k without cancellation (the core's r / s for the largest
         * logit) */
        long double sy = 0, say = 0, shift = softmax_shift(m, z, n);
        for (size_t k = 0; k < n; k++) {
            sy += y[k];
            say += fabsl(y[k]);
        }
        for (size_t k = 0; k < n; k++) {
            ivl r = softmax_rest(z, n, k), p = softmax_p(r);
            ivl q = {one_minus_p(r.lo), one_minus_p(r.hi)};
            ivl t1 = iscale(sy - (long double)y[k], p), t2 = iscale(y[k], q);
            g[k] = isub(t1, t2);
            lost[k] = spread_wide(g[k]);
            /* fast: its two divisions (1/s and r/s) within approx */
            long double fa = FAST ? 2 * m->approx : 0.0L;
            long double w = (gam(m, n + m->k + 8) + shift + fa) *
                                (p.hi * (say + fabsl(y[k])) + fabsl(y[k]) * q.hi) +
                            (long double)(n + 4) * m->eta;
            g[k] = may_overflow(m, fix((ivl){g[k].lo - w, g[k].hi + w}));
        }
        return;
    }
    case GA_LOSS_MSE:
    default:
        /* 2 (a - y): one subtraction, an exact doubling */
        for (size_t k = 0; k < n; k++) {
            acc s = acc_empty;
            acc_add(m, &s, a[k]);
            acc_add(m, &s, (ivl){-y[k], -y[k]});
            ivl t = acc_close(m, &s, 1);
            g[k] = (ivl){2 * t.lo, 2 * t.hi};
            lost[k] = 0;
        }
        return;
    }
}

/* The working arrays of a pass: Z, A and f'(Z) per layer, two delta
 * buffers and the deltas' kink flags. */
typedef struct {
    ivl **Z, **A, **DF;
    ivl *D, *Dp;
    unsigned char *kD, *kDp, *loss_lost;
    ivl *work;
    unsigned char *kd;
} pass_work;

static void pass_work_free(pass_work *w)
{
    free(w->work);
    free(w->Z);
    free(w->kd);
}

static int pass_work_alloc(pass_work *w, ga_error *err, const ga_net *net, size_t B)
{
    const ga_net_desc *d = &net->desc;
    size_t L = d->n_layers, maxw = d->n_in, zs = 0;
    for (size_t l = 0; l < L; l++) {
        zs += B * d->layers[l].n_out;
        if (d->layers[l].n_out > maxw)
            maxw = d->layers[l].n_out;
    }
    memset(w, 0, sizeof *w);
    w->work = malloc((3 * zs + 2 * B * maxw) * sizeof *w->work);
    w->Z = malloc(3 * L * sizeof *w->Z);
    w->kd = malloc(2 * B * maxw + maxw);
    if (!w->work || !w->Z || !w->kd) {
        pass_work_free(w);
        return ga_fail(err, GA_ENOMEM, "enclosure: out of memory");
    }
    w->A = w->Z + L, w->DF = w->A + L;
    ivl *p = w->work;
    for (size_t l = 0; l < L; l++) {
        size_t s = B * d->layers[l].n_out;
        w->Z[l] = p, w->A[l] = p + s, w->DF[l] = p + 2 * s;
        p += 3 * s;
    }
    w->D = p, w->Dp = p + B * maxw;
    w->kD = w->kd, w->kDp = w->kd + B * maxw, w->loss_lost = w->kd + 2 * B * maxw;
    return GA_OK;
}

/* The loss's delta and the backward pass over the forward intervals of w:
 * gradient enclosures into glo, ghi (n_params), kink flags into gkink; amb
 * (the layers' kink flags) and lost (may be NULL) as the forward left them;
 * any_formula: dL/dz by the formulas other code uses too (see above). */
/* A pass's progress, told to ga_enclosure.progress (fn NULL: not told). */
typedef struct {
    void (*fn)(void *ctx, const char *stage, size_t done, size_t total);
    void *ctx;
    const char *stage;
    size_t done, total;
} tell;

/* units more done */
static void told(tell *t, size_t units)
{
    if (!t->fn)
        return;
    t->done += units;
    t->fn(t->ctx, t->stage, t->done < t->total ? t->done : t->total, t->total);
}

/* The units of a forward pass (forward 1) or of backward_pass (forward 0):
 * B fan_in fan_out products per layer forward; backward, as many for dW and
 * again for dA of every layer but the first. */
static size_t pass_units(const ga_net *net, size_t B, int forward)
{
    size_t u = 0;
    for (size_t l = 0; l < net->desc.n_layers; l++)
        u += (forward || l == 0 ? 1 : 2) * B * fan_in(net, l) * net->desc.layers[l].n_out;
    return u;
}

static void backward_pass(const fmodel *m, pass_work *w, const ga_net *net, const double *params, const double *x,
                          const double *y, size_t B, unsigned char **amb, unsigned char **lost,
                          double *glo, double *ghi, unsigned char *gkink, int any_formula, tell *t)
{
    const ga_net_desc *d = &net->desc;
    size_t L = d->n_layers;
    ivl **Z = w->Z, **A = w->A, **DF = w->DF, *D = w->D, *Dp = w->Dp;
    unsigned char *kD = w->kD, *kDp = w->kDp, *loss_lost = w->loss_lost;
    /* ---- the loss's delta ---- */
    const ga_loss_desc *ld = &d->loss;
    size_t last = L - 1, no = d->layers[last].n_out;
    long double F = ld->scale;
    size_t f_ops = 0;
    if (ld->reduction == GA_REDUCE_MEAN)
        F = ld->scale / ((long double)B * (long double)no), f_ops = 2;
    else if (ld->reduction == GA_REDUCE_BATCH_MEAN)
        F = ld->scale / (long double)B, f_ops = 1;
    /* the core's factor: two roundings at most (B * n, the division), none
     * when the quotient is a double (a power of two, say) */
    double Fd;
    ivl Fi = point_double(m, &Fd, (ivl){F, F}) ? (ivl){F, F} : widen(m, (ivl){F, F}, gam(m, f_ops), f_ops);
    if (FAST && f_ops) {
        /* fast: scale times a reciprocal of B n (or B), within approx, never
         * taken exact; a chain of scale and that reciprocal (at most 1) */
        Fi = widen(m, (ivl){F, F}, gam(m, f_ops) + m->approx, f_ops);
        SET_CHAIN(Fi, 4.0L * fmaxl(1.0L, fabsl((long double)ld->scale)));
    }
    for (size_t n = 0; n < B; n++) {
        ivl *g = D + n * no;
        const ivl *z = Z[last] + n * no, *a = A[last] + n * no;
        loss_delta(m, g, loss_lost, ld, z, a, y + n * no, no, any_formula);
        for (size_t k = 0; k < no; k++) {
            g[k] = round_product(m, Fi, g[k]);
            if (lost)
                lost[last][n * no + k] |= loss_lost[k];
            kD[n * no + k] = 0;
        }
        if (!ga_loss_fuses_output(ld->kind)) {
            const ga_layer_desc *Ll = &d->layers[last];
            if (Ll->act == GA_ACT_SOFTMAX) {
                softmax_backward(m, g, a, no);
            } else if (Ll->act != GA_ACT_IDENTITY) {
                for (size_t k = 0; k < no; k++) {
                    g[k] = round_product(m, g[k], DF[last][n * no + k]);
                    kD[n * no + k] = amb[last][n * no + k];
                }
            }
        }
    }

    /* ---- backward ---- */
    memset(gkink, 0, net->n_params);
    for (size_t l = L; l-- > 0;) {
        const ga_view *W = &net->views[2 * l], *bv = &net->views[2 * l + 1];
        size_t fi = fan_in(net, l), fo = d->layers[l].n_out;
        int wd = ld->weight_decay != 0.0;
        for (size_t k = 0; k < fo; k++) {
            /* db = sum_n delta[n,k]: B - 1 additions, no products */
            acc sb = acc_empty;
            unsigned char kb = 0;
            for (size_t n = 0; n < B; n++) {
                acc_add(m, &sb, D[n * fo + k]);
                kb |= kD[n * fo + k];
            }
            ivl gb = acc_close(m, &sb, B);
            glo[bv->offset + k] = down(gb.lo);
            ghi[bv->offset + k] = up(gb.hi);
            gkink[bv->offset + k] = kb;
            /* dW(k,j) = sum_n delta[n,k] a_prev[n,j] (+ lambda W(k,j)) */
            for (size_t j = 0; j < fi; j++) {
                size_t wi = ga_weight_index(net, W, k, j);
                acc sw = acc_empty;
                unsigned char kw = 0;
                for (size_t n = 0; n < B; n++) {
                    ivl a = l == 0 ? (ivl){x[n * fi + j], x[n * fi + j]} : A[l - 1][n * fi + j];
                    acc_add_product(m, &sw, D[n * fo + k], a);
                    kw |= kD[n * fo + k] && (a.lo != 0 || a.hi != 0);
                }
                if (wd)
                    acc_add_product(m, &sw, (ivl){ld->weight_decay, ld->weight_decay}, (ivl){params[wi], params[wi]});
                ivl gw = acc_close(m, &sw, B + (wd ? 2 : 0));
                glo[wi] = down(gw.lo);
                ghi[wi] = up(gw.hi);
                gkink[wi] = kw;
            }
            told(t, B * fi);
        }
        if (l == 0)
            break;
        /* dA[n,j] = sum_k delta[n,k] W(k,j), then through layer l-1's activation */
        const ga_layer_desc *Lp = &d->layers[l - 1];
        for (size_t n = 0; n < B; n++) {
            for (size_t j = 0; j < fi; j++) {
                acc s = acc_empty;
                unsigned char kj = 0;
                for (size_t k = 0; k < fo; k++) {
                    double w = params[ga_weight_index(net, W, k, j)];
                    acc_add_product(m, &s, (ivl){w, w}, D[n * fo + k]);
                    kj |= kD[n * fo + k] && w != 0;
                }
                Dp[n * fi + j] = acc_close(m, &s, fo);
                kDp[n * fi + j] = kj;
            }
            ivl *g = Dp + n * fi;
            if (Lp->act == GA_ACT_SOFTMAX) {
                softmax_backward(m, g, A[l - 1] + n * fi, fi);
            } else if (Lp->act != GA_ACT_IDENTITY) {
                for (size_t j = 0; j < fi; j++) {
                    g[j] = round_product(m, g[j], DF[l - 1][n * fi + j]);
                    kDp[n * fi + j] |= amb[l - 1][n * fi + j];
                }
            }
            told(t, fi * fo);
        }
        ivl *t = D;
        D = Dp;
        Dp = t;
        unsigned char *tk = kD;
        kD = kDp;
        kDp = tk;
    }
}

static int enclose_graph(ga_enclosure *e, ga_error *err, const fmodel *m, const ga_net *net,
                         const double *params, const double *x, const double *y, size_t B);
static int enclose_graph_backward(double *glo, double *ghi, ga_error *err, const fmodel *m,
                                  const ga_net *net, const double *params, const double *x,
                                  const double *y, size_t B, const ga_workspace *ws);

int ENTRY(ga_enclosure_compute)(ga_enclosure *e, ga_error *err, const ga_net *net,
                                ga_precision prec, int fast_math, const double *params,
                                const double *x, const double *y, size_t batch)
{
#if !GA_ENCLOSE_FAST
    if (fast_math)
        return ga_enclosure_compute_fast(e, err, net, prec, fast_math, params, x, y, batch);
#endif
    (void)fast_math;
    const fmodel *m = model_of(prec);
    const ga_net_desc *d = &net->desc;
    if (!e || batch != e->batch || e->n_params != net->n_params)
        return ga_fail(err, GA_EINVAL, "enclosure: sized for another net or batch");
    if (!ga_net_desc_is_chain(d)) {
        int ids = ga_net_check_ids(err, d, x, batch);
        return ids ? ids : enclose_graph(e, err, m, net, params, x, y, batch);
    }
    size_t L = d->n_layers, B = batch;
    pass_work w;
    int status = pass_work_alloc(&w, err, net, B);
    if (status)
        return status;
    ivl **Z = w.Z, **A = w.A, **DF = w.DF;
    tell t = {e->progress, e->progress_ctx, "enclosure", 0,
              pass_units(net, B, 1) + pass_units(net, B, 0)};

    /* ---- forward: z = W a + b (a dot product of fan_in terms and a bias) ---- */
    for (size_t l = 0; l < L; l++) {
        const ga_layer_desc *Ld = &d->layers[l];
        const ga_view *W = &net->views[2 * l], *bv = &net->views[2 * l + 1];
        size_t fi = fan_in(net, l), fo = Ld->n_out;
        for (size_t n = 0; n < B; n++) {
            for (size_t k = 0; k < fo; k++) {
                acc s = acc_empty;
                double bk = params[bv->offset + k];
                acc_add(m, &s, (ivl){bk, bk});
                for (size_t j = 0; j < fi; j++) {
                    double w = params[ga_weight_index(net, W, k, j)];
                    ivl a = l == 0 ? (ivl){x[n * fi + j], x[n * fi + j]} : A[l - 1][n * fi + j];
                    acc_add_product(m, &s, (ivl){w, w}, a);
                }
                size_t i = n * fo + k;
                Z[l][i] = acc_close(m, &s, fi + 1);
                e->z_lo[l][i] = down(Z[l][i].lo);
                e->z_hi[l][i] = up(Z[l][i].hi);
                e->amb[l][i] = 0;
                e->lost[l][i] = 0;
            }
            told(&t, fo * fi);
            ivl *z = Z[l] + n * fo, *a = A[l] + n * fo;
            if (Ld->act == GA_ACT_SOFTMAX) {
                softmax_forward(m, a, z, fo);
                for (size_t k = 0; k < fo; k++) {
                    e->a_lo[l][n * fo + k] = down(a[k].lo);
                    e->a_hi[l][n * fo + k] = up(a[k].hi);
                }
                continue;
            }
            for (size_t k = 0; k < fo; k++) {
                int amb;
                a[k] = act_range_any(m, Ld->act, Ld->act_param, z[k]);
                e->a_lo[l][n * fo + k] = down(a[k].lo);
                e->a_hi[l][n * fo + k] = up(a[k].hi);
                DF[l][n * fo + k] = dact_range_any(m, &amb, Ld->act, Ld->act_param, z[k]);
                e->amb[l][n * fo + k] = (unsigned char)amb;
                /* a smooth nonlinearity whose slope varies by more than 2x
                 * over its argument's interval: first-order bounds fail there */
                e->lost[l][n * fo + k] = !amb && spread_wide(DF[l][n * fo + k]);
            }
        }
    }

    backward_pass(m, &w, net, params, x, y, B, e->amb, e->lost, e->grad_lo, e->grad_hi, e->grad_kink,
                  1, &t);
    pass_work_free(&w);
    return GA_OK;
}

int ENTRY(ga_enclosure_backward_from)(double *glo, double *ghi, ga_error *err,
                                      const ga_enclosure *kinks, const ga_net *net,
                                      ga_precision prec, int fast_math, const double *params,
                                      const double *x, const double *y, size_t batch,
                                      const ga_workspace *ws)
{
#if !GA_ENCLOSE_FAST
    if (fast_math)
        return ga_enclosure_backward_from_fast(glo, ghi, err, kinks, net, prec, fast_math, params,
                                               x, y, batch, ws);
#endif
    (void)fast_math;
    const ga_net_desc *d = &net->desc;
    int status;
    if (!ws || ws->batch != batch)
        return ga_fail(err, GA_EINVAL, "enclosure: the workspace holds no forward pass of this batch");
    const fmodel *m = model_of(prec);
    if (!ga_net_desc_is_chain(d))
        return enclose_graph_backward(glo, ghi, err, m, net, params, x, y, batch, ws);
    size_t L = d->n_layers, B = batch, zs = 0;
    for (size_t l = 0; l < L; l++)
        zs += B * d->layers[l].n_out;
    pass_work w;
    status = pass_work_alloc(&w, err, net, B);
    unsigned char *flags = calloc(zs + net->n_params + 1, 1);
    unsigned char **amb = malloc((L ? L : 1) * sizeof *amb);
    if (status || !flags || !amb) {
        free(flags);
        free(amb);
        if (!status)
            pass_work_free(&w);
        return status ? status : ga_fail(err, GA_ENOMEM, "enclosure: out of memory");
    }
    unsigned char *c = flags + net->n_params;
    for (size_t l = 0; l < L; l++) {
        const ga_layer_desc *Ld = &d->layers[l];
        size_t s = B * Ld->n_out;
        amb[l] = c;
        c += s;
        for (size_t i = 0; i < s; i++) {
            /* the double forward pass's own values z, a and f'(z) (its kink
             * branch the one z's sign gave): the exact inputs of its
             * backward pass */
            w.Z[l][i] = (ivl){ws->z[l][i], ws->z[l][i]};
            w.A[l][i] = (ivl){ws->a[l][i], ws->a[l][i]};
            if (Ld->act == GA_ACT_SOFTMAX || Ld->act == GA_ACT_IDENTITY)
                continue;
            w.DF[l][i] = (ivl){ws->dact[l][i], ws->dact[l][i]};
            /* where the whole enclosure puts z at a kink, both branches, as
             * the whole enclosure takes them */
            if (kinks && kinks->amb[l][i]) {
                int a;
                w.DF[l][i] = dact_range(m, &a, Ld->act, Ld->act_param,
                                        (ivl){kinks->z_lo[l][i], kinks->z_hi[l][i]});
                amb[l][i] = 1;
            }
        }
    }
    tell t = {kinks ? kinks->progress : NULL, kinks ? kinks->progress_ctx : NULL, "backward", 0,
              pass_units(net, B, 0)};
    backward_pass(m, &w, net, params, x, y, B, amb, NULL, glo, ghi, flags, 0, &t);
    pass_work_free(&w);
    free(flags);
    free(amb);
    return GA_OK;
}

/* ---- nets that are not a chain: the generic reference in intervals -----
 *
 * Norms and residual adds (ga_ops.h) have no tuned pass here. Their
 * enclosure is the generic reference (core/ga_ref_tmpl.h) compiled for the
 * intervals above: every operation of its formulas on intervals, each
 * rounding taken as |d| <= u (one operation: widen by u |r| + eta; a sum or
 * dot product of n terms: gamma_n sum|terms| in any order, acc_close), the
 * activations, the softmax rows and the loss's gradient by the tuned ranges
 * above (act_range_any, dact_range_any, softmax_forward, loss_delta with
 * every common formula), sqrt as one correctly rounded operation. It holds
 * every value a computation of the reference's formulas in the precision
 * gives, in any summation order; the core's graph pass (ga_backprop.c,
 * backward_graph) computes those formulas in that operation order. A kink
 * straddled anywhere marks every entry (grad_kink): a coarse label, never a
 * wider enclosure. */
#undef REF_T
#undef REF_CTX
#undef REF_FN
#undef A_INIT
#undef A_CLEAR
#undef A_SET_D
#undef A_SET
#undef A_ADD
#undef A_SUB
#undef A_MUL
#undef A_DIV
#undef A_MUL_D
#undef A_D_ADD
#undef A_NEG
#undef A_ABS
#undef A_EXP
#undef A_EXPM1
#undef A_TANH
#undef A_ERFC
#undef A_SQRT
#undef A_CONST_PI
#undef A_DIV_D
#undef A_D_DIV
#undef A_SIGMOID
#undef A_SOFTPLUS
#undef A_CMP
#undef A_ACT_VALUE
#undef A_ACT_DERIV

typedef struct {
    const fmodel *m;
    int amb;              /* some f' straddled a kink */
    ivl *lrow;            /* (maxw) the loss gradient's row */
    unsigned char *lost;  /* (maxw) */
} gctx;

typedef struct {
    acc sum;
    size_t terms;
} gacc;

/* a + b rounded once: within u |a + b| of the exact sum (and exact where
 * acc_close proves it); both enclosures hold, so their intersection does */
static ivl g_sum(const fmodel *m, ivl a, ivl b)
{
    acc s = acc_empty;
    acc_add(m, &s, a);
    acc_add(m, &s, b);
    ivl r = acc_close(m, &s, 1);
    if (r.lo == r.hi)
        return r;
    /* fast: each operand read as 0, the sum flushed (acc_close's 2 n + 1) */
    ivl t = widen(m, fix((ivl){a.lo + b.lo, a.hi + b.hi}), m->u, FAST ? 3 : 0);
    return (ivl){fmaxl(r.lo, t.lo), fminl(r.hi, t.hi)};
}


/* a / b; fast: a times the reciprocal (a factor of a's chain), a divisor
 * below min may be read as 0. A constant of the net (d, A_DIV_D: a count, a
 * scale) has its reciprocal computed once, correctly rounded, outside the
 * loops (-freciprocal-math's loop-invariant motion): two roundings, one
 * where 1/d is a power of two, none for d = 1 or -1; a computed divisor may
 * be an approximate reciprocal refined by Newton's method (rcpps): `approx`. */
static ivl g_div(const fmodel *m, ivl a, ivl b, int constant)
{
    if ((b.lo <= 0 && b.hi >= 0) || (FAST && b.lo < m->min && b.hi > -m->min))
        return whole_line;
    ivl q = {1.0L / b.hi, 1.0L / b.lo};
    if (!FAST)
        return widen(m, imul(a, q), m->u, 1);
    if (constant && is_unit(b))
        return b.lo > 0 ? a : g_neg(a);
    long double rel = m->approx;
    if (constant) {
        int e;
        rel = frexpl(fabsl(b.lo), &e) == 0.5L ? m->u : gam(m, 2);
    }
    return fast_product(m, imul(a, q), chain_of(a), chain_of(q), rel);
}

/* fast: within `approx` (x rsqrt(x) refined), an argument below min read as 0 */
static ivl g_sqrt(const fmodel *m, ivl a)
{
    ivl r = widen(m, (ivl){sqrtl(fmaxl(a.lo, 0.0L)), sqrtl(fmaxl(a.hi, 0.0L))}, m->approx, 0);
    if (FAST && a.lo < m->min)
        r.lo = fminl(r.lo, 0.0L);
    return r;
}

/* a monotone libm function (dir +1 rising, -1 falling) under the evaluation
 * model of the generic activations: f(z (1 + d1)) (1 + d2) + e */
static ivl g_mono(const fmodel *m, long double (*f)(long double), int dir, ivl z)
{
    ivl w = generic_arg(m, z), r = dir > 0 ? (ivl){f(w.lo), f(w.hi)} : (ivl){f(w.hi), f(w.lo)};
    return generic_abs(m, widen(m, fix(r), m->k * m->u, 0), z);
}

static long double g_sigm(long double z) { return sigm(z); }
static long double g_softplus(long double z) { return ld_softplus(z); }

static void g_loss_dz(gctx *c, ivl *dz, ga_loss_kind kind, ivl *z, ivl *a, const double *y, size_t n,
                      ivl *factor)
{
    ga_loss_desc ld = {.kind = kind};
    loss_delta(c->m, c->lrow, c->lost, &ld, z, a, y, n, 1);
    for (size_t k = 0; k < n; k++)
        dz[k] = round_product(c->m, *factor, c->lrow[k]);
}

/* A max pool's window of intervals: the entries that can be its largest
 * (hi >= the largest lo; fast: hi + min, numbers below min compared as 0) */
static long double g_win_floor(ivl **win, size_t m)
{
    long double f = win[0]->lo;
    for (size_t k = 1; k < m; k++)
        f = fmaxl(f, win[k]->lo);
    return f;
}

/* the window's max: over the box, between the largest lo and the largest hi
 * (fast: any entry within min of it) */
static ivl g_maxpool_value(const fmodel *fm, ivl **win, size_t m)
{
    ivl r = *win[0];
    for (size_t k = 1; k < m; k++) {
        r.lo = fmaxl(r.lo, win[k]->lo);
        r.hi = fmaxl(r.hi, win[k]->hi);
    }
    return FAST ? widen_eta(fm, r, 1.0L) : r;
}

/* entry k's share of dout: all of it when it alone can be the largest, none
 * when it cannot be; where several can (a tie, or an order the intervals do
 * not settle) any of them may take it: the hull of 0 and dout, a kink */
static ivl g_maxpool_share(gctx *c, ivl **win, size_t m, size_t k, ivl dout)
{
    long double f = g_win_floor(win, m), slack = FAST ? c->m->min : 0.0L;
    if (win[k]->hi + slack < f)
        return (ivl){0, 0};
    size_t cands = 0;
    for (size_t j = 0; j < m; j++)
        cands += win[j]->hi + slack >= f;
    if (cands == 1)
        return dout;
    c->amb = 1;
    return (ivl){fminl(0.0L, dout.lo), fmaxl(0.0L, dout.hi)};
}

/* a softmax row by the tuned ranges (softmax_forward); out may be in (an
 * attention's scores become its weights in place): in is copied first */
static void g_softmax_row(gctx *c, ivl *out, const ivl *in, size_t n)
{
    memmove(c->lrow, in, n * sizeof *in);
    softmax_forward(c->m, out, c->lrow, n);
}

static ivl g_dact(gctx *c, ga_activation a, double p, ivl z)
{
    int amb = 0;
    ivl r = dact_range_any(c->m, &amb, a, p, z);
    c->amb |= amb;
    return r;
}

#define REF_T ivl
#define REF_CTX gctx
#define REF_FN(name) encl_##name
#define A_INIT(c, r) ((void)(c), (void)(r))
#define A_CLEAR(c, r) ((void)(c), (void)(r))
#define A_SET_D(c, r, d) (*(r) = (ivl){(d), (d)})
#define A_SET(c, r, a) (*(r) = *(a))
#define A_ADD(c, r, a, b) (*(r) = g_sum((c)->m, *(a), *(b)))
#define A_SUB(c, r, a, b) (*(r) = g_sum((c)->m, *(a), g_neg(*(b))))
#define A_MUL(c, r, a, b) (*(r) = round_product((c)->m, *(a), *(b)))
#define A_DIV(c, r, a, b) (*(r) = g_div((c)->m, *(a), *(b), 0))
#define A_ADD_D(c, r, a, d) (*(r) = g_sum((c)->m, *(a), (ivl){(d), (d)}))
#define A_SUB_D(c, r, a, d) (*(r) = g_sum((c)->m, *(a), (ivl){-(d), -(d)}))
#define A_MUL_D(c, r, a, d) (*(r) = round_product((c)->m, *(a), (ivl){(d), (d)}))
#define A_DIV_D(c, r, a, d) (*(r) = g_div((c)->m, *(a), (ivl){(d), (d)}, 1))
#define A_D_ADD(c, r, d, a) (*(r) = g_sum((c)->m, (ivl){(d), (d)}, *(a)))
#define A_D_SUB(c, r, d, a) (*(r) = g_sum((c)->m, (ivl){(d), (d)}, g_neg(*(a))))
#define A_D_DIV(c, r, d, a) (*(r) = g_div((c)->m, (ivl){(d), (d)}, *(a), 0))
#define A_NEG(c, r, a) (*(r) = g_neg(*(a)))
#define A_ABS(c, r, a) (*(r) = (a)->lo >= 0 ? *(a) : (a)->hi <= 0 ? g_neg(*(a)) : (ivl){0, mag(*(a))})
#define A_SCALE_D(c, r, a, d) (*(r) = iscale((d), *(a)))
#define A_SQRT(c, r, a) (*(r) = g_sqrt((c)->m, *(a)))
#define A_EXP(c, r, a) (*(r) = g_mono((c)->m, expl, 1, *(a)))
#define A_EXPM1(c, r, a) (*(r) = g_mono((c)->m, expm1l, 1, *(a)))
#define A_LOG1P(c, r, a) (*(r) = g_mono((c)->m, log1pl, 1, *(a)))
#define A_TANH(c, r, a) (*(r) = g_mono((c)->m, tanhl, 1, *(a)))
#define A_ERFC(c, r, a) (*(r) = g_mono((c)->m, erfcl, -1, *(a)))
#define A_SIGMOID(c, r, a) (*(r) = g_mono((c)->m, g_sigm, 1, *(a)))
#define A_SOFTPLUS(c, r, a) (*(r) = g_mono((c)->m, g_softplus, 1, *(a)))
#define A_CONST_PI(c, r) (*(r) = widen((c)->m, (ivl){3.14159265358979323846264338327950288L, 3.14159265358979323846264338327950288L}, (c)->m->u, 0))
/* the midpoints' order: a pivot (any answer gives the same exact value) */
#define A_CMP(c, a, b) (((a)->lo + (a)->hi > (b)->lo + (b)->hi) - ((a)->lo + (a)->hi < (b)->lo + (b)->hi))
#define A_IS_ZERO_D(d) ((d) == 0.0)
#define A_DOT_T gacc
#define A_DOT_BEGIN(c, s) (*(s) = (gacc){acc_empty, 0})
#define A_DOT_ADD_VD(c, s, a, d) (acc_add_product((c)->m, &(s)->sum, *(a), (ivl){(d), (d)}), (s)->terms++)
#define A_DOT_ADD_VV(c, s, a, b) (acc_add_product((c)->m, &(s)->sum, *(a), *(b)), (s)->terms++)
#define A_DOT_ADD_V(c, s, a) (acc_add((c)->m, &(s)->sum, *(a)), (s)->terms++)
#define A_DOT_END(c, r, s) (*(r) = acc_close((c)->m, &(s)->sum, (s)->terms))
/* the bias one term of the sum: every order, the bias first included */
#define A_DOT_END_ADD_D(c, r, t, s, d)                                                          \
    (acc_add((c)->m, &(s)->sum, (ivl){(d), (d)}), (s)->terms++, A_DOT_END(c, r, s))
#define A_ACT_VALUE(c, r, act, param, z) (*(r) = act_range_any((c)->m, act, param, *(z)))
#define A_ACT_DERIV(c, r, act, param, z) (*(r) = g_dact(c, act, param, *(z)))
#define A_LOSS_DZ(c, dz, kind, z, a, y, n, factor) g_loss_dz(c, dz, kind, z, a, y, n, factor)
#define A_SOFTMAX_ROW(c, out, in, n) g_softmax_row(c, out, in, n)
#define A_MAXPOOL_VALUE(c, r, win, m) (*(r) = g_maxpool_value((c)->m, win, m))
#define A_MAXPOOL_SHARE(c, r, win, m, k, dout) (*(r) = g_maxpool_share(c, win, m, k, *(dout)))
#include "ga_ref_tmpl.h"

/* The intervals of a graph's passes: its values (val), their gradients
 * (dval) and the parameters' (grad), one allocation; c the arithmetic's
 * context (its rows of scratch after grad). */
typedef struct {
    ga_graph *g;
    ga_pass_sizes ps;
    ivl *buf, **val, *dval, *grad;
    unsigned char *lost;
    gctx c;
} graph_pass;

static void graph_pass_free(graph_pass *gp)
{
    free(gp->buf);
    free(gp->val);
    free(gp->lost);
    ga_graph_free(gp->g);
}

static int graph_pass_alloc(graph_pass *gp, ga_error *err, const fmodel *m, const ga_net *net,
                            size_t B)
{
    memset(gp, 0, sizeof *gp);
    int status = ga_graph_from_net(&gp->g, err, net);
    if (status)
        return status;
    size_t n_all, P = net->n_params;
    if (ga_graph_pass_sizes(&gp->ps, gp->g, B) && ga_size_add(&n_all, gp->ps.n_vals, gp->ps.n_delta) &&
        ga_size_add(&n_all, n_all, P + gp->ps.maxw) && n_all <= SIZE_MAX / sizeof(ivl)) {
        gp->buf = malloc(n_all * sizeof *gp->buf);
        gp->val = malloc(gp->g->n_values * sizeof *gp->val);
        gp->lost = malloc(gp->ps.maxw);
    }
    if (!gp->buf || !gp->val || !gp->lost) {
        graph_pass_free(gp);
        return ga_fail(err, GA_ENOMEM, "enclosure: out of memory for the graph's intervals");
    }
    GA_GRAPH_PLACE_VALUES(gp->val, gp->buf, gp->g, B);
    gp->dval = gp->buf + gp->ps.n_vals;
    gp->grad = gp->dval + gp->ps.n_delta;
    gp->c = (gctx){m, 0, gp->grad + P, gp->lost};
    return GA_OK;
}

/* The enclosure of a net that is not a chain: e's gradient ranges from the
 * generic reference's passes in intervals; its z and a ranges per layer (a
 * dense layer's z and a, a norm's xh and output, an add's output twice) and
 * the kink flags of dense layers' units. */
static int enclose_graph(ga_enclosure *e, ga_error *err, const fmodel *m, const ga_net *net,
                         const double *params, const double *x, const double *y, size_t B)
{
    graph_pass gp;
    int status = graph_pass_alloc(&gp, err, m, net, B);
    if (status)
        return status;
    ga_graph *g = gp.g;
    ivl **val = gp.val, *dval = gp.dval, *grad = gp.grad;
    gctx c = gp.c;
    size_t P = net->n_params;
    for (size_t i = 0; i < B * net->desc.n_in; i++)
        val[0][i] = (ivl){x[i], x[i]};
    ivl loss;
    encl_forward(&c, &loss, val, g, net, params, x, y, B);
    for (size_t st = 0; st < g->n_stages; st++) {
        size_t i0 = g->stage_op[st], i1 = g->stage_op[st + 1], n = B * g->width[g->ops[i0].output];
        const ga_op *first = &g->ops[i0], *lastop = &g->ops[i1 - 1];
        /* an rnn's z is its second output (the pre-activations), its a the states */
        const ivl *zv = val[first->kind == GA_OP_RNN ? first->output2 : first->output];
        const ivl *av = val[lastop->output];
        for (size_t i = 0; i < n; i++) {
            e->z_lo[st][i] = down(zv[i].lo);
            e->z_hi[st][i] = up(zv[i].hi);
            e->a_lo[st][i] = down(av[i].lo);
            e->a_hi[st][i] = up(av[i].hi);
            int amb = 0;
            if (lastop->kind == GA_OP_ACT || lastop->kind == GA_OP_RNN)
                (void)dact_range_any(m, &amb, lastop->act, lastop->act_param, zv[i]);
            e->amb[st][i] = (unsigned char)amb;
            e->lost[st][i] = 0;
        }
        if (first->kind == GA_OP_MAXPOOL) { /* a window whose largest entry is not unique */
            const ga_geom *gm = &first->geom;
            size_t wi = gm->c * gm->h * gm->w;
            for (size_t s = 0; s < B; s++)
                for (size_t ci = 0; ci < gm->c; ci++)
                    for (size_t i = 0; i < gm->ho; i++)
                        for (size_t j = 0; j < gm->wo; j++) {
                            const ivl *xr = val[first->input[0]] + s * wi;
                            long double f = -(long double)INFINITY;
                            for (size_t u = 0; u < gm->kh; u++)
                                for (size_t v = 0; v < gm->kw; v++)
                                    f = fmaxl(f, xr[(ci * gm->h + i * gm->sh + u) * gm->w + j * gm->sw + v].lo);
                            size_t cands = 0;
                            long double slack = FAST ? m->min : 0.0L; /* g_maxpool_share */
                            for (size_t u = 0; u < gm->kh; u++)
                                for (size_t v = 0; v < gm->kw; v++)
                                    cands += xr[(ci * gm->h + i * gm->sh + u) * gm->w + j * gm->sw + v].hi +
                                                 slack >= f;
                            e->amb[st][s * gm->c * gm->ho * gm->wo + (ci * gm->ho + i) * gm->wo + j] =
                                cands > 1;
                        }
        }
    }
    encl_backward(&c, grad, val, dval, dval, g, net, params, x, y, B, NULL);
    for (size_t i = 0; i < P; i++) {
        e->grad_lo[i] = down(grad[i].lo);
        e->grad_hi[i] = up(grad[i].hi);
        e->grad_kink[i] = (unsigned char)c.amb;
    }
    graph_pass_free(&gp);
    return GA_OK;
}

/* The enclosure of a graph's backward pass alone (ga_enclosure_backward_from
 * for nets that are not a chain): the generic reference's backward pass in
 * intervals started from the code's own forward values as points, taken from
 * ws as the core keeps them (a dense or conv op's z and its activation's a,
 * a norm's xh in z and r in dact, an rnn's z and states, every other layer's
 * output in a); an attention's weights as the core computes them
 * (ga_attention_weights). */
static int enclose_graph_backward(double *glo, double *ghi, ga_error *err, const fmodel *m,
                                  const ga_net *net, const double *params, const double *x,
                                  const double *y, size_t B, const ga_workspace *ws)
{
    graph_pass gp;
    int status = graph_pass_alloc(&gp, err, m, net, B);
    if (status)
        return status;
    double *prow = malloc(gp.ps.maxw * sizeof *prow); /* an attention row's weights */
    if (!prow) {
        graph_pass_free(&gp);
        return ga_fail(err, GA_ENOMEM, "enclosure: out of memory for the graph's intervals");
    }
    ga_graph *g = gp.g;
    ivl **val = gp.val, *dval = gp.dval, *grad = gp.grad;
    gctx c = gp.c;
    size_t P = net->n_params;
#define PT(dst, v) ((dst) = (ivl){(v), (v)})
    for (size_t i = 0; i < B * net->desc.n_in; i++)
        PT(val[0][i], x[i]);
    for (size_t i = 0; i < g->n_ops; i++) {
        const ga_op *op = &g->ops[i];
        if (op->output == GA_OP_NONE)
            continue;
        size_t st = op->stage, n = B * g->width[op->output];
        const ga_layer_desc *L = &net->desc.layers[st];
        int in_z = op->kind == GA_OP_DENSE || op->kind == GA_OP_CONV ||
                   op->kind == GA_OP_LAYERNORM || op->kind == GA_OP_RMSNORM ||
                   op->kind == GA_OP_BATCHNORM;
        const double *src = in_z ? ws->z[st] : ws->a[st];
        for (size_t e = 0; e < n; e++)
            PT(val[op->output][e], src[e]);
        if (op->output2 == GA_OP_NONE)
            continue;
        ivl *o2 = val[op->output2];
        if (op->kind == GA_OP_RNN) {
            for (size_t e = 0; e < n; e++)
                PT(o2[e], ws->z[st][e]);
        } else if (op->kind == GA_OP_BATCHNORM) {
            for (size_t e = 0; e < n; e++)
                PT(o2[e], ws->dact[st][e]);
        } else if (op->kind == GA_OP_LAYERNORM || op->kind == GA_OP_RMSNORM) {
            size_t T = op->tokens, dw = g->width[op->output] / T; /* r of each token's row */
            for (size_t e = 0; e < B * T; e++)
                PT(o2[e], ws->dact[st][e * dw]);
        } else if (op->kind == GA_OP_ATTN) {
            /* the weights as the code computed them: the double core's, or
             * the float32 core's (a float32 forward pass in ws is its) */
            size_t T = op->tokens, H = op->heads, d = g->width[op->output] / T;
            const double *in = op->input[0] == 0 ? x : ws->a[st - 1];
            for (size_t s = 0; s < B; s++) {
                if (m->prec == GA_PREC_FLOAT32) {
                    if (ga_attention_weights_f32(prow, in + s * T * 3 * d, L, d) != GA_OK) {
                        status = ga_fail(err, GA_ENOMEM, "enclosure: out of memory");
                        break;
                    }
                    for (size_t e = 0; e < H * T * T; e++)
                        PT(o2[s * H * T * T + e], prow[e]);
                    continue;
                }
                ga_attention_weights(prow, in + s * T * 3 * d, L, d, net->kernel);
                for (size_t e = 0; e < H * T * T; e++)
                    PT(o2[s * H * T * T + e], prow[e]);
            }
            if (status)
                break;
        }
    }
#undef PT
    if (status) {
        free(prow);
        graph_pass_free(&gp);
        return status;
    }
    encl_backward(&c, grad, val, dval, dval, g, net, params, x, y, B, NULL);
    for (size_t i = 0; i < P; i++) {
        glo[i] = down(grad[i].lo);
        ghi[i] = up(grad[i].hi);
    }
    free(prow);
    graph_pass_free(&gp);
    return GA_OK;
}
