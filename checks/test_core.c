/* test_core.c: the double backprop core against independent values.
 *
 * Expected values come from closed forms derived by hand (in the comments)
 * and evaluated with MPFR at 256 bits inside the test, then rounded to
 * double: independent of core/'s arithmetic and of the oracle. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <mpfr.h>

#include "ga_core.h"

#define PREC 256

/* |got - want| in ulps of want, want being the correctly rounded exact value. */
static void assert_ulps(double got, const mpfr_t exact, uint64_t max_ulps, const char *what)
{
    double want = mpfr_get_d(exact, MPFR_RNDN);
    uint64_t d = ga_ulp_distance(got, want);
    cr_assert(d <= max_ulps, "%s: got %.17g, exact %.17g, %llu ulps > %llu", what, got, want,
              (unsigned long long)d, (unsigned long long)max_ulps);
}

/* The worked example of the tutorial algorithm-that-enables-learning:
 * x = 2, y = 1; z1 = W1 x + b1 with W1 = 0.5, b1 = 0.1; a1 = relu(z1);
 * z2 = W2 a1 + b2 with W2 = 0.8, b2 = 0.2; a2 = sigmoid(z2); L = (a2 - y)^2.
 * Hand derivation (chain rule):
 *   dL/da2 = 2 (a2 - y);  dL/dz2 = dL/da2 * a2 (1 - a2);
 *   dL/dW2 = dL/dz2 * a1;  dL/db2 = dL/dz2;
 *   dL/da1 = dL/dz2 * W2;  dL/dz1 = dL/da1 * 1 (z1 = 1.1 > 0);
 *   dL/dW1 = dL/dz1 * x;   dL/db1 = dL/dz1;
 *   one SGD step at 0.1: theta_new = theta - 0.1 * dL/dtheta.
 * Every input is the double nearest the decimal figure, converted exactly. */
typedef struct {
    mpfr_t loss, dW1, db1, dW2, db2, W1n, b1n, W2n, b2n;
} worked_exact;

static void worked_exact_compute(worked_exact *e)
{
    mpfr_t x, y, W1, b1, W2, b2, z1, z2, a2, t, dz2, dz1, lr;
    mpfr_inits2(PREC, x, y, W1, b1, W2, b2, z1, z2, a2, t, dz2, dz1, lr, (mpfr_ptr)0);
    mpfr_inits2(PREC, e->loss, e->dW1, e->db1, e->dW2, e->db2, e->W1n, e->b1n, e->W2n, e->b2n,
                (mpfr_ptr)0);
    mpfr_set_d(x, 2.0, MPFR_RNDN);
    mpfr_set_d(y, 1.0, MPFR_RNDN);
    mpfr_set_d(W1, 0.5, MPFR_RNDN);
    mpfr_set_d(b1, 0.1, MPFR_RNDN);
    mpfr_set_d(W2, 0.8, MPFR_RNDN);
    mpfr_set_d(b2, 0.2, MPFR_RNDN);
    mpfr_set_d(lr, 0.1, MPFR_RNDN);
    mpfr_mul(z1, W1, x, MPFR_RNDN);
    mpfr_add(z1, z1, b1, MPFR_RNDN); /* a1 = z1 > 0 */
    mpfr_mul(z2, W2, z1, MPFR_RNDN);
    mpfr_add(z2, z2, b2, MPFR_RNDN);
    mpfr_neg(a2, z2, MPFR_RNDN); /* a2 = 1 / (1 + exp(-z2)) */
    mpfr_exp(a2, a2, MPFR_RNDN);
    mpfr_add_ui(a2, a2, 1, MPFR_RNDN);
    mpfr_ui_div(a2, 1, a2, MPFR_RNDN);
    mpfr_sub(t, a2, y, MPFR_RNDN);
    mpfr_sqr(e->loss, t, MPFR_RNDN);
    mpfr_mul_ui(dz2, t, 2, MPFR_RNDN); /* 2 (a2 - y) a2 (1 - a2) */
    mpfr_mul(dz2, dz2, a2, MPFR_RNDN);
    mpfr_ui_sub(t, 1, a2, MPFR_RNDN);
    mpfr_mul(dz2, dz2, t, MPFR_RNDN);
    mpfr_mul(e->dW2, dz2, z1, MPFR_RNDN);
    mpfr_set(e->db2, dz2, MPFR_RNDN);
    mpfr_mul(dz1, dz2, W2, MPFR_RNDN);
    mpfr_mul(e->dW1, dz1, x, MPFR_RNDN);
    mpfr_set(e->db1, dz1, MPFR_RNDN);
    /* the new parameters are compared after one double SGD step, whose own
     * rounding (product and difference) is part of what the core does */
    mpfr_mul(t, lr, e->dW1, MPFR_RNDN), mpfr_sub(e->W1n, W1, t, MPFR_RNDN);
    mpfr_mul(t, lr, e->db1, MPFR_RNDN), mpfr_sub(e->b1n, b1, t, MPFR_RNDN);
    mpfr_mul(t, lr, e->dW2, MPFR_RNDN), mpfr_sub(e->W2n, W2, t, MPFR_RNDN);
    mpfr_mul(t, lr, e->db2, MPFR_RNDN), mpfr_sub(e->b2n, b2, t, MPFR_RNDN);
    mpfr_clears(x, y, W1, b1, W2, b2, z1, z2, a2, t, dz2, dz1, lr, (mpfr_ptr)0);
}

