/* orc_route_a.c: route (a), one gradient entry by central differences with
 * Richardson (Ridders) extrapolation on the MPFR forward pass, which needs no
 * derivative formula: the step sizes, the forward pass from the moved unit
 * on over a snapshot of the pass at theta, the kink test of piecewise
 * layers, and orc_fd_run, its Ziv loop; orc_run_fd_entry, one entry on a
 * state of its own.
 */
#include <math.h>
#include <string.h>

#include <mpfr.h>

#include "ga_diff_mpfr.h"
#include "ga_refmp.h"
#include "orc_internal.h"

static const char *act_kink_word(ga_activation a)
{
    return a == GA_ACT_RELU ? "relu" : a == GA_ACT_LEAKY_RELU ? "leaky_relu" : "elu";
}

static int act_is_piecewise(ga_activation a)
{
    return a == GA_ACT_RELU || a == GA_ACT_LEAKY_RELU || a == GA_ACT_ELU;
}

/* 1 when some layer is piecewise: route (a) then watches the signs of z. */
int orc_net_has_piecewise(const ga_net *net)
{
    for (size_t l = 0; l < net->desc.n_layers; l++)
        if (act_is_piecewise(net->desc.layers[l].act))
            return 1;
    return 0;
}

/* Signs of the pre-activations of piecewise layers into o->sign (record), or
 * the first unit whose sign differs from the record (compare): returns 1 and
 * sets *layer, *unit. */
int orc_kink_signs(orc *o, int record, size_t *layer, size_t *unit)
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
 * raised by 2^-k0, and twice. Leaves o's magnitudes raised: orc_fd_run's step
 * sizes need theta's back. */
mag_t orc_fd_moved_mag(orc *o, long k0)
{
    o->mag_bump = ldexpl(1, (int)-k0);
    orc_mag_forward(o);
    o->mag_bump = 0;
    return 2 * o->mloss;
}

/* The base into o->S (snapshot), or o->S back into the working set for the
 * layers from l0 on. */
void orc_fd_snapshot(orc *o, int save, size_t l0)
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
        orc_layer_act(o, l, k0, k1);
        return;
    }
    size_t nout = o->nout[l], off = o->B * o->zoff[l];
    mpfr_t *Z = o->Z[l], *A = o->A[l], *zs = o->S + off, *as = o->S + o->n_units + off;
    mpfr_ptr t = o->T[T_T], u = o->T[T_U], v = o->T[T_V];
    for (size_t n = 0; n < o->B; n++)
        for (size_t k = k0; k < k1; k++) {
            size_t e = n * nout + k;
            if (!act_from_base(A[e], Z[e], zs[e], as[e], ld->act, t, u, v))
                orc_act_elementwise(A[e], Z[e], GA_DIR_UNKNOWN, ld, t);
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
 * base (see orc_fd_run). The working set holds the base below layer l and in
 * every other unit of layer l. */
static void fd_forward_entry(orc *o, size_t l, size_t k)
{
    orc_layer_affine(o, l, l == 0 ? o->X : o->A[l - 1], k, k + 1);
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
    orc_fd_snapshot(o, 0, layer);
}

/* one of the base's forward passes: at p into E[F_F0] (lo) or at q = p + GAP
 * into E[F_F0HI], leaving the working set at that precision; returns the
 * pass's inexact flag (MPFR's flags are the thread's) */
static int fd_base_pass(orc *o, long p, int hi)
{
    long q = p + GAP;
    for (size_t v = 0; v < (size_t)FD_EXTRA; v++) /* the other pass's loss kept, if there */
        if (mpfr_get_prec(o->E[v]) != q)
            mpfr_set_prec(o->E[v], q);
    mpfr_clear_inexflag();
    orc_set_prec(o, hi ? q : p);
    orc_constants(o);
    orc_forward(o);
    mpfr_set(o->E[hi ? F_F0HI : F_F0], o->T[T_LOSS], MPFR_RNDN);
    return mpfr_inexflag_p() != 0;
}

/* the base completed after its passes: E[F_EPSF] from the two precisions
 * (two_prec, the passes' inexact flag) or from none, then the running error
 * bound's floor; theta's magnitudes, the kink signs, the snapshot */
static void fd_base_finish(orc *o, long p, int two_prec, int inexact)
{
    mpfr_t *F = o->E;
    long q = p + GAP, k0 = (p + 1) / 3; /* k0: orc_fd_run's first step, 2^-k0 */
    if (two_prec) {
        ga_oracle_two_prec_error(F[F_EPSF], F[F_F0HI], F[F_F0], p, inexact, F[F_S1]);
    } else {
        mpfr_set(F[F_F0], F[F_F0HI], MPFR_RNDN);
        mpfr_set_zero(F[F_EPSF], 1);
    }
    mag_t m = orc_fd_moved_mag(o, k0);
    orc_mag_forward(o); /* theta's magnitudes back */
    orc_mag_floor(F[F_EPSF], o, m, q, F[F_S1]);
    if (o->sign)
        orc_kink_signs(o, 1, NULL, NULL);
    orc_fd_snapshot(o, 1, 0);
    o->fd_base_prec = p;
}

void orc_fd_base(orc *o, long p)
{
    int inexact = fd_base_pass(o, p, 0);
    inexact |= fd_base_pass(o, p, 1);
    fd_base_finish(o, p, 1, inexact);
}

void orc_fd_base_bound(orc *o, long p)
{
    fd_base_finish(o, p, 0, fd_base_pass(o, p, 1));
}

void orc_fd_base_copy(orc *dst, const orc *src)
{
    long p = src->fd_base_prec, q = p + GAP;
    orc_set_prec(dst, q);
    orc_constants(dst);
    for (size_t v = 0; v < (size_t)FD_EXTRA; v++)
        mpfr_set_prec(dst->E[v], q);
    for (int v = F_F0; v <= F_EPSF; v++) /* the base's losses and eps_f; exact: both at q */
        mpfr_set(dst->E[v], src->E[v], MPFR_RNDN);
    for (size_t i = 0; i < 2 * src->n_units; i++)
        mpfr_set(dst->S[i], src->S[i], MPFR_RNDN);
    memcpy(dst->mz, src->mz, 2 * src->n_units * sizeof *dst->mz); /* M(z), M(a) at theta */
    dst->mloss = src->mloss;
    orc_fd_snapshot(dst, 0, 0);
    if (dst->sign)
        memcpy(dst->sign, src->sign, src->n_units);
    dst->fd_base_prec = p;
}

/* bracket (may be NULL): when the entry is not settled, the doubles nearest
 * the ends of the last interval [ans - tot, ans + tot] (NaN if none). */
int orc_fd_run(double *g, double *abserr, double bracket[2], int *kink, long *prec_out,
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
    *kink = 0;
    unsigned iters = 0;
    long p = op->start_prec, q = p + GAP;
    int done = 0;
    for (;;) {
        iters++;
        q = p + GAP;
        long k0 = (p + 1) / 3; /* h_r = 2^-(k0 + r + sh) */
        if (o->fd_base_prec != p)
            orc_fd_base(o, p);
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
        long pbits = ga_diff_mpfr_step_bits(theta, k0 + sh, k0 + NTAB + sh);
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
                if (r == 0 && o->sign && !kinked && orc_kink_signs(o, 0, &kl, &ku))
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
            /* Ridders' row; total = 4 err_ridders + 2 eps_f / h */
            int row = ga_diff_mpfr_row_settle(g, abserr, &T, F[F_TOT], F[F_EPSF], k);
            done = row == 1;
            if (row)
                break;
        }
        fd_restore(o, i, layer);
        long np = done || p >= op->max_prec ? 0 : orc_next_prec(o, p, op->max_prec);
        if (!np)
            break;
        p = np;
    }
    *prec_out = q;
    *iters_out = iters;
    if (!done && bracket)
        ga_diff_mpfr_bracket(bracket, F[F_ANS], F[F_TOT], F[F_S1], F[F_S2]);
    if (!done) {
        char name[64];
        ga_param_name(name, sizeof name, o->net, i);
        return ga_fail(err, GA_EFAIL, "oracle: route (a) for %s was not settled at %ld bits", name, q);
    }
    return GA_OK;
}

