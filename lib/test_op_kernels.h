/* test_op_kernels.h: the ops lib/test_op.c checks, written for this test by
 * hand as C training code writes them (llm.c's layernorm, gelu and attention
 * backward passes, a scatter-add embedding, a direct convolution), and with
 * none of gradaudit's code: the second implementation gradaudit's oracle is
 * held against. Compiled twice, GSL's templates_on.h way: the includer
 * defines
 *   REAL       float or double, the type every operation computes in
 *   FN(name)   this instance's name for `name`
 *   SQRT, EXP, ERFC, TANH, COSH   REAL's functions (sqrtf, expf, ... for float)
 * Inputs arrive as doubles holding REAL numbers (gradaudit rounds them to
 * float32 for the float instance, so the casts are exact) and results leave
 * widened to double. `bug` selects a mistake people make (enum bug in
 * test_op.c); 0 is the correct op. Every output entry is written. */

/* layernorm over rows of n (llm.c's layernorm_backward): per row mu, r =
 * 1/sqrt(var + eps), xh = (x - mu) r; dgamma = sum dy xh, dbeta = sum dy,
 * dxh = dy gamma, dx = r (dxh - mean(dxh) - xh mean(dxh xh)); the bug leaves
 * out mean(dxh) */
static void FN(layernorm_backward)(double *dx, double *dgamma, double *dbeta, const double *dy,
                                   const double *x, const double *gamma, size_t B, size_t n,
                                   REAL eps, int bug)
{
    REAL dg[MAXW] = {0}, db[MAXW] = {0}, xh[MAXW];
    for (size_t s = 0; s < B; s++) {
        const double *xs = x + s * n, *dys = dy + s * n;
        REAL mu = 0, var = 0;
        for (size_t k = 0; k < n; k++)
            mu += (REAL)xs[k];
        mu /= (REAL)n;
        for (size_t k = 0; k < n; k++) {
            REAL c = (REAL)xs[k] - mu;
            var += c * c;
        }
        var /= (REAL)n;
        REAL r = (REAL)1 / SQRT(var + eps);
        REAL mean_dxh = 0, mean_dxh_xh = 0;
        for (size_t k = 0; k < n; k++) {
            xh[k] = ((REAL)xs[k] - mu) * r;
            REAL dxh = (REAL)dys[k] * (REAL)gamma[k];
            mean_dxh += dxh;
            mean_dxh_xh += dxh * xh[k];
            dg[k] += (REAL)dys[k] * xh[k];
            db[k] += (REAL)dys[k];
        }
        mean_dxh /= (REAL)n;
        mean_dxh_xh /= (REAL)n;
        for (size_t k = 0; k < n; k++) {
            REAL t = (REAL)dys[k] * (REAL)gamma[k];
            if (bug != LN_NO_MEAN)
                t -= mean_dxh;
            t -= xh[k] * mean_dxh_xh;
            dx[s * n + k] = (double)(r * t);
        }
    }
    for (size_t k = 0; k < n; k++) {
        dgamma[k] = (double)dg[k];
        dbeta[k] = (double)db[k];
    }
}

/* gelu with the normal distribution function: f(z) = z Phi(z), f'(z) =
 * Phi(z) + z phi(z), Phi(z) = erfc(-z/sqrt 2)/2 */
static void FN(gelu_backward)(double *dx, const double *dy, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        REAL z = (REAL)x[i];
        REAL cdf = (REAL)0.5 * ERFC(-z * (REAL)0.70710678118654752440);
        REAL pdf = EXP((REAL)-0.5 * z * z) * (REAL)0.39894228040143267794;
        dx[i] = (double)((REAL)dy[i] * (cdf + z * pdf));
    }
}

/* GPT-2's tanh form, as llm.c's gelu_forward / gelu_backward write it:
 * f(z) = z/2 (1 + tanh(k (z + c z^3))), k = sqrt(2/pi), the derivative
 * through cosh; the bug types c = 0.044715 as 0.04475 */
#define GELU_C(bug) ((bug) == GELU_TYPO ? (REAL)0.04475 : (REAL)0.044715)
static void FN(gelu_tanh_forward)(double *y, const double *x, size_t n, int bug)
{
    for (size_t i = 0; i < n; i++) {
        REAL z = (REAL)x[i];
        REAL u = (REAL)0.79788456080286535588 * (z + GELU_C(bug) * z * z * z);
        y[i] = (double)((REAL)0.5 * z * ((REAL)1 + TANH(u)));
    }
}

