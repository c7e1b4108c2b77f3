/* ga_ref_tmpl.h: the generic reference forward and backward pass, written
 * once against a small arithmetic interface and compiled for each checking
 * arithmetic (GSL's templates_on.h idiom: a file defines the interface as
 * macros, listed below, then includes this one; docs/ops.md). The fast
 * double core (ga_backprop.c) is the code under test; this is the one other
 * implementation of each op's maths.
 *
 * Instances today: checks/ga_plainpass.c (plain double in index order, and
 * randomly perturbed double: the Monte Carlo rounding scale; the mutation
 * suite's faults), oracle/ga_refmp.c (MPFR at a precision), oracle/ga_refball.c
 * (Arb's balls, dot products by arb_dot), core/ga_f32.c (float32: code
 * under test in single precision); checks/ga_enclose.c compiles the
 * activations alone (ga_ref_act_tmpl.h) in long double.
 *
 * The instance defines, before including this file:
 *   REF_T              the value type (double; __mpfr_struct); values are
 *                      passed as REF_T * (arrays of REF_T hold tensors)
 *   REF_CTX            the arithmetic's context type (precision, random
 *                      stream, scratch)
 *   REF_FN(name)       the name of this instance's copy of `name`
 *   A_INIT(c, r)       make *r a value (MPFR: mpfr_init2); A_CLEAR(c, r)
 *   A_SET_D(c, r, d)   *r = the double d, exactly
 *   A_SET(c, r, a)     *r = *a
 *   A_ADD, A_SUB, A_MUL, A_DIV (c, r, a, b)   *r = *a op *b, one rounding
 *   A_ADD_D, A_SUB_D, A_MUL_D, A_DIV_D (c, r, a, d), A_D_ADD, A_D_SUB, A_D_DIV (c, r, d, a)
 *                      with a double operand d (exact as a double), one rounding
 *   A_NEG, A_ABS (c, r, a)   exact
 *   A_SCALE_D(c, r, a, d)    *r = *a d for a fault's scaling (not a modelled rounding)
 *   A_EXP, A_EXPM1, A_LOG1P, A_TANH, A_SIGMOID, A_SOFTPLUS, A_ERFC, A_SQRT (c, r, a)
 *                      elementary functions (A_CONST_PI(c, r): *r = pi, rounded once);
 *                      sigmoid(z) = 1/(1+exp(-z)), softplus(z) = log(1+exp(z))
 *                      are elementary here because their stable evaluation
 *                      differs by arithmetic (double needs exp(-|z|) forms,
 *                      MPFR does not)
 *   A_CMP(c, a, b)     sign of *a - *b where a branch depends on it (an
 *                      arithmetic whose order is uncertain, balls, takes
 *                      the midpoint's and records that it was unsure)
 *   A_CMP_PIVOT(c, a, b)  optional: the order used to pick a logsumexp's
 *                      pivot, where any answer gives the same exact value
 *   A_IS_ZERO_D(d)     whether a double datum is 0 (targets y)
 *   A_DOT_T, A_DOT_BEGIN(c, s), A_DOT_ADD_VD(c, s, a, d), A_DOT_ADD_VV(c, s, a, b),
 *   A_DOT_ADD_V(c, s, a), A_DOT_END(c, r, s)
 *                      a sum of products accumulated in index order (a dot
 *                      product is one unit to the arithmetic: the perturbed
 *                      double draws its rounding once per dot product, MPFR
 *                      sums exactly)
 *   A_LOSS_DZ(c, dz, kind, z, a, y, n, factor), A_SOFTMAX_ROW(c, out, in, n): optional,
 *                      an arithmetic's own code for a sample's loss gradient (times
 *                      *factor) and a softmax row (the enclosure's tuned ranges)
 *   A_ACT_VALUE(c, r, act, param, z), A_ACT_DERIV(c, r, act, param, z)
 *                      f(z), f'(z) of an elementwise activation. Either the
 *                      instance's own (the double arithmetics take the core's
 *                      routine: they model the code under test's roundings),
 *                      or, left undefined, the generic formulas below
 *                      (ref_act_value / ref_act_deriv), written once in the
 *                      primitives above: the second implementation of every
 *                      activation.
 * and may define A_TEMPS (scratch values the instance supplies; default:
 * locals made with A_INIT).
 *
 * Orders are those the plain pass has always used (the Monte Carlo scale's
 * random stream depends on them, and the program's output on that):
 * forward, stage by stage (a dense op and its activation), each stage
 * sample by sample; the loss sample by sample, summed; weight decay last.
 * Backward: the loss's dL/dz per sample (chained through the output
 * activation for mse); then for each dense op from the last, its parameter
 * gradients (dW(k,j) summed over the batch, plus lambda W; db), then per
 * sample its input gradient chained through the activation before it.
 *
 * Faults (the mutation suite's known backprop mistakes, ga_mutate.h) are
 * injected through ga_ref_faults; NULL: none.
 */
#include <stddef.h>
#include <stdint.h>

#include "ga_core.h"
#include "ga_loss_internal.h"
#include "ga_ops.h"

#ifndef GA_REF_FAULTS_DEFINED
#define GA_REF_FAULTS_DEFINED
typedef struct {
    double factor_scale;     /* multiplies dL/dz of the loss (1: none) */
    int no_decay;            /* weight-decay term left out of dW */
    int ce_no_softmax;       /* softmax-CE gradient z - y */
    size_t act_layer;        /* layer whose f' is mutated (SIZE_MAX: none) */
    int act_missing;         /* 1: f' left out; 0: f' taken at a = f(z); 2: gelu_tanh's f'
                                with c z^2 where 3 c z^2 belongs (A_ACT_DERIV_SLIP) */
    size_t bias_layer;       /* layer whose db is scaled by bias_scale (SIZE_MAX: none) */
    double bias_scale;
    size_t transposed_layer; /* layer whose dW is stored in the other layout's order */
    size_t norm_no_mean;     /* layernorm layer whose dx leaves out - mean(dxh) (SIZE_MAX: none) */
    int embed_overwrite;     /* dE[v] set from the last position holding v, not summed */
    int conv_flip;           /* a conv's input gradient with the kernel flipped (W[o, ci, kh-1-u, kw-1-v]) */
    int attn_no_scale;       /* attention's score gradients without the 1/sqrt(hs) scale */
    int rnn_short;           /* backpropagation through time stops one step early */
    int bn_no_var;           /* batch norm's dx without the variance's path */
    int add_no_skip;         /* a residual add's gradient not sent down its skip (in1) */
    int mask_forgotten;      /* dropout's backward passing dy through unmasked */
    int pool_last_max;       /* a max pool's gradient to the last largest entry, not the first,
                                and to every entry of an avg pool's window undivided */
} ga_ref_faults;
#endif

#ifndef A_ACT_VALUE
#include "ga_ref_act_tmpl.h"
#endif
/* A_TELL(c): a stage of a pass is done (forward: after each stage; backward:
 * after each stage's parameter gradients, for a chain; as the walk back
 * leaves a stage, for a graph). An arithmetic that reports progress (the
 * ball oracle's) counts them; by default nothing. */
#ifndef A_TELL
#define A_TELL(c) ((void)0)
#endif
/* Dot products over strided vectors, one unit to the arithmetic (a ball
 * arithmetic hands them to its own dot product). Defaults: the element
 * accumulators, in index order.
 *   A_DOT_VP(c, r, x, xs, params, off, ws, len): *r = sum_i x[i xs] params[off + i ws]
 *   A_DOT_VV(c, r, x, xs, y, ys, len):           *r = sum_i x[i xs] y[i ys] */
#ifndef A_DOT_VP
/* the element accumulator over x . params, closed by `end` (which reads acc_) */
#define REF_DOT_VP_LOOP(c, x, xs, params, off, ws, len, end)                                    \
    do {                                                                                        \
        A_DOT_T acc_;                                                                           \
        A_DOT_BEGIN(c, &acc_);                                                                  \
        for (size_t i_ = 0; i_ < (len); i_++)                                                   \
            A_DOT_ADD_VD(c, &acc_, &(x)[i_ * (xs)], (params)[(off) + i_ * (ws)]);              \
        end;                                                                                    \
    } while (0)
#define A_DOT_VP(c, r, x, xs, params, off, ws, len)                                             \
    REF_DOT_VP_LOOP(c, x, xs, params, off, ws, len, A_DOT_END(c, r, &acc_))
#ifndef A_DOT_VP_ADD_D /* the same loop closed with the bias (below) */
#define A_DOT_VP_ADD_D(c, r, t, x, xs, params, off, ws, len, d)                                 \
    REF_DOT_VP_LOOP(c, x, xs, params, off, ws, len, A_DOT_END_ADD_D(c, r, t, &acc_, d))
#endif
#endif
#ifndef A_DOT_VV
#define A_DOT_VV(c, r, x, xs, y, ys, len)                                                       \
    do {                                                                                        \
        A_DOT_T acc_;                                                                           \
        A_DOT_BEGIN(c, &acc_);                                                                  \
        for (size_t i_ = 0; i_ < (len); i_++)                                                   \
            A_DOT_ADD_VV(c, &acc_, &(x)[i_ * (xs)], &(y)[i_ * (ys)]);                           \
        A_DOT_END(c, r, &acc_);                                                                 \
    } while (0)
