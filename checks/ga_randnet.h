/* ga_randnet.h: random small networks and data for suites, soaks and benches.
 * Every draw comes from one ga_rng seeded with the given seed, so a failure
 * names everything needed to rebuild the case. */
#ifndef GA_RANDNET_H
#define GA_RANDNET_H

#include <stdint.h>

#include "ga_core.h"
#include "ga_random.h"

#define GA_RANDNET_MAX_LAYERS 4

typedef struct {
    ga_net *net;
    double *x;      /* (batch, n_in) */
    double *y;      /* (batch, n_out) targets suited to the loss */
    size_t batch;
    uint32_t seed;
    ga_layer_desc layers[GA_RANDNET_MAX_LAYERS];
} ga_randnet;

/* The output activation a loss is defined on (mse: `hidden`). */
ga_activation ga_randnet_output_activation(ga_loss_kind loss, ga_activation hidden);

/* An n_in-h-h-n_out net (depth 1 to 4 layers, all hidden layers `hidden`),
 * parameters ~ N(0, 1/fan_in), x ~ N(0, 1); targets: N(0,1) for mse,
 * U[0,1) for the binary losses, a probability vector for the softmax losses.
 * Widths 1..4 drawn from the seed unless width > 0. */
int ga_randnet_make(ga_randnet *p, ga_error *err, ga_layout layout, ga_activation hidden,
                    ga_loss_kind loss, ga_reduction reduction, size_t batch, size_t depth,
                    size_t width, double weight_decay, uint32_t seed);
void ga_randnet_clear(ga_randnet *p);

/* The draws ga_randnet_make makes, for other generators to share: every W and
 * b of net ~ N(0, 1/fan_in) in slab order; y (batch, n_out) targets suited to
 * the loss as above. */
void ga_randnet_fill_params(ga_net *net, ga_rng *rng);
void ga_randnet_fill_targets(double *y, size_t batch, size_t n_out, ga_loss_kind loss, ga_rng *rng);

/* One line naming the case: "tanh/mse(mean) row B=7 depth 3 seed 12". */
int ga_randnet_describe(char *buf, size_t size, const ga_randnet *p);

#endif
