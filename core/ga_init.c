/* ga_init.c: initialisation schemes (see ga_init.h for the NumPy expression
 * each one equals). */
#include "ga_init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

static const char *const scheme_names[GA_INIT_COUNT] = {
    "zeros", "constant", "randn", "rand", "uniform", "xavier_normal", "xavier_uniform",
    "he", "he_uniform", "lecun", "orthogonal",
};

static const struct {
    const char *alias;
    ga_init_scheme scheme;
} scheme_aliases[] = {
    {"glorot_normal", GA_INIT_XAVIER_NORMAL},
    {"glorot_uniform", GA_INIT_XAVIER_UNIFORM},
    {"he_normal", GA_INIT_HE},
    {"kaiming_normal", GA_INIT_HE},
    {"kaiming_uniform", GA_INIT_HE_UNIFORM},
    {"lecun_normal", GA_INIT_LECUN},
};

const char *ga_init_scheme_name(ga_init_scheme s)
{
    return (unsigned)s < GA_INIT_COUNT ? scheme_names[s] : "?";
}

int ga_init_scheme_from_name(ga_init_scheme *out, const char *name)
{
    for (int i = 0; i < GA_INIT_COUNT; i++)
        if (!strcmp(name, scheme_names[i])) {
            *out = (ga_init_scheme)i;
            return GA_OK;
        }
    for (size_t i = 0; i < sizeof scheme_aliases / sizeof scheme_aliases[0]; i++)
        if (!strcmp(name, scheme_aliases[i].alias)) {
            *out = scheme_aliases[i].scheme;
            return GA_OK;
        }
    return GA_EINVAL;
}

int ga_init_scheme_draws(ga_init_scheme s)
{
    return s != GA_INIT_ZEROS && s != GA_INIT_CONSTANT;
}

int ga_init_scheme_uses_fan_in(ga_init_scheme s)
{
    return s == GA_INIT_XAVIER_NORMAL || s == GA_INIT_XAVIER_UNIFORM || s == GA_INIT_HE ||
           s == GA_INIT_HE_UNIFORM || s == GA_INIT_LECUN;
}

int ga_init_scheme_uses_fan_out(ga_init_scheme s)
{
    return s == GA_INIT_XAVIER_NORMAL || s == GA_INIT_XAVIER_UNIFORM;
}

void ga_init_desc_default(ga_init_desc *d, ga_init_scheme s)
{
    memset(d, 0, sizeof *d);
    d->scheme = s;
    d->low = 0.0;
    d->high = 1.0;
    d->value = 0.0;
    d->scale = 1.0;
}

int ga_init_desc_check(ga_error *err, const ga_init_desc *d, size_t rows, size_t cols,
                       size_t fan_in, size_t fan_out)
{
    if ((unsigned)d->scheme >= GA_INIT_COUNT)
        return ga_fail(err, GA_EINVAL, "unknown initialisation scheme %d", (int)d->scheme);
    if (!isfinite(d->scale))
        return ga_fail(err, GA_ENONFINITE, "scale is not finite");
    if (d->scheme == GA_INIT_CONSTANT && !isfinite(d->value))
        return ga_fail(err, GA_ENONFINITE, "value is not finite");
    if (d->scheme == GA_INIT_UNIFORM &&
        (!isfinite(d->low) || !isfinite(d->high) || !isfinite(d->high - d->low)))
        return ga_fail(err, GA_ENONFINITE,
                       "uniform bounds a = %.17g, b = %.17g: a, b and b - a must be finite",
                       d->low, d->high);
    size_t count = rows * cols; /* the caller's layout guarantees no overflow */
    if (d->ndim > 2)
        return ga_fail(err, GA_EINVAL, "shape has %zu dimensions (expected 1 or 2)", d->ndim);
    if (d->ndim > 0) {
        size_t n = 1;
        for (size_t i = 0; i < d->ndim; i++) {
            if (d->shape[i] == 0)
                return ga_fail(err, GA_EINVAL, "shape has a zero dimension (expected sizes >= 1)");
            if (n > SIZE_MAX / d->shape[i])
                return ga_fail(err, GA_ERANGE, "shape's element count overflows");
            n *= d->shape[i];
        }
        if (n != count)
            return ga_fail(err, GA_EINVAL,
                           "shape has %zu elements (expected %zu, as the stored shape (%zu, %zu))",
                           n, count, rows, cols);
    }
    if (d->transpose) {
        if (d->ndim != 2 || d->shape[0] != cols || d->shape[1] != rows)
            return ga_fail(err, GA_EINVAL,
                           "transpose needs shape [%zu, %zu] (the transpose of the stored shape "
                           "(%zu, %zu))",
                           cols, rows, rows, cols);
    }
    if (d->scheme == GA_INIT_ORTHOGONAL && d->ndim == 1)
        return ga_fail(err, GA_EINVAL, "orthogonal needs a 2-D shape");
    size_t fi = d->fan_in ? d->fan_in : fan_in;
    size_t fo = d->fan_out ? d->fan_out : fan_out;
    if (ga_init_scheme_uses_fan_in(d->scheme) && fi == 0)
        return ga_fail(err, GA_EINVAL, "fan_in is 0 (expected >= 1)");
    if (ga_init_scheme_uses_fan_out(d->scheme) && fo == 0)
        return ga_fail(err, GA_EINVAL, "fan_out is 0 (expected >= 1)");
    return GA_OK;
}