#endif

/* A dense, conv or rnn pre-activation: a dot product plus the bias d.
 *   A_DOT_END_ADD_D(c, r, t, s, d):                          *r = (dot product s) + d
 *   A_DOT_VP_ADD_D(c, r, t, x, xs, params, off, ws, len, d): *r = A_DOT_VP(...) + d
 * (t: scratch). Defaults: the dot product, then the bias added, the order of
 * the core's passes; with the default A_DOT_VP, A_DOT_VP_ADD_D is its loop
 * closed by A_DOT_END_ADD_D. An arithmetic that holds every order (the
 * enclosure) takes the bias as one more term of the sum in A_DOT_END_ADD_D:
 * code that starts its accumulator at the bias (llm.c's matmul_forward)
 * rounds every partial sum with it in. */
#ifndef A_DOT_END_ADD_D
#define A_DOT_END_ADD_D(c, r, t, s, d)                                                          \
    do {                                                                                        \
        A_DOT_END(c, t, s);                                                                     \
        A_ADD_D(c, r, t, d);                                                                    \
    } while (0)
#endif
#ifndef A_DOT_VP_ADD_D
#define A_DOT_VP_ADD_D(c, r, t, x, xs, params, off, ws, len, d)                                 \
    do {                                                                                        \
        A_DOT_VP(c, t, x, xs, params, off, ws, len);                                            \
        A_ADD_D(c, r, t, d);                                                                    \
    } while (0)
#endif

/* W(k, j) of a dense op's weight as params[w_at(k) + j * w_step]: the offset
 * of row k and the step along j, whatever the layout */
static size_t REF_FN(w_at)(const ga_net *net, const ga_view *W, size_t k, size_t *j_step,
                           size_t *k_step)
{
    int column = net->desc.layout == GA_LAYOUT_COLUMN;
    *j_step = column ? 1 : W->cols;
    *k_step = column ? W->cols : 1;
    return ga_weight_index(net, W, k, 0);
}

/* The pivot of a logsumexp: any element gives the same exact value (the
 * identities below hold for every pivot), so an arithmetic whose order is
 * uncertain may order by any rule; by default the exact comparison. */
#ifndef A_CMP_PIVOT
#define A_CMP_PIVOT(c, a, b) A_CMP(c, a, b)
#endif
/* the instance's f' with the slip of fault act_missing = 2 (only the plain
 * pass injects faults) */
#ifndef A_ACT_DERIV_SLIP
#define A_ACT_DERIV_SLIP A_ACT_DERIV
#endif

/* dz (n) = da (n) through activation op f (NULL: identity) of one sample;
 * z, a (n) its input and output. dz may alias da. */
static void REF_FN(chain)(REF_CTX *c, REF_T *dz, REF_T *da, const ga_op *f, REF_T *z, REF_T *a,
                          size_t n, int mutate, int missing)
{
    if (!f || (mutate && missing == 1)) {
        if (dz != da)
            for (size_t k = 0; k < n; k++)
                A_SET(c, &dz[k], &da[k]);
        return;
    }
    REF_T s, t;
    A_INIT(c, &s);
    A_INIT(c, &t);
    if (f->kind == GA_OP_SOFTMAX) { /* dz_j = a_j (da_j - sum_k a_k da_k) */
        A_SET_D(c, &s, 0.0);
        for (size_t k = 0; k < n; k++) {
            A_MUL(c, &t, &a[k], &da[k]);
            A_ADD(c, &s, &s, &t);
        }
        for (size_t k = 0; k < n; k++) {
            A_SUB(c, &t, &da[k], &s);
            A_MUL(c, &dz[k], &a[k], &t);
        }
    } else {
        for (size_t k = 0; k < n; k++) {
            if (mutate && missing == 2) /* the fault: a slip in f' */
                A_ACT_DERIV_SLIP(c, &t, f->act, f->act_param, &z[k]);
            else /* the fault: f' taken at a = f(z) */
                A_ACT_DERIV(c, &t, f->act, f->act_param, mutate ? &a[k] : &z[k]);
            A_MUL(c, &dz[k], &da[k], &t);
        }
    }
    A_CLEAR(c, &t);
    A_CLEAR(c, &s);
}

/* jmax = the first largest of z (n): exact comparisons */
static size_t REF_FN(argmax)(REF_CTX *c, REF_T *z, size_t n)
{
    (void)c;
    size_t jmax = 0;
    for (size_t k = 1; k < n; k++)
        if (A_CMP_PIVOT(c, &z[k], &z[jmax]) > 0)
            jmax = k;
    return jmax;
}

/* *t = the unreduced loss of one sample: z, a (n) the last op's input and
 * output, y (n) the targets. */
static void REF_FN(sample_term)(REF_CTX *c, REF_T *t, ga_loss_kind kind, REF_T *z, REF_T *a,
                                const double *y, size_t n)
{
    REF_T d, u, v;
    A_INIT(c, &d);
    A_INIT(c, &u);
    A_INIT(c, &v);
    A_SET_D(c, t, 0.0);
    switch (kind) {
    case GA_LOSS_MSE: /* sum_k (a_k - y_k)^2 */
        for (size_t k = 0; k < n; k++) {
            A_SUB_D(c, &d, &a[k], y[k]);
            A_MUL(c, &u, &d, &d);
            A_ADD(c, t, t, &u);
        }
        break;
    case GA_LOSS_DOT: /* sum_k y_k a_k */
        for (size_t k = 0; k < n; k++) {
            A_MUL_D(c, &u, &a[k], y[k]);
            A_ADD(c, t, t, &u);
        }
        break;
    case GA_LOSS_BCE:
    case GA_LOSS_BCE_LOGITS: /* sum_k y softplus(-z) + (1 - y) softplus(z) */
        for (size_t k = 0; k < n; k++) {
            A_NEG(c, &d, &z[k]);
            A_SOFTPLUS(c, &d, &d);
            A_MUL_D(c, &u, &d, y[k]);
            A_SET_D(c, &v, y[k]);
            A_D_SUB(c, &v, 1.0, &v);
            A_SOFTPLUS(c, &d, &z[k]);
            A_MUL(c, &v, &v, &d);
            A_ADD(c, &u, &u, &v);
            A_ADD(c, t, t, &u);
        }
        break;
    default: { /* softmax_ce, cce: sum_k y_k ((m - z_k) + log1p(r)), r = sum_{k != jmax} exp(z_k - m) */
        size_t jmax = REF_FN(argmax)(c, z, n);
        REF_T *m = &z[jmax];
        A_SET_D(c, &v, 0.0); /* r */
        for (size_t k = 0; k < n; k++)
            if (k != jmax) {
                A_SUB(c, &d, &z[k], m);
                A_EXP(c, &d, &d);
                A_ADD(c, &v, &v, &d);
            }
        A_LOG1P(c, &v, &v); /* log_s */
        for (size_t k = 0; k < n; k++)
            if (!A_IS_ZERO_D(y[k])) {
                A_SUB(c, &d, m, &z[k]);
                A_ADD(c, &d, &d, &v);
                A_MUL_D(c, &u, &d, y[k]);
                A_ADD(c, t, t, &u);
            }
        break;
    }
    }
    A_CLEAR(c, &v);
    A_CLEAR(c, &u);
    A_CLEAR(c, &d);
}

