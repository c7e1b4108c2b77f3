/* ga_scan.c: one configuration of a gradient scan in the log domain (see ga_scan.h). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_math.h> /* M_LN2, M_LN10 (not in strict C11) */
#include <mpfr.h>

#include "ga_meanfield.h"
#include "ga_random.h"
#include "ga_scan.h"

/* Beyond 2^SAFE_EXP the asymptotic forms of the activations are exact in double. */
#define SAFE_EXP 600L

/* ---- ga_xreal ------------------------------------------------------------ */
ga_xreal ga_xreal_from(double m, long e)
{
    ga_xreal r = {m, 0};
    if (m == 0.0 || !isfinite(m))
        return r;
    int k;
    r.m = frexp(m, &k);
    r.e = e + k;
    return r;
}

ga_xreal ga_xreal_mul(ga_xreal a, ga_xreal b)
{
    return ga_xreal_from(a.m * b.m, a.e + b.e);
}

ga_xreal ga_xreal_div(ga_xreal a, ga_xreal b)
{
    return ga_xreal_from(a.m / b.m, a.e - b.e);
}

static double pow2(long k) /* 2^k for k in [-1074, 1023], else 0 or Inf */
{
    if (k < -1074)
        return 0.0;
    if (k > 1023)
        return INFINITY;
    return ldexp(1.0, (int)k);
}

ga_xreal ga_xreal_add(ga_xreal a, ga_xreal b)
{
    if (a.m == 0.0 || !isfinite(b.m))
        return b.m == 0.0 && isfinite(a.m) ? a : (a.m == 0.0 ? b : ga_xreal_from(a.m + b.m, 0));
    if (b.m == 0.0 || !isfinite(a.m))
        return isfinite(a.m) ? a : ga_xreal_from(a.m + b.m, 0);
    long e = a.e > b.e ? a.e : b.e;
    return ga_xreal_from(a.m * pow2(a.e - e) + b.m * pow2(b.e - e), e);
}

ga_xreal ga_xreal_sqrt(ga_xreal a)
{
    if (a.m == 0.0 || !isfinite(a.m) || a.m < 0.0)
        return ga_xreal_from(sqrt(a.m), 0);
    double m = a.m;
    long e = a.e;
    if (e % 2 != 0) { /* make e even: m * 2^e = (2m) * 2^(e-1) */
        m *= 2.0;
        e -= 1;
    }
    return ga_xreal_from(sqrt(m), e / 2);
}

double ga_xreal_log10(ga_xreal a)
{
    if (isnan(a.m))
        return NAN;
    if (a.m == 0.0)
        return -INFINITY;
    if (isinf(a.m))
        return INFINITY;
    return log10(fabs(a.m)) + (double)a.e * M_LN2 / M_LN10;
}

double ga_xreal_to_double(ga_xreal a)
{
    if (a.m == 0.0 || !isfinite(a.m))
        return a.m;
    if (a.e > 1024)
        return copysign(INFINITY, a.m);
    if (a.e < -1100)
        return copysign(0.0, a.m);
    return ldexp(a.m, (int)a.e);
}

int ga_xreal_format(char *buf, size_t size, ga_xreal a)
{
    int n;
    if (isnan(a.m))
        n = snprintf(buf, size, "nan");
    else if (isinf(a.m))
        n = snprintf(buf, size, a.m > 0 ? "inf" : "-inf");
    else if (a.m == 0.0 || (a.e >= -1020 && a.e <= 1023))
        n = snprintf(buf, size, "%.17g", ga_xreal_to_double(a));
    else {
        mpfr_t t;
        mpfr_init2(t, 64);
        mpfr_set_d(t, a.m, MPFR_RNDN); /* exact: 53 bits into 64 */
        mpfr_mul_2si(t, t, a.e, MPFR_RNDN); /* exact: MPFR's exponent range is wide */
        n = mpfr_snprintf(buf, size, "%.17Rg", t);
        mpfr_clear(t);
    }
    return (n < 0 || (size_t)n >= size) ? -1 : n;
}

/* ---- init axis ----------------------------------------------------------- */
const char *ga_scan_init_name(int init)
{
    if (init == GA_SCAN_INIT_NORMAL)
        return "normal";
    if (init >= 0 && init < GA_INIT_COUNT)
        return ga_init_scheme_name((ga_init_scheme)init);
    return "?";
}

