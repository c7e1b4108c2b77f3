/* ga_oracle.c: the MPFR reference over the network description of ga_core.h.
 *
 * Nothing here calls core/'s arithmetic (ga_act_value, ga_forward, ...): the
 * oracle reads the description (layers, layout, views into the slab) and
 * computes everything again in MPFR. Every double that enters (x, y,
 * parameters, activation parameters, loss scale, weight decay) is converted
 * exactly: mpfr_set_d into at least 53 bits, or the *_d functions of MPFR,
 * which convert exactly before the one correct rounding.
 *
 * Smooth formulas the oracle uses where the naive composition loses accuracy
 * at saturation (they are exact identities, not approximations):
 *   softplus(z)        = max(z,0) + log1p(exp(-|z|))
 *   bce(sigmoid(z), y) = y softplus(-z) + (1-y) softplus(z)
 *                        (-log s(z) = softplus(-z), -log(1-s(z)) = softplus(z))
 *   cce(softmax(z), y) = sum_k y_k (logsumexp(z) - z_k)    (-log p_k = lse - z_k)
 *   d bce/dz = s(z) - y,   d cce/dz_k = p_k sum_j y_j - y_k
 * Terms with y = 0 (or 1 - y = 0) are skipped: 0 log 0 = 0.
 * Derivative conventions at the kinks: relu'(0) = 0, leaky_relu'(0) = slope,
 * elu'(0) = alpha.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "ga_diff_mpfr.h"
#include "ga_oracle.h"
#include "ga_refmp.h"
#include "ga_random.h"

/* Gap between the two precisions of a reverse or forward pass whose
 * difference estimates the error (see orc_error). 128 and 160 bits are both
 * fast paths of MPFR's mul and add (2 and 3 limbs). */
#define GAP 32
/* Rows of the Ridders tableau, route (a) (reason: core/ga_diff.h). */
#define NTAB GA_DIFF_NTAB_ORACLE
/* Route (a)'s variables, in orc.E: the scalars, then the tableau */
enum { F_F0, F_F0HI, F_FP, F_EPSF, F_H, F_ANS, F_ERR, F_ERRT, F_TOT, F_S1, F_S2, F_PI, NF };
#define FD_EXTRA (NF + NTAB * NTAB)

void ga_oracle_options_default(ga_oracle_options *opt)
{
    opt->start_prec = 128;
    opt->max_prec = 8192;
}

/* The oracle works in MPFR's widest exponent range whatever the caller
 * set (the range is per thread, and a user of the library may have narrowed
 * it): every entry point, and every worker thread, sets it and restores the
 * caller's on the way out. */
typedef struct {
    mpfr_exp_t emin, emax;
} mp_range;

static mp_range mp_range_widest(void)
{
    mp_range saved = {mpfr_get_emin(), mpfr_get_emax()};
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    return saved;
}

static void mp_range_restore(mp_range saved)
{
    mpfr_set_emin(saved.emin);
    mpfr_set_emax(saved.emax);
}

/* ---- working state ----------------------------------------------------- */

enum { T_LOSS, T_S, T_LAM, T_ACC, T_T, T_U, T_V, T_W, T_PROD, NTMP };

/* Magnitudes of the running error bound (mag_forward): long double for its
 * range (x87: to 1e4932), as products of magnitudes outgrow a double's long
 * before MPFR's exponent range is in any danger. */
typedef long double mag_t;

typedef struct {
    const ga_net *net;
    const double *y;   /* (B, n_out) */
    const double *params, *x; /* (n_params), (B, n_in): converted exactly at every precision */
    size_t B, L, n_in, n_out, maxw, n_params;
    size_t *nin, *nout, *woff, *boff, *wk, *wj; /* (L) each: W(k,j) = P[woff + k wk + j wj] */
    mpfr_t *all;       /* every MPFR variable of the call, one allocation */
    size_t n_all, n_work;
    mp_limb_t *limbs;  /* (n_work, limb_cap) the significands of the working set, one slab
                          (MPFR's custom interface: never mpfr_set_prec or mpfr_clear them) */
    size_t limb_cap;
    mpfr_t *P;         /* (n_params) parameters, exact at the working precision */
    mpfr_t *X;         /* (B, n_in) inputs, exact at the working precision */
    mpfr_t **Z, **A;   /* (L) -> (B, nout[l]) pre-activations and activations */
    mpfr_t *D, *Dp;    /* (B, maxw) dL/da then dL/dz of the current layer; previous */
    mpfr_t *G;         /* (n_params) dL/dtheta */
    mpfr_t *DX;        /* (B, n_in) dL/dx, or NULL */
    mpfr_t *T;         /* (NTMP) temporaries */
    mpfr_t *E;         /* extra variables managed by the caller (n_all - n_work) */
    size_t n_extra;
    signed char *sign; /* (B * sum nout) signs of z for the kink test of route (a) */
    size_t *zoff;      /* (L) offsets of each layer in sign */
    mpfr_t *S;         /* (2, B * sum nout) route (a): z then a of every layer at theta, or NULL */
    size_t n_units;    /* B * sum nout */
    long fd_base_prec; /* route (a): p when the working set holds the forward pass
                          at theta at p + GAP bits, with E[F_EPSF] its error; else 0 */
    /* running error magnitudes of the last pass (mag_forward, mag_backward) */
    mag_t *mz, *ma;    /* (B * sum nout) M(z), M(a), laid out as S */
    mag_t *md, *mdp;   /* (B, maxw) M(dL/da then dL/dz) of the current layer; previous */
    mag_t *mg;         /* (n_params) M(dL/dtheta), with grad */
    mag_t *mdx;        /* (B, n_in) M(dL/dx), with dx */
    mag_t mloss;       /* M(L) */
    mag_t mexp;        /* the largest M of an exponential's argument (see mag_floor) */
    mag_t depth;       /* D: roundings on the longest path of a pass, counted generously */
    mag_t mag_bump;    /* added to every |parameter| by mag_forward (fd_floor), else 0 */
    /* with_dirs: what is known of each computed value against the exact one
     * (GA_DIR_*): z and a (layer_affine, layer_act), and with grad dL/da then
     * dL/dz of the current layer and the previous, dL/dtheta, dL/dx */
    signed char *zd, *ad;   /* (B * sum nout) each, laid out as S */
    signed char *dd, *ddp;  /* (B, maxw) each, with D and Dp */
    signed char *gd, *dxd;  /* (n_params), (B, n_in) */
    int lossd;              /* of T_LOSS */
    int branch_assumed;     /* some relu's 0 was taken as exact on its unproven side z < 0
                               (layer_act): the directions hold once mag_kink_unsure says
                               every side is proven */
    unsigned long N;   /* the reduction's divisor (orc_constants) */
    int kink_zero;     /* a piecewise unit's z came out 0 but not exactly (mag_forward) */
    mag_t kink_ratio;  /* the largest M(z) / |z| over the piecewise units' nonzero z */
} orc;

static const char *nonfinite_word(double v)
{
    return isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
}

/* Arguments common to every entry point. */
static int check_args(ga_oracle_options *o, ga_error *err, const ga_net *net,
                      const double *params, const double *x, const double *y, size_t batch,
                      const ga_oracle_options *opt)
{
    if (!net)
        return ga_fail(err, GA_EINVAL, "oracle: net is NULL");
    if (!params)
        return ga_fail(err, GA_EINVAL, "oracle: params is NULL");
    if (!x)
        return ga_fail(err, GA_EINVAL, "oracle: x is NULL");
    if (!y)
        return ga_fail(err, GA_EINVAL, "oracle: y is NULL");
    if (batch == 0)
        return ga_fail(err, GA_EINVAL, "oracle: batch size is 0, must be at least 1");
    size_t np;
    int status = ga_net_desc_validate(&np, err, &net->desc, GA_DEFAULT_MEMORY_CAP);
    if (status)
        return status;
    if (np != net->n_params || !net->views || net->n_views != 2 * net->desc.n_layers)
        return ga_fail(err, GA_EINVAL, "oracle: the net's slab (%zu parameters, %zu views) does not match its description (%zu parameters, %zu layers)",
                       net->n_params, net->n_views, np, net->desc.n_layers);
    if (opt)
        *o = *opt;
    else
        ga_oracle_options_default(o);
    if (o->start_prec < 53 || o->max_prec < o->start_prec || o->max_prec > (1L << 20))
        return ga_fail(err, GA_EINVAL, "oracle: precisions start %ld, max %ld: need 53 <= start <= max <= 2^20 bits",
                       o->start_prec, o->max_prec);
    size_t n_out = net->desc.layers[net->desc.n_layers - 1].n_out, nx, ny;
    if (!ga_size_mul(&nx, batch, net->desc.n_in) || !ga_size_mul(&ny, batch, n_out))
        return ga_fail(err, GA_ERANGE, "oracle: batch %zu times the layer widths overflows", batch);
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(params[i])) {
            char name[64];
            ga_param_name(name, sizeof name, net, i);
            return ga_fail(err, GA_ENONFINITE, "oracle: parameter %s (slab entry %zu) is %s", name, i,
                           nonfinite_word(params[i]));
        }
    for (size_t i = 0; i < nx; i++)
        if (!isfinite(x[i]))
            return ga_fail(err, GA_ENONFINITE, "oracle: x[%zu,%zu] is %s", i / net->desc.n_in,
                           i % net->desc.n_in, nonfinite_word(x[i]));
    for (size_t i = 0; i < ny; i++)
        if (!isfinite(y[i]))
            return ga_fail(err, GA_ENONFINITE, "oracle: y[%zu,%zu] is %s", i / n_out, i % n_out,
                           nonfinite_word(y[i]));
    return GA_OK;
}

static void slab_free(orc *o)
{
    if (o->limbs) {
        void (*gmp_free)(void *, size_t);
        mp_get_memory_functions(NULL, NULL, &gmp_free);
        gmp_free(o->limbs, o->n_work * o->limb_cap * sizeof *o->limbs);
    }
    o->limbs = NULL;
    o->limb_cap = 0;
}

static void orc_free(orc *o)
{
    if (o->all)
        for (size_t i = o->n_work; i < o->n_all; i++)
            mpfr_clear(o->all[i]);
    slab_free(o);
    free(o->all);
    free(o->nin);
    free(o->Z);
    free(o->sign);
    free(o->mz);
    free(o->zd);
    memset(o, 0, sizeof *o);
}

/* The working set's variables at prec, their values lost (NaN), as
 * mpfr_set_prec would leave them: in place when the slab has room, else in
 * a new slab of room for prec, from GMP's allocator (which, like every
 * mpfr_init2, ends the program when memory runs out; callers check the
 * memory cap first). One slab instead of a malloc per variable: at w = 64
 * the working set has 40,000 variables, whose mallocs and frees took as long
 * as the cross-check. */
static void slab_fit(orc *o, long prec)
{
    size_t need = mpfr_custom_get_size(prec) / sizeof(mp_limb_t);
    if (need > o->limb_cap) {
        void *(*gmp_alloc)(size_t);
        mp_get_memory_functions(&gmp_alloc, NULL, NULL);
        slab_free(o);
        o->limbs = gmp_alloc(o->n_work * need * sizeof *o->limbs);
        o->limb_cap = need;
    }
    for (size_t i = 0; i < o->n_work; i++) {
        mp_limb_t *d = o->limbs + i * o->limb_cap;
        mpfr_custom_init(d, prec);
        mpfr_custom_init_set(o->all[i], MPFR_NAN_KIND, 0, prec, d);
    }
}

/* Bytes of n MPFR variables of prec bits (struct plus limbs). */
static int mpfr_bytes(size_t *bytes, size_t n, long prec)
{
    size_t per = sizeof(mpfr_t) + ((size_t)prec / GMP_NUMB_BITS + 2) * sizeof(mp_limb_t);
    return ga_size_mul(bytes, n, per);
}

/* D, the roundings on the longest path from the exact inputs to any result
 * of a forward and reverse pass, counted generously (an overcount by a
 * factor k costs log2 k bits of the settle test's margin, an undercount its
 * proof): per layer the fan-in sum (a product and an addition a term), the
 * fan-out sum of the reverse pass, the activation and its derivative (at
 * most 4 roundings each) and softmax's sums; the loss's sum over the batch;
 * the gradient's sum over the batch; weight decay's sum over the weights;
 * the division by the reduction's N, last. The magnitudes M take scale / N
 * from the start (mag_scale): the passes' values before that division are N
 * times theirs, and so are their errors, which the division brings back. */
static mag_t mag_depth(const orc *o, size_t B)
{
    mag_t d = 66, nw = 0;
    for (size_t l = 0; l < o->L; l++) {
        d += 4 * ((mag_t)o->nin[l] + (mag_t)o->nout[l]) + 32;
        nw += (mag_t)o->nin[l] * (mag_t)o->nout[l];
    }
    d += 2 * (mag_t)B * (mag_t)o->n_out + 2 * (mag_t)B;
    if (o->net->desc.loss.weight_decay != 0)
        d += 2 * nw;
    return d;
}

/* Allocates every MPFR variable of a call: parameters, inputs, the working
 * set (with_grad: deltas and gradient; with_dx: dL/dx; with_sign: the kink
 * signs and with_snapshot: the base of route (a)) and n_extra caller
 * variables, each with room for prec + GAP bits; with_dirs, what is known of
 * every value against the exact one (GA_DIR_*). */
static int orc_alloc(orc *o, ga_error *err, const ga_net *net, const double *params,
                     const double *x, const double *y, size_t B, int with_grad, int with_dx,
                     int with_sign, int with_snapshot, int with_dirs, size_t n_extra, long prec)
{
    memset(o, 0, sizeof *o);
    const ga_net_desc *d = &net->desc;
    o->net = net;
    o->y = y;
    o->B = B;
    o->L = d->n_layers;
    o->n_in = d->n_in;
    o->n_out = d->layers[o->L - 1].n_out;
    o->n_params = net->n_params;
    o->nin = malloc(7 * o->L * sizeof *o->nin);
    o->Z = malloc(2 * o->L * sizeof *o->Z);
    if (!o->nin || !o->Z) {
        orc_free(o);
        return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu layers", o->L);
    }
    o->nout = o->nin + o->L;
    o->woff = o->nout + o->L;
    o->boff = o->woff + o->L;
    o->wk = o->boff + o->L;
    o->wj = o->wk + o->L;
    o->zoff = o->wj + o->L;
    o->A = o->Z + o->L;
    size_t units = 0, fan_in = d->n_in;
    o->maxw = d->n_in;
    for (size_t l = 0; l < o->L; l++) {
        size_t out = d->layers[l].n_out;
        o->nin[l] = fan_in;
        o->nout[l] = out;
        o->zoff[l] = units;
        units += out; /* cannot overflow: validated parameter count exceeds it */
        if (out > o->maxw)
            o->maxw = out;
        for (size_t v = 0; v < net->n_views; v++) {
            const ga_view *vw = &net->views[v];
            if (vw->layer != l)
                continue;
            if (vw->is_bias)
                o->boff[l] = vw->offset;
            else
                o->woff[l] = vw->offset;
        }
        if (d->layout == GA_LAYOUT_COLUMN)
            o->wk[l] = fan_in, o->wj[l] = 1; /* W (out, in) */
        else
            o->wk[l] = 1, o->wj[l] = out;    /* W (in, out) */
        fan_in = out;
    }
    size_t n_x = B * d->n_in, n_units, n_delta = 0, n_g = 0, n_dx = 0;
    if (!ga_size_mul(&n_units, units, B) || (with_grad && !ga_size_mul(&n_delta, o->maxw, 2 * B))) {
        orc_free(o);
        return ga_fail(err, GA_ERANGE, "oracle: batch %zu times the layer widths overflows", B);
    }
    if (with_grad)
        n_g = o->n_params;
    if (with_dx)
        n_dx = n_x;
    size_t n_work = o->n_params + n_x;
    int ok = ga_size_add(&n_work, n_work, 2 * n_units) &&
             (!with_snapshot || ga_size_add(&n_work, n_work, 2 * n_units)) && ga_size_add(&n_work, n_work, n_delta) &&
             ga_size_add(&n_work, n_work, n_g) &&
             ga_size_add(&n_work, n_work, n_dx) && ga_size_add(&n_work, n_work, NTMP) &&
             !(2 * n_units < n_units);
    size_t n_all = 0, bytes = 0;
    ok = ok && ga_size_add(&n_all, 0, n_work) && ga_size_add(&n_all, n_all, n_extra) &&
         mpfr_bytes(&bytes, n_all, prec + GAP);
    if (!ok) {
        orc_free(o);
        return ga_fail(err, GA_ERANGE, "oracle: the number of MPFR variables overflows");
    }
    if (bytes > GA_DEFAULT_MEMORY_CAP) {
        orc_free(o);
        return ga_fail(err, GA_ENOMEM, "oracle: %zu MPFR variables of %ld bits need %zu bytes, over the memory cap of %zu",
                       n_all, prec + GAP, bytes, (size_t)GA_DEFAULT_MEMORY_CAP);
    }
    /* the magnitudes: fewer than the MPFR variables, each smaller than one */
    size_t n_mag = 2 * n_units + n_delta + n_g + n_dx;
    o->all = malloc(n_all * sizeof *o->all);
    o->mz = malloc((n_mag ? n_mag : 1) * sizeof *o->mz);
    if (with_sign)
        o->sign = malloc(n_units ? n_units : 1);
    if (with_dirs)
        o->zd = malloc(n_mag ? n_mag : 1); /* one dir per magnitude */
    if (!o->all || !o->mz || (with_sign && !o->sign) || (with_dirs && !o->zd)) {
        orc_free(o);
        return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu MPFR variables", n_all);
    }
    o->n_all = n_all;
    o->n_extra = n_extra;
    o->n_work = n_work;
    slab_fit(o, prec + GAP); /* room for the first step's p + GAP */
    for (size_t i = n_work; i < n_all; i++)
        mpfr_init2(o->all[i], prec + GAP);
    o->P = o->all;
    o->X = o->P + o->n_params;
    mpfr_t *w = o->X + n_x;
    for (size_t l = 0; l < o->L; l++) {
        o->Z[l] = w;
        w += B * o->nout[l];
        o->A[l] = w;
        w += B * o->nout[l];
    }
    if (with_grad) {
        o->D = w;
        w += B * o->maxw;
        o->Dp = w;
        w += B * o->maxw;
        o->G = w;
        w += n_g;
    }
    if (with_dx) {
        o->DX = w;
        w += n_dx;
    }
    if (with_snapshot) {
        o->S = w;
        w += 2 * n_units;
    }
    o->n_units = n_units;
    o->ma = o->mz + n_units;
    mag_t *mw = o->ma + n_units;
    if (with_grad) {
        o->md = mw;
        mw += B * o->maxw;
        o->mdp = mw;
        mw += B * o->maxw;
        o->mg = mw;
        mw += n_g;
    }
    if (with_dx)
        o->mdx = mw;
    if (o->zd) { /* one direction per magnitude, at the same place */
        o->ad = o->zd + (o->ma - o->mz);
        o->dd = with_grad ? o->zd + (o->md - o->mz) : NULL;
        o->ddp = with_grad ? o->zd + (o->mdp - o->mz) : NULL;
        o->gd = with_grad ? o->zd + (o->mg - o->mz) : NULL;
        o->dxd = with_dx ? o->zd + (o->mdx - o->mz) : NULL;
    }
    o->depth = mag_depth(o, B);
    o->T = w;
    w += NTMP;
    o->E = w;
    o->params = params;
    o->x = x;
    return GA_OK;
}