static void worked_exact_clear(worked_exact *e)
{
    mpfr_clears(e->loss, e->dW1, e->db1, e->dW2, e->db2, e->W1n, e->b1n, e->W2n, e->b2n,
                (mpfr_ptr)0);
}

static void run_worked_example(ga_layout layout, ga_kernel kernel)
{
    ga_layer_desc layers[2] = {{1, GA_ACT_RELU, 0}, {1, GA_ACT_SIGMOID, 0}};
    ga_net_desc d = {layout, 1, 2, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net;
    ga_workspace *ws;
    ga_error err;
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, 1), GA_OK, "%s", err.msg);
    net->kernel = kernel;
    /* one-element tensors sit at the same place in both layouts: W1 b1 W2 b2 */
    double init[4] = {0.5, 0.1, 0.8, 0.2};
    memcpy(net->params, init, sizeof init);
    double x = 2.0, y = 1.0, loss;
    cr_assert_eq(ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, &x, &y, 1), GA_OK);

    worked_exact e;
    worked_exact_compute(&e);
    /* Budget: the double pass rounds each of the ~8 operations on the path to
     * a gradient once (u = 2^-53 relative each), plus glibc exp (< 1 ulp);
     * relative error <= ~10 u, i.e. at most 4 ulps of headroom is plenty for
     * values this far from binade edges, and matches the bound. */
    assert_ulps(loss, e.loss, 4, "loss");
    assert_ulps(net->grads[0], e.dW1, 4, "dL/dW1");
    assert_ulps(net->grads[1], e.db1, 4, "dL/db1");
    assert_ulps(net->grads[2], e.dW2, 4, "dL/dW2");
    assert_ulps(net->grads[3], e.db2, 4, "dL/db2");
    ga_sgd_step(net->params, net->grads, net->n_params, 0.1);
    assert_ulps(net->params[0], e.W1n, 4, "W1 after one step");
    assert_ulps(net->params[1], e.b1n, 4, "b1 after one step");
    assert_ulps(net->params[2], e.W2n, 4, "W2 after one step");
    assert_ulps(net->params[3], e.b2n, 4, "b2 after one step");
    worked_exact_clear(&e);
    ga_workspace_free(ws);
    ga_net_free(net);
}

Test(worked_example, column_blas) { run_worked_example(GA_LAYOUT_COLUMN, GA_KERNEL_BLAS); }
Test(worked_example, column_reference) { run_worked_example(GA_LAYOUT_COLUMN, GA_KERNEL_REFERENCE); }
Test(worked_example, row_blas) { run_worked_example(GA_LAYOUT_ROW, GA_KERNEL_BLAS); }
Test(worked_example, row_reference) { run_worked_example(GA_LAYOUT_ROW, GA_KERNEL_REFERENCE); }