int ga_scan_init_from_name(int *out, const char *name)
{
    if (!strcmp(name, "normal")) {
        *out = GA_SCAN_INIT_NORMAL;
        return GA_OK;
    }
    ga_init_scheme s;
    if (ga_init_scheme_from_name(&s, name) != GA_OK || !ga_init_scheme_draws(s))
        return GA_EINVAL;
    *out = (int)s;
    return GA_OK;
}

int ga_scan_init_uses_sigma_w2(int init)
{
    return init == GA_SCAN_INIT_NORMAL || init == GA_INIT_ORTHOGONAL;
}

double ga_scan_sigma_w2(int init, size_t width, double given)
{
    double n = (double)width;
    switch (init) {
    case GA_INIT_RANDN: return n;             /* Var 1 */
    case GA_INIT_RAND: return n / 3.0;        /* E[u^2] = 1/3 (mean 1/2: no theory) */
    case GA_INIT_UNIFORM: return 1.0 / 3.0;   /* U(+-1/sqrt(fan_in)) */
    case GA_INIT_XAVIER_NORMAL:
    case GA_INIT_XAVIER_UNIFORM: return 2.0 * n / (n + n);
    case GA_INIT_HE:
    case GA_INIT_HE_UNIFORM: return 2.0;
    case GA_INIT_LECUN: return 1.0;
    default: return given; /* normal, orthogonal */
    }
}

int ga_scan_has_theory(ga_activation act, int init)
{
    return act != GA_ACT_SOFTMAX && !ga_activation_is_generic(act) && init != GA_INIT_RAND;
}

/* ---- memory -------------------------------------------------------------- */
void ga_scan_memory(double *min_bytes, double *stored_bytes, const ga_scan_config *cfg)
{
    double L = (double)cfg->depth, N = (double)cfg->width, B = (double)cfg->batch;
    double base = 8.0 * (L * B * N        /* h mantissas, every layer */
                         + 6.0 * B * N    /* x0, y, x, xprev, g, delta */
                         + 2.0 * N * N    /* dW and one weight matrix */
                         + N)             /* bias */
                  + L * (sizeof(ga_scan_layer) + 2.0 * sizeof(long));
    *min_bytes = base + L * (double)sizeof(ga_rng);
    *stored_bytes = base + 8.0 * L * N * N;
}

int ga_scan_config_check(ga_error *err, const ga_scan_config *c, size_t memory_cap)
{
    /* the scans' extended-range pass has its own formula per activation
     * (written for exponents beyond double's range, not the generic one) */
    if ((int)c->act < 0 || c->act >= GA_ACT_COUNT || c->act == GA_ACT_SOFTMAX ||
        ga_activation_is_generic(c->act))
        return ga_fail(err, GA_EINVAL, "activation must be one of the scans' elementwise ones "
                                       "(identity, sigmoid, tanh, relu, leaky_relu, elu, softplus)");
    if (!isfinite(c->act_param))
        return ga_fail(err, GA_EINVAL, "activation parameter is not finite");
    if (!(c->init == GA_SCAN_INIT_NORMAL ||
          (c->init >= 0 && c->init < GA_INIT_COUNT && ga_init_scheme_draws((ga_init_scheme)c->init))))
        return ga_fail(err, GA_EINVAL, "unknown init scheme");
    if (c->depth < 1 || c->depth > GA_MAX_LAYERS)
        return ga_fail(err, GA_EINVAL, "depth %zu is outside 1..%d", c->depth, GA_MAX_LAYERS);
    if (c->width < 1 || c->width > GA_MAX_WIDTH)
        return ga_fail(err, GA_EINVAL, "width %zu is outside 1..%zu", c->width, GA_MAX_WIDTH);
    if (c->batch < 1 || c->batch > GA_MAX_WIDTH)
        return ga_fail(err, GA_EINVAL, "batch %zu is outside 1..%zu", c->batch, GA_MAX_WIDTH);
    if (!isfinite(c->sigma_w2) || c->sigma_w2 < 0.0)
        return ga_fail(err, GA_EINVAL, "sigma_w2 %g must be finite and >= 0", c->sigma_w2);
    if (!isfinite(c->sigma_b2) || c->sigma_b2 < 0.0)
        return ga_fail(err, GA_EINVAL, "sigma_b2 %g must be finite and >= 0", c->sigma_b2);
    double need, stored;
    ga_scan_memory(&need, &stored, c);
    if (need > (double)memory_cap)
        return ga_fail(err, GA_ENOMEM,
                       "depth %zu x width %zu x batch %zu needs %.3g bytes, over the memory cap "
                       "of %zu bytes", c->depth, c->width, c->batch, need, memory_cap);
    return GA_OK;
}

