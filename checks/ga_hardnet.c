/* ga_hardnet.c: random small networks in the hard regions of gradient
 * verdicts (ga_hardnet.h says which). The architecture and the ordinary
 * values are drawn as ga_randnet draws them; each regime then overwrites a
 * few numbers. Regimes that need a pre-activation at a given value (a
 * saturated unit, a unit at or near a kink) measure it with the core's own
 * forward pass, layer by layer, and set the unit's bias: z = s + b with
 * b = target - s, which is exactly 0 in double for target 0 (the core adds
 * the bias after the dot product). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_hardnet.h"
#include "ga_randnet.h"
#include "ga_random.h"
#include "ga_spec.h"

static const char *const regime_names[GA_HARD_COUNT] = {
    "plain", "saturate", "kink_exact", "kink_near", "huge_tiny",
    "cancel", "subnormal", "extreme_logits", "targets01", "ties",
};

const char *ga_hard_regime_name(ga_hard_regime r)
{
    return (unsigned)r < GA_HARD_COUNT ? regime_names[r] : "?";
}

int ga_hardnet_regime_list(char *buf, size_t size, unsigned regimes)
{
    size_t used = 0;
    int total = 0;
    for (int r = 0; r < GA_HARD_COUNT; r++) {
        if (!(regimes & (1u << r)))
            continue;
        int n = snprintf(buf + used, size > used ? size - used : 0, "%s%s", total ? "," : "",
                         regime_names[r]);
        total += n;
        used = (size_t)total < size ? (size_t)total : size;
    }
    if (!total && size)
        buf[0] = '\0';
    return total;
}

/* ---- draws --------------------------------------------------------------- */
static size_t below(ga_rng *rng, size_t n) { return ga_rng_u32(rng) % n; }
static int coin(ga_rng *rng, double p) { return ga_rng_uniform(rng) < p; }
static double between(ga_rng *rng, double a, double b) { return a + (b - a) * ga_rng_uniform(rng); }
static double random_sign(ga_rng *rng) { return coin(rng, 0.5) ? -1.0 : 1.0; }

/* m 2^e, m odd in 1..15 with a random sign, e in [emin, emax]. */
static double dyadic(ga_rng *rng, int emin, int emax)
{
    double m = (double)(2 * below(rng, 8) + 1);
    return random_sign(rng) * ldexp(m, emin + (int)below(rng, (size_t)(emax - emin + 1)));
}

static int is_saturating(ga_activation a)
{
    return a == GA_ACT_SIGMOID || a == GA_ACT_TANH || a == GA_ACT_SOFTPLUS || a == GA_ACT_ELU;
}

static int is_kinked(const ga_layer_desc *L) { return ga_activation_has_kink(L->act, L->act_param); }

static double act_param(ga_rng *rng, ga_activation a, int ties)
{
    static const double slopes[] = {0.01, 0.1, 0.2, 0.25}, tie_slopes[] = {0.125, 0.25, 0.5};
    static const double alphas[] = {1.0, 0.5, 1.3, 0.975};
    if (a == GA_ACT_LEAKY_RELU)
        return ties ? tie_slopes[below(rng, 3)] : slopes[below(rng, 4)];
    if (a == GA_ACT_ELU)
        return alphas[below(rng, 4)];
    return ga_activation_default_param(a);
}

/* The ties regime keeps the forward pass exact: piecewise-linear activations,
 * and sigmoid, tanh and softmax at z = 0 exactly (ties_grid zeroes their
 * weights and biases): 1/2, 0, 1/n, computed by the oracle through exp. */
static ga_activation hidden_activation(ga_rng *rng, int ties)
{
    static const ga_activation pl[] = {GA_ACT_IDENTITY, GA_ACT_RELU, GA_ACT_LEAKY_RELU,
                                       GA_ACT_IDENTITY, GA_ACT_RELU, GA_ACT_LEAKY_RELU,
                                       GA_ACT_SIGMOID,  GA_ACT_TANH, GA_ACT_SOFTMAX};
    return ties ? pl[below(rng, 9)] : (ga_activation)below(rng, GA_ACT_COUNT);
}

