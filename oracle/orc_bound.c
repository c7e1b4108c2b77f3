/* orc_bound.c: the running error bound of the oracle's passes, in long
 * double magnitudes: M(z), M(a), M(L), M(dL/dtheta), M(dL/dx) from the pass
 * just run (orc_mag_forward, orc_mag_backward), the roundings counted on the
 * longest path (orc_mag_depth), and the floor they give under the
 * two-precision error estimate (orc_mag_floor). Also the test that the sign
 * of every piecewise unit's z, which picks f' in the reverse pass, is proven
 * (orc_mag_kink_unsure).
 */
#include <float.h>
#include <math.h>

#include <mpfr.h>

#include "orc_internal.h"

/* ---- running error magnitudes: a proven floor under the error estimate ---
 *
 * The difference of the two precisions (ga_oracle_two_prec_error) misses an
 * error that both make alike. A term absorbed whole into a sum at p and at
 * p + GAP bits (below half an ulp of the sum at both), whose sum is later
 * cancelled, leaves both passes agreeing to the last bit on a wrong value:
 * z1 = 2^140 + 2^-40 then z2 = z1 - 2^140 gives 0 at 128 and at 160 bits
 * (test_oracle's term_absorbed_at_both_precisions; found by fuzzing). So
 * every result r also gets Higham's running error bound (Accuracy and
 * Stability of Numerical Algorithms, 2nd ed., Lemma 3.3 and section 3.1),
 * over the oracle's own operations: |r_computed - r| <= gamma_D M(r),
 * gamma_D = D u / (1 - D u), u = 2^-prec, D from orc_mag_depth, where
 *   exact inputs (x, y, parameters):  M = |x|
 *   sums and differences:             M(a +- b) = M(a) + M(b)
 *   products:                         M(a b) = M(a) M(b)
 *   f with |f'| <= Lip on all reals:  M(f(a)) = |f(a)| + Lip M(a)
 * (the |f(a)| term carries f's own few roundings, counted in D). The
 * Lipschitz constants hold globally (sigmoid 1/4, tanh, relu, softplus,
 * logsumexp and softmax 1 in the max norm, leaky_relu and elu max(1, |c|),
 * sech^2 4/(3 sqrt 3) < 1), so the bound needs no smallness condition, with
 * one exception: softmax cross-entropy's reverse pass evaluates exp(t) at a
 * computed t = z_k - lse, whose error e moves the result by exp(t)(e^e - 1)
 * <= 2 exp(t) e only while e <= 1/4 (mexp, checked in orc_mag_floor). The
 * derivative conventions at kinks follow the computed sign of z, as the
 * passes do; the bound covers values, not a wrong branch of f', so the
 * sign of every piecewise unit's z must be proven as well (orc_mag_kink_unsure:
 * z exact, or farther from 0 than its error bound), or no gradient entry
 * settles (test_oracle's relu_branch_on_*).
 * M is evaluated in long double from the pass's own values; its rounding
 * and the second-order terms of gamma_D are covered by the factor 2 in
 * orc_mag_floor. The bound is worst-case, yet on the benchmark's sigmoid nets
 * (w = 8..64, batch 32, measured once with a throwaway build) it came to at
 * most 2^-74 .. 2^-55 of an ulp of its result at 160 bits (geometric mean
 * 2^-83 .. 2^-70), near the two-precision estimate (at most 2^-67 .. 2^-62
 * of an ulp): it moved no result and no final precision there. */

/* v as a long double: mpfr_get_d, several times faster than mpfr_get_ld,
 * unless v is beyond a double's range */
static mag_t mag_get(mpfr_srcptr v)
{
    double d = mpfr_get_d(v, MPFR_RNDN);
    return isinf(d) || (d == 0 && !mpfr_zero_p(v)) ? mpfr_get_ld(v, MPFR_RNDN) : d;
}

static mag_t mag_abs(mpfr_srcptr v)
{
    return fabsl(mag_get(v));
}

/* softplus of a long double, for magnitudes only */
static mag_t softplus_l(mag_t z)
{
    return (z > 0 ? z : 0) + log1pl(expl(-fabsl(z)));
}