/* dz (n) = factor * d term / dz (fused losses) or / da (mse) of one sample */
static void REF_FN(sample_dz)(REF_CTX *c, REF_T *dz, ga_loss_kind kind, REF_T *z, REF_T *a,
                              const double *y, size_t n, REF_T *factor, int no_softmax)
{
#ifdef A_LOSS_DZ
    /* an arithmetic with code of its own for the loss's gradient (the
     * enclosure's interval ranges, which hold every common formula) */
    if (!no_softmax) {
        A_LOSS_DZ(c, dz, kind, z, a, y, n, factor);
        return;
    }
#endif
    REF_T d, u, v;
    A_INIT(c, &d);
    A_INIT(c, &u);
    A_INIT(c, &v);
    if (no_softmax) { /* the fault: z - y */
        for (size_t k = 0; k < n; k++) {
            A_SUB_D(c, &d, &z[k], y[k]);
            A_MUL(c, &dz[k], factor, &d);
        }
        goto done;
    }
    switch (kind) {
    case GA_LOSS_MSE: /* 2 (a - y) */
        for (size_t k = 0; k < n; k++) {
            A_SUB_D(c, &d, &a[k], y[k]);
            A_MUL_D(c, &d, &d, 2.0);
            A_MUL(c, &dz[k], factor, &d);
        }
        break;
    case GA_LOSS_DOT: /* y */
        for (size_t k = 0; k < n; k++)
            A_MUL_D(c, &dz[k], factor, y[k]);
        break;
    case GA_LOSS_BCE:
    case GA_LOSS_BCE_LOGITS: /* (1 - y) s(z) - y s(-z) */
        for (size_t k = 0; k < n; k++) {
            A_SET_D(c, &u, y[k]);
            A_D_SUB(c, &u, 1.0, &u);
            A_SIGMOID(c, &d, &z[k]);
            A_MUL(c, &u, &u, &d);
            A_NEG(c, &d, &z[k]);
            A_SIGMOID(c, &d, &d);
            A_MUL_D(c, &v, &d, y[k]);
            A_SUB(c, &u, &u, &v);
            A_MUL(c, &dz[k], factor, &u);
        }
        break;
    default: { /* p (Y - y) - y (1 - p); 1 - p = r / s for the largest logit */
        size_t jmax = REF_FN(argmax)(c, z, n);
        REF_T *m = &z[jmax];
        REF_T r, sy, s, p, q;
        A_INIT(c, &r);
        A_INIT(c, &sy);
        A_INIT(c, &s);
        A_INIT(c, &p);
        A_INIT(c, &q);
        A_SET_D(c, &r, 0.0);
        A_SET_D(c, &sy, 0.0);
        for (size_t k = 0; k < n; k++) {
            A_ADD_D(c, &sy, &sy, y[k]);
            if (k != jmax) {
                A_SUB(c, &d, &z[k], m);
                A_EXP(c, &d, &d);
                A_ADD(c, &r, &r, &d);
            }
        }
        A_D_ADD(c, &s, 1.0, &r);
        for (size_t k = 0; k < n; k++) {
            if (k == jmax) {
                A_D_DIV(c, &p, 1.0, &s);
                A_DIV(c, &q, &r, &s);
            } else {
                A_SUB(c, &d, &z[k], m);
                A_EXP(c, &d, &d);
                A_DIV(c, &p, &d, &s);
                A_D_SUB(c, &q, 1.0, &p);
            }
            A_SUB_D(c, &d, &sy, y[k]);
            A_MUL(c, &u, &p, &d);
            A_MUL_D(c, &v, &q, y[k]);
            A_SUB(c, &u, &u, &v);
            A_MUL(c, &dz[k], factor, &u);
        }
        A_CLEAR(c, &q);
        A_CLEAR(c, &p);
        A_CLEAR(c, &s);
        A_CLEAR(c, &sy);
        A_CLEAR(c, &r);
        break;
    }
    }
done:
    A_CLEAR(c, &v);
    A_CLEAR(c, &u);
    A_CLEAR(c, &d);
}

/* The activation op of stage s (NULL for identity), and its input/output. */
static const ga_op *REF_FN(stage_act)(const ga_graph *g, size_t s)
{
    size_t i = g->stage_op[s] + 1;
    return i < g->stage_op[s + 1] ? &g->ops[i] : NULL;
}

/* *dst = *src (first: the value's first gradient contribution) or += */
#define REF_ACCUM(c, dst, src, first)                                                           \
    do {                                                                                        \
        if (first)                                                                              \
            A_SET(c, dst, src);                                                                 \
        else                                                                                    \
            A_ADD(c, dst, dst, src);                                                            \
    } while (0)

/* ---- convolutions and pooling (ga_core.h: CONV, MAXPOOL, AVGPOOL) -------
 * An image row is (c, h, w) in C order; a kernel tap (u, v) of output
 * (i, j) reads input (i sh + u - ph, j sw + v - pw), zero outside. */
static int REF_FN(tap)(size_t *at, const ga_geom *gm, size_t ci, size_t i, size_t j, size_t u, size_t v)
{
    size_t hh = i * gm->sh + u, ww = j * gm->sw + v;
    if (hh < gm->ph || ww < gm->pw || hh - gm->ph >= gm->h || ww - gm->pw >= gm->w)
        return 0;
    *at = (ci * gm->h + hh - gm->ph) * gm->w + ww - gm->pw;
    return 1;
}

/* whether input (hh, ww) is tap (u, v) of some output (i, j): *i, *j */
static int REF_FN(tap_of)(size_t *i, size_t *j, const ga_geom *gm, size_t hh, size_t ww, size_t u, size_t v)
{
    size_t ph = hh + gm->ph, pw = ww + gm->pw;
    if (ph < u || pw < v || (ph - u) % gm->sh || (pw - v) % gm->sw)
        return 0;
    *i = (ph - u) / gm->sh;
    *j = (pw - v) / gm->sw;
    return *i < gm->ho && *j < gm->wo;
}

/* The window of pool output (ci, i, j) of one sample's row x: win[0 .. kh kw) */
static size_t REF_FN(window)(REF_T **win, REF_T *x, const ga_geom *gm, size_t ci, size_t i, size_t j)
{
    size_t m = 0, at;
    for (size_t u = 0; u < gm->kh; u++)
        for (size_t v = 0; v < gm->kw; v++)
            if (REF_FN(tap)(&at, gm, ci, i, j, u, v))
                win[m++] = &x[at];
    return m;
}

#ifndef A_MAXPOOL_VALUE
/* the first largest of the window (exact comparisons; a ball arithmetic's
 * unsure order is recorded by A_CMP) */
static size_t REF_FN(win_argmax)(REF_CTX *c, REF_T **win, size_t m)
{
    (void)c; /* the double arithmetics' A_CMP does not read it */
    size_t best = 0;
    for (size_t k = 1; k < m; k++)
        if (A_CMP(c, win[k], win[best]) > 0)
            best = k;
    return best;
}
#define A_MAXPOOL_VALUE(c, r, win, m) A_SET(c, r, (win)[REF_FN(win_argmax)(c, win, m)])
/* *r = the share of dL/dout that window entry k takes: all of it for the
 * first largest, none for the others */
#define A_MAXPOOL_SHARE(c, r, win, m, k, dout)                                                   \
    do {                                                                                        \
        if (REF_FN(win_argmax)(c, win, m) == (k))                                               \
            A_SET(c, r, dout);                                                                  \
        else                                                                                    \
            A_SET_D(c, r, 0.0);                                                                 \
    } while (0)
#endif

/* One sample's row of a conv, maxpool or avgpool op: out from in. */
static void REF_FN(conv_row)(REF_CTX *c, REF_T *out, REF_T *in, const ga_op *op, const ga_net *net,
                             const double *params)
{
    const ga_geom *gm = &op->geom;
    REF_T t;
    A_INIT(c, &t);
    if (op->kind == GA_OP_CONV) {
        const ga_view *W = &net->views[op->param[0]], *bv = &net->views[op->param[1]];
        size_t taps = gm->c * gm->kh * gm->kw, at;
        for (size_t o = 0; o < gm->oc; o++)
            for (size_t i = 0; i < gm->ho; i++)
                for (size_t j = 0; j < gm->wo; j++) {
                    A_DOT_T acc;
                    A_DOT_BEGIN(c, &acc);
                    for (size_t ci = 0; ci < gm->c; ci++)
                        for (size_t u = 0; u < gm->kh; u++)
                            for (size_t v = 0; v < gm->kw; v++)
                                if (REF_FN(tap)(&at, gm, ci, i, j, u, v))
                                    A_DOT_ADD_VD(c, &acc, &in[at],
                                                 params[W->offset + o * taps + (ci * gm->kh + u) * gm->kw + v]);
                    A_DOT_END_ADD_D(c, &out[(o * gm->ho + i) * gm->wo + j], &t, &acc,
                                    params[bv->offset + o]);
                }
    } else {
        REF_T *win[GA_POOL_MAX_WINDOW];
        for (size_t ci = 0; ci < gm->c; ci++)
            for (size_t i = 0; i < gm->ho; i++)
                for (size_t j = 0; j < gm->wo; j++) {
                    size_t m = REF_FN(window)(win, in, gm, ci, i, j);
                    REF_T *r = &out[(ci * gm->ho + i) * gm->wo + j];
                    if (op->kind == GA_OP_MAXPOOL) {
                        A_MAXPOOL_VALUE(c, r, win, m);
                        continue;
                    }
                    A_DOT_T acc;
                    A_DOT_BEGIN(c, &acc);
                    for (size_t k = 0; k < m; k++)
                        A_DOT_ADD_V(c, &acc, win[k]);
                    A_DOT_END(c, &t, &acc);
                    A_DIV_D(c, r, &t, (double)(gm->kh * gm->kw));
                }
    }
    A_CLEAR(c, &t);
}

/* The backward pass of a conv, maxpool or avgpool op over the batch: its
 * parameter gradients (conv: dW, db, + lambda W) and, unless its input is
 * the net's input, din[e] = the sum of e's contributions (any order)
 * accumulated as ga_graph says (first: set). */