static int smooth_at_zero_only(ga_activation a)
{
    return a == GA_ACT_SIGMOID || a == GA_ACT_TANH || a == GA_ACT_SOFTMAX;
}

/* ---- the architecture ------------------------------------------------------ */
/* Index of a layer whose activation may be changed without breaking the loss's
 * pairing, or -1: hidden layers, and the output layer of mse. */
static int free_layer(ga_rng *rng, size_t depth, ga_loss_kind loss)
{
    size_t n_free = loss == GA_LOSS_MSE || loss == GA_LOSS_DOT ? depth : depth - 1;
    return n_free ? (int)below(rng, n_free) : -1;
}

static void ensure_activation(ga_hardnet *h, ga_rng *rng, size_t depth, ga_loss_kind loss,
                              int (*has)(const ga_layer_desc *), const ga_activation *choice,
                              size_t n_choice, int ties)
{
    for (size_t l = 0; l < depth; l++)
        if (has(&h->layers[l]))
            return;
    int l = free_layer(rng, depth, loss);
    if (l < 0)
        return;
    ga_layer_desc *L = &h->layers[l];
    L->act = choice[below(rng, n_choice)];
    L->act_param = L->act == GA_ACT_ELU ? 0.5 : act_param(rng, L->act, ties);
}

static int has_saturating(const ga_layer_desc *L) { return is_saturating(L->act); }

/* ---- placing pre-activations ---------------------------------------------- */
typedef struct {
    ga_hardnet *h;
    ga_workspace *ws;
    unsigned char reserved[GA_HARDNET_MAX_LAYERS][GA_HARDNET_MAX_WIDTH]; /* cancel units */
} placer;

static double *bias(ga_hardnet *h, size_t l, size_t k)
{
    return &h->net->params[h->net->views[2 * l + 1].offset + k];
}

static double *weight(ga_hardnet *h, size_t l, size_t k, size_t j)
{
    return &h->net->params[ga_weight_index(h->net, &h->net->views[2 * l], k, j)];
}

static size_t fan_in(const ga_hardnet *h, size_t l)
{
    return l ? h->layers[l - 1].n_out : h->net->desc.n_in;
}

/* Sets the biases of the units k of layer l with use[k] so that sample n's
 * pre-activation z_l[n, k] is target[k] in double (to rounding of the sum,
 * exactly for target 0). Returns how many units were placed. */
static size_t place(placer *p, size_t l, size_t n, const int *use, const double *target)
{
    ga_hardnet *h = p->h;
    size_t no = h->layers[l].n_out, placed = 0;
    double loss;
    for (size_t k = 0; k < no; k++)
        if (use[k])
            *bias(h, l, k) = 0.0;
    if (ga_forward(&loss, p->ws, h->net, h->net->params, h->x, h->y, h->batch) != GA_OK)
        return 0;
    for (size_t k = 0; k < no; k++) {
        if (!use[k])
            continue;
        double s = p->ws->z[l][n * no + k], b = target[k] - s;
        if (isfinite(s) && isfinite(b)) {
            *bias(h, l, k) = b;
            placed++;
        }
    }
    return placed;
}

/* Picks units of layer l (not reserved), each with probability q, at least
 * min(at_least, free units). Returns the count. */
static size_t pick_units(int *use, placer *p, ga_rng *rng, size_t l, double q, size_t at_least)
{
    size_t no = p->h->layers[l].n_out, n = 0, n_free = 0;
    for (size_t k = 0; k < no; k++) {
        use[k] = !p->reserved[l][k] && coin(rng, q);
        n += (size_t)use[k];
        n_free += !p->reserved[l][k];
    }
    for (size_t k = below(rng, no), tries = 0; n < at_least && n < n_free && tries < no;
         k = (k + 1) % no, tries++)
        if (!p->reserved[l][k] && !use[k]) {
            use[k] = 1;
            n++;
        }
    return n;
}

