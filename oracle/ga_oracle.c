/* ga_oracle.c: the oracle's interface (ga_oracle.h): an oracle allocated for
 * one problem, run with named flags, freed; and the entry points from before
 * it, each one allocation, one run and one free.
 *
 * The work is done in the parts orc_internal.h lists; a run picks the one
 * function of them that gives what its flags ask for (orc_run_*), with the
 * oracle's arrays as outputs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_refball.h"
#include "orc_internal.h"

#define GA_ORACLE_ALL (GA_ORACLE_LOSS | GA_ORACLE_GRADIENT | GA_ORACLE_DX | GA_ORACLE_CROSS_CHECK)

struct ga_oracle {
    const ga_net *net;
    const double *params, *x, *y; /* the caller's: (n_params), (batch, n_in), (batch, n_out) */
    size_t batch;
    ga_oracle_options opt;
    double *grad, *abserr;        /* (n_params) each, one allocation */
    double *dx;                   /* (batch, n_in) */
};

int ga_oracle_alloc(ga_oracle **o, ga_error *err, const ga_net *net, const double *params,
                    const double *x, const double *y, size_t batch,
                    const ga_oracle_options *opt)
{
    if (!o)
        return ga_fail(err, GA_EINVAL, "oracle: the address for the new oracle is NULL");
    *o = NULL;
    ga_oracle_options op;
    int status = orc_check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    size_t n = net->n_params, nx = batch * net->desc.n_in; /* checked: no overflow */
    ga_oracle *r = calloc(1, sizeof *r);
    if (r) {
        r->grad = malloc(2 * n * sizeof *r->grad);
        r->dx = malloc((nx ? nx : 1) * sizeof *r->dx);
    }
    if (!r || !r->grad || !r->dx) {
        ga_oracle_free(r);
        return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu parameters", n);
    }
    r->abserr = r->grad + n;
    r->net = net;
    r->params = params;
    r->x = x;
    r->y = y;
    r->batch = batch;
    r->opt = op;
    *o = r;
    return GA_OK;
}

void ga_oracle_free(ga_oracle *o)
{
    if (!o)
        return;
    free(o->grad);
    free(o->dx);
    free(o);
}

/* GA_ORACLE_BALL's route (b): the balls, then MPFR for what they leave */
static int run_ball(ga_oracle_result *r, ga_error *err, ga_oracle *o, unsigned flags)
{
    const ga_net *net = o->net;
    const double *P = o->params, *x = o->x, *y = o->y;
    size_t B = o->batch, n = net->n_params;
    const ga_oracle_options *op = &o->opt;
    unsigned char *ok = malloc(n ? n : 1);
    if (!ok)
        return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu parameters", n);
    double lv, le;
    int lok;
    ga_refball_stats bs;
    int chain = ga_net_desc_is_chain(&net->desc);
    /* route (a)'s base on the other core while the balls run on this one */
    orc_cross_base cb = {0};
    int cross = (flags & GA_ORACLE_CROSS_CHECK) && chain && op->cross_count > 0;
    int cross_generic = (flags & GA_ORACLE_CROSS_CHECK) && !chain && op->cross_count > 0;
    if (cross) {
        int st = orc_cross_base_start(&cb, err, net, P, x, y, B, op);
        if (st) {
            free(ok);
            return st;
        }
    }
    ga_refball_progress prog = {op->progress, op->progress_ctx};
    int status = ga_refball_loss_gradient(&lv, &le, &lok, o->grad, o->abserr, ok, &bs, err, net, P,
                                          x, y, B, op->start_prec, op->max_prec, &prog);
    r->stats = (ga_oracle_stats){.final_prec = bs.final_prec, .ziv_iterations = bs.passes};
    r->stats.unsettled = chain ? 0 : bs.unsettled;
    if (status == GA_OK && bs.unsettled && chain) { /* route (b) in MPFR for the entries left */
        double *g2 = malloc(2 * n * sizeof *g2), l2, le2;
        ga_oracle_stats s2;
        if (!g2) {
            free(ok);
            orc_cross_base_drop(&cb);
            return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu parameters", n);
        }
        ga_oracle_options quiet = *op; /* the balls told "gradient" already */
        quiet.progress = NULL;
        status = orc_run_loss_gradient(&l2, &le2, g2, g2 + n, NULL, &s2, err, net, P, x, y, B,
                                       &quiet);
        if (status == GA_OK || status == GA_EFAIL) {
            for (size_t i = 0; i < n; i++)
                if (!ok[i]) {
                    o->grad[i] = g2[i];
                    o->abserr[i] = g2[n + i];
                }
            if (!lok) {
                lv = l2;
                le = le2;
            }
            r->stats.ziv_iterations += s2.ziv_iterations;
            r->stats.unsettled = s2.unsettled;
            r->stats.boundary = s2.boundary;
            if (s2.final_prec > r->stats.final_prec)
                r->stats.final_prec = s2.final_prec;
        }
        free(g2);
    }
    free(ok);
    if (flags & GA_ORACLE_LOSS) {
        r->loss = lv;
        r->loss_err = le;
    }
    /* route (a): on a chain, the tuned MPFR passes from the base computed
     * meanwhile; on any other net, the generic forward pass in MPFR
     * (ga_refmp_route_a) after the balls, on both cores */
    if ((status == GA_OK || status == GA_EFAIL) && cross) {
        int st = orc_run_cross_check_base(&r->mismatches, &r->checked, err, &cb, o->grad,
                                          op->cross_count, op->cross_seed);
        if (st != GA_OK)
            status = st;
    } else if ((status == GA_OK || status == GA_EFAIL) && cross_generic) {
        int st = orc_run_cross_check_grad(&r->mismatches, &r->checked, err, net, P, x, y, B,
                                          o->grad, op->cross_count, op->cross_seed, op);
        if (st != GA_OK)
            status = st;
    }
    orc_cross_base_drop(&cb);
    if (flags & GA_ORACLE_GRADIENT) {
        r->grad = o->grad;
        r->abserr = o->abserr;
    }
    return status;
}