static void REF_FN(conv_backward)(REF_CTX *c, REF_T *grad, REF_T *din, REF_T *dout, REF_T *in,
                                  const ga_op *op, const ga_net *net, const double *params,
                                  double lambda, size_t B, int want_din, int first, int faults)
{
    const ga_geom *gm = &op->geom;
    size_t wi = gm->c * gm->h * gm->w, wo = gm->oc * gm->ho * gm->wo, at, i, j;
    REF_T s, t;
    A_INIT(c, &s);
    A_INIT(c, &t);
    if (op->kind == GA_OP_CONV) {
        const ga_view *W = &net->views[op->param[0]], *bv = &net->views[op->param[1]];
        size_t taps = gm->c * gm->kh * gm->kw;
        for (size_t o = 0; o < gm->oc; o++) {
            for (size_t ci = 0; ci < gm->c; ci++)
                for (size_t u = 0; u < gm->kh; u++)
                    for (size_t v = 0; v < gm->kw; v++) {
                        A_DOT_T acc;
                        A_DOT_BEGIN(c, &acc);
                        for (size_t n = 0; n < B; n++)
                            for (i = 0; i < gm->ho; i++)
                                for (j = 0; j < gm->wo; j++)
                                    if (REF_FN(tap)(&at, gm, ci, i, j, u, v))
                                        A_DOT_ADD_VV(c, &acc, &dout[n * wo + (o * gm->ho + i) * gm->wo + j],
                                                     &in[n * wi + at]);
                        A_DOT_END(c, &s, &acc);
                        size_t wk = W->offset + o * taps + (ci * gm->kh + u) * gm->kw + v;
                        if (lambda != 0.0) {
                            A_SET_D(c, &t, lambda);
                            A_MUL_D(c, &t, &t, params[wk]);
                            A_ADD(c, &s, &s, &t);
                        }
                        A_SET(c, &grad[wk], &s);
                    }
            A_DOT_T acc;
            A_DOT_BEGIN(c, &acc);
            for (size_t n = 0; n < B; n++)
                for (size_t e = 0; e < gm->ho * gm->wo; e++)
                    A_DOT_ADD_V(c, &acc, &dout[n * wo + o * gm->ho * gm->wo + e]);
            A_DOT_END(c, &grad[bv->offset + o], &acc);
        }
        for (size_t n = 0; want_din && n < B; n++)
            for (size_t ci = 0; ci < gm->c; ci++)
                for (size_t hh = 0; hh < gm->h; hh++)
                    for (size_t ww = 0; ww < gm->w; ww++) {
                        A_DOT_T acc;
                        A_DOT_BEGIN(c, &acc);
                        for (size_t o = 0; o < gm->oc; o++)
                            for (size_t u = 0; u < gm->kh; u++)
                                for (size_t v = 0; v < gm->kw; v++)
                                    if (REF_FN(tap_of)(&i, &j, gm, hh, ww, u, v)) {
                                        int flip = faults & 1; /* the fault: a flipped kernel */
                                        size_t fu = flip ? gm->kh - 1 - u : u, fv = flip ? gm->kw - 1 - v : v;
                                        A_DOT_ADD_VD(c, &acc, &dout[n * wo + (o * gm->ho + i) * gm->wo + j],
                                                     params[W->offset + o * taps + (ci * gm->kh + fu) * gm->kw + fv]);
                                    }
                        A_DOT_END(c, &s, &acc);
                        REF_ACCUM(c, &din[n * wi + (ci * gm->h + hh) * gm->w + ww], &s, first);
                    }
    } else if (want_din) {
        REF_T *win[GA_POOL_MAX_WINDOW];
        for (size_t n = 0; n < B; n++)
            for (size_t ci = 0; ci < gm->c; ci++)
                for (size_t hh = 0; hh < gm->h; hh++)
                    for (size_t ww = 0; ww < gm->w; ww++) {
                        A_DOT_T acc;
                        A_DOT_BEGIN(c, &acc);
                        for (size_t u = 0; u < gm->kh; u++)
                            for (size_t v = 0; v < gm->kw; v++) {
                                if (!REF_FN(tap_of)(&i, &j, gm, hh, ww, u, v))
                                    continue;
                                REF_T *d = &dout[n * wo + (ci * gm->ho + i) * gm->wo + j];
                                if (op->kind == GA_OP_MAXPOOL && (faults & 2)) {
                                    /* the fault: the last largest takes the gradient */
                                    size_t m = REF_FN(window)(win, in + n * wi, gm, ci, i, j), lst = 0;
                                    for (size_t q = 1; q < m; q++)
                                        if (A_CMP(c, win[q], win[lst]) >= 0)
                                            lst = q;
                                    if (lst == u * gm->kw + v)
                                        A_SET(c, &t, d);
                                    else
                                        A_SET_D(c, &t, 0.0);
                                } else if (op->kind == GA_OP_MAXPOOL) {
                                    size_t m = REF_FN(window)(win, in + n * wi, gm, ci, i, j);
                                    A_MAXPOOL_SHARE(c, &t, win, m, u * gm->kw + v, d);
                                } else if (faults & 2) { /* the fault: dy undivided */
                                    A_SET(c, &t, d);
                                } else {
                                    A_DIV_D(c, &t, d, (double)(gm->kh * gm->kw));
                                }
                                A_DOT_ADD_V(c, &acc, &t);
                            }
                        A_DOT_END(c, &s, &acc);
                        REF_ACCUM(c, &din[n * wi + (ci * gm->h + hh) * gm->w + ww], &s, first);
                    }
    }
    A_CLEAR(c, &t);
    A_CLEAR(c, &s);
}

/* ---- causal self-attention (ga_core.h, ATTENTION) ----------------------
 * One sample: in (T, 3d) = (q, k, v) per token, out (T, d), p (H, T, T) the
 * weights (0 above the diagonal): s_u = (q_t . k_u) m, p = exp(s - max s) /
 * sum, out_t = sum_u p_u v_u, all in index order. */
static void REF_FN(attn_row)(REF_CTX *c, REF_T *out, REF_T *p, REF_T *in, const ga_op *op, size_t d)
{
    size_t T = op->tokens, H = op->heads, hs = d / H, w3 = 3 * d;
    REF_T sc, mx;
    A_INIT(c, &sc);
    A_INIT(c, &mx);
    for (size_t h = 0; h < H; h++)
        for (size_t t = 0; t < T; t++) {
            REF_T *P = p + (h * T + t) * T, *q = in + t * w3 + h * hs;
            for (size_t u = 0; u <= t; u++) {
                A_DOT_VV(c, &sc, q, 1, in + u * w3 + d + h * hs, 1, hs);
                A_MUL_D(c, &P[u], &sc, op->act_param);
            }
#ifdef A_SOFTMAX_ROW
            A_SOFTMAX_ROW(c, P, P, t + 1); /* the arithmetic's own softmax (may alias) */
#else
            size_t jmax = REF_FN(argmax)(c, P, t + 1);
            A_SET(c, &mx, &P[jmax]);
            A_DOT_T acc;
            A_DOT_BEGIN(c, &acc);
            for (size_t u = 0; u <= t; u++) {
                A_SUB(c, &sc, &P[u], &mx);
                A_EXP(c, &P[u], &sc);
                A_DOT_ADD_V(c, &acc, &P[u]);
            }
            A_DOT_END(c, &sc, &acc);
            for (size_t u = 0; u <= t; u++)
                A_DIV(c, &P[u], &P[u], &sc);
#endif
            for (size_t u = t + 1; u < T; u++)
                A_SET_D(c, &P[u], 0.0);
            for (size_t i = 0; i < hs; i++)
                A_DOT_VV(c, &out[t * d + h * hs + i], P, 1, in + 2 * d + h * hs + i, w3, t + 1);
        }
    A_CLEAR(c, &mx);
    A_CLEAR(c, &sc);
}

/* The backward pass of an attention op over the batch: ds (B, H T T) the
 * scores' gradients (scratch: dL/dp's slot), din (B, T 3d) accumulated as
 * ga_graph says (first: set). */
static void REF_FN(attn_backward)(REF_CTX *c, REF_T *din, REF_T *ds, REF_T *dout, REF_T *in,
                                  REF_T *pw, const ga_op *op, size_t d, size_t B, int first,
                                  int no_scale)
{
    size_t T = op->tokens, H = op->heads, hs = d / H, w3 = 3 * d, HTT = H * T * T;
    REF_T S, t1;
    A_INIT(c, &S);
    A_INIT(c, &t1);
    for (size_t n = 0; n < B; n++) {
        REF_T *x = in + n * T * w3, *go = dout + n * T * d, *P = pw + n * HTT, *D = ds + n * HTT;
        for (size_t h = 0; h < H; h++)
            for (size_t t = 0; t < T; t++) {
                REF_T *Pt = P + (h * T + t) * T, *Dt = D + (h * T + t) * T;
                for (size_t u = 0; u <= t; u++) /* dp_u */
                    A_DOT_VV(c, &Dt[u], go + t * d + h * hs, 1, x + u * w3 + 2 * d + h * hs, 1, hs);
                A_DOT_VV(c, &S, Pt, 1, Dt, 1, t + 1);
                for (size_t u = 0; u <= t; u++) { /* ds_u = p_u (dp_u - S) m */
                    A_SUB(c, &t1, &Dt[u], &S);
                    A_MUL(c, &t1, &Pt[u], &t1);
                    if (no_scale) /* the fault: the scale left out of the backward */
                        A_SET(c, &Dt[u], &t1);
                    else
                        A_MUL_D(c, &Dt[u], &t1, op->act_param);
                }
                for (size_t u = t + 1; u < T; u++)
                    A_SET_D(c, &Dt[u], 0.0);
            }
        for (size_t u = 0; u < T; u++)
            for (size_t h = 0; h < H; h++)
                for (size_t i = 0; i < hs; i++) {
                    /* dq_u = sum_{w <= u} ds_uw k_w; dk_u = sum_{t >= u} ds_tu q_t;
                     * dv_u = sum_{t >= u} p_tu dout_t */
                    REF_T *gq = &din[n * T * w3 + u * w3 + h * hs + i];
                    A_DOT_VV(c, &t1, D + (h * T + u) * T, 1, x + d + h * hs + i, w3, u + 1);
                    REF_ACCUM(c, gq, &t1, first);
                    A_DOT_VV(c, &t1, D + (h * T + u) * T + u, T, x + u * w3 + h * hs + i, w3, T - u);
                    REF_ACCUM(c, gq + d, &t1, first);
                    A_DOT_VV(c, &t1, P + (h * T + u) * T + u, T, go + u * d + h * hs + i, d, T - u);
                    REF_ACCUM(c, gq + 2 * d, &t1, first);
                }
    }
    A_CLEAR(c, &t1);
    A_CLEAR(c, &S);
}

