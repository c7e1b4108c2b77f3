/* ga_hardnet.h: random small networks drawn from the regions where gradient
 * verdicts are hard (issue 12): saturated units, exact and near kinks, huge
 * and tiny weights, forward cancellation, subnormal numbers, extreme logits,
 * 0/1 targets, exact rounding ties, and ordinary nets.
 *
 * Every draw comes from one ga_rng seeded with the given seed, so the seed
 * alone rebuilds a case; ga_hardnet_write turns it into a spec file (explicit
 * values, %.17g, bit for bit), a reproducer for `gradaudit check`. Nets are
 * built with ga_net_alloc like ga_randnet's; sizes are small (inputs and
 * widths 1-8, depth 1-5, batch 1-6) so that one oracle check takes
 * milliseconds. */
#ifndef GA_HARDNET_H
#define GA_HARDNET_H

#include <stdint.h>
#include <stdio.h>

#include "ga_core.h"

#define GA_HARDNET_MAX_LAYERS 5
#define GA_HARDNET_MAX_WIDTH 8
#define GA_HARDNET_MAX_BATCH 6

typedef enum {
    GA_HARD_PLAIN = 0,     /* an ordinary net: N(0, 1/fan_in) weights, N(0, 1) inputs */
    GA_HARD_SATURATE,      /* sigmoid/tanh/softplus/elu units with |z| from 20 to 700 */
    GA_HARD_KINK_EXACT,    /* relu-type units with z exactly 0, in double and exactly:
                              a zero weight row and bias, or dyadic x, w, b summing to 0 */
    GA_HARD_KINK_NEAR,     /* several relu-type units per sample with |z| tiny (1e-300 ..
                              3e-9), or 0 in double but not exactly */
    GA_HARD_HUGE_TINY,     /* a layer's weights or biases scaled by 10^e, |e| <= 150, or the
                              loss scale by 10^e, |e| <= 40 */
    GA_HARD_CANCEL,        /* equal input columns (or equal hidden units) feeding weights
                              +c and -c, |c| from 1e4 to 1e25: the forward pass cancels */
    GA_HARD_SUBNORMAL,     /* subnormal inputs, or a loss scale / output weights that
                              make the gradient subnormal */
    GA_HARD_EXTREME_LOGITS,/* output biases of logit losses (bce_logits, softmax_ce, cce,
                              bce) of size 10 to 1e300 */
    GA_HARD_TARGETS01,     /* targets exactly 0 or 1 (one-hot for the softmax losses) */
    GA_HARD_TIES,          /* parameters and inputs m 2^e (m odd < 16), piecewise-linear
                              activations, power-of-two scales, so the forward pass is exact;
                              targets half an ulp of the output: gradient entries lie exactly
                              halfway between two doubles */
    GA_HARD_COUNT
} ga_hard_regime;

const char *ga_hard_regime_name(ga_hard_regime r); /* "saturate", "kink_exact", ... */

typedef struct {
    ga_net *net;
    double *x;          /* (batch, n_in) */
    double *y;          /* (batch, n_out) */
    size_t batch;
    uint32_t seed;
    unsigned regimes;   /* bit r set: regime r was applied (for GA_HARD_PLAIN: none other) */
    ga_layer_desc layers[GA_HARDNET_MAX_LAYERS];
    char description[200]; /* "hardnet seed 12; regimes: saturate,kink_near" */
} ga_hardnet;

/* Draws the case of `seed`. Its main regime is seed % GA_HARD_COUNT, so
 * consecutive seeds cover every regime evenly; other regimes join it at
 * random. Every activation, loss, reduction, both layouts and weight decay
 * appear. GA_ENOMEM, or GA_EINVAL if the drawn net is refused (a bug). */
int ga_hardnet_make(ga_hardnet *h, ga_error *err, uint32_t seed);
void ga_hardnet_clear(ga_hardnet *h);

/* "saturate,kink_near" for a regime bit set. Returns snprintf's count. */
int ga_hardnet_regime_list(char *buf, size_t size, unsigned regimes);

/* The case as a spec (docs/spec.md) with explicit values, through
 * ga_spec_write: reading it back gives the same doubles bit for bit. */
int ga_hardnet_write(FILE *f, ga_error *err, const ga_hardnet *h);
/* The same into the file `path` (a temporary file renamed: never a partial file). */
int ga_hardnet_save(ga_error *err, const ga_hardnet *h, const char *path);

#endif
