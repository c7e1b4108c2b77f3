/* ga_refmp.c: the generic reference in MPFR (ga_refmp.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "ga_diff_mpfr.h"
#include "ga_oracle.h"
#include "ga_ops.h"
#include "ga_refmp.h"

/* The branches a pass took (route (a), ga_refmp_route_a): the sign of every
 * A_CMP in the order the pass asked them (a relu's z against 0, a max
 * pool's window order), NULL when not recorded. */
typedef struct {
    signed char *sign;
    size_t n, cap;
    int oom;           /* a sign could not be recorded: the log is incomplete */
    size_t *stage_end; /* (n_stages) n when each stage ended (A_TELL), or NULL */
    size_t n_stage;
} cmp_log;

typedef struct {
    mpfr_prec_t prec;
    mpfr_t acc, t1, t2; /* the dot accumulator, elementary functions' scratch */
    mpfr_ptr pert;      /* route (a): the value of the one parameter the pass reads
                           as NaN (theta +- h, not a double); NULL otherwise */
    cmp_log *log;       /* route (a): the branches taken, or NULL */
} refmp_ctx;

/* A datum d of the pass: a double, or (route (a)) the NaN that stands for
 * the perturbed parameter c->pert. The template reads every parameter as
 * such a datum (A_*_D, A_DOT_ADD_VD); parameters are finite (the oracle
 * refuses others), so a NaN datum is the perturbed one. */
#define IS_PERT(c, d) ((c)->pert && isnan(d))
static int refmp_set_d(refmp_ctx *c, mpfr_ptr r, double d)
{
    return IS_PERT(c, d) ? mpfr_set(r, c->pert, MPFR_RNDN) : mpfr_set_d(r, d, MPFR_RNDN);
}
static int refmp_add_d(refmp_ctx *c, mpfr_ptr r, mpfr_srcptr a, double d)
{
    return IS_PERT(c, d) ? mpfr_add(r, a, c->pert, MPFR_RNDN) : mpfr_add_d(r, a, d, MPFR_RNDN);
}
static int refmp_sub_d(refmp_ctx *c, mpfr_ptr r, mpfr_srcptr a, double d)
{
    return IS_PERT(c, d) ? mpfr_sub(r, a, c->pert, MPFR_RNDN) : mpfr_sub_d(r, a, d, MPFR_RNDN);
}
static int refmp_mul_d(refmp_ctx *c, mpfr_ptr r, mpfr_srcptr a, double d)
{
    return IS_PERT(c, d) ? mpfr_mul(r, a, c->pert, MPFR_RNDN) : mpfr_mul_d(r, a, d, MPFR_RNDN);
}
static int refmp_div_d(refmp_ctx *c, mpfr_ptr r, mpfr_srcptr a, double d)
{
    return IS_PERT(c, d) ? mpfr_div(r, a, c->pert, MPFR_RNDN) : mpfr_div_d(r, a, d, MPFR_RNDN);
}
static int refmp_d_sub(refmp_ctx *c, mpfr_ptr r, double d, mpfr_srcptr a)
{
    return IS_PERT(c, d) ? mpfr_sub(r, c->pert, a, MPFR_RNDN) : mpfr_d_sub(r, d, a, MPFR_RNDN);
}
static int refmp_d_div(refmp_ctx *c, mpfr_ptr r, double d, mpfr_srcptr a)
{
    return IS_PERT(c, d) ? mpfr_div(r, c->pert, a, MPFR_RNDN) : mpfr_d_div(r, d, a, MPFR_RNDN);
}

/* the sign of a - b, recorded when c->log is set */
static int refmp_cmp(refmp_ctx *c, mpfr_srcptr a, mpfr_srcptr b)
{
    int s = mpfr_cmp(a, b);
    cmp_log *l = c->log;
    if (l && !l->oom) {
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 256;
            signed char *t = malloc(cap);
            if (!t) {
                l->oom = 1;
                return s;
            }
            if (l->n)
                memcpy(t, l->sign, l->n);
            free(l->sign);
            l->sign = t;
            l->cap = cap;
        }
        l->sign[l->n++] = (signed char)(s > 0 ? 1 : s < 0 ? -1 : 0);
    }
    return s;
}

