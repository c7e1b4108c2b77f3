/* f32_layers.h: a small float32 layer library written the way published C
 * training code is written (llm.c's train_gpt2.c): plain loops over
 * row-major (B, T, C) arrays, float accumulators, forward passes that keep
 * what their backward needs (layernorm's mean and 1/std, attention's
 * weights), backward passes that add (+=) into gradient buffers the caller
 * zeroed, `#pragma omp parallel for` on the loops llm.c parallelises.
 * Written for gradaudit's example, with none of gradaudit's code:
 * f32_layers_check.c checks every op through gradaudit_check_op.
 *
 * Each backward takes `bug`: F32_OK (0) is the correct op; the others
 * reproduce one mistake people make (enum f32_bug). Sizes are int, as such
 * code has them; the shape of every array is in the comment above its
 * function. */
#ifndef F32_LAYERS_H
#define F32_LAYERS_H

enum f32_bug {
    F32_OK = 0,
    F32_MATMUL_DW_TRANSPOSED,  /* dweight written as if weight were (C, OC) */
    F32_MATMUL_DB_ONE_SAMPLE,  /* dbias summed over the first sample's tokens only */
    F32_LN_NO_MEAN,            /* dinp without the mean(dxhat) term */
    F32_GELU_TYPO,             /* 0.044715 typed 0.04475 in the backward */
    F32_GELU_NO_SECH2,         /* the derivative without its sech^2 term */
    F32_ATTN_NO_SCALE,         /* backward without the 1/sqrt(hs) of the scores */
    F32_ATTN_NO_MASK,          /* the causal mask forgotten: every token attends to all T */
    F32_CE_NO_MEAN,            /* dlogits = p - y: dlosses (the mean's 1/(B T)) ignored */
    F32_CE_SIGN,               /* dlogits = (y - p) dloss: the sign flipped */
};

/* out = inp weight^T + bias, per token (llm.c's matmul layout):
 * out (B, T, OC), inp (B, T, C), weight (OC, C), bias (OC) or NULL */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int B,
                    int T, int C, int OC);
/* dinp (B, T, C) += dout weight; dweight (OC, C) += dout^T inp over (B, T);
 * dbias (OC) += dout summed over (B, T) (dbias may be NULL); dout (B, T, OC) */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int B, int T, int C, int OC, int bug);

/* per token: m = mean(x), v = mean((x - m)^2), s = 1/sqrt(v + 1e-5),
 * out = (x - m) s weight + bias; out, inp (B, T, C); weight, bias (C);
 * mean, rstd (B, T) kept for the backward */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int B, int T, int C);
/* xhat = (x - m) s, dxhat = dout weight: dinp += s (dxhat - mean(dxhat) -
 * xhat mean(dxhat xhat)), dweight += dout xhat, dbias += dout */
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int B, int T, int C, int bug);

/* GPT-2's GELU, tanh form: out = x/2 (1 + tanh(k (x + 0.044715 x^3))),
 * k = sqrt(2/pi); out, inp (N) */
void gelu_forward(float *out, const float *inp, int N);
/* dinp (N) += f'(inp) dout, f' = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 0.044715 x^2),
 * t = tanh(k (x + 0.044715 x^3)): 1 - t^2 is sech^2, as torch writes it */
void gelu_backward(float *dinp, const float *dout, const float *inp, int N, int bug);

/* Causal self-attention, NH heads of hs = C / NH: inp (B, T, 3C) holds each
 * token's q, k, v (C each); head h reads entries h hs .. (h + 1) hs - 1 of
 * them. att[b,h,t,u] = softmax_u (q_t . k_u / sqrt(hs)) over u <= t (0 for
 * u > t), out_t = sum_u att[b,h,t,u] v_u. out (B, T, C), att (B, NH, T, T).
 * bug F32_ATTN_NO_MASK lets every token attend to all T (forward and
 * backward); other values are the correct op. */
void attention_forward(float *out, float *att, const float *inp, int B, int T, int C, int NH,
                       int bug);
/* dinp (B, T, 3C) += the gradient through q, k and v; datt and dpreatt (B,
 * NH, T, T), zeroed by the caller, receive the gradients of the weights and
 * of the scores on the way. */
void attention_backward(float *dinp, float *dpreatt, float *datt, const float *dout,
                        const float *inp, const float *att, int B, int T, int C, int NH, int bug);

/* probs (B, T, V) = softmax of each token's logits (B, T, V) */
void softmax_forward(float *probs, const float *logits, int B, int T, int V);
/* losses (B, T) = -log probs[b, t, targets[b, t]]; targets (B, T) in 0 .. V - 1 */
void crossentropy_forward(float *losses, const float *probs, const int *targets, int B, int T,
                          int V);
/* Softmax and cross-entropy differentiated at once: dlogits (B, T, V) +=
 * (probs - onehot(target)) dlosses[b, t]. For the mean loss over the B T
 * tokens the caller fills dlosses with 1/(B T), as llm.c's gpt2_backward
 * does. */
void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *probs,
                                   const int *targets, int B, int T, int V, int bug);

/* Every op of one build of f32_layers.c. meson builds the file three times
 * (examples/meson.build): as the project compiles everything (-O2), with
 * -Ofast -march=native -ffp-contract=fast as llm.c builds itself, and with
 * OpenMP; the second and third have their functions renamed and are reached
 * through their tables, so that one program (f32_layers_soak) links all
 * three. */
typedef struct {
    const char *build;            /* "O2", "Ofast+FTZ", "OpenMP" */
    int (*threads)(void);         /* the threads an OpenMP loop uses (1 without OpenMP) */
    void (*set_threads)(int n);   /* omp_set_num_threads(n); nothing without OpenMP */
    void (*matmul_forward)(float *, const float *, const float *, const float *, int, int, int,
                           int);
    void (*matmul_backward)(float *, float *, float *, const float *, const float *,
                            const float *, int, int, int, int, int);
    void (*layernorm_forward)(float *, float *, float *, const float *, const float *,
                              const float *, int, int, int);
    void (*layernorm_backward)(float *, float *, float *, const float *, const float *,
                               const float *, const float *, const float *, int, int, int, int);
    void (*gelu_forward)(float *, const float *, int);
    void (*gelu_backward)(float *, const float *, const float *, int, int);
    void (*attention_forward)(float *, float *, const float *, int, int, int, int, int);
    void (*attention_backward)(float *, float *, float *, const float *, const float *,
                               const float *, int, int, int, int, int);
    void (*softmax_forward)(float *, const float *, int, int, int);
    void (*crossentropy_softmax_backward)(float *, const float *, const float *, const int *,
                                          int, int, int, int);
    /* 1: the build is an -Ofast program's, and its calls run as in one: GCC
     * links crtfastmath.o into a program linked with -Ofast (llm.c), which
     * sets flush-to-zero and denormals-are-zero for the whole process; the
     * adapters (f32_layers_op.c) set both around each call into the build
     * alone, so that gradaudit's own arithmetic stays IEEE */
    int ftz;
} f32_layers_ops;

extern const f32_layers_ops f32_layers_o2;     /* the functions above */
extern const f32_layers_ops f32_layers_ofast;  /* in f32_layers_ofast's library only */
extern const f32_layers_ops f32_layers_omp;    /* in f32_layers_omp's library only */

#endif
