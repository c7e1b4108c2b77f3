/* ga_f32.c: the forward and backward pass in float32 (ga_core.h,
 * ga_loss_grad_f32): code under test that computes in single precision, as
 * an instance of the generic reference (ga_ref_tmpl.h) with REF_T = float.
 *
 * Every operation is one float rounding: a + b, a * b, a / b of floats give a
 * float (C11 5.2.4.2.2: FLT_EVAL_METHOD 0, checked below, evaluates them in
 * float; -ffp-contract=off, set project-wide, forbids fusing a * b + c). A
 * double operand of the template (a parameter, a datum, a constant, a
 * count N) is converted to float first, as float code holds it. Dot products
 * accumulate in float in index order. Elementary functions are glibc's float
 * ones (expf, expm1f, log1pf, tanhf: 1-2 ulps on x86_64 per glibc's table of
 * known maximum errors), sigmoid and softplus in their exp(-|z|) forms; the
 * activations are the template's generic formulas (ga_ref_act_tmpl.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_core.h"
#include "ga_ftz.h"
#include "ga_ops.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "ga_f32.c needs float operations evaluated in float (FLT_EVAL_METHOD 0, e.g. SSE, not x87)"
#endif

/* No state: every operation is IEEE float's. The template passes a context
 * to every operation; each macro names it so that no parameter is unused. */
typedef struct {
    int unused;
} f32_ctx;

/* sigmoid(z) = 1/(1+exp(-z)) from e = exp(-|z|) <= 1: nothing overflows */
static float f32_sigmoid(float z)
{
    float e = expf(-fabsf(z));
    return z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* softplus(z) = log(1+exp(z)) = max(z, 0) + log1p(exp(-|z|)) */
static float f32_softplus(float z)
{
    return (z > 0.0f ? z : 0.0f) + log1pf(expf(-fabsf(z)));
}

#define F(d) ((float)(d))
#define C_(c) (void)(c)
#define REF_T float
#define REF_CTX f32_ctx
#define REF_FN(name) f32_##name
#define A_INIT(c, r) (C_(c), (void)(r))
#define A_CLEAR(c, r) (C_(c), (void)(r))
#define A_SET_D(c, r, d) (C_(c), *(r) = F(d))
#define A_SET(c, r, a) (C_(c), *(r) = *(a))
#define A_ADD(c, r, a, b) (C_(c), *(r) = *(a) + *(b))
#define A_SUB(c, r, a, b) (C_(c), *(r) = *(a) - *(b))
#define A_MUL(c, r, a, b) (C_(c), *(r) = *(a) * *(b))
#define A_DIV(c, r, a, b) (C_(c), *(r) = *(a) / *(b))
#define A_ADD_D(c, r, a, d) (C_(c), *(r) = *(a) + F(d))
#define A_SUB_D(c, r, a, d) (C_(c), *(r) = *(a) - F(d))
#define A_MUL_D(c, r, a, d) (C_(c), *(r) = *(a) * F(d))
#define A_DIV_D(c, r, a, d) (C_(c), *(r) = *(a) / F(d))
#define A_D_ADD(c, r, d, a) (C_(c), *(r) = F(d) + *(a))
#define A_D_SUB(c, r, d, a) (C_(c), *(r) = F(d) - *(a))
#define A_D_DIV(c, r, d, a) (C_(c), *(r) = F(d) / *(a))
#define A_NEG(c, r, a) (C_(c), *(r) = -*(a))
#define A_ABS(c, r, a) (C_(c), *(r) = fabsf(*(a)))
#define A_SCALE_D(c, r, a, d) (C_(c), *(r) = *(a) * F(d))
#define A_EXP(c, r, a) (C_(c), *(r) = expf(*(a)))
#define A_EXPM1(c, r, a) (C_(c), *(r) = expm1f(*(a)))
#define A_LOG1P(c, r, a) (C_(c), *(r) = log1pf(*(a)))
#define A_TANH(c, r, a) (C_(c), *(r) = tanhf(*(a)))
#define A_ERFC(c, r, a) (C_(c), *(r) = erfcf(*(a)))
#define A_SQRT(c, r, a) (C_(c), *(r) = sqrtf(*(a)))
#define A_CONST_PI(c, r) (C_(c), *(r) = 3.14159265f)
#define A_SIGMOID(c, r, a) (C_(c), *(r) = f32_sigmoid(*(a)))
#define A_SOFTPLUS(c, r, a) (C_(c), *(r) = f32_softplus(*(a)))
#define A_CMP(c, a, b) (C_(c), (*(a) > *(b)) - (*(a) < *(b)))
#define A_IS_ZERO_D(d) ((d) == 0.0)
#define A_DOT_T float
#define A_DOT_BEGIN(c, s) (C_(c), *(s) = 0.0f)
#define A_DOT_ADD_VD(c, s, a, d) (C_(c), *(s) += *(a) * F(d))
#define A_DOT_ADD_VV(c, s, a, b) (C_(c), *(s) += *(a) * *(b))
#define A_DOT_ADD_V(c, s, a) (C_(c), *(s) += *(a))
#define A_DOT_END(c, r, s) (C_(c), *(r) = *(s))
#include "ga_ref_tmpl.h"

static int attention_weights(double *p, const double *x, const ga_layer_desc *L, size_t d)
{
    size_t T = ga_layer_tokens(L), H = L->heads;
    float *buf = malloc((T * 3 * d + T * d + H * T * T) * sizeof *buf);
    if (!buf)
        return GA_ENOMEM;
    float *in = buf, *out = in + T * 3 * d, *pw = out + T * d;
    for (size_t i = 0; i < T * 3 * d; i++)
        in[i] = (float)x[i]; /* float32 numbers: exact */
    ga_op op = {0};
    op.kind = GA_OP_ATTN;
    op.tokens = T;
    op.heads = H;
    op.act_param = L->act_param;
    f32_ctx c = {0};
    f32_attn_row(&c, out, pw, in, &op, d);
    for (size_t i = 0; i < H * T * T; i++)
        p[i] = pw[i];
    free(buf);
    return GA_OK;
}

int ga_attention_weights_f32(double *p, const double *x, const ga_layer_desc *L, size_t d)
{
    GA_FTZ_ENTER(mxcsr); /* as an -Ofast program computes, with -Dcore_fast_math=true */
    int status = attention_weights(p, x, L, d);
    GA_FTZ_LEAVE(mxcsr);
    return status;
}

/* v is a float32 number (ga_round_to: a conversion of a double beyond
 * FLT_MAX to float is undefined in C) */
static int is_f32(double v)
{
    return ga_round_to(GA_PREC_FLOAT32, v) == v;
}

/* The first number of v (n) that is not a float32 (or is not finite), or n. */
static size_t first_not_f32(const double *v, size_t n, int *nonfinite)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            *nonfinite = 1;
            return i;
        }
        if (!is_f32(v[i])) {
            *nonfinite = 0;
            return i;
        }
    }
    return n;
}

