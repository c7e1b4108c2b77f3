/* ga_refball.c: the generic reference in Arb's ball arithmetic (ga_refball.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <arb.h>
#include <arb_hypgeom.h>
#include <mpfr.h>

#include "ga_ops.h"
#include "ga_refball.h"

typedef struct {
    slong prec;
    int unsure;        /* a branch was taken on a ball that straddles it */
    arb_t acc, t1, t2; /* the dot accumulator; scratch of the elementary functions */
    arb_ptr wp;        /* (n_params) the parameters as exact balls, for arb_dot */
    const ga_refball_progress *progress; /* or NULL */
    size_t done, pass_end; /* units told, and the count at the end of this pass */
} ball_ctx;

/* a stage done (A_TELL); never past the pass's end, whatever the sweeps count */
static void ball_tell(ball_ctx *c)
{
    if (!c->progress || !c->progress->fn)
        return;
    if (c->done < c->pass_end)
        c->done++;
    c->progress->fn(c->progress->ctx, "gradient", c->done, c->pass_end);
}

/* sign of z - 0 where the branch of an activation depends on it: certain,
 * or the midpoint's with the pass marked unsure */
static int ball_cmp(ball_ctx *c, const arb_struct *a, const arb_struct *b)
{
    arb_sub(c->t1, a, b, c->prec);
    if (arb_is_zero(c->t1))
        return 0;
    if (arb_is_positive(c->t1))
        return 1;
    if (arb_is_negative(c->t1))
        return -1;
    c->unsure = 1;
    return arf_sgn(arb_midref(c->t1));
}

/* any order is right for a pivot: by midpoints */
static int ball_cmp_pivot(const arb_struct *a, const arb_struct *b)
{
    return arf_cmp(arb_midref(a), arb_midref(b));
}

/* sigmoid(a) = 1/(1+exp(-a)) or e/(1+e), e = exp(a): the same number,
 * the form picked by the midpoint's sign keeps the exponent small */
static void ball_sigmoid(ball_ctx *c, arb_ptr r, const arb_struct *a)
{
    if (arf_sgn(arb_midref(a)) >= 0) {
        arb_neg(c->t1, a);
        arb_exp(c->t1, c->t1, c->prec);
        arb_add_ui(c->t1, c->t1, 1, c->prec);
        arb_inv(r, c->t1, c->prec);
    } else {
        arb_exp(c->t1, a, c->prec);
        arb_add_ui(c->t2, c->t1, 1, c->prec);
        arb_div(r, c->t1, c->t2, c->prec);
    }
}

/* softplus(a) = a + log1p(exp(-a)) = log1p(exp(a)) */
static void ball_softplus(ball_ctx *c, arb_ptr r, const arb_struct *a)
{
    if (arf_sgn(arb_midref(a)) > 0) {
        arb_neg(c->t1, a);
        arb_exp(c->t1, c->t1, c->prec);
        arb_log1p(c->t1, c->t1, c->prec);
        arb_add(r, a, c->t1, c->prec);
    } else {
        arb_exp(c->t1, a, c->prec);
        arb_log1p(r, c->t1, c->prec);
    }
}

static void ball_set_d(arb_ptr r, double d)
{
    arb_set_d(r, d);
}

