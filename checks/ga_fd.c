/* ga_fd.c: finite differences of the double loss, each with an error estimate
 * that keeps truncation and rounding apart; kink crossings; the step sweep.
 *
 * Rounding estimates all use eps_L, the bound on the loss's own rounding
 * error (ga_bound's gamma_n M(L)): a difference quotient sum_k c_k L(t + s_k h)
 * / h is off by at most sum_k |c_k| eps_L / h from rounding in L. Steps are
 * made exactly representable offsets (t + h) - t, so the quotient's
 * denominator is exact (the "h trick", Numerical Recipes 2nd ed. sec. 5.7).
 * The differences themselves are core/ga_diff.h's, on the objective
 * t -> L(theta with theta_i = t) (fd_objective).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_diff.h"

struct ga_fd_ctx {
    const ga_net *net;
    const double *params; /* (n_params) the point */
    const double *x, *y;  /* (B, n_in), (B, n_out) */
    size_t batch;
    double *pw;           /* (n_params) perturbed copy */
    ga_workspace *ws;
    double loss0;
    double loss_err;      /* eps_L */
    /* kink pre-activations at the point: sign (-1, 0, +1) and value */
    size_t n_kink;        /* entries in kz / ksign */
    size_t *kink_layer_off; /* (n_layers + 1) offsets into kz per layer, (size_t)-1 if smooth */
    double *kz;           /* (n_kink) */
    signed char *ksign;   /* (n_kink) */
    /* per-call state */
    int kink;
    int crossed_far;      /* a kink pre-activation that is not 0 at the point changed sign */
    char kink_reason[160];
    int status;
    size_t evals;
    size_t entry;
    double max_abs_f;     /* largest |L| evaluated this call (eps_now) */
};

static const char *const fd_names[GA_FD_COUNT] = {"forward", "central", "gsl", "ridders"};

const char *ga_fd_method_name(ga_fd_method m)
{
    return (unsigned)m < GA_FD_COUNT ? fd_names[m] : "?";
}

static signed char sgn(double v)
{
    return v > 0 ? 1 : v < 0 ? -1 : 0;
}

void ga_fd_ctx_free(ga_fd_ctx *c)
{
    if (!c)
        return;
    ga_workspace_free(c->ws);
    free(c->pw);
    free(c->kink_layer_off);
    free(c->kz);
    free(c->ksign);
    free(c);
}

double ga_fd_ctx_loss(const ga_fd_ctx *c)
{
    return c->loss0;
}

int ga_fd_ctx_alloc(ga_fd_ctx **out, ga_error *err, const ga_net *net, const double *params,
                    const double *x, const double *y, size_t batch, double loss_err)
{
    *out = NULL;
    if (!net || !params || !x || !y || batch == 0)
        return ga_fail(err, GA_EINVAL, "ga_fd_ctx_alloc: missing net, params, data or batch");
    const ga_net_desc *d = &net->desc;
    ga_fd_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ga_fail(err, GA_ENOMEM, "out of memory for finite differences");
    c->net = net;
    c->params = params;
    c->x = x;
    c->y = y;
    c->batch = batch;
    size_t n_kink = 0;
    for (size_t l = 0; l < d->n_layers; l++)
        if (ga_activation_has_kink(d->layers[l].act, d->layers[l].act_param))
            n_kink += batch * d->layers[l].n_out;
    c->n_kink = n_kink;
    c->pw = malloc(net->n_params * sizeof *c->pw);
    c->kink_layer_off = malloc((d->n_layers + 1) * sizeof *c->kink_layer_off);
    c->kz = malloc((n_kink ? n_kink : 1) * sizeof *c->kz);
    c->ksign = malloc(n_kink ? n_kink : 1);
    if (!c->pw || !c->kink_layer_off || !c->kz || !c->ksign) {
        ga_fd_ctx_free(c);
        return ga_fail(err, GA_ENOMEM, "out of memory for finite differences (%zu parameters)",
                       net->n_params);
    }
    int status = ga_workspace_alloc(&c->ws, err, net, batch);
    if (status) {
        ga_fd_ctx_free(c);
        return status;
    }
    memcpy(c->pw, params, net->n_params * sizeof *c->pw);
    status = ga_forward(&c->loss0, c->ws, net, params, x, y, batch);
    if (status) {
        ga_fd_ctx_free(c);
        return ga_fail(err, status, "forward pass at the point failed: %s", ga_strerror(status));
    }
    size_t off = 0;
    for (size_t l = 0; l < d->n_layers; l++) {
        if (!ga_activation_has_kink(d->layers[l].act, d->layers[l].act_param)) {
            c->kink_layer_off[l] = (size_t)-1;
            continue;
        }
        c->kink_layer_off[l] = off;
        size_t m = batch * d->layers[l].n_out;
        for (size_t i = 0; i < m; i++) {
            c->kz[off + i] = c->ws->z[l][i];
            c->ksign[off + i] = sgn(c->ws->z[l][i]);
        }
        off += m;
    }
    size_t nterms = batch * d->layers[d->n_layers - 1].n_out;
    c->loss_err = loss_err > 0 ? loss_err : GA_U * fabs(c->loss0) * (double)nterms;
    *out = c;
    return GA_OK;
}

