/* ga_fast.c: directional checks and localisation by bisection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ga_diff.h"
#include "ga_fast.h"
#include "ga_random.h"
#include "ga_rounding.h"


void ga_fast_options_default(ga_fast_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->n_directions = 2;
    opt->seed = 1;
    opt->max_bad = 16;
    opt->confirm_with_oracle = 1;
    ga_oracle_options_default(&opt->oracle);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64's mix of one value (core/ga_random.h) */
static uint64_t mix(uint64_t z)
{
    return ga_splitmix64(&z);
}

/* v_i = +-1 (Rademacher) for direction d: every entry's error shows with
 * weight 1, and no entry hides behind a tiny weight */
static double v_of(uint64_t dir_seed, size_t i)
{
    return (mix(dir_seed ^ mix(i)) >> 63) ? 1.0 : -1.0;
}

typedef struct {
    const ga_net *net;
    const double *params, *x, *y, *g;
    size_t batch;
    double *pw;           /* (n_params) perturbed copy */
    ga_workspace *ws;
    const ga_bound *bound;
    const ga_rounding *rounding;
    double *v;            /* (n_params) the current direction, 0 outside the block */
    double loss_err;      /* rounding bound of one loss evaluation */
    size_t passes;
    int status;
    int crossed;          /* an evaluation moved a pre-activation across a kink */
    size_t *pool_arg;     /* the max pools' window winners at theta, layer after layer */
} fast_ctx;

/* The winners of max-pool layer l's windows (B, n_out of them) in the
 * workspace's last forward pass: recorded into arg, or compared with it
 * (returns 1 when one differs). */
static int pool_winners(size_t *arg, int record, const fast_ctx *c, size_t l)
{
    const ga_net_desc *d = &c->net->desc;
    const ga_geom *g = &d->layers[l].geom;
    size_t wi = g->c * g->h * g->w, e = 0;
    for (size_t n = 0; n < c->batch; n++) {
        const double *xr = (l == 0 ? c->x : c->ws->a[l - 1]) + n * wi;
        for (size_t ci = 0; ci < g->c; ci++)
            for (size_t i = 0; i < g->ho; i++)
                for (size_t j = 0; j < g->wo; j++, e++) {
                    size_t w = ga_pool_argmax(xr, g, ci, i, j);
                    if (record)
                        arg[e] = w;
                    else if (arg[e] != w)
                        return 1;
                }
    }
    return 0;
}

/* 1 when some pre-activation of a layer with a kink has a different sign
 * from the one it has at theta (kept in ga_bound's copy of z). */
static int crossed_kink(const fast_ctx *c)
{
    const ga_net_desc *d = &c->net->desc;
    for (size_t l = 0; l < d->n_layers; l++) {
        if (!ga_activation_has_kink(d->layers[l].act, d->layers[l].act_param))
            continue;
        const double *z0 = c->bound->z[l], *z = c->ws->z[l];
        for (size_t i = 0; i < c->batch * d->layers[l].n_out; i++)
            if ((z0[i] > 0) != (z[i] > 0))
                return 1;
    }
    /* a max pool whose window changes its winner is a kink as well */
    size_t k = 0;
    for (size_t l = 0; c->pool_arg && l < d->n_layers; l++) {
        if (d->layers[l].kind != GA_LAYER_MAXPOOL)
            continue;
        if (pool_winners(c->pool_arg + k, 0, c, l))
            return 1;
        k += c->batch * d->layers[l].n_out;
    }
    return 0;
}

/* phi(t) = L(theta + t v_S); *rep receives sum |g_i| |step_i - t v_i| over S */
static double phi(fast_ctx *c, uint64_t dir, size_t lo, size_t hi, double t, double *rep)
{
    double r = 0.0;
    for (size_t i = lo; i < hi; i++) {
        double v = v_of(dir, i);
        c->pw[i] = c->params[i] + t * v;
        r += fabs(c->g[i]) * fabs((c->pw[i] - c->params[i]) - t * v);
    }
    double L;
    int status = ga_forward(&L, c->ws, c->net, c->pw, c->x, c->y, c->batch);
    memcpy(c->pw + lo, c->params + lo, (hi - lo) * sizeof *c->pw);
    c->passes++;
    *rep = r;
    if (status) {
        c->status = status;
        return NAN;
    }
    if (crossed_kink(c))
        c->crossed = 1;
    return L;
}

