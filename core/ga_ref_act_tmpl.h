/* ga_ref_act_tmpl.h: the generic formula of every elementwise activation,
 * f(z) and f'(z), written once in the arithmetic interface of ga_ref_tmpl.h
 * (which includes this file unless the instance brings its own A_ACT_VALUE).
 * An instance that needs only the activations (the long double enclosure of
 * checks/ga_enclose.c, the oracle's MPFR fallback) defines the interface and
 * includes this file alone. This is the second implementation of each
 * activation; the first is core/ga_activation.c. Checking code that has no
 * tuned path for an activation (every one added after the first seven) uses
 * these formulas and the constants of ga_activation_lipschitz*.
 */
#include "ga_core.h"

/* ---- the generic activations: the second implementation of each ------
 * f(z) and f'(z) in the interface's primitives; formulas as ga_core.h
 * states them. relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha (the
 * conventions at the kink). */
/* Phi(z) = erfc(-z / sqrt 2) / 2: no cancellation for z << 0 */
static void REF_FN(gelu_cdf)(REF_CTX *c, REF_T *r, REF_T *z)
{
    REF_T t;
    A_INIT(c, &t);
    A_SET_D(c, &t, 2.0);
    A_SQRT(c, &t, &t);
    A_DIV(c, r, z, &t);
    A_NEG(c, r, r);
    A_ERFC(c, r, r);
    A_MUL_D(c, r, r, 0.5);
    A_CLEAR(c, &t);
}

/* u = k z (1 + c z^2), k = sqrt(2/pi), c = 44715 / 10^6 (the decimal
 * exactly, not the double nearest it); du (may be NULL) = k (1 + 3 c z^2) */
static void REF_FN(gelu_tanh_u)(REF_CTX *c, REF_T *u, REF_T *du, REF_T *z)
{
    REF_T k, cz2;
    A_INIT(c, &k);
    A_INIT(c, &cz2);
    A_CONST_PI(c, &k);
    A_D_DIV(c, &k, 2.0, &k);
    A_SQRT(c, &k, &k);
    A_SET_D(c, &cz2, 44715.0);
    A_DIV_D(c, &cz2, &cz2, 1e6);
    A_MUL(c, &cz2, &cz2, z);
    A_MUL(c, &cz2, &cz2, z);
    if (du) {
        A_MUL_D(c, du, &cz2, 3.0);
        A_D_ADD(c, du, 1.0, du);
        A_MUL(c, du, du, &k);
    }
    A_D_ADD(c, u, 1.0, &cz2);
    A_MUL(c, u, u, z);
    A_MUL(c, u, u, &k);
    A_CLEAR(c, &cz2);
    A_CLEAR(c, &k);
}

static void REF_FN(act_value)(REF_CTX *c, REF_T *r, ga_activation act, double param, REF_T *z)
{
    REF_T zero;
    A_INIT(c, &zero);
    A_SET_D(c, &zero, 0.0);
    /* the sign is asked only where a branch depends on it (an arithmetic
     * whose order can be uncertain records that it was asked) */
#define POS (A_CMP(c, z, &zero) > 0)
    switch (act) {
    case GA_ACT_SIGMOID: A_SIGMOID(c, r, z); break;
    case GA_ACT_TANH: A_TANH(c, r, z); break;
    case GA_ACT_RELU:
        if (POS) A_SET(c, r, z); else A_SET_D(c, r, 0.0);
        break;
    case GA_ACT_LEAKY_RELU:
        if (POS) A_SET(c, r, z); else A_MUL_D(c, r, z, param);
        break;
    case GA_ACT_ELU: /* alpha (exp(z) - 1) for z <= 0 */
        if (POS) {
            A_SET(c, r, z);
        } else {
            A_EXPM1(c, r, z);
            A_MUL_D(c, r, r, param);
        }
        break;
    case GA_ACT_SOFTPLUS: A_SOFTPLUS(c, r, z); break;
    case GA_ACT_SILU: /* z sigmoid(z) */
        A_SIGMOID(c, r, z);
        A_MUL(c, r, r, z);
        break;
    case GA_ACT_GELU: /* z Phi(z) */
        REF_FN(gelu_cdf)(c, r, z);
        A_MUL(c, r, r, z);
        break;
    case GA_ACT_GELU_TANH: { /* z s(2u) */
        REF_T u;
        A_INIT(c, &u);
        REF_FN(gelu_tanh_u)(c, &u, NULL, z);
        A_MUL_D(c, &u, &u, 2.0);
        A_SIGMOID(c, r, &u);
        A_MUL(c, r, r, z);
        A_CLEAR(c, &u);
        break;
    }
    default: A_SET(c, r, z); break; /* identity */
    }
    A_CLEAR(c, &zero);
}