int orc_fd_alloc(orc *o, ga_error *err, const ga_net *net, const double *params,
                 const double *x, const double *y, size_t batch, const ga_oracle_options *op)
{
    return orc_alloc(o, err, net, params, x, y, batch, 0, 0, orc_net_has_piecewise(net), 1, 0,
                     FD_EXTRA, op->start_prec);
}

static int fd_entry_in_range(double *g, double *abserr, ga_oracle_stats *stats,
                             ga_error *err, const ga_net *net, const double *params,
                             const double *x, const double *y, size_t batch, size_t i,
                             const ga_oracle_options *opt)
{
    ga_oracle_options op;
    if (!g)
        return ga_fail(err, GA_EINVAL, "oracle: g output is NULL");
    int status = orc_check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    if (i >= net->n_params)
        return ga_fail(err, GA_EINVAL, "oracle: entry %zu is outside the %zu parameters", i,
                       net->n_params);
    int kink;
    long prec;
    unsigned iters;
    if (!ga_net_desc_is_chain(&net->desc)) { /* no tuned passes: the generic forward pass */
        status = ga_refmp_route_a(g, abserr, NULL, &kink, &prec, &iters, err, net, params, x, y,
                                  batch, i, op.start_prec, op.max_prec);
        if (status == GA_OK || status == GA_EFAIL)
            orc_stats_set(stats, prec, iters, status == GA_OK ? 0 : 1, 0);
        return status;
    }
    orc o;
    status = orc_fd_alloc(&o, err, net, params, x, y, batch, &op);
    if (status)
        return status;
    status = orc_fd_run(g, abserr, NULL, &kink, &prec, &iters, err, &o, params, i, &op);
    orc_stats_set(stats, prec, iters, status == GA_OK ? 0 : 1, 0);
    orc_free(&o);
    return status;
}

int orc_run_fd_entry(double *g, double *abserr, ga_oracle_stats *stats, ga_error *err,
                     const ga_net *net, const double *params, const double *x,
                     const double *y, size_t batch, size_t i,
                     const ga_oracle_options *opt)
{
    orc_range saved = orc_range_widest();
    int status = fd_entry_in_range(g, abserr, stats, err, net, params, x, y, batch, i,
                                   opt);
    orc_range_restore(saved);
    return status;
}