/* sigmoid(a) = 1/(1+exp(-a)) for a >= 0, e/(1+e) with e = exp(a) below:
 * exp of a non-positive argument only, so nothing overflows */
static void refmp_sigmoid(refmp_ctx *c, mpfr_ptr r, mpfr_srcptr a)
{
    int neg = mpfr_sgn(a) < 0;
    if (neg)
        mpfr_exp(c->t1, a, MPFR_RNDN);
    else {
        mpfr_neg(c->t1, a, MPFR_RNDN);
        mpfr_exp(c->t1, c->t1, MPFR_RNDN);
    }
    mpfr_add_ui(c->t2, c->t1, 1, MPFR_RNDN);
    if (neg)
        mpfr_div(r, c->t1, c->t2, MPFR_RNDN);
    else
        mpfr_ui_div(r, 1, c->t2, MPFR_RNDN);
}

/* softplus(a) = max(a, 0) + log1p(exp(-|a|)) */
static void refmp_softplus(refmp_ctx *c, mpfr_ptr r, mpfr_srcptr a)
{
    mpfr_abs(c->t1, a, MPFR_RNDN);
    mpfr_neg(c->t1, c->t1, MPFR_RNDN);
    mpfr_exp(c->t1, c->t1, MPFR_RNDN);
    mpfr_log1p(c->t1, c->t1, MPFR_RNDN);
    if (mpfr_sgn(a) > 0)
        mpfr_add(r, a, c->t1, MPFR_RNDN);
    else
        mpfr_set(r, c->t1, MPFR_RNDN);
}

#define REF_T __mpfr_struct
#define REF_CTX refmp_ctx
#define REF_FN(name) refmp_##name
#define A_INIT(c, r) mpfr_init2(r, (c)->prec)
#define A_CLEAR(c, r) mpfr_clear(r)
#define A_SET_D(c, r, d) refmp_set_d(c, r, d)
#define A_SET(c, r, a) mpfr_set(r, a, MPFR_RNDN)
#define A_ADD(c, r, a, b) mpfr_add(r, a, b, MPFR_RNDN)
#define A_SUB(c, r, a, b) mpfr_sub(r, a, b, MPFR_RNDN)
#define A_MUL(c, r, a, b) mpfr_mul(r, a, b, MPFR_RNDN)
#define A_DIV(c, r, a, b) mpfr_div(r, a, b, MPFR_RNDN)
#define A_ADD_D(c, r, a, d) refmp_add_d(c, r, a, d)
#define A_SUB_D(c, r, a, d) refmp_sub_d(c, r, a, d)
#define A_MUL_D(c, r, a, d) refmp_mul_d(c, r, a, d)
#define A_DIV_D(c, r, a, d) refmp_div_d(c, r, a, d)
#define A_D_ADD(c, r, d, a) refmp_add_d(c, r, a, d)
#define A_D_SUB(c, r, d, a) refmp_d_sub(c, r, d, a)
#define A_D_DIV(c, r, d, a) refmp_d_div(c, r, d, a)
#define A_NEG(c, r, a) mpfr_neg(r, a, MPFR_RNDN)
#define A_ABS(c, r, a) mpfr_abs(r, a, MPFR_RNDN)
#define A_SCALE_D(c, r, a, d) refmp_mul_d(c, r, a, d)
#define A_EXP(c, r, a) mpfr_exp(r, a, MPFR_RNDN)
#define A_EXPM1(c, r, a) mpfr_expm1(r, a, MPFR_RNDN)
#define A_LOG1P(c, r, a) mpfr_log1p(r, a, MPFR_RNDN)
#define A_TANH(c, r, a) mpfr_tanh(r, a, MPFR_RNDN)
#define A_ERFC(c, r, a) mpfr_erfc(r, a, MPFR_RNDN)
#define A_SQRT(c, r, a) mpfr_sqrt(r, a, MPFR_RNDN)
#define A_CONST_PI(c, r) mpfr_const_pi(r, MPFR_RNDN)
#define A_SIGMOID(c, r, a) refmp_sigmoid(c, r, a)
#define A_SOFTPLUS(c, r, a) refmp_softplus(c, r, a)
#define A_CMP(c, a, b) refmp_cmp(c, a, b)
/* a stage of the forward pass done: where its branches end in the log */
#define A_TELL(c)                                                                               \
    ((c)->log && (c)->log->stage_end ? (void)((c)->log->stage_end[(c)->log->n_stage++] =       \
                                                   (c)->log->n)                                 \
                                     : (void)0)