static int saturate_layer(placer *p, ga_rng *rng, size_t l)
{
    ga_activation a = p->h->layers[l].act;
    int use[GA_HARDNET_MAX_WIDTH];
    double target[GA_HARDNET_MAX_WIDTH];
    if (!pick_units(use, p, rng, l, 0.5, 1))
        return 0;
    for (size_t k = 0; k < p->h->layers[l].n_out; k++) {
        double sign = a == GA_ACT_ELU || a == GA_ACT_SOFTPLUS ? (coin(rng, 0.85) ? -1.0 : 1.0)
                                                              : random_sign(rng);
        target[k] = sign * exp(between(rng, log(20.0), log(700.0)));
    }
    return place(p, l, below(rng, p->h->batch), use, target) > 0;
}

/* z exactly 0 for some units of layer l: a zero weight row and bias (every
 * sample), or, in the first layer, dyadic x and w on the grid 1/16 with
 * b = -sum x w, all exact in double. */
static int kink_exact_layer(placer *p, ga_rng *rng, size_t l)
{
    ga_hardnet *h = p->h;
    int use[GA_HARDNET_MAX_WIDTH];
    size_t fi = fan_in(h, l);
    if (!pick_units(use, p, rng, l, 0.4, 1))
        return 0;
    if (l == 0 && coin(rng, 0.5)) {
        size_t n = below(rng, h->batch);
        for (size_t j = 0; j < fi; j++)
            h->x[n * fi + j] = (double)((int)below(rng, 33) - 16) / 16.0;
        for (size_t k = 0; k < h->layers[0].n_out; k++) {
            if (!use[k])
                continue;
            double s = 0.0; /* exact: products on the grid 1/256, at most 8 of them */
            for (size_t j = 0; j < fi; j++) {
                *weight(h, 0, k, j) = (double)((int)below(rng, 33) - 16) / 16.0;
                s += h->x[n * fi + j] * *weight(h, 0, k, j);
            }
            *bias(h, 0, k) = -s;
        }
        return 1;
    }
    for (size_t k = 0; k < h->layers[l].n_out; k++) {
        if (!use[k])
            continue;
        for (size_t j = 0; j < fi; j++)
            *weight(h, l, k, j) = 0.0;
        *bias(h, l, k) = 0.0;
    }
    return 1;
}

/* Several units of layer l (all but one when it is narrow) placed a tiny
 * distance from the kink in one sample, or at 0 in double only. */
static int kink_near_layer(placer *p, ga_rng *rng, size_t l)
{
    static const double offsets[] = {1e-300, 3e-9, 1e-12, 0.0, 0x1p-1074, 1e-16, 2.5e-200};
    int use[GA_HARDNET_MAX_WIDTH];
    double target[GA_HARDNET_MAX_WIDTH];
    if (!pick_units(use, p, rng, l, 0.7, 2))
        return 0;
    for (size_t k = 0; k < p->h->layers[l].n_out; k++)
        target[k] = random_sign(rng) * offsets[below(rng, sizeof offsets / sizeof *offsets)];
    return place(p, l, below(rng, p->h->batch), use, target) > 0;
}

/* Equal inputs x[:, j1] = x[:, j2] (or equal hidden units k1, k2 of layer
 * l - 1) feeding weights +c and -c of some units of layer l. */