/* ---- a recurrent cell unrolled over T steps (ga_core.h, RNN) ------------
 * One sample: in (T, d), h (T, H) the states, z (T, H) the pre-activations:
 * z_t[k] = (sum_j Wx(k, j) x_t[j] + sum_j Wh(k, j) h_{t-1}[j]) + b[k], one
 * dot product over [x_t; h_{t-1}] in index order; h_t = f(z_t). */
static void REF_FN(rnn_row)(REF_CTX *c, REF_T *h, REF_T *z, REF_T *in, const ga_op *op,
                            const ga_net *net, const double *params, size_t d, size_t H)
{
    const ga_view *W = &net->views[op->param[0]], *bv = &net->views[op->param[1]];
    REF_T t1;
    A_INIT(c, &t1);
    for (size_t t = 0; t < op->tokens; t++)
        for (size_t k = 0; k < H; k++) {
            A_DOT_T acc;
            A_DOT_BEGIN(c, &acc);
            for (size_t j = 0; j < d; j++)
                A_DOT_ADD_VD(c, &acc, &in[t * d + j], params[ga_weight_index(net, W, k, j)]);
            for (size_t j = 0; t > 0 && j < H; j++)
                A_DOT_ADD_VD(c, &acc, &h[(t - 1) * H + j], params[ga_weight_index(net, W, k, d + j)]);
            A_DOT_END_ADD_D(c, &z[t * H + k], &t1, &acc, params[bv->offset + k]);
            A_ACT_VALUE(c, &h[t * H + k], op->act, op->act_param, &z[t * H + k]);
        }
    A_CLEAR(c, &t1);
}

/* Backward through time over the batch: dz (B, T H) scratch (z's gradient
 * slot), dW, db (+ lambda W), din accumulated as ga_graph says. The fault
 * stops one step early (the first step's dz is left 0). */
static void REF_FN(rnn_backward)(REF_CTX *c, REF_T *grad, REF_T *din, REF_T *dz, REF_T *dout,
                                 REF_T *in, REF_T *h, REF_T *z, const ga_op *op, const ga_net *net,
                                 const double *params, double lambda, size_t B, size_t d, size_t H,
                                 int want_din, int first, int short_bptt)
{
    const ga_view *W = &net->views[op->param[0]], *bv = &net->views[op->param[1]];
    size_t T = op->tokens;
    REF_T s, t1;
    A_INIT(c, &s);
    A_INIT(c, &t1);
    for (size_t n = 0; n < B; n++) {
        REF_T *Dz = dz + n * T * H, *go = dout + n * T * H, *zn = z + n * T * H;
        for (size_t t = T; t-- > 0;) {
            for (size_t k = 0; k < H; k++) {
                if (short_bptt && t == 0) { /* the fault: the loop ends one step early */
                    A_SET_D(c, &Dz[k], 0.0);
                    continue;
                }
                /* dh_t[k] = dout_t[k] + sum_i Wh(i, k) dz_{t+1}[i] */
                if (t + 1 < T) {
                    A_DOT_T acc;
                    A_DOT_BEGIN(c, &acc);
                    for (size_t i = 0; i < H; i++)
                        A_DOT_ADD_VD(c, &acc, &Dz[(t + 1) * H + i], params[ga_weight_index(net, W, i, d + k)]);
                    A_DOT_END(c, &s, &acc);
                    A_ADD(c, &s, &go[t * H + k], &s);
                } else {
                    A_SET(c, &s, &go[t * H + k]);
                }
                A_ACT_DERIV(c, &t1, op->act, op->act_param, &zn[t * H + k]);
                A_MUL(c, &Dz[t * H + k], &s, &t1);
            }
        }
    }
    for (size_t k = 0; k < H; k++) {
        for (size_t j = 0; j < d + H; j++) { /* dW(k, j) = sum_{n,t} dz_t[k] [x_t; h_{t-1}]_j */
            A_DOT_T acc;
            A_DOT_BEGIN(c, &acc);
            for (size_t n = 0; n < B; n++)
                for (size_t t = 0; t < T; t++) {
                    if (j >= d && t == 0)
                        continue; /* h_{-1} = 0 */
                    REF_T *v = j < d ? &in[n * T * d + t * d + j] : &h[n * T * H + (t - 1) * H + j - d];
                    A_DOT_ADD_VV(c, &acc, &dz[n * T * H + t * H + k], v);
                }
            A_DOT_END(c, &s, &acc);
            size_t wk = ga_weight_index(net, W, k, j);
            if (lambda != 0.0) {
                A_SET_D(c, &t1, lambda);
                A_MUL_D(c, &t1, &t1, params[wk]);
                A_ADD(c, &s, &s, &t1);
            }
            A_SET(c, &grad[wk], &s);
        }
        A_DOT_T acc;
        A_DOT_BEGIN(c, &acc);
        for (size_t e = 0; e < B * T; e++)
            A_DOT_ADD_V(c, &acc, &dz[e * H + k]);
        A_DOT_END(c, &grad[bv->offset + k], &acc);
    }
    for (size_t e = 0; want_din && e < B * T; e++) /* dx_t[j] = sum_k Wx(k, j) dz_t[k] */
        for (size_t j = 0; j < d; j++) {
            A_DOT_T acc;
            A_DOT_BEGIN(c, &acc);
            for (size_t k = 0; k < H; k++)
                A_DOT_ADD_VD(c, &acc, &dz[e * H + k], params[ga_weight_index(net, W, k, j)]);
            A_DOT_END(c, &s, &acc);
            REF_ACCUM(c, &din[e * d + j], &s, first);
        }
    A_CLEAR(c, &t1);
    A_CLEAR(c, &s);
}

/* n entries x[0], x[s], x[2 s], ... normalised: with center, mu = (sum x) / n,
 * d = x - mu, else d = x; var = (sum d d) / n, r = 1 / sqrt(var + eps), xh = d r
 * at the same places. A layernorm's or rmsnorm's row has s = 1, a batch norm's
 * feature s = its width. The core (ga_backprop.c) computes the same operations
 * in this order. */
static void REF_FN(normalize)(REF_CTX *c, REF_T *xh, REF_T *r, REF_T *x, size_t n, size_t st,
                              int center, double eps)
{
    REF_T s;
    A_INIT(c, &s);
    if (center) {
        A_DOT_T acc;
        A_DOT_BEGIN(c, &acc);
        for (size_t k = 0; k < n; k++)
            A_DOT_ADD_V(c, &acc, &x[k * st]);
        A_DOT_END(c, &s, &acc);
        A_DIV_D(c, &s, &s, (double)n); /* mu */
        for (size_t k = 0; k < n; k++)
            A_SUB(c, &xh[k * st], &x[k * st], &s);
    } else {
        for (size_t k = 0; k < n; k++)
            A_SET(c, &xh[k * st], &x[k * st]);
    }
    A_DOT_VV(c, &s, xh, st, xh, st, n);
    A_DIV_D(c, &s, &s, (double)n);
    A_ADD_D(c, &s, &s, eps);
    A_SQRT(c, &s, &s);
    A_D_DIV(c, r, 1.0, &s);
    for (size_t k = 0; k < n; k++)
        A_MUL(c, &xh[k * st], &xh[k * st], r);
    A_CLEAR(c, &s);
}

/* The input gradient of normalize() over the same n entries (stride st),
 * accumulated into din as ga_graph says (first: set): din += ((dy - m1) - xh
 * m2) r, m1 = (sum dy) / n, m2 = (sum dy xh) / n; the mean's term and the
 * variance's term each present when asked (a mutation leaves one out; an
 * rms norm has no mean). */
