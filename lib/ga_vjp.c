/* ga_vjp.c: an op gradaudit does not know, checked through its vector-Jacobian
 * product (gradaudit_check_vjp, gradaudit.h).
 *
 * With dy drawn once, the backward's dins is the gradient of the scalar
 *   L(theta) = sum_k <dy_k, f_k(theta)>         theta = (ins[0], ins[1], ...)
 * so the op becomes a gradaudit_problem: loss = that sum over the user's
 * double forward, loss_mpfr = the same sum over forward_mpfr at the oracle's
 * precision, grad = the backward with douts = dy, writing into theta's slices
 * of the gradient buffer. Everything else (references, tolerance models,
 * kinks, findings, the report) is gradaudit_check's.
 *
 * The one thing gradaudit_check cannot see through the sum is which output a
 * wrong forward_mpfr gets wrong, and a sum can hide it (dy_k y_k small beside
 * the others); so forward_mpfr is compared with forward per output entry
 * first (forward_agreement).
 */
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_lib.h"
#include "ga_random.h"

#define AGREE_REL 0x1p-36   /* forward_mpfr vs forward: relative allowance (as the loss's) */
#define AGREE_NOISE 0x1p10  /* ... plus this many times forward's directed-mode deviation */
#define AGREE_EXTRA_PREC 64 /* forward_mpfr's value for the comparison: at start_prec + this */

typedef struct {
    const gradaudit_vjp *op;
    size_t n_theta, n_out;  /* sum of inputs[i].n, of outputs[k].n */
    size_t *in_off;         /* (n_inputs + 1) input i's entries at theta[in_off[i]] */
    size_t *out_off;        /* (n_outputs + 1) output k's at y[out_off[k]] */
    double *dy;             /* (n_out) the drawn upstream gradient */
    double *y;              /* (n_out) forward's outputs, scratch */
    const double **ins;     /* (n_inputs) slices of the current theta */
    double **outs;          /* (n_outputs) slices of y */
    double **dins;          /* (n_inputs) slices of the gradient buffer */
    const double **douts;   /* (n_outputs) slices of dy */
    mpfr_t *ym;             /* (n_out) forward_mpfr's outputs, at ym_prec */
    mpfr_prec_t ym_prec;
    mpfr_srcptr *mins;      /* (n_inputs) slices of the MPFR theta */
    mpfr_ptr *mouts;        /* (n_outputs) slices of ym */
    mpfr_t acc, term;
} vjp_run;

void gradaudit_vjp_dy(double *dy, size_t n, uint64_t seed)
{
    ga_rng rng;
    ga_rng_seed(&rng, (uint32_t)(seed ^ (seed >> 32)));
    for (size_t i = 0; i < n; i++) /* float32 numbers: exact in either precision */
        dy[i] = (double)(float)ga_rng_gauss(&rng);
}

static void slice_inputs(vjp_run *v, const double *theta)
{
    for (size_t i = 0; i < v->op->n_inputs; i++)
        v->ins[i] = theta + v->in_off[i];
}

/* forward at theta into v->y */
static int forward_at(vjp_run *v, const double *theta)
{
    slice_inputs(v, theta);
    return v->op->forward(v->outs, v->ins, v->op->user);
}

/* L = sum dy . y in index order */
static int vjp_loss(double *loss, const double *theta, size_t n, void *user)
{
    (void)n;
    vjp_run *v = user;
    int rc = forward_at(v, theta);
    if (rc)
        return rc;
    double s = 0;
    for (size_t j = 0; j < v->n_out; j++)
        s += v->dy[j] * v->y[j];
    *loss = s;
    return 0;
}

/* ym at prec bits (re-initialised when prec changes) */
static void ym_prec(vjp_run *v, mpfr_prec_t prec)
{
    if (v->ym_prec == prec)
        return;
    for (size_t j = 0; j < v->n_out; j++)
        mpfr_set_prec(v->ym[j], prec);
    mpfr_set_prec(v->acc, prec);
    mpfr_set_prec(v->term, prec);
    v->ym_prec = prec;
}

static int forward_mpfr_at(vjp_run *v, mpfr_srcptr theta, mpfr_prec_t prec)
{
    ym_prec(v, prec);
    for (size_t i = 0; i < v->op->n_inputs; i++)
        v->mins[i] = theta + v->in_off[i];
    return v->op->forward_mpfr(v->mouts, v->mins, prec, v->op->user);
}

/* L = sum dy . y in MPFR, each product and sum rounded at prec (the oracle's
 * Ziv loop judges the error of the whole) */
