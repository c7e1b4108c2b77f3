/* ga_ops.h: a network as a graph of typed ops, described once.
 *
 * Every pass over a network that is not the fast double core (the generic
 * reference of ga_ref_tmpl.h, compiled for each checking arithmetic) walks
 * this description instead of the layer list, so that a new kind of op is
 * added in one place. Today's nets are a chain:
 *
 *   value 0 = x (B, n_in)
 *   DENSE   v0 -> v1      z1 = x . W1(k, j) + b1          params W1, b1
 *   ACT     v1 -> v2      a1 = f(z1) elementwise           (or SOFTMAX per row)
 *   DENSE   v2 -> v3      z2 = a1 . W2(k, j) + b2           ...
 *   ...
 *   LOSS    (z_L, a_L, y) -> L = scale * reduce(terms)      a scalar
 *   DECAY   params       -> L += lambda/2 sum W^2           a scalar term
 *
 * Values are (B, width) tensors, one row per sample. An op names up to
 * GA_OP_MAX_INPUTS input values and one output value of its own width, and
 * up to GA_OP_MAX_PARAMS parameter tensors (indices into net->views), so an
 * op with several inputs (a residual add) or an output shape of its own fits
 * the same description. An identity activation is no op: the dense op's
 * output is the layer's activation too.
 *
 * Stages: the ops of one layer (a dense op and the activation after it)
 * share a stage number. A pass runs each stage's forward ops sample by
 * sample (for each sample: every op of the stage), the order the plain
 * reference pass has always used; see ga_ref_tmpl.h for the backward order.
 */
#ifndef GA_OPS_H
#define GA_OPS_H

#include <stddef.h>

#include "ga_core.h"

typedef enum {
    GA_OP_DENSE = 0, /* out[n,k] = (sum_j in[n,j] W(k,j)) + b[k]; params W, b */
    GA_OP_ACT,       /* out[n,k] = f(in[n,k]), f an elementwise activation */
    GA_OP_SOFTMAX,   /* out[n,:] = softmax(in[n,:]) */
    GA_OP_LOSS,      /* scale * reduce over samples of term(z, a, y); inputs z, a */
    GA_OP_DECAY,     /* lambda/2 * sum of W^2 over the listed weight tensors */
    GA_OP_LAYERNORM, /* per row of n: mu = sum x / n, d = x - mu, var = sum d^2 / n,
                        r = 1 / sqrt(var + eps), xh = d r; output xh, output2 r (B, 1) */
    GA_OP_RMSNORM,   /* per row: r = 1 / sqrt(sum x^2 / n + eps), xh = x r; output xh, output2 r */
    GA_OP_AFFINE,    /* out[n,k] = gamma[k] xh[n,k] (+ beta[k]); params gamma (, beta) */
    GA_OP_ADD,       /* out = in0 + in1, same width (a residual add) */
    GA_OP_CONCAT,    /* out = [in0, in1] */
    GA_OP_MASK,      /* out[n,k] = in[n,k] m(n,k): dropout's fixed mask, m = act_param or 0 */
    GA_OP_EMBED,     /* out[n, t dim + k] = E[x[n,t], k]; input: the net's input (ids); param E */
    GA_OP_CONV,      /* a convolution (ga_core.h, CONV); params W, b; an ACT op may follow */
    GA_OP_MAXPOOL,   /* the window's first largest entry */
    GA_OP_AVGPOOL,   /* the window's sum / (kh kw) */
    GA_OP_SHIFT,     /* out = in + P; param P (a position embedding) */
    GA_OP_ATTN,      /* causal self-attention (ga_core.h, ATTENTION); output2: p (B, H T T) */
    GA_OP_BATCHNORM, /* per feature over the batch: xh = (x - mu) r; output xh, output2 r (B, K),
                        every row the same */
    GA_OP_RNN,       /* a recurrent cell over `tokens` steps (ga_core.h, RNN); params W, b;
                        output h (B, T H), output2 z (B, T H) */
    GA_OP_KIND_COUNT
} ga_op_kind;

const char *ga_op_kind_name(ga_op_kind k);

#define GA_OP_MAX_INPUTS 2
#define GA_OP_MAX_PARAMS 2
#define GA_OP_NONE ((size_t)-1)

