/* soak_common.h: the sweep of configurations the slow suites walk through:
 * every hidden activation x every loss (its output activation follows) x
 * every reduction x batch sizes x both layouts. */
#ifndef GA_SOAK_COMMON_H
#define GA_SOAK_COMMON_H

#include "ga_randnet.h"

typedef struct {
    ga_activation hidden;
    ga_loss_kind loss;
    ga_reduction reduction;
    size_t batch;
    ga_layout layout;
} soak_config;

/* Configuration number k (wrapping around the full grid). */
static inline soak_config soak_config_at(size_t k, const size_t *batches, size_t n_batches)
{
    soak_config c;
    c.layout = (ga_layout)(k % 2);
    k /= 2;
    c.batch = batches[k % n_batches];
    k /= n_batches;
    c.reduction = (ga_reduction)(k % GA_REDUCE_COUNT);
    k /= GA_REDUCE_COUNT;
    c.loss = (ga_loss_kind)(k % GA_LOSS_COUNT);
    k /= GA_LOSS_COUNT;
    c.hidden = (ga_activation)(k % GA_ACT_COUNT);
    return c;
}

#define SOAK_GRID(n_batches) (2 * (n_batches) * GA_REDUCE_COUNT * GA_LOSS_COUNT * GA_ACT_COUNT)

#endif