/* Working precision of the working set; parameters and inputs are converted
 * again, exactly (prec >= 53 holds a double), other values are lost. All
 * operands at one precision keep MPFR on its fast paths. */
static void orc_set_prec(orc *o, long prec)
{
    slab_fit(o, prec);
    for (size_t i = 0; i < o->n_params; i++)
        mpfr_set_d(o->P[i], o->params[i], MPFR_RNDN);
    for (size_t i = 0; i < o->B * o->n_in; i++)
        mpfr_set_d(o->X[i], o->x[i], MPFR_RNDN);
    o->fd_base_prec = 0;
}

/* ---- what is known of a computed value against the exact one ------------
 *
 * MPFR's ternary value tells on which side of the exact result of one
 * operation its rounded result lies. Carried along a pass (with_dirs), it
 * tells for each value v_c of the pass where it lies against the exact value
 * v_e of the same formula on the exact inputs (ga_oracle.h, GA_DIR_*):
 *   EXACT    v_c = v_e: every operation leading to v was exact, or a factor
 *            was an exact 0 (0 times a rounded value is exactly 0);
 *   BELOW    v_c < v_e;  ABOVE  v_c > v_e (strictly);  UNKNOWN  anything.
 * Rules, each sound on its own (UNKNOWN whenever none applies):
 *   a + b, a - b: the operands' directions (b's negated for -) and the
 *            rounding's (the ternary) agree where they are not EXACT;
 *   a c with c exact: a's direction times sign(c), then the rounding's; two
 *            inexact factors: UNKNOWN;
 *   f strictly increasing (exp, tanh, sigmoid, relu above 0, leaky_relu
 *            and elu with a positive parameter): the argument's direction,
 *            then the roundings'; decreasing (-x, 1/x on x > 0): negated;
 *   a result at an end of f's open range (sigmoid 0 or 1, tanh -1 or 1,
 *            softplus 0: e^-z fell below the last bit or below MPFR's
 *            exponent range): the exact value lies strictly inside;
 *   r = a - y with y exact and the exact a > 0 (a sigmoid) when a was lost
 *            whole (r = -y): the exact r is above r;
 *   one-unit softmax is the constant 1 and its derivative 0, exactly.
 * An EXACT result settles with error 0, rounded to nearest with ties to even
 * as IEEE rounds; a strict one settles on its side of a rounding boundary it
 * lies on (ga_oracle_settle_dir). The branch of f' at a piecewise unit is
 * taken as right: where its sign is not proven no gradient entry settles
 * (mag_kink_unsure). */

static int dir_tern(int t)
{
    return (t > 0) - (t < 0);
}

static int dir_join(int a, int b)
{
    return a == GA_DIR_EXACT ? b : b == GA_DIR_EXACT || b == a ? a : GA_DIR_UNKNOWN;
}

static int dir_neg(int d)
{
    return d == GA_DIR_UNKNOWN ? d : -d;
}

/* d times an exact factor of sign s */
static int dir_scale(int d, int s)
{
    return d == GA_DIR_UNKNOWN || s > 0 ? d : s < 0 ? -d : GA_DIR_EXACT;
}

/* -1, 0 or 1 without MPFR's erange flag (a NaN counts as nonzero) */
static int sign_of(mpfr_srcptr a)
{
    return mpfr_zero_p(a) ? 0 : mpfr_signbit(a) ? -1 : 1;
}

/* r = a b (r may alias a or b); returns r's direction */
static int mul_dir(mpfr_ptr r, mpfr_srcptr a, int da, mpfr_srcptr b, int db)
{
    int sa = sign_of(a), sb = sign_of(b);
    int t = mpfr_mul(r, a, b, MPFR_RNDN);
    if ((da == GA_DIR_EXACT && sa == 0) || (db == GA_DIR_EXACT && sb == 0))
        return GA_DIR_EXACT;
    if (db == GA_DIR_EXACT)
        return dir_join(dir_scale(da, sb), dir_tern(t));
    if (da == GA_DIR_EXACT)
        return dir_join(dir_scale(db, sa), dir_tern(t));
    return GA_DIR_UNKNOWN;
}

/* r = a c for an exact double c */
static int mul_d_dir(mpfr_ptr r, mpfr_srcptr a, int da, double c)
{
    int sa = sign_of(a), t = mpfr_mul_d(r, a, c, MPFR_RNDN);
    if (c == 0 || (da == GA_DIR_EXACT && sa == 0))
        return GA_DIR_EXACT;
    return dir_join(dir_scale(da, c > 0 ? 1 : -1), dir_tern(t));
}

/* r = a / b (r may alias a) for b > 0 exactly and as computed */
static int div_dir(mpfr_ptr r, mpfr_srcptr a, int da, mpfr_srcptr b, int db)
{
    int sa = sign_of(a), sb = sign_of(b);
    int t = mpfr_div(r, a, b, MPFR_RNDN);
    if (da == GA_DIR_EXACT && sa == 0 && sb != 0)
        return GA_DIR_EXACT;
    if (db == GA_DIR_EXACT)
        return dir_join(dir_scale(da, sb), dir_tern(t));
    if (da == GA_DIR_EXACT) /* a / b decreases in b > 0 for a > 0 */
        return dir_join(dir_scale(dir_neg(db), sa), dir_tern(t));
    return GA_DIR_UNKNOWN;
}

static int add_dir(mpfr_ptr r, mpfr_srcptr a, int da, mpfr_srcptr b, int db)
{
    return dir_join(dir_join(da, db), dir_tern(mpfr_add(r, a, b, MPFR_RNDN)));
}

/* r += a b with r's direction dr, t scratch: once dr is UNKNOWN it stays
 * so, and the sum is formed without the bookkeeping (the passes' inner
 * loops) */
static inline int fma_dir(mpfr_ptr r, int dr, mpfr_srcptr a, int da, mpfr_srcptr b, int db,
                          mpfr_ptr t)
{
    if (dr == GA_DIR_UNKNOWN) {
        mpfr_mul(t, a, b, MPFR_RNDN);
        mpfr_add(r, r, t, MPFR_RNDN);
        return dr;
    }
    int dt = mul_dir(t, a, da, b, db);
    return add_dir(r, r, dr, t, dt);
}

/* r = r / N in place, N >= 1 */
static int div_n_dir(mpfr_ptr r, int d, unsigned long N)
{
    return N == 1 ? d : dir_join(d, dir_tern(mpfr_div_ui(r, r, N, MPFR_RNDN)));
}

/* r = a - y for the exact y and an a whose exact value is > 0 */
static int pos_minus_y_dir(mpfr_ptr r, mpfr_srcptr a, int da, double y)
{
    int t = mpfr_sub_d(r, a, y, MPFR_RNDN);
    if (!mpfr_nan_p(r) && mpfr_cmp_d(r, -y) == 0)
        return GA_DIR_BELOW; /* a lost whole: the exact a - y exceeds -y */
    return dir_join(da, dir_tern(t));
}

/* d, or the direction an end of f's open range (lo, hi) implies for a */
static int range_dir(mpfr_srcptr a, int lo, int hi, int d)
{
    if (mpfr_nan_p(a))
        return d;
    if (mpfr_cmp_si(a, hi) == 0)
        return GA_DIR_ABOVE;
    if (mpfr_cmp_si(a, lo) == 0)
        return GA_DIR_BELOW;
    return d;
}

/* ---- forward pass -------------------------------------------------------- */

/* r = softplus(s z) for s = +1 or -1: max(s z, 0) + log1p(exp(-|z|)); t
 * scratch. Returns nonzero when some operation rounded (MPFR's ternary
 * values, or'ed), as do sigmoid_mp and act_elementwise. */
static int softplus_signed(mpfr_ptr r, mpfr_srcptr z, int s, mpfr_ptr t)
{
    mpfr_abs(t, z, MPFR_RNDN);
    mpfr_neg(t, t, MPFR_RNDN);
    int inex = mpfr_exp(t, t, MPFR_RNDN);
    inex |= mpfr_log1p(t, t, MPFR_RNDN);
    if (mpfr_sgn(z) * s > 0) {
        if (s > 0)
            inex |= mpfr_add(r, t, z, MPFR_RNDN);
        else
            inex |= mpfr_sub(r, t, z, MPFR_RNDN);
    } else {
        inex |= mpfr_set(r, t, MPFR_RNDN);
    }
    return inex;
}

/* r = 1/(1+exp(-z)); r may alias nothing else; t scratch. Returns r's
 * direction from z's, dz: increasing, of range (0, 1). */
static int sigmoid_mp(mpfr_ptr r, mpfr_srcptr z, int dz, mpfr_ptr t)
{
    mpfr_neg(t, z, MPFR_RNDN);
    int d = dir_join(dir_neg(dz), dir_tern(mpfr_exp(t, t, MPFR_RNDN)));
    d = dir_join(d, dir_tern(mpfr_add_ui(t, t, 1, MPFR_RNDN)));
    d = dir_join(dir_neg(d), dir_tern(mpfr_ui_div(r, 1, t, MPFR_RNDN))); /* 1/t, t >= 1 */
    return range_dir(r, 0, 1, d);
}

/* z[:, k0:k1] = W in + b for layer l, in (B, nin[l]): the units k0 <= k < k1.
 * With o->zd, also each z's direction: a weight of 0 makes its term exactly
 * 0 whatever the input (zero weights put z exactly at a kink). */
static void layer_affine(orc *o, size_t l, mpfr_t *in, size_t k0, size_t k1)
{
    size_t nin = o->nin[l], nout = o->nout[l], wk = o->wk[l], wj = o->wj[l];
    mpfr_t *Z = o->Z[l], *P = o->P;
    mpfr_ptr t = o->T[T_PROD];
    signed char *zd = o->zd ? o->zd + o->B * o->zoff[l] : NULL;
    const signed char *din = o->zd && l ? o->ad + o->B * o->zoff[l - 1] : NULL; /* x: exact */
    for (size_t n = 0; n < o->B; n++) {
        mpfr_t *xr = in + n * nin;
        for (size_t k = k0; k < k1; k++) {
            mpfr_ptr z = Z[n * nout + k];
            mpfr_t *w = P + o->woff[l] + k * wk;
            /* without directions (route (a)) as with an UNKNOWN one */
            int d = zd ? GA_DIR_EXACT : GA_DIR_UNKNOWN;
            mpfr_set(z, P[o->boff[l] + k], MPFR_RNDN);
            for (size_t j = 0; j < nin; j++)
                d = fma_dir(z, d, xr[j], din ? din[n * nin + j] : GA_DIR_EXACT, w[j * wj],
                            GA_DIR_EXACT, t);
            if (zd)
                zd[n * nout + k] = (signed char)d;
        }
    }
}

/* a = f(z) of an elementwise activation; t scratch. Returns a's direction
 * from z's, dz. */
static int act_elementwise(mpfr_ptr a, mpfr_srcptr z, int dz, const ga_layer_desc *ld, mpfr_ptr t)
{
    double c = ld->act_param;
    int d;
    switch (ld->act) {
    case GA_ACT_IDENTITY: /* f(z) = z */
        return dir_join(dz, dir_tern(mpfr_set(a, z, MPFR_RNDN)));
    case GA_ACT_SIGMOID: /* f(z) = 1/(1+exp(-z)) */
        return sigmoid_mp(a, z, dz, t);
    case GA_ACT_TANH: /* increasing, of range (-1, 1) */
        return range_dir(a, -1, 1, dir_join(dz, dir_tern(mpfr_tanh(a, z, MPFR_RNDN))));
    case GA_ACT_RELU: /* max(z, 0) */
        if (mpfr_sgn(z) > 0)
            return dir_join(dz, dir_tern(mpfr_set(a, z, MPFR_RNDN)));
        mpfr_set_zero(a, 1); /* exactly 0 when the exact z <= z <= 0; else see layer_act */
        return dz == GA_DIR_EXACT || dz == GA_DIR_ABOVE ? GA_DIR_EXACT : GA_DIR_UNKNOWN;
    case GA_ACT_LEAKY_RELU: /* z > 0 ? z : slope z */
        if (mpfr_sgn(z) > 0)
            d = dir_join(dz, dir_tern(mpfr_set(a, z, MPFR_RNDN)));
        else
            d = mul_d_dir(a, z, dz, c);
        return c > 0 || dz == GA_DIR_EXACT ? d : GA_DIR_UNKNOWN; /* increasing for c > 0 */
    case GA_ACT_ELU: /* z > 0 ? z : alpha (exp(z) - 1) */
        if (mpfr_sgn(z) > 0) {
            d = dir_join(dz, dir_tern(mpfr_set(a, z, MPFR_RNDN)));
        } else {
            d = dir_join(dz, dir_tern(mpfr_expm1(t, z, MPFR_RNDN)));
            d = mul_d_dir(a, t, d, c);
        }
        return c > 0 || dz == GA_DIR_EXACT ? d : GA_DIR_UNKNOWN; /* increasing for c > 0 */
    case GA_ACT_SOFTPLUS: /* log(1 + exp(z)), of range (0, inf) */
        d = softplus_signed(a, z, 1, t) || dz != GA_DIR_EXACT ? GA_DIR_UNKNOWN : GA_DIR_EXACT;
        return mpfr_zero_p(a) ? GA_DIR_BELOW : d;
    default: /* no tuned pass: the generic formula, its rounding's side unknown */
        ga_refmp_act(a, NULL, ld->act, c, z);
        return GA_DIR_UNKNOWN;
    }
}