/* |Lip| of layer l's activation over all reals (max norm for softmax) */
static mag_t act_lipschitz(const ga_layer_desc *ld)
{
    mag_t c = fabsl((mag_t)ld->act_param);
    switch (ld->act) {
    case GA_ACT_SIGMOID:
        return 0.25L;
    case GA_ACT_LEAKY_RELU:
    case GA_ACT_ELU:
        return c > 1 ? c : 1;
    case GA_ACT_IDENTITY:
    case GA_ACT_TANH:
    case GA_ACT_RELU:
    case GA_ACT_SOFTPLUS:
    case GA_ACT_SOFTMAX:
        return 1;
    default: /* no tuned pass: the activation's own constant */
        return (mag_t)ga_activation_lipschitz(ld->act, ld->act_param);
    }
}

/* |scale| / N of the description's reduction (orc_constants' T_S) */
static mag_t mag_scale(const orc *o)
{
    const ga_loss_desc *ls = &o->net->desc.loss;
    mag_t N = 1;
    if (ls->reduction == GA_REDUCE_MEAN)
        N = (mag_t)o->B * (mag_t)o->n_out;
    else if (ls->reduction == GA_REDUCE_BATCH_MEAN)
        N = (mag_t)o->B;
    return fabsl((mag_t)ls->scale) / N;
}

/* The largest M(z) of sample n of layer l, and the largest z and the
 * logsumexp of the computed z (long double). */
static mag_t mag_row(mag_t *zmax, mag_t *lse, const orc *o, size_t l, size_t n)
{
    size_t nout = o->nout[l];
    const mag_t *mz = o->mz + o->B * o->zoff[l] + n * nout;
    mpfr_t *Z = o->Z[l] + n * nout;
    mag_t m = 0, r = mag_get(Z[0]), sum = 0;
    for (size_t k = 0; k < nout; k++) {
        mag_t z = mag_get(Z[k]);
        if (z > r)
            r = z;
        if (mz[k] > m)
            m = mz[k];
    }
    for (size_t k = 0; k < nout; k++)
        sum += expl(mag_get(Z[k]) - r);
    *zmax = r;
    *lse = r + logl(sum);
    return m;
}

/* |parameter i|, raised by o->mag_bump */
static mag_t mag_param(const orc *o, size_t i)
{
    return fabsl((mag_t)o->params[i]) + o->mag_bump;
}

/* 1 when the exact z of unit k, sample n of layer l is proven to have the
 * sign of the computed one by its terms alone: b and every W(k,j) in_j
 * with W(k,j) != 0 have one sign s, the inputs' exact signs known (x, an
 * exact value, or the output of sigmoid, softplus or softmax, exactly > 0
 * however small: 0.5 s(-2^15) at a relu is positive, which no precision up
 * to thousands of bits tells from its bound). Needs o->zd. */
static int z_sign_by_terms(const orc *o, size_t l, size_t n, size_t k)
{
    size_t nin = o->nin[l], w = o->woff[l] + k * o->wk[l];
    ga_activation below = l ? o->net->desc.layers[l - 1].act : GA_ACT_IDENTITY;
    int positive = below == GA_ACT_SIGMOID || below == GA_ACT_SOFTPLUS || below == GA_ACT_SOFTMAX;
    double b = o->params[o->boff[l] + k];
    int s = (b > 0) - (b < 0);
    for (size_t j = 0; j < nin; j++) {
        double wj = o->params[w + j * o->wj[l]];
        if (wj == 0)
            continue;
        int si;
        if (l == 0) {
            double xj = o->x[n * nin + j];
            si = (xj > 0) - (xj < 0);
        } else if (o->ad[o->B * o->zoff[l - 1] + n * nin + j] == GA_DIR_EXACT) {
            si = mpfr_sgn(o->A[l - 1][n * nin + j]);
        } else if (positive) {
            si = 1;
        } else {
            return 0;
        }
        int t = si * ((wj > 0) - (wj < 0));
        if (t != 0 && s != 0 && t != s)
            return 0;
        if (t != 0)
            s = t;
    }
    return s != 0 && s == mpfr_sgn(o->Z[l][n * o->nout[l] + k]);
}