/* ---- mantissa arrays ------------------------------------------------------ */
/* Exponent k with max |v| = m 2^k, 1/2 <= m < 1; LONG_MIN when all zero.
 * Sets *bad when a NaN or Inf is present. */
static long max_exp(const double *v, size_t n, int *bad)
{
    double mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(v[i]);
        if (!(a <= DBL_MAX))
            *bad = 1;
        else if (a > mx)
            mx = a;
    }
    if (mx == 0.0)
        return LONG_MIN;
    int k;
    frexp(mx, &k);
    return k;
}

/* v *= 2^k, one rounding per element. */
static void scale_pow2(double *v, size_t n, long k)
{
    if (k == 0)
        return;
    if (k >= -1000 && k <= 1000) {
        double f = ldexp(1.0, (int)k);
        for (size_t i = 0; i < n; i++)
            v[i] *= f;
    } else {
        int kk = k < -3000 ? -3000 : (k > 3000 ? 3000 : (int)k);
        for (size_t i = 0; i < n; i++)
            v[i] = ldexp(v[i], kk);
    }
}

/* Rescales v to max |v| in [1/2, 1), adding the shift to *e. */
static void renorm(double *v, size_t n, long *e, int *bad)
{
    long k = max_exp(v, n, bad);
    if (k == LONG_MIN || *bad)
        return;
    scale_pow2(v, n, -k);
    *e += k;
}

/* ||v||_2 * 2^e without overflow or underflow. */
static ga_xreal norm_x(const double *v, size_t n, long e)
{
    double mx = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(v[i]) > mx || isnan(v[i]))
            mx = isnan(v[i]) ? NAN : fabs(v[i]);
    if (mx == 0.0 || !isfinite(mx))
        return ga_xreal_from(mx, 0);
    int k;
    frexp(mx, &k);
    double f = ldexp(1.0, -k), s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = v[i] * f;
        s += t * t;
    }
    return ga_xreal_from(sqrt(s), e + k);
}

static long clamp_exp(long e)
{
    return e < -3000 ? -3000 : (e > 3000 ? 3000 : e);
}