static int cancel(placer *p, ga_rng *rng)
{
    ga_hardnet *h = p->h;
    size_t depth = h->net->desc.n_layers, n_in = h->net->desc.n_in, l = 0, j1, j2;
    int hidden = 0;
    for (size_t t = 0; t < 4 && !hidden && coin(rng, 0.4); t++) {
        size_t m = 1 + below(rng, depth > 1 ? depth - 1 : 1);
        if (m < depth && h->layers[m - 1].n_out >= 2 && h->layers[m - 1].act != GA_ACT_SOFTMAX) {
            l = m;
            hidden = 1;
        }
    }
    size_t fi = fan_in(h, l);
    if (fi < 2)
        return 0;
    j1 = below(rng, fi);
    j2 = (j1 + 1 + below(rng, fi - 1)) % fi;
    if (hidden) {
        /* unit j2 of layer l - 1 becomes a copy of unit j1 */
        for (size_t j = 0; j < fan_in(h, l - 1); j++)
            *weight(h, l - 1, j2, j) = *weight(h, l - 1, j1, j);
        *bias(h, l - 1, j2) = *bias(h, l - 1, j1);
        p->reserved[l - 1][j1] = p->reserved[l - 1][j2] = 1;
    } else {
        for (size_t n = 0; n < h->batch; n++)
            h->x[n * n_in + j2] = h->x[n * n_in + j1];
    }
    int use[GA_HARDNET_MAX_WIDTH];
    pick_units(use, p, rng, l, 0.6, 1);
    for (size_t k = 0; k < h->layers[l].n_out; k++) {
        if (!use[k])
            continue;
        double c = random_sign(rng) * pow(10.0, between(rng, 4.0, 25.0));
        *weight(h, l, k, j1) = c;
        *weight(h, l, k, j2) = -c;
        if (!hidden)
            p->reserved[l][k] = 1; /* kink_exact's grid would overwrite +c, -c */
    }
    return 1;
}

static int huge_tiny(ga_hardnet *h, ga_rng *rng)
{
    size_t depth = h->net->desc.n_layers;
    if (coin(rng, 0.25)) {
        h->net->desc.loss.scale = pow(10.0, between(rng, -40.0, 40.0));
        if (coin(rng, 0.5))
            return 1;
    }
    for (size_t t = 0, n = 1 + below(rng, 2); t < n; t++) {
        const ga_view *v = &h->net->views[2 * below(rng, depth) + below(rng, 2)];
        double s = pow(10.0, (double)((int)below(rng, 301) - 150));
        for (size_t i = 0; i < v->rows * v->cols; i++)
            h->net->params[v->offset + i] *= s;
    }
    return 1;
}

static int subnormal(ga_hardnet *h, ga_rng *rng)
{
    size_t n_in = h->net->desc.n_in, depth = h->net->desc.n_layers;
    for (size_t i = 0; i < h->batch * n_in; i++)
        if (coin(rng, 0.3)) {
            uint64_t m = ((uint64_t)ga_rng_u32(rng) << 20 | ga_rng_u32(rng) >> 12) >> below(rng, 52);
            h->x[i] = random_sign(rng) * ldexp((double)(m | 1), -1074);
        }
    switch (below(rng, 3)) {
    case 0: /* the whole loss, and so every gradient entry, below 2^-1022 */
        h->net->desc.loss.scale = pow(10.0, -between(rng, 300.0, 318.0));
        break;
    case 1: { /* the output weights: every earlier entry subnormal */
        const ga_view *W = &h->net->views[2 * (depth - 1)];
        double s = ldexp(1.0, -(int)(1000 + below(rng, 60)));
        for (size_t i = 0; i < W->rows * W->cols; i++)
            h->net->params[W->offset + i] *= s;
        break;
    }
    default: /* subnormal inputs only */
        break;
    }
    return 1;
}

static int extreme_logits(ga_hardnet *h, ga_rng *rng)
{
    size_t last = h->net->desc.n_layers - 1;
    int any = 0;
    for (size_t k = 0; k < h->layers[last].n_out; k++)
        if (coin(rng, 0.6) || (!any && k + 1 == h->layers[last].n_out)) {
            double e = coin(rng, 0.7) ? between(rng, 1.0, 20.0) : between(rng, 20.0, 300.0);
            *bias(h, last, k) = random_sign(rng) * pow(10.0, e);
            any = 1;
        }
    return any;
}