/* M(z), M(a) of every unit and M(L), from the pass just run on o (mirrors
 * orc_forward and orc_loss). */
void orc_mag_forward(orc *o)
{
    size_t B = o->B;
    o->mexp = 0;
    o->kink_zero = 0;
    o->kink_ratio = 0;
    for (size_t l = 0; l < o->L; l++) {
        const ga_layer_desc *ld = &o->net->desc.layers[l];
        size_t nin = o->nin[l], nout = o->nout[l], wk = o->wk[l], wj = o->wj[l];
        mag_t *mz = o->mz + B * o->zoff[l], *ma = o->ma + B * o->zoff[l];
        const mag_t *min = l ? o->ma + B * o->zoff[l - 1] : NULL;
        mag_t lip = act_lipschitz(ld);
        for (size_t n = 0; n < B; n++) {
            for (size_t k = 0; k < nout; k++) { /* z = b + sum_j W(k,j) in_j */
                size_t w = o->woff[l] + k * wk;
                mag_t m = mag_param(o, o->boff[l] + k);
                for (size_t j = 0; j < nin; j++)
                    m += mag_param(o, w + j * wj) *
                         (min ? min[n * nin + j] : fabsl((mag_t)o->x[n * nin + j]));
                mz[n * nout + k] = m;
            }
            if (o->zd && (ld->act == GA_ACT_RELU || ld->act == GA_ACT_LEAKY_RELU ||
                           (ld->act == GA_ACT_ELU && ld->act_param != 1)))
                for (size_t k = 0; k < nout; k++) { /* the sign picking f' (orc_mag_kink_unsure) */
                    size_t e = n * nout + k;
                    int s = mpfr_sgn(o->Z[l][e]), d = o->zd[B * o->zoff[l] + e];
                    mag_t z = fabsl(mag_get(o->Z[l][e]));
                    /* z exact, or computed <= 0 above its exact value (so the exact
                     * z < 0, branch z <= 0), or > 0 below it: the branch is right */
                    if (d == GA_DIR_EXACT || (s <= 0 && d == GA_DIR_ABOVE) ||
                        (s > 0 && d == GA_DIR_BELOW) || z_sign_by_terms(o, l, n, k))
                        continue;
                    if (z == 0)
                        o->kink_zero = 1;
                    else if (mz[e] / z > o->kink_ratio)
                        o->kink_ratio = mz[e] / z;
                }
            if (ld->act == GA_ACT_SOFTMAX) { /* |a_k| <= 1, Lipschitz 1 in the max norm */
                mag_t r, lse, m = mag_row(&r, &lse, o, l, n);
                for (size_t k = 0; k < nout; k++)
                    ma[n * nout + k] = 1 + m;
            } else {
                for (size_t k = 0; k < nout; k++)
                    ma[n * nout + k] = mag_abs(o->A[l][n * nout + k]) + lip * mz[n * nout + k];
            }
        }
    }
    const ga_loss_desc *ls = &o->net->desc.loss;
    size_t L = o->L, m = o->n_out, nb = B * m;
    const mag_t *mz = o->mz + B * o->zoff[L - 1], *ma = o->ma + B * o->zoff[L - 1];
    mpfr_t *Z = o->Z[L - 1];
    const double *y = o->y;
    mag_t acc = 0;
    switch (ls->kind) {
    case GA_LOSS_MSE: /* (a - y)^2 */
        for (size_t e = 0; e < nb; e++) {
            mag_t t = ma[e] + fabsl((mag_t)y[e]);
            acc += t * t;
        }
        break;
    case GA_LOSS_DOT: /* y a */
        for (size_t e = 0; e < nb; e++)
            acc += fabsl((mag_t)y[e]) * ma[e];
        break;
    case GA_LOSS_BCE: /* y softplus(-z) + (1-y) softplus(z): softplus is 1-Lipschitz */
        for (size_t e = 0; e < nb; e++) {
            mag_t z = mag_get(Z[e]);
            if (y[e] != 0)
                acc += fabsl((mag_t)y[e]) * (softplus_l(-z) + mz[e]);
            if (y[e] != 1)
                acc += fabsl(1 - (mag_t)y[e]) * (softplus_l(z) + mz[e]);
        }
        break;
    case GA_LOSS_BCE_LOGITS: /* softplus(z) - z y */
        for (size_t e = 0; e < nb; e++)
            acc += softplus_l(mag_get(Z[e])) + mz[e] * (1 + fabsl((mag_t)y[e]));
        break;
    case GA_LOSS_SOFTMAX_CE: /* sum_k y_k (lse(z) - z_k): lse is 1-Lipschitz */
    case GA_LOSS_CCE:
        for (size_t n = 0; n < B; n++) {
            mag_t r, lse, zm = mag_row(&r, &lse, o, L - 1, n);
            mag_t mlse = fabsl(r) + fabsl(lse) + 1 + zm;
            for (size_t k = 0; k < m; k++)
                if (y[n * m + k] != 0)
                    acc += fabsl((mag_t)y[n * m + k]) * (mlse + mz[n * m + k]);
        }
        break;
    default:
        break;
    }
    o->mloss = acc * mag_scale(o);
    if (ls->weight_decay != 0) { /* + lambda/2 sum W^2 */
        mag_t sw = 0;
        for (size_t l = 0; l < L; l++)
            for (size_t i = 0; i < o->nin[l] * o->nout[l]; i++)
                sw += mag_param(o, o->woff[l] + i) * mag_param(o, o->woff[l] + i);
        o->mloss += fabsl((mag_t)ls->weight_decay) * sw / 2;
    }
}