/* a[:, k0:k1] = f(z[:, k0:k1]) for layer l; softmax, whose units share one
 * normaliser, always does the whole layer */
static void layer_act(orc *o, size_t l, size_t k0, size_t k1)
{
    const ga_layer_desc *ld = &o->net->desc.layers[l];
    size_t nout = o->nout[l];
    mpfr_t *Z = o->Z[l], *A = o->A[l];
    mpfr_ptr t = o->T[T_T], u = o->T[T_U];
    const signed char *zd = o->zd ? o->zd + o->B * o->zoff[l] : NULL;
    signed char *ad = o->zd ? o->ad + o->B * o->zoff[l] : NULL;
    if (ld->act != GA_ACT_SOFTMAX) {
        for (size_t n = 0; n < o->B; n++)
            for (size_t k = k0; k < k1; k++) {
                size_t e = n * nout + k;
                int d = act_elementwise(A[e], Z[e], zd ? zd[e] : GA_DIR_UNKNOWN, ld, t);
                if (ad && d != GA_DIR_EXACT && ld->act == GA_ACT_RELU && mpfr_zero_p(A[e])) {
                    d = GA_DIR_EXACT; /* relu(z) = 0 exactly if z < 0: to be proven */
                    o->branch_assumed = 1;
                }
                if (ad)
                    ad[e] = (signed char)d;
            }
        return;
    }
    /* softmax: exp(z_k - max z) / sum_j exp(z_j - max z), per sample */
    for (size_t n = 0; n < o->B; n++) {
        mpfr_t *z = Z + n * nout, *a = A + n * nout;
        int inex = 0;
        mpfr_set(t, z[0], MPFR_RNDN);
        for (size_t k = 1; k < nout; k++)
            mpfr_max(t, t, z[k], MPFR_RNDN);
        mpfr_set_zero(u, 1);
        for (size_t k = 0; k < nout; k++) {
            inex |= mpfr_sub(a[k], z[k], t, MPFR_RNDN);
            inex |= mpfr_exp(a[k], a[k], MPFR_RNDN);
            inex |= mpfr_add(u, u, a[k], MPFR_RNDN);
        }
        for (size_t k = 0; k < nout; k++)
            inex |= mpfr_div(a[k], a[k], u, MPFR_RNDN);
        if (ad) { /* one unit: exp(z - z) / exp(z - z) = 1 whatever z */
            int exact = !inex || nout == 1;
            for (size_t j = 0; j < nout && nout > 1; j++)
                exact &= zd[n * nout + j] == GA_DIR_EXACT;
            for (size_t k = 0; k < nout; k++)
                ad[n * nout + k] = exact ? GA_DIR_EXACT : GA_DIR_UNKNOWN;
        }
    }
}

/* T_S = scale, T_LAM = lambda and o->N, the divisor of the description's
 * reduction. The passes divide by N last (the loss, each gradient entry
 * before weight decay, dL/dx), not through a rounded scale / N first: a
 * mean over 3 samples whose exact value is a tie (or any double) is then
 * reached exactly, by one division that MPFR says is exact. */
static void orc_constants(orc *o)
{
    const ga_loss_desc *ls = &o->net->desc.loss;
    unsigned long N = 1;
    if (ls->reduction == GA_REDUCE_MEAN)
        N = (unsigned long)(o->B * o->n_out);
    else if (ls->reduction == GA_REDUCE_BATCH_MEAN)
        N = (unsigned long)o->B;
    mpfr_set_d(o->T[T_S], ls->scale, MPFR_RNDN);
    mpfr_set_d(o->T[T_LAM], ls->weight_decay, MPFR_RNDN);
    o->N = N;
    o->branch_assumed = 0; /* a pass follows */
}

/* log sum_k exp(z_k) of a row (n), into r; t, u scratch. Returns nonzero
 * when some operation rounded. */
static int logsumexp(mpfr_ptr r, mpfr_t *z, size_t n, mpfr_ptr t, mpfr_ptr u)
{
    mpfr_set(r, z[0], MPFR_RNDN);
    for (size_t k = 1; k < n; k++)
        mpfr_max(r, r, z[k], MPFR_RNDN);
    mpfr_set_zero(u, 1);
    int inex = 0;
    for (size_t k = 0; k < n; k++) {
        inex |= mpfr_sub(t, z[k], r, MPFR_RNDN);
        inex |= mpfr_exp(t, t, MPFR_RNDN);
        inex |= mpfr_add(u, u, t, MPFR_RNDN);
    }
    inex |= mpfr_log(u, u, MPFR_RNDN);
    return inex | mpfr_add(r, r, u, MPFR_RNDN);
}

/* 1 when z (and with_a, a) of every unit of layer l's sample row n were
 * exact */
static int row_exact_za(const orc *o, size_t l, size_t n, int with_a)
{
    size_t nout = o->nout[l], off = o->B * o->zoff[l] + n * nout;
    for (size_t k = 0; k < nout; k++)
        if (o->zd[off + k] != GA_DIR_EXACT || (with_a && o->ad[off + k] != GA_DIR_EXACT))
            return 0;
    return 1;
}

static int row_exact(const orc *o, size_t l, size_t n)
{
    return row_exact_za(o, l, n, 1);
}

/* The direction of w = logsumexp(z) of a row of m > 1 exact z (logsumexp
 * rounded inex): exactly, lse > max z; so a w that came out equal to a z
 * (the log of the sum lost whole) lies below it. Else EXACT when nothing
 * rounded, UNKNOWN when something did. */
static int lse_dir(mpfr_srcptr w, mpfr_t *z, size_t m, int z_exact, int inex)
{
    if (!z_exact)
        return GA_DIR_UNKNOWN;
    for (size_t k = 0; k < m && m > 1; k++)
        if (mpfr_equal_p(w, z[k]))
            return GA_DIR_BELOW;
    return inex ? GA_DIR_UNKNOWN : GA_DIR_EXACT;
}

static void orc_loss(orc *o);

/* Forward pass from layer l0 on (the layers below must hold the values of
 * the current parameters), and the loss into T[T_LOSS]. orc_constants must
 * have run. */
static void orc_forward_from(orc *o, size_t l0)
{
    for (size_t l = l0; l < o->L; l++) {
        layer_affine(o, l, l == 0 ? o->X : o->A[l - 1], 0, o->nout[l]);
        layer_act(o, l, 0, o->nout[l]);
    }
    orc_loss(o);
}

/* Forward pass and loss into T[T_LOSS]. orc_constants must have run. */
static void orc_forward(orc *o)
{
    orc_forward_from(o, 0);
}

/* The loss of the output layer's z and a into T[T_LOSS]. */
static void orc_loss(orc *o)
{
    const ga_loss_desc *ls = &o->net->desc.loss;
    size_t m = o->n_out, nb = o->B * m;
    mpfr_t *Z = o->Z[o->L - 1], *A = o->A[o->L - 1];
    const double *y = o->y;
    mpfr_ptr acc = o->T[T_ACC], t = o->T[T_T], u = o->T[T_U], v = o->T[T_V], w = o->T[T_W];
    mpfr_set_zero(acc, 1);
    /* the direction of acc (with o->zd): MSE's sum follows its terms when
     * they are exact; the others are EXACT when every input and operation
     * was, else UNKNOWN */
    int d = GA_DIR_EXACT, inex = 0, exact_in = o->zd != NULL;
    switch (ls->kind) {
    case GA_LOSS_MSE: /* (a - y)^2 */
        for (size_t e = 0; e < nb; e++) {
            int dt = dir_tern(mpfr_sub_d(t, A[e], y[e], MPFR_RNDN));
            if (o->zd)
                dt = dir_join(o->ad[o->B * o->zoff[o->L - 1] + e], dt);
            int tf = mpfr_fma(acc, t, t, acc, MPFR_RNDN); /* increasing in acc */
            d = dt == GA_DIR_EXACT ? dir_join(d, dir_tern(tf)) : GA_DIR_UNKNOWN;
        }
        exact_in = 0;
        break;
    case GA_LOSS_BCE: /* y softplus(-z) + (1-y) softplus(z), a = sigmoid(z) */
        for (size_t e = 0; e < nb; e++) {
            if (y[e] != 0) {
                inex |= softplus_signed(u, Z[e], -1, t);
                inex |= mpfr_mul_d(u, u, y[e], MPFR_RNDN);
                inex |= mpfr_add(acc, acc, u, MPFR_RNDN);
            }
            if (y[e] != 1) {
                inex |= softplus_signed(u, Z[e], 1, t);
                mpfr_set_d(v, y[e], MPFR_RNDN);
                inex |= mpfr_ui_sub(v, 1, v, MPFR_RNDN);
                inex |= mpfr_fma(acc, u, v, acc, MPFR_RNDN);
            }
        }
        break;
    case GA_LOSS_BCE_LOGITS: /* softplus(z) - z y */
        for (size_t e = 0; e < nb; e++) {
            inex |= softplus_signed(u, Z[e], 1, t);
            inex |= mpfr_mul_d(v, Z[e], y[e], MPFR_RNDN);
            inex |= mpfr_sub(u, u, v, MPFR_RNDN);
            inex |= mpfr_add(acc, acc, u, MPFR_RNDN);
        }
        break;
    case GA_LOSS_SOFTMAX_CE: /* sum_k y_k (lse(z) - z_k); for cce z is the softmax's input */
    case GA_LOSS_CCE: /* the direction from lse's (lse_dir) through the exact z and y */
        for (size_t n = 0; n < o->B; n++) {
            int lx = logsumexp(w, Z + n * m, m, t, u);
            int zx = o->zd && row_exact_za(o, o->L - 1, n, 0);
            int dw = lse_dir(w, Z + n * m, m, zx, lx);
            for (size_t k = 0; k < m; k++) {
                double yk = y[n * m + k];
                if (yk == 0)
                    continue;
                int dt = dir_join(dw, dir_tern(mpfr_sub(t, w, Z[n * m + k], MPFR_RNDN)));
                dt = mul_d_dir(t, t, dt, yk);
                d = add_dir(acc, acc, d, t, dt);
            }
        }
        if (!o->zd)
            d = GA_DIR_UNKNOWN;
        exact_in = 0;
        break;
    default:
        break;
    }
    if (exact_in)
        for (size_t n = 0; n < o->B; n++)
            exact_in &= row_exact(o, o->L - 1, n);
    if (ls->kind == GA_LOSS_BCE || ls->kind == GA_LOSS_BCE_LOGITS || !o->zd)
        d = exact_in && !inex ? GA_DIR_EXACT : GA_DIR_UNKNOWN;
    d = mul_dir(o->T[T_LOSS], acc, d, o->T[T_S], GA_DIR_EXACT);
    d = div_n_dir(o->T[T_LOSS], d, o->N);
    if (ls->weight_decay != 0) { /* + lambda/2 sum W^2: W and lambda exact */
        int dw = GA_DIR_EXACT;
        mpfr_set_zero(acc, 1);
        for (size_t l = 0; l < o->L; l++) {
            size_t nw = o->nin[l] * o->nout[l];
            mpfr_t *W = o->P + o->woff[l];
            for (size_t i = 0; i < nw; i++)
                dw = dir_join(dw, dir_tern(mpfr_fma(acc, W[i], W[i], acc, MPFR_RNDN)));
        }
        dw = mul_dir(acc, acc, dw, o->T[T_LAM], GA_DIR_EXACT);
        dw = dir_join(dw, dir_tern(mpfr_div_2ui(acc, acc, 1, MPFR_RNDN)));
        d = add_dir(o->T[T_LOSS], o->T[T_LOSS], d, acc, dw);
    }
    o->lossd = d;
}

/* ---- reverse pass -------------------------------------------------------- */

/* D (B, nout[l]): dL/da -> dL/dz through f of layer l, and their directions
 * o->dd. The branch of f' at a piecewise unit follows the computed sign of
 * z, taken as right (no gradient entry settles where it is not proven,
 * mag_kink_unsure), except for elu with alpha = 1, whose sign is not checked
 * (its f' = min(1, exp(z)) is continuous): there f' is known only on the
 * side of 0 that z's direction keeps it on. */
static void layer_act_backward(orc *o, size_t l)
{
    const ga_layer_desc *ld = &o->net->desc.layers[l];
    size_t nout = o->nout[l], m = o->B * nout;
    mpfr_t *Z = o->Z[l], *A = o->A[l], *D = o->D;
    const signed char *zd = o->zd + o->B * o->zoff[l], *ad = o->ad + o->B * o->zoff[l];
    signed char *dd = o->dd;
    mpfr_ptr t = o->T[T_T];
    double c = ld->act_param;
    int dt;
    switch (ld->act) {
    case GA_ACT_IDENTITY:
        break;
    case GA_ACT_SIGMOID: /* f' = a (1 - a) */
        for (size_t e = 0; e < m; e++) {
            dt = dir_join(dir_neg(ad[e]), dir_tern(mpfr_ui_sub(t, 1, A[e], MPFR_RNDN)));
            dt = mul_dir(t, t, dt, A[e], ad[e]);
            dd[e] = (signed char)mul_dir(D[e], D[e], dd[e], t, dt);
        }
        break;
    case GA_ACT_TANH: /* f' = sech(z)^2 (no cancellation, unlike 1 - a^2) */
        for (size_t e = 0; e < m; e++) {
            int inex = mpfr_sech(t, Z[e], MPFR_RNDN);
            inex |= mpfr_sqr(t, t, MPFR_RNDN);
            dt = zd[e] == GA_DIR_EXACT && !inex ? GA_DIR_EXACT : GA_DIR_UNKNOWN;
            dd[e] = (signed char)mul_dir(D[e], D[e], dd[e], t, dt);
        }
        break;
    case GA_ACT_RELU: /* f' = [z > 0] */
        for (size_t e = 0; e < m; e++)
            if (mpfr_sgn(Z[e]) <= 0) {
                mpfr_set_zero(D[e], 1);
                dd[e] = GA_DIR_EXACT;
            }
        break;
    case GA_ACT_LEAKY_RELU: /* f' = z > 0 ? 1 : slope */
        for (size_t e = 0; e < m; e++)
            if (mpfr_sgn(Z[e]) <= 0)
                dd[e] = (signed char)mul_d_dir(D[e], D[e], dd[e], c);
        break;
    case GA_ACT_ELU: /* f' = z > 0 ? 1 : alpha exp(z) */
        for (size_t e = 0; e < m; e++) {
            int s = mpfr_sgn(Z[e]), d_zero = dd[e] == GA_DIR_EXACT && mpfr_zero_p(D[e]);
            if (s <= 0) {
                dt = dir_join(zd[e], dir_tern(mpfr_exp(t, Z[e], MPFR_RNDN)));
                dt = mul_d_dir(t, t, dt, c);
                dd[e] = (signed char)mul_dir(D[e], D[e], dd[e], t, dt);
            }
            if (c == 1 && zd[e] != GA_DIR_EXACT && !d_zero &&
                (s == 0 || (s > 0 && zd[e] != GA_DIR_BELOW)))
                dd[e] = GA_DIR_UNKNOWN; /* the exact z may lie on the other side */
        }
        break;
    case GA_ACT_SOFTPLUS: /* f' = sigmoid(z) = 1/(1+exp(-z)) */
        for (size_t e = 0; e < m; e++) {
            mpfr_neg(t, Z[e], MPFR_RNDN);
            dt = dir_join(dir_neg(zd[e]), dir_tern(mpfr_exp(t, t, MPFR_RNDN)));
            dt = dir_join(dt, dir_tern(mpfr_add_ui(t, t, 1, MPFR_RNDN)));
            dd[e] = (signed char)div_dir(D[e], D[e], dd[e], t, dt);
        }
        break;
    case GA_ACT_SOFTMAX: /* dz_k = a_k (da_k - sum_j a_j da_j) */
        for (size_t n = 0; n < o->B; n++) {
            mpfr_t *a = A + n * nout, *d = D + n * nout;
            signed char *ddn = dd + n * nout;
            if (nout == 1) { /* the constant 1: dz = 0 exactly */
                mpfr_set_zero(d[0], 1);
                ddn[0] = GA_DIR_EXACT;
                continue;
            }
            int exact = row_exact(o, l, n), inex = 0;
            for (size_t k = 0; k < nout; k++)
                exact &= ddn[k] == GA_DIR_EXACT;
            mpfr_set_zero(t, 1);
            for (size_t k = 0; k < nout; k++)
                inex |= mpfr_fma(t, a[k], d[k], t, MPFR_RNDN);
            for (size_t k = 0; k < nout; k++) {
                inex |= mpfr_sub(d[k], d[k], t, MPFR_RNDN);
                inex |= mpfr_mul(d[k], d[k], a[k], MPFR_RNDN);
            }
            for (size_t k = 0; k < nout; k++)
                ddn[k] = exact && !inex ? GA_DIR_EXACT : GA_DIR_UNKNOWN;
        }
        break;
    default: /* no tuned pass: f' by the generic formula */
        for (size_t e = 0; e < m; e++) {
            ga_refmp_act(NULL, t, ld->act, c, Z[e]);
            dd[e] = (signed char)mul_dir(D[e], D[e], dd[e], t, GA_DIR_UNKNOWN);
        }
        break;
    }
}

