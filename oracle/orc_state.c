/* orc_state.c: the oracle's working state: the arguments every entry point
 * checks, the MPFR variables of a call (one allocation, the working set's
 * significands in one slab), the working precision, and MPFR's exponent
 * range, which the oracle widens for itself.
 *
 * The state (orc, orc_internal.h) is read and written by the passes
 * (orc_passes.c), the running error bound (orc_bound.c), the Ziv loop
 * (orc_ziv.c), route (a) (orc_route_a.c) and the cross-check (orc_cross.c).
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "ga_refball.h"
#include "ga_refmp.h"
#include "orc_internal.h"

void ga_oracle_options_default(ga_oracle_options *opt)
{
    opt->start_prec = 128;
    opt->max_prec = 8192;
    opt->cross_count = 2;
    opt->cross_seed = 1;
    opt->engine = GA_ORACLE_BALL;
    opt->progress = NULL;
    opt->progress_ctx = NULL;
}

orc_range orc_range_widest(void)
{
    orc_range saved = {mpfr_get_emin(), mpfr_get_emax()};
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    return saved;
}

void orc_range_restore(orc_range saved)
{
    mpfr_set_emin(saved.emin);
    mpfr_set_emax(saved.emax);
}

/* *opt, or the defaults (ga_oracle_options_default) when opt is NULL */
ga_oracle_options orc_options(const ga_oracle_options *opt)
{
    ga_oracle_options o;
    if (opt)
        o = *opt;
    else
        ga_oracle_options_default(&o);
    return o;
}

static const char *nonfinite_word(double v)
{
    return isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
}

