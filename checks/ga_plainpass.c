/* ga_plainpass.c: forward and backward in plain loops, every operation
 * passed through rnd(), which is the identity unless Monte Carlo arithmetic
 * is on. The formulas follow core/ga_activation.c and core/ga_loss.c. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_loss_internal.h"
#include "ga_ops.h"
#include "ga_plainpass.h"

#define ELEM_UNITS 4.0      /* elementary functions and the core's small formulas */

void ga_plain_options_default(ga_plain_options *o)
{
    memset(o, 0, sizeof *o);
    o->factor_scale = 1.0;
    o->bias_scale = 1.0;
    o->act_layer = o->bias_layer = o->transposed_layer = o->norm_no_mean = SIZE_MAX;
}

/* xorshift64* (Vigna 2016): plenty for perturbation signs and sizes */
static double uniform_pm1(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-52 - 1.0;
}

typedef struct {
    int on;
    uint64_t *state;
} perturb;

/* one rounding: v (1 + delta), |delta| <= units * 2^-40; below DBL_MIN,
 * where a double's rounding error is absolute (half the smallest subnormal,
 * 2^-1075 = 2^-53 DBL_MIN), v + delta DBL_MIN instead (for a normal v the
 * same draw and the same bits as before) */
static inline double rnd_u(const perturb *p, double v, double units)
{
    if (!p->on)
        return v;
    double delta = units * GA_PLAIN_VIRTUAL_U * uniform_pm1(p->state);
    return fabs(v) >= DBL_MIN ? v * (1.0 + delta) : v + delta * DBL_MIN;
}
#define R(v) rnd_u(pp, (v), 1.0)

/* The mutation suite's slip in gelu_tanh' (ga_mutate.h, gelu_tanh_cubic):
 * u = k (z + c z^3) differentiated as k (1 + c z^2), the factor 3 of z^3's
 * derivative dropped; every other activation's f' as the core has it. */
static double deriv_slip(ga_activation act, double param, double z)
{
    if (act != GA_ACT_GELU_TANH)
        return ga_act_deriv(act, param, z, ga_act_value(act, param, z));
    const double k = 0.7978845608028654, c = 0.044715;
    double z2 = z * z, u = k * (z * (1.0 + c * z2));
    double e = exp(-2.0 * fabs(u)), q = 1.0 + e;
    double s = u >= 0 ? 1.0 / q : e / q;
    return s + (e == 0.0 ? 0.0 : 2.0 * z * (e / (q * q)) * (k * (1.0 + c * z2)));
}
#define RE(v) rnd_u(pp, (v), ELEM_UNITS)

/* A dot product's roundings in one draw. Rounding every product p_j and
 * every partial sum s_j by an independent relative error, uniform on
 * [-t, t], adds to the result a first-order error of variance
 * t^2/3 * sum_j (p_j^2 + s_j^2) (each propagates into the result with
 * coefficient 1). One uniform draw scaled by sqrt(sum_j (p_j^2 + s_j^2))
 * has the same variance, which is all the spread estimate uses, at one
 * random number per dot product instead of two per term. */
typedef struct {
    double s, q;
    double n_sub; /* products below DBL_MIN: each rounds with an absolute error, up to
                     2^-53 DBL_MIN, that p^2 (0 in double) cannot carry */
} dot_acc;

static inline void dot_add(const perturb *pp, dot_acc *d, double p)
{
    d->s += p;
    if (pp->on) {
        d->q += p * p + d->s * d->s;
        if (p != 0 && fabs(p) < DBL_MIN)
            d->n_sub += 1;
    }
}

static inline double dot_result(const perturb *pp, const dot_acc *d)
{
    if (!pp->on)
        return d->s;
    double scale = d->n_sub ? sqrt(d->q) + sqrt(d->n_sub) * DBL_MIN : sqrt(d->q);
    return d->s + scale * GA_PLAIN_VIRTUAL_U * uniform_pm1(pp->state);
}