/* After orc_forward: G = dL/dtheta, DX = dL/dx when allocated, and their
 * directions (o->gd, o->dxd). Returns the output layer's D set by the loss.
 * s is the loss's scale; every delta is N times dL/dz until each result is
 * divided by the reduction's N (orc_constants). */
static void orc_backward(orc *o)
{
    const ga_loss_desc *ls = &o->net->desc.loss;
    size_t L = o->L, m = o->n_out, nb = o->B * m;
    mpfr_t *Z = o->Z[L - 1], *A = o->A[L - 1], *D = o->D;
    const signed char *zd = o->zd + o->B * o->zoff[L - 1], *ad = o->ad + o->B * o->zoff[L - 1];
    signed char *dd = o->dd;
    const double *y = o->y;
    mpfr_ptr s = o->T[T_S], t = o->T[T_T], u = o->T[T_U], v = o->T[T_V], w = o->T[T_W];
    int fused = 1; /* the loss gives dL/dz of the output layer directly */
    switch (ls->kind) {
    case GA_LOSS_MSE: /* dL/da = 2 s (a - y) */
        for (size_t e = 0; e < nb; e++) {
            int d = dir_join(ad[e], dir_tern(mpfr_sub_d(D[e], A[e], y[e], MPFR_RNDN)));
            d = mul_dir(D[e], D[e], d, s, GA_DIR_EXACT);
            dd[e] = (signed char)dir_join(d, dir_tern(mpfr_mul_2ui(D[e], D[e], 1, MPFR_RNDN)));
        }
        fused = 0;
        break;
    case GA_LOSS_BCE: /* dL/dz = s (sigmoid(z) - y) */
        for (size_t e = 0; e < nb; e++) {
            int d = pos_minus_y_dir(D[e], A[e], ad[e], y[e]);
            dd[e] = (signed char)mul_dir(D[e], D[e], d, s, GA_DIR_EXACT);
        }
        break;
    case GA_LOSS_BCE_LOGITS: /* dL/dz = s (sigmoid(z) - y) */
        for (size_t e = 0; e < nb; e++) {
            int d = sigmoid_mp(u, Z[e], zd[e], t);
            d = pos_minus_y_dir(D[e], u, d, y[e]);
            dd[e] = (signed char)mul_dir(D[e], D[e], d, s, GA_DIR_EXACT);
        }
        break;
    case GA_LOSS_SOFTMAX_CE: /* dL/dz_k = s (softmax(z)_k sum_j y_j - y_k) */
    case GA_LOSS_CCE:
        for (size_t n = 0; n < o->B; n++) {
            mpfr_t *z = Z + n * m, *d = D + n * m;
            logsumexp(w, z, m, t, u);
            int dv = GA_DIR_EXACT; /* v = sum_j y_j, of exact terms */
            mpfr_set_zero(v, 1);
            for (size_t k = 0; k < m; k++)
                dv = dir_join(dv, dir_tern(mpfr_add_d(v, v, y[n * m + k], MPFR_RNDN)));
            for (size_t k = 0; k < m; k++) {
                /* p_k = exp(z_k - lse): exactly in (0, 1) for m > 1, whatever the
                 * errors of z, so its ends tell its side (a saturated logit) */
                mpfr_sub(t, z[k], w, MPFR_RNDN);
                mpfr_exp(t, t, MPFR_RNDN);
                int dk = mul_dir(t, t, range_dir(t, 0, 1, GA_DIR_UNKNOWN), v, dv);
                if (dv == GA_DIR_EXACT && mpfr_sgn(v) > 0) /* the exact p_k v > 0 */
                    dk = pos_minus_y_dir(t, t, dk, y[n * m + k]);
                else
                    dk = dir_join(dk, dir_tern(mpfr_sub_d(t, t, y[n * m + k], MPFR_RNDN)));
                dd[n * m + k] = (signed char)mul_dir(d[k], t, dk, s, GA_DIR_EXACT);
            }
            if (m == 1) { /* one unit: softmax(z) = 1 exactly, so d = s (y - y) = 0 */
                mpfr_set_zero(d[0], 1);
                dd[n * m] = GA_DIR_EXACT;
            }
        }
        break;
    default:
        break;
    }
    for (size_t l = L; l-- > 0;) {
        size_t nin = o->nin[l], nout = o->nout[l], wk = o->wk[l], wj = o->wj[l], B = o->B;
        if (!(l == L - 1 && fused))
            layer_act_backward(o, l);
        mpfr_t *in = l == 0 ? o->X : o->A[l - 1], *P = o->P, *G = o->G;
        const signed char *din = l == 0 ? NULL : o->ad + B * o->zoff[l - 1]; /* x: exact */
        mpfr_ptr tp = o->T[T_PROD];
        D = o->D;
        dd = o->dd;
        for (size_t k = 0; k < nout; k++) {
            size_t wrow = o->woff[l] + k * wk;
            for (size_t j = 0; j < nin; j++) { /* dW(k,j) = sum_n dz[n,k] in[n,j] + lambda W */
                size_t gi = wrow + j * wj;
                mpfr_ptr g = G[gi];
                int dg = mul_dir(g, D[k], dd[k], in[j], din ? din[j] : GA_DIR_EXACT);
                for (size_t n = 1; n < B; n++)
                    dg = fma_dir(g, dg, D[n * nout + k], dd[n * nout + k], in[n * nin + j],
                                 din ? din[n * nin + j] : GA_DIR_EXACT, tp);
                dg = div_n_dir(g, dg, o->N);
                if (ls->weight_decay != 0) /* lambda, W exact: increasing in g */
                    dg = dir_join(dg, dir_tern(mpfr_fma(g, o->T[T_LAM], P[gi], g, MPFR_RNDN)));
                o->gd[gi] = (signed char)dg;
            }
            size_t bi = o->boff[l] + k; /* db(k) = sum_n dz[n,k] */
            mpfr_ptr g = G[bi];
            int dg = dd[k];
            mpfr_set(g, D[k], MPFR_RNDN);
            for (size_t n = 1; n < B; n++)
                dg = add_dir(g, g, dg, D[n * nout + k], dd[n * nout + k]);
            o->gd[bi] = (signed char)div_n_dir(g, dg, o->N);
        }
        mpfr_t *out = l > 0 ? o->Dp : o->DX; /* da_prev[n,j] = sum_k W(k,j) dz[n,k] */
        signed char *outd = l > 0 ? o->ddp : o->dxd;
        if (!out)
            continue;
        for (size_t n = 0; n < B; n++)
            for (size_t j = 0; j < nin; j++) {
                mpfr_ptr r = out[n * nin + j];
                mpfr_t *wc = P + o->woff[l] + j * wj;
                int dr = mul_dir(r, wc[0], GA_DIR_EXACT, D[n * nout], dd[n * nout]);
                for (size_t k = 1; k < nout; k++)
                    dr = fma_dir(r, dr, wc[k * wk], GA_DIR_EXACT, D[n * nout + k],
                                 dd[n * nout + k], tp);
                outd[n * nin + j] = (signed char)(l > 0 ? dr : div_n_dir(r, dr, o->N));
            }
        if (l > 0) {
            mpfr_t *sw = o->D;
            o->D = o->Dp;
            o->Dp = sw;
            signed char *swd = o->dd;
            o->dd = o->ddp;
            o->ddp = swd;
        }
    }
}

/* ---- running error magnitudes: a proven floor under the error estimate ---
 *
 * The difference of the two precisions (ga_oracle_two_prec_error) misses an
 * error that both make alike. A term absorbed whole into a sum at p and at
 * p + GAP bits (below half an ulp of the sum at both), whose sum is later
 * cancelled, leaves both passes agreeing to the last bit on a wrong value:
 * z1 = 2^140 + 2^-40 then z2 = z1 - 2^140 gives 0 at 128 and at 160 bits
 * (test_oracle's term_absorbed_at_both_precisions; found by fuzzing). So
 * every result r also gets Higham's running error bound (Accuracy and
 * Stability of Numerical Algorithms, 2nd ed., Lemma 3.3 and section 3.1),
 * over the oracle's own operations: |r_computed - r| <= gamma_D M(r),
 * gamma_D = D u / (1 - D u), u = 2^-prec, D from mag_depth, where
 *   exact inputs (x, y, parameters):  M = |x|
 *   sums and differences:             M(a +- b) = M(a) + M(b)
 *   products:                         M(a b) = M(a) M(b)
 *   f with |f'| <= Lip on all reals:  M(f(a)) = |f(a)| + Lip M(a)
 * (the |f(a)| term carries f's own few roundings, counted in D). The
 * Lipschitz constants hold globally (sigmoid 1/4, tanh, relu, softplus,
 * logsumexp and softmax 1 in the max norm, leaky_relu and elu max(1, |c|),
 * sech^2 4/(3 sqrt 3) < 1), so the bound needs no smallness condition, with
 * one exception: softmax cross-entropy's reverse pass evaluates exp(t) at a
 * computed t = z_k - lse, whose error e moves the result by exp(t)(e^e - 1)
 * <= 2 exp(t) e only while e <= 1/4 (mexp, checked in mag_floor). The
 * derivative conventions at kinks follow the computed sign of z, as the
 * passes do; the bound covers values, not a wrong branch of f', so the
 * sign of every piecewise unit's z must be proven as well (mag_kink_unsure:
 * z exact, or farther from 0 than its error bound), or no gradient entry
 * settles (test_oracle's relu_branch_on_*).
 * M is evaluated in long double from the pass's own values; its rounding
 * and the second-order terms of gamma_D are covered by the factor 2 in
 * mag_floor. The bound is worst-case, yet on the benchmark's sigmoid nets
 * (w = 8..64, batch 32, measured once with a throwaway build) it came to at
 * most 2^-74 .. 2^-55 of an ulp of its result at 160 bits (geometric mean
 * 2^-83 .. 2^-70), near the two-precision estimate (at most 2^-67 .. 2^-62
 * of an ulp): it moved no result and no final precision there. */

/* v as a long double: mpfr_get_d, several times faster than mpfr_get_ld,
 * unless v is beyond a double's range */
static mag_t mag_get(mpfr_srcptr v)
{
    double d = mpfr_get_d(v, MPFR_RNDN);
    return isinf(d) || (d == 0 && !mpfr_zero_p(v)) ? mpfr_get_ld(v, MPFR_RNDN) : d;
}

static mag_t mag_abs(mpfr_srcptr v)
{
    return fabsl(mag_get(v));
}

/* softplus of a long double, for magnitudes only */
static mag_t softplus_l(mag_t z)
{
    return (z > 0 ? z : 0) + log1pl(expl(-fabsl(z)));
}

/* |Lip| of layer l's activation over all reals (max norm for softmax) */
static mag_t act_lipschitz(const ga_layer_desc *ld)
{
    mag_t c = fabsl((mag_t)ld->act_param);
    switch (ld->act) {
    case GA_ACT_SIGMOID:
        return 0.25L;
    case GA_ACT_LEAKY_RELU:
    case GA_ACT_ELU:
        return c > 1 ? c : 1;
    case GA_ACT_IDENTITY:
    case GA_ACT_TANH:
    case GA_ACT_RELU:
    case GA_ACT_SOFTPLUS:
    case GA_ACT_SOFTMAX:
        return 1;
    default: /* no tuned pass: the activation's own constant */
        return (mag_t)ga_activation_lipschitz(ld->act, ld->act_param);
    }
}

/* |scale| / N of the description's reduction (orc_constants' T_S) */
static mag_t mag_scale(const orc *o)
{
    const ga_loss_desc *ls = &o->net->desc.loss;
    mag_t N = 1;
    if (ls->reduction == GA_REDUCE_MEAN)
        N = (mag_t)o->B * (mag_t)o->n_out;
    else if (ls->reduction == GA_REDUCE_BATCH_MEAN)
        N = (mag_t)o->B;
    return fabsl((mag_t)ls->scale) / N;
}

/* The largest M(z) of sample n of layer l, and the largest z and the
 * logsumexp of the computed z (long double). */
static mag_t mag_row(mag_t *zmax, mag_t *lse, const orc *o, size_t l, size_t n)
{
    size_t nout = o->nout[l];
    const mag_t *mz = o->mz + o->B * o->zoff[l] + n * nout;
    mpfr_t *Z = o->Z[l] + n * nout;
    mag_t m = 0, r = mag_get(Z[0]), sum = 0;
    for (size_t k = 0; k < nout; k++) {
        mag_t z = mag_get(Z[k]);
        if (z > r)
            r = z;
        if (mz[k] > m)
            m = mz[k];
    }
    for (size_t k = 0; k < nout; k++)
        sum += expl(mag_get(Z[k]) - r);
    *zmax = r;
    *lse = r + logl(sum);
    return m;
}

/* |parameter i|, raised by o->mag_bump */
static mag_t mag_param(const orc *o, size_t i)
{
    return fabsl((mag_t)o->params[i]) + o->mag_bump;
}

/* 1 when the exact z of unit k, sample n of layer l is proven to have the
 * sign of the computed one by its terms alone: b and every W(k,j) in_j
 * with W(k,j) != 0 have one sign s, the inputs' exact signs known (x, an
 * exact value, or the output of sigmoid, softplus or softmax, exactly > 0
 * however small: 0.5 s(-2^15) at a relu is positive, which no precision up
 * to thousands of bits tells from its bound). Needs o->zd. */
static int z_sign_by_terms(const orc *o, size_t l, size_t n, size_t k)
{
    size_t nin = o->nin[l], w = o->woff[l] + k * o->wk[l];
    ga_activation below = l ? o->net->desc.layers[l - 1].act : GA_ACT_IDENTITY;
    int positive = below == GA_ACT_SIGMOID || below == GA_ACT_SOFTPLUS || below == GA_ACT_SOFTMAX;
    double b = o->params[o->boff[l] + k];
    int s = (b > 0) - (b < 0);
    for (size_t j = 0; j < nin; j++) {
        double wj = o->params[w + j * o->wj[l]];
        if (wj == 0)
            continue;
        int si;
        if (l == 0) {
            double xj = o->x[n * nin + j];
            si = (xj > 0) - (xj < 0);
        } else if (o->ad[o->B * o->zoff[l - 1] + n * nin + j] == GA_DIR_EXACT) {
            si = mpfr_sgn(o->A[l - 1][n * nin + j]);
        } else if (positive) {
            si = 1;
        } else {
            return 0;
        }
        int t = si * ((wj > 0) - (wj < 0));
        if (t != 0 && s != 0 && t != s)
            return 0;
        if (t != 0)
            s = t;
    }
    return s != 0 && s == mpfr_sgn(o->Z[l][n * o->nout[l] + k]);
}

/* M(z), M(a) of every unit and M(L), from the pass just run on o (mirrors
 * orc_forward and orc_loss). */
