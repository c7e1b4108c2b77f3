/* train_mlp.c: the training loop of train_mlp.h, backprop by hand. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_mlp.h"

/* xorshift64* and Box-Muller: the example's own random numbers */
static double uniform01(unsigned long long *s)
{
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) * 0x1p-53;
}

static double gauss(unsigned long long *s)
{
    double u = uniform01(s), v = uniform01(s);
    return sqrt(-2.0 * log(u > 0 ? u : 0x1p-60)) * cos(6.283185307179586 * v);
}

static double act(tm_act a, double z)
{
    return a == TM_TANH ? tanh(z) : a == TM_SIGMOID ? 1.0 / (1.0 + exp(-z)) : z;
}

/* f'(z) from a = f(z) */
static double act_deriv(tm_act a, double y)
{
    return a == TM_TANH ? 1.0 - y * y : a == TM_SIGMOID ? y * (1.0 - y) : 1.0;
}

/* The message into err (may be NULL); returns status. */
static int fail(gradaudit_error *err, int status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

int tm_train(gradaudit_error *err, const tm_config *c, const char *csv,
             const gradaudit_normlog_options *opt, tm_observer obs, void *user)
{
    size_t L = c->layers, B = c->batch;
    if (L < 1 || L > TM_MAX_LAYERS || B < 1 || c->steps < 1 || !(c->lr > 0) || !(c->clip >= 0))
        return fail(err, GRADAUDIT_EINVAL, "train_mlp: bad configuration (layers 1..%d, batch, "
                       "steps, lr > 0, clip >= 0)", TM_MAX_LAYERS);
    for (size_t l = 0; l <= L; l++)
        if (c->width[l] < 1)
            return fail(err, GRADAUDIT_EINVAL, "train_mlp: width[%zu] is 0", l);

    /* one slab for parameters, one for gradients; views W1, b1, ... */
    size_t off[2 * TM_MAX_LAYERS + 1], size[2 * TM_MAX_LAYERS], n = 0, maxw = 0;
    for (size_t l = 1; l <= L; l++) {
        off[2 * l - 2] = n, size[2 * l - 2] = c->width[l] * c->width[l - 1];
        n += size[2 * l - 2];
        off[2 * l - 1] = n, size[2 * l - 1] = c->width[l];
        n += size[2 * l - 1];
    }
    for (size_t l = 0; l <= L; l++)
        maxw = c->width[l] > maxw ? c->width[l] : maxw;
    double *params = calloc(n, sizeof *params), *grads = calloc(n, sizeof *grads);
    double *acts = calloc((L + 1) * B * maxw, sizeof *acts); /* a_l at l B maxw */
    double *dz = calloc(B * maxw, sizeof *dz), *da = calloc(B * maxw, sizeof *da);
    double *y = calloc(B * c->width[L], sizeof *y);
    if (!params || !grads || !acts || !dz || !da || !y) {
        free(params), free(grads), free(acts), free(dz), free(da), free(y);
        return fail(err, GRADAUDIT_ENOMEM, "train_mlp: out of memory");
    }
#define A(l, i, j) acts[((l) * B + (i)) * maxw + (j)]

    unsigned long long s = 0x9E3779B97F4A7C15ULL ^ c->seed;
    for (size_t i = 0; i < B; i++) {
        double sum = 0;
        for (size_t j = 0; j < c->width[0]; j++)
            sum += A(0, i, j) = gauss(&s);
        for (size_t k = 0; k < c->width[L]; k++)
            y[i * c->width[L] + k] = sin(sum);
    }
    for (size_t l = 1; l <= L; l++)
        for (size_t k = 0; k < size[2 * l - 2]; k++)
            params[off[2 * l - 2] + k] = c->gain * gauss(&s) / sqrt((double)c->width[l - 1]);

    gradaudit_normlog_tensor t[2 * TM_MAX_LAYERS];
    char names[2 * TM_MAX_LAYERS][8];
    const double *g[2 * TM_MAX_LAYERS], *p[2 * TM_MAX_LAYERS];
    for (size_t l = 1; l <= L; l++) {
        snprintf(names[2 * l - 2], 8, "W%zu", l);
        snprintf(names[2 * l - 1], 8, "b%zu", l);
        t[2 * l - 2] = (gradaudit_normlog_tensor){names[2 * l - 2], 2, {c->width[l], c->width[l - 1]}};
        t[2 * l - 1] = (gradaudit_normlog_tensor){names[2 * l - 1], 1, {c->width[l]}};
    }
    for (size_t i = 0; i < 2 * L; i++)
        g[i] = grads + off[i], p[i] = params + off[i];
    gradaudit_normlog *log;
    int st = gradaudit_normlog_open(&log, err, csv, t, 2 * L, opt);
    gradaudit_normlog_clip clip = {c->clip, 1e-6};

    for (size_t step = 0; st == GRADAUDIT_OK && step < c->steps; step++) {
        /* forward */
        for (size_t l = 1; l <= L; l++) {
            const double *W = params + off[2 * l - 2], *b = params + off[2 * l - 1];
            size_t in = c->width[l - 1], out = c->width[l];
            for (size_t i = 0; i < B; i++)
                for (size_t k = 0; k < out; k++) {
                    double z = b[k];
                    for (size_t j = 0; j < in; j++)
                        z += A(l - 1, i, j) * W[k * in + j];
                    A(l, i, k) = l < L ? act(c->act, z) : z;
                }
        }
        size_t O = c->width[L];
        double loss = 0;
        for (size_t i = 0; i < B; i++)
            for (size_t k = 0; k < O; k++) {
                double d = A(L, i, k) - y[i * O + k];
                loss += d * d;
                dz[i * maxw + k] = 2.0 * d / (double)(B * O);
            }
        loss /= (double)(B * O);
        /* backward: dz holds dL/dz_l */
        for (size_t l = L; l >= 1; l--) {
            double *dW = grads + off[2 * l - 2], *db = grads + off[2 * l - 1];
            const double *W = params + off[2 * l - 2];
            size_t in = c->width[l - 1], out = c->width[l];
            for (size_t k = 0; k < out; k++) {
                db[k] = 0;
                for (size_t j = 0; j < in; j++)
                    dW[k * in + j] = 0;
                for (size_t i = 0; i < B; i++) {
                    double d = dz[i * maxw + k];
                    db[k] += d;
                    for (size_t j = 0; j < in; j++)
                        dW[k * in + j] += d * A(l - 1, i, j);
                }
            }
            if (l == 1)
                break;
            for (size_t i = 0; i < B; i++)
                for (size_t j = 0; j < in; j++) {
                    double sum = 0;
                    for (size_t k = 0; k < out; k++)
                        sum += dz[i * maxw + k] * W[k * in + j];
                    da[i * maxw + j] = sum * act_deriv(c->act, A(l - 1, i, j));
                }
            memcpy(dz, da, B * maxw * sizeof *dz);
        }
        if (obs)
            obs(step, loss, g, size, user);
        st = gradaudit_normlog_step(log, err, step, loss, g, p, c->clip > 0 ? &clip : NULL);
        if (st != GRADAUDIT_OK || !isfinite(loss))
            break;
        if (c->clip > 0) {
            double norm = gradaudit_norm2(grads, n), coef = c->clip / (norm + 1e-6);
            if (coef < 1)
                for (size_t i = 0; i < n; i++)
                    grads[i] *= coef;
        }
        for (size_t i = 0; i < n; i++)
            params[i] -= c->lr * grads[i];
    }
#undef A
    int cst = gradaudit_normlog_close(log, st == GRADAUDIT_OK ? err : NULL);
    free(params), free(grads), free(acts), free(dz), free(da), free(y);
    return st != GRADAUDIT_OK ? st : cst;
}

void tm_example_config(tm_config *c, const char *which)
{
    memset(c, 0, sizeof *c);
    c->width[0] = 3;
    c->batch = 32;
    c->seed = 1;
    c->gain = 1;
    c->lr = 0.1;
    if (!strcmp(which, "vanish")) {
        c->layers = 11;
        for (size_t l = 1; l < 11; l++)
            c->width[l] = 16;
        c->width[11] = 1;
        c->act = TM_SIGMOID;
        c->steps = 20;
        return;
    }
    c->layers = 3;
    c->width[1] = c->width[2] = 16;
    c->width[3] = 1;
    if (!strcmp(which, "explode")) {
        c->act = TM_IDENTITY;
        c->gain = 3;
        c->lr = 0.003;
        c->steps = 200;
    } else {
        c->act = TM_TANH;
        c->clip = 1;
        c->steps = 200;
    }
}