/* a logsumexp's pivot: any order gives the same exact value, no branch of
 * the function */
#define A_CMP_PIVOT(c, a, b) mpfr_cmp(a, b)
#define A_IS_ZERO_D(d) ((d) == 0.0)
#define A_DOT_T mpfr_ptr
#define A_DOT_BEGIN(c, s) (*(s) = (c)->acc, mpfr_set_zero((c)->acc, 1))
#define A_DOT_ADD_VD(c, s, a, d) (refmp_mul_d(c, (c)->t2, a, d), mpfr_add(*(s), *(s), (c)->t2, MPFR_RNDN))
#define A_DOT_ADD_VV(c, s, a, b) (mpfr_mul((c)->t2, a, b, MPFR_RNDN), mpfr_add(*(s), *(s), (c)->t2, MPFR_RNDN))
#define A_DOT_ADD_V(c, s, a) mpfr_add(*(s), *(s), a, MPFR_RNDN)
#define A_DOT_END(c, r, s) mpfr_set(r, *(s), MPFR_RNDN)
#include "ga_ref_tmpl.h"

void ga_refmp_act(mpfr_ptr value, mpfr_ptr deriv, ga_activation a, double param, mpfr_srcptr z)
{
    refmp_ctx c = {.pert = NULL, .log = NULL};
    c.prec = value ? mpfr_get_prec(value) : mpfr_get_prec(deriv);
    if (deriv && mpfr_get_prec(deriv) > c.prec)
        c.prec = mpfr_get_prec(deriv);
    mpfr_inits2(c.prec, c.acc, c.t1, c.t2, (mpfr_ptr)0);
    if (value)
        refmp_act_value(&c, value, a, param, (mpfr_ptr)z);
    if (deriv)
        refmp_act_deriv(&c, deriv, a, param, (mpfr_ptr)z);
    mpfr_clears(c.acc, c.t1, c.t2, (mpfr_ptr)0);
}

/* One pass's storage at one precision. */
typedef struct {
    refmp_ctx c;
    size_t n_val_elems, n_params, n_delta;
    __mpfr_struct *vals;   /* x, then every value (B rows each), back to back */
    __mpfr_struct **val;   /* (n_values) into vals */
    __mpfr_struct *grad;   /* (n_params) */
    __mpfr_struct *delta;  /* (2, B, max width) */
    __mpfr_struct loss;
} refmp_pass;

static void pass_clear(refmp_pass *p)
{
    if (p->vals)
        for (size_t i = 0; i < p->n_val_elems; i++)
            mpfr_clear(&p->vals[i]);
    if (p->grad)
        for (size_t i = 0; i < p->n_params; i++)
            mpfr_clear(&p->grad[i]);
    if (p->delta)
        for (size_t i = 0; i < p->n_delta; i++)
            mpfr_clear(&p->delta[i]);
    if (p->vals || p->grad) {
        mpfr_clears(p->c.acc, p->c.t1, p->c.t2, &p->loss, (mpfr_ptr)0);
    }
    free(p->vals);
    free(p->val);
    free(p->grad);
    free(p->delta);
    memset(p, 0, sizeof *p);
}