/* A 2-3-1 tanh/identity net with batch 2, MSE mean, weight decay: the
 * gradient in closed form, written out by hand as sums, evaluated in MPFR.
 *   z1[n,k] = sum_j x[n,j] W1(k,j) + b1[k]; h = tanh(z1);
 *   z2[n]   = sum_k h[n,k] W2(0,k) + b2;  L = (1/2) sum_n (z2[n] - y[n])^2 / 2
 *             + lambda/2 (|W1|^2 + |W2|^2)          (scale 0.5, mean over 2 elements)
 *   g[n] = 0.5 * 2 (z2[n]-y[n]) / 2
 *   dW2(0,k) = sum_n g[n] h[n,k] + lambda W2(0,k);  db2 = sum_n g[n]
 *   dz1[n,k] = g[n] W2(0,k) (1 - h[n,k]^2)
 *   dW1(k,j) = sum_n dz1[n,k] x[n,j] + lambda W1(k,j);  db1[k] = sum_n dz1[n,k] */
static void run_small_net(ga_layout layout, ga_kernel kernel)
{
    ga_layer_desc layers[2] = {{3, GA_ACT_TANH, 0}, {1, GA_ACT_IDENTITY, 0}};
    ga_net_desc d = {layout, 2, 2, layers, {GA_LOSS_MSE, 0.5, GA_REDUCE_MEAN, 0.01}};
    ga_net *net;
    ga_workspace *ws;
    ga_error err;
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    cr_assert_eq(net->n_params, 13u);
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, 2), GA_OK);
    net->kernel = kernel;
    const double W1[3][2] = {{0.3, -0.7}, {1.1, 0.25}, {-0.45, 0.9}}, b1[3] = {0.05, -0.2, 0.125};
    const double W2[3] = {0.6, -1.3, 0.8}, b2 = -0.15, lambda = 0.01;
    const double x[2][2] = {{0.5, 0.1}, {-1.5, 2.0}}, y[2] = {0.3, -0.4};
    const ga_view *vW1 = &net->views[0], *vb1 = &net->views[1], *vW2 = &net->views[2],
                  *vb2 = &net->views[3];
    for (size_t k = 0; k < 3; k++) {
        for (size_t j = 0; j < 2; j++)
            net->params[ga_weight_index(net, vW1, k, j)] = W1[k][j];
        net->params[vb1->offset + k] = b1[k];
        net->params[ga_weight_index(net, vW2, 0, k)] = W2[k];
    }
    net->params[vb2->offset] = b2;
    double loss;
    cr_assert_eq(ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, &x[0][0], y, 2),
                 GA_OK);

    mpfr_t h[2][3], g[2], s, t, L, acc;
    mpfr_inits2(PREC, s, t, L, acc, g[0], g[1], (mpfr_ptr)0);
    mpfr_set_zero(L, 1);
    for (int n = 0; n < 2; n++) {
        mpfr_set_d(s, b2, MPFR_RNDN);
        for (int k = 0; k < 3; k++) {
            mpfr_init2(h[n][k], PREC);
            mpfr_set_d(h[n][k], b1[k], MPFR_RNDN);
            for (int j = 0; j < 2; j++) {
                mpfr_set_d(t, x[n][j], MPFR_RNDN);
                mpfr_mul_d(t, t, W1[k][j], MPFR_RNDN);
                mpfr_add(h[n][k], h[n][k], t, MPFR_RNDN);
            }
            mpfr_tanh(h[n][k], h[n][k], MPFR_RNDN);
            mpfr_mul_d(t, h[n][k], W2[k], MPFR_RNDN);
            mpfr_add(s, s, t, MPFR_RNDN);
        }
        mpfr_sub_d(s, s, y[n], MPFR_RNDN);
        mpfr_sqr(t, s, MPFR_RNDN);
        mpfr_add(L, L, t, MPFR_RNDN);
        mpfr_div_ui(g[n], s, 2, MPFR_RNDN); /* 0.5 * 2 * (z2 - y) / 2 */
    }
    mpfr_div_ui(L, L, 4, MPFR_RNDN); /* 0.5 * sum / 2 */
    mpfr_set_zero(acc, 1);
    for (int k = 0; k < 3; k++) {
        mpfr_set_d(t, W2[k], MPFR_RNDN);
        mpfr_sqr(t, t, MPFR_RNDN);
        mpfr_add(acc, acc, t, MPFR_RNDN);
        for (int j = 0; j < 2; j++) {
            mpfr_set_d(t, W1[k][j], MPFR_RNDN);
            mpfr_sqr(t, t, MPFR_RNDN);
            mpfr_add(acc, acc, t, MPFR_RNDN);
        }
    }
    mpfr_mul_d(acc, acc, lambda, MPFR_RNDN); /* lambda/2 * sum W^2 */
    mpfr_div_ui(acc, acc, 2, MPFR_RNDN);
    mpfr_add(L, L, acc, MPFR_RNDN);
    /* Budget: products and sums of at most 3 terms with tanh (glibc < 2 ulps)
     * on the path; relative error stays near 10 u for entries without
     * cancellation, which these inputs avoid (checked: every term of each sum
     * has the sign of the sum or is below a tenth of it). 8 ulps. */
    assert_ulps(loss, L, 8, "loss");
    mpfr_t db2, dW2, dz, dW1, db1;
    mpfr_inits2(PREC, db2, dW2, dz, dW1, db1, (mpfr_ptr)0);
    mpfr_add(db2, g[0], g[1], MPFR_RNDN);
    assert_ulps(net->grads[vb2->offset], db2, 8, "db2");
    for (size_t k = 0; k < 3; k++) {
        mpfr_mul(dW2, g[0], h[0][k], MPFR_RNDN);
        mpfr_mul(t, g[1], h[1][k], MPFR_RNDN);
        mpfr_add(dW2, dW2, t, MPFR_RNDN);
        mpfr_set_d(t, W2[k], MPFR_RNDN);
        mpfr_mul_d(t, t, lambda, MPFR_RNDN);
        mpfr_add(dW2, dW2, t, MPFR_RNDN);
        char name[32];
        snprintf(name, sizeof name, "dW2(0,%zu)", k);
        assert_ulps(net->grads[ga_weight_index(net, vW2, 0, k)], dW2, 8, name);
        mpfr_set_zero(db1, 1);
        for (size_t j = 0; j < 2; j++) {
            mpfr_set_d(dW1, W1[k][j], MPFR_RNDN);
            mpfr_mul_d(dW1, dW1, lambda, MPFR_RNDN);
            for (int n = 0; n < 2; n++) {
                mpfr_sqr(dz, h[n][k], MPFR_RNDN);
                mpfr_ui_sub(dz, 1, dz, MPFR_RNDN);
                mpfr_mul_d(dz, dz, W2[k], MPFR_RNDN);
                mpfr_mul(dz, dz, g[n], MPFR_RNDN);
                if (j == 0)
                    mpfr_add(db1, db1, dz, MPFR_RNDN);
                mpfr_mul_d(dz, dz, x[n][j], MPFR_RNDN);
                mpfr_add(dW1, dW1, dz, MPFR_RNDN);
            }
            snprintf(name, sizeof name, "dW1(%zu,%zu)", k, j);
            assert_ulps(net->grads[ga_weight_index(net, vW1, k, j)], dW1, 16, name);
        }
        snprintf(name, sizeof name, "db1[%zu]", k);
        assert_ulps(net->grads[vb1->offset + k], db1, 16, name);
    }
    mpfr_clears(db2, dW2, dz, dW1, db1, s, t, L, acc, g[0], g[1], (mpfr_ptr)0);
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 3; k++)
            mpfr_clear(h[n][k]);
    ga_workspace_free(ws);
    ga_net_free(net);
}

