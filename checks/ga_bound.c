/* ga_bound.c: a running error bound for the double forward and backward passes.
 *
 * The pass mirrors core/ga_backprop.c and core/ga_loss.c formula by formula,
 * but on magnitudes M(q) instead of values (see ga_check.h): the bound on the
 * computed q is gamma_n M(q). Why this is a bound (Higham, Accuracy and
 * Stability of Numerical Algorithms, 2nd ed., ch. 3):
 *   - a dot product of length m computed in any order (BLAS or the reference
 *     loop, with or without FMA) has |fl(x.y) - x.y| <= gamma_m |x|.|y|
 *     (eq. 3.5); a bias add is one more rounding;
 *   - when the factors carry errors theta_a, theta_b of their own, the
 *     product's relative perturbation is (1+theta_a)(1+theta_b)(1+delta),
 *     bounded by gamma_{n_a + n_b + 1} (Lemma 3.3): rounding counts ADD
 *     along products, so the count for a gradient entry includes the forward
 *     count of every factor multiplied in (activation derivatives, the
 *     previous layer's activations), not just the longest chain of sums;
 *   - an elementary function evaluated at a perturbed argument is perturbed
 *     by |f'(a)| |delta a| to first order, plus its own rounding, which we
 *     budget at GA_ELEM_ULPS units: glibc documents exp, log, log1p, expm1
 *     and tanh within 1-2 ulps on x86_64, and the core's formulas (sigmoid as
 *     e/(1+e), its derivative as e/((1+e)(1+e)), softplus as max + log1p(exp))
 *     add at most 4 correctly rounded operations.
 * The counts are kept per layer as scalars (the worst unit of the layer) and
 * the final n is the largest over all gradient entries; it is reported.
 * The bound is first order: the neglected O(u^2) terms are below 1e-30
 * relative for any n the core accepts in practice (n u < 1e-6).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_loss_internal.h"

#define GA_ELEM_ULPS 8
/* Gradual underflow: below DBL_MIN a product, quotient or function value
 * rounds with an absolute error up to 2^-1075 = 2^-53 DBL_MIN, which no
 * relative bound carries (sums of subnormals are exact). Every such
 * operation's magnitude gets DBL_MIN added, so that gamma_n M, gamma_n >=
 * 2^-53, covers it, propagated like any other error. Above about 2^-970
 * the addition changes no bit of M. (Found with a net whose gradients are
 * near 1e-318: the core's correct values were 2-5 subnormal ulps off the
 * exact ones against a bound of none.) */
#define TINY DBL_MIN

static double gamma_of(size_t n)
{
    double nu = (double)n * GA_U;
    return nu < 0.5 ? nu / (1.0 - nu) : INFINITY;
}

static size_t fan_in_of(const ga_net *net, size_t l)
{
    return l == 0 ? net->desc.n_in : net->desc.layers[l - 1].n_out;
}

/* |f''(z)| for the elementwise activations (0 on the linear pieces), from
 * e = exp(-|z|) without cancellation: s (1 - s) and 1 - t^2 are 0 in
 * double once s or t rounds to 1 (|z| > 37 or 19), and a bound built on
 * them lost the error z's rounding carries into f'(z) at saturation (found
 * by fuzz/fuzz_check: sigmoid at z = 123.68, f'(z) wrong by 36 ulps against
 * a bound of 1). sigmoid'' = s' (1 - 2s), |1 - 2s| = (1 - e) / (1 + e);
 * softplus'' = sigmoid'; tanh'' = -2 t sech^2, sech^2 = 4 e2 / (1 + e2)^2,
 * e2 = exp(-2|z|). */
