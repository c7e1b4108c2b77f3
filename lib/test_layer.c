/* test_layer.c: gradaudit_check_dense on layer code written the way published
 * C training code writes it (llm.c's matmul and GELU backward, in float32 and
 * in double, written for this test), through the public header alone.
 * Expected: the correct layer passes every entry; each wrong variant, a bug
 * people make, FAILs in the tensor it breaks. The exact values come from
 * gradaudit's MPFR oracle at the layer's (rounded) numbers. */
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "gradaudit.h"

enum { GOOD = 0, GELU_NO_3, DB_FIRST_SAMPLE, DX_NOT_TRANSPOSED };

typedef struct {
    int bug;
    int float32;
} variant;

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

/* out = gelu_tanh(x W^T + b), backward as llm.c writes it: the tanh form's
 * derivative through cosh, then the matmul's three products */
static int backward_f32(double *dx, double *dW, double *db, const double *dy,
                        const gradaudit_dense_layer *L, void *user)
{
    const variant *v = user;
    size_t I = L->n_in, O = L->n_out, B = L->batch;
    float dz[64 * 64];
    for (size_t n = 0; n < B; n++)
        for (size_t o = 0; o < O; o++) {
            float z = (float)L->b[o];
            for (size_t i = 0; i < I; i++)
                z += (float)L->x[n * I + i] * (float)L->W[o * I + i];
            float cube = 0.044715f * z * z * z;
            float t = GELU_K * (z + cube), th = tanhf(t), ch = coshf(t);
            float sech2 = 1.0f / (ch * ch);
            float c3 = v->bug == GELU_NO_3 ? 0.044715f : 3.0f * 0.044715f;
            float grad = 0.5f * (1.0f + th) + z * 0.5f * sech2 * GELU_K * (1.0f + c3 * z * z);
            dz[n * O + o] = grad * (float)dy[n * O + o];
        }
    for (size_t o = 0; o < O; o++) {
        float s = 0.0f;
        for (size_t n = 0; n < (v->bug == DB_FIRST_SAMPLE ? 1 : B); n++)
            s += dz[n * O + o];
        db[o] = s;
        for (size_t i = 0; i < I; i++) {
            float w = 0.0f;
            for (size_t n = 0; n < B; n++)
                w += dz[n * O + o] * (float)L->x[n * I + i];
            dW[o * I + i] = w;
        }
    }
    for (size_t n = 0; n < B; n++)
        for (size_t i = 0; i < I; i++) {
            float s = 0.0f;
            for (size_t o = 0; o < O; o++)
                s += dz[n * O + o] * (float)(v->bug == DX_NOT_TRANSPOSED ? L->W[i * I + o]
                                                                          : L->W[o * I + i]);
            dx[n * I + i] = s;
        }
    return 0;
}

/* the same in double (the usual formulas: tanh, 1 - tanh^2) */
static int backward_f64(double *dx, double *dW, double *db, const double *dy,
                        const gradaudit_dense_layer *L, void *user)
{
    (void)user;
    size_t I = L->n_in, O = L->n_out, B = L->batch;
    double dz[64 * 64];
    for (size_t n = 0; n < B; n++)
        for (size_t o = 0; o < O; o++) {
            double z = L->b[o];
            for (size_t i = 0; i < I; i++)
                z += L->x[n * I + i] * L->W[o * I + i];
            double k = 0.7978845608028654, t = k * (z + 0.044715 * z * z * z), th = tanh(t);
            dz[n * O + o] = dy[n * O + o] * (0.5 * (1 + th) +
                                             0.5 * z * (1 - th * th) * k * (1 + 3 * 0.044715 * z * z));
        }
    memset(db, 0, O * sizeof *db);
    memset(dW, 0, O * I * sizeof *dW);
    memset(dx, 0, B * I * sizeof *dx);
    for (size_t n = 0; n < B; n++)
        for (size_t o = 0; o < O; o++) {
            db[o] += dz[n * O + o];
            for (size_t i = 0; i < I; i++) {
                dW[o * I + i] += dz[n * O + o] * L->x[n * I + i];
                dx[n * I + i] += dz[n * O + o] * L->W[o * I + i];
            }
        }
    return 0;
}

static int failing_backward(double *dx, double *dW, double *db, const double *dy,
                            const gradaudit_dense_layer *L, void *user)
{
    (void)dx, (void)dW, (void)db, (void)dy, (void)L, (void)user;
    return 1;
}