static double sigm(double x) /* 1/(1+exp(-x)) */
{
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

/* x = phi(2^eh hh) as mantissas xh with exponent *ex (then renormalised). */
static void act_forward(double *xh, long *ex, int *bad, const double *hh, long eh, size_t n,
                        ga_activation act, double p)
{
    int kk = (int)clamp_exp(eh);
    switch (act) {
    case GA_ACT_IDENTITY: /* homogeneous: phi(2^e h) = 2^e phi(h) */
        memcpy(xh, hh, n * sizeof *xh);
        *ex = eh;
        break;
    case GA_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            xh[i] = hh[i] > 0 ? hh[i] : 0.0;
        *ex = eh;
        break;
    case GA_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            xh[i] = hh[i] > 0 ? hh[i] : p * hh[i];
        *ex = eh;
        break;
    case GA_ACT_TANH:
        if (eh < -SAFE_EXP) { /* tanh z = z (1 - z^2/3 + ...) */
            memcpy(xh, hh, n * sizeof *xh);
            *ex = eh;
        } else {
            for (size_t i = 0; i < n; i++)
                xh[i] = tanh(ldexp(hh[i], kk));
            *ex = 0;
        }
        break;
    case GA_ACT_SIGMOID: /* 1/2 + z/4 - ...: 1/2 to double precision below 2^-600 */
        for (size_t i = 0; i < n; i++)
            xh[i] = sigm(ldexp(hh[i], kk));
        *ex = 0;
        break;
    case GA_ACT_ELU: /* z for z > 0, alpha (e^z - 1) else */
        if (eh < -SAFE_EXP) {
            for (size_t i = 0; i < n; i++)
                xh[i] = hh[i] > 0 ? hh[i] : p * hh[i];
            *ex = eh;
        } else if (eh > SAFE_EXP) {
            for (size_t i = 0; i < n; i++)
                xh[i] = hh[i] > 0 ? hh[i] : ldexp(p * expm1(ldexp(hh[i], kk)), -kk);
            *ex = eh;
        } else {
            for (size_t i = 0; i < n; i++) {
                double z = ldexp(hh[i], kk);
                xh[i] = z > 0 ? z : p * expm1(z);
            }
            *ex = 0;
        }
        break;
    case GA_ACT_SOFTPLUS: /* log(1 + e^z) */
        if (eh < -SAFE_EXP) {
            for (size_t i = 0; i < n; i++)
                xh[i] = M_LN2;
            *ex = 0;
        } else if (eh > SAFE_EXP) {
            for (size_t i = 0; i < n; i++) {
                double z = ldexp(hh[i], kk);
                xh[i] = hh[i] > 0 ? hh[i] + ldexp(log1p(exp(-z)), -kk) : ldexp(log1p(exp(z)), -kk);
            }
            *ex = eh;
        } else {
            for (size_t i = 0; i < n; i++) {
                double z = ldexp(hh[i], kk);
                xh[i] = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
            }
            *ex = 0;
        }
        break;
    default:
        for (size_t i = 0; i < n; i++)
            xh[i] = NAN;
        *ex = 0;
    }
    renorm(xh, n, ex, bad);
}

/* phi'(2^eh hh) */
static double act_deriv(double hh, long eh, ga_activation act, double p)
{
    double z;
    switch (act) {
    case GA_ACT_IDENTITY: return 1.0;
    case GA_ACT_RELU: return hh > 0 ? 1.0 : 0.0;
    case GA_ACT_LEAKY_RELU: return hh > 0 ? 1.0 : p;
    case GA_ACT_TANH: {
        if (eh < -SAFE_EXP)
            return 1.0;
        z = ldexp(hh, (int)clamp_exp(eh));
        double e = exp(-2.0 * fabs(z));
        return 4.0 * e / ((1.0 + e) * (1.0 + e));
    }
    case GA_ACT_SIGMOID: {
        if (eh < -SAFE_EXP)
            return 0.25;
        z = ldexp(hh, (int)clamp_exp(eh));
        double e = exp(-fabs(z));
        return e / ((1.0 + e) * (1.0 + e));
    }
    case GA_ACT_ELU:
        if (hh > 0)
            return 1.0;
        if (eh < -SAFE_EXP)
            return p;
        return p * exp(ldexp(hh, (int)clamp_exp(eh)));
    case GA_ACT_SOFTPLUS:
        if (eh < -SAFE_EXP)
            return 0.5;
        return sigm(ldexp(hh, (int)clamp_exp(eh)));
    default: return NAN;
    }
}

/* log |phi'(2^eh hh)| for the activations whose derivative can underflow. */
static double act_log_deriv(double hh, long eh, ga_activation act, double p)
{
    double z = ldexp(hh, (int)clamp_exp(eh)), a = fabs(z);
    switch (act) {
    case GA_ACT_TANH: return 2.0 * M_LN2 - 2.0 * a - 2.0 * log1p(exp(-2.0 * a));
    case GA_ACT_SIGMOID: return -a - 2.0 * log1p(exp(-a));
    case GA_ACT_ELU: return hh > 0 ? 0.0 : log(fabs(p)) + z;
    case GA_ACT_SOFTPLUS: return z < 0 ? z - log1p(exp(z)) : -log1p(exp(-z));
    default: return log(fabs(act_deriv(hh, eh, act, p)));
    }
}

/* delta = phi'(h) * g: dh (n) mantissas with exponent *ed, from g (n) with exponent eg. */
static void act_backward(double *dh, long *ed, int *bad, const double *g, long eg, const double *hh,
                         long eh, size_t n, ga_activation act, double p)
{
    for (size_t i = 0; i < n; i++)
        dh[i] = act_deriv(hh[i], eh, act, p) * g[i];
    *ed = eg;
    int smooth = act == GA_ACT_TANH || act == GA_ACT_SIGMOID || act == GA_ACT_ELU ||
                 act == GA_ACT_SOFTPLUS;
    long k = max_exp(dh, n, bad);
    if (smooth && !*bad && (k == LONG_MIN || k < -960)) {
        /* phi' underflows (or nearly) everywhere: log |delta_i| = log phi'(z_i) + log |g_i| */
        double M = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double l = g[i] == 0.0 ? -INFINITY : act_log_deriv(hh[i], eh, act, p) + log(fabs(g[i]));
            dh[i] = l; /* temporarily the log */
            if (l > M)
                M = l;
        }
        if (!(M > -1e15)) { /* below 10^(-4e14): beyond any exponent, reported as 0 */
            for (size_t i = 0; i < n; i++)
                dh[i] = 0.0;
            return;
        }
        double kf = floor(M / M_LN2);
        for (size_t i = 0; i < n; i++)
            dh[i] = copysign(exp(dh[i] - kf * M_LN2), g[i]);
        *ed = eg + (long)kf;
    }
    renorm(dh, n, ed, bad);
}