static void REF_FN(normalize_dx)(REF_CTX *c, REF_T *din, REF_T *dy, REF_T *xh, REF_T *r, size_t n,
                                 size_t st, int mean_term, int var_term, int first)
{
    REF_T m1, m2, s, t;
    A_INIT(c, &m1);
    A_INIT(c, &m2);
    A_INIT(c, &s);
    A_INIT(c, &t);
    A_SET_D(c, &m1, 0.0);
    if (mean_term) {
        A_DOT_T acc;
        A_DOT_BEGIN(c, &acc);
        for (size_t k = 0; k < n; k++)
            A_DOT_ADD_V(c, &acc, &dy[k * st]);
        A_DOT_END(c, &m1, &acc);
        A_DIV_D(c, &m1, &m1, (double)n);
    }
    A_DOT_VV(c, &m2, dy, st, xh, st, n);
    A_DIV_D(c, &m2, &m2, (double)n);
    for (size_t k = 0; k < n; k++) {
        if (mean_term)
            A_SUB(c, &s, &dy[k * st], &m1);
        else
            A_SET(c, &s, &dy[k * st]);
        if (var_term) {
            A_MUL(c, &t, &xh[k * st], &m2);
            A_SUB(c, &s, &s, &t);
        }
        A_MUL(c, &s, &s, r);
        REF_ACCUM(c, &din[k * st], &s, first);
    }
    A_CLEAR(c, &t);
    A_CLEAR(c, &s);
    A_CLEAR(c, &m2);
    A_CLEAR(c, &m1);
}

/* A batch norm over the whole batch (its stage's first sample computes every
 * row): each feature normalised over the batch, r written to every row.
 * x, xh, r (B, nf). */
static void REF_FN(batchnorm)(REF_CTX *c, REF_T *xh, REF_T *r, REF_T *x, size_t B, size_t nf,
                              const ga_op *op)
{
    for (size_t k = 0; k < nf; k++) {
        REF_FN(normalize)(c, &xh[k], &r[k], &x[k], B, nf, 1, op->eps);
        for (size_t n = 1; n < B; n++)
            A_SET(c, &r[n * nf + k], &r[k]);
    }
}

/* val[v] (B, width[v]) for every value v >= 1 of g (val[0] = x as REF_T);
 * *loss the loss. Stage by stage, sample by sample, from stage st0 on: the
 * values of the stages before it are read as val holds them (a pass
 * repeated after a change to stage st0's parameters, route (a)). */
static void REF_FN(forward_from)(REF_CTX *c, REF_T *loss, REF_T *const *val, const ga_graph *g,
                                 const ga_net *net, const double *params, const double *x,
                                 const double *y, size_t B, size_t st0)
{
    const ga_net_desc *d = &net->desc;
    REF_T s, t;
    A_INIT(c, &s);
    A_INIT(c, &t);
    for (size_t st = st0; st < g->n_stages; A_TELL(c), st++)
        for (size_t n = 0; n < B; n++)
            for (size_t i = g->stage_op[st]; i < g->stage_op[st + 1]; i++) {
                const ga_op *op = &g->ops[i];
                size_t wi = g->width[op->input[0]], wo = g->width[op->output];
                REF_T *in = val[op->input[0]] + n * wi, *out = val[op->output] + n * wo;
                size_t T = op->tokens > 1 ? op->tokens : 1, di = wi / T, dd = wo / T;
                if (op->kind == GA_OP_DENSE) { /* z[k] = (sum_j in[j] W(k,j)) + b[k], each token */
                    const ga_view *W = &net->views[op->param[0]], *b = &net->views[op->param[1]];
                    for (size_t tk = 0; tk < T; tk++)
                        for (size_t k = 0; k < dd; k++) {
                            size_t js, ks, at = REF_FN(w_at)(net, W, k, &js, &ks);
                            A_DOT_VP_ADD_D(c, &out[tk * dd + k], &t, in + tk * di, 1, params, at,
                                           js, di, params[b->offset + k]);
                        }
                } else if (op->kind == GA_OP_BATCHNORM) { /* every row, at the first */
                    if (n == 0)
                        REF_FN(batchnorm)(c, val[op->output], val[op->output2], val[op->input[0]], B,
                                          wo, op);
                } else if (op->kind == GA_OP_LAYERNORM || op->kind == GA_OP_RMSNORM) {
                    for (size_t tk = 0; tk < T; tk++)
                        REF_FN(normalize)(c, out + tk * dd, val[op->output2] + n * T + tk,
                                          in + tk * di, di, 1, op->kind == GA_OP_LAYERNORM, op->eps);
                } else if (op->kind == GA_OP_AFFINE) { /* gamma xh (+ beta), gamma shared by tokens */
                    const ga_view *gm = &net->views[op->param[0]], *be = &net->views[op->param[1]];
                    for (size_t k = 0; k < wo; k++) {
                        if (op->n_params == 2) {
                            A_MUL_D(c, &t, &in[k], params[gm->offset + k % dd]);
                            A_ADD_D(c, &out[k], &t, params[be->offset + k % dd]);
                        } else {
                            A_MUL_D(c, &out[k], &in[k], params[gm->offset + k % dd]);
                        }
                    }
                } else if (op->kind == GA_OP_CONV || op->kind == GA_OP_MAXPOOL ||
                           op->kind == GA_OP_AVGPOOL) {
                    REF_FN(conv_row)(c, out, in, op, net, params);
                } else if (op->kind == GA_OP_RNN) {
                    REF_FN(rnn_row)(c, out, val[op->output2] + n * wo, in, op, net, params,
                                    wi / op->tokens, wo / op->tokens);
                } else if (op->kind == GA_OP_ATTN) {
                    REF_FN(attn_row)(c, out, val[op->output2] + n * g->width[op->output2], in, op,
                                     wo / op->tokens);
                } else if (op->kind == GA_OP_SHIFT) { /* in + P */
                    const ga_view *P = &net->views[op->param[0]];
                    for (size_t k = 0; k < wo; k++)
                        A_ADD_D(c, &out[k], &in[k], params[P->offset + k]);
                } else if (op->kind == GA_OP_MASK) { /* in m, m = the scale or 0 */
                    for (size_t k = 0; k < wo; k++)
                        A_MUL_D(c, &out[k], &in[k],
                                ga_dropout_keep(op->seed, op->stage, n, k, op->p) ? op->act_param : 0.0);
                } else if (op->kind == GA_OP_EMBED) { /* E's rows, exactly */
                    const ga_view *E = &net->views[op->param[0]];
                    for (size_t t = 0; t < wi; t++)
                        for (size_t k = 0; k < op->dim; k++)
                            A_SET_D(c, &out[t * op->dim + k],
                                    params[E->offset + (size_t)x[n * wi + t] * op->dim + k]);
                } else if (op->kind == GA_OP_CONCAT) { /* [in0, in1], exactly */
                    size_t w1 = g->width[op->input[1]];
                    REF_T *in1 = val[op->input[1]] + n * w1;
                    for (size_t k = 0; k < wi; k++)
                        A_SET(c, &out[k], &in[k]);
                    for (size_t k = 0; k < w1; k++)
                        A_SET(c, &out[wi + k], &in1[k]);
                } else if (op->kind == GA_OP_ADD) {
                    REF_T *in1 = val[op->input[1]] + n * wi;
                    for (size_t k = 0; k < wo; k++)
                        A_ADD(c, &out[k], &in[k], &in1[k]);
                } else if (op->kind == GA_OP_SOFTMAX) { /* exp(z_k - max z) / sum */
#ifdef A_SOFTMAX_ROW
                    A_SOFTMAX_ROW(c, out, in, wo);
                    continue;
#endif
                    size_t jmax = REF_FN(argmax)(c, in, wo);
                    A_SET_D(c, &s, 0.0);
                    for (size_t k = 0; k < wo; k++) {
                        A_SUB(c, &t, &in[k], &in[jmax]);
                        A_EXP(c, &out[k], &t);
                        A_ADD(c, &s, &s, &out[k]);
                    }
                    for (size_t k = 0; k < wo; k++)
                        A_DIV(c, &out[k], &out[k], &s);
                } else { /* GA_OP_ACT */
                    for (size_t k = 0; k < wo; k++)
                        A_ACT_VALUE(c, &out[k], op->act, op->act_param, &in[k]);
                }
            }
    const ga_op *lo = &g->ops[g->stage_op[g->n_stages]];
    const ga_loss_desc *ld = &lo->loss;
    /* a last layer of T tokens: B T rows of n_out / T */
    size_t lt = g->loss_tokens > 1 ? g->loss_tokens : 1, no = g->width[g->z_last] / lt, R = B * lt;
    A_SET_D(c, &s, 0.0);
    for (size_t n = 0; n < R; n++) {
        REF_FN(sample_term)(c, &t, ld->kind, val[g->z_last] + n * no, val[g->a_last] + n * no,
                            y + n * no, no);
        A_ADD(c, &s, &s, &t);
    }
    /* L = scale * (sum / N): N = R n_out (mean), R (batch_mean), 1 (sum: no division) */
    double N = ld->reduction == GA_REDUCE_MEAN ? (double)R * (double)no
               : ld->reduction == GA_REDUCE_BATCH_MEAN ? (double)R : 1.0;
    if (N != 1.0)
        A_DIV_D(c, &s, &s, N);
    A_MUL_D(c, loss, &s, ld->scale);
    if (g->decay_op != GA_OP_NONE) { /* + (lambda/2) sum W^2, W in slab order */
        A_SET_D(c, &s, 0.0);
        for (size_t l = 0; l < d->n_layers; l++) {
            const ga_view *W = &net->views[2 * l];
            if (!W->is_weight)
                continue;
            for (size_t i = 0; i < W->rows * W->cols; i++) {
                A_SET_D(c, &t, params[W->offset + i]);
                A_MUL(c, &t, &t, &t);
                A_ADD(c, &s, &s, &t);
            }
        }
        A_SET_D(c, &t, 0.5);
        A_MUL_D(c, &t, &t, ld->weight_decay);
        A_MUL(c, &t, &t, &s);
        A_ADD(c, loss, loss, &t);
    }
    A_CLEAR(c, &t);
    A_CLEAR(c, &s);
}