static void mag_forward(orc *o)
{
    size_t B = o->B;
    o->mexp = 0;
    o->kink_zero = 0;
    o->kink_ratio = 0;
    for (size_t l = 0; l < o->L; l++) {
        const ga_layer_desc *ld = &o->net->desc.layers[l];
        size_t nin = o->nin[l], nout = o->nout[l], wk = o->wk[l], wj = o->wj[l];
        mag_t *mz = o->mz + B * o->zoff[l], *ma = o->ma + B * o->zoff[l];
        const mag_t *min = l ? o->ma + B * o->zoff[l - 1] : NULL;
        mag_t lip = act_lipschitz(ld);
        for (size_t n = 0; n < B; n++) {
            for (size_t k = 0; k < nout; k++) { /* z = b + sum_j W(k,j) in_j */
                size_t w = o->woff[l] + k * wk;
                mag_t m = mag_param(o, o->boff[l] + k);
                for (size_t j = 0; j < nin; j++)
                    m += mag_param(o, w + j * wj) *
                         (min ? min[n * nin + j] : fabsl((mag_t)o->x[n * nin + j]));
                mz[n * nout + k] = m;
            }
            if (o->zd && (ld->act == GA_ACT_RELU || ld->act == GA_ACT_LEAKY_RELU ||
                           (ld->act == GA_ACT_ELU && ld->act_param != 1)))
                for (size_t k = 0; k < nout; k++) { /* the sign that picks f' (mag_kink_unsure) */
                    size_t e = n * nout + k;
                    int s = mpfr_sgn(o->Z[l][e]), d = o->zd[B * o->zoff[l] + e];
                    mag_t z = fabsl(mag_get(o->Z[l][e]));
                    /* z exact, or computed <= 0 above its exact value (so the exact
                     * z < 0, branch z <= 0), or > 0 below it: the branch is right */
                    if (d == GA_DIR_EXACT || (s <= 0 && d == GA_DIR_ABOVE) ||
                        (s > 0 && d == GA_DIR_BELOW) || z_sign_by_terms(o, l, n, k))
                        continue;
                    if (z == 0)
                        o->kink_zero = 1;
                    else if (mz[e] / z > o->kink_ratio)
                        o->kink_ratio = mz[e] / z;
                }
            if (ld->act == GA_ACT_SOFTMAX) { /* |a_k| <= 1, Lipschitz 1 in the max norm */
                mag_t r, lse, m = mag_row(&r, &lse, o, l, n);
                for (size_t k = 0; k < nout; k++)
                    ma[n * nout + k] = 1 + m;
            } else {
                for (size_t k = 0; k < nout; k++)
                    ma[n * nout + k] = mag_abs(o->A[l][n * nout + k]) + lip * mz[n * nout + k];
            }
        }
    }
    const ga_loss_desc *ls = &o->net->desc.loss;
    size_t L = o->L, m = o->n_out, nb = B * m;
    const mag_t *mz = o->mz + B * o->zoff[L - 1], *ma = o->ma + B * o->zoff[L - 1];
    mpfr_t *Z = o->Z[L - 1];
    const double *y = o->y;
    mag_t acc = 0;
    switch (ls->kind) {
    case GA_LOSS_MSE: /* (a - y)^2 */
        for (size_t e = 0; e < nb; e++) {
            mag_t t = ma[e] + fabsl((mag_t)y[e]);
            acc += t * t;
        }
        break;
    case GA_LOSS_BCE: /* y softplus(-z) + (1-y) softplus(z): softplus is 1-Lipschitz */
        for (size_t e = 0; e < nb; e++) {
            mag_t z = mag_get(Z[e]);
            if (y[e] != 0)
                acc += fabsl((mag_t)y[e]) * (softplus_l(-z) + mz[e]);
            if (y[e] != 1)
                acc += fabsl(1 - (mag_t)y[e]) * (softplus_l(z) + mz[e]);
        }
        break;
    case GA_LOSS_BCE_LOGITS: /* softplus(z) - z y */
        for (size_t e = 0; e < nb; e++)
            acc += softplus_l(mag_get(Z[e])) + mz[e] * (1 + fabsl((mag_t)y[e]));
        break;
    case GA_LOSS_SOFTMAX_CE: /* sum_k y_k (lse(z) - z_k): lse is 1-Lipschitz */
    case GA_LOSS_CCE:
        for (size_t n = 0; n < B; n++) {
            mag_t r, lse, zm = mag_row(&r, &lse, o, L - 1, n);
            mag_t mlse = fabsl(r) + fabsl(lse) + 1 + zm;
            for (size_t k = 0; k < m; k++)
                if (y[n * m + k] != 0)
                    acc += fabsl((mag_t)y[n * m + k]) * (mlse + mz[n * m + k]);
        }
        break;
    default:
        break;
    }
    o->mloss = acc * mag_scale(o);
    if (ls->weight_decay != 0) { /* + lambda/2 sum W^2 */
        mag_t sw = 0;
        for (size_t l = 0; l < L; l++)
            for (size_t i = 0; i < o->nin[l] * o->nout[l]; i++)
                sw += mag_param(o, o->woff[l] + i) * mag_param(o, o->woff[l] + i);
        o->mloss += fabsl((mag_t)ls->weight_decay) * sw / 2;
    }
}

/* M(dL/dtheta) and M(dL/dx) after mag_forward (mirrors orc_backward). */
static void mag_backward(orc *o)
{
    const ga_loss_desc *ls = &o->net->desc.loss;
    const double *P = o->params, *y = o->y;
    size_t B = o->B, L = o->L, m = o->n_out, nb = B * m;
    const mag_t *mz = o->mz + B * o->zoff[L - 1], *ma = o->ma + B * o->zoff[L - 1];
    mpfr_t *Z = o->Z[L - 1];
    mag_t s = mag_scale(o), lam = fabsl((mag_t)ls->weight_decay), *D = o->md;
    int fused = 1;
    switch (ls->kind) {
    case GA_LOSS_MSE: /* dL/da = 2 s (a - y) */
        for (size_t e = 0; e < nb; e++)
            D[e] = 2 * s * (ma[e] + fabsl((mag_t)y[e]));
        fused = 0;
        break;
    case GA_LOSS_BCE: /* dL/dz = s (sigmoid(z) - y), a = sigmoid(z) */
        for (size_t e = 0; e < nb; e++)
            D[e] = s * (ma[e] + fabsl((mag_t)y[e]));
        break;
    case GA_LOSS_BCE_LOGITS: /* s (sigmoid(z) - y), sigmoid 1/4-Lipschitz */
        for (size_t e = 0; e < nb; e++) {
            mag_t sg = 1 / (1 + expl(-mag_get(Z[e])));
            D[e] = s * (sg + mz[e] / 4 + fabsl((mag_t)y[e]));
        }
        break;
    case GA_LOSS_SOFTMAX_CE: /* s (exp(z_k - lse) sum_j y_j - y_k) */
    case GA_LOSS_CCE:
        for (size_t n = 0; n < B; n++) {
            mag_t r, lse, zm = mag_row(&r, &lse, o, L - 1, n), sy = 0;
            mag_t mlse = fabsl(r) + fabsl(lse) + 1 + zm;
            for (size_t k = 0; k < m; k++)
                sy += fabsl((mag_t)y[n * m + k]);
            for (size_t k = 0; k < m; k++) {
                mag_t mt = mz[n * m + k] + mlse; /* M(z_k - lse) */
                mag_t pk = expl(mag_get(Z[n * m + k]) - lse);
                if (mt > o->mexp)
                    o->mexp = mt;
                D[n * m + k] = s * (pk * (1 + 2 * mt) * sy + fabsl((mag_t)y[n * m + k]));
            }
        }
        break;
    default:
        break;
    }
    for (size_t l = L; l-- > 0;) {
        const ga_layer_desc *ld = &o->net->desc.layers[l];
        size_t nin = o->nin[l], nout = o->nout[l], wk = o->wk[l], wj = o->wj[l], mo = B * nout;
        const mag_t *lz = o->mz + B * o->zoff[l], *la = o->ma + B * o->zoff[l];
        mpfr_t *Zl = o->Z[l];
        mag_t c = fabsl((mag_t)ld->act_param);
        D = o->md;
        if (!(l == L - 1 && fused)) { /* dL/da -> dL/dz through f */
            switch (ld->act) {
            case GA_ACT_SIGMOID: /* f' = (1 - a) a */
                for (size_t e = 0; e < mo; e++)
                    D[e] *= (1 + la[e]) * la[e];
                break;
            case GA_ACT_TANH: /* f' = sech(z)^2, 4/(3 sqrt 3)-Lipschitz */
                for (size_t e = 0; e < mo; e++) {
                    mag_t ch = coshl(mag_get(Zl[e]));
                    D[e] *= 1 / (ch * ch) + lz[e];
                }
                break;
            case GA_ACT_RELU:
                for (size_t e = 0; e < mo; e++)
                    if (mpfr_sgn(Zl[e]) <= 0)
                        D[e] = 0;
                break;
            case GA_ACT_LEAKY_RELU:
                for (size_t e = 0; e < mo; e++)
                    if (mpfr_sgn(Zl[e]) <= 0)
                        D[e] *= c;
                break;
            case GA_ACT_ELU: /* f' = alpha exp(z) for z <= 0, |alpha|-Lipschitz there */
                for (size_t e = 0; e < mo; e++)
                    if (mpfr_sgn(Zl[e]) <= 0)
                        D[e] *= c * (expl(mag_get(Zl[e])) + lz[e]);
                break;
            case GA_ACT_SOFTPLUS: /* f' = sigmoid(z) */
                for (size_t e = 0; e < mo; e++)
                    D[e] *= 1 / (1 + expl(-mag_get(Zl[e]))) + lz[e] / 4;
                break;
            case GA_ACT_SOFTMAX: /* dz_k = a_k (da_k - sum_j a_j da_j) */
                for (size_t n = 0; n < B; n++) {
                    mag_t t = 0, *d = D + n * nout;
                    const mag_t *a = la + n * nout;
                    for (size_t k = 0; k < nout; k++)
                        t += a[k] * d[k];
                    for (size_t k = 0; k < nout; k++)
                        d[k] = (d[k] + t) * a[k];
                }
                break;
            case GA_ACT_IDENTITY:
                break;
            default: { /* no tuned pass: sup |f'| plus sup |f''| times z's magnitude */
                mag_t L1 = (mag_t)ga_activation_lipschitz(ld->act, ld->act_param);
                mag_t L2 = (mag_t)ga_activation_lipschitz_deriv(ld->act, ld->act_param);
                for (size_t e = 0; e < mo; e++)
                    D[e] *= L1 + L2 * lz[e];
                break;
            }
            }
        }
        const mag_t *in = l ? o->ma + B * o->zoff[l - 1] : NULL;
        for (size_t k = 0; k < nout; k++) {
            size_t wrow = o->woff[l] + k * wk;
            for (size_t j = 0; j < nin; j++) { /* dW(k,j) = sum_n dz[n,k] in[n,j] + lambda W */
                mag_t g = 0;
                for (size_t n = 0; n < B; n++)
                    g += D[n * nout + k] * (in ? in[n * nin + j] : fabsl((mag_t)o->x[n * nin + j]));
                o->mg[wrow + j * wj] = g + lam * fabsl((mag_t)P[wrow + j * wj]);
            }
            mag_t g = 0; /* db(k) = sum_n dz[n,k] */
            for (size_t n = 0; n < B; n++)
                g += D[n * nout + k];
            o->mg[o->boff[l] + k] = g;
        }
        mag_t *out = l > 0 ? o->mdp : o->mdx; /* da_prev[n,j] = sum_k W(k,j) dz[n,k] */
        if (!out)
            continue;
        for (size_t n = 0; n < B; n++)
            for (size_t j = 0; j < nin; j++) {
                const double *wc = P + o->woff[l] + j * wj;
                mag_t r = 0;
                for (size_t k = 0; k < nout; k++)
                    r += fabsl((mag_t)wc[k * wk]) * D[n * nout + k];
                out[n * nin + j] = r;
            }
        if (l > 0) {
            mag_t *sw = o->md;
            o->md = o->mdp;
            o->mdp = sw;
        }
    }
}

/* 1 when the sign of some piecewise unit's z, which picks f' in the reverse
 * pass, is not proven by the pass at p bits whose magnitudes o holds: a z
 * that came out 0 from inexact operations (2^-170 + 1 - 1 at 160 bits), or
 * a nonzero z within 4 gamma_D M(z) of 0 (the error of the pass at p, and of
 * the one at p + GAP, doubled), unless z's direction proves the branch
 * (mag_forward). The bound M covers values, not a wrong branch of f', so
 * such a step settles no gradient entry. */
static int mag_kink_unsure(const orc *o, long p)
{
    return o->kink_zero ||
           (o->kink_ratio > 0 && log2l(4 * o->depth * o->kink_ratio) >= (mag_t)p);
}

/* e += 2 gamma_D M at prec bits, rounded up: the running error bound of a
 * value of magnitude m (mag_forward) computed at prec bits, the 2 covering
 * gamma_D's second-order part and the rounding of M itself; +inf when m is
 * not finite or softmax cross-entropy's exponentials leave the range of the
 * bound (gamma_D mexp > 1/4). f scratch, at least 64 bits. */
static void mag_floor(mpfr_ptr e, const orc *o, mag_t m, long prec, mpfr_ptr f)
{
    mag_t b = 2 * o->depth * m;
    int in_range = o->mexp == 0 || log2l(o->depth * o->mexp) < (mag_t)(prec - 2);
    if (!(b <= LDBL_MAX) || !in_range) {
        mpfr_set_inf(f, 1);
    } else {
        mpfr_set_ld(f, b, MPFR_RNDU);
        mpfr_mul_2si(f, f, -prec, MPFR_RNDU);
    }
    mpfr_add(e, e, f, MPFR_RNDU);
}

/* ---- error estimate and the settled test -------------------------------- */

/* Why the two-precision difference is a trustworthy error estimate:
 * every MPFR operation is correctly rounded at the working precision p, so
 * the computed value is v_p = v + E_p with |E_p| <= K 2^-p, where K (a sum
 * over the operations of |partial result| times the condition of the rest of
 * the computation) does not depend on p once p exceeds the conditioning of
 * the problem. Running the same pass at p and at p + GAP gives
 * v_p - v_{p+GAP} = E_p - E_{p+GAP} with |E_{p+GAP}| about 2^-GAP |E_p|, so
 * |v_p - v_{p+GAP}| bounds the error of v_{p+GAP} with a safety factor of
 * about 2^GAP = 2^32. The floor 2^-p |v| covers the (measure-zero) accident
 * of the two runs agreeing to the last bit although inexact; it is dropped
 * when MPFR's inexact flag says every operation of both runs was exact. An
 * estimate that came out too small would be caught by route (a), which shares
 * no derivative formula with route (b) (ga_oracle_cross_check). */
void ga_oracle_two_prec_error(mpfr_ptr e, mpfr_srcptr hi, mpfr_srcptr lo, long p, int inexact,
                              mpfr_ptr f)
{
    if (!mpfr_number_p(hi) || !mpfr_number_p(lo)) {
        mpfr_set_inf(e, 1);
        return;
    }
    mpfr_sub(e, hi, lo, MPFR_RNDA);
    mpfr_abs(e, e, MPFR_RNDN);
    if (inexact && !mpfr_zero_p(hi)) {
        mpfr_mul_2si(f, hi, -p, MPFR_RNDA);
        mpfr_abs(f, f, MPFR_RNDN);
        mpfr_add(e, e, f, MPFR_RNDU);
    }
}

/* 1 when every number the exact value may be rounds to the same double
 * (nearest, ties to even), writing that double; else 0 and *out = v rounded.
 * The exact value lies in [v - e, v + e], and on the side of v that dir
 * tells (GA_DIR_ABOVE: v is above it, so in [v - e, v)). The open end is
 * taken at the number next to v at 64 more bits than v's: a rounding
 * boundary of doubles (a midpoint, 54 bits) cannot lie strictly between the
 * two. So v exactly on a boundary settles on the side dir tells, and with
 * e = 0 (an exact v) an exact tie goes to even. *abserr (if not NULL) bounds
 * |exact - *out|. scratch: 2 variables. */
static int settle_ends(double *out, double *abserr, double ends[2], mpfr_srcptr v, mpfr_srcptr e,
                       int dir, mpfr_ptr lo, mpfr_ptr hi)
{
    *out = mpfr_get_d(v, MPFR_RNDN);
    ends[0] = ends[1] = NAN;
    int ok = 0;
    if (mpfr_number_p(v) && mpfr_number_p(e)) {
        mpfr_set_prec(lo, mpfr_get_prec(v) + 64);
        mpfr_set_prec(hi, mpfr_get_prec(v) + 64);
        mpfr_sub(lo, v, e, MPFR_RNDD);
        mpfr_add(hi, v, e, MPFR_RNDU);
        if (dir == GA_DIR_ABOVE) {
            mpfr_set(hi, v, MPFR_RNDN);
            mpfr_nextbelow(hi);
        } else if (dir == GA_DIR_BELOW) {
            mpfr_set(lo, v, MPFR_RNDN);
            mpfr_nextabove(lo);
        }
        double dl = mpfr_get_d(lo, MPFR_RNDN), dh = mpfr_get_d(hi, MPFR_RNDN);
        ends[0] = dl;
        ends[1] = dh;
        ok = dl == dh; /* +0 == -0: the exact value rounds to a zero */
        if (ok)
            *out = dl;
        if (*out == 0)
            *out = 0.0; /* the sign of a zero result carries no information: +0 */
        if (abserr) {
            mpfr_set_d(lo, *out, MPFR_RNDN);
            mpfr_sub(lo, v, lo, MPFR_RNDA);
            mpfr_abs(lo, lo, MPFR_RNDN);
            mpfr_add(lo, lo, e, MPFR_RNDU);
            *abserr = mpfr_get_d(lo, MPFR_RNDU);
        }
    } else if (abserr) {
        *abserr = INFINITY;
    }
    return ok;
}