/* M(dL/dtheta) and M(dL/dx) after orc_mag_forward (mirrors orc_backward). */
void orc_mag_backward(orc *o)
{
    const ga_loss_desc *ls = &o->net->desc.loss;
    const double *P = o->params, *y = o->y;
    size_t B = o->B, L = o->L, m = o->n_out, nb = B * m;
    const mag_t *mz = o->mz + B * o->zoff[L - 1], *ma = o->ma + B * o->zoff[L - 1];
    mpfr_t *Z = o->Z[L - 1];
    mag_t s = mag_scale(o), lam = fabsl((mag_t)ls->weight_decay), *D = o->md;
    int fused = 1;
    switch (ls->kind) {
    case GA_LOSS_MSE: /* dL/da = 2 s (a - y) */
        for (size_t e = 0; e < nb; e++)
            D[e] = 2 * s * (ma[e] + fabsl((mag_t)y[e]));
        fused = 0;
        break;
    case GA_LOSS_DOT: /* dL/da = s y */
        for (size_t e = 0; e < nb; e++)
            D[e] = s * fabsl((mag_t)y[e]);
        fused = 0;
        break;
    case GA_LOSS_BCE: /* dL/dz = s (sigmoid(z) - y), a = sigmoid(z) */
        for (size_t e = 0; e < nb; e++)
            D[e] = s * (ma[e] + fabsl((mag_t)y[e]));
        break;
    case GA_LOSS_BCE_LOGITS: /* s (sigmoid(z) - y), sigmoid 1/4-Lipschitz */
        for (size_t e = 0; e < nb; e++) {
            mag_t sg = 1 / (1 + expl(-mag_get(Z[e])));
            D[e] = s * (sg + mz[e] / 4 + fabsl((mag_t)y[e]));
        }
        break;
    case GA_LOSS_SOFTMAX_CE: /* s (exp(z_k - lse) sum_j y_j - y_k) */
    case GA_LOSS_CCE:
        for (size_t n = 0; n < B; n++) {
            mag_t r, lse, zm = mag_row(&r, &lse, o, L - 1, n), sy = 0;
            mag_t mlse = fabsl(r) + fabsl(lse) + 1 + zm;
            for (size_t k = 0; k < m; k++)
                sy += fabsl((mag_t)y[n * m + k]);
            for (size_t k = 0; k < m; k++) {
                mag_t mt = mz[n * m + k] + mlse; /* M(z_k - lse) */
                mag_t pk = expl(mag_get(Z[n * m + k]) - lse);
                if (mt > o->mexp)
                    o->mexp = mt;
                D[n * m + k] = s * (pk * (1 + 2 * mt) * sy + fabsl((mag_t)y[n * m + k]));
            }
        }
        break;
    default:
        break;
    }
    for (size_t l = L; l-- > 0;) {
        const ga_layer_desc *ld = &o->net->desc.layers[l];
        size_t nin = o->nin[l], nout = o->nout[l], wk = o->wk[l], wj = o->wj[l], mo = B * nout;
        const mag_t *lz = o->mz + B * o->zoff[l], *la = o->ma + B * o->zoff[l];
        mpfr_t *Zl = o->Z[l];
        mag_t c = fabsl((mag_t)ld->act_param);
        D = o->md;
        if (!(l == L - 1 && fused)) { /* dL/da -> dL/dz through f */
            switch (ld->act) {
            case GA_ACT_SIGMOID: /* f' = (1 - a) a */
                for (size_t e = 0; e < mo; e++)
                    D[e] *= (1 + la[e]) * la[e];
                break;
            case GA_ACT_TANH: /* f' = sech(z)^2, 4/(3 sqrt 3)-Lipschitz */
                for (size_t e = 0; e < mo; e++) {
                    mag_t ch = coshl(mag_get(Zl[e]));
                    D[e] *= 1 / (ch * ch) + lz[e];
                }
                break;
            case GA_ACT_RELU:
                for (size_t e = 0; e < mo; e++)
                    if (mpfr_sgn(Zl[e]) <= 0)
                        D[e] = 0;
                break;
            case GA_ACT_LEAKY_RELU:
                for (size_t e = 0; e < mo; e++)
                    if (mpfr_sgn(Zl[e]) <= 0)
                        D[e] *= c;
                break;
            case GA_ACT_ELU: /* f' = alpha exp(z) for z <= 0, |alpha|-Lipschitz there */
                for (size_t e = 0; e < mo; e++)
                    if (mpfr_sgn(Zl[e]) <= 0)
                        D[e] *= c * (expl(mag_get(Zl[e])) + lz[e]);
                break;
            case GA_ACT_SOFTPLUS: /* f' = sigmoid(z) */
                for (size_t e = 0; e < mo; e++)
                    D[e] *= 1 / (1 + expl(-mag_get(Zl[e]))) + lz[e] / 4;
                break;
            case GA_ACT_SOFTMAX: /* dz_k = a_k (da_k - sum_j a_j da_j) */
                for (size_t n = 0; n < B; n++) {
                    mag_t t = 0, *d = D + n * nout;
                    const mag_t *a = la + n * nout;
                    for (size_t k = 0; k < nout; k++)
                        t += a[k] * d[k];
                    for (size_t k = 0; k < nout; k++)
                        d[k] = (d[k] + t) * a[k];
                }
                break;
            case GA_ACT_IDENTITY:
                break;
            default: { /* no tuned pass: sup |f'| plus sup |f''| times z's magnitude */
                mag_t L1 = (mag_t)ga_activation_lipschitz(ld->act, ld->act_param);
                mag_t L2 = (mag_t)ga_activation_lipschitz_deriv(ld->act, ld->act_param);
                for (size_t e = 0; e < mo; e++)
                    D[e] *= L1 + L2 * lz[e];
                break;
            }
            }
        }
        const mag_t *in = l ? o->ma + B * o->zoff[l - 1] : NULL;
        for (size_t k = 0; k < nout; k++) {
            size_t wrow = o->woff[l] + k * wk;
            for (size_t j = 0; j < nin; j++) { /* dW(k,j) = sum_n dz[n,k] in[n,j] + lambda W */
                mag_t g = 0;
                for (size_t n = 0; n < B; n++)
                    g += D[n * nout + k] * (in ? in[n * nin + j] : fabsl((mag_t)o->x[n * nin + j]));
                o->mg[wrow + j * wj] = g + lam * fabsl((mag_t)P[wrow + j * wj]);
            }
            mag_t g = 0; /* db(k) = sum_n dz[n,k] */
            for (size_t n = 0; n < B; n++)
                g += D[n * nout + k];
            o->mg[o->boff[l] + k] = g;
        }
        mag_t *out = l > 0 ? o->mdp : o->mdx; /* da_prev[n,j] = sum_k W(k,j) dz[n,k] */
        if (!out)
            continue;
        for (size_t n = 0; n < B; n++)
            for (size_t j = 0; j < nin; j++) {
                const double *wc = P + o->woff[l] + j * wj;
                mag_t r = 0;
                for (size_t k = 0; k < nout; k++)
                    r += fabsl((mag_t)wc[k * wk]) * D[n * nout + k];
                out[n * nin + j] = r;
            }
        if (l > 0) {
            mag_t *sw = o->md;
            o->md = o->mdp;
            o->mdp = sw;
        }
    }
}

