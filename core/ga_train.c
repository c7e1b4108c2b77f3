/* ga_train.c: the training steps the tutorials use. */
#include <math.h>

#include "ga_core.h"

void ga_sgd_step(double *params, const double *grads, size_t n, double lr)
{
    for (size_t i = 0; i < n; i++)
        params[i] -= lr * grads[i];
}

void ga_momentum_step(double *params, double *velocity, const double *grads, size_t n,
                      double lr, double mu)
{
    for (size_t i = 0; i < n; i++) {
        velocity[i] = mu * velocity[i] + grads[i];
        params[i] -= lr * velocity[i];
    }
}

void ga_adam_step(double *params, double *m, double *v, const double *grads, size_t n,
                  double lr, double beta1, double beta2, double eps, unsigned long t)
{
    double c1 = 1.0 - pow(beta1, (double)t), c2 = 1.0 - pow(beta2, (double)t);
    for (size_t i = 0; i < n; i++) {
        m[i] = beta1 * m[i] + (1.0 - beta1) * grads[i];
        v[i] = beta2 * v[i] + (1.0 - beta2) * grads[i] * grads[i];
        double m_hat = m[i] / c1, v_hat = v[i] / c2;
        params[i] -= lr * m_hat / (sqrt(v_hat) + eps);
    }
}

void ga_clip_global_norm(double *pre_norm, int *clipped, double *grads, size_t n,
                         double max_norm, double eps)
{
    double sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sq += grads[i] * grads[i];
    double norm = sqrt(sq);
    double coef = max_norm / (norm + eps);
    int fire = coef < 1.0;
    if (fire)
        for (size_t i = 0; i < n; i++)
            grads[i] *= coef;
    if (pre_norm)
        *pre_norm = norm;
    if (clipped)
        *clipped = fire;
}
