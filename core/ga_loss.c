/* ga_loss.c: loss names, valid output activations, and the per-sample terms. */
#include <math.h>
#include <string.h>

#include "ga_core.h"
#include "ga_loss_internal.h"

static const char *const loss_names[GA_LOSS_COUNT] = {
    "mse", "bce", "bce_logits", "softmax_ce", "cce", "dot",
};
static const char *const reduction_names[GA_REDUCE_COUNT] = {"sum", "mean", "batch_mean"};

const char *ga_loss_name(ga_loss_kind k)
{
    return (unsigned)k < GA_LOSS_COUNT ? loss_names[k] : "?";
}

int ga_loss_from_name(ga_loss_kind *out, const char *name)
{
    for (int i = 0; i < GA_LOSS_COUNT; i++)
        if (name && !strcmp(name, loss_names[i])) {
            *out = (ga_loss_kind)i;
            return GA_OK;
        }
    return GA_EINVAL;
}

const char *ga_reduction_name(ga_reduction r)
{
    return (unsigned)r < GA_REDUCE_COUNT ? reduction_names[r] : "?";
}

int ga_reduction_from_name(ga_reduction *out, const char *name)
{
    for (int i = 0; i < GA_REDUCE_COUNT; i++)
        if (name && !strcmp(name, reduction_names[i])) {
            *out = (ga_reduction)i;
            return GA_OK;
        }
    return GA_EINVAL;
}

/* The output activation each loss is defined on: mse takes any output; the
 * probability losses need the squashing that makes their input a probability;
 * the logit losses fuse that squashing themselves and need a raw output. */
int ga_loss_check_pair(ga_error *err, ga_loss_kind k, ga_activation out_act)
{
    ga_activation need;
    switch (k) {
    case GA_LOSS_MSE:
    case GA_LOSS_DOT: return GA_OK;
    case GA_LOSS_BCE: need = GA_ACT_SIGMOID; break;
    case GA_LOSS_BCE_LOGITS: need = GA_ACT_IDENTITY; break;
    case GA_LOSS_SOFTMAX_CE: need = GA_ACT_IDENTITY; break;
    case GA_LOSS_CCE: need = GA_ACT_SOFTMAX; break;
    default: return ga_fail(err, GA_EINVAL, "unknown loss %d", (int)k);
    }
    if (out_act == need)
        return GA_OK;
    return ga_fail(err, GA_EINVAL,
                   "loss \"%s\" needs the last layer's activation to be \"%s\", not \"%s\"",
                   ga_loss_name(k), ga_activation_name(need), ga_activation_name(out_act));
}

double ga_bce_prob_term(double p, double y)
{
    /* -(y log p + (1-y) log(1-p)) with 0*log(0) = 0 */
    double t = 0.0;
    if (y != 0.0)
        t -= y * log(p);
    if (y != 1.0)
        t -= (1.0 - y) * log1p(-p);
    return t;
}

double ga_cce_prob_term(const double *p, const double *y, size_t n)
{
    double t = 0.0;
    for (size_t k = 0; k < n; k++)
        if (y[k] != 0.0)
            t -= y[k] * log(p[k]);
    return t;
}