/* L at theta_i = t; notes the first kink pre-activation whose sign differs
 * from its sign at the point. Returns NaN (and sets c->status) on failure. */
static double eval_at(ga_fd_ctx *c, double t)
{
    const ga_net *net = c->net;
    const ga_net_desc *d = &net->desc;
    double L;
    c->pw[c->entry] = t;
    int status = ga_forward(&L, c->ws, net, c->pw, c->x, c->y, c->batch);
    c->pw[c->entry] = c->params[c->entry];
    c->evals++;
    if (status) {
        c->status = status;
        return NAN;
    }
    if (fabs(L) > c->max_abs_f)
        c->max_abs_f = fabs(L);
    if (c->n_kink) {
        for (size_t l = 0; l < d->n_layers; l++) {
            if (c->kink_layer_off[l] == (size_t)-1)
                continue;
            size_t no = d->layers[l].n_out, m = c->batch * no, off = c->kink_layer_off[l];
            for (size_t i = 0; i < m; i++) {
                if (sgn(c->ws->z[l][i]) == c->ksign[off + i])
                    continue;
                if (c->ksign[off + i] != 0)
                    c->crossed_far = 1;
                if (c->kink)
                    continue;
                char zname[72];
                if (c->batch == 1)
                    snprintf(zname, sizeof zname, "z%zu[%zu]", l + 1, i);
                else
                    snprintf(zname, sizeof zname, "z%zu[%zu,%zu]", l + 1, i / no,
                             i % no);
                snprintf(c->kink_reason, sizeof c->kink_reason,
                         "%s = %.3g is within the FD step of %s's kink", zname, c->kz[off + i],
                         ga_activation_name(d->layers[l].act));
                c->kink = 1;
            }
        }
    }
    return L;
}

static void begin(ga_fd_ctx *c, ga_fd_result *r, size_t i)
{
    memset(r, 0, sizeof *r);
    c->entry = i;
    c->kink = 0;
    c->kink_reason[0] = '\0';
    c->status = GA_OK;
    c->evals = 0;
    c->max_abs_f = 0.0;
}

static int finish(ga_fd_ctx *c, ga_fd_result *r, ga_error *err)
{
    r->evals = c->evals;
    r->kink = c->kink;
    memcpy(r->kink_reason, c->kink_reason, sizeof r->kink_reason);
    if (c->status)
        return ga_fail(err, c->status, "finite difference of entry %zu: forward pass failed: %s",
                       c->entry, ga_strerror(c->status));
    return GA_OK;
}

/* eps_L relative to |L|, at least u: sets the default steps */
static double rel_noise(const ga_fd_ctx *c)
{
    double r = fabs(c->loss0) > 0 ? c->loss_err / fabs(c->loss0) : GA_U;
    return r > GA_U ? r : GA_U;
}

