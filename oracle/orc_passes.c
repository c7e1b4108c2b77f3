/* orc_passes.c: the oracle's forward, loss and reverse passes in MPFR, with
 * what is known of each value against the exact one (its direction).
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
#include <mpfr.h>

#include "ga_refmp.h"
#include "orc_internal.h"

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
 * (orc_mag_kink_unsure). */

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
 * values, or'ed), as do sigmoid_mp and orc_act_elementwise. */
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
void orc_layer_affine(orc *o, size_t l, mpfr_t *in, size_t k0, size_t k1)
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
int orc_act_elementwise(mpfr_ptr a, mpfr_srcptr z, int dz, const ga_layer_desc *ld, mpfr_ptr t)
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
        mpfr_set_zero(a, 1); /* exactly 0 when the exact z <= z <= 0; else see orc_layer_act */
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
void orc_layer_act(orc *o, size_t l, size_t k0, size_t k1)
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
                int d = orc_act_elementwise(A[e], Z[e], zd ? zd[e] : GA_DIR_UNKNOWN, ld, t);
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
void orc_constants(orc *o)
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

/* Layer l's multiply-adds: B nin nout. A pass costs about that forward and
 * twice that in reverse (dW and dL/da of the layer below), whatever the
 * precision: the unit of ga_oracle_options.progress's "gradient" stage. */
static size_t layer_work(const orc *o, size_t l)
{
    return o->B * o->nin[l] * o->nout[l];
}

/* The work of one forward and reverse pass, in layer_work's units. */
size_t orc_pass_work(const orc *o)
{
    size_t w = 0;
    for (size_t l = 0; l < o->L; l++)
        w += 3 * layer_work(o, l);
    return w;
}

/* Tells p's callback (if any) how far the run is. */
void orc_progress_tell(orc_progress *p, const char *stage)
{
    if (p && p->fn)
        p->fn(p->ctx, stage, p->done < p->total ? p->done : p->total, p->total);
}

/* units more of route (b)'s pass on the calling thread done (o->prog) */
static void work_done(orc *o, size_t units)
{
    if (!o->prog)
        return;
    o->prog->done += units;
    orc_progress_tell(o->prog, "gradient");
}

/* Forward pass from layer l0 on (the layers below must hold the values of
 * the current parameters), and the loss into T[T_LOSS]. orc_constants must
 * have run. */
static void orc_forward_from(orc *o, size_t l0)
{
    for (size_t l = l0; l < o->L; l++) {
        mpfr_t *in = l == 0 ? o->X : o->A[l - 1];
        if (!o->prog) {
            orc_layer_affine(o, l, in, 0, o->nout[l]);
        } else { /* unit by unit, told: a wide layer takes seconds */
            for (size_t k = 0; k < o->nout[l]; k++) {
                orc_layer_affine(o, l, in, k, k + 1);
                work_done(o, o->B * o->nin[l]);
            }
        }
        orc_layer_act(o, l, 0, o->nout[l]);
    }
    orc_loss(o);
}

/* Forward pass and loss into T[T_LOSS]. orc_constants must have run. */
void orc_forward(orc *o)
{
    orc_forward_from(o, 0);
}

/* The loss of the output layer's z and a into T[T_LOSS]. */
void orc_loss(orc *o)
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
    case GA_LOSS_DOT: /* y a: the direction follows a's through the exact y */
        for (size_t e = 0; e < nb; e++) {
            int da = o->zd ? o->ad[o->B * o->zoff[o->L - 1] + e] : GA_DIR_UNKNOWN;
            da = mul_d_dir(t, A[e], da, y[e]);
            d = add_dir(acc, acc, d, t, da);
        }
        if (!o->zd)
            d = GA_DIR_UNKNOWN;
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
 * orc_mag_kink_unsure), except for elu with alpha = 1, whose sign is not checked
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
void orc_backward(orc *o)
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
    case GA_LOSS_DOT: /* dL/da = s y */
        for (size_t e = 0; e < nb; e++) {
            mpfr_set_d(D[e], y[e], MPFR_RNDN); /* exact: a double */
            dd[e] = (signed char)mul_dir(D[e], D[e], GA_DIR_EXACT, s, GA_DIR_EXACT);
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
            work_done(o, B * nin);
        }
        mpfr_t *out = l > 0 ? o->Dp : o->DX; /* da_prev[n,j] = sum_k W(k,j) dz[n,k] */
        signed char *outd = l > 0 ? o->ddp : o->dxd;
        if (!out) { /* layer 0 without dL/dx: the work layer_work counts is skipped */
            work_done(o, layer_work(o, l));
            continue;
        }
        for (size_t n = 0; n < B; n++, work_done(o, nin * nout))
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
