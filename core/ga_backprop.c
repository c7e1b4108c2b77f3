/* ga_backprop.c: forward and backward passes in double.
 *
 * Every matrix product goes through one routine, gemm(), which either calls
 * GSL's CBLAS interface (gsl_blas_dgemm: GSL's own CBLAS or OpenBLAS, chosen
 * at build time) or the reference kernel: plain loops that sum each dot
 * product in index order starting from 0, the order reference BLAS uses.
 * Dense layers are products; convolutions (lowered to a matrix per sample)
 * and attention (per sample and head) are products with the BLAS kernel,
 * and with the reference kernel the plain loops of their sections, the sums
 * of the generic reference in its order. With -ffp-contract=off the
 * reference kernel gives the same bits on any compiler.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_blas.h>

#include "ga_core.h"
#include "ga_ftz.h"
#include "ga_loss_internal.h"

/* C (M, N) = op(A) (M, K) . op(B) (K, N), or C += that where acc is set;
 * op(X) = X, or X^T where trans_X is set, in which case X is stored (K, M)
 * resp. (N, K). Row-major, each matrix with its leading dimension (lda, ldb,
 * ldc: the distance between its rows, at least its stored width), so that a
 * head's slice of a token row is a matrix too. */
static void gemm(double *C, size_t ldc, const double *A, size_t lda, int trans_a, const double *B,
                 size_t ldb, int trans_b, size_t M, size_t N, size_t K, int acc, ga_kernel kernel)
{
    if (kernel == GA_KERNEL_REFERENCE) {
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                double s = 0.0;
                for (size_t k = 0; k < K; k++) {
                    double a = trans_a ? A[k * lda + i] : A[i * lda + k];
                    double b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                    s += a * b;
                }
                C[i * ldc + j] = acc ? C[i * ldc + j] + s : s;
            }
        return;
    }
    gsl_matrix_const_view Av = trans_a ? gsl_matrix_const_view_array_with_tda(A, K, M, lda)
                                       : gsl_matrix_const_view_array_with_tda(A, M, K, lda);
    gsl_matrix_const_view Bv = trans_b ? gsl_matrix_const_view_array_with_tda(B, N, K, ldb)
                                       : gsl_matrix_const_view_array_with_tda(B, K, N, ldb);
    gsl_matrix_view Cv = gsl_matrix_view_array_with_tda(C, M, N, ldc);
    gsl_blas_dgemm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, 1.0,
                   &Av.matrix, &Bv.matrix, acc ? 1.0 : 0.0, &Cv.matrix);
}

/* gemm on contiguous matrices, C overwritten: the reference kernel sums each
 * dot product in index order starting from 0, the order reference BLAS uses */
static void matmul(double *C, const double *A, int trans_a, const double *B, int trans_b,
                   size_t M, size_t N, size_t K, ga_kernel kernel)
{
    gemm(C, N, A, trans_a ? M : K, trans_a, B, trans_b ? K : N, trans_b, M, N, K, 0, kernel);
}

static size_t layer_fan_in(const ga_net *net, size_t l)
{
    return l == 0 ? net->desc.n_in : net->desc.layers[l - 1].n_out;
}

static int check_args(const ga_workspace *ws, const ga_net *net, const double *params,
                      const double *x, const double *y, size_t batch)
{
    if (!ws || !net || !params || !x || !y)
        return GA_EINVAL;
    if (batch == 0 || batch > ws->max_batch || ws->n_layers != net->desc.n_layers)
        return GA_EINVAL;
    return GA_OK;
}

/* 1 when every v[i] is finite: no exponent field all ones, tested on the
 * bits without a branch per entry */
static int all_finite(const double *v, size_t n)
{
    const uint64_t E = UINT64_C(0x7ff0000000000000);
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b;
        memcpy(&b, &v[i], sizeof b);
        bad |= (uint64_t)((b & E) == E);
    }
    return !bad;
}

/* ---- convolutions and pooling (ga_core.h). With the reference kernel, or
 * where an operand is not finite, the plain loops below: the sums the
 * generic reference's conv_row and conv_backward compute, in the same order.
 * Otherwise each sample's input is lowered to a matrix (conv_lower) and the
 * sums are dgemm's, in BLAS's order (the enclosure holds any order). ------ */

/* tap (u, v) of output (i, j) in channel ci: its input's index, 0 outside */
static int tap_at(size_t *at, const ga_geom *g, size_t ci, size_t i, size_t j, size_t u, size_t v)
{
    size_t hh = i * g->sh + u, ww = j * g->sw + v;
    if (hh < g->ph || ww < g->pw || hh - g->ph >= g->h || ww - g->pw >= g->w)
        return 0;
    *at = (ci * g->h + hh - g->ph) * g->w + ww - g->pw;
    return 1;
}

/* The outputs j0 <= j < j1 whose tap v along a row lies inside the image
 * (padded coordinate j sw + v in [pw, pw + w)); the same along a column
 * with (i, u, sh, ph, h). */
static void tap_span(size_t *j0, size_t *j1, size_t v, size_t sw, size_t pw, size_t w, size_t wo)
{
    *j0 = v >= pw ? 0 : (pw - v + sw - 1) / sw;
    *j1 = v >= pw + w ? 0 : (pw + w - v + sw - 1) / sw;
    if (*j1 > wo)
        *j1 = wo;
    if (*j0 > *j1)
        *j0 = *j1;
}

/* One sample's image x (c h w) lowered (im2col): col (c kh kw, ho wo), row
 * t = (ci, u, v) holding tap t of every output (i, j), 0 in the padding.
 * With fold (c h w) given instead of x, the adjoint: fold += each entry of
 * col at the input it was taken from (col2im), padding entries dropped. */