int ga_oracle_run(ga_oracle_result *r, ga_error *err, ga_oracle *o, unsigned flags)
{
    if (!r)
        return ga_fail(err, GA_EINVAL, "oracle: the result is NULL");
    if (!o)
        return ga_fail(err, GA_EINVAL, "oracle: the oracle is NULL");
    if (flags == 0 || (flags & ~(unsigned)GA_ORACLE_ALL))
        return ga_fail(err, GA_EINVAL, "oracle: flags 0x%x: or together GA_ORACLE_LOSS, "
                       "GA_ORACLE_GRADIENT, GA_ORACLE_DX and GA_ORACLE_CROSS_CHECK (at least one)",
                       flags);
    if ((flags & GA_ORACLE_DX) && !(flags & GA_ORACLE_GRADIENT))
        return ga_fail(err, GA_EINVAL, "oracle: GA_ORACLE_DX needs GA_ORACLE_GRADIENT (dL/dx "
                       "comes from its reverse pass)");
    *r = (ga_oracle_result){.loss = NAN, .loss_err = NAN};
    const ga_net *net = o->net;
    const double *P = o->params, *x = o->x, *y = o->y;
    size_t B = o->batch;
    const ga_oracle_options *op = &o->opt;
    double *loss = flags & GA_ORACLE_LOSS ? &r->loss : NULL;
    double *loss_err = flags & GA_ORACLE_LOSS ? &r->loss_err : NULL;
    double *dx = flags & GA_ORACLE_DX ? o->dx : NULL;
    int status;
    if (!ga_net_desc_is_chain(&net->desc)) {
        if (dx)
            return ga_fail(err, GA_EINVAL, "oracle: dL/dx of a net with norms or residual adds "
                           "is not computed (GA_ORACLE_DX needs a net of dense layers)");
        return run_ball(r, err, o, flags | GA_ORACLE_GRADIENT);
    }
    if (op->engine == GA_ORACLE_BALL && flags != GA_ORACLE_LOSS && !dx)
        return run_ball(r, err, o, flags);
    if (flags == GA_ORACLE_LOSS) {
        status = orc_run_loss(loss, loss_err, &r->stats, err, net, P, x, y, B, op);
    } else if (!(flags & GA_ORACLE_CROSS_CHECK)) {
        status = orc_run_loss_gradient(loss, loss_err, o->grad, o->abserr, dx, &r->stats, err, net,
                                       P, x, y, B, op);
    } else if (!dx) {
        status = orc_run_loss_gradient_cross(loss, loss_err, o->grad, o->abserr, &r->mismatches,
                                             &r->checked, &r->stats, err, net, P, x, y, B,
                                             op->cross_count, op->cross_seed, op);
    } else {
        status = orc_run_loss_gradient(loss, loss_err, o->grad, o->abserr, dx, &r->stats, err, net,
                                       P, x, y, B, op);
        if (status == GA_OK)
            status = orc_run_cross_check_grad(&r->mismatches, &r->checked, err, net, P, x, y, B,
                                              o->grad, op->cross_count, op->cross_seed, op);
    }
    if (flags & GA_ORACLE_GRADIENT) {
        r->grad = o->grad;
        r->abserr = o->abserr;
    }
    r->dx = dx;
    return status;
}

