/* f32_layers_op.h: each layer of f32_layers.h checked as one gradaudit op
 * (gradaudit_check_op, docs/library.md "One op against gradaudit's own op"),
 * in float32: small adapters from the llm.c-style signature
 * backward(dinp, dweight, dbias, dout, inp, weight, ...) to
 * gradaudit_op_backward_fn. Each f32_check_* widens the float inputs to
 * doubles (exactly), computes the forward output with the layer's own
 * forward when asked (gradaudit then judges it, tensor "y"), and hands
 * gradaudit a callback that narrows the numbers back to float, zeroes the
 * gradient buffers (the layers add into them), runs the forward for what
 * the backward needs and then the backward, and widens the results.
 *
 * The ops as gradaudit names them (docs/spec.md), a sample being one row of
 * the batch B:
 *   matmul       {"size": OC, "tokens": T, "activation": "identity"}, W1 (OC, C) and
 *                b1 (OC) in the column layout: llm.c's weight (OC, C) as it is
 *   layernorm    {"type": "layernorm", "eps": 1e-5, "tokens": T}, gamma1 = weight, beta1 = bias
 *   gelu         {"activation": "gelu_tanh"} over the T C entries of a sample
 *   attention    {"type": "attention", "tokens": T, "heads": NH}: a sample is T tokens of
 *                (q, k, v), llm.c's (T, 3C) qkv
 *   softmax_ce   {"activation": "softmax"} over each token's V logits (B T rows): see
 *                f32_check_softmax_ce
 * Every function returns gradaudit_check_op's status (GRADAUDIT_OK when the
 * check ran, whatever the verdicts), with a message in err. */
#ifndef F32_LAYERS_OP_H
#define F32_LAYERS_OP_H

#include <stdint.h>

#include <gradaudit.h>

#include "f32_layers.h"

/* One op to check: its shape, the variant, dy's seed. */
typedef struct {
    int B, T, C;    /* samples, tokens per sample, channels per token */
    int OC;         /* matmul: outputs per token */
    int NH;         /* attention: heads, hs = C / NH */
    int V;          /* softmax_ce: logits per token (C unused) */
    int bug;        /* enum f32_bug; F32_OK: the correct op */
    uint64_t seed;  /* gradaudit draws dy from it (named in first_fail) */
    int forward;    /* 1: the layer's forward output is judged too (tensor "y") */
    uint64_t *digest; /* NULL, or receives a hash of the float results (the forward output,
                       * then the gradients) to compare builds bit for bit */
    int fast_math;  /* 1: judged by gradaudit's fast-math model (gradaudit_op.fast_math), as
                     * code built with -Ofast must be */
} f32_op_case;

/* inp (B, T, C), weight (OC, C), bias (OC) */
int f32_check_matmul(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                     const f32_op_case *c, const float *inp, const float *weight,
                     const float *bias);
/* inp (B, T, C), weight and bias (C) */
int f32_check_layernorm(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                        const f32_op_case *c, const float *inp, const float *weight,
                        const float *bias);
/* inp (B, T, C) */
int f32_check_gelu(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                   const f32_op_case *c, const float *inp);
/* inp (B, T, 3C) */
int f32_check_attention(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                        const f32_op_case *c, const float *inp);
/* logits (B, T, V). The fused softmax + cross-entropy backward is the
 * gradient of a loss: gradaudit_check_op judges vector-Jacobian products of
 * ops with an upstream gradient dy it draws (the `dot` loss), and no op of a
 * spec is a loss, so the fused backward is judged through the softmax op:
 * for any dy, sum over every class t of (-p_t dy_t) (p - onehot(t)) = p (dy
 * - sum p dy), the softmax's vector-Jacobian product. The callback runs the
 * fused backward once per class t, every token's target t and its dloss
 * -p_t dy_t, and adds the V results (in double: no rounding of its own to
 * speak of). A wrong sign, a dloss ignored or a misplaced onehot breaks the
 * identity. With forward set, softmax_forward's probabilities are judged. */
int f32_check_softmax_ce(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                         const f32_op_case *c, const float *logits);

#endif
