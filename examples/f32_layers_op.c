/* f32_layers_op.c: the adapters of f32_layers_op.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f32_layers_op.h"

/* A call into build L, run as in an -Ofast program when L is one (L->ftz:
 * flush-to-zero and denormals-are-zero in MXCSR, as crtfastmath.o sets
 * them), the caller's MXCSR back afterwards: gradaudit's arithmetic stays
 * IEEE. */
#if defined(__SSE2__)
#include <xmmintrin.h>
#define IN_BUILD(L, call)                                                                  \
    do {                                                                                   \
        unsigned mxcsr_ = _mm_getcsr();                                                    \
        if ((L)->ftz)                                                                      \
            _mm_setcsr(mxcsr_ | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */                 \
        call;                                                                              \
        _mm_setcsr(mxcsr_);                                                                \
    } while (0)
#else
#define IN_BUILD(L, call) call
#endif

/* What a callback needs beside gradaudit's op: the build and the case. */
typedef struct {
    const f32_layers_ops *L;
    const f32_op_case *c;
} call;

/* ---- float <-> double ------------------------------------------------------ */

/* n doubles holding float numbers (gradaudit's op, rounded to float32) as floats: exact */
static float *narrow(const double *src, size_t n)
{
    float *dst = malloc((n ? n : 1) * sizeof *dst);
    for (size_t i = 0; dst && i < n; i++)
        dst[i] = (float)src[i];
    return dst;
}

static double *widen(const float *src, size_t n)
{
    double *dst = malloc((n ? n : 1) * sizeof *dst);
    for (size_t i = 0; dst && i < n; i++)
        dst[i] = (double)src[i];
    return dst;
}

static void widen_into(double *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (double)src[i];
}

/* n zeroed floats: the gradient buffers the layers add into */
static float *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

/* Up to 8 buffers freed together */
typedef struct {
    void *p[8];
    size_t n;
} pool;

static void *keep(pool *k, void *p)
{
    if (k->n < sizeof k->p / sizeof k->p[0])
        k->p[k->n++] = p;
    else
        free(p), p = NULL;
    return p;
}

/* 1 when every buffer kept was allocated */
static int all_kept(const pool *k, size_t want)
{
    if (k->n != want)
        return 0;
    for (size_t i = 0; i < k->n; i++)
        if (!k->p[i])
            return 0;
    return 1;
}

static void release(pool *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->p[i]);
    k->n = 0;
}

static int out_of_memory(gradaudit_error *err)
{
    if (err)
        snprintf(err->msg, sizeof err->msg, "f32_check: out of memory");
    return GRADAUDIT_ENOMEM;
}

/* FNV-1a over the bytes of n floats, into *c->digest when asked */
static void hash_floats(const f32_op_case *c, const float *a, size_t n)
{
    const unsigned char *b = (const unsigned char *)a;
    for (size_t i = 0; c->digest && i < n * sizeof *a; i++)
        *c->digest = (*c->digest ^ b[i]) * 1099511628211u;
}

/* *y: room for the n floats of the forward output (and what the forward
 * keeps beside it) when the case judges it, else NULL; the digest starts */
static int forward_buffer(float **y, gradaudit_error *err, const f32_op_case *c, size_t n)
{
    if (c->digest)
        *c->digest = 14695981039346656037u;
    *y = NULL;
    if (!c->forward)
        return GRADAUDIT_OK;
    *y = malloc(n * sizeof **y);
    return *y ? GRADAUDIT_OK : out_of_memory(err);
}

/* The check of one op: x (batch, n_in) and up to two parameters as floats,
 * the forward output y (batch, n_out) or NULL, widened; gradaudit_check_op
 * with the callback. */