static void conv_lower(double *col, const double *x, double *fold, const ga_geom *g)
{
    size_t P = g->ho * g->wo, i0, i1, j0, j1, sw = g->sw;
    for (size_t ci = 0; ci < g->c; ci++)
        for (size_t u = 0; u < g->kh; u++) {
            tap_span(&i0, &i1, u, g->sh, g->ph, g->h, g->ho);
            for (size_t v = 0; v < g->kw; v++) {
                tap_span(&j0, &j1, v, g->sw, g->pw, g->w, g->wo);
                double *r = col + ((ci * g->kh + u) * g->kw + v) * P;
                if (!fold && (i0 > 0 || i1 < g->ho || j0 > 0 || j1 < g->wo))
                    memset(r, 0, P * sizeof *r);
                for (size_t i = i0; i < i1; i++) {
                    /* the input index of output (i, 0), modulo 2^N: j0 sw + v >= pw */
                    size_t at = (ci * g->h + i * g->sh + u - g->ph) * g->w + v - g->pw;
                    double *ri = r + i * g->wo;
                    if (fold && sw == 1)
                        for (size_t j = j0; j < j1; j++)
                            fold[at + j] += ri[j];
                    else if (fold)
                        for (size_t j = j0; j < j1; j++)
                            fold[at + j * sw] += ri[j];
                    else if (sw == 1)
                        memcpy(ri + j0, x + at + j0, (j1 - j0) * sizeof *ri);
                    else
                        for (size_t j = j0; j < j1; j++)
                            ri[j] = x[at + j * sw];
                }
            }
        }
}

/* z (B, oc ho wo) = conv(x (B, c h w)) + b; W (oc, c kh kw); col scratch
 * (c kh kw, ho wo). Lowered: z_n (oc, ho wo) = W col_n; the padding's zeros
 * enter as 0 W, so only with W finite. */
static void conv_forward(double *z, double *col, const double *x, const ga_geom *g, const double *W,
                         const double *b, size_t batch, ga_kernel kernel)
{
    size_t wi = g->c * g->h * g->w, wo = g->oc * g->ho * g->wo, taps = g->c * g->kh * g->kw, at;
    size_t P = g->ho * g->wo;
    if (kernel == GA_KERNEL_BLAS && all_finite(W, g->oc * taps)) {
        for (size_t n = 0; n < batch; n++) {
            conv_lower(col, x + n * wi, NULL, g);
            gemm(z + n * wo, P, W, taps, 0, col, P, 0, g->oc, P, taps, 0, kernel);
            for (size_t o = 0; o < g->oc; o++)
                for (size_t e = 0; e < P; e++)
                    z[n * wo + o * P + e] += b[o];
        }
        return;
    }
    for (size_t n = 0; n < batch; n++)
        for (size_t o = 0; o < g->oc; o++)
            for (size_t i = 0; i < g->ho; i++)
                for (size_t j = 0; j < g->wo; j++) {
                    double s = 0.0;
                    for (size_t ci = 0; ci < g->c; ci++)
                        for (size_t u = 0; u < g->kh; u++)
                            for (size_t v = 0; v < g->kw; v++)
                                if (tap_at(&at, g, ci, i, j, u, v))
                                    s += x[n * wi + at] * W[o * taps + (ci * g->kh + u) * g->kw + v];
                    z[n * wo + (o * g->ho + i) * g->wo + j] = s + b[o];
                }
}

/* The first largest entry of a window of kh rows of kw entries, x[at + u w
 * + v]: its index. best moves where x > top (never for a NaN) by a mask,
 * not a branch, whose outcome on data no predictor knows. */
static inline size_t window_argmax(const double *x, size_t at, size_t w, size_t kh, size_t kw)
{
    size_t best = at;
    double top = x[at];
    for (size_t u = 0; u < kh; u++)
        for (size_t v = 0; v < kw; v++) {
            size_t e = at + u * w + v, more = (size_t)0 - (size_t)(x[e] > top);
            best = (best & ~more) | (e & more);
            top = x[e] > top ? x[e] : top;
        }
    return best;
}

size_t ga_pool_argmax(const double *x, const ga_geom *g, size_t ci, size_t i, size_t j)
{
    /* the window's taps inside the image: u0 <= u < u1, v0 <= v < v1 */
    size_t hh = i * g->sh, ww = j * g->sw;
    size_t u0 = hh < g->ph ? g->ph - hh : 0, v0 = ww < g->pw ? g->pw - ww : 0;
    size_t u1 = hh >= g->ph + g->h ? 0 : g->ph + g->h - hh, v1 = ww >= g->pw + g->w ? 0 : g->pw + g->w - ww;
    u1 = u1 < g->kh ? u1 : g->kh;
    v1 = v1 < g->kw ? v1 : g->kw;
    if (u0 >= u1 || v0 >= v1)
        return SIZE_MAX;
    return window_argmax(x, (ci * g->h + hh + u0 - g->ph) * g->w + ww + v0 - g->pw, g->w, u1 - u0,
                         v1 - v0);
}

/* a (B, c ho wo) = max or mean of each window of x (B, c h w). A pool has no
 * padding and every window inside the image (ga_net_desc_validate): window
 * (ci, i, j) starts at x[(ci h + i sh) w + j sw]. */
static void pool_forward(double *a, const double *x, const ga_geom *g, int is_max, size_t batch)
{
    size_t wi = g->c * g->h * g->w, wo = g->c * g->ho * g->wo;
    for (size_t n = 0; n < batch; n++)
        for (size_t ci = 0; ci < g->c; ci++)
            for (size_t i = 0; i < g->ho; i++)
                for (size_t j = 0; j < g->wo; j++) {
                    const double *xr = x + n * wi;
                    size_t at = (ci * g->h + i * g->sh) * g->w + j * g->sw;
                    double *r = &a[n * wo + (ci * g->ho + i) * g->wo + j];
                    if (is_max) {
                        *r = xr[window_argmax(xr, at, g->w, g->kh, g->kw)];
                        continue;
                    }
                    double s = 0.0;
                    for (size_t u = 0; u < g->kh; u++)
                        for (size_t v = 0; v < g->kw; v++)
                            s += xr[at + u * g->w + v];
                    *r = s / (double)(g->kh * g->kw);
                }
}

/* A conv layer's dW (+ lambda W), db from delta = dL/dz (B, oc ho wo) and
 * its input x; din (B, c h w, may be NULL) = its input's gradient, zeroed
 * and summed over the taps; col scratch (c kh kw, ho wo). Lowered, per
 * sample: dW += delta_n col_n^T (the padding's zeros enter as 0 delta, so
 * only with every delta finite), then col = W^T delta_n folded back into
 * din_n. */