static double act_second(ga_activation a, double p, double z)
{
    switch (a) {
    case GA_ACT_SIGMOID:
    case GA_ACT_SOFTPLUS: {
        double e = exp(-fabs(z)), d = e / ((1.0 + e) * (1.0 + e));
        return a == GA_ACT_SIGMOID ? d * (1.0 - e) / (1.0 + e) : d;
    }
    case GA_ACT_TANH: {
        double e2 = exp(-2.0 * fabs(z));
        return 2.0 * fabs(tanh(z)) * 4.0 * e2 / ((1.0 + e2) * (1.0 + e2));
    }
    case GA_ACT_ELU: return z > 0 ? 0.0 : fabs(p) * exp(z);
    case GA_ACT_IDENTITY:
    case GA_ACT_RELU:
    case GA_ACT_LEAKY_RELU:
    case GA_ACT_SOFTMAX: return 0.0;
    default: return ga_activation_lipschitz_deriv(a, p); /* no tuned formula: sup |f''| */
    }
}


/* |f'| for propagating an argument error through f: the derivative at z,
 * or, when z is within its rounding bound zerr of a kink, the larger
 * one-sided slope there (f is Lipschitz with that constant across the kink,
 * whatever side the exact z lies on). */
static double lip(ga_activation a, double p, double z, double zerr, double aval)
{
    if (ga_activation_is_generic(a)) /* sup |f'|: also covers the core's f' where its terms cancel */
        return ga_activation_lipschitz(a, p);
    if (ga_activation_has_kink(a, p) && fabs(z) <= zerr) {
        double other = a == GA_ACT_RELU ? 0.0 : fabs(p);
        return other > 1.0 ? other : 1.0;
    }
    return fabs(ga_act_deriv(a, p, z, aval));
}

void ga_bound_free(ga_bound *b)
{
    if (!b)
        return;
    free(b->buf);
    free(b->z);
    free(b->grad_mag);
    free(b);
}

/* Layout of buf: z[l], z_err[l], Ma[l] for every layer (B * n_out each),
 * then two (B, max width) delta magnitudes. */
typedef struct {
    double **Ma;        /* Ma[l] (B, n_out(l)) */
    double *Md, *Md_prev; /* (B, max width) */
} bound_scratch;

int ga_bound_alloc(ga_bound **out, ga_error *err, const ga_net *net, size_t max_batch)
{
    *out = NULL;
    if (!net || max_batch == 0)
        return ga_fail(err, GA_EINVAL, "ga_bound_alloc: no net or zero batch");
    const ga_net_desc *d = &net->desc;
    size_t per = 0, maxw = d->n_in;
    for (size_t l = 0; l < d->n_layers; l++) {
        per += 3 * d->layers[l].n_out;
        if (d->layers[l].n_out > maxw)
            maxw = d->layers[l].n_out;
    }
    per += 2 * maxw;
    if (per > SIZE_MAX / sizeof(double) / max_batch)
        return ga_fail(err, GA_ERANGE, "error-bound workspace overflows for batch %zu", max_batch);
    ga_bound *b = calloc(1, sizeof *b);
    if (!b)
        return ga_fail(err, GA_ENOMEM, "out of memory for the error bound");
    b->n_params = net->n_params;
    b->n_layers = d->n_layers;
    b->buf = malloc(per * max_batch * sizeof(double));
    b->z = malloc(3 * d->n_layers * sizeof(double *));
    b->grad_mag = malloc(2 * net->n_params * sizeof(double));
    if (!b->buf || !b->z || !b->grad_mag) {
        ga_bound_free(b);
        return ga_fail(err, GA_ENOMEM, "out of memory for the error bound (%zu parameters)",
                       net->n_params);
    }
    b->z_err = b->z + d->n_layers;
    b->grad_err = b->grad_mag + net->n_params;
    b->batch = max_batch;
    double *p = b->buf;
    for (size_t l = 0; l < d->n_layers; l++) {
        b->z[l] = p;
        p += max_batch * d->layers[l].n_out;
        b->z_err[l] = p;
        p += max_batch * d->layers[l].n_out;
    }
    *out = b;
    return GA_OK;
}