typedef struct {
    ga_op_kind kind;
    size_t stage;                       /* the layer it belongs to (0-based); LOSS, DECAY: n_layers */
    size_t n_inputs;
    size_t input[GA_OP_MAX_INPUTS];     /* value ids; LOSS: z (pre-activation), a (its output) */
    size_t output;                      /* value id; GA_OP_NONE for LOSS and DECAY (scalars) */
    size_t output2;                     /* LAYERNORM, RMSNORM: the value r (B, 1); else GA_OP_NONE */
    double eps;                         /* LAYERNORM, RMSNORM */
    uint32_t seed;                      /* MASK: ga_dropout_keep(seed, stage, n, k, p) */
    double p;                           /* MASK */
    size_t dim;                         /* EMBED: numbers per id */
    ga_geom geom;                       /* CONV, MAXPOOL, AVGPOOL */
    size_t heads;                       /* ATTN */
    size_t tokens;                      /* DENSE, LAYERNORM, RMSNORM, AFFINE, ATTN: the row as this many
                                           tokens mapped alike (1: the whole row) */
    size_t n_params;
    size_t param[GA_OP_MAX_PARAMS];     /* net->views indices; DENSE: W, b */
    ga_activation act;                  /* ACT: which */
    double act_param;                   /* ACT: leaky_relu slope, elu alpha */
    ga_loss_desc loss;                  /* LOSS: kind, scale, reduction; DECAY: weight_decay */
} ga_op;

typedef struct {
    size_t n_values;
    size_t *width;      /* (n_values) columns of each value; width[0] = n_in */
    size_t n_ops;
    ga_op *ops;         /* (n_ops) in evaluation order */
    size_t n_stages;    /* = n_layers */
    size_t *stage_op;   /* (n_stages + 1) first op of each stage; the last entry = the LOSS op */
    size_t z_last, a_last; /* the value ids the loss reads */
    size_t loss_tokens;    /* the last dense layer's tokens: the loss sees B loss_tokens rows */
    size_t decay_op;    /* index of the DECAY op, or GA_OP_NONE when lambda = 0 */
    /* Nets with layers other than dense (norms, residual adds) are not a
     * chain: their backward pass keeps one gradient per value (ga_ref_tmpl.h,
     * backward_graph), the gradient of value v at B voff[v] in its scratch,
     * and a value read by several ops (a residual's source) sums their
     * contributions, the first (from the op last_use[v], the last reader
     * in forward order) set, the others added. */
    int chain;          /* 1: every layer dense */
    size_t *voff;       /* (n_values + 1) prefix sums of width */
    size_t *last_use;   /* (n_values) the last op reading value v; GA_OP_NONE: none */
    void *buf;          /* one allocation behind all of the above */
} ga_graph;

/* The graph of net's description (a chain, as above). GA_ENOMEM or GA_EINVAL
 * (a net whose description does not validate). */
int ga_graph_from_net(ga_graph **out, ga_error *err, const ga_net *net);
/* The same from a description alone (what a pass will store, counted
 * before any net is allocated). */
int ga_graph_from_desc(ga_graph **out, ga_error *err, const ga_net_desc *d);
void ga_graph_free(ga_graph *g);

/* Total values * width, the elements a pass of batch B stores: sum over
 * values v >= 1 of width[v] (per sample). */
size_t ga_graph_value_elems(const ga_graph *g);

/* The storage one pass of the generic reference (ga_ref_tmpl.h) over a batch
 * of B keeps, in elements of its arithmetic, for every arithmetic that
 * instantiates it (double, float32, MPFR, balls): x and every value back to
 * back, B rows each, and the two deltas of a stage, (B, maxw) each. */
typedef struct {
    size_t maxw;    /* the widest value */
    size_t n_vals;  /* B (width[0] + ga_graph_value_elems) */
    size_t n_delta; /* a chain: 2 B maxw; else B voff[n_values] + 2 B maxw (a gradient per
                       value, then two rows of scratch) */
} ga_pass_sizes;
/* 1, or 0 when a size overflows. */
int ga_graph_pass_sizes(ga_pass_sizes *s, const ga_graph *g, size_t B);
/* The same from a description (its graph built and freed): GA_OK, GA_ERANGE
 * when a size overflows, or the status of a description that does not
 * validate (the memory pre-checks count with it). */
int ga_desc_pass_sizes(ga_pass_sizes *s, const ga_net_desc *d, size_t B);
/* Points val[v] (n_values pointers) at value v's B rows in base, which holds
 * the n_vals elements of ga_pass_sizes in value order. A macro: one layout for
 * every element type. */
#define GA_GRAPH_PLACE_VALUES(val, base, g, B)                    \
    do {                                                          \
        size_t off_ = 0;                                          \
        for (size_t v_ = 0; v_ < (g)->n_values; v_++) {           \
            (val)[v_] = (base) + off_;                            \
            off_ += (B) * (g)->width[v_];                         \
        }                                                         \
    } while (0)

#endif
