/* f32_layers.c: the layers of f32_layers.h, in float throughout. The loops
 * follow llm.c's train_gpt2.c in what they compute and how such code keeps
 * its numbers (float accumulators, a reciprocal multiplied where it saves
 * divisions, gradients added into zeroed buffers); the code is this
 * example's own. Built three times by examples/meson.build (-O2, -Ofast,
 * OpenMP); the pragmas are inert without -fopenmp. */
#include <math.h>

#include "f32_layers.h"

#ifndef F32_LAYERS_TABLE /* this build's table and name (a second build renames them) */
#define F32_LAYERS_TABLE f32_layers_o2
#endif
#ifndef F32_LAYERS_BUILD
#define F32_LAYERS_BUILD "O2"
#endif
#ifndef F32_LAYERS_FTZ /* 1: an -Ofast program's build, run with flush-to-zero (f32_layers.h) */
#define F32_LAYERS_FTZ 0
#endif

#ifdef _OPENMP
#include <omp.h>
static int threads(void)
{
    return omp_get_max_threads();
}

static void set_threads(int n)
{
    omp_set_num_threads(n);
}
#else
static int threads(void)
{
    return 1;
}

static void set_threads(int n)
{
    (void)n;
}
#endif

/* ---- matmul --------------------------------------------------------------- */

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int B,
                    int T, int C, int OC)
{
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *x = inp + (b * T + t) * C;
            float *y = out + (b * T + t) * OC;
            for (int o = 0; o < OC; o++) {
                const float *w = weight + o * C;
                float acc = bias ? bias[o] : 0.0f;
                for (int i = 0; i < C; i++)
                    acc += x[i] * w[i];
                y[o] = acc;
            }
        }
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int B, int T, int C, int OC, int bug)
{
    /* each token's input gradient: its row of dout times weight */
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *g = dout + (b * T + t) * OC;
            float *dx = dinp + (b * T + t) * C;
            for (int o = 0; o < OC; o++) {
                const float *w = weight + o * C;
                for (int i = 0; i < C; i++)
                    dx[i] += w[i] * g[o];
            }
        }
    /* each output's weight row and bias: a sum over every token of the batch */
#pragma omp parallel for
    for (int o = 0; o < OC; o++)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                float g = dout[(b * T + t) * OC + o];
                const float *x = inp + (b * T + t) * C;
                if (dbias && (bug != F32_MATMUL_DB_ONE_SAMPLE || b == 0))
                    dbias[o] += g;
                for (int i = 0; i < C; i++) {
                    if (bug == F32_MATMUL_DW_TRANSPOSED)
                        dweight[i * OC + o] += x[i] * g;
                    else
                        dweight[o * C + i] += x[i] * g;
                }
            }
}

/* ---- layernorm ------------------------------------------------------------ */

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int B, int T, int C)
{
    const float eps = 1e-5f;
    for (int bt = 0; bt < B * T; bt++) {
        const float *x = inp + bt * C;
        float m = 0.0f;
        for (int i = 0; i < C; i++)
            m += x[i];
        m = m / C;
        float v = 0.0f;
        for (int i = 0; i < C; i++) {
            float d = x[i] - m;
            v += d * d;
        }
        v = v / C;
        float s = 1.0f / sqrtf(v + eps);
        float *y = out + bt * C;
        for (int i = 0; i < C; i++)
            y[i] = (x[i] - m) * s * weight[i] + bias[i];
        mean[bt] = m;
        rstd[bt] = s;
    }
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int B, int T, int C, int bug)
{
    for (int bt = 0; bt < B * T; bt++) {
        const float *g = dout + bt * C, *x = inp + bt * C;
        float *dx = dinp + bt * C;
        float m = mean[bt], s = rstd[bt];
        /* the two reductions the normalisation feeds back: mean(dxhat), mean(dxhat xhat) */
        float sum_dxh = 0.0f, sum_dxh_xh = 0.0f;
        for (int i = 0; i < C; i++) {
            float xh = (x[i] - m) * s, dxh = weight[i] * g[i];
            sum_dxh += dxh;
            sum_dxh_xh += dxh * xh;
        }
        float mean_dxh = sum_dxh / C, mean_dxh_xh = sum_dxh_xh / C;
        for (int i = 0; i < C; i++) {
            float xh = (x[i] - m) * s, dxh = weight[i] * g[i];
            dbias[i] += g[i];
            dweight[i] += xh * g[i];
            float d = dxh - xh * mean_dxh_xh;
            if (bug != F32_LN_NO_MEAN)
                d -= mean_dxh;
            dx[i] += s * d;
        }
    }
}

/* ---- GELU ----------------------------------------------------------------- */

#define GELU_K 0.7978845608f /* sqrt(2/pi) */
#define GELU_C 0.044715f

void gelu_forward(float *out, const float *inp, int N)
{
    for (int i = 0; i < N; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_C * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(u));
    }
}

void gelu_backward(float *dinp, const float *dout, const float *inp, int N, int bug)
{
    const float c = bug == F32_GELU_TYPO ? 0.04475f : GELU_C;
    for (int i = 0; i < N; i++) {
        float x = inp[i];
        float t = tanhf(GELU_K * (x + c * x * x * x));
        float du = GELU_K * (1.0f + 3.0f * c * x * x); /* d/dx of tanh's argument */
        float grad = 0.5f * (1.0f + t);
        if (bug != F32_GELU_NO_SECH2)
            grad += 0.5f * x * (1.0f - t * t) * du;
        dinp[i] += grad * dout[i];
    }
}

