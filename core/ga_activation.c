/* ga_activation.c: elementwise activations and their derivatives, in forms
 * that stay finite and accurate for |z| up to DBL_MAX. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ga_core.h"

static const char *const activation_names[GA_ACT_COUNT] = {
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "silu",
    "gelu", "gelu_tanh",
};

const char *ga_activation_name(ga_activation a)
{
    return (unsigned)a < GA_ACT_COUNT ? activation_names[a] : "?";
}

int ga_activation_from_name(ga_activation *out, const char *name)
{
    for (int i = 0; i < GA_ACT_COUNT; i++)
        if (name && !strcmp(name, activation_names[i])) {
            *out = (ga_activation)i;
            return GA_OK;
        }
    return GA_EINVAL;
}

double ga_activation_default_param(ga_activation a)
{
    switch (a) {
    case GA_ACT_LEAKY_RELU: return 0.01;
    case GA_ACT_ELU: return 1.0;
    default: return 0.0;
    }
}

int ga_activation_has_param(ga_activation a)
{
    return a == GA_ACT_LEAKY_RELU || a == GA_ACT_ELU;
}

int ga_activation_has_kink(ga_activation a, double param)
{
    switch (a) {
    case GA_ACT_RELU: return 1;
    case GA_ACT_LEAKY_RELU: return param != 1.0;
    case GA_ACT_ELU: return param != 1.0;
    default: return 0;
    }
}

double ga_activation_lipschitz(ga_activation a, double param)
{
    double c = fabs(param);
    switch (a) {
    case GA_ACT_SIGMOID: return 0.25;                    /* s' = s (1 - s) <= 1/4 */
    case GA_ACT_LEAKY_RELU:
    case GA_ACT_ELU: return c > 1 ? c : 1.0;             /* slopes 1 and c (elu: c e^z, z <= 0) */
    case GA_ACT_SILU: return 1.09983932012886692;       /* at z = 2.3994 (mpmath; -0.0998 at -2.3994) */
    /* mpmath at 40 digits, rounded up: gelu' peaks at z = sqrt 2 (1.1289041451851548,
     * -0.1289 at -sqrt 2), gelu_tanh' at z = 1.4185 (1.1289930686587718) */
    case GA_ACT_GELU: return 1.128904145185155;
    case GA_ACT_GELU_TANH: return 1.128993068658772;
    default: return 1.0;                                 /* identity, tanh, relu, softplus, softmax */
    }
}

int ga_activation_is_generic(ga_activation a)
{
    return a > GA_ACT_SOFTMAX && a < GA_ACT_COUNT;
}

double ga_activation_lipschitz_deriv(ga_activation a, double param)
{
    switch (a) {
    case GA_ACT_SIGMOID: return 0.0962250448649377;      /* |s' (1 - 2s)| <= 1/(6 sqrt 3) */
    case GA_ACT_TANH: return 0.769800358919502;          /* |2 t (1 - t^2)| <= 4/(3 sqrt 3) */
    case GA_ACT_ELU: return fabs(param);                 /* c e^z, z <= 0 */
    case GA_ACT_SOFTPLUS: return 0.25;                   /* softplus'' = s' */
    case GA_ACT_SOFTMAX: return 1.0;
    case GA_ACT_SILU: return 0.5;                        /* silu''(0) = 1/2, the largest */
    case GA_ACT_GELU:                                    /* f'' = phi(z) (2 - z^2): 2 phi(0) at 0 */
    case GA_ACT_GELU_TANH: return 0.7978845608028655;    /* the same at 0 (mpmath grid and root) */
    default: return 0.0;                                 /* identity, relu, leaky_relu */
    }
}