/* The rounding error of the loss at the points evaluated so far: eps_L at
 * the point, or eps_L's relative size at the point times the largest |L|
 * evaluated, when that is larger. eps_L is the point's own bound; a step
 * can carry L far from it (a loss that underflows at the point but not a
 * step away), and the loss's rounding grows with it. */
static double eps_now(const ga_fd_ctx *c)
{
    double e = rel_noise(c) * c->max_abs_f;
    return e > c->loss_err ? e : c->loss_err;
}

/* The objective of ga_diff's routines: L at theta_i = t, with eps_now as
 * its error bound (the largest so far, which is what the rows use). */
static int fd_objective(double *fx, double *fx_err, double t, void *p)
{
    ga_fd_ctx *c = p;
    *fx = eval_at(c, t);
    *fx_err = eps_now(c);
    return c->status;
}

static void take(ga_fd_result *r, const ga_diff_result *d)
{
    r->value = d->value;
    r->trunc = d->trunc;
    r->round = d->round;
    r->h = d->h;
}

int ga_fd_entry(ga_fd_result *r, ga_error *err, ga_fd_ctx *c, ga_fd_method m, size_t i, double h)
{
    if (!r || !c || i >= c->net->n_params)
        return ga_fail(err, GA_EINVAL, "ga_fd_entry: bad arguments (entry %zu)", i);
    begin(c, r, i);
    double t = c->params[i], s = ga_diff_scale(t);
    ga_diff_fn fn = {fd_objective, c};
    ga_diff_result d;
    int status;
    switch (m) {
    case GA_FD_FORWARD:
        if (h <= 0)
            h = ga_diff_step_forward(rel_noise(c), s);
        status = ga_diff_forward(&d, &fn, t, c->loss0, c->loss_err, h);
        break;
    case GA_FD_CENTRAL:
        if (h <= 0)
            h = ga_diff_step_central(rel_noise(c), s);
        status = ga_diff_central(&d, &fn, t, h);
        break;
    case GA_FD_GSL:
        if (h <= 0)
            h = ga_diff_step_5point(rel_noise(c), s);
        status = ga_diff_5point(&d, &fn, t, h);
        break;
    case GA_FD_RIDDERS:
        if (h <= 0)
            h = GA_DIFF_H_RIDDERS * s;
        status = ga_diff_ridders(&d, &fn, t, h, 0);
        break;
    default:
        return ga_fail(err, GA_EINVAL, "unknown finite-difference method %d", (int)m);
    }
    if (!status)
        take(r, &d);
    return finish(c, r, err);
}

int ga_fd_one_sided(ga_fd_result *r, ga_error *err, ga_fd_ctx *c, size_t i, int side, double h)
{
    if (!r || !c || i >= c->net->n_params || (side != 1 && side != -1))
        return ga_fail(err, GA_EINVAL, "ga_fd_one_sided: bad arguments (entry %zu)", i);
    if (h <= 0)
        h = GA_DIFF_H_ONE_SIDED * ga_diff_scale(c->params[i]);
    /* A one-sided slope is the derivative on one side of the kinks that sit
     * at the point itself (z = 0); a step that carries any other kink
     * pre-activation across zero mixes in a second piece. Shrink the step
     * until none does (six decades at most; the last try stands). */
    size_t evals = 0;
    for (int shrink = 0;; shrink++) {
        begin(c, r, i);
        c->crossed_far = 0;
        ga_diff_fn fn = {fd_objective, c};
        ga_diff_result d;
        if (!ga_diff_ridders(&d, &fn, c->params[i], h, side))
            take(r, &d);
        evals += c->evals;
        if (!c->crossed_far || shrink == 6 || c->status)
            break;
        h /= 10;
    }
    int status = finish(c, r, err);
    r->evals = evals;
    return status;
}

/* ---- sweep --------------------------------------------------------------- */
static const char *const shape_names[] = {"V", "plateau", "unclear"};