/* ---- attention ------------------------------------------------------------ */

void attention_forward(float *out, float *att, const float *inp, int B, int T, int C, int NH,
                       int bug)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(3)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *q = inp + (b * T + t) * C3 + h * hs;
                float *a = att + ((b * NH + h) * T + t) * T;
                int last = bug == F32_ATTN_NO_MASK ? T - 1 : t;
                /* scores, their largest, then exp and the sum */
                float top = 0.0f;
                for (int u = 0; u <= last; u++) {
                    const float *k = inp + (b * T + u) * C3 + C + h * hs;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++)
                        s += q[i] * k[i];
                    a[u] = s * scale;
                    if (u == 0 || a[u] > top)
                        top = a[u];
                }
                float sum = 0.0f;
                for (int u = 0; u <= last; u++) {
                    a[u] = expf(a[u] - top);
                    sum += a[u];
                }
                float inv = 1.0f / sum;
                for (int u = 0; u < T; u++)
                    a[u] = u <= last ? a[u] * inv : 0.0f;
                float *y = out + (b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++)
                    y[i] = 0.0f;
                for (int u = 0; u <= last; u++) {
                    const float *v = inp + (b * T + u) * C3 + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++)
                        y[i] += a[u] * v[i];
                }
            }
}

/* Not parallel: token t adds into the k and v gradients of every u <= t. */
void attention_backward(float *dinp, float *dpreatt, float *datt, const float *dout,
                        const float *inp, const float *att, int B, int T, int C, int NH, int bug)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = bug == F32_ATTN_NO_SCALE ? 1.0f : 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                int row = ((b * NH + h) * T + t) * T;
                const float *a = att + row, *g = dout + (b * T + t) * C + h * hs;
                float *da = datt + row, *dp = dpreatt + row;
                const float *q = inp + (b * T + t) * C3 + h * hs;
                float *dq = dinp + (b * T + t) * C3 + h * hs;
                int last = bug == F32_ATTN_NO_MASK ? T - 1 : t;
                /* out_t = sum_u a_u v_u */
                for (int u = 0; u <= last; u++) {
                    const float *v = inp + (b * T + u) * C3 + 2 * C + h * hs;
                    float *dv = dinp + (b * T + u) * C3 + 2 * C + h * hs;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++) {
                        s += g[i] * v[i];
                        dv[i] += a[u] * g[i];
                    }
                    da[u] += s;
                }
                /* a = softmax(scores): dscore_u = a_u (da_u - sum_w a_w da_w) */
                float ada = 0.0f;
                for (int u = 0; u <= last; u++)
                    ada += a[u] * da[u];
                for (int u = 0; u <= last; u++)
                    dp[u] += a[u] * (da[u] - ada);
                /* score_u = scale q_t . k_u */
                for (int u = 0; u <= last; u++) {
                    const float *k = inp + (b * T + u) * C3 + C + h * hs;
                    float *dk = dinp + (b * T + u) * C3 + C + h * hs;
                    float ds = dp[u] * scale;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += k[i] * ds;
                        dk[i] += q[i] * ds;
                    }
                }
            }
}

/* ---- softmax and cross-entropy -------------------------------------------- */

void softmax_forward(float *probs, const float *logits, int B, int T, int V)
{
    for (int bt = 0; bt < B * T; bt++) {
        const float *z = logits + bt * V;
        float *p = probs + bt * V;
        float top = z[0];
        for (int i = 1; i < V; i++)
            if (z[i] > top)
                top = z[i];
        float sum = 0.0f;
        for (int i = 0; i < V; i++) {
            p[i] = expf(z[i] - top);
            sum += p[i];
        }
        float inv = 1.0f / sum;
        for (int i = 0; i < V; i++)
            p[i] *= inv;
    }
}

void crossentropy_forward(float *losses, const float *probs, const int *targets, int B, int T,
                          int V)
{
    for (int bt = 0; bt < B * T; bt++)
        losses[bt] = -logf(probs[bt * V + targets[bt]]);
}

void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *probs,
                                   const int *targets, int B, int T, int V, int bug)
{
    for (int bt = 0; bt < B * T; bt++) {
        const float *p = probs + bt * V;
        float *dz = dlogits + bt * V;
        float dloss = dlosses[bt];
        for (int i = 0; i < V; i++) {
            float onehot = i == targets[bt] ? 1.0f : 0.0f;
            float d = bug == F32_CE_SIGN ? onehot - p[i] : p[i] - onehot;
            dz[i] += bug == F32_CE_NO_MEAN ? d : d * dloss;
        }
    }
}

const f32_layers_ops F32_LAYERS_TABLE = {
    F32_LAYERS_BUILD,
    threads,
    set_threads,
    matmul_forward,
    matmul_backward,
    layernorm_forward,
    layernorm_backward,
    gelu_forward,
    gelu_backward,
    attention_forward,
    attention_backward,
    softmax_forward,
    crossentropy_softmax_backward,
    F32_LAYERS_FTZ,
};