static void conv_backward(double *dW, double *db, double *din, double *col, const double *delta,
                          const double *x, const ga_geom *g, const double *W, double lambda,
                          size_t batch, ga_kernel kernel)
{
    size_t wi = g->c * g->h * g->w, wo = g->oc * g->ho * g->wo, taps = g->c * g->kh * g->kw, at;
    size_t P = g->ho * g->wo;
    /* db[o] summed over (n, e) in order, the oc sums side by side (no chain
     * of dependent additions) */
    memset(db, 0, g->oc * sizeof *db);
    for (size_t n = 0; n < batch; n++)
        for (size_t e = 0; e < P; e++)
            for (size_t o = 0; o < g->oc; o++)
                db[o] += delta[n * wo + o * P + e];
    if (din)
        memset(din, 0, batch * wi * sizeof *din);
    /* every delta is finite where every db is: a sum with an infinite or NaN
     * term is never finite (a sum that overflows sends finite deltas to the
     * plain loops, which is only slower) */
    if (kernel == GA_KERNEL_BLAS && all_finite(db, g->oc)) {
        for (size_t n = 0; n < batch; n++) {
            conv_lower(col, x + n * wi, NULL, g);
            gemm(dW, taps, delta + n * wo, P, 0, col, P, 1, g->oc, taps, P, n > 0, kernel);
            if (!din)
                continue;
            gemm(col, P, W, taps, 1, delta + n * wo, P, 0, taps, P, g->oc, 0, kernel);
            conv_lower(col, NULL, din + n * wi, g);
        }
        for (size_t e = 0; lambda != 0.0 && e < g->oc * taps; e++)
            dW[e] += lambda * W[e];
        return;
    }
    for (size_t o = 0; o < g->oc; o++)
        for (size_t t = 0; t < taps; t++) {
            size_t ci = t / (g->kh * g->kw), u = t / g->kw % g->kh, v = t % g->kw;
            double s = 0.0;
            for (size_t n = 0; n < batch; n++)
                for (size_t i = 0; i < g->ho; i++)
                    for (size_t j = 0; j < g->wo; j++)
                        if (tap_at(&at, g, ci, i, j, u, v))
                            s += delta[n * wo + (o * g->ho + i) * g->wo + j] * x[n * wi + at];
            dW[o * taps + t] = lambda != 0.0 ? s + lambda * W[o * taps + t] : s;
        }
    for (size_t n = 0; din && n < batch; n++)
        for (size_t o = 0; o < g->oc; o++)
            for (size_t i = 0; i < g->ho; i++)
                for (size_t j = 0; j < g->wo; j++)
                    for (size_t t = 0; t < taps; t++) {
                        size_t ci = t / (g->kh * g->kw), u = t / g->kw % g->kh, v = t % g->kw;
                        if (tap_at(&at, g, ci, i, j, u, v))
                            din[n * wi + at] += delta[n * wo + (o * g->ho + i) * g->wo + j] * W[o * taps + t];
                    }
}

/* din (B, c h w) = a pool's input gradient from dy (B, c ho wo): zeroed; the
 * first largest of each window takes dy (max), or each entry dy / (kh kw) */
static void pool_backward(double *din, const double *dy, const double *x, const ga_geom *g,
                          int is_max, size_t batch)
{
    size_t wi = g->c * g->h * g->w, wo = g->c * g->ho * g->wo;
    memset(din, 0, batch * wi * sizeof *din);
    for (size_t n = 0; n < batch; n++)
        for (size_t ci = 0; ci < g->c; ci++)
            for (size_t i = 0; i < g->ho; i++)
                for (size_t j = 0; j < g->wo; j++) {
                    double d = dy[n * wo + (ci * g->ho + i) * g->wo + j], *dr = din + n * wi;
                    size_t at = (ci * g->h + i * g->sh) * g->w + j * g->sw; /* as pool_forward's */
                    if (is_max) {
                        dr[window_argmax(x + n * wi, at, g->w, g->kh, g->kw)] += d;
                        continue;
                    }
                    double t = d / (double)(g->kh * g->kw);
                    for (size_t u = 0; u < g->kh; u++)
                        for (size_t v = 0; v < g->kw; v++)
                            dr[at + u * g->w + v] += t;
                }
}

/* ---- causal self-attention (ga_core.h, ATTENTION). Per sample and head,
 * the scores S = Q K^T, the weights P = softmax of S's lower triangle,
 * out = P V, and backward dP = dout V^T, dS = P (dP - rowsum(P dP)) m,
 * dQ = dS K, dK = dS^T Q, dV = P^T dout: dense products (gemm) whose zeros
 * above the diagonal enter as 0 v, 0 q, 0 dout, so only where a sample's x
 * and dout are finite and with the BLAS kernel. Otherwise the plain loops,
 * the sums the generic reference's attn_row and attn_backward compute, in
 * the same order. ----------------------------------------------------------- */

static void attention_weights(double *p, const double *x, const ga_layer_desc *L, size_t d,
                              ga_kernel kernel)
{
    size_t T = ga_layer_tokens(L), hs = d / L->heads, w3 = 3 * d;
    for (size_t h = 0; h < L->heads; h++) {
        double *ph = p + h * T * T;
        gemm(ph, T, x + h * hs, w3, 0, x + d + h * hs, w3, 1, T, T, hs, 0, kernel); /* q_t . k_u */
        for (size_t t = 0; t < T; t++) {
            double *r = ph + t * T, sum = 0.0;
            size_t jmax = 0;
            for (size_t u = 0; u <= t; u++) {
                r[u] *= L->act_param;
                if (r[u] > r[jmax])
                    jmax = u;
            }
            double mx = r[jmax];
            for (size_t u = 0; u <= t; u++) {
                r[u] = exp(r[u] - mx);
                sum += r[u];
            }
            for (size_t u = 0; u <= t; u++)
                r[u] /= sum;
            for (size_t u = t + 1; u < T; u++)
                r[u] = 0.0;
        }
    }
}

void ga_attention_weights(double *p, const double *x, const ga_layer_desc *L, size_t d,
                          ga_kernel kernel)
{
    GA_FTZ_ENTER(mxcsr);
    attention_weights(p, x, L, d, kernel);
    GA_FTZ_LEAVE(mxcsr);
}

/* a (B, T d) from x (B, T 3d); p scratch (H T T) */
static void attn_forward(double *a, const double *x, const ga_layer_desc *L, double *p, size_t batch,
                         ga_kernel kernel)
{
    size_t T = ga_layer_tokens(L), d = L->n_out / T, hs = d / L->heads, w3 = 3 * d;
    for (size_t n = 0; n < batch; n++) {
        const double *xr = x + n * T * w3;
        double *ar = a + n * T * d;
        attention_weights(p, xr, L, d, kernel);
        int dense = kernel == GA_KERNEL_BLAS && all_finite(xr, T * w3);
        for (size_t h = 0; h < L->heads; h++) {
            const double *ph = p + h * T * T, *v = xr + 2 * d + h * hs;
            if (dense) {
                gemm(ar + h * hs, d, ph, T, 0, v, w3, 0, T, hs, T, 0, kernel);
                continue;
            }
            for (size_t t = 0; t < T; t++)
                for (size_t i = 0; i < hs; i++) {
                    double s = 0.0;
                    for (size_t u = 0; u <= t; u++)
                        s += ph[t * T + u] * v[u * w3 + i];
                    ar[t * d + h * hs + i] = s;
                }
        }
    }
}