/* Ridders' extrapolation of central differences of phi (core/ga_diff.h's
 * tableau, steps h, h/1.4, ...). phi's argument t is exact, so the quotient
 * divides by 2h itself; each row's rounding is the loss's error and the
 * steps' representation error (rep) over 2h, plus the quotient's own
 * rounding, carried through the tableau's weights. Stops at the first
 * failing forward pass (c->status). */
static void ridders_dir(fast_ctx *c, uint64_t dir, size_t lo, size_t hi, double h, double *value,
                        double *trunc, double *round)
{
    ga_diff_tableau t;
    ga_diff_tableau_init(&t, GA_DIFF_NTAB, GA_DIFF_CON * GA_DIFF_CON, GA_DIFF_SAFE);
    double loss_err = c->loss_err;
    for (double hh = h;; hh /= GA_DIFF_CON) {
        double rp, rm, fp = phi(c, dir, lo, hi, hh, &rp);
        if (c->status)
            break;
        double fm = phi(c, dir, lo, hi, -hh, &rm);
        if (c->status)
            break;
        double a0 = (fp - fm) / (2.0 * hh);
        if (ga_diff_tableau_add(&t, a0, (2.0 * loss_err + rp + rm) / (2.0 * hh) + GA_U * fabs(a0)))
            break;
    }
    *value = t.ans;
    *trunc = isfinite(t.best) ? t.best : fabs(t.ans);
    *round = t.ans_round;
}

/* One directional check on block [lo, hi): 1 when it disagrees. */
static int directional(fast_ctx *c, uint64_t dir, size_t lo, size_t hi, double *va, double *vr,
                       double *tol)
{
    double dot = 0.0, mag = 0.0, eb = 0.0, sq = 0.0;
    for (size_t i = lo; i < hi; i++) {
        double v = v_of(dir, i);
        c->v[i] = v;
        dot += v * c->g[i];
        mag += fabs(c->g[i]);
        eb += c->bound->grad_err[i];
        sq += c->params[i] * c->params[i];
    }
    double n = (double)(hi - lo);
    double gamma = n * GA_U / (1.0 - n * GA_U);
    /* rounding of v.g: the worst case (every entry's bound, plus the dot
     * product's own rounding) or LAMBDA times the spread of v.g over the
     * Monte Carlo runs, whichever is smaller (ga_rounding.h) */
    double analytic_err = fmin(eb + gamma * mag,
                               GA_ROUNDING_LAMBDA * ga_rounding_sigma_dot(c->rounding, c->v, lo, hi) +
                                   gamma * mag);
    /* step: |t v|_2 = t sqrt(n) about 0.1 times the block's parameter scale
     * (their root mean square, within [2^-10, 1]), so phi stays near its
     * quadratic model: parameters of 0.02 (an embedding's) feeding a layer
     * norm curve the loss on that scale, and a step of 0.1 there misleads
     * Ridders' error estimate (a correct entry named, checks/test_fast.c) */
    double scale = fmin(1.0, fmax(sqrt(sq / n), 0x1p-10));
    double h = 0.1 * scale / sqrt(n);
    double fd, trunc, round;
    /* phi is smooth only between kinks: shrink the step until no evaluation
     * moves a pre-activation of relu, leaky_relu or elu across zero. A
     * pre-activation that stays within reach at h = 2^-40 is at the kink
     * itself: the direction has no derivative there and the check is not
     * counted as a failure (*tol = INFINITY marks it). */
    for (int shrink = 0;; shrink++) {
        c->crossed = 0;
        ridders_dir(c, dir, lo, hi, h, &fd, &trunc, &round);
        if (!c->crossed || c->status)
            break;
        if (shrink == 10) {
            *va = dot, *vr = fd, *tol = INFINITY;
            return 0;
        }
        h /= 16;
    }
    *va = dot;
    *vr = fd;
    *tol = analytic_err + trunc + round;
    if (!isfinite(dot) || !isfinite(fd))
        return 1;
    return fabs(dot - fd) > *tol;
}

typedef struct {
    fast_ctx *c;
    ga_fast_report *r;
    const ga_fast_options *opt;
    size_t cap;
} localiser;

