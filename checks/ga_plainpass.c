/* ga_plainpass.c: forward and backward in plain loops, every operation
 * passed through rnd(), which is the identity unless Monte Carlo arithmetic
 * is on. The formulas follow core/ga_activation.c and core/ga_loss.c. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_plainpass.h"

#define ELEM_UNITS 4.0      /* elementary functions and the core's small formulas */

void ga_plain_options_default(ga_plain_options *o)
{
    memset(o, 0, sizeof *o);
    o->factor_scale = 1.0;
    o->bias_scale = 1.0;
    o->act_layer = o->bias_layer = o->transposed_layer = SIZE_MAX;
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

static double sigmoid(double z)
{
    double e = exp(-fabs(z));
    return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static double softplus(double z)
{
    return (z > 0 ? z : 0.0) + log1p(exp(-fabs(z)));
}

static size_t fan_in_of(const ga_net *net, size_t l)
{
    return l ? net->desc.layers[l - 1].n_out : net->desc.n_in;
}

/* dz (n) = da (n) through layer L's activation; `mutate` applies the bug */
static void chain(const perturb *pp, double *dz, const double *da, const ga_layer_desc *L,
                  const double *z, const double *a, size_t n, int mutate, int missing)
{
    if (mutate && missing) {
        memmove(dz, da, n * sizeof *dz);
        return;
    }
    if (L->act == GA_ACT_SOFTMAX) { /* dz_j = a_j (da_j - sum_k a_k da_k) */
        double s = 0.0;
        for (size_t k = 0; k < n; k++)
            s = R(s + R(a[k] * da[k]));
        for (size_t k = 0; k < n; k++)
            dz[k] = R(a[k] * R(da[k] - s));
        return;
    }
    if (L->act == GA_ACT_IDENTITY) {
        memmove(dz, da, n * sizeof *dz);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        double at = mutate ? a[k] : z[k]; /* the bug: f' taken at a */
        double d = ga_act_deriv(L->act, L->act_param, at, ga_act_value(L->act, L->act_param, at));
        dz[k] = R(da[k] * RE(d));
    }
}

static double sample_term(const perturb *pp, ga_loss_kind kind, const double *z, const double *a,
                          const double *y, size_t n)
{
    double t = 0.0;
    switch (kind) {
    case GA_LOSS_MSE:
        for (size_t k = 0; k < n; k++) {
            double d = R(a[k] - y[k]);
            t = R(t + R(d * d));
        }
        return t;
    case GA_LOSS_BCE:
    case GA_LOSS_BCE_LOGITS:
        for (size_t k = 0; k < n; k++)
            t = R(t + R(R(y[k] * RE(softplus(-z[k]))) + R(R(1.0 - y[k]) * RE(softplus(z[k])))));
        return t;
    default: { /* softmax_ce, cce: sum_k y_k ((m - z_k) + log1p(r)) */
        size_t jmax = 0;
        for (size_t k = 1; k < n; k++)
            if (z[k] > z[jmax])
                jmax = k;
        double m = z[jmax], r = 0.0;
        for (size_t k = 0; k < n; k++)
            if (k != jmax)
                r = R(r + RE(exp(R(z[k] - m))));
        double log_s = RE(log1p(r));
        for (size_t k = 0; k < n; k++)
            if (y[k] != 0.0)
                t = R(t + R(y[k] * R(R(m - z[k]) + log_s)));
        return t;
    }
    }
}

static void sample_dz(const perturb *pp, double *dz, ga_loss_kind kind, const double *z,
                      const double *a, const double *y, size_t n, double factor, int no_softmax)
{
    if (no_softmax) {
        for (size_t k = 0; k < n; k++)
            dz[k] = R(factor * R(z[k] - y[k]));
        return;
    }
    switch (kind) {
    case GA_LOSS_MSE:
        for (size_t k = 0; k < n; k++)
            dz[k] = R(factor * R(2.0 * R(a[k] - y[k])));
        return;
    case GA_LOSS_BCE:
    case GA_LOSS_BCE_LOGITS: /* (1-y) s(z) - y s(-z) */
        for (size_t k = 0; k < n; k++)
            dz[k] = R(factor * R(R(R(1.0 - y[k]) * RE(sigmoid(z[k]))) - R(y[k] * RE(sigmoid(-z[k])))));
        return;
    default: { /* p (Y - y) - y (1 - p), 1 - p = r / s for the largest logit */
        size_t jmax = 0;
        for (size_t k = 1; k < n; k++)
            if (z[k] > z[jmax])
                jmax = k;
        double m = z[jmax], r = 0.0, sy = 0.0;
        for (size_t k = 0; k < n; k++) {
            sy = R(sy + y[k]);
            if (k != jmax)
                r = R(r + RE(exp(R(z[k] - m))));
        }
        double s = R(1.0 + r);
        for (size_t k = 0; k < n; k++) {
            double p = k == jmax ? R(1.0 / s) : R(RE(exp(R(z[k] - m))) / s);
            double q = k == jmax ? R(r / s) : R(1.0 - p);
            dz[k] = R(factor * R(R(p * R(sy - y[k])) - R(y[k] * q)));
        }
        return;
    }
    }
}

int ga_plain_pass(double *loss, double *grad, ga_error *err, ga_workspace *ws, const ga_net *net,
                  const double *params, const double *x, const double *y, size_t batch,
                  ga_plain_options *o)
{
    if (!grad || !ws || !net || !params || !x || !y || !o)
        return ga_fail(err, GA_EINVAL, "plain pass: a required argument is NULL");
    if (batch == 0 || batch > ws->max_batch || ws->n_layers != net->desc.n_layers)
        return ga_fail(err, GA_EINVAL, "plain pass: batch %zu does not fit the workspace", batch);
    const perturb pert = {o->mca, &o->mca_state}, *pp = &pert;
    const ga_net_desc *d = &net->desc;
    const ga_loss_desc *ld = &d->loss;
    size_t last = d->n_layers - 1, n_last = d->layers[last].n_out;

    /* forward: z[n,k] = (sum_j a[n,j] W(k,j)) + b[k] */
    const double *a_prev = x;
    for (size_t l = 0; l < d->n_layers; l++) {
        const ga_layer_desc *L = &d->layers[l];
        const ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
        size_t fan_in = fan_in_of(net, l), fan_out = L->n_out;
        double *z = ws->z[l], *a = ws->a[l];
        for (size_t n = 0; n < batch; n++) {
            for (size_t k = 0; k < fan_out; k++) {
                dot_acc acc = {0.0, 0.0, 0.0};
                for (size_t j = 0; j < fan_in; j++)
                    dot_add(pp, &acc, a_prev[n * fan_in + j] * params[ga_weight_index(net, W, k, j)]);
                z[n * fan_out + k] = R(dot_result(pp, &acc) + params[b->offset + k]);
            }
            double *zn = z + n * fan_out, *an = a + n * fan_out;
            if (L->act == GA_ACT_SOFTMAX) {
                double m = zn[0], s = 0.0;
                for (size_t k = 1; k < fan_out; k++)
                    m = zn[k] > m ? zn[k] : m;
                for (size_t k = 0; k < fan_out; k++)
                    s = R(s + (an[k] = RE(exp(R(zn[k] - m)))));
                for (size_t k = 0; k < fan_out; k++)
                    an[k] = R(an[k] / s);
            } else {
                for (size_t k = 0; k < fan_out; k++)
                    an[k] = L->act == GA_ACT_IDENTITY ? zn[k] : RE(ga_act_value(L->act, L->act_param, zn[k]));
            }
        }
        a_prev = a;
    }
    double sum = 0.0;
    for (size_t n = 0; n < batch; n++)
        sum = R(sum + sample_term(pp, ld->kind, ws->z[last] + n * n_last, ws->a[last] + n * n_last,
                                  y + n * n_last, n_last));
    double N = ld->reduction == GA_REDUCE_MEAN ? (double)batch * (double)n_last
               : ld->reduction == GA_REDUCE_BATCH_MEAN ? (double)batch : 1.0;
    double L = R(ld->scale * (N == 1.0 ? sum : R(sum / N)));
    if (ld->weight_decay != 0.0) {
        double sq = 0.0;
        for (size_t l = 0; l < d->n_layers; l++) {
            const ga_view *W = &net->views[2 * l];
            for (size_t i = 0; i < W->rows * W->cols; i++)
                sq = R(sq + R(params[W->offset + i] * params[W->offset + i]));
        }
        L = R(L + R(R(0.5 * ld->weight_decay) * sq));
    }
    if (loss)
        *loss = L;

    /* backward */
    double factor = R(R(ld->scale / N) * o->factor_scale);
    double *delta = ws->delta, *delta_prev = ws->delta_prev;
    for (size_t n = 0; n < batch; n++) {
        const double *z = ws->z[last] + n * n_last, *a = ws->a[last] + n * n_last;
        double *dz = delta + n * n_last;
        sample_dz(pp, dz, ld->kind, z, a, y + n * n_last, n_last, factor, o->ce_no_softmax);
        if (ld->kind == GA_LOSS_MSE)
            chain(pp, dz, dz, &d->layers[last], z, a, n_last, o->act_layer == last, o->act_missing);
    }
    for (size_t l = d->n_layers; l-- > 0;) {
        const ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
        size_t fan_in = fan_in_of(net, l), fan_out = d->layers[l].n_out;
        const double *ap = l ? ws->a[l - 1] : x; /* (B, fan_in) */
        for (size_t k = 0; k < fan_out; k++)
            for (size_t j = 0; j < fan_in; j++) {
                dot_acc acc = {0.0, 0.0, 0.0};
                for (size_t n = 0; n < batch; n++)
                    dot_add(pp, &acc, delta[n * fan_out + k] * ap[n * fan_in + j]);
                double s = dot_result(pp, &acc);
                if (!o->no_decay && ld->weight_decay != 0.0)
                    s = R(s + R(ld->weight_decay * params[ga_weight_index(net, W, k, j)]));
                size_t at = o->transposed_layer == l
                                ? W->offset + (d->layout == GA_LAYOUT_COLUMN ? j * fan_out + k
                                                                             : k * fan_in + j)
                                : ga_weight_index(net, W, k, j);
                grad[at] = s;
            }
        for (size_t k = 0; k < fan_out; k++) {
            dot_acc acc = {0.0, 0.0, 0.0};
            for (size_t n = 0; n < batch; n++)
                dot_add(pp, &acc, delta[n * fan_out + k]);
            double s = dot_result(pp, &acc);
            grad[b->offset + k] = o->bias_layer == l ? s * o->bias_scale : s;
        }
        if (l == 0)
            break;
        for (size_t n = 0; n < batch; n++) {
            double *da = delta_prev + n * fan_in;
            for (size_t j = 0; j < fan_in; j++) {
                dot_acc acc = {0.0, 0.0, 0.0};
                for (size_t k = 0; k < fan_out; k++)
                    dot_add(pp, &acc, delta[n * fan_out + k] * params[ga_weight_index(net, W, k, j)]);
                da[j] = dot_result(pp, &acc);
            }
            chain(pp, da, da, &d->layers[l - 1], ws->z[l - 1] + n * fan_in,
                  ws->a[l - 1] + n * fan_in, fan_in, o->act_layer == l - 1, o->act_missing);
        }
        double *t = delta;
        delta = delta_prev;
        delta_prev = t;
    }
    return GA_OK;
}