/* ga_act_eval's body, inlined into the loops of ga_act_eval_n */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline void act_eval(double *value, double *deriv, ga_activation a, double param, double z)
{
    double v, d;
    switch (a) {
    case GA_ACT_IDENTITY: v = z, d = 1.0; break;
    case GA_ACT_SIGMOID: {
        /* e = exp(-|z|) <= 1: s = 1/(1+e) or e/(1+e); s' = s(1-s) = e/(1+e)^2,
         * with no cancellation in 1-s */
        double e = exp(-fabs(z)), q = 1.0 + e;
        v = z >= 0 ? 1.0 / q : e / q;
        d = e / (q * q);
        break;
    }
    case GA_ACT_TANH: {
        /* With t = exp(-2|z|): tanh|z| = (1-t)/(1+t), 1 - tanh^2 = 4t/(1+t)^2.
         * Near 0 (t >= 1/2, |z| <= log(2)/2) 1 - t would cancel, so there
         * t = 1 + m with m = expm1(-2|z|) exact to rounding: tanh|z| =
         * -m/(2+m), 4(1+m)/(2+m)^2. One exponential either way. */
        double az = fabs(z);
        if (az <= 0.34657359027997264) {
            double m = expm1(-2.0 * az), q = 2.0 + m;
            v = -m / q;
            d = 4.0 * (1.0 + m) / (q * q);
        } else {
            double t = exp(-2.0 * az), q = 1.0 + t;
            v = (1.0 - t) / q;
            d = 4.0 * t / (q * q);
        }
        v = copysign(v, z);
        break;
    }
    case GA_ACT_RELU: v = z > 0 ? z : 0.0, d = z > 0 ? 1.0 : 0.0; break;
    case GA_ACT_LEAKY_RELU: v = z > 0 ? z : param * z, d = z > 0 ? 1.0 : param; break;
    case GA_ACT_ELU:
        /* alpha (exp(z) - 1) by expm1 (exact near 0), alpha exp(z) by exp
         * (expm1 + 1 would cancel for z << 0) */
        if (z > 0)
            v = z, d = 1.0;
        else
            v = param * expm1(z), d = param * exp(z);
        break;
    case GA_ACT_SOFTPLUS: {
        /* log(1+exp(z)) = max(z,0) + log1p(e), e = exp(-|z|); derivative s(z) */
        double e = exp(-fabs(z));
        v = (z > 0 ? z : 0.0) + log1p(e);
        d = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        break;
    }
    case GA_ACT_SILU: {
        /* z s(z), s from e = exp(-|z|) as for sigmoid; f' = s + z s(z) s(-z)
         * with s(z) s(-z) = e/(1+e)^2: no 1 - s to cancel */
        double e = exp(-fabs(z)), q = 1.0 + e;
        double s = z >= 0 ? 1.0 / q : e / q;
        v = z * s;
        d = s + z * (e / (q * q));
        break;
    }
    case GA_ACT_GELU: {
        /* Phi by erfc (no cancellation for z << 0); z^2 may overflow to
         * inf, exp(-inf) = 0, and z 0 is 0 for finite z */
        double P = 0.5 * erfc(-z * 0.7071067811865476); /* 1/sqrt 2 */
        double p = exp(-0.5 * (z * z)) * 0.3989422804014327; /* 1/sqrt(2 pi) */
        v = z * P;
        d = P + (p == 0.0 ? 0.0 : z * p);
        break;
    }
    case GA_ACT_GELU_TANH: {
        /* 1 + tanh u = 2 s(2u) and 1 - tanh^2 u = 4 s(2u) s(-2u) = 4 e/(1+e)^2,
         * e = exp(-2|u|): neither cancels. Where e is 0 the second term is
         * 0 (u and 1 + 3cz^2 may be infinite there). */
        const double k = 0.7978845608028654, c = 0.044715; /* sqrt(2/pi) */
        double z2 = z * z, u = k * (z * (1.0 + c * z2));
        double e = exp(-2.0 * fabs(u)), q = 1.0 + e;
        double s = u >= 0 ? 1.0 / q : e / q;
        v = z * s;
        d = s + (e == 0.0 ? 0.0 : 2.0 * z * (e / (q * q)) * (k * (1.0 + 3.0 * c * z2)));
        break;
    }
    default: v = d = NAN; /* softmax is not elementwise */
    }
    if (value)
        *value = v;
    if (deriv)
        *deriv = d;
}

void ga_act_eval(double *value, double *deriv, ga_activation a, double param, double z)
{
    act_eval(value, deriv, a, param, z);
}

void ga_act_eval_n(double *value, double *deriv, ga_activation a, double param, const double *z,
                   size_t n)
{
    /* the cheap ones with the activation a constant: loops without a switch */
#define ACT_LOOP(A) for (size_t i = 0; i < n; i++) act_eval(&value[i], &deriv[i], (A), param, z[i])
    switch (a) {
    case GA_ACT_RELU:
        /* z > 0 ? z : 0 and 1 or 0 by a mask (NaN and -0 give +0, as in
         * act_eval): no branch on the data, whose signs no predictor knows */
        for (size_t i = 0; i < n; i++) {
            uint64_t bits, pos = (uint64_t)0 - (uint64_t)(z[i] > 0);
            memcpy(&bits, &z[i], sizeof bits);
            bits &= pos;
            memcpy(&value[i], &bits, sizeof bits);
            deriv[i] = (double)(z[i] > 0);
        }
        break;
    case GA_ACT_LEAKY_RELU: ACT_LOOP(GA_ACT_LEAKY_RELU); break;
    case GA_ACT_IDENTITY: ACT_LOOP(GA_ACT_IDENTITY); break;
    default: ACT_LOOP(a);
    }
#undef ACT_LOOP
}

double ga_act_value(ga_activation a, double param, double z)
{
    double v;
    ga_act_eval(&v, NULL, a, param, z);
    return v;
}

double ga_act_deriv(ga_activation a, double param, double z, double a_val)
{
    (void)a_val;
    double d;
    ga_act_eval(NULL, &d, a, param, z);
    return d;
}

void ga_softmax_row(double *out, const double *z, size_t n)
{
    double m = z[0];
    for (size_t k = 1; k < n; k++)
        if (z[k] > m)
            m = z[k];
    double s = 0.0;
    for (size_t k = 0; k < n; k++) {
        out[k] = exp(z[k] - m);
        s += out[k];
    }
    for (size_t k = 0; k < n; k++)
        out[k] /= s;
}