Test(small_net, column_blas) { run_small_net(GA_LAYOUT_COLUMN, GA_KERNEL_BLAS); }
Test(small_net, column_reference) { run_small_net(GA_LAYOUT_COLUMN, GA_KERNEL_REFERENCE); }
Test(small_net, row_blas) { run_small_net(GA_LAYOUT_ROW, GA_KERNEL_BLAS); }
Test(small_net, row_reference) { run_small_net(GA_LAYOUT_ROW, GA_KERNEL_REFERENCE); }

Test(views, names_follow_the_layout)
{
    ga_layer_desc layers[2] = {{3, GA_ACT_SIGMOID, 0}, {1, GA_ACT_SIGMOID, 0}};
    ga_net_desc d = {GA_LAYOUT_COLUMN, 2, 2, layers, {GA_LOSS_MSE, 0.5, GA_REDUCE_SUM, 0}};
    ga_net *net;
    cr_assert_eq(ga_net_alloc(&net, NULL, &d), GA_OK);
    char name[32];
    /* column: W1 (3,2) at 0..5, b1 (3,1) at 6..8, W2 (1,3) at 9..11, b2 (1,1) at 12 */
    const char *want[13] = {"W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "W1[2,0]", "W1[2,1]",
                            "b1[0,0]", "b1[1,0]", "b1[2,0]", "W2[0,0]", "W2[0,1]", "W2[0,2]",
                            "b2[0,0]"};
    for (size_t i = 0; i < 13; i++) {
        ga_param_name(name, sizeof name, net, i);
        cr_assert_str_eq(name, want[i]);
    }
    ga_net_free(net);
    d.layout = GA_LAYOUT_ROW;
    cr_assert_eq(ga_net_alloc(&net, NULL, &d), GA_OK);
    /* row: W1 (2,3), b1 (1,3), W2 (3,1), b2 (1,1) */
    const char *want_row[13] = {"W1[0,0]", "W1[0,1]", "W1[0,2]", "W1[1,0]", "W1[1,1]",
                                "W1[1,2]", "b1[0,0]", "b1[0,1]", "b1[0,2]", "W2[0,0]",
                                "W2[1,0]", "W2[2,0]", "b2[0,0]"};
    for (size_t i = 0; i < 13; i++) {
        ga_param_name(name, sizeof name, net, i);
        cr_assert_str_eq(name, want_row[i]);
    }
    ga_param_name(name, sizeof name, net, 13);
    cr_assert_str_eq(name, "?[13]");
    ga_net_free(net);
}