#define REF_T arb_struct
#define REF_CTX ball_ctx
#define REF_FN(name) ball_##name
#define A_INIT(c, r) arb_init(r)
#define A_CLEAR(c, r) arb_clear(r)
#define A_SET_D(c, r, d) ball_set_d(r, d)
#define A_SET(c, r, a) arb_set(r, a)
#define A_ADD(c, r, a, b) arb_add(r, a, b, (c)->prec)
#define A_SUB(c, r, a, b) arb_sub(r, a, b, (c)->prec)
#define A_MUL(c, r, a, b) arb_mul(r, a, b, (c)->prec)
#define A_DIV(c, r, a, b) arb_div(r, a, b, (c)->prec)
#define A_ADD_D(c, r, a, d) (ball_set_d((c)->t2, d), arb_add(r, a, (c)->t2, (c)->prec))
#define A_SUB_D(c, r, a, d) (ball_set_d((c)->t2, d), arb_sub(r, a, (c)->t2, (c)->prec))
#define A_MUL_D(c, r, a, d) (ball_set_d((c)->t2, d), arb_mul(r, a, (c)->t2, (c)->prec))
#define A_DIV_D(c, r, a, d) (ball_set_d((c)->t2, d), arb_div(r, a, (c)->t2, (c)->prec))
#define A_D_ADD(c, r, d, a) (ball_set_d((c)->t2, d), arb_add(r, (c)->t2, a, (c)->prec))
#define A_D_SUB(c, r, d, a) (ball_set_d((c)->t2, d), arb_sub(r, (c)->t2, a, (c)->prec))
#define A_D_DIV(c, r, d, a) (ball_set_d((c)->t2, d), arb_div(r, (c)->t2, a, (c)->prec))
#define A_NEG(c, r, a) arb_neg(r, a)
#define A_ABS(c, r, a) arb_abs(r, a)
#define A_SCALE_D(c, r, a, d) A_MUL_D(c, r, a, d)
#define A_EXP(c, r, a) arb_exp(r, a, (c)->prec)
#define A_EXPM1(c, r, a) arb_expm1(r, a, (c)->prec)
#define A_LOG1P(c, r, a) arb_log1p(r, a, (c)->prec)
#define A_TANH(c, r, a) arb_tanh(r, a, (c)->prec)
#define A_ERFC(c, r, a) arb_hypgeom_erfc(r, a, (c)->prec)
#define A_SQRT(c, r, a) arb_sqrt(r, a, (c)->prec)
#define A_CONST_PI(c, r) arb_const_pi(r, (c)->prec)
#define A_SIGMOID(c, r, a) ball_sigmoid(c, r, a)
#define A_SOFTPLUS(c, r, a) ball_softplus(c, r, a)
#define A_CMP(c, a, b) ball_cmp(c, a, b)
#define A_CMP_PIVOT(c, a, b) ball_cmp_pivot(a, b)
#define A_IS_ZERO_D(d) ((d) == 0.0)
#define A_DOT_T arb_ptr
#define A_DOT_BEGIN(c, s) (*(s) = (c)->acc, arb_zero((c)->acc))
#define A_DOT_ADD_VD(c, s, a, d) (ball_set_d((c)->t2, d), arb_addmul(*(s), a, (c)->t2, (c)->prec))
#define A_DOT_ADD_VV(c, s, a, b) arb_addmul(*(s), a, b, (c)->prec)
#define A_DOT_ADD_V(c, s, a) arb_add(*(s), *(s), a, (c)->prec)
#define A_DOT_END(c, r, s) arb_set(r, *(s))
/* dot products by arb_dot (one rounding of the whole sum, a rigorous radius) */
#define A_DOT_VP(c, r, x, xs, params, off, ws, len)                                             \
    arb_dot(r, NULL, 0, x, (slong)(xs), (c)->wp + (off), (slong)(ws), (slong)(len), (c)->prec)
#define A_DOT_VV(c, r, x, xs, y, ys, len)                                                       \
    arb_dot(r, NULL, 0, x, (slong)(xs), y, (slong)(ys), (slong)(len), (c)->prec)
#define A_TELL(c) ball_tell(c)
#include "ga_ref_tmpl.h"

/* 1 when every number of the ball rounds to the same double (to nearest,
 * ties to even), written to *out; else 0 and *out = the midpoint rounded.
 * Through MPFR: mpfr_get_d rounds correctly, subnormals included. */
static int ball_settle(double *out, const arb_struct *v, arf_t lo, arf_t hi, mpfr_t m)
{
    if (!arb_is_finite(v)) {
        *out = NAN;
        return 0;
    }
    /* the ends rounded outward at 64 bits beyond the midpoint's: exact ends
     * could need as many bits as the midpoint and the radius lie apart */
    slong pb = arf_bits(arb_midref(v)) + 64;
    arb_get_lbound_arf(lo, v, pb);
    arb_get_ubound_arf(hi, v, pb);
    double d[2];
    arf_srcptr e[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
        /* beyond a double's range both ways, without converting: at or
         * above 2^1024 it rounds to an infinity, below 2^-1076 (under half
         * the least subnormal) to a zero */
        if (arf_is_zero(e[k])) {
            d[k] = 0;
            continue;
        }
        if (arf_cmpabs_2exp_si(e[k], 1024) >= 0) {
            d[k] = arf_sgn(e[k]) > 0 ? INFINITY : -INFINITY;
            continue;
        }
        if (arf_cmpabs_2exp_si(e[k], -1076) < 0) {
            d[k] = arf_sgn(e[k]) > 0 ? 0.0 : -0.0;
            continue;
        }
        slong bits = arf_bits(e[k]);
        mpfr_set_prec(m, bits > 2 ? bits : 2);
        arf_get_mpfr(m, e[k], MPFR_RNDN); /* exact: enough bits */
        d[k] = mpfr_get_d(m, MPFR_RNDN);
    }
    if (d[0] == d[1]) {
        *out = d[0] == 0 ? 0.0 : d[0]; /* a zero result: +0 */
        return 1;
    }
    arf_srcptr mid = arb_midref(v);
    if (arf_cmpabs_2exp_si(mid, 1024) >= 0 || arf_cmpabs_2exp_si(mid, -1076) < 0) {
        *out = arf_cmpabs_2exp_si(mid, 0) > 0 ? arf_sgn(mid) * INFINITY : 0.0;
        return 0;
    }
    slong bits = arf_bits(mid);
    mpfr_set_prec(m, bits > 2 ? bits : 2);
    arf_get_mpfr(m, mid, MPFR_RNDN);
    *out = mpfr_get_d(m, MPFR_RNDN);
    return 0;
}