static int vjp_loss_mpfr(mpfr_ptr loss, mpfr_srcptr theta, size_t n, mpfr_prec_t prec, void *user)
{
    (void)n;
    vjp_run *v = user;
    int rc = forward_mpfr_at(v, theta, prec);
    if (rc)
        return rc;
    mpfr_set_zero(v->acc, 1);
    for (size_t j = 0; j < v->n_out; j++) {
        if (!mpfr_number_p(v->ym[j])) { /* gradaudit_check reports the NaN */
            mpfr_set_nan(loss);
            return 0;
        }
        mpfr_mul_d(v->term, v->ym[j], v->dy[j], MPFR_RNDN);
        mpfr_add(v->acc, v->acc, v->term, MPFR_RNDN);
    }
    mpfr_set(loss, v->acc, MPFR_RNDN);
    return 0;
}

static int vjp_grad(double *grad, const double *theta, size_t n, void *user)
{
    (void)n;
    vjp_run *v = user;
    slice_inputs(v, theta);
    for (size_t i = 0; i < v->op->n_inputs; i++)
        v->dins[i] = grad + v->in_off[i];
    return v->op->backward(v->dins, v->douts, v->ins, v->op->user);
}

static int vjp_name(char *buf, size_t size, size_t i, void *user)
{
    const vjp_run *v = user;
    size_t t = 0;
    while (i >= v->in_off[t + 1])
        t++;
    snprintf(buf, size, "%s[%zu]", v->op->inputs[t].name, i - v->in_off[t]);
    return 0;
}


/* forward_mpfr against forward at theta, per output entry: y_mp (at
 * start_prec + AGREE_EXTRA_PREC bits, rounded to double) and y_d must be within
 * AGREE_REL |y_mp| + AGREE_NOISE dev_j, dev_j the largest change of y_d when
 * forward is rerun in a directed rounding mode (its rounding noise; the same
 * rule as gradaudit_check's for the loss). dev (n_out) is scratch. */
static int forward_agreement(vjp_run *v, ga_error *err, const double *theta, long start_prec,
                             double *dev)
{
    const gradaudit_vjp *op = v->op;
    int rc = forward_at(v, theta);
    if (rc)
        return ga_fail(err, GA_ECALLBACK, "gradaudit_check_vjp: forward returned %d at theta", rc);
    double *yd = dev + v->n_out; /* the round-to-nearest outputs */
    memcpy(yd, v->y, v->n_out * sizeof *yd);
    for (size_t j = 0; j < v->n_out; j++)
        dev[j] = 0;
    int saved = fegetround();
    for (int m = 0; ga_lib_directed_modes[m] >= 0; m++) {
        fesetround(ga_lib_directed_modes[m]);
        rc = forward_at(v, theta);
        fesetround(saved);
        if (rc)
            return ga_fail(err, GA_ECALLBACK,
                           "gradaudit_check_vjp: forward returned %d in a directed rounding mode", rc);
        for (size_t j = 0; j < v->n_out; j++) {
            double d = fabs(v->y[j] - yd[j]);
            if (isfinite(d) && d > dev[j])
                dev[j] = d;
        }
    }
    mpfr_prec_t prec = (mpfr_prec_t)start_prec + AGREE_EXTRA_PREC;
    mpfr_t *mt = malloc(v->n_theta * sizeof *mt);
    if (!mt)
        return ga_fail(err, GA_ENOMEM, "gradaudit_check_vjp: out of memory");
    for (size_t i = 0; i < v->n_theta; i++) {
        mpfr_init2(mt[i], 64);
        mpfr_set_d(mt[i], theta[i], MPFR_RNDN); /* exact: a double in 64 bits */
    }
    rc = forward_mpfr_at(v, (mpfr_srcptr)mt, prec);
    for (size_t i = 0; i < v->n_theta; i++)
        mpfr_clear(mt[i]);
    free(mt);
    if (rc)
        return ga_fail(err, GA_ECALLBACK,
                       "gradaudit_check_vjp: forward_mpfr returned %d at theta (%ld bits)", rc,
                       (long)prec);
    for (size_t k = 0; k < op->n_outputs; k++)
        for (size_t j = v->out_off[k]; j < v->out_off[k + 1]; j++) {
            double ym = mpfr_get_d(v->ym[j], MPFR_RNDN);
            if (!isfinite(yd[j]) || !isfinite(ym)) {
                if (isfinite(yd[j]) != isfinite(ym))
                    return ga_fail(err, GA_EMPFRLOSS,
                                   "gradaudit_check_vjp: forward_mpfr and forward disagree at "
                                   "%s[%zu]: %.17g (MPFR, %ld bits) against %.17g (double)",
                                   op->outputs[k].name, j - v->out_off[k], ym, (long)prec, yd[j]);
                continue;
            }
            double tol = AGREE_REL * fabs(ym) + AGREE_NOISE * dev[j];
            if (fabs(ym - yd[j]) > tol)
                return ga_fail(err, GA_EMPFRLOSS,
                               "gradaudit_check_vjp: forward_mpfr and forward disagree at %s[%zu] "
                               "beyond rounding: %.17g (MPFR, %ld bits) against %.17g (double); "
                               "allowed %.3g (2^-36 relative + 2^10 x %.3g, the largest change of "
                               "forward rerun in the directed rounding modes). No gradient was "
                               "judged: one of the two forwards is wrong",
                               op->outputs[k].name, j - v->out_off[k], ym, (long)prec, yd[j], tol,
                               dev[j]);
        }
    return GA_OK;
}