int ga_oracle_settle_dir(double *out, double *abserr, mpfr_srcptr v, mpfr_srcptr e, int dir,
                         mpfr_ptr lo, mpfr_ptr hi)
{
    double ends[2];
    return settle_ends(out, abserr, ends, v, e, dir, lo, hi);
}

int ga_oracle_settle(double *out, double *abserr, mpfr_srcptr v, mpfr_srcptr e, mpfr_ptr lo,
                     mpfr_ptr hi)
{
    return ga_oracle_settle_dir(out, abserr, v, e, GA_DIR_UNKNOWN, lo, hi);
}

/* 1 when the doubles lo < hi are neighbours: the interval they end holds a
 * single rounding boundary */
static int neighbours(double lo, double hi)
{
    return isfinite(lo) && isfinite(hi) && lo != hi && nextafter(lo, INFINITY) == hi;
}

/* The last Ziv step's settle test (last: no precision follows): 1 settled;
 * else, when the interval straddles a single rounding boundary, 2: the
 * exact value lies nearer to that boundary than the last precision tells
 * (e^-|z| of a saturated unit on a tie, on a side no ternary value told),
 * and *out stays v rounded, *abserr |exact - *out| (up to half an ulp plus
 * e); else 0. */
static int settle_last(double *out, double *abserr, mpfr_srcptr v, mpfr_srcptr e, int dir,
                       mpfr_ptr lo, mpfr_ptr hi, int last)
{
    double ends[2];
    if (settle_ends(out, abserr, ends, v, e, dir, lo, hi))
        return 1;
    return last && neighbours(ends[0], ends[1]) ? 2 : 0;
}

/* The next Ziv precision, or 0 when the MPFR variables would outgrow the
 * memory cap at it. */
static long next_prec(const orc *o, long p, long max_prec)
{
    long np = 2 * p > max_prec ? max_prec : 2 * p;
    size_t bytes;
    if (!mpfr_bytes(&bytes, o->n_all, np + GAP) || bytes > GA_DEFAULT_MEMORY_CAP)
        return 0;
    return np;
}

static void stats_set(ga_oracle_stats *stats, long prec, unsigned iters, unsigned unsettled,
                      unsigned boundary)
{
    if (stats) {
        stats->final_prec = prec;
        stats->ziv_iterations = iters;
        stats->unsettled = unsettled;
        stats->boundary = boundary;
    }
}

/* ---- public entry points -------------------------------------------------- */

static int ga_oracle_loss_in_range(double *loss, double *abserr, ga_oracle_stats *stats,
                                   ga_error *err, const ga_net *net, const double *params,
                                   const double *x, const double *y, size_t batch,
                                   const ga_oracle_options *opt)
{
    ga_oracle_options op;
    if (!loss)
        return ga_fail(err, GA_EINVAL, "oracle: loss output is NULL");
    int status = check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    orc o;
    /* extra: the low-precision loss, the error, two settle scratch */
    status = orc_alloc(&o, err, net, params, x, y, batch, 0, 0, 0, 0, 1, 4, op.start_prec);
    if (status)
        return status;
    mpfr_ptr lo = o.E[0], e = o.E[1];
    unsigned iters = 0;
    int done = 0;
    long p = op.start_prec;
    for (;;) {
        iters++;
        mpfr_clear_inexflag();
        orc_set_prec(&o, p);
        orc_constants(&o);
        orc_forward(&o);
        mpfr_set_prec(lo, p);
        mpfr_set(lo, o.T[T_LOSS], MPFR_RNDN);
        orc_set_prec(&o, p + GAP);
        orc_constants(&o);
        orc_forward(&o);
        int inexact = mpfr_inexflag_p();
        if (o.branch_assumed && o.lossd != GA_DIR_UNKNOWN) {
            mag_forward(&o); /* the side of every relu's z proven, or no direction */
            if (mag_kink_unsure(&o, p))
                o.lossd = GA_DIR_UNKNOWN;
        }
        if (o.lossd == GA_DIR_EXACT) {
            mpfr_set_zero(e, 1);
        } else {
            ga_oracle_two_prec_error(e, o.T[T_LOSS], lo, p, inexact, o.E[2]);
            if (inexact) {
                mag_forward(&o);
                mag_floor(e, &o, o.mloss, p + GAP, o.E[2]);
            }
        }
        long np = p >= op.max_prec ? 0 : next_prec(&o, p, op.max_prec);
        done = settle_last(loss, abserr, o.T[T_LOSS], e, o.lossd, o.E[2], o.E[3], !np);
        if (done || !np)
            break;
        p = np;
    }
    stats_set(stats, p + GAP, iters, done ? 0 : 1, done == 2);
    orc_free(&o);
    if (!done)
        return ga_fail(err, GA_EFAIL, "oracle: the loss was not settled at %ld bits (value %.17g)%s",
                       p + GAP, *loss, p < op.max_prec ? ", more would exceed the memory cap" : "");
    return GA_OK;
}

int ga_oracle_loss(double *loss, double *abserr, ga_oracle_stats *stats, ga_error *err,
                   const ga_net *net, const double *params, const double *x, const double *y,
                   size_t batch, const ga_oracle_options *opt)
{
    mp_range saved = mp_range_widest();
    int status = ga_oracle_loss_in_range(loss, abserr, stats, err, net, params, x, y, batch, opt);
    mp_range_restore(saved);
    return status;
}

/* One pass of the Ziv loop: the forward and reverse pass at prec, and
 * whether any MPFR operation of it was inexact (MPFR's flags are per
 * thread, so each pass reads its own). */
typedef struct {
    orc *o;
    long prec;
    int inexact;
    int mag; /* also the running error magnitudes (mag_forward, mag_backward) */
} orc_pass;

static void orc_pass_do(void *arg)
{
    orc_pass *ps = arg;
    mp_range saved = mp_range_widest();
    mpfr_clear_inexflag();
    orc_set_prec(ps->o, ps->prec);
    orc_constants(ps->o);
    orc_forward(ps->o);
    orc_backward(ps->o);
    ps->inexact = mpfr_inexflag_p();
    if (ps->mag) {
        mag_forward(ps->o);
        mag_backward(ps->o);
    }
    mp_range_restore(saved);
}

/* do_(a) on a thread of its own and do_(b) on this one, then the join; both
 * here, one after the other, when no thread can be started. On the new
 * thread MPFR's caches (of constants, of exp's tables) are per thread and
 * are released before it ends. */
typedef struct {
    void (*do_)(void *);
    void *arg;
} two_job;

static void *two_job_thread(void *arg)
{
    two_job *j = arg;
    j->do_(j->arg);
    mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE);
    return NULL;
}

static void run_two(void (*do_)(void *), void *a, void *b)
{
    two_job j = {do_, a};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, two_job_thread, &j) == 0;
    if (!threaded)
        do_(a);
    do_(b);
    if (threaded)
        pthread_join(th, NULL);
}

static int net_has_piecewise(const ga_net *net);

/* The settle test of results first <= i < end of a Ziv step of route (b):
 * the gradient, then dL/dx, then the loss, each from the two passes, with
 * three scratch variables of the thread's own. */
typedef struct {
    const orc *lo, *hi; /* lo carries the magnitudes */
    mpfr_t *sc;
    long p;
    int inexact;
    int kink_unsure;    /* mag_kink_unsure: no gradient entry settles */
    int last;           /* no precision follows (settle_last) */
    size_t first, end, n_grad, n_dx;
    double *grad, *abserr, *dx, *loss, *loss_err;
    unsigned unsettled, boundary;
} settle_share;

static void settle_do(void *arg)
{
    settle_share *s = arg;
    mp_range saved = mp_range_widest();
    s->unsettled = s->boundary = 0;
    for (size_t i = s->first; i < s->end; i++) {
        size_t n_grad = s->n_grad, n_dx = s->n_dx;
        int is_g = i < n_grad, is_dx = !is_g && i < n_grad + n_dx;
        mpfr_srcptr hi = is_g ? s->hi->G[i] : is_dx ? s->hi->DX[i - n_grad] : s->hi->T[T_LOSS];
        mpfr_srcptr lo = is_g ? s->lo->G[i] : is_dx ? s->lo->DX[i - n_grad] : s->lo->T[T_LOSS];
        double *out = is_g ? &s->grad[i] : is_dx ? &s->dx[i - n_grad] : s->loss;
        double *ae = is_g ? (s->abserr ? &s->abserr[i] : NULL) : is_dx ? NULL : s->loss_err;
        int dir = is_g ? s->hi->gd[i] : is_dx ? s->hi->dxd[i - n_grad] : s->hi->lossd;
        if (s->kink_unsure && s->hi->branch_assumed)
            dir = GA_DIR_UNKNOWN; /* (the gradient's bound is infinite then) */
        for (int k = 0; k < 3; k++)
            mpfr_set_prec(s->sc[k], s->p + GAP);
        if (dir == GA_DIR_EXACT) {
            mpfr_set_zero(s->sc[0], 1);
        } else {
            ga_oracle_two_prec_error(s->sc[0], hi, lo, s->p, s->inexact, s->sc[1]);
            if (s->inexact)
                mag_floor(s->sc[0], s->lo,
                          is_g ? s->lo->mg[i] : is_dx ? s->lo->mdx[i - n_grad] : s->lo->mloss,
                          s->p + GAP, s->sc[1]);
        }
        if (s->kink_unsure && (is_g || is_dx))
            mpfr_set_inf(s->sc[0], 1);
        int r = settle_last(out, ae, hi, s->sc[0], dir, s->sc[1], s->sc[2], s->last);
        s->unsettled += r == 0;
        s->boundary += r == 2;
    }
    mp_range_restore(saved);
}

/* What route (b) leaves for route (a) (keep != NULL): both working sets,
 * allocated with route (a)'s variables, the final p, and whether some
 * operation of the last step was inexact. */
typedef struct {
    orc lo, hi;
    long p;
    int inexact;
} orc_kept;

static int loss_gradient_run(double *loss, double *loss_err, double *grad, double *abserr,
                             double *dx, ga_oracle_stats *stats, ga_error *err, const ga_net *net,
                             const double *params, const double *x, const double *y, size_t batch,
                             const ga_oracle_options *opt, orc_kept *keep)
{
    ga_oracle_options op;
    if (!grad)
        return ga_fail(err, GA_EINVAL, "oracle: grad output is NULL");
    int status = check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    /* results: the gradient, then dL/dx, then the loss, each settled alike */
    size_t n_dx = dx ? batch * net->desc.n_in : 0, n_grad = net->n_params;
    size_t n_res = n_grad + n_dx + (loss != NULL);
    /* The two runs of each Ziv step, at p and p + GAP, are independent: each
     * has its own working set and runs on its own thread (the machine has
     * two cores; MPFR keeps its flags per thread). hi carries the scratch. */
    orc lo_o, hi_o;
    int sign = keep && net_has_piecewise(net), snap = keep != NULL;
    size_t fd_extra = keep ? FD_EXTRA : 0;
    status = orc_alloc(&lo_o, err, net, params, x, y, batch, 1, dx != NULL, sign, snap, 1,
                       fd_extra + 3, op.start_prec);
    if (status)
        return status;
    status = orc_alloc(&hi_o, err, net, params, x, y, batch, 1, dx != NULL, sign, snap, 1,
                       fd_extra + 3, op.start_prec + GAP);
    if (status) {
        orc_free(&lo_o);
        return status;
    }
    int inexact = 0, kink_unsure = 0;
    unsigned iters = 0, unsettled = 0, boundary = 0;
    long p = op.start_prec;
    for (;;) {
        iters++;
        orc_pass lo_pass = {&lo_o, p, 0, 1}, hi_pass = {&hi_o, p + GAP, 0, 0};
        run_two(orc_pass_do, &lo_pass, &hi_pass);
        inexact = lo_pass.inexact || hi_pass.inexact;
        kink_unsure = mag_kink_unsure(&lo_o, p);
        long np = p >= op.max_prec ? 0 : next_prec(&hi_o, p, op.max_prec);
        /* the results split between two threads when there are enough of
         * them to pay for one (a thread costs tens of microseconds) */
        size_t half = n_res >= 1024 ? n_res / 2 : n_res;
        settle_share part[2];
        for (int w = 0; w < 2; w++)
            part[w] = (settle_share){&lo_o, &hi_o, (w ? &lo_o : &hi_o)->E + fd_extra, p, inexact,
                                     kink_unsure, !np, w ? half : 0, w ? n_res : half, n_grad,
                                     n_dx, grad, abserr, dx, loss, loss_err, 0, 0};
        if (half < n_res)
            run_two(settle_do, &part[1], &part[0]);
        else
            settle_do(&part[0]);
        unsettled = part[0].unsettled + part[1].unsettled;
        boundary = part[0].boundary + part[1].boundary;
        if (!unsettled || !np)
            break;
        p = np;
    }
    stats_set(stats, p + GAP, iters, unsettled, boundary);
    if (keep && !unsettled) {
        *keep = (orc_kept){lo_o, hi_o, p, inexact};
    } else {
        orc_free(&lo_o);
        orc_free(&hi_o);
    }
    if (unsettled)
        return ga_fail(err, GA_EFAIL, "oracle: %u results were not settled at %ld bits%s%s",
                       unsettled, p + GAP,
                       kink_unsure ? " (the sign of a pre-activation at a relu-type kink is "
                                     "not proven: it came out 0 from rounded operations, or "
                                     "within its error bound of 0)" : "",
                       p < op.max_prec ? ", more would exceed the memory cap" : "");
    return GA_OK;
}

int ga_oracle_loss_gradient(double *loss, double *loss_err, double *grad, double *abserr,
                            double *dx, ga_oracle_stats *stats, ga_error *err, const ga_net *net,
                            const double *params, const double *x, const double *y, size_t batch,
                            const ga_oracle_options *opt)
{
    mp_range saved = mp_range_widest();
    int status = loss_gradient_run(loss, loss_err, grad, abserr, dx, stats, err, net, params, x, y,
                                   batch, opt, NULL);
    mp_range_restore(saved);
    return status;
}

int ga_oracle_gradient(double *grad, double *abserr, double *dx, ga_oracle_stats *stats,
                       ga_error *err, const ga_net *net, const double *params,
                       const double *x, const double *y, size_t batch,
                       const ga_oracle_options *opt)
{
    return ga_oracle_loss_gradient(NULL, NULL, grad, abserr, dx, stats, err, net, params, x, y,
                                   batch, opt);
}

static const char *act_kink_word(ga_activation a)
{
    return a == GA_ACT_RELU ? "relu" : a == GA_ACT_LEAKY_RELU ? "leaky_relu" : "elu";
}

static int act_is_piecewise(ga_activation a)
{
    return a == GA_ACT_RELU || a == GA_ACT_LEAKY_RELU || a == GA_ACT_ELU;
}

/* 1 when some layer is piecewise: route (a) then watches the signs of z. */
static int net_has_piecewise(const ga_net *net)
{
    for (size_t l = 0; l < net->desc.n_layers; l++)
        if (act_is_piecewise(net->desc.layers[l].act))
            return 1;
    return 0;
}

/* Signs of the pre-activations of piecewise layers into o->sign (record), or
 * the first unit whose sign differs from the record (compare): returns 1 and
 * sets *layer, *unit. */
static int kink_signs(orc *o, int record, size_t *layer, size_t *unit)
{
    for (size_t l = 0; l < o->L; l++) {
        if (!act_is_piecewise(o->net->desc.layers[l].act))
            continue;
        size_t m = o->B * o->nout[l];
        signed char *sg = o->sign + o->B * o->zoff[l];
        for (size_t e = 0; e < m; e++) {
            int s = mpfr_sgn(o->Z[l][e]);
            signed char c = (signed char)(s > 0 ? 1 : s < 0 ? -1 : 0);
            if (record) {
                sg[e] = c;
            } else if (c != sg[e]) {
                *layer = l;
                *unit = e;
                return 1;
            }
        }
    }
    return 0;
}

