/* mlp.h: a small two-layer perceptron with hand-written backprop, used to
 * show how a user checks gradient code through gradaudit's public API.
 * It shares no code with gradaudit's core/.
 *
 *   h = tanh(W1 x + b1)            W1 (H, D), b1 (H)
 *   p = sigmoid(W2 h + b2)         W2 (O, H), b2 (O), sigmoid(z) = 1/(1+exp(-z))
 *   L = 1/(B O) sum_{b,k} (p[b,k] - y[b,k])^2          (mean squared error)
 *
 * theta (n) = [W1 | b1 | W2 | b2], each row-major.
 */
#ifndef EXAMPLE_MLP_H
#define EXAMPLE_MLP_H

#include <stddef.h>

#include <gradaudit.h>

#define MLP_B 4 /* samples */
#define MLP_D 3 /* inputs */
#define MLP_H 5 /* hidden units */
#define MLP_O 2 /* outputs */
#define MLP_N (MLP_H * MLP_D + MLP_H + MLP_O * MLP_H + MLP_O)

typedef enum {
    MLP_CORRECT = 0,
    MLP_BUG_FACTOR2,     /* dL/dp without the 2 of the square */
    MLP_BUG_TANH_DERIV   /* dz1 = dh, the (1 - h^2) forgotten */
} mlp_bug;

typedef struct {
    double x[MLP_B][MLP_D];
    double y[MLP_B][MLP_O];
    mlp_bug bug;
} mlp_data;

/* A fixed data set and starting point (theta (MLP_N)). */
void mlp_example_data(mlp_data *d, double *theta);

/* gradaudit callbacks; user is a mlp_data *. */
int mlp_loss(double *loss, const double *theta, size_t n, void *user);
int mlp_loss_mpfr(mpfr_ptr loss, mpfr_srcptr theta, size_t n, mpfr_prec_t prec, void *user);
int mlp_grad(double *grad, const double *theta, size_t n, void *user);
int mlp_grad_bound(double *mag, size_t *roundings, const double *theta, size_t n, void *user);
int mlp_name(char *buf, size_t size, size_t i, void *user);

/* The problem with every callback filled in. */
void mlp_problem(gradaudit_problem *p, mlp_data *d, const double *theta);

#endif