/* din (B, T 3d) = the input's gradient from dy (B, T d); p, dp scratch
 * (H T T and T T) */
static void attn_backward(double *din, const double *dy, const double *x, const ga_layer_desc *L,
                          double *p, double *dp, size_t batch, ga_kernel kernel)
{
    size_t T = ga_layer_tokens(L), d = L->n_out / T, hs = d / L->heads, w3 = 3 * d;
    double m = L->act_param;
    for (size_t n = 0; n < batch; n++) {
        const double *xr = x + n * T * w3, *dyr = dy + n * T * d;
        double *gr = din + n * T * w3;
        attention_weights(p, xr, L, d, kernel);
        int dense = kernel == GA_KERNEL_BLAS && all_finite(xr, T * w3) && all_finite(dyr, T * d);
        if (!dense)
            memset(gr, 0, T * w3 * sizeof *gr);
        for (size_t h = 0; h < L->heads; h++) {
            const double *ph = p + h * T * T, *q = xr + h * hs, *k = q + d, *v = q + 2 * d;
            const double *go = dyr + h * hs;
            double *dq = gr + h * hs, *dk = dq + d, *dv = dq + 2 * d;
            if (dense) {
                gemm(dp, T, go, d, 0, v, w3, 1, T, T, hs, 0, kernel); /* dP = dout V^T */
                for (size_t t = 0; t < T; t++) {
                    const double *pt = ph + t * T;
                    double *r = dp + t * T, S = 0.0;
                    for (size_t u = 0; u <= t; u++)
                        S += pt[u] * r[u];
                    for (size_t u = 0; u <= t; u++)
                        r[u] = (pt[u] * (r[u] - S)) * m;
                    for (size_t u = t + 1; u < T; u++)
                        r[u] = 0.0;
                }
                gemm(dq, w3, dp, T, 0, k, w3, 0, T, hs, T, 0, kernel); /* dS K */
                gemm(dk, w3, dp, T, 1, q, w3, 0, T, hs, T, 0, kernel); /* dS^T Q */
                gemm(dv, w3, ph, T, 1, go, d, 0, T, hs, T, 0, kernel); /* P^T dout */
                continue;
            }
            for (size_t t = 0; t < T; t++) {
                const double *pt = ph + t * T;
                double S = 0.0;
                for (size_t u = 0; u <= t; u++) {
                    double s = 0.0;
                    for (size_t i = 0; i < hs; i++)
                        s += go[t * d + i] * v[u * w3 + i];
                    dp[u] = s;
                }
                for (size_t u = 0; u <= t; u++)
                    S += pt[u] * dp[u];
                for (size_t u = 0; u <= t; u++) {
                    double ds = (pt[u] * (dp[u] - S)) * m;
                    for (size_t i = 0; i < hs; i++) {
                        dq[t * w3 + i] += ds * k[u * w3 + i];
                        dk[u * w3 + i] += ds * q[t * w3 + i];
                        dv[u * w3 + i] += pt[u] * go[t * d + i];
                    }
                }
            }
        }
    }
}

/* ---- a recurrent cell over T steps (ga_core.h, RNN; the generic
 * reference's rnn_row and rnn_backward compute the same sums) ---------------- */

/* z, h, f'(z) (B, T H) from x (B, T d); W (H, d + H) as ga_weight_index reads it */
static void rnn_forward(double *z, double *h, double *dact, const double *x, const ga_net *net,
                        size_t l, const double *params, size_t batch)
{
    const ga_layer_desc *L = &net->desc.layers[l];
    const ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
    size_t T = ga_layer_tokens(L), H = L->n_out / T, d = layer_fan_in(net, l) / T;
    for (size_t n = 0; n < batch; n++)
        for (size_t t = 0; t < T; t++)
            for (size_t k = 0; k < H; k++) {
                const double *xt = x + n * T * d + t * d;
                double s = 0.0;
                for (size_t j = 0; j < d; j++)
                    s += params[ga_weight_index(net, W, k, j)] * xt[j];
                for (size_t j = 0; t > 0 && j < H; j++) /* h_{t-1}; h_{-1} = 0 */
                    s += params[ga_weight_index(net, W, k, d + j)] * h[n * T * H + (t - 1) * H + j];
                size_t e = n * T * H + t * H + k;
                z[e] = s + params[b->offset + k];
                ga_act_eval(&h[e], &dact[e], L->act, L->act_param, z[e]);
            }
}

/* Backward through time: dz (B, T H) scratch, dW (+ lambda W), db, and din
 * (B, T d; may be NULL) = the input's gradient */
static void rnn_backward(double *dparams, double *din, double *dz, const double *dy, const double *x,
                         const double *h, const double *dact, const ga_net *net, size_t l,
                         const double *params, size_t batch)
{
    const ga_layer_desc *L = &net->desc.layers[l];
    const ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
    size_t T = ga_layer_tokens(L), H = L->n_out / T, d = layer_fan_in(net, l) / T;
    double lambda = net->desc.loss.weight_decay;
    for (size_t n = 0; n < batch; n++)
        for (size_t t = T; t-- > 0;)
            for (size_t k = 0; k < H; k++) {
                size_t e = n * T * H + t * H + k;
                double dh = dy[e];
                if (t + 1 < T) {
                    double s = 0.0;
                    for (size_t i = 0; i < H; i++)
                        s += dz[n * T * H + (t + 1) * H + i] * params[ga_weight_index(net, W, i, d + k)];
                    dh = dy[e] + s;
                }
                dz[e] = dh * dact[e];
            }
    for (size_t k = 0; k < H; k++) {
        for (size_t j = 0; j < d + H; j++) {
            double s = 0.0;
            for (size_t n = 0; n < batch; n++)
                for (size_t t = 0; t < T; t++) {
                    if (j >= d && t == 0)
                        continue;
                    double v = j < d ? x[n * T * d + t * d + j] : h[n * T * H + (t - 1) * H + j - d];
                    s += dz[n * T * H + t * H + k] * v;
                }
            size_t wk = ga_weight_index(net, W, k, j);
            dparams[wk] = lambda != 0.0 ? s + lambda * params[wk] : s;
        }
        double s = 0.0;
        for (size_t e = 0; e < batch * T; e++)
            s += dz[e * H + k];
        dparams[b->offset + k] = s;
    }
    for (size_t e = 0; din && e < batch * T; e++)
        for (size_t j = 0; j < d; j++) {
            double s = 0.0;
            for (size_t k = 0; k < H; k++)
                s += dz[e * H + k] * params[ga_weight_index(net, W, k, j)];
            din[e * d + j] = s;
        }
}