static int check_vjp(const gradaudit_vjp *op, ga_error *err)
{
    if (!op)
        return ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: op is NULL");
    if (!op->forward || !op->backward)
        return ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: op.%s is NULL",
                       op->forward ? "backward (the code under test)" : "forward");
    if (op->n_inputs == 0 || !op->inputs)
        return ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: no inputs (op.n_inputs is 0 or "
                       "op.inputs NULL)");
    if (op->n_outputs == 0 || !op->outputs)
        return ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: no outputs (op.n_outputs is 0 or "
                       "op.outputs NULL)");
    for (size_t i = 0; i < op->n_inputs; i++)
        if (!op->inputs[i].name || !op->inputs[i].name[0] || !op->inputs[i].data ||
            op->inputs[i].n == 0)
            return ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: inputs[%zu] (%s) has %s", i,
                           op->inputs[i].name ? op->inputs[i].name : "no name",
                           !op->inputs[i].name || !op->inputs[i].name[0] ? "no name"
                           : !op->inputs[i].data ? "no data (NULL)" : "0 entries");
    for (size_t k = 0; k < op->n_outputs; k++)
        if (!op->outputs[k].name || !op->outputs[k].name[0] || op->outputs[k].n == 0)
            return ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: outputs[%zu] (%s) has %s", k,
                           op->outputs[k].name ? op->outputs[k].name : "no name",
                           !op->outputs[k].name || !op->outputs[k].name[0] ? "no name"
                                                                           : "0 entries");
    return GA_OK;
}

static void vjp_free(vjp_run *v)
{
    if (v->ym) {
        for (size_t j = 0; j < v->n_out; j++)
            mpfr_clear(v->ym[j]);
        mpfr_clear(v->acc);
        mpfr_clear(v->term);
    }
    free(v->ym);
    free(v->in_off);
    free(v->out_off);
    free(v->dy);
    free(v->y);
    free(v->ins);
    free(v->outs);
    free(v->dins);
    free(v->douts);
    free(v->mins);
    free(v->mouts);
}

/* sizes (overflow-checked), the drawn dy, the slices */
static int vjp_alloc(vjp_run *v, ga_error *err, const gradaudit_vjp *op)
{
    memset(v, 0, sizeof *v);
    v->op = op;
    size_t ni = op->n_inputs, no = op->n_outputs;
    v->in_off = malloc((ni + 1) * sizeof *v->in_off);
    v->out_off = malloc((no + 1) * sizeof *v->out_off);
    if (!v->in_off || !v->out_off)
        return ga_fail(err, GA_ENOMEM, "gradaudit_check_vjp: out of memory");
    v->in_off[0] = v->out_off[0] = 0;
    for (size_t i = 0; i < ni; i++)
        if (!ga_size_add(&v->in_off[i + 1], v->in_off[i], op->inputs[i].n))
            return ga_fail(err, GA_ERANGE, "gradaudit_check_vjp: the inputs' sizes overflow");
    for (size_t k = 0; k < no; k++)
        if (!ga_size_add(&v->out_off[k + 1], v->out_off[k], op->outputs[k].n))
            return ga_fail(err, GA_ERANGE, "gradaudit_check_vjp: the outputs' sizes overflow");
    v->n_theta = v->in_off[ni];
    v->n_out = v->out_off[no];
    /* the outputs' double and MPFR copies beside what gradaudit_check holds per entry */
    const size_t per_out = 4 * sizeof(double) + sizeof(mpfr_t) + 64;
    if (v->n_out > GA_DEFAULT_MEMORY_CAP / per_out)
        return ga_fail(err, GA_ENOMEM, "gradaudit_check_vjp: %zu outputs need more than the "
                       "%zu-byte memory cap", v->n_out, (size_t)GA_DEFAULT_MEMORY_CAP);
    v->dy = malloc(v->n_out * sizeof *v->dy);
    v->y = malloc(v->n_out * sizeof *v->y);
    v->ins = malloc(ni * sizeof *v->ins);
    v->outs = malloc(no * sizeof *v->outs);
    v->dins = malloc(ni * sizeof *v->dins);
    v->douts = malloc(no * sizeof *v->douts);
    v->mins = malloc(ni * sizeof *v->mins);
    v->mouts = malloc(no * sizeof *v->mouts);
    if (!v->dy || !v->y || !v->ins || !v->outs || !v->dins || !v->douts || !v->mins || !v->mouts)
        return ga_fail(err, GA_ENOMEM, "gradaudit_check_vjp: out of memory");
    gradaudit_vjp_dy(v->dy, v->n_out, op->seed);
    for (size_t k = 0; k < no; k++) {
        v->outs[k] = v->y + v->out_off[k];
        v->douts[k] = v->dy + v->out_off[k];
    }
    if (op->forward_mpfr) {
        v->ym = malloc(v->n_out * sizeof *v->ym);
        if (!v->ym)
            return ga_fail(err, GA_ENOMEM, "gradaudit_check_vjp: out of memory");
        for (size_t j = 0; j < v->n_out; j++)
            mpfr_init2(v->ym[j], MPFR_PREC_MIN);
        mpfr_init2(v->acc, MPFR_PREC_MIN);
        mpfr_init2(v->term, MPFR_PREC_MIN);
        v->ym_prec = MPFR_PREC_MIN;
        for (size_t k = 0; k < no; k++)
            v->mouts[k] = v->ym[v->out_off[k]];
    }
    return GA_OK;
}