/* ---- the double arithmetics of the generic reference ------------------
 * Plain double (pp->on = 0: every operation as IEEE rounds it, index
 * order) and Monte Carlo double (every rounding perturbed as above). The
 * activations are the core's own routines (ga_act_value, ga_act_deriv),
 * perturbed as one elementary function: this arithmetic models the code
 * under test's roundings, so it evaluates f as the core does (sigmoid and
 * softplus: ga_sigmoid, ga_softplus, the loss's). */

#define REF_T double
#define REF_CTX const perturb
#define REF_FN(name) plain_##name
#define A_INIT(c, r) ((void)(c), (void)(r))
#define A_CLEAR(c, r) ((void)(c), (void)(r))
#define A_SET_D(c, r, d) (*(r) = (d))
#define A_SET(c, r, a) (*(r) = *(a))
#define A_ADD(c, r, a, b) (*(r) = rnd_u(c, *(a) + *(b), 1.0))
#define A_SUB(c, r, a, b) (*(r) = rnd_u(c, *(a) - *(b), 1.0))
#define A_MUL(c, r, a, b) (*(r) = rnd_u(c, *(a) * *(b), 1.0))
#define A_DIV(c, r, a, b) (*(r) = rnd_u(c, *(a) / *(b), 1.0))
#define A_ADD_D(c, r, a, d) (*(r) = rnd_u(c, *(a) + (d), 1.0))
#define A_SUB_D(c, r, a, d) (*(r) = rnd_u(c, *(a) - (d), 1.0))
#define A_MUL_D(c, r, a, d) (*(r) = rnd_u(c, *(a) * (d), 1.0))
#define A_DIV_D(c, r, a, d) (*(r) = rnd_u(c, *(a) / (d), 1.0))
#define A_D_ADD(c, r, d, a) (*(r) = rnd_u(c, (d) + *(a), 1.0))
#define A_D_SUB(c, r, d, a) (*(r) = rnd_u(c, (d) - *(a), 1.0))
#define A_D_DIV(c, r, d, a) (*(r) = rnd_u(c, (d) / *(a), 1.0))
#define A_NEG(c, r, a) (*(r) = -*(a))
#define A_ABS(c, r, a) (*(r) = fabs(*(a)))
#define A_SCALE_D(c, r, a, d) (*(r) = *(a) * (d))
#define A_SQRT(c, r, a) (*(r) = rnd_u(c, sqrt(*(a)), 1.0))
#define A_EXP(c, r, a) (*(r) = rnd_u(c, exp(*(a)), ELEM_UNITS))
#define A_EXPM1(c, r, a) (*(r) = rnd_u(c, expm1(*(a)), ELEM_UNITS))
#define A_LOG1P(c, r, a) (*(r) = rnd_u(c, log1p(*(a)), ELEM_UNITS))
#define A_TANH(c, r, a) (*(r) = rnd_u(c, tanh(*(a)), ELEM_UNITS))
#define A_SIGMOID(c, r, a) (*(r) = rnd_u(c, ga_sigmoid(*(a)), ELEM_UNITS))
#define A_SOFTPLUS(c, r, a) (*(r) = rnd_u(c, ga_softplus(*(a)), ELEM_UNITS))
#define A_CMP(c, a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define A_IS_ZERO_D(d) ((d) == 0.0)
#define A_DOT_T dot_acc
#define A_DOT_BEGIN(c, s) (*(s) = (dot_acc){0.0, 0.0, 0.0})
#define A_DOT_ADD_VD(c, s, a, d) dot_add(c, s, *(a) * (d))
#define A_DOT_ADD_VV(c, s, a, b) dot_add(c, s, *(a) * *(b))
#define A_DOT_ADD_V(c, s, a) dot_add(c, s, *(a))
#define A_DOT_END(c, r, s) (*(r) = dot_result(c, s))
#define A_ACT_VALUE(c, r, act, param, z) (*(r) = rnd_u(c, ga_act_value(act, param, *(z)), ELEM_UNITS))
#define A_ACT_DERIV_SLIP(c, r, act, param, z) (*(r) = rnd_u(c, deriv_slip(act, param, *(z)), ELEM_UNITS))
#define A_ACT_DERIV(c, r, act, param, z)                                                        \
    (*(r) = rnd_u(c, ga_act_deriv(act, param, *(z), ga_act_value(act, param, *(z))), ELEM_UNITS))
