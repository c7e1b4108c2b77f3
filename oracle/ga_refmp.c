/* ga_refmp.c: the generic reference in MPFR (ga_refmp.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "ga_oracle.h"
#include "ga_ops.h"
#include "ga_refmp.h"

typedef struct {
    mpfr_prec_t prec;
    mpfr_t acc, t1, t2; /* the dot accumulator, elementary functions' scratch */
} refmp_ctx;

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
#define A_SET_D(c, r, d) mpfr_set_d(r, d, MPFR_RNDN)
#define A_SET(c, r, a) mpfr_set(r, a, MPFR_RNDN)
#define A_ADD(c, r, a, b) mpfr_add(r, a, b, MPFR_RNDN)
#define A_SUB(c, r, a, b) mpfr_sub(r, a, b, MPFR_RNDN)
#define A_MUL(c, r, a, b) mpfr_mul(r, a, b, MPFR_RNDN)
#define A_DIV(c, r, a, b) mpfr_div(r, a, b, MPFR_RNDN)
#define A_ADD_D(c, r, a, d) mpfr_add_d(r, a, d, MPFR_RNDN)
#define A_SUB_D(c, r, a, d) mpfr_sub_d(r, a, d, MPFR_RNDN)
#define A_MUL_D(c, r, a, d) mpfr_mul_d(r, a, d, MPFR_RNDN)
#define A_DIV_D(c, r, a, d) mpfr_div_d(r, a, d, MPFR_RNDN)
#define A_D_ADD(c, r, d, a) mpfr_add_d(r, a, d, MPFR_RNDN)
#define A_D_SUB(c, r, d, a) mpfr_d_sub(r, d, a, MPFR_RNDN)
#define A_D_DIV(c, r, d, a) mpfr_d_div(r, d, a, MPFR_RNDN)
#define A_NEG(c, r, a) mpfr_neg(r, a, MPFR_RNDN)
#define A_ABS(c, r, a) mpfr_abs(r, a, MPFR_RNDN)
#define A_SCALE_D(c, r, a, d) mpfr_mul_d(r, a, d, MPFR_RNDN)
#define A_EXP(c, r, a) mpfr_exp(r, a, MPFR_RNDN)
#define A_EXPM1(c, r, a) mpfr_expm1(r, a, MPFR_RNDN)
#define A_LOG1P(c, r, a) mpfr_log1p(r, a, MPFR_RNDN)
#define A_TANH(c, r, a) mpfr_tanh(r, a, MPFR_RNDN)
#define A_ERFC(c, r, a) mpfr_erfc(r, a, MPFR_RNDN)
#define A_SQRT(c, r, a) mpfr_sqrt(r, a, MPFR_RNDN)
#define A_CONST_PI(c, r) mpfr_const_pi(r, MPFR_RNDN)
#define A_SIGMOID(c, r, a) refmp_sigmoid(c, r, a)
#define A_SOFTPLUS(c, r, a) refmp_softplus(c, r, a)
#define A_CMP(c, a, b) mpfr_cmp(a, b)
#define A_IS_ZERO_D(d) ((d) == 0.0)
#define A_DOT_T mpfr_ptr
#define A_DOT_BEGIN(c, s) (*(s) = (c)->acc, mpfr_set_zero((c)->acc, 1))
#define A_DOT_ADD_VD(c, s, a, d) (mpfr_mul_d((c)->t2, a, d, MPFR_RNDN), mpfr_add(*(s), *(s), (c)->t2, MPFR_RNDN))
#define A_DOT_ADD_VV(c, s, a, b) (mpfr_mul((c)->t2, a, b, MPFR_RNDN), mpfr_add(*(s), *(s), (c)->t2, MPFR_RNDN))
#define A_DOT_ADD_V(c, s, a) mpfr_add(*(s), *(s), a, MPFR_RNDN)
#define A_DOT_END(c, r, s) mpfr_set(r, *(s), MPFR_RNDN)
#include "ga_ref_tmpl.h"

void ga_refmp_act(mpfr_ptr value, mpfr_ptr deriv, ga_activation a, double param, mpfr_srcptr z)
{
    refmp_ctx c;
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

static int pass_init(refmp_pass *p, const ga_graph *g, size_t n_params, size_t B, long prec)
{
    memset(p, 0, sizeof *p);
    ga_pass_sizes ps;
    if (!ga_graph_pass_sizes(&ps, g, B))
        return GA_ENOMEM;
    p->c.prec = prec;
    p->n_val_elems = ps.n_vals;
    p->n_params = n_params;
    p->n_delta = ps.n_delta;
    p->vals = malloc(p->n_val_elems * sizeof *p->vals);
    p->val = malloc(g->n_values * sizeof *p->val);
    p->grad = malloc(n_params * sizeof *p->grad);
    p->delta = malloc(p->n_delta * sizeof *p->delta);
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
        if (pass_init(&lo, g, n, batch, p) || pass_init(&hi, g, n, batch, p + 32)) {
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