Test(validate, refuses_bad_descriptions_before_allocating)
{
    ga_error err;
    size_t n;
    ga_layer_desc layers[2] = {{3, GA_ACT_SIGMOID, 0}, {1, GA_ACT_IDENTITY, 0}};
    ga_net_desc d = {GA_LAYOUT_ROW, 2, 2, layers, {GA_LOSS_BCE, 1, GA_REDUCE_SUM, 0}};
    cr_assert_eq(ga_net_desc_validate(&n, &err, &d, 0), GA_EINVAL);
    cr_assert(strstr(err.msg, "needs the last layer's activation to be \"sigmoid\""), "%s", err.msg);
    d.loss.kind = GA_LOSS_MSE;
    cr_assert_eq(ga_net_desc_validate(&n, &err, &d, 0), GA_OK);
    cr_assert_eq(n, 2u * 3 + 3 + 3 + 1);
    layers[0].n_out = 0;
    cr_assert_eq(ga_net_desc_validate(&n, &err, &d, 0), GA_EINVAL);
    cr_assert(strstr(err.msg, "layers[0].size"), "%s", err.msg);
    layers[0].n_out = 3;
    d.loss.weight_decay = -1;
    cr_assert_eq(ga_net_desc_validate(&n, &err, &d, 0), GA_EINVAL);
    cr_assert(strstr(err.msg, "weight_decay"), "%s", err.msg);
    d.loss.weight_decay = NAN;
    cr_assert_eq(ga_net_desc_validate(&n, &err, &d, 0), GA_EINVAL);
    d.loss.weight_decay = 0;
    d.loss.scale = INFINITY;
    cr_assert_eq(ga_net_desc_validate(&n, &err, &d, 0), GA_EINVAL);
    d.loss.scale = 1;
    /* 2^24 x 2^24 weights: 2^48 parameters fit in size_t but not under a cap */
    ga_layer_desc wide[2] = {{GA_MAX_WIDTH, GA_ACT_RELU, 0}, {GA_MAX_WIDTH, GA_ACT_IDENTITY, 0}};
    ga_net_desc big = {GA_LAYOUT_ROW, GA_MAX_WIDTH, 2, wide, {GA_LOSS_MSE, 1, GA_REDUCE_SUM, 0}};
    cr_assert_eq(ga_net_desc_validate(&n, &err, &big, GA_DEFAULT_MEMORY_CAP), GA_ENOMEM);
    cr_assert(strstr(err.msg, "over the memory cap"), "%s", err.msg);
    ga_net *net = (ga_net *)&n;
    cr_assert_eq(ga_net_alloc(&net, &err, &big), GA_ENOMEM);
    cr_assert_null(net);
    layers[0].act = GA_ACT_LEAKY_RELU;
    layers[0].act_param = NAN;
    cr_assert_eq(ga_net_desc_validate(&n, &err, &d, 0), GA_EINVAL);
    cr_assert(strstr(err.msg, "not finite"), "%s", err.msg);
}