/* n entries x[0], x[s], x[2 s], ... normalised (the generic reference's
 * normalize() computes the same operations in this order): with center, mu =
 * (sum x) / n and d = x - mu, else d = x; var = (sum d d) / n, r = 1 / sqrt(var
 * + eps); xh = d r at the same places, r written beside each. A layer norm's
 * or an rms norm's row has s = 1, a batch norm's feature s = K. */
static void normalize(double *xh, double *r, const double *x, size_t n, size_t s, int center,
                      double eps)
{
    double mu = 0.0, var = 0.0;
    if (center) {
        for (size_t k = 0; k < n; k++)
            mu += x[k * s];
        mu /= (double)n;
    }
    for (size_t k = 0; k < n; k++) {
        xh[k * s] = center ? x[k * s] - mu : x[k * s];
        var += xh[k * s] * xh[k * s];
    }
    var /= (double)n;
    double rr = 1.0 / sqrt(var + eps);
    for (size_t k = 0; k < n; k++) {
        xh[k * s] *= rr;
        r[k * s] = rr;
    }
}

/* The input gradient of normalize() over the same n entries (stride s):
 * gin += ((dxh - m1) - xh m2) r, m1 = (sum dxh) / n (with center; else no
 * m1 term), m2 = (sum dxh xh) / n; dxh (n) contiguous. */
static void normalize_backward(double *gin, const double *dxh, const double *xh, size_t n, size_t s,
                               double r, int center)
{
    double m1 = 0.0, m2 = 0.0;
    for (size_t k = 0; k < n; k++)
        m1 += dxh[k];
    for (size_t k = 0; k < n; k++)
        m2 += dxh[k] * xh[k * s];
    m1 /= (double)n;
    m2 /= (double)n;
    for (size_t k = 0; k < n; k++)
        gin[k * s] += ((center ? dxh[k] - m1 : dxh[k]) - xh[k * s] * m2) * r;
}

/* A batch norm layer over the batch: per feature k, xh (B, K) in z, r_k in
 * every row of r, a = gamma xh + beta. */
static void batchnorm_forward(double *xh, double *r, double *a, const double *x,
                              const ga_layer_desc *L, const double *gamma, const double *beta,
                              size_t batch)
{
    size_t K = L->n_out;
    for (size_t k = 0; k < K; k++) {
        normalize(xh + k, r + k, x + k, batch, K, 1, L->eps);
        for (size_t n = 0; n < batch; n++)
            a[n * K + k] = gamma[k] * xh[n * K + k] + beta[k];
    }
}

/* One row of a layernorm or rmsnorm layer L (docs/spec.md): xh (n), r (n:
 * the row's 1/sqrt(var + eps) in every entry), a (n) from x (n); gamma (n),
 * beta (n, layernorm only). */
static void norm_row(double *xh, double *r, double *a, const double *x, size_t n,
                     const ga_layer_desc *L, const double *gamma, const double *beta)
{
    int ln = L->kind == GA_LAYER_LAYERNORM;
    normalize(xh, r, x, n, 1, ln, L->eps);
    for (size_t k = 0; k < n; k++)
        a[k] = ln ? gamma[k] * xh[k] + beta[k] : xh[k] * gamma[k];
}

/* Where the forward pass leaves a softmax loss's exponentials for the
 * backward (ga_loss_sample_term's e): the last layer's dact, which an
 * identity or softmax output does not use; NULL for the other losses. */
static double *loss_exps(const ga_workspace *ws, const ga_net_desc *d)
{
    const ga_layer_desc *L = &d->layers[d->n_layers - 1];
    int softmax_loss = d->loss.kind == GA_LOSS_SOFTMAX_CE || d->loss.kind == GA_LOSS_CCE;
    return softmax_loss && (L->act == GA_ACT_IDENTITY || L->act == GA_ACT_SOFTMAX)
               ? ws->dact[d->n_layers - 1]
               : NULL;
}