/* Route (a) on an allocated state. *kink = 1 when a piecewise pre-activation
 * changes sign within the first step (then GA_EFAIL).
 *
 * Each Ziv step works at q = p + GAP bits. Its base is the forward pass at
 * theta, at p and at q: their difference eps_f bounds the rounding error of
 * f at q (ga_oracle_two_prec_error), and the pass at q is kept (o->S). The
 * base depends on theta and p alone, so successive entries on the same state
 * share it (o->fd_base_prec). Moving entry i changes the pre-activations of
 * its own unit k of layer l only, so f(theta +- h) is computed from there
 * (fd_forward_entry): z_l[:, k] and a_l[:, k] anew, the next layer's z as the
 * base's plus the change of a_l[:, k] times column k of its weights, the
 * layers above anew. That is the forward pass with the base's rounding errors
 * below the change, which are common to theta + h and theta - h and cancel in
 * their difference, and a few roundings of the same size as a whole pass's
 * in the change itself: eps_f still bounds the error of each f. Above the
 * moved unit, z is the base's plus the products of the changes of the layer
 * below (fd_affine_from_base), and sigmoid and tanh units add their own
 * change to the base's a (act_from_base): no exponential on the sides.
 *
 * Steps h_r = 2^-(k0 + r). The central difference's truncation is c2 h^2
 * and its rounding 2 eps_f / h, eps_f ~ 2^-p |f| K; k0 = (p + 1) / 3 makes
 * the two alike after one extrapolation (both ~2^-(2p/3)), so at p = 128 the
 * second row usually settles the entry (four passes from the unit on). */

/* M(f) for route (a)'s f(theta +- h), any step h <= 2^-k0, from the pass
 * on o: even when f(theta) was exact, f(theta +- h) need not be (theta + h
 * lost in a sum with 1e600), and its magnitudes are theta's to O(h) only
 * where theta's are not 0: a weight of 0 over a rounded input, or an input
 * of 0 under the moved weight, gives a term 0 at theta, h times something
 * at theta +- h. So the magnitudes are taken with every parameter's size
 * raised by 2^-k0, and twice. Leaves o's magnitudes raised: fd_run's step
 * sizes need theta's back. */
static mag_t fd_moved_mag(orc *o, long k0)
{
    o->mag_bump = ldexpl(1, (int)-k0);
    mag_forward(o);
    o->mag_bump = 0;
    return 2 * o->mloss;
}

/* The base into o->S (snapshot), or o->S back into the working set for the
 * layers from l0 on. */
static void fd_snapshot(orc *o, int save, size_t l0)
{
    for (size_t l = l0; l < o->L; l++) {
        size_t m = o->B * o->nout[l], off = o->B * o->zoff[l];
        mpfr_t *zs = o->S + off, *as = o->S + o->n_units + off;
        for (size_t e = 0; e < m; e++) {
            if (save) {
                mpfr_set(zs[e], o->Z[l][e], MPFR_RNDN);
                mpfr_set(as[e], o->A[l][e], MPFR_RNDN);
            } else {
                mpfr_set(o->Z[l][e], zs[e], MPFR_RNDN);
                mpfr_set(o->A[l][e], as[e], MPFR_RNDN);
            }
        }
    }
}

/* u = 1 - exp(-x) = -expm1(-x) for |x| < 2^-16: u = sum_{k>=1} -(-x)^k/k!.
 * Successive terms shrink by |x|/(k+1) < 2^-17, so whatever the sign of x
 * the remainder is at most (1 + 2^-16) times the first omitted term; the sum
 * stops before the first term below 2^-(prec + 4) |x|, prec that of u, and
 * is then within 2^-(prec + 3) |x| plus a few roundings of u. s scratch.
 * Returns 0, leaving u unset, when |x| >= 2^-16 (too many terms).
 * Not mpfr_expm1: at 160 bits it takes 1.3-1.4 us for |x| from 2^-50 to
 * 2^-20, more than mpfr_exp (build/bench/bench_mpfr_ops), where these 3-5
 * terms take a few products. */
static int one_minus_exp_neg(mpfr_ptr u, mpfr_srcptr x, mpfr_ptr s)
{
    if (mpfr_zero_p(x)) {
        mpfr_set_zero(u, 1);
        return 1;
    }
    if (!mpfr_number_p(x) || mpfr_get_exp(x) > -16) /* |x| >= 2^(exp - 1) */
        return 0;
    /* log2 of term k over |x|: (k-1) log2|x| - log2 k!, from above: |x| < 2^exp */
    double lx = (double)mpfr_get_exp(x), rel = 0, stop = -(double)mpfr_get_prec(u) - 4;
    mpfr_set(u, x, MPFR_RNDN);
    mpfr_abs(s, x, MPFR_RNDN); /* s = |x|^k / k! */
    for (unsigned long k = 2;; k++) {
        rel += lx - log2((double)k);
        if (rel < stop)
            return 1;
        mpfr_mul(s, s, x, MPFR_RNDN);
        mpfr_abs(s, s, MPFR_RNDN);
        mpfr_div_ui(s, s, k, MPFR_RNDN);
        if ((k & 1) && mpfr_sgn(x) > 0) /* -(-x)^k: for x < 0 every term is negative */
            mpfr_add(u, u, s, MPFR_RNDN);
        else
            mpfr_sub(u, u, s, MPFR_RNDN);
    }
}

/* a = f(z) for sigmoid or tanh from the base point zb, ab = f(zb), by exact
 * identities in u = 1 - exp(-x), x = z - zb (one_minus_exp_neg):
 *   sigmoid: a - ab = ab (1 - ab) u / (1 - (1 - ab) u)
 *   tanh:    a - ab = (1 - ab)(1 + ab) tau / (1 + ab tau),  tau = tanh x = v / (2 - v),
 *            v = 1 - exp(-2x)
 * The change is computed to a few roundings of itself and added to ab, so a
 * is as accurate as a correctly rounded f(z), and ab's own rounding error is
 * the base's, common to theta + h and theta - h. No exponential is evaluated:
 * the step moves z by ~h, and a few terms of the series settle u. Returns 0
 * (a unset) when |x| is too large for the series (it happens with inputs or
 * weights of 2^27 and more). t, u, v scratch. */
static int act_from_base(mpfr_ptr a, mpfr_srcptr z, mpfr_srcptr zb, mpfr_srcptr ab,
                         ga_activation act, mpfr_ptr t, mpfr_ptr u, mpfr_ptr v)
{
    mpfr_sub(t, z, zb, MPFR_RNDN);
    if (act == GA_ACT_TANH)
        mpfr_mul_2ui(t, t, 1, MPFR_RNDN);
    if (!one_minus_exp_neg(u, t, v))
        return 0;
    if (mpfr_zero_p(u)) {
        mpfr_set(a, ab, MPFR_RNDN);
        return 1;
    }
    if (act == GA_ACT_SIGMOID) {
        mpfr_ui_sub(t, 1, ab, MPFR_RNDN);  /* 1 - ab */
        mpfr_mul(v, t, u, MPFR_RNDN);      /* (1 - ab) u */
        mpfr_ui_sub(v, 1, v, MPFR_RNDN);
        mpfr_mul(t, t, ab, MPFR_RNDN);
        mpfr_mul(t, t, u, MPFR_RNDN);
    } else {
        mpfr_ui_sub(v, 2, u, MPFR_RNDN);
        mpfr_div(u, u, v, MPFR_RNDN);      /* tau */
        mpfr_mul(v, ab, u, MPFR_RNDN);
        mpfr_add_ui(v, v, 1, MPFR_RNDN);   /* 1 + ab tau */
        mpfr_ui_sub(t, 1, ab, MPFR_RNDN);
        mpfr_mul(t, t, u, MPFR_RNDN);
        mpfr_add_ui(u, ab, 1, MPFR_RNDN);
        mpfr_mul(t, t, u, MPFR_RNDN);
    }
    mpfr_div(t, t, v, MPFR_RNDN);
    mpfr_add(a, ab, t, MPFR_RNDN);
    return 1;
}

/* a[:, k0:k1] of layer l after its z moved from the base: sigmoid and tanh
 * by their change (act_from_base), the other activations anew. */
static void fd_act_from_base(orc *o, size_t l, size_t k0, size_t k1)
{
    const ga_layer_desc *ld = &o->net->desc.layers[l];
    if (ld->act != GA_ACT_SIGMOID && ld->act != GA_ACT_TANH) {
        layer_act(o, l, k0, k1);
        return;
    }
    size_t nout = o->nout[l], off = o->B * o->zoff[l];
    mpfr_t *Z = o->Z[l], *A = o->A[l], *zs = o->S + off, *as = o->S + o->n_units + off;
    mpfr_ptr t = o->T[T_T], u = o->T[T_U], v = o->T[T_V];
    for (size_t n = 0; n < o->B; n++)
        for (size_t k = k0; k < k1; k++) {
            size_t e = n * nout + k;
            if (!act_from_base(A[e], Z[e], zs[e], as[e], ld->act, t, u, v))
                act_elementwise(A[e], Z[e], GA_DIR_UNKNOWN, ld, t);
        }
}

/* z_l = base z_l + W_l (a_{l-1} - base a_{l-1}) for a layer l above the moved
 * entry's (its own weights are at theta): the products of the changes alone,
 * unchanged units skipped, so the rank-1 change of one moved unit costs a
 * column of products. */
static void fd_affine_from_base(orc *o, size_t l)
{
    size_t nin = o->nin[l], nout = o->nout[l], wk = o->wk[l], wj = o->wj[l];
    mpfr_t *Z = o->Z[l], *zs = o->S + o->B * o->zoff[l], *A = o->A[l - 1],
           *as = o->S + o->n_units + o->B * o->zoff[l - 1];
    mpfr_ptr d = o->T[T_ACC], t = o->T[T_PROD];
    for (size_t n = 0; n < o->B; n++) {
        mpfr_t *z = Z + n * nout;
        for (size_t m = 0; m < nout; m++)
            mpfr_set(z[m], zs[n * nout + m], MPFR_RNDN);
        for (size_t j = 0; j < nin; j++) {
            mpfr_sub(d, A[n * nin + j], as[n * nin + j], MPFR_RNDN);
            if (mpfr_zero_p(d))
                continue;
            mpfr_t *w = o->P + o->woff[l] + j * wj;
            for (size_t m = 0; m < nout; m++) {
                mpfr_mul(t, d, w[m * wk], MPFR_RNDN);
                mpfr_add(z[m], z[m], t, MPFR_RNDN);
            }
        }
    }
}

/* f at the current parameters when only unit k of layer l moved from the
 * base (see fd_run). The working set holds the base below layer l and in
 * every other unit of layer l. */
static void fd_forward_entry(orc *o, size_t l, size_t k)
{
    layer_affine(o, l, l == 0 ? o->X : o->A[l - 1], k, k + 1);
    fd_act_from_base(o, l, k, k + 1); /* softmax: the whole layer */
    for (size_t up = l + 1; up < o->L; up++) {
        fd_affine_from_base(o, up);
        fd_act_from_base(o, up, 0, o->nout[up]);
    }
    orc_loss(o);
}

/* The moved entry i: while route (a) moves it, P[i] is swapped with the
 * variable F_PI, whose precision may exceed the slab's (theta +- h needs
 * pbits); swapping back restores the slab's P[i], which holds theta. */
static void fd_swap_entry(orc *o, size_t i)
{
    mpfr_swap(o->P[i], o->E[F_PI]);
}

/* theta back into entry i and the base back into the working set from
 * layer l on. */
static void fd_restore(orc *o, size_t i, size_t layer)
{
    fd_swap_entry(o, i);
    fd_snapshot(o, 0, layer);
}

/* bracket (may be NULL): when the entry is not settled, the doubles nearest
 * the ends of the last interval [ans - tot, ans + tot] (NaN if none). */
static int fd_run(double *g, double *abserr, double bracket[2], int *kink, long *prec_out,
                  unsigned *iters_out, ga_error *err, orc *o, const double *params, size_t i,
                  const ga_oracle_options *op)
{
    mpfr_t *F = o->E, *tab = o->E + NF; /* tab[j * NTAB + r]: extrapolation j of row r */
    mpfr_ptr Pi = o->P[i]; /* F_PI's variable between fd_swap_entry and fd_restore */
    double theta = params[i];
    size_t row, col;
    const ga_view *v = ga_net_locate(&row, &col, o->net, i);
    if (!v)
        return ga_fail(err, GA_EINVAL, "oracle: entry %zu is outside the %zu parameters", i,
                       o->n_params);
    size_t layer = v->layer, unit = ga_view_unit(o->net, row, col);
    int ex = 0;
    if (theta != 0)
        frexp(theta, &ex);
    *kink = 0;
    unsigned iters = 0;
    long p = op->start_prec, q = p + GAP;
    int done = 0;
    for (;;) {
        iters++;
        q = p + GAP;
        long k0 = (p + 1) / 3; /* h_r = 2^-(k0 + r + sh) */
        if (o->fd_base_prec != p) {
            for (size_t v = 0; v < (size_t)FD_EXTRA; v++)
                mpfr_set_prec(F[v], q);
            mpfr_clear_inexflag();
            orc_set_prec(o, p);
            orc_constants(o);
            orc_forward(o);
            mpfr_set(F[F_F0], o->T[T_LOSS], MPFR_RNDN);
            orc_set_prec(o, q);
            orc_constants(o);
            orc_forward(o);
            mpfr_set(F[F_F0HI], o->T[T_LOSS], MPFR_RNDN);
            ga_oracle_two_prec_error(F[F_EPSF], F[F_F0HI], F[F_F0], p, mpfr_inexflag_p(),
                                     F[F_S1]);
            mag_t m = fd_moved_mag(o, k0);
            mag_forward(o); /* theta's magnitudes back */
            mag_floor(F[F_EPSF], o, m, q, F[F_S1]);
            if (o->sign)
                kink_signs(o, 1, NULL, NULL);
            fd_snapshot(o, 1, 0);
            o->fd_base_prec = p;
        }
        /* The step moves the unit's z by h times the input the entry
         * multiplies (1 for a bias): with inputs of 2^70 a step of 2^-43
         * would move z by 2^27 and the differences would measure the
         * activation's far slopes, not its derivative (Ridders' estimate
         * does not notice: the far slopes converge too). So h shrinks by
         * the largest such input over the batch, in powers of two. */
        long sh = 0;
        if (!v->is_bias) {
            size_t nin = o->nin[layer], j = o->net->desc.layout == GA_LAYOUT_COLUMN ? col : row;
            for (size_t n = 0; n < o->B; n++) {
                mpfr_srcptr in = layer ? o->A[layer - 1][n * nin + j] : o->X[n * nin + j];
                if (mpfr_regular_p(in) && mpfr_get_exp(in) - 2 > sh)
                    sh = mpfr_get_exp(in) - 2; /* |in| >= 2^(exp - 1) > 2 */
            }
        }
        /* and by the scale of the unit's z when that is below 1: the error
         * bound of f at theta +- h is taken from theta's magnitudes, which
         * holds only while the step moves them by a small part of themselves
         * (with z ~ 1e-319, a step of 2^-43 made f(theta +- h) 1e300 times
         * f(theta), and its rounding hid the difference) */
        {
            size_t no = o->nout[layer];
            const mag_t *mz = o->mz + o->B * o->zoff[layer];
            mag_t mmax = 0;
            for (size_t n = 0; n < o->B; n++)
                if (mz[n * no + unit] > mmax)
                    mmax = mz[n * no + unit];
            if (mmax > 0 && mmax < 1) {
                int e;
                frexpl(mmax, &e); /* 2^(e-1) <= mmax < 2^e, e <= 0 */
                sh += 1 - e;
            }
        }
        long kmax = k0 + NTAB + sh;
        long top = ex > 1 - k0 - sh ? ex : 1 - k0 - sh, bot = ex - 53 < -kmax ? ex - 53 : -kmax;
        long pbits = top - bot + 2; /* theta +- h exact in pbits */
        fd_swap_entry(o, i);
        mpfr_set_prec(Pi, pbits > q ? pbits : q);
        ga_diff_tableau_mpfr T;
        ga_diff_tableau_mpfr_init(&T, NTAB, tab, F[F_ERR], F[F_ANS], F[F_S1], F[F_S2], F[F_ERRT]);
        for (long r = 0; r < NTAB; r++) {
            long k = k0 + r + sh;
            mpfr_set_ui_2exp(F[F_H], 1, -k, MPFR_RNDN);
            int kinked = 0;
            size_t kl = 0, ku = 0;
            for (int side = 0; side < 2; side++) {
                mpfr_set_d(Pi, theta, MPFR_RNDN);
                int inex = side == 0 ? mpfr_add(Pi, Pi, F[F_H], MPFR_RNDN)
                                     : mpfr_sub(Pi, Pi, F[F_H], MPFR_RNDN);
                if (inex) {
                    fd_restore(o, i, layer);
                    *prec_out = q;
                    *iters_out = iters;
                    return ga_fail(err, GA_EINVAL, "oracle: internal: theta +- h not exact");
                }
                fd_forward_entry(o, layer, unit);
                if (r == 0 && o->sign && !kinked && kink_signs(o, 0, &kl, &ku))
                    kinked = 1;
                if (side == 0)
                    mpfr_set(F[F_FP], o->T[T_LOSS], MPFR_RNDN);
            }
            /* tab[0][r] = (f(theta+h) - f(theta-h)) / 2h */
            mpfr_ptr a0 = tab[r];
            ga_diff_mpfr_quotient(a0, F[F_FP], o->T[T_LOSS], k);
            if (kinked) { /* the symmetric quotient, z at theta for the message */
                char name[64];
                ga_param_name(name, sizeof name, o->net, i);
                ga_activation a = o->net->desc.layers[kl].act;
                *g = mpfr_get_d(a0, MPFR_RNDN);
                if (abserr)
                    *abserr = INFINITY;
                fd_restore(o, i, layer);
                double zc = mpfr_get_d(o->Z[kl][ku], MPFR_RNDN);
                *kink = 1;
                *prec_out = q;
                *iters_out = iters;
                return ga_fail(err, GA_EFAIL,
                               "oracle: %s: z%zu[%zu,%zu] = %.3g is within the FD step h = 2^-%ld of %s's %s",
                               name, kl + 1, ku / o->nout[kl], ku % o->nout[kl], zc, k,
                               act_kink_word(a),
                               a == GA_ACT_ELU && o->net->desc.layers[kl].act_param == 1
                                   ? "second-derivative jump" : "kink");
            }
            /* Ridders: a[j][r] = (4^j a[j-1][r] - a[j-1][r-1]) / (4^j - 1) */
            ga_diff_tableau_mpfr_push(&T);
            if (r == 0)
                continue;
            /* total = 4 err_ridders + 2 eps_f / h (ga_diff_mpfr_total) */
            ga_diff_mpfr_total(F[F_TOT], &T, F[F_EPSF], k, F[F_S1]);
            if (ga_oracle_settle(g, abserr, F[F_ANS], F[F_TOT], F[F_S1], F[F_S2])) {
                done = 1;
                break;
            }
            /* Ridders' stop: higher order got worse than the best by 2x */
            if (ga_diff_tableau_mpfr_stop(&T))
                break;
        }
        fd_restore(o, i, layer);
        long np = done || p >= op->max_prec ? 0 : next_prec(o, p, op->max_prec);
        if (!np)
            break;
        p = np;
    }
    *prec_out = q;
    *iters_out = iters;
    if (!done && bracket) {
        bracket[0] = bracket[1] = NAN;
        if (mpfr_number_p(F[F_ANS]) && mpfr_number_p(F[F_TOT])) {
            mpfr_sub(F[F_S1], F[F_ANS], F[F_TOT], MPFR_RNDD);
            mpfr_add(F[F_S2], F[F_ANS], F[F_TOT], MPFR_RNDU);
            bracket[0] = mpfr_get_d(F[F_S1], MPFR_RNDN);
            bracket[1] = mpfr_get_d(F[F_S2], MPFR_RNDN);
        }
    }
    if (!done) {
        char name[64];
        ga_param_name(name, sizeof name, o->net, i);
        return ga_fail(err, GA_EFAIL, "oracle: route (a) for %s was not settled at %ld bits", name, q);
    }
    return GA_OK;
}