/* the whole forward pass */
static void REF_FN(forward)(REF_CTX *c, REF_T *loss, REF_T *const *val, const ga_graph *g,
                            const ga_net *net, const double *params, const double *x,
                            const double *y, size_t B)
{
    REF_FN(forward_from)(c, loss, val, g, net, params, x, y, B, 0);
}

/* The loss's gradient dL/dz of the last dense op (B, no) into dz, chained
 * through the last activation for mse and dot (the factor scale / N folded
 * in); returns the last activation op (NULL: identity). */
static const ga_op *REF_FN(loss_delta)(REF_CTX *c, REF_T *dz, REF_T *const *val, const ga_graph *g,
                                       const double *y, size_t B, const ga_ref_faults *f)
{
    const ga_loss_desc *ld = &g->ops[g->stage_op[g->n_stages]].loss;
    size_t lt = g->loss_tokens > 1 ? g->loss_tokens : 1, last = g->n_stages - 1;
    size_t no = g->width[g->z_last] / lt;
    B *= lt; /* the loss's rows: B samples of lt tokens each */
    REF_T factor, t;
    A_INIT(c, &factor);
    A_INIT(c, &t);
    /* factor = (scale / N) * fault factor */
    double N = ld->reduction == GA_REDUCE_MEAN ? (double)B * (double)no
               : ld->reduction == GA_REDUCE_BATCH_MEAN ? (double)B : 1.0;
    A_SET_D(c, &t, ld->scale);
    A_DIV_D(c, &t, &t, N);
    A_MUL_D(c, &factor, &t, f->factor_scale);
    const ga_op *out_act = REF_FN(stage_act)(g, last);
    for (size_t n = 0; n < B; n++) {
        REF_T *z = val[g->z_last] + n * no, *a = val[g->a_last] + n * no;
        REF_FN(sample_dz)(c, dz + n * no, ld->kind, z, a, y + n * no, no, &factor, f->ce_no_softmax);
        if (!ga_loss_fuses_output(ld->kind))
            REF_FN(chain)(c, dz + n * no, dz + n * no, out_act, z, a, no, f->act_layer == last,
                          f->act_missing);
    }
    A_CLEAR(c, &t);
    A_CLEAR(c, &factor);
    return out_act;
}

/* A dense op's parameter gradients from its dz (B, fo) and input ap (B, fi):
 * dW(k,j) = sum_n dz[n,k] ap[n,j] (+ lambda W(k,j)), db[k] = sum_n dz[n,k];
 * the faults of its stage applied. */
static void REF_FN(dense_param_grads)(REF_CTX *c, REF_T *grad, REF_T *delta, REF_T *ap,
                                      const ga_op *op, const ga_net *net, const double *params,
                                      double lambda, size_t B, const ga_ref_faults *f)
{
    const ga_view *W = &net->views[op->param[0]], *bv = &net->views[op->param[1]];
    size_t fi = W->rows * W->cols / (bv->rows * bv->cols), fo = bv->rows * bv->cols;
    size_t st = op->stage;
    REF_T s, t;
    A_INIT(c, &s);
    A_INIT(c, &t);
    for (size_t k = 0; k < fo; k++)
        for (size_t j = 0; j < fi; j++) {
            A_DOT_VV(c, &s, &delta[k], fo, &ap[j], fi, B);
            size_t wk = ga_weight_index(net, W, k, j);
            if (!f->no_decay && lambda != 0.0) {
                A_SET_D(c, &t, lambda);
                A_MUL_D(c, &t, &t, params[wk]);
                A_ADD(c, &s, &s, &t);
            }
            size_t at = f->transposed_layer == st
                            ? W->offset + (net->desc.layout == GA_LAYOUT_COLUMN ? j * fo + k : k * fi + j)
                            : wk;
            A_SET(c, &grad[at], &s);
        }
    for (size_t k = 0; k < fo; k++) {
        A_DOT_T acc;
        A_DOT_BEGIN(c, &acc);
        for (size_t n = 0; n < B; n++)
            A_DOT_ADD_V(c, &acc, &delta[n * fo + k]);
        A_DOT_END(c, &s, &acc);
        if (f->bias_layer == st) /* the fault's scaling: no rounding modelled */
            A_SCALE_D(c, &grad[bv->offset + k], &s, f->bias_scale);
        else
            A_SET(c, &grad[bv->offset + k], &s);
    }
    A_CLEAR(c, &t);
    A_CLEAR(c, &s);
}


/* The backward pass of a net that is not a chain (ga_ops.h: norms, residual
 * adds): one gradient per value, dv(v) = dval + B voff[v] (B, width[v]),
 * the ops taken in reverse order. The loss's dL/dz (chained through the last
 * activation for mse and dot) as in the chain's pass; then each op gives its
 * inputs' gradients, set by the last reader of a value and added by the
 * others (ga_graph.last_use):
 *   dense     dW(k,j) = sum_n dz[n,k] in[n,j] (+ lambda W(k,j)), db[k] = sum_n dz[n,k],
 *             din[n,j] = sum_k dz[n,k] W(k,j)
 *   act       dz = da f'(z) (softmax: a (da - sum a da))
 *   affine    dgamma[k] = sum_n dy[n,k] xh[n,k], dbeta[k] = sum_n dy[n,k], dxh = dy gamma
 *   layernorm dx = r ((dxh - m1) - xh m2), m1 = (sum dxh) / n, m2 = (sum dxh xh) / n
 *   rmsnorm   dx = r (dxh - xh m2)
 *   add       din0 = dout, din1 = dout
 * scratch (2 B maxw) holds one row of products. */
