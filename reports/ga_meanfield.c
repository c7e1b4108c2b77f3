/* ga_meanfield.c: q-map, chi, fixed points and the edge of chaos (see ga_meanfield.h). */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_math.h> /* M_PI (not in strict C11) */
#include <gsl/gsl_roots.h>
#include <gsl/gsl_sf_erf.h>

#include "ga_meanfield.h"

#define GH_N1 96   /* two Gauss-Hermite rules; their difference is the error estimate */
#define GH_N2 192
#define GH_TOL 1e-13
#define QAGS_LIMIT 512

struct ga_mf {
    ga_activation act;
    double param;
    double x1[GH_N1], w1[GH_N1]; /* nodes and weights for N(0,1): sum w = 1 */
    double x2[GH_N2], w2[GH_N2];
    gsl_integration_workspace *ws; /* adaptive fallback */
};

/* phi and phi' for the smooth activations, stable for any finite x. */
static double phi(const ga_mf *mf, double x)
{
    switch (mf->act) {
    case GA_ACT_TANH: return tanh(x);
    case GA_ACT_SIGMOID: /* 1/(1+exp(-x)) */
        return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    case GA_ACT_SOFTPLUS: /* log(1+exp(x)) */
        return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    default: return NAN;
    }
}

static double dphi(const ga_mf *mf, double x)
{
    switch (mf->act) {
    case GA_ACT_TANH: { /* sech^2 x = 4 e^{-2|x|} / (1 + e^{-2|x|})^2 */
        double e = exp(-2.0 * fabs(x));
        return 4.0 * e / ((1.0 + e) * (1.0 + e));
    }
    case GA_ACT_SIGMOID: { /* s (1 - s) = e^{-|x|} / (1 + e^{-|x|})^2 */
        double e = exp(-fabs(x));
        return e / ((1.0 + e) * (1.0 + e));
    }
    case GA_ACT_SOFTPLUS: /* sigmoid(x) */
        return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    default: return NAN;
    }
}

typedef struct {
    const ga_mf *mf;
    double s; /* sqrt(q) */
    int deriv;
} integrand_params;

static double integrand_val(double z, const integrand_params *p)
{
    double v = p->deriv ? dphi(p->mf, p->s * z) : phi(p->mf, p->s * z);
    return v * v;
}

static double integrand_gauss(double z, void *vp)
{
    const integrand_params *p = vp;
    return integrand_val(z, p) * exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
}

static int rule_alloc(double *x, double *w, size_t n)
{
    /* weight exp(-b (x-a)^2) with a = 0, b = 1/2: the N(0,1) density up to sqrt(2 pi) */
    gsl_integration_fixed_workspace *fw =
        gsl_integration_fixed_alloc(gsl_integration_fixed_hermite, n, 0.0, 0.5, 0.0, 0.0);
    if (!fw)
        return GA_ENOMEM;
    const double *nx = gsl_integration_fixed_nodes(fw), *nw = gsl_integration_fixed_weights(fw);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += nw[i];
    for (size_t i = 0; i < n; i++) {
        x[i] = nx[i];
        w[i] = nw[i] / sum;
    }
    gsl_integration_fixed_free(fw);
    return GA_OK;
}

int ga_mf_alloc(ga_mf **out, ga_error *err, ga_activation act, double param)
{
    *out = NULL;
    if ((int)act < 0 || act >= GA_ACT_COUNT || act == GA_ACT_SOFTMAX || ga_activation_is_generic(act))
        return ga_fail(err, GA_EINVAL, "mean-field theory needs one of the scans' elementwise activations");
    if (!isfinite(param))
        return ga_fail(err, GA_EINVAL, "activation parameter is not finite");
    ga_mf *mf = calloc(1, sizeof *mf);
    if (!mf)
        return ga_fail(err, GA_ENOMEM, "out of memory for the mean-field state");
    mf->act = act;
    mf->param = param;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int st = rule_alloc(mf->x1, mf->w1, GH_N1);
    if (st == GA_OK)
        st = rule_alloc(mf->x2, mf->w2, GH_N2);
    gsl_set_error_handler(old);
    if (st == GA_OK) {
        mf->ws = gsl_integration_workspace_alloc(QAGS_LIMIT);
        if (!mf->ws)
            st = GA_ENOMEM;
    }
    if (st != GA_OK) {
        ga_mf_free(mf);
        return ga_fail(err, st, "cannot set up Gauss-Hermite quadrature");
    }
    *out = mf;
    return GA_OK;
}

void ga_mf_free(ga_mf *mf)
{
    if (!mf)
        return;
    if (mf->ws)
        gsl_integration_workspace_free(mf->ws);
    free(mf);
}