static void FN(gelu_tanh_backward)(double *dx, const double *dy, const double *x, size_t n,
                                   int bug)
{
    for (size_t i = 0; i < n; i++) {
        REAL z = (REAL)x[i], k = (REAL)0.79788456080286535588, c = GELU_C(bug);
        REAL u = k * (z + c * z * z * z), t = TANH(u), ch = COSH(u);
        REAL sech2 = (REAL)1 / (ch * ch);
        REAL grad = (REAL)0.5 * ((REAL)1 + t) +
                    z * (REAL)0.5 * sech2 * k * ((REAL)1 + (REAL)3 * c * z * z);
        dx[i] = (double)(grad * (REAL)dy[i]);
    }
}

/* causal self-attention over T tokens of (q, k, v), each d wide, H heads of
 * hs = d / H (llm.c's attention_forward / attention_backward): s_u = (q_t .
 * k_u) m for u <= t, m = 1/sqrt(hs), p = softmax(s) with its largest s
 * subtracted, out_t = sum_u p_u v_u; backward dv_u += p_u dout_t, dp_u =
 * dout_t . v_u, ds_u = p_u (dp_u - sum_w p_w dp_w), dq_t += ds_u k_u m,
 * dk_u += ds_u q_t m; the bug leaves out m in dq and dk. One sample. */
static void FN(attention_backward)(double *dx, const double *dout, const double *x, size_t T,
                                   size_t H, size_t d, int bug)
{
    size_t hs = d / H, C3 = 3 * d;
    REAL m = (REAL)(1.0 / sqrt((double)hs)); /* as gradaudit holds it: the double rounded */
    REAL g[MAXW] = {0}, p[MAXT], dp[MAXT];
    for (size_t h = 0; h < H; h++)
        for (size_t t = 0; t < T; t++) {
            const double *q = x + t * C3 + h * hs;
            REAL mx = -INFINITY;
            for (size_t u = 0; u <= t; u++) {
                const double *kk = x + u * C3 + d + h * hs;
                REAL s = 0;
                for (size_t i = 0; i < hs; i++)
                    s += (REAL)q[i] * (REAL)kk[i];
                p[u] = s * m;
                mx = p[u] > mx ? p[u] : mx;
            }
            REAL sum = 0;
            for (size_t u = 0; u <= t; u++) {
                p[u] = EXP(p[u] - mx);
                sum += p[u];
            }
            for (size_t u = 0; u <= t; u++)
                p[u] /= sum;
            const double *dot = dout + t * d + h * hs;
            REAL pdp = 0;
            for (size_t u = 0; u <= t; u++) {
                const double *v = x + u * C3 + 2 * d + h * hs;
                dp[u] = 0;
                for (size_t i = 0; i < hs; i++) {
                    dp[u] += (REAL)dot[i] * (REAL)v[i];
                    g[u * C3 + 2 * d + h * hs + i] += p[u] * (REAL)dot[i];
                }
                pdp += p[u] * dp[u];
            }
            for (size_t u = 0; u <= t; u++) {
                REAL ds = p[u] * (dp[u] - pdp);
                if (bug != ATTN_NO_SCALE)
                    ds *= m;
                const double *kk = x + u * C3 + d + h * hs;
                for (size_t i = 0; i < hs; i++) {
                    g[t * C3 + h * hs + i] += ds * (REAL)kk[i];
                    g[u * C3 + d + h * hs + i] += ds * (REAL)q[i];
                }
            }
        }
    for (size_t i = 0; i < T * C3; i++)
        dx[i] = (double)g[i];
}

/* an embedding table E (V, D) read at ids (B T): dE[v] = the sum of dy over
 * the positions holding v (a scatter-add; 0 where v never occurs); the bug
 * keeps the last position's alone (an overwrite) */