static int run(gradaudit_op_result *r, gradaudit_error *err, const char *layer, const char *layout,
               size_t n_in, size_t batch, const float *x, const char *const names[2],
               const float *const params[2], const size_t sizes[2], size_t n_params,
               const float *y, size_t n_out, gradaudit_op_backward_fn backward, call *k)
{
    pool mem = {{0}, 0};
    double *xd = keep(&mem, widen(x, batch * n_in)), *yd = NULL;
    gradaudit_tensor p[2];
    for (size_t i = 0; i < n_params; i++)
        p[i] = (gradaudit_tensor){names[i], keep(&mem, widen(params[i], sizes[i])), sizes[i]};
    if (y)
        yd = keep(&mem, widen(y, batch * n_out));
    int st;
    if (!all_kept(&mem, 1 + n_params + (y != NULL))) {
        st = out_of_memory(err);
    } else {
        gradaudit_op op = {layer, layout, n_in, batch, xd, p, n_params, yd, 1, k->c->seed};
        op.fast_math = k->c->fast_math; /* by name: a field after seed */
        st = gradaudit_check_op(r, err, &op, backward, k);
    }
    release(&mem);
    return st;
}

/* ---- matmul --------------------------------------------------------------- */

static int matmul_cb(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                     size_t n_out, void *user)
{
    const call *k = user;
    const f32_op_case *c = k->c;
    size_t nx = (size_t)c->B * c->T * c->C, nw = (size_t)c->OC * c->C;
    pool mem = {{0}, 0};
    float *x = keep(&mem, narrow(op->x, nx)), *w = keep(&mem, narrow(op->params[0].data, nw));
    float *g = keep(&mem, narrow(dy, c->B * n_out)), *gx = keep(&mem, zeros(nx));
    float *gw = keep(&mem, zeros(nw)), *gb = keep(&mem, zeros(c->OC));
    int ok = all_kept(&mem, 6);
    if (ok) {
        IN_BUILD(k->L, k->L->matmul_backward(gx, gw, gb, g, x, w, c->B, c->T, c->C, c->OC, c->bug));
        hash_floats(c, gx, nx), hash_floats(c, gw, nw), hash_floats(c, gb, c->OC);
        widen_into(dx, gx, nx);
        widen_into(dp[0], gw, nw);
        widen_into(dp[1], gb, c->OC);
    }
    release(&mem);
    return !ok;
}

int f32_check_matmul(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                     const f32_op_case *c, const float *inp, const float *weight,
                     const float *bias)
{
    char layer[128];
    snprintf(layer, sizeof layer, "{\"size\": %d, \"tokens\": %d, \"activation\": \"identity\"}",
             c->OC, c->T);
    size_t n_in = (size_t)c->T * c->C, n_out = (size_t)c->T * c->OC;
    float *y;
    int st = forward_buffer(&y, err, c, c->B * n_out);
    if (st)
        return st;
    if (y)
        IN_BUILD(L, L->matmul_forward(y, inp, weight, bias, c->B, c->T, c->C, c->OC));
    hash_floats(c, y, y ? c->B * n_out : 0);
    static const char *const names[2] = {"W1", "b1"};
    const float *params[2] = {weight, bias};
    size_t sizes[2] = {(size_t)c->OC * c->C, (size_t)c->OC};
    call k = {L, c};
    st = run(r, err, layer, "column", n_in, c->B, inp, names, params, sizes, 2, y, n_out,
             matmul_cb, &k);
    free(y);
    return st;
}

/* ---- layernorm ------------------------------------------------------------ */