/* GA_OK when every number the pass reads as a float is one: params, x, y
 * and the net's constants (ga_round_problem). */
static int check_inputs(ga_error *err, const ga_net *net, const double *params, const double *x,
                        size_t nx, const double *y, size_t ny)
{
    const char *what[3] = {"params", "x", "y"};
    const double *arr[3] = {params, x, y};
    size_t len[3] = {net->n_params, nx, ny};
    for (int k = 0; k < 3; k++) {
        int nonfinite = 0;
        size_t i = first_not_f32(arr[k], len[k], &nonfinite);
        if (i == len[k])
            continue;
        char name[64];
        if (k == 0)
            ga_param_name(name, sizeof name, net, i);
        else
            snprintf(name, sizeof name, "%s[%zu]", what[k], i);
        if (nonfinite)
            return ga_fail(err, GA_ENONFINITE, "float32 pass: %s is %g: not finite", name, arr[k][i]);
        return ga_fail(err, GA_EINVAL, "float32 pass: %s = %.17g is not a float32 number "
                       "(round the problem first: ga_round_problem)", name, arr[k][i]);
    }
    const ga_net_desc *d = &net->desc;
    for (size_t l = 0; l < d->n_layers; l++)
        if (!is_f32(d->layers[l].act_param) || !is_f32(d->layers[l].eps))
            return ga_fail(err, GA_EINVAL, "float32 pass: layer %zu's activation parameter %.17g is "
                           "not a float32 number, or its eps %.17g (ga_round_problem)", l + 1,
                           d->layers[l].act_param, d->layers[l].eps);
    if (!is_f32(d->loss.scale) || !is_f32(d->loss.weight_decay))
        return ga_fail(err, GA_EINVAL, "float32 pass: the loss's scale %.17g or weight decay %.17g "
                       "is not a float32 number (ga_round_problem)", d->loss.scale,
                       d->loss.weight_decay);
    return GA_OK;
}

/* The forward values of stage st into ws as doubles (exactly): its dense
 * op's output to z, its activation's to a (z again for none), and for an
 * elementwise activation f'(z) as the backward pass computes it; a norm's xh
 * to z, its r to dact and its affine output to a; an add's output to both. */
