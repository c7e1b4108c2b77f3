/* train_mlp.h: a hand-written training loop of a small MLP that logs its
 * gradient norms through gradaudit's public API (gradaudit_normlog_*). Like mlp.c it
 * shares no code with gradaudit's core/: it is what a user writes.
 *
 *   a_0 = x                                   (B, width[0])
 *   z_l = a_{l-1} W_l^T + b_l                 W_l (width[l], width[l-1]), b_l (width[l])
 *   a_l = f(z_l) for l < L, a_L = z_L         f: identity, tanh or sigmoid 1/(1+exp(-z))
 *   loss = 1/(B O) sum_{n,k} (a_L[n,k] - y[n,k])^2,  O = width[L]
 *
 * Data: x with N(0, 1) entries, y = sin(x_0 + x_1 + ...) in every output, drawn
 * once from the seed. Init: W_l = gain N(0, 1) / sqrt(width[l-1]), b_l = 0.
 * Full-batch SGD: p -= lr g, after clipping the global norm to `clip` when
 * clip > 0 (g *= clip / (norm + 1e-6) when that factor is below 1). Each step
 * logs the gradient (before clipping), the parameters it was taken at and the
 * clip to the CSV.
 */
#ifndef EXAMPLE_TRAIN_MLP_H
#define EXAMPLE_TRAIN_MLP_H

#include <stddef.h>

#include <gradaudit.h>

#define TM_MAX_LAYERS 16

typedef enum { TM_IDENTITY = 0, TM_TANH, TM_SIGMOID } tm_act;

typedef struct {
    size_t layers;                      /* L weight layers, 1..TM_MAX_LAYERS */
    size_t width[TM_MAX_LAYERS + 1];    /* width[0] inputs .. width[L] outputs */
    tm_act act;                         /* hidden layers' activation */
    double gain;                        /* init scale */
    double lr;
    double clip;                        /* 0: no clipping */
    size_t batch, steps;
    unsigned long seed;
} tm_config;

/* Sees every step's gradient, as the loop has it before clipping: grads
 * (2 L) in the order W1, b1, W2, b2, ..., sizes[i] entries each. */
typedef void (*tm_observer)(size_t step, double loss, const double *const *grads,
                            const size_t *sizes, void *user);

/* Trains and logs every step to csv (gradaudit_normlog, options opt or NULL).
 * Stops early, with GRADAUDIT_OK, after the first step whose loss is not finite (that
 * step is logged). GRADAUDIT_EINVAL for a bad configuration, else the log's status;
 * err says what. */
int tm_train(gradaudit_error *err, const tm_config *cfg, const char *csv,
             const gradaudit_normlog_options *opt, tm_observer obs, void *user);

/* The example's configurations (which: "normal", "explode", "vanish"):
 * normal:  3-16-16-1 tanh, gain 1, lr 0.1, clip 1, 200 steps, batch 32
 * explode: 3-16-16-1 identity, gain 3, lr 0.003, no clipping, 200 steps: the
 *          global norm grows 7.6, 56 and 44,822 times by steps 1-3, the loss
 *          is non-finite from step 6 (the run stops there)
 * vanish:  3, ten layers of 16, 1; sigmoid, gain 1, 20 steps: the first
 *          layers' gradients vanish */
void tm_example_config(tm_config *c, const char *which);

#endif