/* with_grad 0: the forward pass's values alone (route (a)) */
static int pass_init(refmp_pass *p, const ga_graph *g, size_t n_params, size_t B, long prec,
                     int with_grad)
{
    memset(p, 0, sizeof *p);
    ga_pass_sizes ps;
    if (!ga_graph_pass_sizes(&ps, g, B))
        return GA_ENOMEM;
    p->c.prec = prec;
    p->n_val_elems = ps.n_vals;
    p->n_params = with_grad ? n_params : 0;
    p->n_delta = with_grad ? ps.n_delta : 0;
    n_params = p->n_params;
    p->vals = malloc(p->n_val_elems * sizeof *p->vals);
    p->val = malloc(g->n_values * sizeof *p->val);
    p->grad = malloc((n_params ? n_params : 1) * sizeof *p->grad);
    p->delta = malloc((p->n_delta ? p->n_delta : 1) * sizeof *p->delta);
    if (!p->vals || !p->val || !p->grad || !p->delta) {
        free(p->vals);
        free(p->val);
        free(p->grad);
        free(p->delta);
        memset(p, 0, sizeof *p);
        return GA_ENOMEM;
    }
    mpfr_inits2(prec, p->c.acc, p->c.t1, p->c.t2, &p->loss, (mpfr_ptr)0);
    for (size_t i = 0; i < p->n_val_elems; i++)
        mpfr_init2(&p->vals[i], prec);
    for (size_t i = 0; i < n_params; i++)
        mpfr_init2(&p->grad[i], prec);
    for (size_t i = 0; i < p->n_delta; i++)
        mpfr_init2(&p->delta[i], prec);
    GA_GRAPH_PLACE_VALUES(p->val, p->vals, g, B);
    return GA_OK;
}

static void pass_run(refmp_pass *p, const ga_graph *g, const ga_net *net, const double *params,
                     const double *x, const double *y, size_t B)
{
    for (size_t i = 0; i < B * g->width[0]; i++)
        mpfr_set_d(&p->val[0][i], x[i], MPFR_RNDN);
    refmp_forward(&p->c, &p->loss, p->val, g, net, params, x, y, B);
    refmp_backward(&p->c, p->grad, p->val, p->delta, p->delta + p->n_delta / 2, g, net, params, x, y,
                   B, NULL);
}

/* settles hi against lo (p bits); 1 when settled */
static int settle_one(double *out, mpfr_srcptr hi, mpfr_srcptr lo, long p, mpfr_ptr e, mpfr_ptr f,
                      mpfr_ptr s1, mpfr_ptr s2)
{
    ga_oracle_two_prec_error(e, hi, lo, p, 1, f);
    return ga_oracle_settle(out, NULL, hi, e, s1, s2);
}

int ga_refmp_loss_gradient(double *loss, int *loss_settled, double *grad, unsigned char *settled,
                           ga_refmp_stats *stats, ga_error *err, const ga_net *net,
                           const double *params, const double *x, const double *y, size_t batch,
                           long max_prec)
{
    if (!grad || !net || !params || !x || !y || batch == 0 || max_prec < 128)
        return ga_fail(err, GA_EINVAL, "ga_refmp_loss_gradient: bad arguments");
    ga_graph *g;
    int status = ga_graph_from_net(&g, err, net);
    if (status)
        return status;
    mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    size_t n = net->n_params, unsettled = n + 1;
    long p = 128, last = 0;
    mpfr_t e, f, s1, s2;
    mpfr_inits2(64, e, f, s1, s2, (mpfr_ptr)0);
    for (; p <= max_prec && unsettled; p *= 2) {
        refmp_pass lo, hi;
        if (pass_init(&lo, g, n, batch, p, 1) || pass_init(&hi, g, n, batch, p + 32, 1)) {
            pass_clear(&lo);
            status = ga_fail(err, GA_ENOMEM, "generic MPFR reference: out of memory at %ld bits", p);
            break;
        }
        pass_run(&lo, g, net, params, x, y, batch);
        pass_run(&hi, g, net, params, x, y, batch);
        unsettled = 0;
        double lv;
        int ls = settle_one(&lv, &hi.loss, &lo.loss, p, e, f, s1, s2);
        unsettled += !ls;
        if (loss)
            *loss = lv;
        if (loss_settled)
            *loss_settled = ls;
        for (size_t i = 0; i < n; i++) {
            int ok = settle_one(&grad[i], &hi.grad[i], &lo.grad[i], p, e, f, s1, s2);
            unsettled += !ok;
            if (settled)
                settled[i] = (unsigned char)ok;
        }
        last = p + 32;
        pass_clear(&lo);
        pass_clear(&hi);
    }
    mpfr_clears(e, f, s1, s2, (mpfr_ptr)0);
    mpfr_set_emin(emin);
    mpfr_set_emax(emax);
    ga_graph_free(g);
    if (stats) {
        stats->final_prec = last;
        stats->unsettled = unsettled;
    }
    return status;
}