static int forward(double *loss, ga_workspace *ws, const ga_net *net, const double *params,
                   const double *x, const double *y, size_t batch)
{
    int status = check_args(ws, net, params, x, y, batch);
    if (status || !loss)
        return status ? status : GA_EINVAL;
    const ga_net_desc *d = &net->desc;
    size_t n_last = d->layers[d->n_layers - 1].n_out;
    if (!all_finite(x, batch * d->n_in) || !all_finite(y, batch * n_last))
        return GA_ENONFINITE;
    if (ga_net_check_ids(NULL, d, x, batch))
        return GA_EINVAL; /* an embedding's id out of range */

    const double *a_prev = x; /* (B, fan_in) */
    for (size_t l = 0; l < d->n_layers; l++) {
        const ga_layer_desc *L = &d->layers[l];
        const ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
        size_t fan_in = layer_fan_in(net, l), fan_out = L->n_out;
        double *z = ws->z[l], *a = ws->a[l]; /* (B, fan_out) */
        if ((L->kind == GA_LAYER_CONV || L->kind == GA_LAYER_ATTENTION) && !ws->scratch)
            return GA_EINVAL; /* a workspace allocated for another net */
        if (L->kind != GA_LAYER_DENSE && L->kind != GA_LAYER_CONV) {
            if (!ws->grad_a)
                return GA_EINVAL; /* a workspace allocated for another net */
            if (L->kind == GA_LAYER_DROPOUT) {
                for (size_t n = 0; n < batch; n++)
                    for (size_t k = 0; k < fan_out; k++)
                        z[n * fan_out + k] = a[n * fan_out + k] =
                            a_prev[n * fan_in + k] *
                            (ga_dropout_keep(L->seed, l, n, k, L->p) ? L->act_param : 0.0);
            } else if (L->kind == GA_LAYER_EMBEDDING) {
                for (size_t e = 0; e < batch * fan_in; e++) /* ids checked above */
                    memcpy(a + e * L->dim, params + W->offset + (size_t)x[e] * L->dim,
                           L->dim * sizeof *a);
                memcpy(z, a, batch * fan_out * sizeof *z);
            } else if (L->kind == GA_LAYER_BATCHNORM) {
                batchnorm_forward(z, ws->dact[l], a, a_prev, L, params + W->offset,
                                  params + b->offset, batch);
            } else if (L->kind == GA_LAYER_RNN) {
                rnn_forward(z, a, ws->dact[l], a_prev, net, l, params, batch);
            } else if (L->kind == GA_LAYER_ATTENTION) {
                attn_forward(a, a_prev, L, ws->scratch, batch, net->kernel);
                memcpy(z, a, batch * fan_out * sizeof *z);
            } else if (L->kind == GA_LAYER_BIAS) {
                for (size_t n = 0; n < batch; n++)
                    for (size_t k = 0; k < fan_out; k++)
                        z[n * fan_out + k] = a[n * fan_out + k] =
                            a_prev[n * fan_out + k] + params[b->offset + k];
            } else if (L->kind == GA_LAYER_MAXPOOL || L->kind == GA_LAYER_AVGPOOL) {
                pool_forward(a, a_prev, &L->geom, L->kind == GA_LAYER_MAXPOOL, batch);
                memcpy(z, a, batch * fan_out * sizeof *z);
            } else if (L->kind == GA_LAYER_CONCAT) {
                const double *v = L->from == 0 ? x : ws->a[L->from - 1];
                size_t w1 = fan_out - fan_in;
                for (size_t n = 0; n < batch; n++) {
                    memcpy(a + n * fan_out, a_prev + n * fan_in, fan_in * sizeof *a);
                    memcpy(a + n * fan_out + fan_in, v + n * w1, w1 * sizeof *a);
                }
                memcpy(z, a, batch * fan_out * sizeof *z);
            } else if (L->kind == GA_LAYER_RESIDUAL) {
                const double *v = L->from == 0 ? x : ws->a[L->from - 1];
                for (size_t i = 0; i < batch * fan_out; i++)
                    z[i] = a[i] = a_prev[i] + v[i]; /* an add's z is its output */
            } else {
                size_t T = ga_layer_tokens(L), dw = fan_out / T; /* a row per token */
                for (size_t n = 0; n < batch * T; n++)
                    norm_row(z + n * dw, ws->dact[l] + n * dw, a + n * dw, a_prev + n * dw, dw, L,
                             params + W->offset, params + b->offset);
            }
            a_prev = a;
            continue;
        }
        if (L->kind == GA_LAYER_CONV) {
            conv_forward(z, ws->scratch, a_prev, &L->geom, params + W->offset, params + b->offset, batch,
                         net->kernel);
        } else {
            size_t T = ga_layer_tokens(L), rows = batch * T, dout = fan_out / T;
            matmul(z, a_prev, 0, params + W->offset, d->layout == GA_LAYOUT_COLUMN, rows, dout,
                   fan_in / T, net->kernel);
            for (size_t n = 0; n < rows; n++)
                for (size_t k = 0; k < dout; k++)
                    z[n * dout + k] += params[b->offset + k];
        }
        if (L->act == GA_ACT_SOFTMAX)
            for (size_t n = 0; n < batch; n++)
                ga_softmax_row(a + n * fan_out, z + n * fan_out, fan_out);
        else if (L->act == GA_ACT_IDENTITY)
            memcpy(a, z, batch * fan_out * sizeof *a);
        else
            ga_act_eval_n(a, ws->dact[l], L->act, L->act_param, z, batch * fan_out);
        a_prev = a;
    }

    const ga_loss_desc *ld = &d->loss;
    const double *z = ws->z[d->n_layers - 1], *a = ws->a[d->n_layers - 1];
    /* a last layer of T tokens: B T rows of n_out / T */
    size_t lt = ga_layer_tokens(&d->layers[d->n_layers - 1]), rows = batch * lt, nl = n_last / lt;
    double sum = 0.0, *e = loss_exps(ws, d);
    for (size_t n = 0; n < rows; n++)
        sum += ga_loss_sample_term(ld->kind, z + n * nl, a + n * nl, y + n * nl, nl,
                                   e ? e + n * nl : NULL);
    double reduced = sum;
    if (ld->reduction == GA_REDUCE_MEAN)
        reduced = sum / ((double)rows * (double)nl);
    else if (ld->reduction == GA_REDUCE_BATCH_MEAN)
        reduced = sum / (double)rows;
    double L = ld->scale * reduced;
    if (ld->weight_decay != 0.0) {
        double sq = 0.0;
        for (size_t l = 0; l < d->n_layers; l++) {
            const ga_view *W = &net->views[2 * l];
            for (size_t i = 0; W->is_weight && i < W->rows * W->cols; i++)
                sq += params[W->offset + i] * params[W->offset + i];
        }
        L += 0.5 * ld->weight_decay * sq;
    }
    ws->batch = batch;
    *loss = L;
    return GA_OK;
}

/* dz (n) = f'(z) applied to da (n), for one sample of a layer with activation L;
 * dact (n) holds f'(z) as the forward pass stored it.
 * softmax: dz_j = a_j (da_j - sum_k a_k da_k). */
static void chain_activation(double *dz, const double *da, const ga_layer_desc *L,
                             const double *dact, const double *a, size_t n)
{
    if (L->act == GA_ACT_SOFTMAX) {
        double s = 0.0;
        for (size_t k = 0; k < n; k++)
            s += a[k] * da[k];
        for (size_t k = 0; k < n; k++)
            dz[k] = a[k] * (da[k] - s);
    } else if (L->act != GA_ACT_IDENTITY) {
        for (size_t k = 0; k < n; k++)
            dz[k] = da[k] * dact[k];
    } else if (dz != da) {
        memcpy(dz, da, n * sizeof *dz);
    }
}

/* Dense layer l's dW and db from its delta = dL/dz (B, out) and input a_prev
 * (B, in): column dW (out, in) = delta^T A, row dW (in, out) = A^T delta;
 * db[k] = sum_n delta[n,k] in index order; + lambda W. */