static void FN(embedding_backward)(double *dE, const double *dy, const double *ids, size_t BT,
                                   size_t V, size_t D, int bug)
{
    REAL acc[MAXW] = {0};
    for (size_t e = 0; e < BT; e++) {
        size_t v = (size_t)ids[e];
        for (size_t k = 0; k < D; k++) {
            REAL g = (REAL)dy[e * D + k];
            acc[v * D + k] = bug == EMB_OVERWRITE ? g : acc[v * D + k] + g;
        }
    }
    for (size_t i = 0; i < V * D; i++)
        dE[i] = (double)acc[i];
}

/* a direct 2d convolution of one sample's (C, H, W) image, OC output
 * channels, a K x K kernel, stride 1, zero padding P, W (OC, C K K), b
 * (OC): dW[o,c,u,v] += dz[o,i,j] x[c, i+u-P, j+v-P], db[o] += dz[o,i,j],
 * dx[c, i+u-P, j+v-P] += dz[o,i,j] W[o,c,u,v]; the bug reads the kernel
 * flipped, W[o, c, K-1-u, K-1-v], in dx. Accumulates into g (the caller
 * zeroes it): gx (C H W), gW (OC C K K), gb (OC). */
static void FN(conv2d_backward)(REAL *gx, REAL *gW, REAL *gb, const double *dz, const double *x,
                                const double *Wt, size_t C, size_t H, size_t Wd, size_t OC,
                                size_t K, size_t P, int bug)
{
    size_t Ho = H + 2 * P - K + 1, Wo = Wd + 2 * P - K + 1;
    for (size_t o = 0; o < OC; o++)
        for (size_t i = 0; i < Ho; i++)
            for (size_t j = 0; j < Wo; j++) {
                REAL g = (REAL)dz[(o * Ho + i) * Wo + j];
                gb[o] += g;
                for (size_t c = 0; c < C; c++)
                    for (size_t u = 0; u < K; u++)
                        for (size_t v = 0; v < K; v++) {
                            long r = (long)(i + u) - (long)P, q = (long)(j + v) - (long)P;
                            if (r < 0 || q < 0 || r >= (long)H || q >= (long)Wd)
                                continue;
                            size_t xi = (c * H + (size_t)r) * Wd + (size_t)q;
                            size_t wu = bug == CONV_FLIP ? K - 1 - u : u, wv = bug == CONV_FLIP ? K - 1 - v : v;
                            gW[((o * C + c) * K + u) * K + v] += g * (REAL)x[xi];
                            gx[xi] += g * (REAL)Wt[((o * C + c) * K + wu) * K + wv];
                        }
            }
}

/* batch norm in training mode, per feature k over the batch of B: mu_k, the
 * biased var_k, r_k = 1/sqrt(var_k + eps), xh = (x - mu) r; dgamma = sum_n
 * dy xh, dbeta = sum_n dy, dx = r (dxh - mean_n dxh - xh mean_n (dxh xh)),
 * dxh = dy gamma: every sample's dx depends on the whole batch */
static void FN(batchnorm_backward)(double *dx, double *dgamma, double *dbeta, const double *dy,
                                   const double *x, const double *gamma, size_t B, size_t K,
                                   REAL eps)
{
    REAL xh[MAXT];
    for (size_t k = 0; k < K; k++) {
        REAL mu = 0, var = 0, dg = 0, db = 0, m1 = 0, m2 = 0;
        for (size_t n = 0; n < B; n++)
            mu += (REAL)x[n * K + k];
        mu /= (REAL)B;
        for (size_t n = 0; n < B; n++) {
            REAL c = (REAL)x[n * K + k] - mu;
            var += c * c;
        }
        var /= (REAL)B;
        REAL r = (REAL)1 / SQRT(var + eps);
        for (size_t n = 0; n < B; n++) {
            REAL g = (REAL)dy[n * K + k], dxh = g * (REAL)gamma[k];
            xh[n] = ((REAL)x[n * K + k] - mu) * r;
            dg += g * xh[n];
            db += g;
            m1 += dxh;
            m2 += dxh * xh[n];
        }
        m1 /= (REAL)B;
        m2 /= (REAL)B;
        for (size_t n = 0; n < B; n++)
            dx[n * K + k] = (double)(r * ((REAL)dy[n * K + k] * (REAL)gamma[k] - m1 - xh[n] * m2));
        dgamma[k] = (double)dg;
        dbeta[k] = (double)db;
    }
}