/* The bits a ball that holds 0 needs before it settles: such a ball
 * settles on a zero only once both ends lie below half the least subnormal
 * (2^-1075), and its radius shrinks by about 2^-k when the pass runs k bits
 * more (the radius is the pass's rounding errors, each relative to the
 * precision). 0 for a ball that excludes 0 (a value near a rounding boundary
 * elsewhere: how near is unknown) or is not finite. */
static double ball_zero_bits(const arb_struct *v)
{
    if (!arb_is_finite(v) || !arb_contains_zero(v) || mag_is_zero(arb_radref(v)))
        return 0;
    double l2 = mag_get_d_log2_approx(arb_radref(v));
    return l2 > -1077 ? l2 + 1077 : 0;
}

/* The next pass's precision after one at prec left entries unsettled:
 * twice prec, or, where a ball holding 0 needs more bits than that (an
 * exact zero reached by cancellation: a masked attention weight's gradient,
 * an unused embedding row's), prec plus those bits and a margin of 32,
 * rounded up to a limb: one pass instead of a doubling per factor of 2^prec
 * the radius must shrink by. At most max_prec; prec itself when prec is
 * max_prec already (no pass left). */
static long next_prec(long prec, long max_prec, double zero_bits)
{
    double want = zero_bits > 0 ? (double)prec + zero_bits + 32 : 0;
    long next = prec * 2;
    if (want > (double)next)
        next = want >= (double)max_prec ? max_prec : ((long)want + 63) / 64 * 64;
    if (next > max_prec)
        next = prec < max_prec ? max_prec : prec;
    return next;
}

typedef struct {
    size_t n_vals, n_params, n_delta;
    arb_ptr vals, grad, delta;
    arb_ptr *val;
    arb_t loss;
} ball_pass;

static void pass_clear(ball_pass *p)
{
    if (p->vals)
        _arb_vec_clear(p->vals, (slong)p->n_vals);
    if (p->grad)
        _arb_vec_clear(p->grad, (slong)p->n_params);
    if (p->delta)
        _arb_vec_clear(p->delta, (slong)p->n_delta);
    free(p->val);
    arb_clear(p->loss);
    memset(p, 0, sizeof *p);
}

static int pass_init(ball_pass *p, const ga_graph *g, size_t n_params, size_t B)
{
    memset(p, 0, sizeof *p);
    arb_init(p->loss);
    ga_pass_sizes ps;
    if (!ga_graph_pass_sizes(&ps, g, B))
        return GA_ENOMEM;
    p->n_vals = ps.n_vals;
    p->n_params = n_params;
    p->n_delta = ps.n_delta;
    p->val = malloc(g->n_values * sizeof *p->val);
    if (!p->val)
        return GA_ENOMEM;
    p->vals = _arb_vec_init((slong)p->n_vals);
    p->grad = _arb_vec_init((slong)n_params);
    p->delta = _arb_vec_init((slong)p->n_delta);
    GA_GRAPH_PLACE_VALUES(p->val, p->vals, g, B);
    return GA_OK;
}

/* a bound on |exact - out| for the exact value in ball v: |v - out| rounded up */
static double ball_abserr(const arb_struct *v, double out, arb_t t, arf_t u)
{
    if (!arb_is_finite(v) || !isfinite(out))
        return INFINITY;
    arf_set_d(u, out);
    arb_sub_arf(t, v, u, arf_bits(arb_midref(v)) + 64); /* rigorous at any precision */
    arb_get_abs_ubound_arf(u, t, 64);
    return arf_get_d(u, ARF_RND_UP);
}

