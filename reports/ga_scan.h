/* ga_scan.h: one vanishing/exploding-gradient measurement of a deep random MLP,
 * exact at any depth.
 *
 * The network (one configuration): input x_0 (B, N) with N(0, 1) entries, then
 * for l = 1..L
 *   h_l = x_{l-1} W_l^T + b_l        W_l (N, N) = (out, in), b_l (N)
 *   x_l = phi(h_l)                   (B, N)
 * and the linear loss L = (1/B) sum_{n,k} y[n,k] x_L[n,k] with fixed random
 * directions y (B, N), N(0, 1) entries: dL/dx_L = y / B does not depend on the
 * forward pass, as the mean-field backward theory assumes. (With a squared error
 * (x_L - y)^2 the top gradient carries x_L, which for homogeneous activations
 * lines up with the forward pass and biases every per-layer ratio: relu with He
 * init at width 512 measured ~1.2 instead of 1.) Reported per layer l:
 *   act_norm   ||x_l||_F over the batch            preact_var  mean of h_l^2 (the q_l estimate)
 *   delta_norm ||dL/dh_l||_F                       weight_grad ||dL/dW_l||_F = ||delta_l^T x_{l-1}||_F
 *   bias_grad  ||dL/db_l|| = ||sum_n delta_l[n]||  global      sqrt(sum_l ||dW_l||^2 + ||db_l||^2)
 *
 * Draws, from one NumPy legacy stream seeded with the seed: x_0 (randn, C order),
 * y (randn), then per layer W_l (the init scheme, ga_init_fill, stored (out, in))
 * and b_l = sqrt(sigma_b2) * randn(N) (drawn even when sigma_b2 = 0, so that
 * configurations differing only in sigma_b2 share their weights).
 *
 * Log domain: every vector is held as a mantissa array scaled to max |.| in
 * [1/2, 1) times 2^e with an integer e (ga_xreal for scalars). Matrix products
 * run on the mantissas; the bias joins h with the exponents aligned; activations
 * use their homogeneous or asymptotic forms where 2^e leaves the double range
 * (relu, leaky_relu and identity are homogeneous; tanh(z) = z and elu(z) = z or
 * alpha z below 2^-600; tanh, sigmoid saturate above). A derivative that would
 * underflow for every unit of a layer (saturated tanh, sigmoid, elu, softplus)
 * is taken in the log domain. So no norm overflows or underflows at any depth;
 * each is the double computation's value, not 0 or Inf.
 */
#ifndef GA_SCAN_H
#define GA_SCAN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "ga_core.h"
#include "ga_init.h"

/* ---- extended-range reals ---------------------------------------------- */
typedef struct {
    double m; /* 0, NaN, +-Inf, or 1/2 <= |m| < 1 */
    long e;   /* value = m * 2^e */
} ga_xreal;

ga_xreal ga_xreal_from(double m, long e);  /* normalises m * 2^e */
ga_xreal ga_xreal_mul(ga_xreal a, ga_xreal b);
ga_xreal ga_xreal_add(ga_xreal a, ga_xreal b);
ga_xreal ga_xreal_sqrt(ga_xreal a);        /* a >= 0 */
ga_xreal ga_xreal_div(ga_xreal a, ga_xreal b);
double ga_xreal_log10(ga_xreal a);         /* log10 |a|; -Inf for 0 */
double ga_xreal_to_double(ga_xreal a);     /* rounds; 0 or Inf outside the double range */
/* Writes a with 17 significant digits: printf's %.17g inside the double range,
 * else MPFR's exactly rounded %.17Rg ("1.2345678901234567e-3010"); "nan", "inf",
 * "-inf" for non-finite. Returns the length, or -1 when size is too small. */
int ga_xreal_format(char *buf, size_t size, ga_xreal a);

/* ---- one configuration --------------------------------------------------- */
/* The init axis: every ga_init_scheme that draws, plus N(0, sigma_w2 / fan_in). */
#define GA_SCAN_INIT_NORMAL GA_INIT_COUNT
const char *ga_scan_init_name(int init);
int ga_scan_init_from_name(int *out, const char *name);
/* 1 when the scheme's scale comes from sigma_w2 (normal, orthogonal gain^2). */
int ga_scan_init_uses_sigma_w2(int init);
/* Effective sigma_w2 = fan_in * E[w^2] of the scheme for an (N, N) layer; for
 * normal and orthogonal the given value. */
double ga_scan_sigma_w2(int init, size_t width, double given);
/* 1 when the mean-field theory applies (zero-mean weights, elementwise activation). */
int ga_scan_has_theory(ga_activation act, int init);

typedef struct {
    ga_activation act;
    double act_param;   /* leaky_relu slope, elu alpha (ga_activation_default_param) */
    int init;           /* ga_init_scheme or GA_SCAN_INIT_NORMAL */
    double sigma_w2;    /* as ga_scan_sigma_w2 reports it */
    double sigma_b2;
    size_t depth, width, batch;
    uint32_t seed;
    /* optional (NULL: none): called before each layer of the forward pass
     * and of the backward pass with the layers done so far, of 2 depth, so
     * a long configuration shows its progress */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} ga_scan_config;

typedef struct {
    ga_xreal act_norm, preact_var, delta_norm, weight_grad, bias_grad;
    int nan_inf;             /* a NaN or Inf appeared in this layer's arrays */
    ga_xreal theory_q;       /* mean-field q_l (m = NaN when not applicable) */
    double theory_chi;       /* chi(q_l) */
    double theory_log10_ratio; /* predicted log10 ||delta_l|| / ||delta_L|| */
} ga_scan_layer;

typedef struct {
    size_t depth;
    ga_scan_layer *layers;   /* (depth), layer l at index l-1 */
    ga_xreal global_grad;
    int weights_regenerated; /* weights over the cap were drawn twice, not stored */
} ga_scan_result;

#define GA_SCAN_INTERRUPTED 100 /* status: *stop became nonzero */

/* Bytes ga_scan_run needs with weights regenerated (minimum) and stored. */
void ga_scan_memory(double *min_bytes, double *stored_bytes, const ga_scan_config *cfg);
/* Checks sizes, activation (elementwise), init, finite sigmas, memory over cap. */
int ga_scan_config_check(ga_error *err, const ga_scan_config *cfg, size_t memory_cap);

/* Runs one configuration. res->layers is allocated here (ga_scan_result_free).
 * stop may be NULL; when it becomes nonzero the run stops between layers and
 * returns GA_SCAN_INTERRUPTED with res empty. */
int ga_scan_run(ga_scan_result *res, ga_error *err, const ga_scan_config *cfg,
                size_t memory_cap, const volatile sig_atomic_t *stop);
void ga_scan_result_free(ga_scan_result *res);

#endif
