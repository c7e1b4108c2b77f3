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

/* ---- the gate's table ------------------------------------------------------
 * One definition of the sweep the gate and its companions run (test_gate,
 * test_gate_slow, test_refmp, bench/dump_specs): every hidden activation x
 * every loss whose output activation pairs with it (ga_loss_check_pair) x each
 * batch x both layouts x n_seeds consecutive seeds, nested in that order. */

/* Everything ga_randnet_make_case needs to rebuild one net. */
typedef struct {
    ga_activation act; /* hidden; the output one follows from the loss */
    ga_loss_kind loss;
    size_t batch;
    ga_layout layout;
    size_t depth, width;
    uint32_t seed;
} ga_randnet_case;

#define GA_RANDNET_TABLE_BATCHES 4
typedef struct {
    size_t batches[GA_RANDNET_TABLE_BATCHES]; /* the first n_batches are used */
    size_t n_batches;
    size_t n_seeds;      /* per (activation, loss, batch, layout) */
    uint32_t first_seed; /* the cases' seeds count up from it in table order */
    size_t depth, width;
} ga_randnet_table;

/* The gate's own sweep (checks/test_gate.c; bench/dump_specs.c writes its nets
 * for bench/compare_outputs.sh): width 3, depth 3 (n_in 3, 3-3-3: softmax
 * losses need >= 2 outputs). */
#define GA_RANDNET_GATE_TABLE {{1, 2, 7, 64}, 4, 1, 20261122u, 3, 3}

/* Room for every case of a table of n_seeds seeds (a constant expression). */
#define GA_RANDNET_TABLE_MAX(n_seeds) \
    ((size_t)GA_ACT_COUNT * GA_LOSS_COUNT * GA_RANDNET_TABLE_BATCHES * 2 * (n_seeds))

/* The table's cases, in order, into cases (room for
 * GA_RANDNET_TABLE_MAX(t->n_seeds); NULL only counts). Returns their number. */
size_t ga_randnet_table_cases(ga_randnet_case *cases, const ga_randnet_table *t);

/* ga_randnet_make on a case: reduction seed % 3, and weight decay 0.01 on odd
 * seeds so that the lambda W term is covered too. */
int ga_randnet_make_case(ga_randnet *p, ga_error *err, const ga_randnet_case *c);

#endif