static int layernorm_cb(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                        size_t n_out, void *user)
{
    const call *k = user;
    const f32_op_case *c = k->c;
    size_t nx = (size_t)c->B * c->T * c->C, BT = (size_t)c->B * c->T;
    (void)n_out;
    pool mem = {{0}, 0};
    float *x = keep(&mem, narrow(op->x, nx)), *w = keep(&mem, narrow(op->params[0].data, c->C));
    float *bias = keep(&mem, narrow(op->params[1].data, c->C)), *g = keep(&mem, narrow(dy, nx));
    /* the forward's output, mean and 1/std: one buffer, its three parts */
    float *fw = keep(&mem, malloc((nx + 2 * BT) * sizeof *fw)), *gx = keep(&mem, zeros(nx));
    float *gw = keep(&mem, zeros(c->C)), *gb = keep(&mem, zeros(c->C));
    int ok = all_kept(&mem, 8);
    if (ok) {
        float *mean = fw + nx, *rstd = mean + BT;
        IN_BUILD(k->L, k->L->layernorm_forward(fw, mean, rstd, x, w, bias, c->B, c->T, c->C));
        IN_BUILD(k->L, k->L->layernorm_backward(gx, gw, gb, g, x, w, mean, rstd, c->B, c->T, c->C,
                                                c->bug));
        hash_floats(c, gx, nx), hash_floats(c, gw, c->C), hash_floats(c, gb, c->C);
        widen_into(dx, gx, nx);
        widen_into(dp[0], gw, c->C);
        widen_into(dp[1], gb, c->C);
    }
    release(&mem);
    return !ok;
}

int f32_check_layernorm(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                        const f32_op_case *c, const float *inp, const float *weight,
                        const float *bias)
{
    char layer[96];
    snprintf(layer, sizeof layer, "{\"type\": \"layernorm\", \"eps\": 1e-5, \"tokens\": %d}", c->T);
    size_t n_in = (size_t)c->T * c->C, BT = (size_t)c->B * c->T;
    float *y;
    int st = forward_buffer(&y, err, c, c->B * n_in + 2 * BT);
    if (st)
        return st;
    if (y)
        IN_BUILD(L, L->layernorm_forward(y, y + c->B * n_in, y + c->B * n_in + BT, inp, weight,
                                         bias, c->B, c->T, c->C));
    hash_floats(c, y, y ? c->B * n_in : 0);
    static const char *const names[2] = {"gamma1", "beta1"};
    const float *params[2] = {weight, bias};
    size_t sizes[2] = {(size_t)c->C, (size_t)c->C};
    call k = {L, c};
    st = run(r, err, layer, NULL, n_in, c->B, inp, names, params, sizes, 2, y, n_in,
             layernorm_cb, &k);
    free(y);
    return st;
}

/* ---- GELU ----------------------------------------------------------------- */

static int gelu_cb(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                   size_t n_out, void *user)
{
    const call *k = user;
    size_t n = op->batch * n_out;
    (void)dp;
    pool mem = {{0}, 0};
    float *x = keep(&mem, narrow(op->x, n)), *g = keep(&mem, narrow(dy, n));
    float *gx = keep(&mem, zeros(n));
    int ok = all_kept(&mem, 3);
    if (ok) {
        IN_BUILD(k->L, k->L->gelu_backward(gx, g, x, (int)n, k->c->bug));
        hash_floats(k->c, gx, n);
        widen_into(dx, gx, n);
    }
    release(&mem);
    return !ok;
}

int f32_check_gelu(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                   const f32_op_case *c, const float *inp)
{
    size_t n_in = (size_t)c->T * c->C, n = c->B * n_in;
    float *y;
    int st = forward_buffer(&y, err, c, n);
    if (st)
        return st;
    if (y)
        IN_BUILD(L, L->gelu_forward(y, inp, (int)n));
    hash_floats(c, y, y ? n : 0);
    call k = {L, c};
    st = run(r, err, "{\"activation\": \"gelu_tanh\"}", NULL, n_in, c->B, inp, NULL, NULL,
             NULL, 0, y, n_in, gelu_cb, &k);
    free(y);
    return st;
}

/* ---- attention ------------------------------------------------------------ */

static int attention_cb(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                        size_t n_out, void *user)
{
    const call *k = user;
    const f32_op_case *c = k->c;
    size_t nx = op->batch * op->n_in, ny = op->batch * n_out;
    size_t na = (size_t)c->B * c->NH * c->T * c->T;
    (void)dp;
    pool mem = {{0}, 0};
    float *x = keep(&mem, narrow(op->x, nx)), *g = keep(&mem, narrow(dy, ny));
    float *out = keep(&mem, malloc(ny * sizeof *out)), *att = keep(&mem, malloc(na * sizeof *att));
    float *gx = keep(&mem, zeros(nx)), *scratch = keep(&mem, zeros(2 * na));
    int ok = all_kept(&mem, 6);
    if (ok) {
        IN_BUILD(k->L, k->L->attention_forward(out, att, x, c->B, c->T, c->C, c->NH, c->bug));
        IN_BUILD(k->L, k->L->attention_backward(gx, scratch, scratch + na, g, x, att, c->B, c->T,
                                                c->C, c->NH, c->bug));
        hash_floats(c, gx, nx);
        widen_into(dx, gx, nx);
    }
    release(&mem);
    return !ok;
}

