/* ga_plainpass.h: a second forward and backward pass, in plain loops, with
 * switches. It serves two ends:
 *
 *   - bugs: the mutation suite injects known backprop mistakes here
 *     (ga_mutate.h) into an otherwise correct pass;
 *   - rounding: Monte Carlo arithmetic (Parker, Pierce & Eggert 2000; the
 *     random-rounding model of Higham & Mary 2019) replaces the rounding of
 *     every operation by an independent random relative error, so that the
 *     spread of K perturbed runs measures how far rounding can move each
 *     gradient entry, coherent paths and cancellations included.
 *
 * The random errors are drawn at a virtual unit roundoff GA_PLAIN_VIRTUAL_U
 * = 2^-40 (resolved exactly in double); ga_rounding.h scales the spread back
 * to double's u = 2^-53. Elementary functions (exp, tanh, log1p, expm1 in
 * glibc, and the core's few-operation formulas built on them) are given
 * random errors of up to 4 units: their documented accuracy plus the
 * formula's own roundings.
 */
#ifndef GA_PLAINPASS_H
#define GA_PLAINPASS_H

#include <stdint.h>

#include "ga_core.h"

#define GA_PLAIN_VIRTUAL_U 0x1p-40

typedef struct {
    /* bugs (all off: factor_scale 1, bias_scale 1, layers SIZE_MAX) */
    double factor_scale;     /* multiplies dL/dz of the loss */
    int no_decay;            /* weight-decay term left out */
    int ce_no_softmax;       /* softmax-CE gradient z - y */
    size_t act_layer;        /* layer whose f' is mutated */
    int act_missing;         /* 1: f' left out; 0: f' taken at a = f(z); 2: gelu_tanh's f'
                                with the cubic term's factor 3 dropped */
    size_t bias_layer;       /* layer whose db is scaled by bias_scale */
    double bias_scale;
    size_t transposed_layer; /* layer whose dW is stored in the other layout's order */
    size_t norm_no_mean;     /* layernorm layer whose dx leaves out - mean(dxh) */
    int embed_overwrite;     /* the embedding's dE[v] from v's last position alone */
    int conv_flip;           /* convolutions' input gradients with the kernel flipped */
    int attn_no_scale;       /* attention's score gradients without the 1/sqrt(hs) scale */
    int rnn_short;           /* backpropagation through time stopping one step early */
    int bn_no_var;           /* batch norm's input gradient without the variance's path */
    int add_no_skip;         /* a residual add's gradient not sent down its skip */
    int mask_forgotten;      /* dropout's backward without its mask */
    int pool_last_max;       /* max pools: the last largest takes dy; avg pools: dy undivided */
    /* Monte Carlo arithmetic */
    int mca;                 /* 1: perturb every operation */
    uint64_t mca_state;      /* random stream state (advanced by each call) */
} ga_plain_options;

/* All switches off, no perturbation. */
void ga_plain_options_default(ga_plain_options *o);

/* Loss and gradient by the plain pass. ws (from ga_workspace_alloc, sized
 * for batch) holds z, a and the deltas. grad (n_params). */
int ga_plain_pass(double *loss, double *grad, ga_error *err, ga_workspace *ws, const ga_net *net,
                  const double *params, const double *x, const double *y, size_t batch,
                  ga_plain_options *o);

#endif