static void targets01(ga_hardnet *h, ga_rng *rng)
{
    size_t n_out = h->layers[h->net->desc.n_layers - 1].n_out;
    ga_loss_kind loss = h->net->desc.loss.kind;
    for (size_t n = 0; n < h->batch; n++) {
        double *yn = h->y + n * n_out;
        if (loss == GA_LOSS_SOFTMAX_CE || loss == GA_LOSS_CCE) {
            memset(yn, 0, n_out * sizeof *yn);
            yn[below(rng, n_out)] = 1.0;
        } else {
            for (size_t k = 0; k < n_out; k++)
                yn[k] = (double)below(rng, 2);
        }
    }
}

/* Every parameter and input m 2^e, m odd < 16, 2^-4 <= 2^e <= 2: with the
 * piecewise-linear activations of this regime the forward pass is exact in
 * double (a few dozen bits at most). */
static void ties_grid(ga_hardnet *h, ga_rng *rng)
{
    for (size_t v = 0; v < h->net->n_views; v++) {
        const ga_view *w = &h->net->views[v];
        int zero = smooth_at_zero_only(h->layers[w->layer].act);
        for (size_t i = 0; i < w->rows * w->cols; i++)
            h->net->params[w->offset + i] = zero ? 0.0 : dyadic(rng, -4, 1);
    }
    for (size_t i = 0; i < h->batch * h->net->desc.n_in; i++)
        h->x[i] = dyadic(rng, -4, 1);
}

/* mse: targets y = +-half an ulp of the (exact) output p, a single bit: p - y,
 * and so every entry whose chain multiplies it by a power of two only (the
 * output biases at batch 1, for one), lies exactly halfway between two
 * doubles. A zero or non-finite output gets a grid target instead.
 * bce_logits: output biases 1e20 .. 1e300 and y = 2^-54 or -2^-53, so that
 * sigmoid(z) - y is within exp(-z) of a midpoint: a tie no finite precision
 * separates from the exact value (exit3_saturated_logit_tie's class). */
static int ties_targets(placer *p, ga_rng *rng)
{
    ga_hardnet *h = p->h;
    size_t last = h->net->desc.n_layers - 1, no = h->layers[last].n_out, n_ties = 0;
    int logits = h->net->desc.loss.kind == GA_LOSS_BCE_LOGITS;
    double loss;
    if (logits)
        for (size_t k = 0; k < no; k++)
            if (coin(rng, 0.7))
                *bias(h, last, k) = pow(10.0, between(rng, 20.0, 300.0));
    if (ga_forward(&loss, p->ws, h->net, h->net->params, h->x, h->y, h->batch) != GA_OK)
        return 0;
    for (size_t i = 0; i < h->batch * no; i++) {
        double out = p->ws->a[last][i];
        if (logits) {
            int tie = out > 40 && isfinite(out);
            h->y[i] = !tie ? dyadic(rng, -4, 0) * dyadic(rng, -4, 0) : coin(rng, 0.5) ? 0x1p-54 : -0x1p-53;
            n_ties += (size_t)tie;
        } else if (out != 0 && isfinite(out) && fabs(out) >= DBL_MIN) {
            h->y[i] = random_sign(rng) * ldexp(1.0, ilogb(out) - 53);
            n_ties++;
        } else {
            h->y[i] = dyadic(rng, -4, 1);
        }
    }
    return n_ties > 0;
}

static int power_of_two(size_t n) { return n && !(n & (n - 1)); }