/* ---- route (a) on the generic forward pass ---------------------------- */

/* p's loss with parameter i at *pert (the NaN in pp stands for it) and the
 * branches taken in log (may be NULL); from stage st0 on (the stage that
 * reads parameter i: the earlier stages' values are p's from a pass at
 * theta), or the whole pass (st0 = 0, x set) */
static void forward_loss(refmp_pass *p, const ga_graph *g, const ga_net *net, const double *pp,
                         const double *x, const double *y, size_t B, mpfr_ptr pert, cmp_log *log,
                         size_t st0)
{
    p->c.pert = pert;
    p->c.log = log;
    if (log)
        log->n = 0, log->oom = 0, log->n_stage = 0;
    if (st0 == 0)
        for (size_t i = 0; i < B * g->width[0]; i++)
            mpfr_set_d(&p->val[0][i], x[i], MPFR_RNDN);
    refmp_forward_from(&p->c, &p->loss, p->val, g, net, pp, x, y, B, st0);
    p->c.pert = NULL;
    p->c.log = NULL;
}

/* base, a whole pass's branches with its stages' ends, from stage st0 on,
 * against side's, a pass from st0 */
static int same_branches(const cmp_log *base, const cmp_log *side, size_t st0)
{
    if (base->oom || side->oom || (st0 > 0 && base->n_stage < st0))
        return 0;
    size_t off = st0 ? base->stage_end[st0 - 1] : 0;
    return base->n - off == side->n &&
           (side->n == 0 || !memcmp(base->sign + off, side->sign, side->n));
}

/* Route (a)'s scalars, at q bits each step: the step, f(theta + h), the
 * loss's error, scratch, the tableau's value and estimate, and its
 * entries */
enum { RA_H, RA_FP, RA_EPS, RA_E1, RA_F1, RA_TOT, RA_BEST, RA_ANS, RA_S1, RA_S2, RA_ET, RA_N };
#define RA_NTAB GA_DIFF_NTAB_ORACLE