Test(forward, refuses_non_finite_data_and_bad_batches)
{
    ga_layer_desc layers[1] = {{1, GA_ACT_IDENTITY, 0}};
    ga_net_desc d = {GA_LAYOUT_ROW, 2, 1, layers, {GA_LOSS_MSE, 1, GA_REDUCE_SUM, 0}};
    ga_net *net;
    ga_workspace *ws;
    ga_error err;
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK);
    cr_assert_eq(ga_workspace_alloc(&ws, &err, net, 2), GA_OK);
    double x[4] = {1, 2, NAN, 4}, y[2] = {0, 0}, loss;
    cr_assert_eq(ga_forward(&loss, ws, net, net->params, x, y, 2), GA_ENONFINITE);
    x[2] = 3;
    cr_assert_eq(ga_forward(&loss, ws, net, net->params, x, y, 3), GA_EINVAL);
    cr_assert_eq(ga_forward(&loss, ws, net, net->params, x, y, 0), GA_EINVAL);
    cr_assert_eq(ga_forward(&loss, ws, net, net->params, NULL, y, 1), GA_EINVAL);
    cr_assert_eq(ga_backward(net->grads, NULL, ws, net, net->params, x, y, 2), GA_EINVAL,
                 "backward without a forward on this batch is refused");
    ga_workspace *none = (ga_workspace *)&loss;
    cr_assert_eq(ga_workspace_alloc(&none, &err, net, 0), GA_EINVAL);
    cr_assert_null(none);
    cr_assert_eq(ga_workspace_alloc(&none, &err, net, SIZE_MAX / 2), GA_ERANGE);
    ga_workspace_free(ws);
    ga_net_free(net);
}

/* Adam after Kingma & Ba (2015), Algorithm 1, with eps added after the square
 * root; two steps computed by hand:
 *   g = 0.5: m1 = 0.05, v1 = 0.00025, mh = 0.5, vh = 0.25, step = lr*0.5/(0.5+eps)
 * evaluated here in MPFR from the same formulas. */