/* ---- the case -------------------------------------------------------------- */
int ga_hardnet_make(ga_hardnet *h, ga_error *err, uint32_t seed)
{
    enum { B = 1u };
    memset(h, 0, sizeof *h);
    ga_rng rng;
    ga_rng_seed(&rng, seed);
    ga_hard_regime main = (ga_hard_regime)(seed % GA_HARD_COUNT);
    unsigned want = B << main;
    if (main != GA_HARD_PLAIN)
        for (int r = 1; r < GA_HARD_COUNT; r++)
            if (coin(&rng, 0.15))
                want |= B << r;
    if (want & (B << GA_HARD_TIES)) /* dyadic numbers only: the grid regimes that keep them */
        want &= B << GA_HARD_TIES | B << GA_HARD_KINK_EXACT;
    int tie = (want >> GA_HARD_TIES) & 1;
    int needs_hidden = (want & (B << GA_HARD_SATURATE | B << GA_HARD_KINK_EXACT |
                                B << GA_HARD_KINK_NEAR | B << GA_HARD_CANCEL)) != 0;

    size_t depth = 1 + below(&rng, GA_HARDNET_MAX_LAYERS);
    if (needs_hidden && depth < 2)
        depth = 2;
    size_t n_in = 1 + below(&rng, GA_HARDNET_MAX_WIDTH);
    if ((want & (B << GA_HARD_CANCEL)) && n_in < 2)
        n_in = 2 + below(&rng, GA_HARDNET_MAX_WIDTH - 1);
    static const size_t tie_batches[] = {1, 2, 4};
    size_t batch = tie ? tie_batches[below(&rng, 3)] : 1 + below(&rng, GA_HARDNET_MAX_BATCH);
    static const ga_loss_kind logit_losses[] = {GA_LOSS_BCE_LOGITS, GA_LOSS_SOFTMAX_CE, GA_LOSS_CCE,
                                                GA_LOSS_BCE};
    ga_loss_kind loss = (want & (B << GA_HARD_EXTREME_LOGITS)) ? logit_losses[below(&rng, 4)]
                        : tie                                  ? (coin(&rng, 0.3) ? GA_LOSS_BCE_LOGITS : GA_LOSS_MSE)
                                                               : (ga_loss_kind)below(&rng, GA_LOSS_COUNT);
    ga_reduction red = (ga_reduction)below(&rng, GA_REDUCE_COUNT);
    for (size_t l = 0; l < depth; l++) {
        size_t n = 1 + below(&rng, GA_HARDNET_MAX_WIDTH);
        int last = l + 1 == depth;
        if (last && (loss == GA_LOSS_SOFTMAX_CE || loss == GA_LOSS_CCE) && n < 2)
            n = 2;
        ga_activation a = hidden_activation(&rng, tie);
        if (last)
            a = ga_randnet_output_activation(loss, a);
        h->layers[l] = (ga_layer_desc){n, a, act_param(&rng, a, tie)};
    }
    if (want & (B << GA_HARD_SATURATE)) {
        static const ga_activation sat[] = {GA_ACT_SIGMOID, GA_ACT_TANH, GA_ACT_SOFTPLUS, GA_ACT_ELU};
        ensure_activation(h, &rng, depth, loss, has_saturating, sat, 4, 0);
    }
    if (want & (B << GA_HARD_KINK_EXACT | B << GA_HARD_KINK_NEAR)) {
        static const ga_activation kinked[] = {GA_ACT_RELU, GA_ACT_LEAKY_RELU, GA_ACT_ELU};
        ensure_activation(h, &rng, depth, loss, is_kinked, kinked, tie ? 2 : 3, tie);
    }
    size_t n_out = h->layers[depth - 1].n_out;
    static const double scales[] = {1.0, 0.5, 2.0, 0.25}, decays[] = {0.0, 0.0, 0.01, 0.5, 1e-3};
    double scale = tie || coin(&rng, 0.5) ? scales[below(&rng, 4)] : between(&rng, 0.1, 3.0);
    double wd = tie ? scales[below(&rng, 4)] * (double)below(&rng, 2) : decays[below(&rng, 5)];
    if (tie && red == GA_REDUCE_MEAN && !power_of_two(batch * n_out))
        red = GA_REDUCE_SUM;
    ga_net_desc d = {coin(&rng, 0.5) ? GA_LAYOUT_ROW : GA_LAYOUT_COLUMN, n_in, depth, h->layers,
                     {loss, scale, red, wd}};
    int status = ga_net_alloc(&h->net, err, &d);
    if (status)
        return status;
    h->x = malloc(batch * n_in * sizeof *h->x);
    h->y = malloc(batch * n_out * sizeof *h->y);
    h->batch = batch;
    h->seed = seed;
    ga_workspace *ws = NULL;
    if (!h->x || !h->y || (status = ga_workspace_alloc(&ws, err, h->net, batch))) {
        ga_hardnet_clear(h);
        return status ? status : ga_fail(err, GA_ENOMEM, "hardnet seed %u: out of memory", seed);
    }
    ga_randnet_fill_params(h->net, &rng);
    ga_rng_fill_gauss(h->x, batch * n_in, &rng);
    ga_randnet_fill_targets(h->y, batch, n_out, loss, &rng);

    unsigned got = 0;
    placer p = {h, ws, {{0}}};
    if (tie)
        ties_grid(h, &rng);
    if (want & (B << GA_HARD_TARGETS01)) {
        targets01(h, &rng);
        got |= B << GA_HARD_TARGETS01;
    }
    if ((want & (B << GA_HARD_HUGE_TINY)) && huge_tiny(h, &rng))
        got |= B << GA_HARD_HUGE_TINY;
    if ((want & (B << GA_HARD_SUBNORMAL)) && subnormal(h, &rng))
        got |= B << GA_HARD_SUBNORMAL;
    if ((want & (B << GA_HARD_EXTREME_LOGITS)) && extreme_logits(h, &rng))
        got |= B << GA_HARD_EXTREME_LOGITS;
    if ((want & (B << GA_HARD_CANCEL)) && cancel(&p, &rng))
        got |= B << GA_HARD_CANCEL;
    /* pre-activations in layer order: placing layer l moves no earlier z */
    for (size_t l = 0; l < depth; l++) {
        const ga_layer_desc *L = &h->layers[l];
        if ((want & (B << GA_HARD_SATURATE)) && is_saturating(L->act) && saturate_layer(&p, &rng, l))
            got |= B << GA_HARD_SATURATE;
        if ((want & (B << GA_HARD_KINK_EXACT)) && is_kinked(L) && kink_exact_layer(&p, &rng, l))
            got |= B << GA_HARD_KINK_EXACT;
        if ((want & (B << GA_HARD_KINK_NEAR)) && is_kinked(L) && kink_near_layer(&p, &rng, l))
            got |= B << GA_HARD_KINK_NEAR;
    }
    if (tie && ties_targets(&p, &rng))
        got |= B << GA_HARD_TIES |
               (loss == GA_LOSS_BCE_LOGITS ? B << GA_HARD_EXTREME_LOGITS : 0u);
    ga_workspace_free(ws);
    h->regimes = got ? got : B << GA_HARD_PLAIN;
    char list[160];
    ga_hardnet_regime_list(list, sizeof list, h->regimes);
    snprintf(h->description, sizeof h->description, "hardnet seed %u; regimes: %s", seed, list);
    return GA_OK;
}

void ga_hardnet_clear(ga_hardnet *h)
{
    ga_net_free(h->net);
    free(h->x);
    free(h->y);
    memset(h, 0, sizeof *h);
}

int ga_hardnet_write(FILE *f, ga_error *err, const ga_hardnet *h)
{
    ga_spec s;
    memset(&s, 0, sizeof s);
    s.source = (char *)h->description;
    s.description = (char *)h->description;
    s.desc = h->net->desc;
    s.n_params = h->net->n_params;
    s.batch = h->batch;
    s.x = h->x;
    s.y = h->y;
    return ga_spec_write(f, err, &s, h->net);
}

int ga_hardnet_save(ga_error *err, const ga_hardnet *h, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return ga_fail(err, GA_EINVAL, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return ga_fail(err, GA_EIO, "%s: cannot write", tmp);
    int status = ga_hardnet_write(f, err, h);
    if (fclose(f) != 0 && !status)
        status = ga_fail(err, GA_EIO, "%s: cannot write", tmp);
    if (!status && rename(tmp, path) != 0)
        status = ga_fail(err, GA_EIO, "%s: cannot rename to %s", tmp, path);
    if (status)
        remove(tmp);
    return status;
}