int ga_refball_bytes(size_t *bytes, const ga_net_desc *d, size_t n_params, size_t batch,
                     long prec)
{
    ga_pass_sizes ps;
    int status = ga_desc_pass_sizes(&ps, d, batch);
    if (status)
        return status;
    size_t n, each = sizeof(arb_struct), limbs = prec > 128 ? ((size_t)prec + 63) / 64 : 0;
    int ok = ga_size_add(&n, ps.n_vals, ps.n_delta) && ga_size_add(&n, n, n_params) &&
             ga_size_add(&n, n, n_params) &&
             ga_size_add(&each, each, limbs * sizeof(mp_limb_t)) && ga_size_mul(bytes, n, each);
    return ok ? GA_OK : GA_ERANGE;
}

int ga_refball_loss_gradient(double *loss, double *loss_err, int *loss_settled, double *grad,
                             double *abserr, unsigned char *settled, ga_refball_stats *stats,
                             ga_error *err, const ga_net *net, const double *params,
                             const double *x, const double *y, size_t batch, long start_prec,
                             long max_prec, const ga_refball_progress *progress)
{
    if (!grad || !net || !params || !x || !y || batch == 0 || start_prec < 53 ||
        max_prec < start_prec)
        return ga_fail(err, GA_EINVAL, "ga_refball_loss_gradient: bad arguments");
    ga_graph *g;
    int status = ga_graph_from_net(&g, err, net);
    if (status)
        return status;
    size_t n = net->n_params, unsettled = n + 1;
    ball_pass p;
    if (pass_init(&p, g, n, batch)) {
        pass_clear(&p);
        ga_graph_free(g);
        return ga_fail(err, GA_ENOMEM, "ball reference: out of memory");
    }
    ball_ctx c = {.progress = progress};
    arb_init(c.acc);
    arb_init(c.t1);
    arb_init(c.t2);
    c.wp = _arb_vec_init((slong)n);
    for (size_t i = 0; i < n; i++)
        arb_set_d(c.wp + i, params[i]);
    arf_t lo, hi;
    arf_init(lo);
    arf_init(hi);
    mpfr_t m;
    mpfr_init2(m, 64);
    long prec = start_prec;
    unsigned passes = 0;
    int unsure = 0;
    for (long next; prec <= max_prec && unsettled; prec = next, passes++) {
        c.prec = prec;
        c.unsure = 0;
        /* this pass's units: each stage forward and back, and the settle test */
        c.pass_end = c.done + 2 * g->n_stages + 1;
        if (progress && progress->fn)
            progress->fn(progress->ctx, "gradient", c.done, c.pass_end);
        for (size_t i = 0; i < batch * g->width[0]; i++)
            arb_set_d(&p.val[0][i], x[i]);
        ball_forward(&c, p.loss, p.val, g, net, params, x, y, batch);
        ball_backward(&c, p.grad, p.val, p.delta, p.delta + p.n_delta / 2, g, net, params, x, y, batch,
                      NULL);
        unsure = c.unsure;
        unsettled = 0;
        double lv;
        int ls = ball_settle(&lv, p.loss, lo, hi, m) && !unsure;
        unsettled += !ls;
        if (loss)
            *loss = lv;
        if (loss_settled)
            *loss_settled = ls;
        double zero_bits = ls ? 0 : ball_zero_bits(p.loss);
        for (size_t i = 0; i < n; i++) {
            int ok = ball_settle(&grad[i], &p.grad[i], lo, hi, m) && !unsure;
            unsettled += !ok;
            if (settled)
                settled[i] = (unsigned char)ok;
            if (!ok) {
                double zb = ball_zero_bits(&p.grad[i]);
                if (zb > zero_bits)
                    zero_bits = zb;
            }
        }
        c.done = c.pass_end - 1; /* the sweeps' units, however many they told */
        ball_tell(&c);           /* and the settle test's */
        next = next_prec(prec, max_prec, zero_bits);
        if (!unsettled || next <= prec) {
            /* the last pass: its bounds */
            if (loss_err)
                *loss_err = ball_abserr(p.loss, lv, c.t1, lo);
            for (size_t i = 0; abserr && i < n; i++)
                abserr[i] = ball_abserr(&p.grad[i], grad[i], c.t1, lo);
            break;
        }
    }
    if (stats) {
        stats->final_prec = prec; /* the loop ends by a break, at the last pass's */
        stats->passes = passes + 1;
        stats->unsettled = unsettled;
        stats->unsure_branch = unsure;
    }
    mpfr_clear(m);
    arf_clear(lo);
    arf_clear(hi);
    _arb_vec_clear(c.wp, (slong)n);
    arb_clear(c.acc);
    arb_clear(c.t1);
    arb_clear(c.t2);
    pass_clear(&p);
    ga_graph_free(g);
    return GA_OK;
}