int ga_bound_compute(ga_bound *b, ga_error *err, ga_workspace *ws, const ga_net *net,
                     const double *params, const double *x, const double *y, size_t batch)
{
    const ga_net_desc *d = &net->desc;
    if (batch > b->batch || b->n_params != net->n_params)
        return ga_fail(err, GA_EINVAL, "ga_bound_compute: bound sized for another net or batch");
    int status = ga_forward(&b->loss, ws, net, params, x, y, batch);
    if (status == GA_ENONFINITE)
        return ga_fail(err, status, "the data (x or y) contains NaN or Inf");
    if (status)
        return ga_fail(err, status, "forward pass failed: %s", ga_strerror(status));
    if (!ga_net_desc_is_chain(d)) {
        /* Norms and residual adds have no magnitude pass here: no bound
         * (infinite). Their verdicts come from the oracle's enclosure
         * (ga_enclose.c, enclose_graph). */
        b->loss_mag = INFINITY;
        b->n_loss = b->n_grad = 0;
        b->gamma_loss = b->gamma_grad = INFINITY;
        b->loss_err = INFINITY;
        for (size_t i = 0; i < net->n_params; i++) {
            b->grad_mag[i] = INFINITY;
            b->grad_err[i] = INFINITY;
        }
        for (size_t l = 0; l < d->n_layers; l++)
            for (size_t i = 0; i < batch * d->layers[l].n_out; i++) {
                b->z[l][i] = ws->z[l][i];
                b->z_err[l][i] = INFINITY;
            }
        return GA_OK;
    }

    size_t L = d->n_layers, maxw = d->n_in;
    for (size_t l = 0; l < L; l++)
        if (d->layers[l].n_out > maxw)
            maxw = d->layers[l].n_out;
    /* scratch after the z / z_err blocks */
    double *p = b->buf;
    for (size_t l = 0; l < L; l++)
        p += 2 * b->batch * d->layers[l].n_out;
    double **Ma = malloc(L * sizeof *Ma);
    size_t *nA = malloc(3 * (L + 1) * sizeof *nA);
    if (!Ma || !nA) {
        free(Ma);
        free(nA);
        return ga_fail(err, GA_ENOMEM, "out of memory for the error bound");
    }
    size_t *nZ = nA + (L + 1), *nDer = nZ + (L + 1);
    for (size_t l = 0; l < L; l++) {
        Ma[l] = p;
        p += b->batch * d->layers[l].n_out;
    }
    double *Md = p, *Md_prev = p + b->batch * maxw;

    /* ---- forward magnitudes ---- */
    /* nA[l]: roundings in the input of layer l (nA[0] = 0: data exact);
     * nZ[l] = nA[l] + fan_in + 1 (dot product and bias);
     * nA[l+1] = nZ[l] + budget (elementwise) or + n_out + 4 (softmax);
     * nDer[l] = nZ[l] + budget (f' is computed from z). */
    nA[0] = 0;
    for (size_t l = 0; l < L; l++) {
        const ga_layer_desc *Ld = &d->layers[l];
        const ga_view *W = &net->views[2 * l], *bv = &net->views[2 * l + 1];
        size_t fi = fan_in_of(net, l), fo = Ld->n_out;
        const double *Mprev = l == 0 ? NULL : Ma[l - 1];
        nZ[l] = nA[l] + fi + 1;
        double gz = gamma_of(nZ[l]);
        for (size_t n = 0; n < batch; n++) {
            for (size_t k = 0; k < fo; k++) {
                double s = fabs(params[bv->offset + k]);
                for (size_t j = 0; j < fi; j++) {
                    double ma = Mprev ? Mprev[n * fi + j] : fabs(x[n * fi + j]);
                    s += ma * fabs(params[ga_weight_index(net, W, k, j)]) + TINY;
                }
                b->z[l][n * fo + k] = ws->z[l][n * fo + k];
                b->z_err[l][n * fo + k] = gz * s;
                Ma[l][n * fo + k] = s; /* Mz for now */
            }
            double *m = Ma[l] + n * fo;
            const double *z = ws->z[l] + n * fo, *a = ws->a[l] + n * fo;
            if (Ld->act == GA_ACT_SOFTMAX) {
                /* d log p_k / d z_j = delta_kj - p_j: M(p_k) = p_k (1 + Mz_k + sum_j p_j Mz_j) */
                double sp = 0.0;
                for (size_t k = 0; k < fo; k++)
                    sp += a[k] * m[k];
                for (size_t k = 0; k < fo; k++)
                    m[k] = a[k] * (1.0 + m[k] + sp) + TINY;
            } else {
                for (size_t k = 0; k < fo; k++) {
                    double fd = lip(Ld->act, Ld->act_param, z[k], gz * m[k], a[k]);
                    m[k] = fabs(a[k]) + fd * m[k] + TINY;
                }
            }
        }
        nDer[l] = nZ[l] + GA_ELEM_ULPS;
        nA[l + 1] = nZ[l] + (Ld->act == GA_ACT_SOFTMAX ? fo + 4 : GA_ELEM_ULPS);
    }

    /* ---- the loss and the output delta ---- */
    const ga_loss_desc *ld = &d->loss;
    size_t last = L - 1, no = d->layers[last].n_out;
    double D = 1.0;
    if (ld->reduction == GA_REDUCE_MEAN)
        D = (double)batch * (double)no;
    else if (ld->reduction == GA_REDUCE_BATCH_MEAN)
        D = (double)batch;
    double factor = fabs(ld->scale) / D;
    const double *Zl = ws->z[last], *Al = ws->a[last];
    /* recompute Mz of the last layer (Ma[last] now holds M(a)) */
    double lossM = 0.0;
    size_t n_term = 0, n_delta = 0;
    for (size_t n = 0; n < batch; n++) {
        const double *z = Zl + n * no, *a = Al + n * no, *yy = y + n * no;
        const double *ma = Ma[last] + n * no, *zerr = b->z_err[last] + n * no;
        double gz = gamma_of(nZ[last]);
        double *md = Md + n * no;
        double term = 0.0;
        switch (ld->kind) {
        case GA_LOSS_BCE:
        case GA_LOSS_BCE_LOGITS:
            for (size_t k = 0; k < no; k++) {
                double mz = zerr[k] / gz, s = ga_sigmoid(z[k]), sm = ga_sigmoid(-z[k]);
                double ds = s * sm;
                double ay = fabs(yy[k]), a1y = 1.0 + ay;
                /* y softplus(-z) + (1-y) softplus(z); softplus' = sigmoid */
                term += ay * (ga_softplus(-z[k]) + sm * mz) + a1y * (ga_softplus(z[k]) + s * mz) +
                        TINY;
                /* factor ((1-y) s(z) - y s(-z)) */
                md[k] = factor * (a1y * (s + ds * mz) + ay * (sm + ds * mz)) + TINY;
            }
            n_term = nZ[last] + GA_ELEM_ULPS + 4;
            n_delta = nZ[last] + GA_ELEM_ULPS + 6;
            break;
        case GA_LOSS_SOFTMAX_CE:
        case GA_LOSS_CCE: {
            double mmax = 0.0, zmax = z[0], sy = 0.0, sp = 0.0;
            for (size_t k = 0; k < no; k++) {
                double mz = zerr[k] / gz;
                if (mz > mmax)
                    mmax = mz;
                if (z[k] > zmax)
                    zmax = z[k];
                sy += fabs(yy[k]);
            }
            double s = 0.0;
            for (size_t k = 0; k < no; k++)
                s += exp(z[k] - zmax);
            double mlse = fabs(zmax) + fabs(log(s)) + mmax;
            /* M(p_k) of the softmax of z (the output for cce, internal for softmax_ce) */
            for (size_t k = 0; k < no; k++)
                sp += exp(z[k] - zmax) / s * (zerr[k] / gz);
            /* core: dz_j = factor (p_j (Y - y_j) - y_j (1 - p_j)), p = softmax(z)
             * from z for both losses, 1 - p_j as sum_{l != j} p_l for the largest
             * logit (relative sensitivity <= 2 max Mz, as for p itself) and as a
             * subtraction elsewhere */
            size_t jmax = 0;
            for (size_t k = 1; k < no; k++)
                if (z[k] > z[jmax])
                    jmax = k;
            for (size_t k = 0; k < no; k++) {
                double mz = zerr[k] / gz, pk = exp(z[k] - zmax) / s;
                double mp = pk * (1.0 + mz + sp);
                double m1p = k == jmax ? (1.0 - pk) * (1.0 + 2.0 * mmax) : (1.0 - pk) + mp;
                term += fabs(yy[k]) * (mlse + mz) + TINY;
                md[k] = factor * (mp * (sy + fabs(yy[k])) + fabs(yy[k]) * m1p) + TINY;
            }
            n_term = nZ[last] + 2 * no + GA_ELEM_ULPS + 4;
            n_delta = nZ[last] + 2 * no + 8;
            break;
        }
        case GA_LOSS_MSE:
        case GA_LOSS_DOT:
        default: {
            const ga_layer_desc *Ld = &d->layers[last];
            for (size_t k = 0; k < no; k++) {
                double mdif = ma[k] + fabs(yy[k]);
                if (ld->kind == GA_LOSS_DOT) { /* y a; dL/da = y */
                    term += fabs(yy[k]) * ma[k] + TINY;
                    md[k] = factor * fabs(yy[k]) + TINY;
                    continue;
                }
                term += mdif * mdif + TINY;
                md[k] = factor * 2.0 * mdif + TINY; /* dL/da */
            }
            n_term = 2 * (nA[last + 1] + 1) + no;
            size_t n_g = nA[last + 1] + 4; /* a - y, times 2, times factor (itself 2 roundings) */
            if (Ld->act == GA_ACT_SOFTMAX) {
                /* dz_j = a_j (da_j - s), s = sum_k a_k da_k */
                double ms = 0.0;
                for (size_t k = 0; k < no; k++)
                    ms += ma[k] * md[k];
                for (size_t k = 0; k < no; k++)
                    md[k] = ma[k] * (md[k] + ms) + TINY;
                n_delta = nA[last + 1] + (nA[last + 1] + n_g + 1 + no) + 2;
            } else if (Ld->act != GA_ACT_IDENTITY) {
                for (size_t k = 0; k < no; k++) {
                    double mz = zerr[k] / gz;
                    double fd = lip(Ld->act, Ld->act_param, z[k], zerr[k], a[k]);
                    md[k] = md[k] * (fd + act_second(Ld->act, Ld->act_param, z[k]) * mz) + TINY;
                }
                n_delta = n_g + nDer[last] + 1;
            } else {
                n_delta = n_g;
            }
            break;
        }
        }
        lossM += term;
    }
    n_term += batch + 3; /* batch sum, reduction, scale */
    lossM = lossM * factor + TINY;
    size_t n_wd = 0;
    if (ld->weight_decay != 0.0) {
        double sq = 0.0;
        size_t nw = 0;
        for (size_t l = 0; l < L; l++) {
            const ga_view *W = &net->views[2 * l];
            for (size_t i = 0; i < W->rows * W->cols; i++)
                sq += params[W->offset + i] * params[W->offset + i];
            nw += W->rows * W->cols;
        }
        lossM += 0.5 * ld->weight_decay * sq;
        n_wd = nw + 3;
    }
    b->n_loss = (n_term > n_wd ? n_term : n_wd) + 1;
    b->loss_mag = lossM;
    b->gamma_loss = gamma_of(b->n_loss);
    b->loss_err = b->gamma_loss * lossM;

    /* ---- backward magnitudes ---- */
    size_t n_grad = 0;
    for (size_t l = L; l-- > 0;) {
        const ga_view *W = &net->views[2 * l], *bv = &net->views[2 * l + 1];
        size_t fi = fan_in_of(net, l), fo = d->layers[l].n_out;
        /* dW(k,j) = sum_n delta[n,k] a_prev[n,j] (+ lambda W): counts add */
        size_t n_dw = n_delta + nA[l] + batch + 1 + (ld->weight_decay != 0.0 ? 2 : 0);
        size_t n_db = n_delta + batch;
        if (n_dw > n_grad)
            n_grad = n_dw;
        if (n_db > n_grad)
            n_grad = n_db;
        for (size_t k = 0; k < fo; k++) {
            double sb = 0.0;
            for (size_t n = 0; n < batch; n++)
                sb += Md[n * fo + k];
            b->grad_mag[bv->offset + k] = sb;
            for (size_t j = 0; j < fi; j++) {
                double s = 0.0;
                for (size_t n = 0; n < batch; n++)
                    s += Md[n * fo + k] * (l == 0 ? fabs(x[n * fi + j]) : Ma[l - 1][n * fi + j]) +
                         TINY;
                size_t wi = ga_weight_index(net, W, k, j);
                b->grad_mag[wi] = s + ld->weight_decay * fabs(params[wi]);
            }
        }
        if (l == 0)
            break;
        /* dA[n,j] = sum_k delta[n,k] W(k,j), then through layer l-1's activation */
        const ga_layer_desc *Lp = &d->layers[l - 1];
        double gzp = gamma_of(nZ[l - 1]);
        for (size_t n = 0; n < batch; n++) {
            double *mp = Md_prev + n * fi;
            for (size_t j = 0; j < fi; j++) {
                double s = 0.0;
                for (size_t k = 0; k < fo; k++)
                    s += Md[n * fo + k] * fabs(params[ga_weight_index(net, W, k, j)]) + TINY;
                mp[j] = s;
            }
            const double *z = ws->z[l - 1] + n * fi, *a = ws->a[l - 1] + n * fi;
            const double *ma = Ma[l - 1] + n * fi;
            if (Lp->act == GA_ACT_SOFTMAX) {
                double ms = 0.0;
                for (size_t k = 0; k < fi; k++)
                    ms += ma[k] * mp[k];
                for (size_t k = 0; k < fi; k++)
                    mp[k] = ma[k] * (mp[k] + ms) + TINY;
            } else if (Lp->act != GA_ACT_IDENTITY) {
                for (size_t k = 0; k < fi; k++) {
                    double mz = b->z_err[l - 1][n * fi + k] / gzp;
                    double fd = lip(Lp->act, Lp->act_param, z[k], b->z_err[l - 1][n * fi + k], a[k]);
                    mp[k] = mp[k] * (fd + act_second(Lp->act, Lp->act_param, z[k]) * mz) + TINY;
                }
            }
        }
        size_t n_da = n_delta + fo;
        if (Lp->act == GA_ACT_SOFTMAX)
            n_delta = nA[l] + (nA[l] + n_da + 1 + fi) + 2;
        else if (Lp->act != GA_ACT_IDENTITY)
            n_delta = n_da + nDer[l - 1] + 1;
        else
            n_delta = n_da;
        double *t = Md;
        Md = Md_prev;
        Md_prev = t;
    }
    b->n_grad = n_grad;
    b->gamma_grad = gamma_of(n_grad);
    for (size_t i = 0; i < net->n_params; i++)
        b->grad_err[i] = b->gamma_grad * b->grad_mag[i];
    free(Ma);
    free(nA);
    return GA_OK;
}