int f32_check_attention(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                        const f32_op_case *c, const float *inp)
{
    char layer[96];
    snprintf(layer, sizeof layer, "{\"type\": \"attention\", \"tokens\": %d, \"heads\": %d}", c->T,
             c->NH);
    size_t n_in = 3 * (size_t)c->T * c->C, n_out = (size_t)c->T * c->C;
    size_t na = (size_t)c->B * c->NH * c->T * c->T;
    float *y;
    int st = forward_buffer(&y, err, c, c->B * n_out + na);
    if (st)
        return st;
    if (y)
        IN_BUILD(L, L->attention_forward(y, y + c->B * n_out, inp, c->B, c->T, c->C, c->NH,
                                         c->bug));
    hash_floats(c, y, y ? c->B * n_out : 0);
    call k = {L, c};
    st = run(r, err, layer, NULL, n_in, c->B, inp, NULL, NULL, NULL, 0, y, n_out,
             attention_cb, &k);
    free(y);
    return st;
}

/* ---- softmax and cross-entropy ---------------------------------------------- */

/* The softmax's vector-Jacobian product from the fused backward, one class
 * at a time (f32_layers_op.h) */
static int softmax_ce_cb(double *dx, double *const *dp, const double *dy, const gradaudit_op *op,
                         size_t n_out, void *user)
{
    const call *k = user;
    const f32_op_case *c = k->c;
    size_t BT = op->batch, V = n_out, n = BT * V;
    (void)dp;
    pool mem = {{0}, 0};
    float *z = keep(&mem, narrow(op->x, n)), *p = keep(&mem, malloc(n * sizeof *p));
    float *dloss = keep(&mem, malloc(BT * sizeof *dloss)), *g = keep(&mem, malloc(n * sizeof *g));
    int *target = keep(&mem, malloc(BT * sizeof *target));
    int ok = all_kept(&mem, 5);
    if (ok) {
        IN_BUILD(k->L, k->L->softmax_forward(p, z, c->B, c->T, (int)V));
        memset(dx, 0, n * sizeof *dx);
        for (size_t t = 0; t < V; t++) {
            for (size_t r = 0; r < BT; r++) {
                target[r] = (int)t;
                dloss[r] = -(p[r * V + t] * (float)dy[r * V + t]);
            }
            memset(g, 0, n * sizeof *g);
            IN_BUILD(k->L, k->L->crossentropy_softmax_backward(g, dloss, p, target, c->B, c->T,
                                                               (int)V, c->bug));
            hash_floats(c, g, n);
            for (size_t i = 0; i < n; i++)
                dx[i] += (double)g[i];
        }
    }
    release(&mem);
    return !ok;
}

int f32_check_softmax_ce(gradaudit_op_result *r, gradaudit_error *err, const f32_layers_ops *L,
                         const f32_op_case *c, const float *logits)
{
    size_t BT = (size_t)c->B * c->T, V = (size_t)c->V;
    float *y;
    int st = forward_buffer(&y, err, c, BT * V);
    if (st)
        return st;
    if (y)
        IN_BUILD(L, L->softmax_forward(y, logits, c->B, c->T, c->V));
    hash_floats(c, y, y ? BT * V : 0);
    call k = {L, c};
    st = run(r, err, "{\"activation\": \"softmax\"}", NULL, V, BT, logits, NULL, NULL, NULL, 0,
             y, V, softmax_ce_cb, &k);
    free(y);
    return st;
}