static int vjp_run_check(gradaudit_report **out, ga_error *err, const gradaudit_vjp *op,
                         const gradaudit_options *opt)
{
    if (!out)
        return ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: report output pointer is NULL");
    *out = NULL;
    int status = check_vjp(op, err);
    if (status)
        return status;
    gradaudit_options o;
    if (opt)
        o = *opt;
    else
        gradaudit_options_default(&o);
    if (o.reference == GRADAUDIT_REF_ORACLE && !op->forward_mpfr)
        return ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: reference 'oracle' needs "
                       "op.forward_mpfr, which is NULL");
    vjp_run v;
    status = vjp_alloc(&v, err, op);
    double *theta = NULL, *dev = NULL;
    if (!status) {
        theta = malloc(v.n_theta * sizeof *theta);
        dev = malloc(2 * v.n_out * sizeof *dev);
        if (!theta || !dev)
            status = ga_fail(err, GA_ENOMEM, "gradaudit_check_vjp: out of memory");
    }
    for (size_t t = 0; t < op->n_inputs && !status; t++) /* each input, checked as copied */
        for (size_t j = 0; j < op->inputs[t].n && !status; j++) {
            double x = theta[v.in_off[t] + j] = op->inputs[t].data[j];
            if (!isfinite(x))
                status = ga_fail(err, GA_ENONFINITE, "gradaudit_check_vjp: %s[%zu] is %s",
                                 op->inputs[t].name, j, isnan(x) ? "NaN" : "Inf");
            else if (o.float32 && ga_round_to(GA_PREC_FLOAT32, x) != x)
                status = ga_fail(err, GA_EINVAL, "gradaudit_check_vjp: options.float32: %s[%zu] = "
                                 "%.17g is not a float32 number (give (double)(float) of it, the "
                                 "value the float code sees)", op->inputs[t].name, j, x);
        }
    int use_oracle = op->forward_mpfr && o.reference != GRADAUDIT_REF_RIDDERS;
    if (!status && use_oracle && o.start_prec >= 53 && o.start_prec <= (1L << 20))
        status = forward_agreement(&v, err, theta, o.start_prec, dev);
    if (!status) {
        gradaudit_problem p = {v.n_theta,     theta, vjp_loss, vjp_grad,
                               op->forward_mpfr ? vjp_loss_mpfr : NULL,
                               NULL,          vjp_name, NULL, &v};
        gradaudit_error e;
        e.msg[0] = '\0';
        status = gradaudit_check(out, &e, &p, &o);
        if (status)
            ga_fail(err, status, "gradaudit_check_vjp: %s", e.msg);
    }
    free(theta);
    free(dev);
    vjp_free(&v);
    return status;
}

int gradaudit_check_vjp(gradaudit_report **out, gradaudit_error *err, const gradaudit_vjp *op,
                        const gradaudit_options *opt)
{
    ga_error e;
    e.msg[0] = '\0';
    return ga_lib_pass_error(err, &e, vjp_run_check(out, err ? &e : NULL, op, opt));
}