/* ---- weights ------------------------------------------------------------- */
static int draw_weight(double *W, ga_error *err, ga_rng *rng, const ga_scan_config *c)
{
    size_t N = c->width;
    ga_init_desc d;
    if (c->init == GA_SCAN_INIT_NORMAL) {
        ga_init_desc_default(&d, GA_INIT_RANDN);
        d.scale = sqrt(c->sigma_w2 / (double)N); /* N(0, sigma_w2 / fan_in) */
    } else if (c->init == GA_INIT_UNIFORM) {
        ga_init_desc_default(&d, GA_INIT_UNIFORM);
        d.low = -1.0 / sqrt((double)N); /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        d.high = 1.0 / sqrt((double)N);
    } else {
        ga_init_desc_default(&d, (ga_init_scheme)c->init);
        if (c->init == GA_INIT_ORTHOGONAL)
            d.scale = sqrt(c->sigma_w2); /* gain */
    }
    return ga_init_fill(W, err, rng, &d, N, N, N, N);
}

/* ---- theory --------------------------------------------------------------- */
/* q_{l+1} from q_l in the extended range: the q-map is linear for identity, relu and
 * leaky_relu; far outside [1e-200, 1e200] the others take their linear asymptotes. */
static ga_xreal qmap_x(ga_mf *mf, const ga_scan_config *c, ga_xreal q)
{
    double qd = ga_xreal_to_double(q), p = c->act_param;
    ga_xreal sb = ga_xreal_from(c->sigma_b2, 0);
    double slope = NAN; /* E[phi(sqrt(q) z)^2] / q in the linear regime */
    switch (c->act) {
    case GA_ACT_IDENTITY: slope = 1.0; break;
    case GA_ACT_RELU: slope = 0.5; break;
    case GA_ACT_LEAKY_RELU: slope = 0.5 * (1.0 + p * p); break;
    default:
        if (qd < 1e-200 && (c->act == GA_ACT_TANH || c->act == GA_ACT_ELU))
            slope = c->act == GA_ACT_TANH ? 1.0 : 0.5 * (1.0 + p * p);
        else if (qd > 1e200 && (c->act == GA_ACT_ELU || c->act == GA_ACT_SOFTPLUS))
            slope = 0.5;
        else
            return ga_xreal_from(ga_mf_qmap(mf, c->sigma_w2, c->sigma_b2, fmin(qd, 1e300)), 0);
    }
    return ga_xreal_add(ga_xreal_mul(ga_xreal_from(c->sigma_w2 * slope, 0), q), sb);
}

