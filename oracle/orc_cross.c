/* orc_cross.c: the cross-check of route (b) against route (a) on a sample
 * of entries, split over two threads, each with its own working set: of a
 * gradient the caller has (orc_run_cross_check_grad), and the cheaper form
 * that starts route (a) from route (b)'s last Ziv step instead of its own
 * forward passes (orc_run_loss_gradient_cross). On a net that is not a
 * chain, route (a) is the generic forward pass's (ga_refmp_route_a); the
 * sample, the threads and the comparison are the same.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "ga_random.h"
#include "ga_refmp.h"
#include "orc_internal.h"

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
    double *bracket; /* (m, 2) when not settled, the ends of its last interval (orc_fd_run) */
    ga_error *errs;  /* (m) its message */
    int alloc_status;
    ga_error alloc_err;
    orc *ready;      /* a working set holding route (a)'s base at op->start_prec,
                        or NULL: the share allocates its own */
    orc_progress *prog; /* the share on the calling thread: tells how far the sample is */
} fd_share;

/* Route (a) on a share of a net the tuned passes do not take (norms, adds,
 * convolutions, attention, ...): on the generic forward pass, each entry
 * with passes of its own (ga_refmp_route_a) */
static void fd_share_generic(fd_share *w)
{
    for (size_t c = w->first; c < w->m; c += w->step) {
        w->st[c] = ga_refmp_route_a(&w->ga[c], NULL, w->bracket + 2 * c, &w->kink[c], NULL,
                                    NULL, &w->errs[c], w->net, w->params, w->x, w->y, w->batch,
                                    w->idx[c], w->op->start_prec, w->op->max_prec);
        if (w->prog) {
            w->prog->done = c + w->step;
            orc_progress_tell(w->prog, "cross-check");
        }
    }
}

static void fd_share_do(fd_share *w)
{
    if (!ga_net_desc_is_chain(&w->net->desc)) {
        fd_share_generic(w);
        return;
    }
    orc_range saved = orc_range_widest();
    orc own, *o = w->ready;
    if (!o) {
        w->alloc_status = orc_fd_alloc(&own, &w->alloc_err, w->net, w->params, w->x, w->y,
                                       w->batch, w->op);
        if (w->alloc_status) {
            orc_range_restore(saved);
            return;
        }
        o = &own;
    }
    for (size_t c = w->first; c < w->m; c += w->step) {
        long prec;
        unsigned iters;
        w->st[c] = orc_fd_run(&w->ga[c], NULL, w->bracket + 2 * c, &w->kink[c], &prec, &iters,
                              &w->errs[c], o, w->params,
                          w->idx[c], w->op);
        if (w->prog) { /* the other share about as far */
            w->prog->done = c + w->step;
            orc_progress_tell(w->prog, "cross-check");
        }
    }
    if (!w->ready)
        orc_free(&own);
    orc_range_restore(saved);
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
    return orc_neighbours(bracket[0], bracket[1]) && (gb == bracket[0] || gb == bracket[1]);
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
    int status = orc_check_args(&op, err, net, params, x, y, batch, opt);
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
    orc_progress prog = {op.progress, op.progress_ctx, 0, m};
    for (int w = 0; w < 2; w++)
        share[w] = (fd_share){net, params, x, y, batch, &op, idx, m, (size_t)w, 2,
                              ga, st, st + m, ga + m, errs, GA_OK, {{0}}, ready[w],
                              w == 0 && op.progress ? &prog : NULL};
    orc_progress_tell(&prog, "cross-check");
    pthread_t th;
    int threaded = m > 1 && pthread_create(&th, NULL, fd_share_thread, &share[1]) == 0;
    if (!threaded)
        share[0].step = 1;
    fd_share_do(&share[0]);
    if (threaded)
        pthread_join(th, NULL);
    prog.done = m;
    orc_progress_tell(&prog, "cross-check");
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

static int cross_check_grad_in_range(size_t *mismatches, size_t *checked, ga_error *err,
                                     const ga_net *net, const double *params,
                                     const double *x, const double *y, size_t batch,
                                     const double *gb, size_t count, uint64_t seed,
                                     const ga_oracle_options *opt)
{
    orc *const none[2] = {NULL, NULL};
    return cross_check_run(mismatches, checked, err, net, params, x, y, batch, gb, count, seed, opt,
                           none);
}

int orc_run_cross_check_grad(size_t *mismatches, size_t *checked, ga_error *err,
                             const ga_net *net, const double *params, const double *x,
                             const double *y, size_t batch, const double *gb, size_t count,
                             uint64_t seed, const ga_oracle_options *opt)
{
    orc_range saved = orc_range_widest();
    int status = cross_check_grad_in_range(mismatches, checked, err, net, params, x, y,
                                           batch, gb, count, seed, opt);
    orc_range_restore(saved);
    return status;
}

/* The directions of o released (route (a) reads none) */
static void dirs_drop(orc *o)
{
    free(o->zd);
    o->zd = o->ad = o->dd = o->ddp = o->gd = o->dxd = NULL;
}

/* Route (b)'s last Ziv step as route (a)'s base (orc_fd_run): k->hi holds the
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
    memcpy(hi->mz, lo->mz, 2 * lo->n_units * sizeof *hi->mz); /* M(z), M(a) for orc_fd_run's step */
    hi->mloss = lo->mloss;
    mag_t m = orc_fd_moved_mag(lo, (p + 1) / 3); /* lo's pass: as in orc_fd_run */
    memcpy(lo->mz, hi->mz, 2 * lo->n_units * sizeof *lo->mz); /* theta's magnitudes back */
    orc_mag_floor(F[F_EPSF], lo, m, q, F[F_S1]);
    if (hi->sign)
        orc_kink_signs(hi, 1, NULL, NULL);
    orc_fd_snapshot(hi, 1, 0);
    hi->fd_base_prec = p;

    orc_set_prec(lo, q);
    orc_constants(lo);
    for (size_t i = 0; i < 2 * lo->n_units; i++)
        mpfr_set(lo->S[i], hi->S[i], MPFR_RNDN);
    orc_fd_snapshot(lo, 0, 0);
    for (size_t v = 0; v < (size_t)FD_EXTRA; v++)
        mpfr_set_prec(lo->E[v], q);
    mpfr_set(lo->E[F_EPSF], F[F_EPSF], MPFR_RNDN);
    if (lo->sign)
        memcpy(lo->sign, hi->sign, lo->n_units);
    lo->fd_base_prec = p;
}

