/* mlp.c: the two-layer perceptron of mlp.h, its loss in double and in MPFR,
 * its hand-written gradient (with two switchable bugs) and a running error
 * bound of that gradient. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlp.h"

/* Offsets of the tensors in theta. */
#define OFF_W1 0
#define OFF_B1 (OFF_W1 + MLP_H * MLP_D)
#define OFF_W2 (OFF_B1 + MLP_H)
#define OFF_B2 (OFF_W2 + MLP_O * MLP_H)

void mlp_example_data(mlp_data *d, double *theta)
{
    static const double x[MLP_B][MLP_D] = {
        {0.5, -1.25, 0.75}, {-0.3, 0.8, 1.1}, {1.7, 0.2, -0.6}, {-0.9, -0.4, 0.05}};
    static const double y[MLP_B][MLP_O] = {{1, 0}, {0, 1}, {1, 1}, {0, 0}};
    memset(d, 0, sizeof *d);
    memcpy(d->x, x, sizeof x);
    memcpy(d->y, y, sizeof y);
    /* a deterministic, irregular starting point in (-0.8, 0.8) */
    for (size_t i = 0; i < MLP_N; i++)
        theta[i] = 0.8 * sin(1.0 + 2.3 * (double)i);
}

static double sigmoid(double z) /* f(z) = 1/(1+exp(-z)) */
{
    return 1.0 / (1.0 + exp(-z));
}

/* Forward pass of sample b: h (H), p (O). */
static void forward(double *h, double *p, const double *theta, const double *x)
{
    const double *W1 = theta + OFF_W1, *b1 = theta + OFF_B1, *W2 = theta + OFF_W2,
                 *b2 = theta + OFF_B2;
    for (int j = 0; j < MLP_H; j++) {
        double z = 0;
        for (int i = 0; i < MLP_D; i++)
            z += W1[j * MLP_D + i] * x[i];
        h[j] = tanh(z + b1[j]);
    }
    for (int k = 0; k < MLP_O; k++) {
        double z = 0;
        for (int j = 0; j < MLP_H; j++)
            z += W2[k * MLP_H + j] * h[j];
        p[k] = sigmoid(z + b2[k]);
    }
}

int mlp_loss(double *loss, const double *theta, size_t n, void *user)
{
    const mlp_data *d = user;
    if (n != MLP_N)
        return 1;
    double s = 0;
    for (int b = 0; b < MLP_B; b++) {
        double h[MLP_H], p[MLP_O];
        forward(h, p, theta, d->x[b]);
        for (int k = 0; k < MLP_O; k++)
            s += (p[k] - d->y[b][k]) * (p[k] - d->y[b][k]);
    }
    *loss = s / (MLP_B * MLP_O);
    return 0;
}

/* The same loss with every operation in MPFR at prec bits. */
int mlp_loss_mpfr(mpfr_ptr loss, mpfr_srcptr theta, size_t n, mpfr_prec_t prec, void *user)
{
    const mlp_data *d = user;
    if (n != MLP_N)
        return 1;
    mpfr_t z, t, s, h[MLP_H];
    mpfr_inits2(prec, z, t, s, (mpfr_ptr)0);
    for (int j = 0; j < MLP_H; j++)
        mpfr_init2(h[j], prec);
    mpfr_set_zero(s, 1);
    for (int b = 0; b < MLP_B; b++) {
        for (int j = 0; j < MLP_H; j++) {
            mpfr_set(z, theta + OFF_B1 + j, MPFR_RNDN);
            for (int i = 0; i < MLP_D; i++) {
                mpfr_mul_d(t, theta + OFF_W1 + j * MLP_D + i, d->x[b][i], MPFR_RNDN);
                mpfr_add(z, z, t, MPFR_RNDN);
            }
            mpfr_tanh(h[j], z, MPFR_RNDN);
        }
        for (int k = 0; k < MLP_O; k++) {
            mpfr_set(z, theta + OFF_B2 + k, MPFR_RNDN);
            for (int j = 0; j < MLP_H; j++) {
                mpfr_mul(t, theta + OFF_W2 + k * MLP_H + j, h[j], MPFR_RNDN);
                mpfr_add(z, z, t, MPFR_RNDN);
            }
            /* p = 1 / (1 + exp(-z)) */
            mpfr_neg(z, z, MPFR_RNDN);
            mpfr_exp(z, z, MPFR_RNDN);
            mpfr_add_ui(z, z, 1, MPFR_RNDN);
            mpfr_ui_div(z, 1, z, MPFR_RNDN);
            mpfr_sub_d(z, z, d->y[b][k], MPFR_RNDN);
            mpfr_sqr(z, z, MPFR_RNDN);
            mpfr_add(s, s, z, MPFR_RNDN);
        }
    }
    mpfr_div_ui(loss, s, MLP_B * MLP_O, MPFR_RNDN);
    for (int j = 0; j < MLP_H; j++)
        mpfr_clear(h[j]);
    mpfr_clears(z, t, s, (mpfr_ptr)0);
    return 0;
}

/* Backprop, by hand:
 *   dL/dp = 2 (p - y) / (B O);  dz2 = dL/dp * p (1 - p);
 *   dW2[k,j] += dz2[k] h[j];   db2[k] += dz2[k];
 *   dh[j] = sum_k W2[k,j] dz2[k];  dz1 = dh (1 - h^2);
 *   dW1[j,i] += dz1[j] x[i];   db1[j] += dz1[j]. */