/* Arguments common to every entry point. */
int orc_check_args(ga_oracle_options *o, ga_error *err, const ga_net *net,
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
    if (!status)
        status = ga_net_check_ids(err, &net->desc, x, batch);
    if (status)
        return status;
    if (np != net->n_params || !net->views || net->n_views != 2 * net->desc.n_layers)
        return ga_fail(err, GA_EINVAL, "oracle: the net's slab (%zu parameters, %zu views) does not match its description (%zu parameters, %zu layers)",
                       net->n_params, net->n_views, np, net->desc.n_layers);
    *o = orc_options(opt);
    if (!ga_net_desc_is_chain(&net->desc))
        o->engine = GA_ORACLE_BALL; /* the only engine for norms and residual adds */
    if (o->engine != GA_ORACLE_MPFR && o->engine != GA_ORACLE_BALL)
        return ga_fail(err, GA_EINVAL, "oracle: engine %d: GA_ORACLE_MPFR or GA_ORACLE_BALL",
                       o->engine);
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

void orc_free(orc *o)
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
int orc_mpfr_bytes(size_t *bytes, size_t n, long prec)
{
    size_t per = sizeof(mpfr_t) + ((size_t)prec / GMP_NUMB_BITS + 2) * sizeof(mp_limb_t);
    return ga_size_mul(bytes, n, per);
}

/* What orc_alloc allocates, counted without allocating, into *s (sizes of
 * prec + GAP bits). GA_ERANGE, with err (may be NULL) saying so, when a count
 * overflows. The one count orc_alloc and the pre-check (ga_oracle_bytes)
 * share. */
int orc_count(orc_sizes *s, ga_error *err, const ga_net_desc *d, size_t n_params, size_t B,
              int with_grad, int with_dx, int with_snapshot, size_t n_extra, long prec)
{
    memset(s, 0, sizeof *s);
    s->maxw = d->n_in;
    for (size_t l = 0; l < d->n_layers; l++) {
        s->units += d->layers[l].n_out;
        if (d->layers[l].n_out > s->maxw)
            s->maxw = d->layers[l].n_out;
    }
    if (!ga_size_mul(&s->n_units, s->units, B) ||
        (with_grad && !ga_size_mul(&s->n_delta, s->maxw, 2 * B)))
        return ga_fail(err, GA_ERANGE, "oracle: batch %zu times the layer widths overflows", B);
    size_t n_2u, w = n_params;
    int ok = ga_size_mul(&s->n_x, B, d->n_in) && ga_size_mul(&n_2u, s->n_units, 2);
    if (ok) {
        s->n_g = with_grad ? n_params : 0;
        s->n_dx = with_dx ? s->n_x : 0;
        s->n_snap = with_snapshot ? n_2u : 0;
    }
    ok = ok && ga_size_add(&w, w, s->n_x) && ga_size_add(&w, w, n_2u) &&
         ga_size_add(&w, w, s->n_snap) && ga_size_add(&w, w, s->n_delta) &&
         ga_size_add(&w, w, s->n_g) && ga_size_add(&w, w, s->n_dx) && ga_size_add(&w, w, NTMP);
    s->n_work = w;
    ok = ok && ga_size_add(&s->n_all, w, n_extra) && orc_mpfr_bytes(&s->bytes, s->n_all, prec + GAP);
    if (!ok)
        return ga_fail(err, GA_ERANGE, "oracle: the number of MPFR variables overflows");
    /* fewer than the MPFR variables of the working set: no overflow */
    s->n_mag = n_2u + s->n_delta + s->n_g + s->n_dx;
    return GA_OK;
}

int ga_oracle_bytes(size_t *bytes, const ga_net_desc *desc, size_t n_params, size_t batch,
                    const ga_oracle_options *opt, unsigned flags)
{
    ga_oracle_options op = orc_options(opt);
    /* the largest working set a run asks for: route (b)'s at start + GAP
     * (orc_ziv.c: the pair p, p + GAP; route (a)'s base kept with a cross-check) */
    int grad = (flags & (GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK)) != 0;
    int cross = (flags & GA_ORACLE_CROSS_CHECK) && op.cross_count > 0;
    int chain = ga_net_desc_is_chain(desc);
    /* the balls run for a gradient without dL/dx, and for every non-chain net */
    int balls = grad && !(flags & GA_ORACLE_DX) && (op.engine == GA_ORACLE_BALL || !chain);
    orc_sizes s = {0}; /* a non-chain net: no MPFR pass runs */
    int status = GA_OK;
    if (chain && !grad)
        status = orc_count(&s, NULL, desc, n_params, batch, 0, 0, 0, 4, op.start_prec);
    else if (chain) /* with the balls: their fallback, or route (a)'s two working sets */
        status = orc_count(&s, NULL, desc, n_params, batch, 1, (flags & GA_ORACLE_DX) != 0, cross,
                           (cross ? FD_EXTRA : 0) + 3, op.start_prec + GAP);
    size_t b = 0;
    /* the balls at the precision an exact zero makes them jump to
     * (ga_refball.c: start + 1,077 + 32 bits), which doubling may pass */
    if (status == GA_OK && balls)
        status = ga_refball_bytes(&b, desc, n_params, batch, op.start_prec + 1077 + 32 + 64);
    /* a non-chain net's cross-check: route (a) on the generic forward pass,
     * a call on each of two threads once the balls are done (ga_oracle.c):
     * the larger of the two counts */
    size_t ra = 0;
    if (status == GA_OK && cross && !chain) {
        status = ga_refmp_route_a_bytes(&ra, desc, batch, op.start_prec);
        if (status == GA_OK && !ga_size_mul(&ra, ra, 2))
            status = GA_ERANGE;
        if (ra > b)
            b = ra;
    }
    if (status == GA_OK && !ga_size_add(bytes, s.bytes, b))
        status = GA_ERANGE;
    return status;
}

/* Allocates every MPFR variable of a call: parameters, inputs, the working
 * set (with_grad: deltas and gradient; with_dx: dL/dx; with_sign: the kink
 * signs and with_snapshot: the base of route (a)) and n_extra caller
 * variables, each with room for prec + GAP bits; with_dirs, what is known of
 * every value against the exact one (GA_DIR_*). */
int orc_alloc(orc *o, ga_error *err, const ga_net *net, const double *params,
              const double *x, const double *y, size_t B, int with_grad, int with_dx,
              int with_sign, int with_snapshot, int with_dirs, size_t n_extra, long prec)
{
    memset(o, 0, sizeof *o);
    const ga_net_desc *d = &net->desc;
    /* the MPFR passes are tuned for dense chains; norms and residual adds go
     * through the generic reference (the ball engine, ga_refball.c) */
    int status = ga_net_require_chain(err, d, "the oracle's MPFR passes (route (a) and the MPFR engine)");
    if (status)
        return status;
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
    orc_sizes sz;
    status = orc_count(&sz, err, d, o->n_params, B, with_grad, with_dx, with_snapshot, n_extra,
                       prec);
    if (status) {
        orc_free(o);
        return status;
    }
    size_t units = 0, fan_in = d->n_in;
    o->maxw = sz.maxw;
    for (size_t l = 0; l < o->L; l++) {
        size_t out = d->layers[l].n_out;
        o->nin[l] = fan_in;
        o->nout[l] = out;
        o->zoff[l] = units;
        units += out;
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
    if (sz.bytes > GA_DEFAULT_MEMORY_CAP) {
        orc_free(o);
        return ga_fail(err, GA_ENOMEM, "oracle: %zu MPFR variables of %ld bits need %zu bytes, over the memory cap of %zu",
                       sz.n_all, prec + GAP, sz.bytes, (size_t)GA_DEFAULT_MEMORY_CAP);
    }
    size_t n_units = sz.n_units;
    o->all = malloc(sz.n_all * sizeof *o->all);
    o->mz = malloc((sz.n_mag ? sz.n_mag : 1) * sizeof *o->mz);
    if (with_sign)
        o->sign = malloc(n_units ? n_units : 1);
    if (with_dirs)
        o->zd = malloc(sz.n_mag ? sz.n_mag : 1); /* one dir per magnitude */
    if (!o->all || !o->mz || (with_sign && !o->sign) || (with_dirs && !o->zd)) {
        orc_free(o);
        return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu MPFR variables", sz.n_all);
    }
    o->n_all = sz.n_all;
    o->n_extra = n_extra;
    o->n_work = sz.n_work;
    o->n_units = n_units;
    slab_fit(o, prec + GAP); /* room for the first step's p + GAP */
    for (size_t i = sz.n_work; i < sz.n_all; i++)
        mpfr_init2(o->all[i], prec + GAP);
    /* the working set in orc_count's order: P, X, Z and A of each layer, D,
     * Dp, G, DX, S, T; the magnitudes (and the directions, at the same
     * places) from z on in the same order: mz, ma, md, mdp, mg, mdx */
    size_t n_d = sz.n_delta / 2; /* B maxw: D, and Dp after it */
    o->P = o->all;
    o->X = o->P + o->n_params;
    mpfr_t *w = o->X + sz.n_x;
    for (size_t l = 0; l < o->L; l++) {
        o->Z[l] = w;
        w += B * o->nout[l];
        o->A[l] = w;
        w += B * o->nout[l];
    }
    if (with_grad) {
        o->D = w;
        o->Dp = w + n_d;
        o->G = w + sz.n_delta;
    }
    w += sz.n_delta + sz.n_g;
    if (with_dx)
        o->DX = w;
    w += sz.n_dx;
    if (with_snapshot)
        o->S = w;
    w += sz.n_snap;
    o->T = w;
    o->E = w + NTMP;
    assert(o->E == o->all + sz.n_work);
    o->ma = o->mz + n_units;
    mag_t *mw = o->ma + n_units;
    if (with_grad) {
        o->md = mw;
        o->mdp = mw + n_d;
        o->mg = mw + sz.n_delta;
    }
    if (with_dx)
        o->mdx = mw + sz.n_delta + sz.n_g;
    if (o->zd) {
        o->ad = o->zd + (o->ma - o->mz);
        o->dd = with_grad ? o->zd + (o->md - o->mz) : NULL;
        o->ddp = with_grad ? o->zd + (o->mdp - o->mz) : NULL;
        o->gd = with_grad ? o->zd + (o->mg - o->mz) : NULL;
        o->dxd = with_dx ? o->zd + (o->mdx - o->mz) : NULL;
    }
    o->depth = orc_mag_depth(o, B);
    o->params = params;
    o->x = x;
    return GA_OK;
}

/* Working precision of the working set; parameters and inputs are converted
 * again, exactly (prec >= 53 holds a double), other values are lost. All
 * operands at one precision keep MPFR on its fast paths. */
void orc_set_prec(orc *o, long prec)
{
    slab_fit(o, prec);
    for (size_t i = 0; i < o->n_params; i++)
        mpfr_set_d(o->P[i], o->params[i], MPFR_RNDN);
    for (size_t i = 0; i < o->B * o->n_in; i++)
        mpfr_set_d(o->X[i], o->x[i], MPFR_RNDN);
    o->fd_base_prec = 0;
}