/* M(t) = e^{t^2/2} Phi(-t) = 1 / (sqrt(2 pi) hazard(t)), no overflow for large t. */
static double mills(double t)
{
    return 1.0 / (sqrt(2.0 * M_PI) * gsl_sf_hazard(t));
}

/* E[(e^{s z} - 1)^2 ; z < 0] = M(2s) - 2 M(s) + 1/2; for small s the series
 * sum_{n>=2} (2^n - 2)/n! (-s)^n E|z|^n / 2, E|z|^n = 2^{n/2} Gamma((n+1)/2) / sqrt(pi),
 * avoids the cancellation. */
static double elu_neg_sq(double q)
{
    double s = sqrt(q);
    if (q >= 0.25)
        return mills(2.0 * s) - 2.0 * mills(s) + 0.5;
    double sum = 0.0;
    for (int n = 2; n <= 60; n++) {
        double absmom = exp(0.5 * n * M_LN2 + lgamma(0.5 * (n + 1)) - 0.5 * log(M_PI));
        double term = (ldexp(1.0, n) - 2.0) * exp(n * log(s) - lgamma(n + 1.0)) * absmom / 2.0;
        sum += (n % 2) ? -term : term;
        if (fabs(term) < 1e-18 * fabs(sum))
            break;
    }
    return sum;
}

/* Adaptive fallback: QAGS on [-40, -w], [-w, 0], [0, w], [w, 40], w = min(40, 20/sqrt(q)). */
static double adaptive(ga_mf *mf, integrand_params *p, double *abserr)
{
    gsl_function F = {integrand_gauss, p};
    double w = p->s > 0.5 ? 20.0 / p->s : 40.0;
    const double cuts[5] = {-40.0, -w, 0.0, w, 40.0};
    double total = 0.0, err = 0.0;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    for (int i = 0; i < 4; i++) {
        double r = 0.0, e = 0.0;
        gsl_integration_qags(&F, cuts[i], cuts[i + 1], 0.0, 1e-13, QAGS_LIMIT, mf->ws, &r, &e);
        total += r;
        err += e;
    }
    gsl_set_error_handler(old);
    if (abserr)
        *abserr = err;
    return total;
}

static double expect(ga_mf *mf, double q, int deriv, double *abserr)
{
    integrand_params p = {mf, sqrt(q), deriv};
    double r1 = 0.0, r2 = 0.0;
    for (size_t i = 0; i < GH_N1; i++)
        r1 += mf->w1[i] * integrand_val(mf->x1[i], &p);
    for (size_t i = 0; i < GH_N2; i++)
        r2 += mf->w2[i] * integrand_val(mf->x2[i], &p);
    double diff = fabs(r2 - r1);
    if (diff <= GH_TOL * fabs(r2)) {
        if (abserr)
            *abserr = diff + 4.0 * GH_N2 * 1.1e-16 * fabs(r2);
        return r2;
    }
    return adaptive(mf, &p, abserr);
}

double ga_mf_e_phi2(ga_mf *mf, double q, double *abserr)
{
    double a = mf->param, r;
    if (abserr)
        *abserr = 0.0;
    if (!(q >= 0.0))
        return NAN;
    switch (mf->act) {
    case GA_ACT_IDENTITY: r = q; break;
    case GA_ACT_RELU: r = 0.5 * q; break;                        /* E[z^2; z > 0] = 1/2 */
    case GA_ACT_LEAKY_RELU: r = 0.5 * q * (1.0 + a * a); break;
    case GA_ACT_ELU: r = 0.5 * q + a * a * elu_neg_sq(q); break;
    default:
        if (q == 0.0) {
            r = phi(mf, 0.0) * phi(mf, 0.0);
            break;
        }
        return expect(mf, q, 0, abserr);
    }
    if (abserr)
        *abserr = 4e-16 * fabs(r);
    return r;
}

double ga_mf_e_dphi2(ga_mf *mf, double q, double *abserr)
{
    double a = mf->param, r;
    if (abserr)
        *abserr = 0.0;
    if (!(q >= 0.0))
        return NAN;
    switch (mf->act) {
    case GA_ACT_IDENTITY: r = 1.0; break;
    case GA_ACT_RELU: r = q > 0.0 ? 0.5 : 0.0; break; /* f'(0) = 0 */
    case GA_ACT_LEAKY_RELU: r = q > 0.0 ? 0.5 * (1.0 + a * a) : a * a; break;
    case GA_ACT_ELU: /* 1/2 + a^2 E[e^{2 s z}; z < 0] = 1/2 + a^2 M(2 s) */
        r = q > 0.0 ? 0.5 + a * a * mills(2.0 * sqrt(q)) : a * a;
        break;
    default:
        if (q == 0.0) {
            r = dphi(mf, 0.0) * dphi(mf, 0.0);
            break;
        }
        return expect(mf, q, 1, abserr);
    }
    if (abserr)
        *abserr = 4e-16 * fabs(r);
    return r;
}

