/* ga_core.h: the network description and the double-precision backprop core.
 *
 * Conventions (after llm.c and GSL):
 *   - library calls return a status (GA_OK or a GA_E* code) and write results
 *     through out-parameters, outputs first; an optional ga_error receives a
 *     one-line message naming what was wrong;
 *   - every array carries its shape in a comment; activations and data are
 *     stored with one row per sample, (B, n), in both layouts;
 *   - all parameters live in one slab of doubles, gradients in a second slab
 *     of the same shape; ga_view names the tensors inside it.
 *
 * The maths of a layer l (1-based, as the tutorials name W1, b1, ...):
 *   column layout: z = W x + b,     W is (out, in), b is (out, 1);
 *   row layout:    Z = X W + b,     W is (in, out), b is (1, out).
 * Both compute z[n,k] = (sum_j x[n,j] * W(k,j)) + b[k], the sum taken in index
 * order j = 0, 1, ... by the reference kernel; the layout changes only how W
 * and b are stored and the order in which random draws fill them.
 */
#ifndef GA_CORE_H
#define GA_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Unit roundoff of double, u = 2^-53: round to nearest gives fl(x) = x (1 + d),
 * |d| <= u, for x in the normal range (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., Section 2.1). The one name for it: every
 * gamma_n = n u / (1 - n u) and every "a few u" tolerance uses this. */
#define GA_U 0x1p-53

/* ---- status codes ------------------------------------------------------ */
enum {
    GA_OK = 0,
    GA_EINVAL = 1,  /* invalid argument or description */
    GA_ENOMEM = 2,  /* allocation failed or a size exceeds the memory cap */
    GA_ERANGE = 3,  /* a size or count overflows */
    GA_EIO = 4,     /* a file could not be read or written */
    GA_ESPEC = 5,   /* malformed spec file */
    GA_ENONFINITE = 6, /* NaN or Inf where a finite number is required */
    GA_EFAIL = 7,   /* a check failed (used by checks/) */
    GA_ECALLBACK = 8, /* a user callback reported an error (the public API, gradaudit.h) */
    GA_EMPFRLOSS = 9  /* the public API's loss_mpfr is not the double loss computed in MPFR */
};

typedef struct {
    char msg[1024];
} ga_error;

const char *ga_strerror(int status);
/* Formats into err (if not NULL) and returns status: `return ga_fail(err, GA_EINVAL, "...", ...);`
 * Defined here, not in ga_error.c, so that every caller (and gcc -fanalyzer,
 * which follows calls within a file) sees that it returns status. */