int ga_oracle_route_a(double *g, double *abserr, ga_oracle_stats *stats, ga_error *err,
                      ga_oracle *o, size_t i)
{
    if (!o)
        return ga_fail(err, GA_EINVAL, "oracle: the oracle is NULL");
    return orc_run_fd_entry(g, abserr, stats, err, o->net, o->params, o->x, o->y, o->batch, i,
                            &o->opt);
}

int ga_oracle_cross_check_against(size_t *mismatches, size_t *checked, ga_error *err,
                                  ga_oracle *o, const double *grad)
{
    if (!o)
        return ga_fail(err, GA_EINVAL, "oracle: the oracle is NULL");
    return orc_run_cross_check_grad(mismatches, checked, err, o->net, o->params, o->x, o->y,
                                    o->batch, grad, o->opt.cross_count, o->opt.cross_seed,
                                    &o->opt);
}

/* ---- the entry points from before the oracle had a state ----------------- */

int ga_oracle_loss(double *loss, double *abserr, ga_oracle_stats *stats, ga_error *err,
                   const ga_net *net, const double *params, const double *x, const double *y,
                   size_t batch, const ga_oracle_options *opt)
{
    if (!loss)
        return ga_fail(err, GA_EINVAL, "oracle: loss output is NULL");
    ga_oracle *o;
    ga_oracle_result r;
    int status = ga_oracle_alloc(&o, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    status = ga_oracle_run(&r, err, o, GA_ORACLE_LOSS);
    if (status == GA_OK || status == GA_EFAIL) {
        *loss = r.loss;
        if (abserr)
            *abserr = r.loss_err;
        if (stats)
            *stats = r.stats;
    }
    ga_oracle_free(o);
    return status;
}

int ga_oracle_loss_gradient(double *loss, double *loss_err, double *grad, double *abserr,
                            double *dx, ga_oracle_stats *stats, ga_error *err, const ga_net *net,
                            const double *params, const double *x, const double *y, size_t batch,
                            const ga_oracle_options *opt)
{
    if (!grad)
        return ga_fail(err, GA_EINVAL, "oracle: grad output is NULL");
    ga_oracle *o;
    ga_oracle_result r;
    int status = ga_oracle_alloc(&o, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    unsigned flags = GA_ORACLE_GRADIENT | (loss ? GA_ORACLE_LOSS : 0u) | (dx ? GA_ORACLE_DX : 0u);
    status = ga_oracle_run(&r, err, o, flags);
    if (status == GA_OK || status == GA_EFAIL) {
        size_t n = net->n_params;
        if (loss)
            *loss = r.loss;
        if (loss && loss_err)
            *loss_err = r.loss_err;
        memcpy(grad, r.grad, n * sizeof *grad);
        if (abserr)
            memcpy(abserr, r.abserr, n * sizeof *abserr);
        if (dx)
            memcpy(dx, r.dx, batch * net->desc.n_in * sizeof *dx);
        if (stats)
            *stats = r.stats;
    }
    ga_oracle_free(o);
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

int ga_oracle_fd_entry(double *g, double *abserr, ga_oracle_stats *stats, ga_error *err,
                       const ga_net *net, const double *params, const double *x,
                       const double *y, size_t batch, size_t i,
                       const ga_oracle_options *opt)
{
    if (!g)
        return ga_fail(err, GA_EINVAL, "oracle: g output is NULL");
    ga_oracle *o;
    int status = ga_oracle_alloc(&o, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    status = ga_oracle_route_a(g, abserr, stats, err, o, i);
    ga_oracle_free(o);
    return status;
}

int ga_oracle_cross_check(size_t *mismatches, size_t *checked, ga_error *err,
                          const ga_net *net, const double *params, const double *x,
                          const double *y, size_t batch, size_t count, uint64_t seed,
                          const ga_oracle_options *opt)
{
    if (!mismatches || !checked)
        return ga_fail(err, GA_EINVAL, "oracle: mismatches or checked output is NULL");
    *mismatches = *checked = 0;
    ga_oracle_options op = orc_options(opt);
    op.cross_count = count;
    op.cross_seed = seed;
    ga_oracle *o;
    ga_oracle_result r;
    int status = ga_oracle_alloc(&o, err, net, params, x, y, batch, &op);
    if (status)
        return status;
    status = ga_oracle_run(&r, err, o, GA_ORACLE_GRADIENT);
    if (status == GA_OK)
        status = ga_oracle_cross_check_against(mismatches, checked, err, o, r.grad);
    ga_oracle_free(o);
    return status;
}