static int add_candidate(localiser *L, size_t i)
{
    ga_fast_report *r = L->r;
    if (r->n_bad == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 8;
        ga_fast_entry *b = realloc(r->bad, cap * sizeof *b);
        if (!b)
            return GA_ENOMEM;
        r->bad = b, L->cap = cap;
    }
    ga_fast_entry *e = &r->bad[r->n_bad++];
    memset(e, 0, sizeof *e);
    e->index = i;
    e->analytic = L->c->g[i];
    ga_param_name(e->name, sizeof e->name, L->c->net, i);
    return GA_OK;
}

/* Bisect [lo, hi), known to fail along dir. */
static int localise(localiser *L, uint64_t dir, size_t lo, size_t hi)
{
    if (L->r->n_bad >= L->opt->max_bad) {
        L->r->truncated = 1;
        return GA_OK;
    }
    if (hi - lo == 1)
        return add_candidate(L, lo);
    size_t mid = lo + (hi - lo) / 2;
    double va, vr, tol;
    int left = directional(L->c, dir, lo, mid, &va, &vr, &tol);
    int right = directional(L->c, dir, mid, hi, &va, &vr, &tol);
    L->r->n_checks += 2;
    if (L->c->status)
        return L->c->status;
    if (!left && !right) {
        /* The parent's disagreement does not show in either half (a marginal
         * error split across both): every entry of a small block is
         * confirmed individually; a large one is bisected on both sides. */
        if (hi - lo <= 8) {
            for (size_t i = lo; i < hi; i++) {
                int s = add_candidate(L, i);
                if (s)
                    return s;
            }
            return GA_OK;
        }
        left = right = 1;
    }
    int s = left ? localise(L, dir, lo, mid) : GA_OK;
    if (!s && right)
        s = localise(L, dir, mid, hi);
    return s;
}