static inline int ga_fail(ga_error *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline int ga_fail(ga_error *err, int status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* ---- activations ------------------------------------------------------- */
typedef enum {
    GA_ACT_IDENTITY = 0, /* f(z) = z */
    GA_ACT_SIGMOID,      /* f(z) = 1/(1+exp(-z)) */
    GA_ACT_TANH,         /* f(z) = tanh(z) */
    GA_ACT_RELU,         /* f(z) = max(z, 0); f'(0) = 0 by convention */
    GA_ACT_LEAKY_RELU,   /* f(z) = z if z > 0 else slope*z; f'(0) = slope */
    GA_ACT_ELU,          /* f(z) = z if z > 0 else alpha*(exp(z)-1); f'(0) = alpha */
    GA_ACT_SOFTPLUS,     /* f(z) = log(1+exp(z)) */
    GA_ACT_SOFTMAX,      /* per sample: f(z)_k = exp(z_k - max z) / sum_j exp(z_j - max z) */
    /* Activations below have no tuned code in checks/ or oracle/: they are
     * checked through their generic formula (core/ga_ref_act_tmpl.h) and
     * their two constants (ga_activation_lipschitz*). */
    GA_ACT_SILU,         /* f(z) = z sigmoid(z); f'(z) = s(z) (1 + z s(-z)) */
    GA_ACT_GELU,         /* f(z) = z Phi(z), Phi(z) = erfc(-z/sqrt 2)/2; f'(z) = Phi(z) + z phi(z),
                            phi(z) = exp(-z^2/2)/sqrt(2 pi) */
    GA_ACT_GELU_TANH,    /* f(z) = z/2 (1 + tanh u) = z s(2u), u = sqrt(2/pi) (z + c z^3),
                            c = 0.044715 (exactly); f'(z) = s(2u) + 2 z s(2u) s(-2u) u'(z),
                            u'(z) = sqrt(2/pi) (1 + 3 c z^2) */
    GA_ACT_COUNT
} ga_activation;

const char *ga_activation_name(ga_activation a);
/* Returns GA_OK and sets *out, or GA_EINVAL for an unknown name. */
int ga_activation_from_name(ga_activation *out, const char *name);
/* Default parameter: leaky_relu slope 0.01, elu alpha 1, others 0 (unused). */
double ga_activation_default_param(ga_activation a);
int ga_activation_has_param(ga_activation a);
/* True where the activation is not differentiable at z (relu, leaky_relu, and
 * elu with alpha != 1 at z = 0). */
int ga_activation_has_kink(ga_activation a, double param);

/* Constants of an elementwise activation's maths, for the checking
 * arithmetics that have no code of their own for it (a new activation gets
 * its checks from these and from its generic formula in ga_ref_act_tmpl.h):
 * sup over all z of |f'(z)|, and of |f''(z)| where f is twice
 * differentiable (0 for piecewise-linear activations), rounded up. softmax:
 * 1 and 1 in the max norm. */
double ga_activation_lipschitz(ga_activation a, double param);
double ga_activation_lipschitz_deriv(ga_activation a, double param);
/* True for an activation checked only through its generic formula and
 * those constants (every one after softmax in the enum: no checking
 * arithmetic has tuned code for it). */
int ga_activation_is_generic(ga_activation a);

/* Elementwise activation and derivative (not softmax). Stable for |z| up to
 * DBL_MAX where the mathematical value is finite. ga_act_eval gives both
 * from one exponential; the two single-valued calls return the same bits. */
void ga_act_eval(double *value, double *deriv, ga_activation a, double param, double z);
/* ga_act_eval on n entries: value (n), deriv (n) from z (n), the same bits
 * without a call per entry. */
void ga_act_eval_n(double *value, double *deriv, ga_activation a, double param, const double *z,
                   size_t n);
double ga_act_value(ga_activation a, double param, double z);
/* f'(z); a_val = f(z) is passed so the derivative can reuse it. */
double ga_act_deriv(ga_activation a, double param, double z, double a_val);

/* softmax of one row: out (n) from z (n); out may alias z. */
void ga_softmax_row(double *out, const double *z, size_t n);

/* ---- losses ------------------------------------------------------------ */
typedef enum {
    GA_LOSS_MSE = 0,     /* l(p, y) = (p - y)^2 */
    GA_LOSS_BCE,         /* l(p, y) = -(y log p + (1-y) log(1-p)); needs sigmoid output */
    GA_LOSS_BCE_LOGITS,  /* l(z, y) = max(z,0) - z y + log1p(exp(-|z|)); needs identity output */
    GA_LOSS_SOFTMAX_CE,  /* per sample: sum_k y_k (logsumexp(z) - z_k); needs identity output */
    GA_LOSS_CCE,         /* per sample: -sum_k y_k log p_k; needs softmax output */
    GA_LOSS_DOT,         /* l(a, y) = y a, linear: its gradient is the vector-Jacobian
                            product of the net's output with the cotangent y; any output */
    GA_LOSS_COUNT
} ga_loss_kind;

typedef enum {
    GA_REDUCE_SUM = 0,     /* sum of all terms */
    GA_REDUCE_MEAN,        /* sum / (B * n_out)  (mean over all elements) */
    GA_REDUCE_BATCH_MEAN,  /* sum / B            (mean over the batch of per-sample sums) */
    GA_REDUCE_COUNT
} ga_reduction;

const char *ga_loss_name(ga_loss_kind k);
int ga_loss_from_name(ga_loss_kind *out, const char *name);
const char *ga_reduction_name(ga_reduction r);
int ga_reduction_from_name(ga_reduction *out, const char *name);
/* GA_OK when the output activation suits the loss, else GA_EINVAL with a
 * message saying which activation the loss needs. */
int ga_loss_check_pair(ga_error *err, ga_loss_kind k, ga_activation out_act);

/* Cross-entropy terms on probabilities with 0*log(0) = 0: finite at p = 0 or
 * 1 wherever the target makes them defined (p = y = 1 gives 0). */
double ga_bce_prob_term(double p, double y);
double ga_cce_prob_term(const double *p, const double *y, size_t n);

/* L = scale * reduce(terms) + weight_decay/2 * sum over all W of W^2 (no biases). */
typedef struct {
    ga_loss_kind kind;
    double scale;         /* default 1 */
    ga_reduction reduction;
    double weight_decay;  /* lambda >= 0 */
} ga_loss_desc;

/* ---- network description ----------------------------------------------- */
typedef enum { GA_LAYOUT_COLUMN = 0, GA_LAYOUT_ROW = 1 } ga_layout;

/* What a layer computes (docs/spec.md, "layers[i]"). Every kind but dense
 * keeps its input's width (n_out = its fan-in) and has the identity as its
 * activation. Per sample, x the layer's input row (n entries):
 *   DENSE      z = W x + b, a = f(z)                          params W, b
 *   LAYERNORM  mu = mean(x), var = mean((x - mu)^2) (biased), r = 1/sqrt(var + eps),
 *              xh = (x - mu) r, a = gamma xh + beta             params gamma, beta
 *   RMSNORM    r = 1/sqrt(mean(x^2) + eps), xh = x r, a = gamma xh   param gamma
 *   BATCHNORM  training mode, per feature k over the batch: mu_k = mean_n x[n,k],
 *              var_k = mean_n (x[n,k] - mu_k)^2 (biased), r_k = 1/sqrt(var_k + eps),
 *              xh = (x - mu) r, a = gamma xh + beta; dx[n,k] = r_k (dxh[n,k] -
 *              mean_n dxh[:,k] - xh[n,k] mean_n (dxh xh)[:,k])  params gamma, beta
 *   RESIDUAL   a = x + v, v the output of layer `from` (0: the net's input x;
 *              k >= 1: layer k, 1-based), of the same width    no params
 *   DROPOUT    a = x m, m = act_param (the kept entries' scale 1/(1 - p), as
 *              held in the precision) where entry (n, k) is kept, else 0: a fixed
 *              mask drawn from `seed` (ga_dropout_keep)            no params
 *   EMBEDDING  the first layer only: x holds T = n_in integer ids in [0, vocab);
 *              a[t dim + k] = E[x_t, k] (n_out = T dim)             param E (vocab, dim)
 *   CONV       x a (c, h, w) image in C order (NCHW; conv1d: h = 1), zero padding
 *              ph, pw, strides sh, sw: z[o, i, j] = (sum over (ci, u, v) in the image of
 *              W[o, ci, u, v] x[ci, i sh + u - ph, j sw + v - pw]) + b[o] (the reference
 *              kernel sums in index order (ci, u, v), BLAS in its own); a = f(z)
 *                                                 params W (oc, c kh kw), b (oc)
 *   MAXPOOL    a[ci, i, j] = max of the window x[ci, i sh + u, j sw + v] (u < kh, v < kw);
 *              the first largest in index order takes the gradient (a tie is a kink)
 *   AVGPOOL    a[ci, i, j] = (sum of the window) / (kh kw); each entry gets dy / (kh kw)
 *   CONCAT     a = [x, v]: the row followed by the output of layer `from` (0: the net's
 *              input; k >= 1: layer k), n_out = n_in + width(v)      no params
 *   BIAS       a = x + P, P a learned vector of the row's width (a position embedding)
 *                                                                  param P (1, n)
 *   ATTENTION  causal self-attention over T tokens and H heads (GPT-2's, llm.c's
 *              attention_forward): x a row of T tokens of (q, k, v), each d wide (n_in =
 *              3 T d, n_out = T d), head size hs = d / H, m = act_param = 1/sqrt(hs) as
 *              the code holds it; per head and token t: s_u = (q_t . k_u) m for u <= t,
 *              p = softmax(s) (its largest s subtracted), out_t = sum_u p_u v_u.
 *              Backward: dp_u = dout_t . v_u, ds_u = p_u (dp_u - sum_w p_w dp_w) m;
 *              dq_t = sum_u ds_u k_u, dk_u += ds_u q_t, dv_u += p_u dout_t   no params
 *   RNN        a vanilla recurrent cell unrolled over T = tokens steps: x a row of T
 *              inputs of d, h_{-1} = 0, z_t = W [x_t; h_{t-1}] + b, h_t = f(z_t) (f
 *              elementwise); the row out is h_0 .. h_{T-1} (n_out = T H)
 *                                                   params W (H, d + H), b (H)
 *              Backward through time: dh_t = dout_t + Wh^T dz_{t+1}, dz_t = dh_t f'(z_t),
 *              dW += dz_t [x_t; h_{t-1}]^T, db += dz_t, dx_t = Wx^T dz_t
 * Backward (dy = dL/da): layernorm dxh = gamma dy, dgamma = sum_n dy xh,
 * dbeta = sum_n dy, dx = r (dxh - mean(dxh) - xh mean(dxh xh)); rmsnorm
 * dx = r (dxh - xh mean(dxh xh)); residual: dy flows to x and to v; dropout
 * dx = dy m; embedding dE[v, k] = sum over (n, t) with x[n,t] = v of dy[n, t dim + k]
 * (repeated ids add up). */
/* The geometry of a convolution or a pooling layer: input (c, h, w), kernel
 * (kh, kw), strides, zero padding (convolutions only), output channels (a
 * pool keeps c) and the output's (ho, wo) = ((h + 2 ph - kh) / sh + 1, ...). */
typedef struct {
    size_t c, h, w, oc, kh, kw, sh, sw, ph, pw, ho, wo;
} ga_geom;

/* Fills g->ho, g->wo; 0 when a size is 0, the kernel does not fit the padded
 * image, or a count overflows. */
int ga_geom_finish(ga_geom *g);
/* The first largest entry (index order) of max-pool window (ci, i, j) of
 * one sample's input row x (c h w): its index in x. */
size_t ga_pool_argmax(const double *x, const ga_geom *g, size_t ci, size_t i, size_t j);
/* A pooling window holds at most this many entries. */
#define GA_POOL_MAX_WINDOW 256

typedef enum {
    GA_LAYER_DENSE = 0,
    GA_LAYER_LAYERNORM,
    GA_LAYER_RMSNORM,
    GA_LAYER_RESIDUAL,
    GA_LAYER_DROPOUT,
    GA_LAYER_EMBEDDING,
    GA_LAYER_CONV,
    GA_LAYER_MAXPOOL,
    GA_LAYER_AVGPOOL,
    GA_LAYER_BIAS,
    GA_LAYER_ATTENTION,
    GA_LAYER_RNN,
    GA_LAYER_BATCHNORM,
    GA_LAYER_CONCAT,
    GA_LAYER_KIND_COUNT
} ga_layer_kind;

const char *ga_layer_kind_name(ga_layer_kind k);
int ga_layer_kind_from_name(ga_layer_kind *out, const char *name);

typedef struct {
    size_t n_out;
    ga_activation act;
    double act_param;  /* leaky_relu slope, elu alpha */
    ga_layer_kind kind; /* GA_LAYER_DENSE (0) unless set */
    double eps;         /* layernorm, rmsnorm: > 0 */
    size_t from;        /* residual: 0 (the input) or a layer number 1 .. l (1-based, before it) */
    uint32_t seed;      /* dropout: the mask's seed */
    double p;           /* dropout: the probability an entry is dropped, 0 <= p < 1 */
    size_t vocab, dim;  /* embedding: ids 0 .. vocab - 1, each a row of dim numbers */
    ga_geom geom;       /* conv, maxpool, avgpool (n_out = oc ho wo) */
    size_t heads;       /* attention: H, dividing d */
    size_t tokens;      /* dense, layernorm, rmsnorm: 0 or 1, the whole row; T > 1: the row is
                           T tokens of equal width, each mapped alike (W, gamma, beta shared:
                           a dense layer's W is (out/T, in/T)); a last dense layer of T tokens
                           makes the loss per token: B T rows of n_out/T (batch_mean divides
                           by B T) */
} ga_layer_desc;

/* How the double core computes its products: BLAS (gsl_blas_dgemm: GSL's
 * CBLAS or OpenBLAS, chosen at build time), or the reference kernel's plain
 * loops, each sum in index order (bit-reproducible). */
typedef enum { GA_KERNEL_BLAS = 0, GA_KERNEL_REFERENCE = 1 } ga_kernel;

/* The attention weights p (H, T, T) of every head and token of one sample's
 * row x (T, 3d) of an attention layer L, 0 above the diagonal, as the core
 * computes them with kernel (its forward and backward passes both call
 * this): the scores q_t . k_u by a product of the kernel's, scaled by m,
 * then each row's softmax over u <= t, its largest score subtracted. */
void ga_attention_weights(double *p, const double *x, const ga_layer_desc *L, size_t d,
                          ga_kernel kernel);
/* The same weights as the float32 core computes them (core/ga_f32.c): every
 * head and token of one sample, p (H, T, T), 0 above the diagonal; x's
 * entries float32 numbers. GA_ENOMEM when its scratch cannot be had. */
int ga_attention_weights_f32(double *p, const double *x, const ga_layer_desc *L, size_t d);

/* A layer's token count (1 for 0). */
static inline size_t ga_layer_tokens(const ga_layer_desc *L)
{
    return L->tokens > 1 ? L->tokens : 1;
}



/* Whether dropout layer l (0-based) of seed keeps entry k of sample n for
 * drop probability p: a hash of (seed, l, n, k) taken as a uniform number in
 * [0, 1), kept when >= p. Every arithmetic draws the same mask from it. */
int ga_dropout_keep(uint32_t seed, size_t l, size_t n, size_t k, double p);




/* Limits refused before allocating anything. */
#define GA_MAX_LAYERS 100000
#define GA_MAX_WIDTH ((size_t)1 << 24)
#define GA_DEFAULT_MEMORY_CAP ((size_t)8 << 30) /* bytes, for params + grads + workspace */

typedef struct {
    ga_layout layout;
    size_t n_in;
    size_t n_layers;
    ga_layer_desc *layers; /* (n_layers) owned by whoever allocated the desc */
    ga_loss_desc loss;
} ga_net_desc;

/* 1 when every layer is dense: the nets every checking arithmetic handles.
 * The others (norms, residual adds) are handled by the core, the generic
 * reference's instances and the checks built on them (docs/ops.md); a path
 * with tuned code for dense chains refuses them with ga_net_require_chain. */
int ga_net_desc_is_chain(const ga_net_desc *d);
/* GA_OK for a chain, else GA_EINVAL: "WHAT: for nets of dense layers only; layer
 * 3 is layernorm". */
int ga_net_require_chain(ga_error *err, const ga_net_desc *d, const char *what);
/* The entries of layer L's two views (views[2 l], views[2 l + 1]) given its
 * fan-in: W and b, gamma and beta, gamma and 0, 0 and 0. 0 when a count
 * overflows a size_t. */
int ga_layer_param_counts(size_t *first, size_t *second, const ga_layer_desc *L, size_t fan_in);
/* View v's stored shape (layer v / 2 of d): W column (out, in), row (in,
 * out); b, gamma, beta column (n, 1), row (1, n); (0, 0) for a view a layer
 * does not have. d must have validated. */
void ga_view_shape(size_t *rows, size_t *cols, const ga_net_desc *d, size_t v);
/* View v's name, "W3", "b3", "gamma2", "beta2", or "" for a view a layer
 * does not have. Returns snprintf's count. */
int ga_view_name(char *buf, size_t size, const ga_net_desc *d, size_t v);

/* A tensor inside the parameter slab: W or b of one layer, stored C-order
 * with the layout's shape. */
typedef struct {
    char name[24];   /* "W1", "b1", ... (1-based layer numbers) */
    size_t offset;   /* into the slab */
    size_t rows, cols;
    size_t layer;    /* 0-based */
    int is_bias;     /* a dense layer's b, or a norm's beta: never in weight decay */
    int is_weight;   /* a dense layer's W: the tensors weight decay covers */
} ga_view;

typedef struct {
    ga_net_desc desc;    /* deep copy: desc.layers owned by the net */
    size_t n_params;
    size_t n_views;      /* 2 * n_layers */
    ga_view *views;      /* (n_views) W1, b1, W2, b2, ...: two per layer, views[2 l] and
                            views[2 l + 1]; a layernorm's gamma and beta, an rmsnorm's gamma
                            and an empty view, a residual's two empty views (0 entries) */
    double *params;      /* (n_params) the slab */
    double *grads;       /* (n_params) same shape */
    ga_kernel kernel;    /* GA_KERNEL_BLAS unless set */
} ga_net;

/* GA_OK when x (batch, n_in) holds integer ids below vocab for an embedding
 * first layer (or the net has none), else GA_EINVAL naming the first entry
 * that does not. */
int ga_net_check_ids(ga_error *err, const ga_net_desc *d, const double *x, size_t batch);

/* Validates desc (sizes, activation/loss pair, finite parameters) and counts
 * parameters with overflow checks; writes *n_params. No allocation. */
int ga_net_desc_validate(size_t *n_params, ga_error *err, const ga_net_desc *desc,
                         size_t memory_cap);
/* Allocates a net with zeroed params and grads. */
int ga_net_alloc(ga_net **out, ga_error *err, const ga_net_desc *desc);
void ga_net_free(ga_net *net);

/* Index of view holding flat entry i; *row, *col inside it. */
const ga_view *ga_net_locate(size_t *row, size_t *col, const ga_net *net, size_t i);
/* "W2[3,7]" for flat entry i. Returns snprintf's count. */
int ga_param_name(char *buf, size_t size, const ga_net *net, size_t i);
/* Element (k, j) of layer l's weight as the maths uses it: W(k = output, j = input),
 * whatever the layout. */
static inline size_t ga_weight_index(const ga_net *net, const ga_view *W, size_t k, size_t j)
{
    return W->offset + (net->desc.layout == GA_LAYOUT_COLUMN ? k * W->cols + j : j * W->cols + k);
}
/* The output unit k that entry (row, col) of a view feeds, weights and biases
 * alike: W(k, j) and b(k) of layer l both move z_l[:, k]. Column layout:
 * W (out, in), b (out, 1); row layout: W (in, out), b (1, out). */
static inline size_t ga_view_unit(const ga_net *net, size_t row, size_t col)
{
    return net->desc.layout == GA_LAYOUT_COLUMN ? row : col;
}

/* ---- forward and backward ----------------------------------------------- */
/* Workspace for batches of up to max_batch samples: z and a per layer, deltas. */
typedef struct {
    size_t max_batch;
    size_t batch;       /* of the last forward */
    size_t n_layers;
    double **z;         /* z[l] (B, n_out(l)) pre-activations */
    double **a;         /* a[l] (B, n_out(l)) activations */
    double **dact;      /* dact[l] (B, n_out(l)) f'(z) of elementwise activations */
    double *delta;      /* (B, max width) dL/dz of the current layer */
    double *delta_prev; /* (B, max width) */
    double **grad_a;    /* nets with norms or residual adds: grad_a[l] (B, n_out(l)) dL/da of
                           layer l's output; a norm layer keeps xh in z[l] and r in every
                           entry of dact[l]'s row; NULL for a chain */
    double *scratch;    /* (n_scratch) one sample's lowered conv input (c kh kw, ho wo), or an
                           attention's weights and their gradients (H T T + T T): the most a
                           layer needs (ga_workspace_scratch) */
    size_t n_scratch;
    double *buf;        /* one allocation behind all of the above */
} ga_workspace;

/* The scratch entries the double core's conv and attention layers need
 * beside the values (0 for a net with neither): the most of c kh kw ho wo
 * per conv and H T T + T T per attention. GA_OK, or GA_ERANGE when a count
 * overflows a size_t. */
int ga_workspace_scratch(size_t *entries, const ga_net_desc *d);

int ga_workspace_alloc(ga_workspace **out, ga_error *err, const ga_net *net, size_t max_batch);
void ga_workspace_free(ga_workspace *ws);

/* Loss of the batch x (B, n_in), y (B, n_out_last) at the given parameter
 * vector (n_params; usually net->params, or a perturbed copy). Keeps z and a
 * in ws for ga_backward. Non-finite x or y gives GA_ENONFINITE. */
int ga_forward(double *loss, ga_workspace *ws, const ga_net *net, const double *params,
               const double *x, const double *y, size_t batch);
/* After ga_forward with the same params, x, y: dparams (n_params) receives
 * dL/dtheta (overwritten), dx (B, n_in) receives dL/dx unless NULL. */
int ga_backward(double *dparams, double *dx, ga_workspace *ws, const ga_net *net,
                const double *params, const double *x, const double *y, size_t batch);
/* Forward then backward; dparams may be net->grads. */
int ga_loss_and_grad(double *loss, double *dparams, double *dx, ga_workspace *ws,
                     const ga_net *net, const double *params, const double *x,
                     const double *y, size_t batch);

/* 1 when the passes above and below (the code under test: ga_backprop.c,
 * ga_f32.c, ga_activation.c, ga_loss.c) were compiled with -Ofast
 * -march=native and run with flush-to-zero (meson -Dcore_fast_math=true,
 * core/ga_ftz.h); their gradients are then judged by the fast-math
 * enclosure (docs/verdicts.md). 0 in an ordinary build. */
int ga_core_fast_math(void);

/* The same loss and gradient computed in float32 (core/ga_f32.c): code under
 * test that runs in single precision. Every operation is one float rounding,
 * dot products accumulate in float in index order, exp/expm1/log1p/tanh are
 * glibc's float functions, the formulas those of the generic reference
 * (ga_ref_tmpl.h). params (n_params), x (B, n_in), y (B, n_out) and the net's
 * constants (activation parameters, loss scale and weight decay) must be
 * float32 numbers already: GA_EINVAL naming the first that is not (round them
 * with ga_round_problem), GA_ENONFINITE for a NaN or Inf. *loss (may be NULL)
 * and grad (n_params) receive the float results widened to double (exactly).
 * The float workspace is allocated and freed inside: GA_ENOMEM. A float
 * overflow in the pass is no error: the results are then what float code
 * gives, infinities or NaN. */
int ga_loss_grad_f32(double *loss, double *grad, ga_error *err, const ga_net *net,
                     const double *params, const double *x, const double *y, size_t batch);
/* The same, keeping the float32 forward values in ws (ga_workspace_alloc'd
 * for the net and at least batch; may be NULL) as doubles, exactly: z, a and
 * f'(z) of every layer as the float32 backward pass used them, for an
 * enclosure of that backward pass alone (ga_check_options.analytic_forward). */
int ga_loss_grad_f32_ws(double *loss, double *grad, ga_workspace *ws, ga_error *err,
                        const ga_net *net, const double *params, const double *x, const double *y,
                        size_t batch);

/* ---- training utilities ------------------------------------------------ */
/* p -= lr * g */
void ga_sgd_step(double *params, const double *grads, size_t n, double lr);
/* v = mu * v + g; p -= lr * v   (velocity (n) starts at zero) */
void ga_momentum_step(double *params, double *velocity, const double *grads, size_t n,
                      double lr, double mu);
/* Adam (Kingma & Ba 2015), bias-corrected, eps added after the square root:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  mh = m/(1-b1^t);  vh = v/(1-b2^t);
 *   p -= lr * mh / (sqrt(vh) + eps).   t is the 1-based step count. */
void ga_adam_step(double *params, double *m, double *v, const double *grads, size_t n,
                  double lr, double beta1, double beta2, double eps, unsigned long t);
/* Global-norm clipping: norm = sqrt(sum g^2); coef = max_norm / (norm + eps);
 * if coef < 1 every g *= coef. eps = 0 gives plain clipping, 1e-6 the
 * tutorials' variant. Writes the pre-clip norm and whether it fired. */
void ga_clip_global_norm(double *pre_norm, int *clipped, double *grads, size_t n,
                         double max_norm, double eps);

/* ---- small numeric helpers shared by every folder --------------------- */
/* *r = a * b resp. a + b; 0 (and *r untouched) when the size_t would wrap. */
int ga_size_mul(size_t *r, size_t a, size_t b);
int ga_size_add(size_t *r, size_t a, size_t b);
/* Distance in units in the last place between two finite doubles (0 when
 * equal, including +0/-0); UINT64_MAX when either is NaN. */
uint64_t ga_ulp_distance(double a, double b);

/* ---- the precision the code under test computes in -------------------- */
/* float32: unit roundoff 2^-24, smallest normal 2^-126 (1.2e-38), an absolute
 * error of up to 2^-150 in the subnormal range, overflow beyond FLT_MAX
 * (3.4e38). float64: 2^-53, 2^-1022, 2^-1075, DBL_MAX. The spec's numbers
 * are doubles; code in float32 computes with each of them rounded to float32
 * (ga_round_to), and the exact reference is taken at those rounded values. */
typedef enum { GA_PREC_FLOAT64 = 0, GA_PREC_FLOAT32 } ga_precision;

const char *ga_precision_name(ga_precision p); /* "float64", "float32" */
/* "float64"/"double"/"f64" or "float32"/"float"/"f32"; GA_EINVAL otherwise */
int ga_precision_from_name(ga_precision *out, const char *name);
double ga_precision_u(ga_precision p);          /* 2^-53, 2^-24 */
double ga_precision_min_normal(ga_precision p); /* DBL_MIN, FLT_MIN */
double ga_precision_max(ga_precision p);        /* DBL_MAX, FLT_MAX */
/* v rounded to the precision (to nearest, ties to even); +-inf beyond its range */
double ga_round_to(ga_precision p, double v);
/* The distance in units in the last place of the precision between
 * a rounded to it and b rounded to it (ga_ulp_distance for float64);
 * UINT64_MAX when either is NaN. */
uint64_t ga_ulp_distance_in(ga_precision p, double a, double b);
/* Rounds the parameters (n_params), the inputs x (batch, n_in), the targets
 * y (batch, n_out of the last layer) and the net's constants (the loss's scale and weight decay, each layer's
 * activation parameter) to the precision in place, as code in that
 * precision holds them; the oracle then takes its exact values at those
 * numbers. GA_EINVAL naming the first number that would overflow it
 * ("W1[3] = 4e+38 overflows float32"); nothing is changed then. A number
 * below the precision's range rounds to a subnormal or to zero, as the
 * code's copy of it would. */
int ga_round_problem(ga_error *err, ga_precision p, ga_net *net, double *params, double *x,
                     double *y, size_t batch);
/* The spacing of the precision's numbers just above |v|: its ulp at v
 * (+inf for a non-finite v). */
double ga_ulp_in(ga_precision p, double v);

#endif