double ga_loss_sample_term(ga_loss_kind kind, const double *z, const double *a, const double *y,
                           size_t n, double *e)
{
    double t = 0.0;
    switch (kind) {
    case GA_LOSS_MSE:
        for (size_t k = 0; k < n; k++) {
            double d = a[k] - y[k];
            t += d * d;
        }
        return t;
    case GA_LOSS_DOT:
        for (size_t k = 0; k < n; k++)
            t += y[k] * a[k];
        return t;
    case GA_LOSS_BCE:        /* through z = logit of the sigmoid output: log p = -softplus(-z) */
    case GA_LOSS_BCE_LOGITS: /* max(z,0) - z y + log1p(exp(-|z|)) = y softplus(-z) + (1-y) softplus(z) */
        for (size_t k = 0; k < n; k++)
            t += y[k] * ga_softplus(-z[k]) + (1.0 - y[k]) * ga_softplus(z[k]);
        return t;
    case GA_LOSS_SOFTMAX_CE: /* sum_k y_k (logsumexp(z) - z_k) */
    case GA_LOSS_CCE: {      /* softmax output: log p_k = z_k - logsumexp(z) */
        /* logsumexp(z) - z_k = (m - z_k) + log1p(r), m = max z, r = the sum of
         * exp(z_j - m) over every j but the first maximum: the log1p keeps the
         * tiny loss of a confident, correct prediction instead of rounding
         * m + log(1 + r) - m to zero. */
        size_t jmax = 0;
        for (size_t k = 1; k < n; k++)
            if (z[k] > z[jmax])
                jmax = k;
        double m = z[jmax], r = 0.0;
        for (size_t k = 0; k < n; k++)
            if (k != jmax) {
                double ek = exp(z[k] - m);
                r += ek;
                if (e)
                    e[k] = ek;
            }
        double log_s = log1p(r);
        for (size_t k = 0; k < n; k++)
            if (y[k] != 0.0)
                t += y[k] * ((m - z[k]) + log_s);
        return t;
    }
    default: return NAN;
    }
}

int ga_loss_fuses_output(ga_loss_kind kind)
{
    return kind != GA_LOSS_MSE && kind != GA_LOSS_DOT;
}

void ga_loss_sample_dz(double *dz, ga_loss_kind kind, const double *z, const double *a,
                       const double *y, size_t n, double factor, const double *e)
{
    switch (kind) {
    case GA_LOSS_BCE:
    case GA_LOSS_BCE_LOGITS:
        /* d/dz = sigmoid(z) - y = (1-y) sigmoid(z) - y sigmoid(-z): each term
         * accurate, so no cancellation where sigmoid(z) rounds to 0 or 1 */
        for (size_t k = 0; k < n; k++)
            dz[k] = factor * ((1.0 - y[k]) * ga_sigmoid(z[k]) - y[k] * ga_sigmoid(-z[k]));
        return;
    case GA_LOSS_SOFTMAX_CE:
    case GA_LOSS_CCE: {
        /* d/dz_j = p_j sum_k y_k - y_j = p_j (Y - y_j) - y_j (1 - p_j), with
         * p = softmax(z) and Y = sum y. Both terms are >= 0 for targets >= 0,
         * so only a true cancellation loses digits. 1 - p_j is computed as
         * r / (1 + r) for the largest logit (r = sum of exp(z_l - max) over the
         * others), where p_j is near 1 and 1 - p_j would cancel; elsewhere
         * p_j <= 1/2 and 1 - p_j is exact to rounding. */
        (void)a;
        size_t jmax = 0;
        for (size_t k = 1; k < n; k++)
            if (z[k] > z[jmax])
                jmax = k;
        double m = z[jmax], r = 0.0, sy = 0.0;
        for (size_t k = 0; k < n; k++) { /* dz keeps exp(z_k - m) for the loop below */
            sy += y[k];
            if (k != jmax)
                r += (dz[k] = e ? e[k] : exp(z[k] - m));
        }
        double s = 1.0 + r;
        for (size_t k = 0; k < n; k++) {
            double p = k == jmax ? 1.0 / s : dz[k] / s;
            double one_minus_p = k == jmax ? r / s : 1.0 - p;
            dz[k] = factor * (p * (sy - y[k]) - y[k] * one_minus_p);
        }
        return;
    }
    case GA_LOSS_DOT:
        /* d/da (y a) = y: the caller chains through the activation */
        for (size_t k = 0; k < n; k++)
            dz[k] = factor * y[k];
        return;
    case GA_LOSS_MSE:
    default:
        /* d/da (a - y)^2 = 2 (a - y): the caller chains through the activation */
        for (size_t k = 0; k < n; k++)
            dz[k] = factor * (2.0 * (a[k] - y[k]));
        return;
    }
}