#include "ga_ref_tmpl.h"

int ga_plain_pass(double *loss, double *grad, ga_error *err, ga_workspace *ws, const ga_net *net,
                  const double *params, const double *x, const double *y, size_t batch,
                  ga_plain_options *o)
{
    if (!grad || !ws || !net || !params || !x || !y || !o)
        return ga_fail(err, GA_EINVAL, "plain pass: a required argument is NULL");
    if (batch == 0 || batch > ws->max_batch || ws->n_layers != net->desc.n_layers)
        return ga_fail(err, GA_EINVAL, "plain pass: batch %zu does not fit the workspace", batch);
    ga_graph *g;
    int status = ga_net_check_ids(err, &net->desc, x, batch);
    if (status || (status = ga_graph_from_net(&g, err, net)))
        return status;
    double **val = malloc(g->n_values * sizeof *val);
    if (!val) {
        ga_graph_free(g);
        return ga_fail(err, GA_ENOMEM, "plain pass: out of memory");
    }
    /* the values live in the workspace: z[l] for a stage's dense op, a[l]
     * for its activation (ga_rounding reads the z of perturbed runs there) */
    val[0] = (double *)x; /* read only */
    for (size_t st = 0; st < g->n_stages; st++)
        for (size_t i = g->stage_op[st]; i < g->stage_op[st + 1]; i++) {
            const ga_op *op = &g->ops[i];
            /* a norm's xh in z, its r in dact (B of its entries), its output in a */
            val[op->output] = op->kind == GA_OP_DENSE || op->kind == GA_OP_CONV ||
                                      op->kind == GA_OP_LAYERNORM || op->kind == GA_OP_RMSNORM ||
                                      op->kind == GA_OP_BATCHNORM
                                  ? ws->z[st] : ws->a[st];
            if (op->output2 != GA_OP_NONE && op->kind != GA_OP_ATTN && op->kind != GA_OP_RNN)
                val[op->output2] = ws->dact[st];
        }
    /* attention's weights (B, H T T) do not fit a layer's arrays: their own */
    size_t n_att = 0;
    for (size_t i = 0; i < g->n_ops; i++)
        if (g->ops[i].kind == GA_OP_ATTN || g->ops[i].kind == GA_OP_RNN)
            n_att += batch * g->width[g->ops[i].output2];
    double *att = malloc((n_att ? n_att : 1) * sizeof *att);
    if (!att) {
        free(val);
        ga_graph_free(g);
        return ga_fail(err, GA_ENOMEM, "plain pass: out of memory for attention weights");
    }
    for (size_t i = 0, off = 0; i < g->n_ops; i++)
        if (g->ops[i].kind == GA_OP_ATTN || g->ops[i].kind == GA_OP_RNN) {
            val[g->ops[i].output2] = att + off;
            off += batch * g->width[g->ops[i].output2];
        }
    double *scratch = NULL; /* a net that is not a chain: a gradient per value */
    if (!g->chain) {
        ga_pass_sizes ps;
        if (!ga_graph_pass_sizes(&ps, g, batch) || !(scratch = malloc(ps.n_delta * sizeof *scratch))) {
            free(att);
            free(val);
            ga_graph_free(g);
            return ga_fail(err, GA_ENOMEM, "plain pass: out of memory for the gradients");
        }
    }
    const perturb pert = {o->mca, &o->mca_state};
    const ga_ref_faults faults = {o->factor_scale, o->no_decay, o->ce_no_softmax, o->act_layer,
                                  o->act_missing, o->bias_layer, o->bias_scale, o->transposed_layer,
                                  o->norm_no_mean, o->embed_overwrite, o->conv_flip,
                                  o->attn_no_scale, o->rnn_short, o->bn_no_var,
                                  o->add_no_skip, o->mask_forgotten, o->pool_last_max};
    double L;
    plain_forward(&pert, &L, val, g, net, params, x, y, batch);
    if (loss)
        *loss = L;
    plain_backward(&pert, grad, val, scratch ? scratch : ws->delta, ws->delta_prev, g, net, params,
                   x, y, batch, &faults);
    free(scratch);
    free(att);
    free(val);
    ga_graph_free(g);
    return GA_OK;
}