int orc_run_loss_gradient_cross(double *loss, double *loss_err, double *grad, double *abserr,
                                size_t *mismatches, size_t *checked, ga_oracle_stats *stats,
                                ga_error *err, const ga_net *net, const double *params,
                                const double *x, const double *y, size_t batch, size_t count,
                                uint64_t seed, const ga_oracle_options *opt)
{
    if (!mismatches || !checked)
        return ga_fail(err, GA_EINVAL, "oracle: mismatches or checked output is NULL");
    *mismatches = *checked = 0;
    orc_range saved = orc_range_widest();
    orc_kept kept;
    int status = orc_loss_gradient_run(loss, loss_err, grad, abserr, NULL, stats, err, net, params,
                                       x, y, batch, opt, count ? &kept : NULL);
    if (status == GA_OK && count) {
        fd_base_from_kept(&kept);
        ga_oracle_options op = orc_options(opt);
        op.start_prec = kept.p; /* the base's precision */
        orc *const ready[2] = {&kept.hi, &kept.lo};
        status = cross_check_run(mismatches, checked, err, net, params, x, y, batch, grad, count,
                                 seed, &op, ready);
        orc_free(&kept.lo);
        orc_free(&kept.hi);
    }
    orc_range_restore(saved);
    return status;
}

/* ---- the cross-check of the ball engine's gradient ----
 * The ball pass runs on the calling thread; route (a)'s base, an MPFR
 * forward pass that costs more than the whole ball pass, runs meanwhile on
 * another (orc_fd_base_bound). Its loss's error is the running error bound alone: route (b)'s
 * MPFR engine has a pass at p to compare with for free, the balls do not,
 * and a second pass would cost as much again for an estimate the bound
 * already covers. The second working set copies the base. */

static void cross_base_work(orc_cross_base *cb)
{
    orc_range saved = orc_range_widest();
    cb->status = orc_fd_alloc(&cb->a, &cb->err, cb->net, cb->params, cb->x, cb->y, cb->batch,
                              &cb->op);
    if (cb->status == GA_OK)
        orc_fd_base_bound(&cb->a, cb->op.start_prec);
    orc_range_restore(saved);
}

static void *cross_base_thread(void *arg)
{
    cross_base_work(arg);
    mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE); /* per-thread caches, as above */
    return NULL;
}

int orc_cross_base_start(orc_cross_base *cb, ga_error *err, const ga_net *net,
                         const double *params, const double *x, const double *y, size_t batch,
                         const ga_oracle_options *opt)
{
    *cb = (orc_cross_base){.net = net, .params = params, .x = x, .y = y, .batch = batch};
    int status = orc_check_args(&cb->op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    cb->threaded = pthread_create(&cb->th, NULL, cross_base_thread, cb) == 0;
    cb->started = 1;
    return GA_OK;
}

/* the base's thread joined (or its work done here, when it could not start) */
static void cross_base_finish(orc_cross_base *cb)
{
    if (cb->done)
        return;
    if (cb->threaded)
        pthread_join(cb->th, NULL);
    else
        cross_base_work(cb);
    cb->done = 1;
}

void orc_cross_base_drop(orc_cross_base *cb)
{
    if (!cb->started)
        return;
    cross_base_finish(cb);
    if (cb->status == GA_OK)
        orc_free(&cb->a);
    cb->started = 0;
}

int orc_run_cross_check_base(size_t *mismatches, size_t *checked, ga_error *err,
                             orc_cross_base *cb, const double *gb, size_t count, uint64_t seed)
{
    if (!cb->started)
        return ga_fail(err, GA_EINVAL, "oracle: the cross-check's base was not started");
    cross_base_finish(cb);
    int status = cb->status;
    if (status) {
        if (err)
            *err = cb->err;
    } else {
        orc_range saved = orc_range_widest();
        orc b;
        status = orc_fd_alloc(&b, err, cb->net, cb->params, cb->x, cb->y, cb->batch, &cb->op);
        if (status == GA_OK) {
            orc_fd_base_copy(&b, &cb->a);
            orc *const ready[2] = {&cb->a, &b};
            status = cross_check_run(mismatches, checked, err, cb->net, cb->params, cb->x, cb->y,
                                     cb->batch, gb, count, seed, &cb->op, ready);
            orc_free(&b);
        }
        orc_range_restore(saved);
    }
    orc_cross_base_drop(cb);
    return status;
}