static void REF_FN(act_deriv)(REF_CTX *c, REF_T *r, ga_activation act, double param, REF_T *z)
{
    REF_T zero, t;
    A_INIT(c, &zero);
    A_INIT(c, &t);
    A_SET_D(c, &zero, 0.0);
    switch (act) {
    case GA_ACT_SIGMOID: /* s(z) s(-z) */
        A_SIGMOID(c, r, z);
        A_NEG(c, &t, z);
        A_SIGMOID(c, &t, &t);
        A_MUL(c, r, r, &t);
        break;
    case GA_ACT_TANH: /* 1 - tanh^2 = 4 e / (1 + e)^2, e = exp(-2|z|): no cancellation */
        A_ABS(c, &t, z);
        A_MUL_D(c, &t, &t, -2.0);
        A_EXP(c, &t, &t);
        A_D_ADD(c, r, 1.0, &t);
        A_MUL(c, r, r, r);
        A_MUL_D(c, &t, &t, 4.0);
        A_DIV(c, r, &t, r);
        break;
    case GA_ACT_RELU: A_SET_D(c, r, POS ? 1.0 : 0.0); break;
    case GA_ACT_LEAKY_RELU: A_SET_D(c, r, POS ? 1.0 : param); break;
    case GA_ACT_ELU: /* alpha exp(z) for z <= 0 */
        if (POS) {
            A_SET_D(c, r, 1.0);
        } else {
            A_EXP(c, r, z);
            A_MUL_D(c, r, r, param);
        }
        break;
    case GA_ACT_SOFTPLUS: A_SIGMOID(c, r, z); break;
    case GA_ACT_SILU: /* s(z) + z s(z) s(-z) */
        A_NEG(c, &t, z);
        A_SIGMOID(c, &t, &t);
        A_SIGMOID(c, r, z);
        A_MUL(c, &t, &t, r);
        A_MUL(c, &t, &t, z);
        A_ADD(c, r, r, &t);
        break;
    case GA_ACT_GELU: /* Phi(z) + z exp(-z^2/2) / sqrt(2 pi) */
        A_MUL(c, &t, z, z);
        A_MUL_D(c, &t, &t, -0.5);
        A_EXP(c, &t, &t);
        A_CONST_PI(c, r);
        A_MUL_D(c, r, r, 2.0);
        A_SQRT(c, r, r);
        A_DIV(c, &t, &t, r);
        A_MUL(c, &t, &t, z);
        REF_FN(gelu_cdf)(c, r, z);
        A_ADD(c, r, r, &t);
        break;
    case GA_ACT_GELU_TANH: { /* s(2u) + 2 z s(2u) s(-2u) du; the second term is 0
                                where s(-2u) is (u and du may be infinite there) */
        REF_T u, du;
        A_INIT(c, &u);
        A_INIT(c, &du);
        REF_FN(gelu_tanh_u)(c, &u, &du, z);
        A_MUL_D(c, &u, &u, 2.0);
        A_SIGMOID(c, r, &u);
        A_NEG(c, &u, &u);
        A_SIGMOID(c, &t, &u);
        if (A_CMP(c, &t, &zero) == 0) {
            A_SET(c, &t, &zero);
        } else {
            A_MUL(c, &t, &t, r);
            A_MUL(c, &t, &t, z);
            A_MUL_D(c, &t, &t, 2.0);
            A_MUL(c, &t, &t, &du);
        }
        A_ADD(c, r, r, &t);
        A_CLEAR(c, &du);
        A_CLEAR(c, &u);
        break;
    }
    default: A_SET_D(c, r, 1.0); break; /* identity */
    }
    A_CLEAR(c, &t);
    A_CLEAR(c, &zero);
}
#define A_ACT_VALUE(c, r, act, param, z) REF_FN(act_value)(c, r, act, param, z)
#define A_ACT_DERIV(c, r, act, param, z) REF_FN(act_deriv)(c, r, act, param, z)
#undef POS