int ga_refmp_route_a(double *g, double *abserr, double bracket[2], int *kink, long *prec_out,
                     unsigned *iters_out, ga_error *err, const ga_net *net, const double *params, const double *x,
                     const double *y, size_t batch, size_t i, long start_prec, long max_prec)
{
    if (!g || !kink || !net || !params || !x || !y || batch == 0 || start_prec < 53 ||
        max_prec < start_prec)
        return ga_fail(err, GA_EINVAL, "ga_refmp_route_a: bad arguments");
    if (i >= net->n_params)
        return ga_fail(err, GA_EINVAL, "oracle: entry %zu is outside the %zu parameters", i,
                       net->n_params);
    *kink = 0;
    if (bracket)
        bracket[0] = bracket[1] = NAN;
    if (prec_out)
        *prec_out = 0;
    if (iters_out)
        *iters_out = 0;
    char name[64];
    ga_param_name(name, sizeof name, net, i);
    ga_graph *gr;
    int status = ga_graph_from_net(&gr, err, net);
    if (status)
        return status;
    size_t n = net->n_params;
    double theta = params[i];
    double *pp = malloc(n * sizeof *pp);
    mpfr_t *v = malloc((RA_N + RA_NTAB * RA_NTAB) * sizeof *v);
    cmp_log base = {0}, side = {0}; /* theta's branches with its stages' ends; a step's */
    base.stage_end = malloc((gr->n_stages ? gr->n_stages : 1) * sizeof *base.stage_end);
    if (!pp || !v || !base.stage_end) {
        free(pp), free(v), free(base.stage_end);
        ga_graph_free(gr);
        return ga_fail(err, GA_ENOMEM, "oracle: out of memory for %zu parameters", n);
    }
    memcpy(pp, params, n * sizeof *pp);
    pp[i] = NAN; /* read as the perturbed value (IS_PERT) */
    size_t row, col;
    size_t st0 = ga_net_locate(&row, &col, net, i)->layer; /* the stage that reads it */
    mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    for (size_t k = 0; k < RA_N + RA_NTAB * RA_NTAB; k++)
        mpfr_init2(v[k], 64);
    mpfr_t *tab = v + RA_N; /* tab[j * RA_NTAB + r]: extrapolation j of row r */
    mpfr_t pert;
    mpfr_init2(pert, 64);
    long p = start_prec, q = p + 32;
    int done = 0;
    status = GA_OK;
    unsigned iters = 0;
    for (;;) {
        iters++;
        q = p + 32;
        long k0 = (p + 1) / 3; /* h_r = 2^-(k0 + r + sh), as the tuned route (a) */
        for (size_t k = 0; k < RA_N + RA_NTAB * RA_NTAB; k++)
            mpfr_set_prec(v[k], q);
        refmp_pass lo, hi;
        if (pass_init(&lo, gr, n, batch, p, 0) || pass_init(&hi, gr, n, batch, q, 0)) {
            pass_clear(&lo);
            status = ga_fail(err, GA_ENOMEM, "oracle: route (a): out of memory at %ld bits", q);
            break;
        }
        /* theta's loss at p and q: its error the two precisions' difference */
        mpfr_set_prec(pert, 64);
        mpfr_set_d(pert, theta, MPFR_RNDN);
        forward_loss(&lo, gr, net, pp, x, y, batch, pert, NULL, 0);
        forward_loss(&hi, gr, net, pp, x, y, batch, pert, &base, 0);
        if (!mpfr_number_p(&hi.loss) || !mpfr_number_p(&lo.loss)) {
            pass_clear(&lo), pass_clear(&hi);
            status = ga_fail(err, GA_EFAIL, "oracle: route (a) for %s: the loss is not a number", name);
            break;
        }
        ga_oracle_two_prec_error(v[RA_EPS], &hi.loss, &lo.loss, p, 1, v[RA_F1]);
        /* The step moves what the entry multiplies by h times it: with
         * inputs of 2^70 a step of 2^-43 would measure far slopes, not the
         * derivative (Ridders' estimate does not notice). The generic pass
         * does not know which value an entry multiplies, so h shrinks by
         * the largest of them all, in powers of two. */
        long sh = 0;
        for (size_t k = 0; k < hi.n_val_elems; k++)
            if (mpfr_regular_p(&hi.vals[k]) && mpfr_get_exp(&hi.vals[k]) - 2 > sh)
                sh = mpfr_get_exp(&hi.vals[k]) - 2;
        long pbits = ga_diff_mpfr_step_bits(theta, k0 + sh, k0 + RA_NTAB + sh);
        mpfr_set_prec(pert, pbits > q ? pbits : q);
        ga_diff_tableau_mpfr T;
        ga_diff_tableau_mpfr_init(&T, RA_NTAB, tab, v[RA_BEST], v[RA_ANS], v[RA_S1], v[RA_S2],
                                  v[RA_ET]);
        int kinked = 0;
        long k = k0 + sh;
        for (long r = 0; r < RA_NTAB && !kinked; r++) {
            k = k0 + r + sh;
            mpfr_set_ui_2exp(v[RA_H], 1, -k, MPFR_RNDN);
            for (int s = 0; s < 2; s++) {
                mpfr_set_d(pert, theta, MPFR_RNDN);
                int inex = s == 0 ? mpfr_add(pert, pert, v[RA_H], MPFR_RNDN)
                                  : mpfr_sub(pert, pert, v[RA_H], MPFR_RNDN);
                if (inex) { /* pbits says it cannot be */
                    kinked = -1;
                    break;
                }
                forward_loss(&hi, gr, net, pp, x, y, batch, pert, r == 0 ? &side : NULL, st0);
                if (r == 0) {
                    /* a branch taken otherwise at theta +- h0 than at theta:
                     * a kink within the step; and the loss's error at the
                     * step's ends, where it may exceed theta's */
                    if (!same_branches(&base, &side, st0))
                        kinked = 1;
                    forward_loss(&lo, gr, net, pp, x, y, batch, pert, NULL, st0);
                    ga_oracle_two_prec_error(v[RA_E1], &hi.loss, &lo.loss, p, 1, v[RA_F1]);
                    if (mpfr_cmp(v[RA_E1], v[RA_EPS]) > 0 || mpfr_nan_p(v[RA_E1]))
                        mpfr_set(v[RA_EPS], v[RA_E1], MPFR_RNDU);
                }
                if (s == 0)
                    mpfr_set(v[RA_FP], &hi.loss, MPFR_RNDN);
            }
            if (kinked)
                break;
            /* tab[0][r] = (f(theta + h) - f(theta - h)) / 2h */
            ga_diff_mpfr_quotient(tab[r], v[RA_FP], &hi.loss, k);
            int row = ga_diff_mpfr_row_settle(g, abserr, &T, v[RA_TOT], v[RA_EPS], k);
            done = row == 1;
            if (row)
                break;
        }
        if (kinked) {
            ga_diff_mpfr_quotient(v[RA_ANS], v[RA_FP], &hi.loss, k);
            *g = mpfr_get_d(v[RA_ANS], MPFR_RNDN);
            if (abserr)
                *abserr = INFINITY;
            pass_clear(&lo), pass_clear(&hi);
            if (kinked < 0) {
                status = ga_fail(err, GA_EINVAL, "oracle: internal: theta +- h not exact");
                break;
            }
            *kink = 1;
            status = ga_fail(err, GA_EFAIL,
                             "oracle: %s: a branch of the forward pass (a relu's sign, a max "
                             "pool's largest entry) changes within the FD step h = 2^-%ld",
                             name, k);
            break;
        }
        pass_clear(&lo), pass_clear(&hi);
        if (done || p >= max_prec)
            break;
        p = 2 * p > max_prec ? max_prec : 2 * p;
    }
    if (status == GA_OK && !done) {
        if (bracket)
            ga_diff_mpfr_bracket(bracket, v[RA_ANS], v[RA_TOT], v[RA_S1], v[RA_S2]);
        *g = mpfr_get_d(v[RA_ANS], MPFR_RNDN);
        if (abserr)
            *abserr = mpfr_get_d(v[RA_TOT], MPFR_RNDU);
        status = ga_fail(err, GA_EFAIL, "oracle: route (a) for %s was not settled at %ld bits",
                         name, q);
    }
    if (prec_out)
        *prec_out = q;
    if (iters_out)
        *iters_out = iters;
    free(base.sign), free(side.sign), free(base.stage_end);
    mpfr_clear(pert);
    for (size_t k = 0; k < RA_N + RA_NTAB * RA_NTAB; k++)
        mpfr_clear(v[k]);
    free(v), free(pp);
    mpfr_set_emin(emin);
    mpfr_set_emax(emax);
    ga_graph_free(gr);
    return status;
}

int ga_refmp_route_a_bytes(size_t *bytes, const ga_net_desc *d, size_t batch, long prec)
{
    ga_pass_sizes ps;
    int status = ga_desc_pass_sizes(&ps, d, batch);
    if (status)
        return status;
    /* an MPFR variable: its struct, its limbs and the size MPFR keeps
     * before them */
    size_t lo = sizeof(__mpfr_struct) + ((size_t)prec / 64 + 2) * sizeof(mp_limb_t);
    size_t hi = sizeof(__mpfr_struct) + ((size_t)(prec + 32) / 64 + 2) * sizeof(mp_limb_t);
    size_t a, b;
    int ok = ga_size_mul(&a, ps.n_vals, lo) && ga_size_mul(&b, ps.n_vals, hi) &&
             ga_size_add(bytes, a, b);
    return ok ? GA_OK : GA_ERANGE;
}
