/* ga_init.h: initialisation schemes that fill one parameter tensor, drawing
 * from NumPy's legacy RandomState stream (ga_random.h) so that a recipe can
 * reproduce a NumPy script's initial parameters bit for bit.
 *
 * A tensor is stored with the layout's shape (rows, cols). The scheme fills an
 * array A of the "draw shape" (default: the stored shape) in NumPy's C order,
 * as the NumPy expression below would; A is then reshaped in C order to the
 * stored shape (same element count) or, with transpose, stored as A.T (then
 * the draw shape must be (cols, rows)). The scale multiplier is applied last;
 * with scale 1 (the default) the multiplication is exact.
 *
 * NumPy expressions (u = np.random.random_sample(shape), g = np.random.randn(*shape),
 * fi = fan_in, fo = fan_out, both from the layer unless overridden; Python's
 * true division and math.sqrt are correctly rounded, as are C's / and sqrt):
 *   zeros           np.zeros(shape)                          (draws nothing, ignores scale)
 *   constant(v)     np.full(shape, v) * scale                (draws nothing)
 *   randn           g * scale
 *   rand            u * scale                                (np.random.rand)
 *   uniform(a, b)   np.random.uniform(a, b, shape) * scale   == (a + (b - a) * u) * scale
 *   xavier_normal   (g * np.sqrt(2 / (fi + fo))) * scale     alias glorot_normal
 *   xavier_uniform  np.random.uniform(-L, L, shape) * scale, L = np.sqrt(6 / (fi + fo))
 *                                                            alias glorot_uniform
 *   he              (g * np.sqrt(2 / fi)) * scale            alias he_normal, kaiming_normal
 *   he_uniform      np.random.uniform(-L, L, shape) * scale, L = np.sqrt(6 / fi)
 *   lecun           (g * np.sqrt(1 / fi)) * scale            alias lecun_normal
 *   orthogonal      for a 2-D draw shape (r, c), n = max(r, c), m = min(r, c):
 *                     a = np.random.randn(n, m); q, R = np.linalg.qr(a)
 *                     q = q * np.sign(np.diag(R)); A = q if r >= c else q.T; A * scale
 *                   The QR comes from GSL's Householder gsl_linalg_QR_decomp, not
 *                   LAPACK, so A equals NumPy's to rounding (a few ulps), not bit
 *                   for bit; the draws are the same. sign(0) is taken as +1.
 */
#ifndef GA_INIT_H
#define GA_INIT_H

#include <stddef.h>
#include <stdint.h>

#include "ga_core.h"
#include "ga_random.h"

typedef enum {
    GA_INIT_ZEROS = 0,
    GA_INIT_CONSTANT,
    GA_INIT_RANDN,
    GA_INIT_RAND,
    GA_INIT_UNIFORM,
    GA_INIT_XAVIER_NORMAL,
    GA_INIT_XAVIER_UNIFORM,
    GA_INIT_HE,
    GA_INIT_HE_UNIFORM,
    GA_INIT_LECUN,
    GA_INIT_ORTHOGONAL,
    GA_INIT_COUNT
} ga_init_scheme;

/* Canonical name ("xavier_normal", ...). */
const char *ga_init_scheme_name(ga_init_scheme s);
/* Accepts canonical names and the aliases above; GA_EINVAL for an unknown name. */
int ga_init_scheme_from_name(ga_init_scheme *out, const char *name);
/* 1 when the scheme consumes random numbers (all but zeros and constant). */
int ga_init_scheme_draws(ga_init_scheme s);
/* 1 when the scheme reads fan_in (xavier_*, he*, lecun) / fan_out (xavier_*). */
int ga_init_scheme_uses_fan_in(ga_init_scheme s);
int ga_init_scheme_uses_fan_out(ga_init_scheme s);

typedef struct {
    ga_init_scheme scheme;
    double low, high;   /* uniform(a, b): low = a, high = b */
    double value;       /* constant */
    double scale;       /* multiplier applied last; 1 by default */
    size_t fan_in;      /* 0: the layer's input size */
    size_t fan_out;     /* 0: the layer's output size */
    size_t ndim;        /* 0: draw shape = stored shape; 1 or 2: shape[0..ndim) */
    size_t shape[2];
    int transpose;      /* store A.T; needs a 2-D draw shape (cols, rows) */
} ga_init_desc;

/* Scheme s with defaults: uniform(0, 1), value 0, scale 1, fans from the
 * layer, stored shape, no transpose. */
void ga_init_desc_default(ga_init_desc *d, ga_init_scheme s);

/* Checks d against a stored shape (rows, cols): element counts agree,
 * transpose has a 2-D draw shape (cols, rows), orthogonal has a 2-D draw
 * shape, fans are nonzero where used, numbers finite, uniform's b - a finite.
 * No allocation. The message says what was wrong (no path prefix). */
int ga_init_desc_check(ga_error *err, const ga_init_desc *d, size_t rows, size_t cols,
                       size_t fan_in, size_t fan_out);

/* Fills out (rows, cols) from rng as described above. fan_in / fan_out are
 * the layer's sizes, used where d leaves them 0. Allocates a temporary of
 * rows*cols doubles for transposes and orthogonal (freed before return). */
int ga_init_fill(double *out, ga_error *err, ga_rng *rng, const ga_init_desc *d,
                 size_t rows, size_t cols, size_t fan_in, size_t fan_out);

/* One recipe for a whole net: a scheme per tensor and the order in which the
 * tensors draw from ONE stream seeded once with np.random.seed(seed). */
typedef struct {
    uint32_t seed;
    size_t n_tensors;       /* = 2 * n_layers */
    ga_init_desc *tensors;  /* (n_tensors) by view index: W1, b1, W2, b2, ... */
    size_t n_order;
    size_t *order;          /* (n_order) view indices in draw order; every tensor
                               whose scheme draws appears exactly once */
} ga_init_recipe;

/* Seeds a stream with seed (the recipe's seed is not read: the caller chooses,
 * usually recipe->seed or an override), fills the tensors listed in order one
 * after another, then the non-drawing tensors not listed. Writes every entry
 * of net->params. */
int ga_init_net(ga_net *net, ga_error *err, const ga_init_recipe *recipe, uint32_t seed);

#endif