static void export_stage(ga_workspace *ws, float **val, const ga_graph *g, size_t st, size_t batch)
{
    f32_ctx c = {0};
    for (size_t i = g->stage_op[st]; i < g->stage_op[st + 1]; i++) {
        const ga_op *op = &g->ops[i];
        size_t n = batch * g->width[op->output];
        const float *v = val[op->output];
        if (op->kind == GA_OP_DENSE || op->kind == GA_OP_ADD || op->kind == GA_OP_MASK ||
            op->kind == GA_OP_EMBED || op->kind == GA_OP_CONV || op->kind == GA_OP_MAXPOOL ||
            op->kind == GA_OP_AVGPOOL || op->kind == GA_OP_SHIFT || op->kind == GA_OP_ATTN ||
            op->kind == GA_OP_CONCAT) {
            for (size_t e = 0; e < n; e++)
                ws->z[st][e] = ws->a[st][e] = v[e];
            continue;
        }
        if (op->kind == GA_OP_RNN) { /* z its second output, a the states, f'(z) as the backward takes it */
            for (size_t e = 0; e < n; e++) {
                float z = val[op->output2][e], d;
                f32_act_deriv(&c, &d, op->act, op->act_param, &z);
                ws->z[st][e] = z;
                ws->a[st][e] = v[e];
                ws->dact[st][e] = d;
            }
            continue;
        }
        if (op->kind == GA_OP_BATCHNORM) { /* xh in z, r_k in every row's dact */
            for (size_t e = 0; e < n; e++) {
                ws->z[st][e] = v[e];
                ws->dact[st][e] = val[op->output2][e];
            }
            continue;
        }
        if (op->kind == GA_OP_LAYERNORM || op->kind == GA_OP_RMSNORM) {
            /* as the core keeps a norm: xh in z, r in every entry of dact's row */
            size_t w = g->width[op->output] / (op->tokens > 1 ? op->tokens : 1); /* a token's */
            for (size_t e = 0; e < n; e++) {
                ws->z[st][e] = v[e];
                ws->dact[st][e] = val[op->output2][e / w];
            }
            continue;
        }
        for (size_t e = 0; e < n; e++)
            ws->a[st][e] = v[e];
        if (op->kind == GA_OP_ACT)
            for (size_t e = 0; e < n; e++) {
                float z = val[op->input[0]][e], d;
                f32_act_deriv(&c, &d, op->act, op->act_param, &z);
                ws->dact[st][e] = d;
            }
    }
}

int ga_loss_grad_f32(double *loss, double *grad, ga_error *err, const ga_net *net,
                     const double *params, const double *x, const double *y, size_t batch)
{
    return ga_loss_grad_f32_ws(loss, grad, NULL, err, net, params, x, y, batch);
}

int ga_loss_grad_f32_ws(double *loss, double *grad, ga_workspace *ws, ga_error *err,
                        const ga_net *net, const double *params, const double *x, const double *y,
                        size_t batch)
{
    if (net && ws && (ws->max_batch < batch || ws->n_layers != net->desc.n_layers))
        return ga_fail(err, GA_EINVAL, "float32 pass: the workspace is sized for another net or "
                       "a smaller batch");
    if (!grad || !net || !params || !x || !y || batch == 0 || net->desc.n_layers == 0)
        return ga_fail(err, GA_EINVAL, "float32 pass: a required argument is NULL, the batch is 0 "
                       "or the net has no layer");
    const ga_net_desc *d = &net->desc;
    size_t n_out = d->layers[d->n_layers - 1].n_out, nx, ny;
    if (!ga_size_mul(&nx, batch, d->n_in) || !ga_size_mul(&ny, batch, n_out))
        return ga_fail(err, GA_ERANGE, "float32 pass: batch %zu overflows a size", batch);
    int status = check_inputs(err, net, params, x, nx, y, ny);
    if (!status)
        status = ga_net_check_ids(err, d, x, batch);
    if (status)
        return status;
    ga_graph *g;
    if ((status = ga_graph_from_net(&g, err, net)))
        return status;
    /* one slab of floats: x, every value (B rows each), the two deltas
     * (B, max width), the gradient (n_params); then the value pointers */
    ga_pass_sizes ps;
    size_t n_floats, n_bytes;
    int ok = ga_graph_pass_sizes(&ps, g, batch) &&
             ga_size_add(&n_floats, ps.n_delta, ps.n_vals) &&
             ga_size_add(&n_floats, n_floats, net->n_params) &&
             ga_size_mul(&n_bytes, n_floats, sizeof(float));
    float *slab = ok ? malloc(n_bytes) : NULL;
    float **val = slab ? malloc(g->n_values * sizeof *val) : NULL;
    if (!val) {
        free(slab);
        ga_graph_free(g);
        return ga_fail(err, ok ? GA_ENOMEM : GA_ERANGE, "float32 pass: %s for batch %zu",
                       ok ? "out of memory" : "the workspace's size overflows", batch);
    }
    GA_GRAPH_PLACE_VALUES(val, slab, g, batch); /* (B, width[v]) each */
    float *delta = slab + ps.n_vals, *delta_prev = delta + ps.n_delta / 2; /* (B, maxw) each */
    float *fgrad = delta + ps.n_delta;                                       /* (n_params) */
    for (size_t i = 0; i < nx; i++)
        val[0][i] = (float)x[i];
    f32_ctx c = {0};
    float L;
    /* the passes as an -Ofast program computes them, with
     * -Dcore_fast_math=true (ga_ftz.h); the inputs' checks above as any */
    GA_FTZ_ENTER(mxcsr);
    f32_forward(&c, &L, val, g, net, params, x, y, batch);
    f32_backward(&c, fgrad, val, delta, delta_prev, g, net, params, x, y, batch, NULL);
    if (ws) {
        for (size_t st = 0; st < g->n_stages; st++)
            export_stage(ws, val, g, st, batch);
        ws->batch = batch;
    }
    GA_FTZ_LEAVE(mxcsr);
    if (loss)
        *loss = L;
    for (size_t i = 0; i < net->n_params; i++)
        grad[i] = fgrad[i];
    free(val);
    free(slab);
    ga_graph_free(g);
    return GA_OK;
}