static void dense_param_grads(double *dparams, const ga_net *net, size_t l, const double *params,
                              const double *delta, const double *a_prev, size_t batch)
{
    const ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
    size_t T = ga_layer_tokens(&net->desc.layers[l]);
    size_t fan_in = layer_fan_in(net, l) / T, fan_out = net->desc.layers[l].n_out / T;
    double lambda = net->desc.loss.weight_decay;
    batch *= T; /* a token is a row */
    if (net->desc.layout == GA_LAYOUT_COLUMN)
        matmul(dparams + W->offset, delta, 1, a_prev, 0, fan_out, fan_in, batch, net->kernel);
    else
        matmul(dparams + W->offset, a_prev, 1, delta, 0, fan_in, fan_out, batch, net->kernel);
    /* db[k] summed over n in order, the rows taken one after another */
    double *db = dparams + b->offset;
    memset(db, 0, fan_out * sizeof *db);
    for (size_t n = 0; n < batch; n++)
        for (size_t k = 0; k < fan_out; k++)
            db[k] += delta[n * fan_out + k];
    if (lambda != 0.0)
        for (size_t i = 0; i < W->rows * W->cols; i++)
            dparams[W->offset + i] += lambda * params[W->offset + i];
}

/* acc (m) += v (m); acc may be NULL (a gradient nobody asked for) */
static void add_into(double *restrict acc, const double *restrict v, size_t m)
{
    if (!acc)
        return;
    for (size_t i = 0; i < m; i++)
        acc[i] += v[i];
}

/* The backward pass of a net with norms or residual adds (ga_ref_tmpl.h's
 * backward_graph computes the same operations; docs/spec.md has the
 * formulas): grad_a[l] = dL/d(layer l's output), zeroed and summed over the
 * layers that read it, last reader first; delta = the loss's dL/dz of the
 * last layer, as the chain's pass computes it. */
static int backward_graph(double *dparams, double *dx, ga_workspace *ws, const ga_net *net,
                          const double *params, const double *x, size_t batch)
{
    const ga_net_desc *d = &net->desc;
    int column = d->layout == GA_LAYOUT_COLUMN;
    for (size_t l = 0; l < d->n_layers; l++)
        memset(ws->grad_a[l], 0, batch * d->layers[l].n_out * sizeof(double));
    if (dx)
        memset(dx, 0, batch * d->n_in * sizeof *dx);
    for (size_t l = d->n_layers; l-- > 0;) {
        const ga_layer_desc *L = &d->layers[l];
        const ga_view *W = &net->views[2 * l], *b = &net->views[2 * l + 1];
        size_t fan_in = layer_fan_in(net, l), fan_out = L->n_out, m = batch * fan_in;
        const double *a_prev = l > 0 ? ws->a[l - 1] : x;
        double *g_prev = l > 0 ? ws->grad_a[l - 1] : dx, *g = ws->grad_a[l];
        if (L->kind == GA_LAYER_DROPOUT) {
            for (size_t n = 0; g_prev && n < batch; n++)
                for (size_t k = 0; k < fan_out; k++)
                    g_prev[n * fan_in + k] += g[n * fan_out + k] *
                        (ga_dropout_keep(L->seed, l, n, k, L->p) ? L->act_param : 0.0);
            continue;
        }
        if (L->kind == GA_LAYER_EMBEDDING) { /* scatter-add: repeated ids add up */
            memset(dparams + W->offset, 0, L->vocab * L->dim * sizeof *dparams);
            for (size_t e = 0; e < batch * fan_in; e++)
                add_into(dparams + W->offset + (size_t)x[e] * L->dim, g + e * L->dim, L->dim);
            continue; /* no gradient for the ids */
        }
        if (L->kind == GA_LAYER_RNN) {
            rnn_backward(dparams, g_prev ? ws->delta_prev : NULL, ws->delta, g, a_prev, ws->a[l],
                         ws->dact[l], net, l, params, batch);
            add_into(g_prev, ws->delta_prev, m);
            continue;
        }
        if (L->kind == GA_LAYER_ATTENTION) {
            if (g_prev) {
                size_t T = ga_layer_tokens(L);
                attn_backward(ws->delta_prev, g, a_prev, L, ws->scratch,
                              ws->scratch + L->heads * T * T, batch, net->kernel);
                add_into(g_prev, ws->delta_prev, m);
            }
            continue;
        }
        if (L->kind == GA_LAYER_BIAS) {
            const ga_view *b = &net->views[2 * l + 1];
            for (size_t k = 0; k < fan_out; k++) {
                double s = 0.0;
                for (size_t n = 0; n < batch; n++)
                    s += g[n * fan_out + k];
                dparams[b->offset + k] = s;
            }
            add_into(g_prev, g, m);
            continue;
        }
        if (L->kind == GA_LAYER_MAXPOOL || L->kind == GA_LAYER_AVGPOOL) {
            if (g_prev) {
                pool_backward(ws->delta_prev, g, a_prev, &L->geom, L->kind == GA_LAYER_MAXPOOL, batch);
                add_into(g_prev, ws->delta_prev, m);
            }
            continue;
        }
        if (L->kind == GA_LAYER_CONCAT) { /* the first fan_in of each row back, the rest to `from` */
            double *g_from = L->from == 0 ? dx : ws->grad_a[L->from - 1];
            size_t w1 = fan_out - fan_in;
            for (size_t n = 0; n < batch; n++) {
                add_into(g_prev ? g_prev + n * fan_in : NULL, g + n * fan_out, fan_in);
                add_into(g_from ? g_from + n * w1 : NULL, g + n * fan_out + fan_in, w1);
            }
            continue;
        }
        if (L->kind == GA_LAYER_RESIDUAL) {
            add_into(g_prev, g, m);
            add_into(L->from == 0 ? dx : ws->grad_a[L->from - 1], g, m);
            continue;
        }
        if (L->kind == GA_LAYER_BATCHNORM || L->kind == GA_LAYER_LAYERNORM ||
            L->kind == GA_LAYER_RMSNORM) {
            /* a layer norm's or rms norm's rows (a token a row), a batch norm's
             * features down the batch: dgamma, dbeta per feature k over the rows */
            const double *gamma = params + W->offset, *xh = ws->z[l], *r = ws->dact[l];
            int bn = L->kind == GA_LAYER_BATCHNORM, center = L->kind != GA_LAYER_RMSNORM;
            size_t T = ga_layer_tokens(L), rows = batch * T, dw = L->n_out / T;
            double *dgamma = dparams + W->offset, *dbeta = dparams + b->offset;
            memset(dgamma, 0, dw * sizeof *dgamma);
            if (center)
                memset(dbeta, 0, dw * sizeof *dbeta);
            for (size_t n = 0; n < rows; n++) /* each k's sums over n in order, row by row */
                for (size_t k = 0; k < dw; k++) {
                    dgamma[k] += g[n * dw + k] * xh[n * dw + k];
                    if (center)
                        dbeta[k] += g[n * dw + k];
                }
            if (!g_prev)
                continue;
            double *dxh = ws->delta; /* a row's or a feature's dxh */
            for (size_t q = 0; q < (bn ? dw : rows); q++) {
                size_t n_run = bn ? rows : dw, step = bn ? dw : 1, at = bn ? q : q * dw;
                for (size_t k = 0; k < n_run; k++)
                    dxh[k] = g[at + k * step] * gamma[bn ? q : k];
                normalize_backward(g_prev + at, dxh, xh + at, n_run, step, r[at], center);
            }
            continue;
        }
        double *delta = ws->delta; /* (B, fan_out) dL/dz */
        if (l + 1 < d->n_layers)
            for (size_t n = 0; n < batch; n++)
                chain_activation(delta + n * fan_out, g + n * fan_out, L,
                                 ws->dact[l] + n * fan_out, ws->a[l] + n * fan_out, fan_out);
        if (L->kind == GA_LAYER_CONV) {
            const ga_view *b = &net->views[2 * l + 1];
            conv_backward(dparams + W->offset, dparams + b->offset, g_prev ? ws->delta_prev : NULL,
                          ws->scratch, delta, a_prev, &L->geom, params + W->offset,
                          d->loss.weight_decay, batch, net->kernel);
            add_into(g_prev, ws->delta_prev, m);
            continue;
        }
        dense_param_grads(dparams, net, l, params, delta, a_prev, batch);
        if (!g_prev)
            continue;
        size_t T = ga_layer_tokens(L); /* a token is a row */
        matmul(ws->delta_prev, delta, 0, params + W->offset, !column, batch * T, fan_in / T,
               fan_out / T, net->kernel);
        add_into(g_prev, ws->delta_prev, m);
    }
    return GA_OK;
}