static int theory(ga_scan_layer *layers, ga_error *err, const ga_scan_config *c)
{
    size_t L = c->depth;
    if (!ga_scan_has_theory(c->act, c->init)) {
        for (size_t l = 0; l < L; l++) {
            layers[l].theory_q = ga_xreal_from(NAN, 0);
            layers[l].theory_chi = NAN;
            layers[l].theory_log10_ratio = NAN;
        }
        return GA_OK;
    }
    ga_mf *mf;
    int st = ga_mf_alloc(&mf, err, c->act, c->act_param);
    if (st != GA_OK)
        return st;
    /* q_1 = sigma_w2 * E[x_0^2] + sigma_b2 with E[x_0^2] = 1 */
    ga_xreal q = ga_xreal_add(ga_xreal_from(c->sigma_w2, 0), ga_xreal_from(c->sigma_b2, 0));
    for (size_t l = 0; l < L; l++) {
        layers[l].theory_q = q;
        /* a q below the double range takes chi's q -> 0+ limit, not its value at 0
         * (relu: f'(0) = 0 would give chi = 0) */
        double qd = ga_xreal_to_double(q);
        if (q.m > 0 && qd < DBL_MIN)
            qd = DBL_MIN;
        layers[l].theory_chi = ga_mf_chi(mf, c->sigma_w2, fmin(qd, 1e300));
        q = qmap_x(mf, c, q);
    }
    ga_mf_free(mf);
    /* ||delta_l||^2 / ||delta_L||^2 = prod_{k=l}^{L-1} chi_k */
    double acc = 0.0;
    layers[L - 1].theory_log10_ratio = 0.0;
    for (size_t l = L - 1; l-- > 0;) {
        acc += 0.5 * log10(layers[l].theory_chi);
        layers[l].theory_log10_ratio = acc;
    }
    return GA_OK;
}

/* ---- the run ------------------------------------------------------------- */
void ga_scan_result_free(ga_scan_result *res)
{
    if (!res)
        return;
    free(res->layers);
    res->layers = NULL;
    res->depth = 0;
}

#define STOPPED() (stop && *stop)