static void REF_FN(backward_graph)(REF_CTX *c, REF_T *grad, REF_T *const *val, REF_T *dval,
                                   const ga_graph *g, const ga_net *net, const double *params,
                                   const double *x, const double *y, size_t B,
                                   const ga_ref_faults *f)
{
    const ga_loss_desc *ld = &g->ops[g->stage_op[g->n_stages]].loss;
    REF_T *row = dval + B * g->voff[g->n_values]; /* (maxw) scratch */
    REF_T s, t;
    A_INIT(c, &s);
    A_INIT(c, &t);
    const ga_op *out_act = REF_FN(loss_delta)(c, dval + B * g->voff[g->z_last], val, g, y, B, f);
    size_t stage = g->n_stages; /* the stage the walk is in (n_stages: the loss's) */
    for (size_t i = g->stage_op[g->n_stages]; i-- > 0;) {
        const ga_op *op = &g->ops[i];
        for (; stage > 0 && i < g->stage_op[stage]; stage--) /* op is in an earlier stage */
            if (stage < g->n_stages)
                A_TELL(c); /* the stage left is done */
        if (op == out_act)
            continue; /* chained with the loss above */
        size_t v0 = op->input[0], wi = g->width[v0], wo = g->width[op->output];
        /* an op over T tokens: B T rows of a token's width (dense, norms, affine) */
        size_t T = op->tokens > 1 && op->kind != GA_OP_ATTN && op->kind != GA_OP_RNN ? op->tokens : 1;
        size_t Bt = B * T;
        wi /= T;
        wo /= T;
        REF_T *in = val[v0], *dout = dval + B * g->voff[op->output];
        REF_T *din = dval + B * g->voff[v0];
        int first = g->last_use[v0] == i;
        if (op->kind == GA_OP_DENSE) {
            const ga_view *W = &net->views[op->param[0]];
            REF_FN(dense_param_grads)(c, grad, dout, in, op, net, params, ld->weight_decay, Bt, f);
            if (v0 == 0)
                continue; /* the input's gradient is not asked for */
            for (size_t n = 0; n < Bt; n++)
                for (size_t j = 0; j < wi; j++) {
                    size_t js, ks, at = REF_FN(w_at)(net, W, 0, &js, &ks) + j * js;
                    A_DOT_VP(c, &s, &dout[n * wo], 1, params, at, ks, wo);
                    REF_ACCUM(c, &din[n * wi + j], &s, first);
                }
        } else if (op->kind == GA_OP_ACT || op->kind == GA_OP_SOFTMAX) {
            for (size_t n = 0; n < Bt; n++) {
                REF_FN(chain)(c, row, &dout[n * wo], op, &in[n * wi], &val[op->output][n * wo],
                              wo, f->act_layer == op->stage, f->act_missing);
                for (size_t k = 0; k < wo; k++)
                    REF_ACCUM(c, &din[n * wi + k], &row[k], first);
            }
        } else if (op->kind == GA_OP_AFFINE) {
            const ga_view *gm = &net->views[op->param[0]], *be = &net->views[op->param[1]];
            for (size_t k = 0; k < wo; k++) {
                A_DOT_VV(c, &grad[gm->offset + k], &dout[k], wo, &in[k], wi, Bt);
                if (op->n_params == 2) {
                    A_DOT_T acc;
                    A_DOT_BEGIN(c, &acc);
                    for (size_t n = 0; n < Bt; n++)
                        A_DOT_ADD_V(c, &acc, &dout[n * wo + k]);
                    A_DOT_END(c, &grad[be->offset + k], &acc);
                }
            }
            for (size_t n = 0; n < Bt; n++)
                for (size_t k = 0; k < wo; k++) {
                    A_MUL_D(c, &s, &dout[n * wo + k], params[gm->offset + k]);
                    REF_ACCUM(c, &din[n * wi + k], &s, first);
                }
        } else if (op->kind == GA_OP_BATCHNORM) { /* each feature down the batch */
            if (v0 == 0)
                continue;
            REF_T *xh = val[op->output], *r = val[op->output2];
            for (size_t k = 0; k < wo; k++) /* the fault leaves out the variance's path */
                REF_FN(normalize_dx)(c, &din[k], &dout[k], &xh[k], &r[k], B, wo, 1, !f->bn_no_var,
                                     first);
        } else if (op->kind == GA_OP_LAYERNORM || op->kind == GA_OP_RMSNORM) { /* each row */
            if (v0 == 0)
                continue;
            REF_T *xh = val[op->output], *r = val[op->output2];
            int ln = op->kind == GA_OP_LAYERNORM, no_mean = ln && f->norm_no_mean == op->stage;
            for (size_t n = 0; n < Bt; n++) /* the fault leaves out the mean's term */
                REF_FN(normalize_dx)(c, &din[n * wi], &dout[n * wo], &xh[n * wo], &r[n], wo, 1,
                                     ln && !no_mean, 1, first);
        } else if (op->kind == GA_OP_CONV || op->kind == GA_OP_MAXPOOL || op->kind == GA_OP_AVGPOOL) {
            REF_FN(conv_backward)(c, grad, din, dout, in, op, net, params,
                                  f->no_decay ? 0.0 : ld->weight_decay, B, v0 != 0, first,
                                  f->conv_flip | (f->pool_last_max << 1));
        } else if (op->kind == GA_OP_RNN) {
            REF_FN(rnn_backward)(c, grad, din, dval + B * g->voff[op->output2], dout, in,
                                 val[op->output], val[op->output2], op, net, params,
                                 f->no_decay ? 0.0 : ld->weight_decay, B, wi / op->tokens,
                                 wo / op->tokens, v0 != 0, first, f->rnn_short);
        } else if (op->kind == GA_OP_ATTN) {
            if (v0 != 0)
                REF_FN(attn_backward)(c, din, dval + B * g->voff[op->output2], dout, in,
                                      val[op->output2], op, wo / op->tokens, B, first,
                                      f->attn_no_scale);
        } else if (op->kind == GA_OP_SHIFT) {
            const ga_view *P = &net->views[op->param[0]];
            for (size_t k = 0; k < wo; k++) {
                A_DOT_T acc;
                A_DOT_BEGIN(c, &acc);
                for (size_t n = 0; n < B; n++)
                    A_DOT_ADD_V(c, &acc, &dout[n * wo + k]);
                A_DOT_END(c, &grad[P->offset + k], &acc);
            }
            for (size_t e = 0; v0 != 0 && e < B * wo; e++)
                REF_ACCUM(c, &din[e], &dout[e], first);
        } else if (op->kind == GA_OP_MASK) {
            for (size_t n = 0; n < B; n++)
                for (size_t k = 0; k < wo; k++) {
                    A_MUL_D(c, &s, &dout[n * wo + k],
                            f->mask_forgotten ? 1.0 /* the fault */
                            : ga_dropout_keep(op->seed, op->stage, n, k, op->p) ? op->act_param : 0.0);
                    REF_ACCUM(c, &din[n * wi + k], &s, first);
                }
        } else if (op->kind == GA_OP_EMBED) {
            /* dE[v,k]: the sum over the positions holding id v (the fault:
             * the last of them alone, an overwrite for a scatter-add) */
            const ga_view *E = &net->views[op->param[0]];
            size_t V = E->rows, D = op->dim;
            for (size_t v = 0; v < V; v++)
                for (size_t k = 0; k < D; k++) {
                    A_DOT_T acc;
                    A_DOT_BEGIN(c, &acc);
                    size_t lastpos = SIZE_MAX;
                    for (size_t e = 0; e < B * wi; e++)
                        if ((size_t)x[e] == v) {
                            A_DOT_ADD_V(c, &acc, &dout[e * D + k]);
                            lastpos = e;
                        }
                    A_DOT_END(c, &grad[E->offset + v * D + k], &acc);
                    if (f->embed_overwrite && lastpos != SIZE_MAX)
                        A_SET(c, &grad[E->offset + v * D + k], &dout[lastpos * D + k]);
                }
        } else if (op->kind == GA_OP_CONCAT) { /* dout's first wi to in0, the rest to in1 */
            size_t v1 = op->input[1], w1 = g->width[v1];
            REF_T *din1 = dval + B * g->voff[v1];
            int first1 = g->last_use[v1] == i && v1 != v0;
            for (size_t n = 0; n < B; n++) {
                for (size_t k = 0; v0 != 0 && k < wi; k++)
                    REF_ACCUM(c, &din[n * wi + k], &dout[n * wo + k], first);
                for (size_t k = 0; v1 != 0 && k < w1; k++)
                    REF_ACCUM(c, &din1[n * w1 + k], &dout[n * wo + wi + k], first1);
            }
        } else if (op->kind == GA_OP_ADD) {
            size_t v1 = op->input[1];
            REF_T *din1 = dval + B * g->voff[v1];
            int first1 = g->last_use[v1] == i && v1 != v0;
            for (size_t e = 0; e < B * wo; e++) {
                if (v0 != 0)
                    REF_ACCUM(c, &din[e], &dout[e], first);
                if (v1 != 0 && f->add_no_skip && first1) /* the fault: the skip gets nothing */
                    A_SET_D(c, &din1[e], 0.0);
                else if (v1 != 0 && !f->add_no_skip)
                    REF_ACCUM(c, &din1[e], &dout[e], first1);
            }
        }
    }
    A_TELL(c); /* the first stage */
    A_CLEAR(c, &t);
    A_CLEAR(c, &s);
}

/* grad (n_params) = dL/dtheta after forward on the same val. delta,
 * delta_prev (B, max width) scratch. f: faults or NULL. */
static void REF_FN(backward)(REF_CTX *c, REF_T *grad, REF_T *const *val, REF_T *delta,
                             REF_T *delta_prev, const ga_graph *g, const ga_net *net,
                             const double *params, const double *x, const double *y, size_t B, const ga_ref_faults *f)
{
    static const ga_ref_faults none = {1.0, 0, 0, SIZE_MAX, 0, SIZE_MAX, 1.0, SIZE_MAX, SIZE_MAX, 0, 0, 0, 0, 0,
                                       0, 0, 0};
    if (!f)
        f = &none;
    if (!g->chain) { /* delta is then the whole scratch of ga_graph_pass_sizes */
        REF_FN(backward_graph)(c, grad, val, delta, g, net, params, x, y, B, f);
        return;
    }
    const ga_loss_desc *ld = &g->ops[g->stage_op[g->n_stages]].loss;
    REF_T s;
    A_INIT(c, &s);
    REF_FN(loss_delta)(c, delta, val, g, y, B, f);
    for (size_t st = g->n_stages; st-- > 0;) {
        const ga_op *op = &g->ops[g->stage_op[st]]; /* the stage's dense op */
        const ga_view *W = &net->views[op->param[0]];
        size_t fi = g->width[op->input[0]], fo = g->width[op->output];
        REF_T *ap = val[op->input[0]]; /* (B, fi) */
        REF_FN(dense_param_grads)(c, grad, delta, ap, op, net, params, ld->weight_decay, B, f);
        A_TELL(c);
        if (st == 0)
            break;
        const ga_op *pa = REF_FN(stage_act)(g, st - 1);
        size_t zp = g->ops[g->stage_op[st - 1]].output; /* the previous stage's z */
        for (size_t n = 0; n < B; n++) {
            REF_T *da = delta_prev + n * fi;
            for (size_t j = 0; j < fi; j++) {
                /* W(k, j) along k: from W(0, j) by the step between rows */
                size_t js, ks, at = REF_FN(w_at)(net, W, 0, &js, &ks) + j * js;
                A_DOT_VP(c, &da[j], &delta[n * fo], 1, params, at, ks, fo);
            }
            REF_FN(chain)(c, da, da, pa, val[zp] + n * fi, ap + n * fi, fi, f->act_layer == st - 1,
                          f->act_missing);
        }
        REF_T *sw = delta;
        delta = delta_prev;
        delta_prev = sw;
    }
    A_CLEAR(c, &s);
}