static int backward(double *dparams, double *dx, ga_workspace *ws, const ga_net *net,
                    const double *params, const double *x, const double *y, size_t batch)
{
    int status = check_args(ws, net, params, x, y, batch);
    if (status || !dparams)
        return status ? status : GA_EINVAL;
    if (ws->batch != batch)
        return GA_EINVAL; /* ga_forward must run first on this batch */
    const ga_net_desc *d = &net->desc;
    const ga_loss_desc *ld = &d->loss;
    size_t last = d->n_layers - 1, lt = ga_layer_tokens(&d->layers[last]);
    size_t n_last = d->layers[last].n_out / lt, rows = batch * lt; /* a token is a row */

    double factor = ld->scale;
    if (ld->reduction == GA_REDUCE_MEAN)
        factor = ld->scale / ((double)rows * (double)n_last);
    else if (ld->reduction == GA_REDUCE_BATCH_MEAN)
        factor = ld->scale / (double)rows;

    double *delta = ws->delta, *delta_prev = ws->delta_prev; /* (B, width) */
    const double *e = loss_exps(ws, d);
    for (size_t n = 0; n < rows; n++) {
        const double *z = ws->z[last] + n * n_last, *a = ws->a[last] + n * n_last;
        double *dz = delta + n * n_last;
        ga_loss_sample_dz(dz, ld->kind, z, a, y + n * n_last, n_last, factor,
                          e ? e + n * n_last : NULL);
        if (!ga_loss_fuses_output(ld->kind))
            chain_activation(dz, dz, &d->layers[last], ws->dact[last] + n * n_last, a, n_last);
    }
    if (ws->grad_a)
        return backward_graph(dparams, dx, ws, net, params, x, batch);

    for (size_t l = d->n_layers; l-- > 0;) {
        const ga_view *W = &net->views[2 * l];
        size_t fan_in = layer_fan_in(net, l), fan_out = d->layers[l].n_out;
        const double *a_prev = l > 0 ? ws->a[l - 1] : x; /* (B, fan_in) */
        int column = d->layout == GA_LAYOUT_COLUMN;
        dense_param_grads(dparams, net, l, params, delta, a_prev, batch);
        if (l == 0 && !dx)
            break;
        /* dA (B, in) = delta (B, out) . W(k, j) */
        double *dA = l == 0 ? dx : delta_prev;
        matmul(dA, delta, 0, params + W->offset, !column, batch, fan_in, fan_out, net->kernel);
        if (l == 0)
            break;
        const ga_layer_desc *Lp = &d->layers[l - 1];
        for (size_t n = 0; n < batch; n++)
            chain_activation(dA + n * fan_in, dA + n * fan_in, Lp, ws->dact[l - 1] + n * fan_in,
                             ws->a[l - 1] + n * fan_in, fan_in);
        double *t = delta;
        delta = delta_prev;
        delta_prev = t;
    }
    return GA_OK;
}

/* The public passes: each in the environment of an -Ofast program when
 * built with -Dcore_fast_math=true (ga_ftz.h), the caller's restored. */
int ga_forward(double *loss, ga_workspace *ws, const ga_net *net, const double *params,
               const double *x, const double *y, size_t batch)
{
    GA_FTZ_ENTER(mxcsr);
    int status = forward(loss, ws, net, params, x, y, batch);
    GA_FTZ_LEAVE(mxcsr);
    return status;
}

int ga_backward(double *dparams, double *dx, ga_workspace *ws, const ga_net *net,
                const double *params, const double *x, const double *y, size_t batch)
{
    GA_FTZ_ENTER(mxcsr);
    int status = backward(dparams, dx, ws, net, params, x, y, batch);
    GA_FTZ_LEAVE(mxcsr);
    return status;
}

int ga_loss_and_grad(double *loss, double *dparams, double *dx, ga_workspace *ws,
                     const ga_net *net, const double *params, const double *x,
                     const double *y, size_t batch)
{
    GA_FTZ_ENTER(mxcsr);
    int status = forward(loss, ws, net, params, x, y, batch);
    if (!status)
        status = backward(dparams, dx, ws, net, params, x, y, batch);
    GA_FTZ_LEAVE(mxcsr);
    return status;
}

int ga_core_fast_math(void)
{
#ifdef GA_CORE_FAST_MATH
    return 1;
#else
    return 0;
#endif
}