int ga_fast_check(ga_fast_report **out, ga_error *err, const ga_net *net,
                  const double *params, const double *x, const double *y, size_t batch,
                  const ga_fast_options *opt_in)
{
    *out = NULL;
    if (!net || !params || !x || !y || batch == 0)
        return ga_fail(err, GA_EINVAL, "fast check: a required argument is missing");
    ga_fast_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        ga_fast_options_default(&opt);
    if (opt.n_directions == 0)
        opt.n_directions = 1;
    size_t n = net->n_params;
    fast_ctx c = {net, params, x, y, NULL, batch, NULL, NULL, NULL, NULL, NULL, 0, 0, GA_OK, 0, NULL};
    ga_bound *bound = NULL;
    ga_rounding *rounding = NULL;
    double *g = NULL;
    ga_fast_report *r = calloc(1, sizeof *r);
    c.pw = malloc(n * sizeof *c.pw);
    c.v = calloc(n, sizeof *c.v);
    g = malloc(n * sizeof *g);
    int status = !r || !c.pw || !c.v || !g ? GA_ENOMEM : GA_OK;
    if (!status) {
        r->n_directions = opt.n_directions;
        r->seed = opt.seed;
        r->dir_analytic = calloc(opt.n_directions, sizeof(double));
        r->dir_reference = calloc(opt.n_directions, sizeof(double));
        r->dir_tol = calloc(opt.n_directions, sizeof(double));
        if (!r->dir_analytic || !r->dir_reference || !r->dir_tol)
            status = GA_ENOMEM;
    }
    if (status) {
        ga_fail(err, status, "fast check: out of memory for %zu parameters", n);
        goto done;
    }
    memcpy(c.pw, params, n * sizeof *c.pw);
    double t0 = seconds_now();
    if ((status = ga_workspace_alloc(&c.ws, err, net, batch)) ||
        (status = ga_bound_alloc(&bound, err, net, batch)) ||
        (status = ga_bound_compute(bound, err, c.ws, net, params, x, y, batch)) ||
        (status = ga_rounding_alloc(&rounding, err, net, batch, GA_ROUNDING_RUNS)) ||
        (status = ga_rounding_compute(rounding, err, net, params, x, y, batch, opt.seed)))
        goto done;
    c.bound = bound;
    c.rounding = rounding;
    size_t n_win = 0; /* the max pools' windows, recorded at theta (ga_bound_compute's pass) */
    for (size_t l = 0; l < net->desc.n_layers; l++)
        if (net->desc.layers[l].kind == GA_LAYER_MAXPOOL)
            n_win += batch * net->desc.layers[l].n_out;
    if (n_win) {
        if (!(c.pool_arg = malloc(n_win * sizeof *c.pool_arg))) {
            status = ga_fail(err, GA_ENOMEM, "fast check: out of memory for %zu pool windows", n_win);
            goto done;
        }
        for (size_t l = 0, k = 0; l < net->desc.n_layers; l++)
            if (net->desc.layers[l].kind == GA_LAYER_MAXPOOL) {
                pool_winners(c.pool_arg + k, 1, &c, l);
                k += batch * net->desc.layers[l].n_out;
            }
    }
    c.loss_err = fmin(bound->loss_err, GA_ROUNDING_LAMBDA * rounding->loss_sigma);
    for (size_t i = 0; i < n; i++)
        bound->grad_err[i] = fmin(bound->grad_err[i], GA_ROUNDING_LAMBDA * rounding->sigma[i]);
    if (opt.analytic) {
        memcpy(g, opt.analytic, n * sizeof *g);
    } else if ((status = ga_backward(g, NULL, c.ws, net, params, x, y, batch))) {
        ga_fail(err, status, "fast check: backward pass failed: %s", ga_strerror(status));
        goto done;
    }
    c.g = g;
    c.passes = 1; /* the forward pass of ga_bound_compute */
    double t1 = seconds_now();
    r->seconds_setup = t1 - t0;

    int failed_dir = -1;
    for (size_t d = 0; d < opt.n_directions; d++) {
        int bad = directional(&c, mix(opt.seed + d), 0, n, &r->dir_analytic[d],
                              &r->dir_reference[d], &r->dir_tol[d]);
        r->n_checks++;
        if (c.status)
            break;
        if (bad && failed_dir < 0)
            failed_dir = (int)d;
    }
    r->detect_passes = c.passes;
    double t2 = seconds_now();
    r->seconds_detect = t2 - t1;
    if (c.status) {
        status = ga_fail(err, c.status, "fast check: forward pass failed: %s", ga_strerror(c.status));
        goto done;
    }
    if (failed_dir >= 0) {
        r->failed = r->disagreed = 1;
        localiser L = {&c, r, &opt, 0};
        if ((status = localise(&L, mix(opt.seed + (uint64_t)failed_dir), 0, n))) {
            ga_fail(err, status, "fast check: localisation failed: %s", ga_strerror(status));
            goto done;
        }
        double t3 = seconds_now();
        r->seconds_localise = t3 - t2;
        /* confirm each named entry on its own: the MPFR oracle's route (a),
         * or Ridders' differences in double with their own error estimate */
        ga_fd_ctx *fd = NULL;
        ga_oracle *orc = NULL;
        if (opt.confirm_with_oracle
                ? (status = ga_oracle_alloc(&orc, err, net, params, x, y, batch, &opt.oracle))
                : (status = ga_fd_ctx_alloc(&fd, err, net, params, x, y, batch, c.loss_err)))
            goto done;
        for (size_t k = 0; k < r->n_bad; k++) {
            ga_fast_entry *e = &r->bad[k];
            double ref, ref_err;
            if (opt.confirm_with_oracle) {
                status = ga_oracle_route_a(&ref, &ref_err, NULL, err, orc, e->index);
                if (status == GA_EFAIL) /* at a kink: the quotient stands, unsettled */
                    status = GA_OK;
            } else {
                ga_fd_result fr;
                status = ga_fd_entry(&fr, err, fd, GA_FD_RIDDERS, e->index, 0);
                ref = fr.value, ref_err = fr.trunc + fr.round;
            }
            if (status) {
                ga_fd_ctx_free(fd);
                ga_oracle_free(orc);
                goto done;
            }
            e->reference = ref;
            e->ref_err = ref_err;
            e->tol = bound->grad_err[e->index] + ref_err;
            char reason[128];
            e->confirmed = ga_compare(reason, sizeof reason, e->analytic, ref, e->tol) ==
                           GA_VERDICT_FAIL;
        }
        size_t confirmed = 0;
        for (size_t k = 0; k < r->n_bad; k++)
            confirmed += r->bad[k].confirmed;
        if (!confirmed && orc) {
            /* Nothing localised is wrong: finite differences misled the
             * directions (a curved loss, a step the error estimate misjudged),
             * or the error is in entries bisection did not reach. The oracle's
             * whole gradient decides: every entry outside its tolerance is
             * named and confirmed, and none means a pass. */
            ga_oracle_result res;
            status = ga_oracle_run(&res, err, orc, GA_ORACLE_GRADIENT);
            if (status != GA_OK && status != GA_EFAIL) {
                ga_fd_ctx_free(fd);
                ga_oracle_free(orc);
                goto done;
            }
            status = GA_OK;
            r->n_bad = 0;
            r->truncated = 0;
            r->by_whole_oracle = 1;
            localiser L = {&c, r, &opt, 0};
            free(r->bad); /* add_candidate grows it again from nothing */
            r->bad = NULL;
            for (size_t i = 0; i < n && !status; i++) {
                double tol = bound->grad_err[i] + res.abserr[i];
                char reason[128];
                if (ga_compare(reason, sizeof reason, g[i], res.grad[i], tol) != GA_VERDICT_FAIL)
                    continue;
                if (r->n_bad >= opt.max_bad) {
                    r->truncated = 1;
                    break;
                }
                if ((status = add_candidate(&L, i)))
                    break;
                ga_fast_entry *e = &r->bad[r->n_bad - 1];
                e->reference = res.grad[i];
                e->ref_err = res.abserr[i];
                e->tol = tol;
                e->confirmed = 1;
            }
            r->failed = r->n_bad > 0;
            r->cleared = !r->failed;
            if (status) {
                ga_fd_ctx_free(fd);
                ga_oracle_free(orc);
                goto done;
            }
        }
        ga_fd_ctx_free(fd);
        ga_oracle_free(orc);
        r->seconds_confirm = seconds_now() - t3;
    }
    r->forward_passes = c.passes;
    *out = r;
    r = NULL;
done: /* the one cleanup; *out is set on success only */
    ga_bound_free(bound);
    ga_rounding_free(rounding);
    ga_workspace_free(c.ws);
    free(c.pool_arg);
    free(c.v);
    free(c.pw);
    free(g);
    ga_fast_report_free(r);
    return *out ? GA_OK : status ? status : GA_EINVAL;
}