/* np.random.uniform(low, high, n) in the legacy RandomState:
 * low + (high - low) * random_sample(), two roundings (no FMA: -ffp-contract=off). */
static void fill_uniform(double *a, size_t n, ga_rng *rng, double low, double high)
{
    double range = high - low;
    for (size_t i = 0; i < n; i++)
        a[i] = low + range * ga_rng_uniform(rng);
}

/* a (n) = g * std, g = randn in C order */
static void fill_gauss_times(double *a, size_t n, ga_rng *rng, double std)
{
    for (size_t i = 0; i < n; i++)
        a[i] = ga_rng_gauss(rng) * std;
}

/* Orthogonal matrix of shape (r, c) into a (r*c): Q of the QR of a Gaussian
 * (n, m) matrix, n = max(r, c), m = min(r, c), columns sign-fixed by diag(R)
 * so that Q is unique (Mezzadri 2007); transposed when r < c. */
static int fill_orthogonal(double *a, ga_error *err, ga_rng *rng, size_t r, size_t c)
{
    size_t n = r >= c ? r : c, m = r >= c ? c : r;
    /* one malloc behind GSL views: gsl_*_alloc would call GSL's error handler
     * (abort by default) on failure, which library code must not do */
    if (n * m > SIZE_MAX / sizeof(double) - n - m) /* n * m = rows * cols, no overflow */
        return ga_fail(err, GA_ERANGE, "orthogonal: (%zu, %zu) matrix too large", n, m);
    double *buf = malloc((n * m + m + n) * sizeof *buf);
    if (!buf)
        return ga_fail(err, GA_ENOMEM, "orthogonal: cannot allocate a (%zu, %zu) matrix", n, m);
    gsl_matrix_view Av = gsl_matrix_view_array(buf, n, m);
    gsl_vector_view tauv = gsl_vector_view_array(buf + n * m, m);
    gsl_vector_view vv = gsl_vector_view_array(buf + n * m + m, n);
    gsl_matrix *A = &Av.matrix;
    gsl_vector *tau = &tauv.vector, *v = &vv.vector;
    for (size_t i = 0; i < n; i++) /* np.random.randn(n, m), C order */
        for (size_t j = 0; j < m; j++)
            gsl_matrix_set(A, i, j, ga_rng_gauss(rng));
    gsl_linalg_QR_decomp(A, tau); /* n >= m, tau has min(n, m) entries: no GSL error path */
    for (size_t j = 0; j < m; j++) {
        /* column j of Q = Q e_j */
        gsl_vector_set_basis(v, j);
        gsl_linalg_QR_Qvec(A, tau, v);
        double s = gsl_matrix_get(A, j, j) < 0.0 ? -1.0 : 1.0; /* sign(R[j,j]) */
        for (size_t i = 0; i < n; i++) {
            double q = gsl_vector_get(v, i) * s;
            if (r >= c)
                a[i * c + j] = q;       /* A = q, (n, m) = (r, c) */
            else
                a[j * c + i] = q;       /* A = q.T, (m, n) = (r, c) */
        }
    }
    free(buf);
    return GA_OK;
}

