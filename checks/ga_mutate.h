/* ga_mutate.h: known backprop bugs, injected into an otherwise correct
 * backward pass, so that the checker's power can be measured (a mutation
 * suite): each class below is a mistake people make when they write backprop
 * by hand. */
#ifndef GA_MUTATE_H
#define GA_MUTATE_H

#include <stdint.h>

#include "ga_check.h"
#include "ga_core.h"
#include "ga_randnet.h"

typedef enum {
    GA_MUT_SIGN_FLIP = 0,     /* one entry's sign flipped */
    GA_MUT_MISSING_FACTOR_2,  /* d/da (a-y)^2 taken as (a-y): mse only */
    GA_MUT_MISSING_ACT_DERIV, /* one layer's activation derivative left out */
    GA_MUT_DERIV_AT_A,        /* one layer's f' evaluated at a = f(z) instead of z */
    GA_MUT_TRANSPOSED_DW,     /* one layer's dW stored in the other layout's order */
    GA_MUT_BIAS_MISSING,      /* one layer's db left at zero */
    GA_MUT_BIAS_AVERAGED,     /* one layer's db divided by the batch size */
    GA_MUT_BATCH_SUM_MEAN,    /* every entry off by the batch size (sum taken for mean) */
    GA_MUT_BATCH_B_MINUS_1,   /* every entry scaled by B/(B-1) (1/(B-1) taken for 1/B) */
    GA_MUT_DROPPED_DECAY,     /* the weight-decay term lambda W left out */
    GA_MUT_CE_NO_SOFTMAX,     /* softmax-CE gradient z - y instead of softmax(z) - y */
    GA_MUT_SCALE_1E_9,        /* one entry scaled by (1 + 1e-9) */
    GA_MUT_ULP_2_20,          /* one entry moved by 2^20 ulps */
    GA_MUT_GELU_TANH_CUBIC,   /* one gelu_tanh layer's f' with c z^2 where 3 c z^2 belongs
                                 (d/dz of z + c z^3 taken as 1 + c z^2): gelu_tanh only */
    GA_MUT_COUNT
} ga_mutation;

const char *ga_mutation_name(ga_mutation m);

/* Whether the class can apply to this net and batch at all (the loss is
 * mse, there is weight decay, B > 1, ...). A class that applies can still
 * have no effect at a given point (a missing relu derivative where every
 * z > 0): ga_mutant_gradient says so through *effect. */
int ga_mutation_applies(const ga_net *net, size_t batch, ga_mutation m);

/* The gradient with bug m injected. grad (n_params) is written; *effect = 0
 * when the bug leaves the gradient bit-identical at this point (nothing to
 * detect), 1 otherwise. seed picks the entry or the layer; describe (may be
 * NULL) receives where the bug went ("W2[1,0]", "layer 1"). Runs its own
 * forward pass through ws (sized for batch). */
int ga_mutant_gradient(double *grad, int *effect, char *describe, size_t describe_size,
                       ga_error *err, ga_workspace *ws, const ga_net *net,
                       const double *params, const double *x, const double *y, size_t batch,
                       ga_mutation m, uint64_t seed);

/* What a bug does to the gradient at one point. */
enum {
    GA_MUT_NO_EFFECT = 0,      /* every bit unchanged: nothing to detect */
    GA_MUT_RESOLVABLE = 1,     /* some entry moves by more than its rounding scale */
    GA_MUT_BELOW_ROUNDING = 2  /* entries move, each by no more than LAMBDA sigma of a
                                * correct double computation (ga_rounding.h): below
                                * what any check in double can tell from rounding */
};

/* One trial: bug m on the random problem p, checked by `method` with the
 * derived tolerances. *effect is one of GA_MUT_*; *detected = 1 when the
 * check drew at least one FAIL; where names the place the bug went. */
int ga_mutation_trial(int *detected, int *effect, char *where, size_t where_size, ga_error *err,
                      const ga_randnet *p, ga_mutation m, uint64_t seed, ga_check_method method);

#endif