void ga_fast_report_free(ga_fast_report *r)
{
    if (!r)
        return;
    free(r->dir_analytic);
    free(r->dir_reference);
    free(r->dir_tol);
    free(r->bad);
    free(r);
}

int ga_fast_report_print(FILE *f, const ga_fast_report *r)
{
    size_t confirmed = 0;
    for (size_t k = 0; k < r->n_bad; k++)
        confirmed += r->bad[k].confirmed;
    fprintf(f, "fast check: %zu direction(s), seed %llu: %s\n", r->n_directions,
            (unsigned long long)r->seed,
            r->failed ? "FAIL" : r->cleared ? "pass (a direction disagreed; the oracle clears every entry)"
                                            : "pass");
    for (size_t d = 0; d < r->n_directions; d++)
        fprintf(f, "  direction %zu: v.g = %.17g, d/dt L(theta + t v) = %.17g, |diff| = %.3g, tol %.3g\n",
                d, r->dir_analytic[d], r->dir_reference[d],
                fabs(r->dir_analytic[d] - r->dir_reference[d]), r->dir_tol[d]);
    fprintf(f, "  forward passes: %zu to detect, %zu in all (%zu directional checks)\n",
            r->detect_passes, r->forward_passes, r->n_checks);
    fprintf(f, "  seconds: %.3f set-up, %.3f detection, %.3f localisation, %.3f confirmation\n",
            r->seconds_setup, r->seconds_detect, r->seconds_localise, r->seconds_confirm);
    if (r->failed) {
        if (r->by_whole_oracle)
            fprintf(f, "  no localised entry was wrong; the oracle's whole gradient names %zu entr%s%s\n",
                    r->n_bad, r->n_bad == 1 ? "y" : "ies", r->truncated ? ", stopped at the limit" : "");
        else
            fprintf(f, "  localised %zu entr%s (%zu confirmed by the oracle entry by entry)%s\n",
                    r->n_bad, r->n_bad == 1 ? "y" : "ies", confirmed,
                    r->truncated ? ", stopped at the limit" : "");
        for (size_t k = 0; k < r->n_bad; k++) {
            const ga_fast_entry *e = &r->bad[k];
            fprintf(f, "    %-14s analytic %.17g oracle %.17g |diff| %.3g tol %.3g %s\n", e->name,
                    e->analytic, e->reference, fabs(e->analytic - e->reference), e->tol,
                    e->confirmed ? "FAIL" : "not confirmed");
        }
    }
    return ferror(f) ? GA_EIO : GA_OK;
}