int ga_init_fill(double *out, ga_error *err, ga_rng *rng, const ga_init_desc *d,
                 size_t rows, size_t cols, size_t fan_in, size_t fan_out)
{
    int st = ga_init_desc_check(err, d, rows, cols, fan_in, fan_out);
    if (st != GA_OK)
        return st;
    size_t n = rows * cols;
    size_t fi = d->fan_in ? d->fan_in : fan_in;
    size_t fo = d->fan_out ? d->fan_out : fan_out;
    /* draw shape (r, c); a 1-D shape fills like (1, n) */
    size_t r = rows, c = cols;
    if (d->ndim == 2) {
        r = d->shape[0];
        c = d->shape[1];
    } else if (d->ndim == 1) {
        r = 1;
        c = d->shape[0];
    }
    double *a = out;
    if (d->transpose) {
        a = malloc(n * sizeof *a);
        if (!a)
            return ga_fail(err, GA_ENOMEM, "cannot allocate %zu doubles for a transpose", n);
    }
    switch (d->scheme) {
    case GA_INIT_ZEROS:
        for (size_t i = 0; i < n; i++)
            a[i] = 0.0;
        break;
    case GA_INIT_CONSTANT:
        for (size_t i = 0; i < n; i++)
            a[i] = d->value * d->scale;
        break;
    case GA_INIT_RANDN:
        fill_gauss_times(a, n, rng, d->scale);
        break;
    case GA_INIT_RAND:
        for (size_t i = 0; i < n; i++)
            a[i] = ga_rng_uniform(rng) * d->scale;
        break;
    case GA_INIT_UNIFORM:
        fill_uniform(a, n, rng, d->low, d->high);
        break;
    case GA_INIT_XAVIER_NORMAL:
        fill_gauss_times(a, n, rng, sqrt(2.0 / (double)(fi + fo)));
        break;
    case GA_INIT_XAVIER_UNIFORM: {
        double lim = sqrt(6.0 / (double)(fi + fo));
        fill_uniform(a, n, rng, -lim, lim);
        break;
    }
    case GA_INIT_HE:
        fill_gauss_times(a, n, rng, sqrt(2.0 / (double)fi));
        break;
    case GA_INIT_HE_UNIFORM: {
        double lim = sqrt(6.0 / (double)fi);
        fill_uniform(a, n, rng, -lim, lim);
        break;
    }
    case GA_INIT_LECUN:
        fill_gauss_times(a, n, rng, sqrt(1.0 / (double)fi));
        break;
    case GA_INIT_ORTHOGONAL:
        st = fill_orthogonal(a, err, rng, r, c);
        break;
    case GA_INIT_COUNT:
        break;
    }
    /* the scale multiplier for the schemes that have not applied it yet */
    if (st == GA_OK && d->scheme != GA_INIT_ZEROS && d->scheme != GA_INIT_CONSTANT &&
        d->scheme != GA_INIT_RANDN && d->scheme != GA_INIT_RAND)
        for (size_t i = 0; i < n; i++)
            a[i] *= d->scale;
    if (d->transpose) {
        /* a is (r, c) = (cols, rows); out (rows, cols) = a.T */
        if (st == GA_OK)
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++)
                    out[i * cols + j] = a[j * rows + i];
        free(a);
    }
    return st;
}

int ga_init_net(ga_net *net, ga_error *err, const ga_init_recipe *recipe, uint32_t seed)
{
    if (recipe->n_tensors != net->n_views)
        return ga_fail(err, GA_EINVAL, "init recipe has %zu tensors (expected %zu)",
                       recipe->n_tensors, net->n_views);
    unsigned char *done = calloc(net->n_views ? net->n_views : 1, 1);
    if (!done)
        return ga_fail(err, GA_ENOMEM, "cannot allocate %zu flags", net->n_views);
    ga_rng rng;
    ga_rng_seed(&rng, seed);
    int st = GA_OK;
    for (size_t pass = 0; pass < 2 && st == GA_OK; pass++) {
        /* pass 0: the draw order; pass 1: tensors the order leaves out */
        size_t n = pass == 0 ? recipe->n_order : net->n_views;
        for (size_t k = 0; k < n && st == GA_OK; k++) {
            size_t v = pass == 0 ? recipe->order[k] : k;
            if (v >= net->n_views) {
                st = ga_fail(err, GA_EINVAL, "init order names tensor index %zu (expected < %zu)",
                             v, net->n_views);
                break;
            }
            if (done[v]) {
                if (pass == 0)
                    st = ga_fail(err, GA_EINVAL, "init order lists %s twice", net->views[v].name);
                continue;
            }
            const ga_init_desc *d = &recipe->tensors[v];
            if (pass == 1 && ga_init_scheme_draws(d->scheme)) {
                st = ga_fail(err, GA_EINVAL,
                             "init order leaves out %s, whose scheme %s draws random numbers",
                             net->views[v].name, ga_init_scheme_name(d->scheme));
                break;
            }
            const ga_view *w = &net->views[v];
            size_t l = w->layer;
            size_t fan_in = l == 0 ? net->desc.n_in : net->desc.layers[l - 1].n_out;
            size_t fan_out = net->desc.layers[l].n_out;
            st = ga_init_fill(net->params + w->offset, err, &rng, d, w->rows, w->cols, fan_in,
                              fan_out);
            if (st != GA_OK) {
                ga_error inner = {{0}};
                if (err)
                    inner = *err;
                st = ga_fail(err, st, "%s: %s", w->name, inner.msg);
            }
            done[v] = 1;
        }
    }
    free(done);
    return st;
}
