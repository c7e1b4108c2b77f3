/* ga_activation.c: elementwise activations and their derivatives, in forms
 * that stay finite and accurate for |z| up to DBL_MAX. */
#include <math.h>
#include <string.h>

#include "ga_core.h"

static const char *const activation_names[GA_ACT_COUNT] = {
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax",
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

/* sigmoid(z) = 1/(1+exp(-z)), evaluated through exp(-|z|) <= 1 so that
 * neither branch overflows. */
static double sigmoid(double z)
{
    double e = exp(-fabs(z));
    return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

double ga_act_value(ga_activation a, double param, double z)
{
    switch (a) {
    case GA_ACT_IDENTITY: return z;
    case GA_ACT_SIGMOID: return sigmoid(z);
    case GA_ACT_TANH: return tanh(z);
    case GA_ACT_RELU: return z > 0 ? z : 0.0;
    case GA_ACT_LEAKY_RELU: return z > 0 ? z : param * z;
    case GA_ACT_ELU: return z > 0 ? z : param * expm1(z);
    /* softplus(z) = log(1+exp(z)) = max(z,0) + log1p(exp(-|z|)) */
    case GA_ACT_SOFTPLUS: return (z > 0 ? z : 0.0) + log1p(exp(-fabs(z)));
    default: return NAN; /* softmax is not elementwise */
    }
}

double ga_act_deriv(ga_activation a, double param, double z, double a_val)
{
    (void)a_val;
    switch (a) {
    case GA_ACT_IDENTITY: return 1.0;
    case GA_ACT_SIGMOID: {
        /* s(z)(1-s(z)) = e/(1+e)^2 with e = exp(-|z|): no cancellation in 1-s */
        double e = exp(-fabs(z));
        return e / ((1.0 + e) * (1.0 + e));
    }
    case GA_ACT_TANH: {
        /* 1 - tanh(z)^2 = 4t/(1+t)^2 with t = exp(-2|z|): accurate where tanh(z) ~ +-1 */
        double t = exp(-2.0 * fabs(z));
        return 4.0 * t / ((1.0 + t) * (1.0 + t));
    }
    case GA_ACT_RELU: return z > 0 ? 1.0 : 0.0;
    case GA_ACT_LEAKY_RELU: return z > 0 ? 1.0 : param;
    case GA_ACT_ELU: return z > 0 ? 1.0 : param * exp(z);
    case GA_ACT_SOFTPLUS: return sigmoid(z);
    default: return NAN;
    }
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