/* a square layer (so the transposed-W bug reads in range), batch 4 */
#define N 6
#define BATCH 4
static double W[N * N], b[N], x[BATCH * N];

static gradaudit_dense_layer make_layer(int float32)
{
    for (size_t i = 0; i < N * N; i++)
        W[i] = sin(1.0 + 3.0 * (double)i) * 0.6;
    for (size_t i = 0; i < N; i++)
        b[i] = 0.1 * cos((double)i);
    for (size_t i = 0; i < BATCH * N; i++)
        x[i] = 1.5 * sin(0.7 * (double)i + 0.3);
    gradaudit_dense_layer L = {N, N, BATCH, "gelu_tanh", 0.0, W, b, x, float32, 2026};
    return L;
}

static gradaudit_layer_result check(int float32, int bug)
{
    gradaudit_dense_layer L = make_layer(float32);
    variant v = {bug, float32};
    gradaudit_layer_result r;
    gradaudit_error err;
    cr_assert_eq(gradaudit_check_dense(&r, &err, &L, float32 ? backward_f32 : backward_f64, &v),
                 GRADAUDIT_OK, "%s", err.msg);
    cr_assert_eq(r.n_entries, N * N + N + BATCH * N);
    return r;
}

Test(layer, correct_float32_layer_passes_every_entry)
{
    gradaudit_layer_result r = check(1, GOOD);
    cr_expect_eq(r.n_fail, 0, "%zu FAIL: %s", r.n_fail, r.first_fail);
    cr_expect_eq(r.n_unjudgeable, 0);
    cr_expect_eq(r.n_pass, r.n_entries);
}

Test(layer, correct_double_layer_passes_every_entry)
{
    gradaudit_layer_result r = check(0, GOOD);
    cr_expect_eq(r.n_fail, 0, "%zu FAIL: %s", r.n_fail, r.first_fail);
    cr_expect_eq(r.n_pass, r.n_entries);
}

Test(layer, gelu_derivative_without_its_3_fails)
{
    gradaudit_layer_result r = check(1, GELU_NO_3);
    cr_expect_gt(r.fail_dW, 0, "%s", r.first_fail);
    cr_expect_gt(r.fail_dx, 0);
    cr_expect_gt(r.fail_db, 0);
}

Test(layer, bias_gradient_of_one_sample_fails_in_db_alone)
{
    gradaudit_layer_result r = check(1, DB_FIRST_SAMPLE);
    cr_expect_eq(r.fail_db, N, "%s", r.first_fail);
    cr_expect_eq(r.fail_dW, 0);
    cr_expect_eq(r.fail_dx, 0);
}

Test(layer, input_gradient_through_untransposed_W_fails_in_dx_alone)
{
    gradaudit_layer_result r = check(1, DX_NOT_TRANSPOSED);
    cr_expect_gt(r.fail_dx, BATCH * N / 2, "%zu of %d", r.fail_dx, BATCH * N);
    cr_expect_eq(r.fail_dW + r.fail_db, 0);
}

Test(layer, bad_input_is_refused_with_a_message)
{
    gradaudit_dense_layer L = make_layer(1);
    variant v = {GOOD, 1};
    gradaudit_layer_result r;
    gradaudit_error err;
    L.activation = "gelu_erf";
    cr_expect_eq(gradaudit_check_dense(&r, &err, &L, backward_f32, &v), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "gelu_erf") != NULL, "%s", err.msg);
    L = make_layer(1);
    L.n_in = 0;
    cr_expect_eq(gradaudit_check_dense(&r, &err, &L, backward_f32, &v), GRADAUDIT_EINVAL);
    L = make_layer(1);
    W[3] = NAN;
    cr_expect_eq(gradaudit_check_dense(&r, &err, &L, backward_f32, &v), GRADAUDIT_ENONFINITE);
    L = make_layer(1);
    cr_expect_eq(gradaudit_check_dense(&r, &err, &L, failing_backward, &v), GRADAUDIT_ECALLBACK);
    cr_expect(strstr(err.msg, "backward") != NULL, "%s", err.msg);
    W[0] = 1e39; /* float32 cannot hold it */
    cr_expect_eq(gradaudit_check_dense(&r, &err, &L, backward_f32, &v), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "float32") != NULL, "%s", err.msg);
}