int mlp_grad(double *grad, const double *theta, size_t n, void *user)
{
    const mlp_data *d = user;
    if (n != MLP_N)
        return 1;
    const double *W2 = theta + OFF_W2;
    memset(grad, 0, MLP_N * sizeof *grad);
    for (int b = 0; b < MLP_B; b++) {
        double h[MLP_H], p[MLP_O], dz2[MLP_O];
        forward(h, p, theta, d->x[b]);
        for (int k = 0; k < MLP_O; k++) {
            double dp = (d->bug == MLP_BUG_FACTOR2 ? 1.0 : 2.0) * (p[k] - d->y[b][k]) /
                        (MLP_B * MLP_O);
            dz2[k] = dp * (p[k] * (1 - p[k]));
            for (int j = 0; j < MLP_H; j++)
                grad[OFF_W2 + k * MLP_H + j] += dz2[k] * h[j];
            grad[OFF_B2 + k] += dz2[k];
        }
        for (int j = 0; j < MLP_H; j++) {
            double dh = 0;
            for (int k = 0; k < MLP_O; k++)
                dh += W2[k * MLP_H + j] * dz2[k];
            double dz1 = d->bug == MLP_BUG_TANH_DERIV ? dh : dh * (1 - h[j] * h[j]);
            for (int i = 0; i < MLP_D; i++)
                grad[OFF_W1 + j * MLP_D + i] += dz1 * d->x[b][i];
            grad[OFF_B1 + j] += dz1;
        }
    }
    return 0;
}

/* Running error bound of mlp_grad (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., ch. 3): the same passes on magnitudes M,
 *   M(exact input) = |v|,  M(a + b) = M(a) + M(b),  M(a b) = M(a) M(b),
 *   M(f(a)) = |f(a)| + |f'(a)| M(a),
 * give |computed - exact| <= gamma_n M to first order, n the roundings on the
 * longest path. Counted for mlp_grad: forward z1 (D products + D adds + the
 * bias = 7), tanh (2, glibc's tanh is within 2 ulps), z2 (2H + 1 = 11),
 * exp, 1 + ., 1 / . (3 + 2 for exp's ulps), p - y, 2 x, / (B O) (3), p (1 - p)
 * and dp x (3), dh (2 O = 4), 1 - h^2 and x (3), dW1 (x and B adds = 5):
 * 46; the count is doubled to 92 for the first-order terms neglected. */
int mlp_grad_bound(double *mag, size_t *roundings, const double *theta, size_t n, void *user)
{
    const mlp_data *d = user;
    if (n != MLP_N)
        return 1;
    const double *W1 = theta + OFF_W1, *b1 = theta + OFF_B1, *W2 = theta + OFF_W2,
                 *b2 = theta + OFF_B2;
    memset(mag, 0, MLP_N * sizeof *mag);
    for (int b = 0; b < MLP_B; b++) {
        double h[MLP_H], p[MLP_O], Mh[MLP_H], Mp[MLP_O], Mdz2[MLP_O];
        forward(h, p, theta, d->x[b]);
        for (int j = 0; j < MLP_H; j++) {
            double Mz = fabs(b1[j]);
            for (int i = 0; i < MLP_D; i++)
                Mz += fabs(W1[j * MLP_D + i]) * fabs(d->x[b][i]);
            Mh[j] = fabs(h[j]) + (1 - h[j] * h[j]) * Mz; /* tanh' = 1 - tanh^2 */
        }
        for (int k = 0; k < MLP_O; k++) {
            double Mz = fabs(b2[k]);
            for (int j = 0; j < MLP_H; j++)
                Mz += fabs(W2[k * MLP_H + j]) * Mh[j];
            Mp[k] = p[k] + p[k] * (1 - p[k]) * Mz; /* sigmoid' = p (1 - p) */
            double Mdp = 2 * (Mp[k] + fabs(d->y[b][k])) / (MLP_B * MLP_O);
            Mdz2[k] = Mdp * (Mp[k] * (1 + Mp[k]));
            for (int j = 0; j < MLP_H; j++)
                mag[OFF_W2 + k * MLP_H + j] += Mdz2[k] * Mh[j];
            mag[OFF_B2 + k] += Mdz2[k];
        }
        for (int j = 0; j < MLP_H; j++) {
            double Mdh = 0;
            for (int k = 0; k < MLP_O; k++)
                Mdh += fabs(W2[k * MLP_H + j]) * Mdz2[k];
            double Mdz1 = Mdh * (1 + Mh[j] * Mh[j]);
            for (int i = 0; i < MLP_D; i++)
                mag[OFF_W1 + j * MLP_D + i] += Mdz1 * fabs(d->x[b][i]);
            mag[OFF_B1 + j] += Mdz1;
        }
    }
    *roundings = 92;
    return 0;
}

int mlp_name(char *buf, size_t size, size_t i, void *user)
{
    (void)user;
    if (i < OFF_B1)
        snprintf(buf, size, "W1[%zu,%zu]", i / MLP_D, i % MLP_D);
    else if (i < OFF_W2)
        snprintf(buf, size, "b1[%zu]", i - OFF_B1);
    else if (i < OFF_B2)
        snprintf(buf, size, "W2[%zu,%zu]", (i - OFF_W2) / MLP_H, (i - OFF_W2) % MLP_H);
    else if (i < MLP_N)
        snprintf(buf, size, "b2[%zu]", i - OFF_B2);
    else
        return 1;
    return 0;
}

void mlp_problem(gradaudit_problem *p, mlp_data *d, const double *theta)
{
    memset(p, 0, sizeof *p);
    p->n = MLP_N;
    p->theta = theta;
    p->loss = mlp_loss;
    p->grad = mlp_grad;
    p->loss_mpfr = mlp_loss_mpfr;
    p->grad_bound = mlp_grad_bound;
    p->name = mlp_name;
    p->user = d;
}