static int fd_alloc(orc *o, ga_error *err, const ga_net *net, const double *params,
                    const double *x, const double *y, size_t batch, const ga_oracle_options *op)
{
    return orc_alloc(o, err, net, params, x, y, batch, 0, 0, net_has_piecewise(net), 1, 0, FD_EXTRA,
                     op->start_prec);
}

static int ga_oracle_fd_entry_in_range(double *g, double *abserr, ga_oracle_stats *stats,
                                       ga_error *err, const ga_net *net, const double *params,
                                       const double *x, const double *y, size_t batch, size_t i,
                                       const ga_oracle_options *opt)
{
    ga_oracle_options op;
    if (!g)
        return ga_fail(err, GA_EINVAL, "oracle: g output is NULL");
    int status = check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    if (i >= net->n_params)
        return ga_fail(err, GA_EINVAL, "oracle: entry %zu is outside the %zu parameters", i,
                       net->n_params);
    orc o;
    status = fd_alloc(&o, err, net, params, x, y, batch, &op);
    if (status)
        return status;
    int kink;
    long prec;
    unsigned iters;
    status = fd_run(g, abserr, NULL, &kink, &prec, &iters, err, &o, params, i, &op);
    stats_set(stats, prec, iters, status == GA_OK ? 0 : 1, 0);
    orc_free(&o);
    return status;
}

int ga_oracle_fd_entry(double *g, double *abserr, ga_oracle_stats *stats, ga_error *err,
                       const ga_net *net, const double *params, const double *x,
                       const double *y, size_t batch, size_t i,
                       const ga_oracle_options *opt)
{
    mp_range saved = mp_range_widest();
    int status = ga_oracle_fd_entry_in_range(g, abserr, stats, err, net, params, x, y, batch, i,
                                             opt);
    mp_range_restore(saved);
    return status;
}

int ga_oracle_cross_check(size_t *mismatches, size_t *checked, ga_error *err,
                          const ga_net *net, const double *params, const double *x,
                          const double *y, size_t batch, size_t count, uint64_t seed,
                          const ga_oracle_options *opt)
{
    ga_oracle_options op;
    if (!mismatches || !checked)
        return ga_fail(err, GA_EINVAL, "oracle: mismatches or checked output is NULL");
    *mismatches = *checked = 0;
    int status = check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    double *gb = malloc(net->n_params * sizeof *gb);
    if (!gb)
        return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu entries", net->n_params);
    status = ga_oracle_gradient(gb, NULL, NULL, NULL, err, net, params, x, y, batch, &op);
    if (status == GA_OK)
        status = ga_oracle_cross_check_grad(mismatches, checked, err, net, params, x, y, batch,
                                            gb, count, seed, &op);
    free(gb);
    return status;
}

/* Route (a) on a share of the sampled entries: entries first, first + step, ... */
typedef struct {
    const ga_net *net;
    const double *params, *x, *y;
    size_t batch;
    const ga_oracle_options *op;
    const size_t *idx;
    size_t m, first, step;
    double *ga;      /* (m) route (a)'s value of each entry */
    int *st, *kink;  /* (m) its status, and whether a kink stopped it */
    double *bracket; /* (m, 2) when not settled, the ends of its last interval (fd_run) */
    ga_error *errs;  /* (m) its message */
    int alloc_status;
    ga_error alloc_err;
    orc *ready;      /* a working set holding route (a)'s base at op->start_prec,
                        or NULL: the share allocates its own */
} fd_share;

static void fd_share_do(fd_share *w)
{
    mp_range saved = mp_range_widest();
    orc own, *o = w->ready;
    if (!o) {
        w->alloc_status = fd_alloc(&own, &w->alloc_err, w->net, w->params, w->x, w->y, w->batch,
                                   w->op);
        if (w->alloc_status) {
            mp_range_restore(saved);
            return;
        }
        o = &own;
    }
    for (size_t c = w->first; c < w->m; c += w->step) {
        long prec;
        unsigned iters;
        w->st[c] = fd_run(&w->ga[c], NULL, w->bracket + 2 * c, &w->kink[c], &prec, &iters,
                          &w->errs[c], o, w->params,
                          w->idx[c], w->op);
    }
    if (!w->ready)
        orc_free(&own);
    mp_range_restore(saved);
}

static void *fd_share_thread(void *arg)
{
    fd_share_do(arg);
    mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE); /* per-thread caches, as above */
    return NULL;
}

/* 1 when route (a)'s last interval, rounded to bracket[0] .. bracket[1],
 * straddles a single rounding boundary (its ends round to two neighbouring
 * doubles) and route (b)'s value gb is one of the two: the exact value lies
 * on the boundary (an exact tie, which route (b) proves exact) or nearer to
 * it than route (a)'s differences can resolve (a saturated unit's e^-|z|
 * term, whose side route (b) knows from the ternary values). Route (a) then
 * agrees with route (b) as far as it can tell: the entry is not compared,
 * as at a kink. */
static int at_boundary(const double bracket[2], double gb)
{
    return neighbours(bracket[0], bracket[1]) && (gb == bracket[0] || gb == bracket[1]);
}

/* The cross-check on two threads; ready[w] (may be NULL) is a working set
 * that already holds route (a)'s base at opt->start_prec for thread w. */
static int cross_check_run(size_t *mismatches, size_t *checked, ga_error *err, const ga_net *net,
                           const double *params, const double *x, const double *y, size_t batch,
                           const double *gb, size_t count, uint64_t seed,
                           const ga_oracle_options *opt, orc *const ready[2])
{
    ga_oracle_options op;
    if (!mismatches || !checked || !gb)
        return ga_fail(err, GA_EINVAL, "oracle: mismatches, checked or the gradient is NULL");
    *mismatches = *checked = 0;
    int status = check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    size_t n = net->n_params, m = count < n ? count : n;
    if (m == 0)
        return GA_OK;
    size_t *idx = malloc(n * sizeof *idx);
    double *ga = malloc(3 * m * sizeof *ga); /* route (a)'s values, then the brackets */
    int *st = calloc(2 * m, sizeof *st);
    ga_error *errs = calloc(m, sizeof *errs);
    if (!idx || !ga || !st || !errs) {
        free(idx), free(ga), free(st), free(errs);
        return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu entries", n);
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    uint64_t s = seed;
    for (size_t c = 0; c < m; c++) { /* partial Fisher-Yates: the sample */
        size_t r = c + (size_t)(ga_splitmix64(&s) % (n - c));
        size_t t = idx[c];
        idx[c] = idx[r];
        idx[r] = t;
    }
    /* the sample split over two threads, each with its own working set */
    fd_share share[2];
    for (int w = 0; w < 2; w++)
        share[w] = (fd_share){net, params, x, y, batch, &op, idx, m, (size_t)w, 2,
                              ga, st, st + m, ga + m, errs, GA_OK, {{0}}, ready[w]};
    pthread_t th;
    int threaded = m > 1 && pthread_create(&th, NULL, fd_share_thread, &share[1]) == 0;
    if (!threaded)
        share[0].step = 1;
    fd_share_do(&share[0]);
    if (threaded)
        pthread_join(th, NULL);
    for (int w = 0; w < 2 && !status; w++)
        if (share[w].alloc_status && (w == 0 || threaded)) {
            status = share[w].alloc_status;
            *err = share[w].alloc_err;
        }
    for (size_t c = 0; c < m && !status; c++) {
        int *kink = st + m;
        if (st[c] == GA_EFAIL && kink[c])
            continue; /* route (a) is undefined across a kink: not compared */
        if (st[c] == GA_EFAIL && at_boundary(ga + m + 2 * c, gb[idx[c]]))
            continue; /* nor where it cannot tell the side of a rounding boundary */
        if (st[c]) {
            status = st[c];
            if (err)
                *err = errs[c];
            break;
        }
        (*checked)++;
        if (!(ga[c] == gb[idx[c]]))
            (*mismatches)++;
    }
    free(idx), free(ga), free(st), free(errs);
    return status;
}

static int ga_oracle_cross_check_grad_in_range(size_t *mismatches, size_t *checked, ga_error *err,
                                               const ga_net *net, const double *params,
                                               const double *x, const double *y, size_t batch,
                                               const double *gb, size_t count, uint64_t seed,
                                               const ga_oracle_options *opt)
{
    orc *const none[2] = {NULL, NULL};
    return cross_check_run(mismatches, checked, err, net, params, x, y, batch, gb, count, seed, opt,
                           none);
}

int ga_oracle_cross_check_grad(size_t *mismatches, size_t *checked, ga_error *err,
                               const ga_net *net, const double *params, const double *x,
                               const double *y, size_t batch, const double *gb, size_t count,
                               uint64_t seed, const ga_oracle_options *opt)
{
    mp_range saved = mp_range_widest();
    int status = ga_oracle_cross_check_grad_in_range(mismatches, checked, err, net, params, x, y,
                                                     batch, gb, count, seed, opt);
    mp_range_restore(saved);
    return status;
}

/* The directions of o released (route (a) reads none) */
static void dirs_drop(orc *o)
{
    free(o->zd);
    o->zd = o->ad = o->dd = o->ddp = o->gd = o->dxd = NULL;
}

/* Route (b)'s last Ziv step as route (a)'s base (fd_run): k->hi holds the
 * forward pass at theta at q = p + GAP, k->lo's loss at p gives eps_f; k->lo
 * becomes a copy of that base, for the second thread. The copy is made here,
 * before either thread starts: route (a) on k->hi rewrites its base (and
 * may move its slab) as soon as an entry needs a second Ziv step. */
static void fd_base_from_kept(orc_kept *k)
{
    long p = k->p, q = p + GAP;
    orc *hi = &k->hi, *lo = &k->lo;
    mpfr_t *F = hi->E;
    dirs_drop(hi); /* route (a) does without: its passes skip the bookkeeping */
    dirs_drop(lo);
    for (size_t v = 0; v < (size_t)FD_EXTRA; v++)
        mpfr_set_prec(F[v], q);
    mpfr_set(F[F_F0], lo->T[T_LOSS], MPFR_RNDN); /* exact: p < q */
    mpfr_set(F[F_F0HI], hi->T[T_LOSS], MPFR_RNDN);
    ga_oracle_two_prec_error(F[F_EPSF], F[F_F0HI], F[F_F0], p, k->inexact, F[F_S1]);
    memcpy(hi->mz, lo->mz, 2 * lo->n_units * sizeof *hi->mz); /* M(z), M(a) for fd_run's step */
    hi->mloss = lo->mloss;
    mag_t m = fd_moved_mag(lo, (p + 1) / 3); /* lo's pass: as in fd_run */
    memcpy(lo->mz, hi->mz, 2 * lo->n_units * sizeof *lo->mz); /* theta's magnitudes back */
    mag_floor(F[F_EPSF], lo, m, q, F[F_S1]);
    if (hi->sign)
        kink_signs(hi, 1, NULL, NULL);
    fd_snapshot(hi, 1, 0);
    hi->fd_base_prec = p;

    orc_set_prec(lo, q);
    orc_constants(lo);
    for (size_t i = 0; i < 2 * lo->n_units; i++)
        mpfr_set(lo->S[i], hi->S[i], MPFR_RNDN);
    fd_snapshot(lo, 0, 0);
    for (size_t v = 0; v < (size_t)FD_EXTRA; v++)
        mpfr_set_prec(lo->E[v], q);
    mpfr_set(lo->E[F_EPSF], F[F_EPSF], MPFR_RNDN);
    if (lo->sign)
        memcpy(lo->sign, hi->sign, lo->n_units);
    lo->fd_base_prec = p;
}

int ga_oracle_loss_gradient_cross(double *loss, double *loss_err, double *grad, double *abserr,
                                  size_t *mismatches, size_t *checked, ga_oracle_stats *stats,
                                  ga_error *err, const ga_net *net, const double *params,
                                  const double *x, const double *y, size_t batch, size_t count,
                                  uint64_t seed, const ga_oracle_options *opt)
{
    if (!mismatches || !checked)
        return ga_fail(err, GA_EINVAL, "oracle: mismatches or checked output is NULL");
    *mismatches = *checked = 0;
    mp_range saved = mp_range_widest();
    orc_kept kept;
    int status = loss_gradient_run(loss, loss_err, grad, abserr, NULL, stats, err, net, params, x,
                                   y, batch, opt, count ? &kept : NULL);
    if (status == GA_OK && count) {
        fd_base_from_kept(&kept);
        ga_oracle_options op;
        if (opt)
            op = *opt;
        else
            ga_oracle_options_default(&op);
        op.start_prec = kept.p; /* the base's precision */
        orc *const ready[2] = {&kept.hi, &kept.lo};
        status = cross_check_run(mismatches, checked, err, net, params, x, y, batch, grad, count,
                                 seed, &op, ready);
        orc_free(&kept.lo);
        orc_free(&kept.hi);
    }
    mp_range_restore(saved);
    return status;
}