double ga_mf_qmap(ga_mf *mf, double sigma_w2, double sigma_b2, double q)
{
    return sigma_w2 * ga_mf_e_phi2(mf, q, NULL) + sigma_b2;
}

double ga_mf_chi(ga_mf *mf, double sigma_w2, double q)
{
    return sigma_w2 * ga_mf_e_dphi2(mf, q, NULL);
}

int ga_mf_fixed_point(double *qstar, ga_error *err, ga_mf *mf, double sigma_w2,
                      double sigma_b2)
{
    *qstar = NAN;
    if (!(sigma_w2 >= 0.0) || !(sigma_b2 >= 0.0) || !isfinite(sigma_w2) || !isfinite(sigma_b2))
        return ga_fail(err, GA_EINVAL, "sigma_w2 and sigma_b2 must be finite and >= 0");
    /* Odd, 1-Lipschitz-at-0 activations with phi(x)^2 <= x^2 (tanh): without bias and
     * sigma_w2 <= 1 the q-map is below the diagonal, q* = 0 (reached only algebraically
     * when sigma_w2 = 1, so iteration would be slow). */
    if (mf->act == GA_ACT_TANH && sigma_b2 == 0.0 && sigma_w2 <= 1.0) {
        *qstar = 0.0;
        return GA_OK;
    }
    if (mf->act == GA_ACT_RELU || mf->act == GA_ACT_LEAKY_RELU || mf->act == GA_ACT_IDENTITY) {
        double slope = ga_mf_qmap(mf, sigma_w2, 0.0, 1.0); /* the q-map is linear */
        if (slope >= 1.0 && !(slope == 1.0 && sigma_b2 == 0.0))
            return ga_fail(err, GA_ERANGE, "the q-map grows without bound (slope %.17g)", slope);
        *qstar = slope == 1.0 ? 1.0 : sigma_b2 / (1.0 - slope);
        return GA_OK;
    }
    double q = 1.0;
    for (int it = 0; it < 100000; it++) {
        double qn = ga_mf_qmap(mf, sigma_w2, sigma_b2, q);
        if (!isfinite(qn) || qn > 1e300)
            return ga_fail(err, GA_ERANGE, "the q-map grows without bound");
        if (fabs(qn - q) <= 1e-15 * qn || qn < 1e-300) {
            *qstar = qn < 1e-300 ? 0.0 : qn;
            return GA_OK;
        }
        q = qn;
    }
    *qstar = q;
    return GA_OK;
}

typedef struct {
    ga_mf *mf;
    double sigma_b2;
    int status;
} crit_params;

static double crit_f(double sw2, void *vp)
{
    crit_params *p = vp;
    double qs;
    if (ga_mf_fixed_point(&qs, NULL, p->mf, sw2, p->sigma_b2) != GA_OK) {
        p->status = GA_ERANGE;
        return NAN;
    }
    return ga_mf_chi(p->mf, sw2, qs) - 1.0;
}

int ga_mf_critical_sigma_w2(double *sigma_w2, double *qstar, ga_error *err, ga_mf *mf,
                            double sigma_b2, double lo, double hi)
{
    *sigma_w2 = NAN;
    *qstar = NAN;
    crit_params p = {mf, sigma_b2, GA_OK};
    double flo = crit_f(lo, &p), fhi = crit_f(hi, &p);
    if (p.status != GA_OK || !(flo * fhi < 0.0))
        return ga_fail(err, GA_EINVAL, "chi_1 - 1 does not change sign for sigma_w2 in [%g, %g]",
                       lo, hi);
    gsl_function F = {crit_f, &p};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!s)
        return ga_fail(err, GA_ENOMEM, "out of memory for the root solver");
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_root_fsolver_set(s, &F, lo, hi);
    int st = GSL_CONTINUE;
    for (int it = 0; it < 200 && st == GSL_CONTINUE; it++) {
        gsl_root_fsolver_iterate(s);
        st = gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s),
                                    0.0, 1e-14);
    }
    double r = gsl_root_fsolver_root(s);
    gsl_root_fsolver_free(s);
    gsl_set_error_handler(old);
    if (st != GSL_SUCCESS || p.status != GA_OK)
        return ga_fail(err, GA_EINVAL, "edge-of-chaos search did not converge");
    *sigma_w2 = r;
    return ga_mf_fixed_point(qstar, err, mf, r, sigma_b2);
}