const char *ga_sweep_shape_name(ga_sweep_shape s)
{
    return (unsigned)s <= GA_SWEEP_UNCLEAR ? shape_names[s] : "?";
}

int ga_fd_sweep(ga_sweep *out, ga_error *err, ga_fd_ctx *c, size_t i, double analytic)
{
    if (!out || !c || i >= c->net->n_params)
        return ga_fail(err, GA_EINVAL, "ga_fd_sweep: bad arguments (entry %zu)", i);
    memset(out, 0, sizeof *out);
    ga_fd_result r;
    begin(c, &r, i);
    double t = c->params[i];
    const size_t n = 23; /* 1e-1 ... 1e-12 in half decades */
    double hd[GA_SWEEP_MAX];
    ga_diff_fn fn = {fd_objective, c};
    for (size_t k = 0; k < n && !c->status; k++) {
        double h = pow(10.0, -1.0 - 0.5 * (double)k);
        out->h[k] = h;
        ga_diff_quotient(&out->fd[k], &hd[k], &fn, t, h);
        out->err[k] = fabs(out->fd[k] - analytic);
    }
    out->n = n;
    if (c->status)
        return ga_fail(err, c->status, "sweep of entry %zu: forward pass failed", i);
    /* the central difference's own error at each step: truncation from the
     * next smaller step (D(h) - D(h/sqrt10) = c h^2 (1 - 1/10)), rounding
     * 2 eps_L / (2h); the step where it is smallest is where the difference
     * is most accurate */
    double est[GA_SWEEP_MAX];
    size_t ko = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        est[k] = fabs(out->fd[k] - out->fd[k + 1]) / 0.9 + 2.0 * c->loss_err / hd[k] +
                 GA_U * fabs(out->fd[k]);
        if (est[k] < est[ko])
            ko = k;
    }
    size_t km = 0;
    for (size_t k = 1; k < n; k++)
        if (out->err[k] < out->err[km])
            km = k;
    out->argmin = km;
    out->err_min = out->err[km];
    double e_opt = out->err[ko], floor_est = est[ko];
    /* contiguous steps around the most accurate one whose error is within 2x of it */
    size_t lo = ko, hi = ko;
    while (lo > 0 && out->err[lo - 1] <= 2.0 * e_opt && out->err[lo - 1] >= 0.5 * e_opt)
        lo--;
    while (hi + 1 < n && out->err[hi + 1] <= 2.0 * e_opt && out->err[hi + 1] >= 0.5 * e_opt)
        hi++;
    out->flat = hi - lo + 1;
    /* A correct gradient's curve reaches the difference's own noise floor at
     * the most accurate step (the bottom of the V: truncation falls as h^2
     * above it, rounding rises as 1/h below); a wrong one stays at
     * |analytic - true| far above that floor over a range of steps. */
    if (e_opt <= 10.0 * floor_est) {
        out->shape = GA_SWEEP_V;
        snprintf(out->msg, sizeof out->msg,
                 "V: error falls to %.2g at h = %.0e, within the difference's own error %.2g "
                 "there, and rises on both sides: consistent with a correct gradient",
                 e_opt, out->h[ko], floor_est);
    } else if (out->flat >= 4) {
        out->shape = GA_SWEEP_PLATEAU;
        snprintf(out->msg, sizeof out->msg,
                 "plateau: error stays at %.2g over %zu steps (h = %.0e ... %.0e), %.2g times "
                 "the difference's own error: the analytic value is off by about that much",
                 e_opt, out->flat, out->h[lo], out->h[hi], e_opt / floor_est);
    } else {
        out->shape = GA_SWEEP_UNCLEAR;
        snprintf(out->msg, sizeof out->msg,
                 "unclear: error %.2g at the most accurate step h = %.0e is %.2g times the "
                 "difference's own error but flat over only %zu steps",
                 e_opt, out->h[ko], e_opt / floor_est, out->flat);
    }
    return GA_OK;
}