Test(train, adam_two_steps_match_the_algorithm)
{
    double p = 1.0, m = 0, v = 0, g[2] = {0.5, -0.25};
    const double lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    mpfr_t P, M, V, t, mh, vh;
    mpfr_inits2(PREC, P, M, V, t, mh, vh, (mpfr_ptr)0);
    mpfr_set_d(P, 1.0, MPFR_RNDN);
    mpfr_set_zero(M, 1);
    mpfr_set_zero(V, 1);
    for (unsigned long step = 1; step <= 2; step++) {
        ga_adam_step(&p, &m, &v, &g[step - 1], 1, lr, b1, b2, eps, step);
        mpfr_mul_d(M, M, b1, MPFR_RNDN);
        mpfr_set_d(t, 1.0 - b1, MPFR_RNDN); /* 1 - b1 as the double expression gives it */
        mpfr_mul_d(t, t, g[step - 1], MPFR_RNDN);
        mpfr_add(M, M, t, MPFR_RNDN);
        mpfr_mul_d(V, V, b2, MPFR_RNDN);
        mpfr_set_d(t, 1.0 - b2, MPFR_RNDN);
        mpfr_mul_d(t, t, g[step - 1] * g[step - 1], MPFR_RNDN);
        mpfr_add(V, V, t, MPFR_RNDN);
        mpfr_set_d(t, 1.0 - pow(b1, (double)step), MPFR_RNDN);
        mpfr_div(mh, M, t, MPFR_RNDN);
        mpfr_set_d(t, 1.0 - pow(b2, (double)step), MPFR_RNDN);
        mpfr_div(vh, V, t, MPFR_RNDN);
        mpfr_sqrt(vh, vh, MPFR_RNDN);
        mpfr_add_d(vh, vh, eps, MPFR_RNDN);
        mpfr_div(mh, mh, vh, MPFR_RNDN);
        mpfr_mul_d(mh, mh, lr, MPFR_RNDN);
        mpfr_sub(P, P, mh, MPFR_RNDN);
        assert_ulps(p, P, 4, "adam parameter");
    }
    mpfr_clears(P, M, V, t, mh, vh, (mpfr_ptr)0);
}

/* Clipping: g = (3, 4) has norm 5; max_norm 1 with eps 1e-6 scales by
 * 1/(5 + 1e-6) (the tutorials' variant); max_norm 10 leaves g alone. */
Test(train, clip_global_norm)
{
    double g[2] = {3, 4}, norm;
    int fired;
    ga_clip_global_norm(&norm, &fired, g, 2, 1.0, 1e-6);
    cr_assert_eq(norm, 5.0);
    cr_assert(fired);
    cr_assert_eq(g[0], 3.0 * (1.0 / (5.0 + 1e-6)));
    cr_assert_eq(g[1], 4.0 * (1.0 / (5.0 + 1e-6)));
    double h[2] = {3, 4};
    ga_clip_global_norm(&norm, &fired, h, 2, 10.0, 0.0);
    cr_assert(!fired);
    cr_assert_eq(h[0], 3.0);
    cr_assert_eq(h[1], 4.0);
    /* exactly at the threshold (coef == 1) nothing fires */
    ga_clip_global_norm(&norm, &fired, h, 2, 5.0, 0.0);
    cr_assert(!fired);
}

Test(train, momentum_accumulates_velocity)
{
    double p = 1.0, v = 0, g = 0.5;
    ga_momentum_step(&p, &v, &g, 1, 0.1, 0.9); /* v = 0.5, p = 1 - 0.05 */
    cr_assert_eq(v, 0.5);
    cr_assert_eq(p, 1.0 - 0.1 * 0.5);
    ga_momentum_step(&p, &v, &g, 1, 0.1, 0.9); /* v = 0.95 */
    cr_assert_eq(v, 0.9 * 0.5 + 0.5);
    cr_assert_eq(p, (1.0 - 0.1 * 0.5) - 0.1 * (0.9 * 0.5 + 0.5));
}

Test(ulps, distance_is_symmetric_and_nan_aware)
{
    cr_assert_eq(ga_ulp_distance(1.0, 1.0), 0u);
    cr_assert_eq(ga_ulp_distance(0.0, -0.0), 0u);
    cr_assert_eq(ga_ulp_distance(1.0, nextafter(1.0, 2.0)), 1u);
    cr_assert_eq(ga_ulp_distance(nextafter(0.0, -1.0), nextafter(0.0, 1.0)), 2u);
    cr_assert_eq(ga_ulp_distance(NAN, 1.0), UINT64_MAX);
    cr_assert_eq(ga_ulp_distance(-1.0, nextafter(-1.0, -2.0)), 1u);
}