/* 1 when the sign of some piecewise unit's z, which picks f' in the reverse
 * pass, is not proven by the pass at p bits whose magnitudes o holds: a z
 * that came out 0 from inexact operations (2^-170 + 1 - 1 at 160 bits), or
 * a nonzero z within 4 gamma_D M(z) of 0 (the error of the pass at p, and of
 * the one at p + GAP, doubled), unless z's direction proves the branch
 * (orc_mag_forward). The bound M covers values, not a wrong branch of f', so
 * such a step settles no gradient entry. */
int orc_mag_kink_unsure(const orc *o, long p)
{
    return o->kink_zero ||
           (o->kink_ratio > 0 && log2l(4 * o->depth * o->kink_ratio) >= (mag_t)p);
}

/* e += 2 gamma_D M at prec bits, rounded up: the running error bound of a
 * value of magnitude m (orc_mag_forward) computed at prec bits, the 2 covering
 * gamma_D's second-order part and the rounding of M itself; +inf when m is
 * not finite or softmax cross-entropy's exponentials leave the range of the
 * bound (gamma_D mexp > 1/4). f scratch, at least 64 bits. */
void orc_mag_floor(mpfr_ptr e, const orc *o, mag_t m, long prec, mpfr_ptr f)
{
    mag_t b = 2 * o->depth * m;
    int in_range = o->mexp == 0 || log2l(o->depth * o->mexp) < (mag_t)(prec - 2);
    if (!(b <= LDBL_MAX) || !in_range) {
        mpfr_set_inf(f, 1);
    } else {
        mpfr_set_ld(f, b, MPFR_RNDU);
        mpfr_mul_2si(f, f, -prec, MPFR_RNDU);
    }
    mpfr_add(e, e, f, MPFR_RNDU);
}

/* D, the roundings on the longest path from the exact inputs to any result
 * of a forward and reverse pass, counted generously (an overcount by a
 * factor k costs log2 k bits of the settle test's margin, an undercount its
 * proof): per layer the fan-in sum (a product and an addition a term), the
 * fan-out sum of the reverse pass, the activation and its derivative (at
 * most 4 roundings each) and softmax's sums; the loss's sum over the batch;
 * the gradient's sum over the batch; weight decay's sum over the weights;
 * the division by the reduction's N, last. The magnitudes M take scale / N
 * from the start (mag_scale): the passes' values before that division are N
 * times theirs, and so are their errors, which the division brings back. */
mag_t orc_mag_depth(const orc *o, size_t B)
{
    mag_t d = 66, nw = 0;
    for (size_t l = 0; l < o->L; l++) {
        d += 4 * ((mag_t)o->nin[l] + (mag_t)o->nout[l]) + 32;
        nw += (mag_t)o->nin[l] * (mag_t)o->nout[l];
    }
    d += 2 * (mag_t)B * (mag_t)o->n_out + 2 * (mag_t)B;
    if (o->net->desc.loss.weight_decay != 0)
        d += 2 * nw;
    return d;
}