int ga_scan_run(ga_scan_result *res, ga_error *err, const ga_scan_config *c, size_t memory_cap,
                const volatile sig_atomic_t *stop)
{
    memset(res, 0, sizeof *res);
    int st = ga_scan_config_check(err, c, memory_cap);
    if (st != GA_OK)
        return st;
    const size_t L = c->depth, N = c->width, B = c->batch, BN = B * N;
    const double p = c->act_param;
    double need, stored_need;
    ga_scan_memory(&need, &stored_need, c);
    int store = stored_need <= (double)memory_cap;

    ga_scan_layer *layers = calloc(L, sizeof *layers);
    double *hs = malloc(L * BN * sizeof *hs);        /* (L, B, N) h mantissas */
    long *eh = malloc(L * sizeof *eh);               /* (L) their exponents */
    double *work = malloc((6 * BN + 2 * N * N + N) * sizeof *work);
    double *Ws = store ? malloc(L * N * N * sizeof *Ws) : NULL; /* (L, N, N) */
    ga_rng *states = store ? NULL : malloc(L * sizeof *states);
    ga_rng *rng = malloc(sizeof *rng);
    if (!layers || !hs || !eh || !work || (store ? !Ws : !states) || !rng) {
        st = ga_fail(err, GA_ENOMEM, "out of memory for depth %zu x width %zu x batch %zu", L, N, B);
        goto done;
    }
    double *x0 = work, *y = x0 + BN, *xa = y + BN, *xb = xa + BN, *g = xb + BN, *dl = g + BN;
    double *dW = dl + BN, *Wtmp = dW + N * N, *bias = Wtmp + N * N;

    st = theory(layers, err, c);
    if (st != GA_OK)
        goto done;

    ga_rng_seed(rng, c->seed);
    ga_rng_fill_gauss(x0, BN, rng);
    ga_rng_fill_gauss(y, BN, rng);
    long ex0 = 0, ey = 0, ex = 0;
    int bad0 = 0;
    renorm(x0, BN, &ex0, &bad0);
    renorm(y, BN, &ey, &bad0);
    const double sb = sqrt(c->sigma_b2);

    /* forward: h_l = x_{l-1} W_l^T + b_l */
    const double *xprev = x0;
    ex = ex0;
    for (size_t l = 0; l < L; l++) {
        if (STOPPED()) {
            st = GA_SCAN_INTERRUPTED;
            goto done;
        }
        if (c->progress)
            c->progress(c->progress_ctx, l, 2 * L);
        double *W = store ? Ws + l * N * N : Wtmp;
        if (!store)
            states[l] = *rng;
        st = draw_weight(W, err, rng, c);
        if (st != GA_OK)
            goto done;
        ga_rng_fill_gauss(bias, N, rng);
        for (size_t k = 0; k < N; k++)
            bias[k] *= sb;
        double *h = hs + l * BN;
        int bad = bad0;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)N, (int)N, 1.0, xprev,
                    (int)N, W, (int)N, 0.0, h, (int)N);
        long eu = max_exp(h, BN, &bad), eb = max_exp(bias, N, &bad);
        long e = LONG_MIN;
        if (eu != LONG_MIN)
            e = ex + eu;
        if (eb != LONG_MIN && eb > e)
            e = eb;
        if (e == LONG_MIN)
            e = 0;
        /* h / 2^e = u 2^(ex - e) + b 2^(-e): both terms at most 1 in magnitude */
        scale_pow2(h, BN, ex - e);
        if (eb != LONG_MIN) {
            double fb = pow2(-e);
            int tiny = -e < -1000 || -e > 1000;
            for (size_t n = 0; n < B; n++)
                for (size_t k = 0; k < N; k++)
                    h[n * N + k] += tiny ? ldexp(bias[k], (int)clamp_exp(-e)) : bias[k] * fb;
        }
        eh[l] = e;
        renorm(h, BN, &eh[l], &bad);
        ga_xreal ms = norm_x(h, BN, eh[l]);
        layers[l].preact_var = ga_xreal_div(ga_xreal_mul(ms, ms), ga_xreal_from((double)BN, 0));
        double *xcur = (xprev == xa) ? xb : xa;
        act_forward(xcur, &ex, &bad, h, eh[l], BN, c->act, p);
        layers[l].act_norm = norm_x(xcur, BN, ex);
        layers[l].nan_inf = bad;
        xprev = xcur;
    }

    /* dL/dx_L = y / B */
    {
        int bad = layers[L - 1].nan_inf;
        for (size_t i = 0; i < BN; i++)
            g[i] = y[i] / (double)B;
        long eg = ey;
        renorm(g, BN, &eg, &bad);

        /* backward: delta_l = phi'(h_l) * g_l; g_{l-1} = delta_l W_l; dW_l = delta_l^T x_{l-1} */
        ga_xreal gsum = ga_xreal_from(0.0, 0);
        for (size_t l = L; l-- > 0;) {
            if (STOPPED()) {
                st = GA_SCAN_INTERRUPTED;
                goto done;
            }
            if (c->progress)
                c->progress(c->progress_ctx, 2 * L - 1 - l, 2 * L);
            bad = layers[l].nan_inf;
            const double *h = hs + l * BN;
            long ed;
            act_backward(dl, &ed, &bad, g, eg, h, eh[l], BN, c->act, p);
            layers[l].delta_norm = norm_x(dl, BN, ed);
            /* x_{l-1} again, from the stored h_{l-1} (bitwise the forward's) */
            const double *xp = x0;
            long exp_ = ex0;
            if (l > 0) {
                int b2 = 0;
                act_forward(xa, &exp_, &b2, hs + (l - 1) * BN, eh[l - 1], BN, c->act, p);
                xp = xa;
            }
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)N, (int)B, 1.0, dl,
                        (int)N, xp, (int)N, 0.0, dW, (int)N);
            layers[l].weight_grad = norm_x(dW, N * N, ed + exp_);
            for (size_t k = 0; k < N; k++) {
                double s = 0.0;
                for (size_t n = 0; n < B; n++)
                    s += dl[n * N + k];
                bias[k] = s;
            }
            layers[l].bias_grad = norm_x(bias, N, ed);
            gsum = ga_xreal_add(gsum, ga_xreal_mul(layers[l].weight_grad, layers[l].weight_grad));
            gsum = ga_xreal_add(gsum, ga_xreal_mul(layers[l].bias_grad, layers[l].bias_grad));
            if (l > 0) {
                const double *W = Ws ? Ws + l * N * N : Wtmp;
                if (!store) {
                    *rng = states[l];
                    st = draw_weight(Wtmp, err, rng, c);
                    if (st != GA_OK)
                        goto done;
                }
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)N, (int)N, 1.0,
                            dl, (int)N, W, (int)N, 0.0, g, (int)N);
                eg = ed;
                renorm(g, BN, &eg, &bad);
            }
            layers[l].nan_inf = bad;
        }
        res->global_grad = ga_xreal_sqrt(gsum);
    }
    res->depth = L;
    res->layers = layers;
    res->weights_regenerated = !store;
    layers = NULL;
    st = GA_OK;
done:
    free(layers);
    free(hs);
    free(eh);
    free(work);
    free(Ws);
    free(states);
    free(rng);
    return st;
}
