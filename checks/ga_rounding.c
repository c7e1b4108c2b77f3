/* ga_rounding.c: Monte Carlo arithmetic statistics over the plain pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_plainpass.h"
#include "ga_rounding.h"

#define TO_DOUBLE_U (0x1p-53 / GA_PLAIN_VIRTUAL_U)

int ga_rounding_alloc(ga_rounding **out, ga_error *err, const ga_net *net, size_t batch, unsigned k)
{
    *out = NULL;
    if (!net || batch == 0 || k < 2)
        return ga_fail(err, GA_EINVAL, "rounding: needs a net, batch >= 1 and k >= 2 runs");
    const ga_net_desc *d = &net->desc;
    size_t zs = 0;
    for (size_t l = 0; l < d->n_layers; l++)
        zs += batch * d->layers[l].n_out;
    ga_rounding *r = calloc(1, sizeof *r);
    if (!r)
        return ga_fail(err, GA_ENOMEM, "rounding: out of memory");
    r->k = k;
    r->n_params = net->n_params;
    r->batch = batch;
    r->n_layers = d->n_layers;
    r->grad = malloc((size_t)k * net->n_params * sizeof *r->grad);
    r->loss = malloc(k * sizeof *r->loss);
    r->sigma = malloc(net->n_params * sizeof *r->sigma);
    r->z_sigma = calloc(d->n_layers, sizeof *r->z_sigma);
    r->buf = malloc(zs * sizeof *r->buf);
    if (!r->grad || !r->loss || !r->sigma || !r->z_sigma || !r->buf) {
        ga_rounding_free(r);
        return ga_fail(err, GA_ENOMEM, "rounding: out of memory for %u runs of %zu entries", k,
                       net->n_params);
    }
    double *p = r->buf;
    for (size_t l = 0; l < d->n_layers; l++) {
        r->z_sigma[l] = p;
        p += batch * d->layers[l].n_out;
    }
    *out = r;
    return GA_OK;
}

void ga_rounding_free(ga_rounding *r)
{
    if (!r)
        return;
    free(r->grad);
    free(r->loss);
    free(r->sigma);
    free(r->z_sigma);
    free(r->buf);
    free(r);
}

/* sample standard deviation of x[0], x[stride], ... (k values), two-pass */
static double spread(const double *x, size_t stride, unsigned k)
{
    double mean = 0.0, ss = 0.0;
    for (unsigned i = 0; i < k; i++)
        mean += x[i * stride];
    mean /= k;
    for (unsigned i = 0; i < k; i++) {
        double d = x[i * stride] - mean;
        ss += d * d;
    }
    return sqrt(ss / (k - 1));
}

int ga_rounding_compute(ga_rounding *r, ga_error *err, const ga_net *net, const double *params,
                        const double *x, const double *y, size_t batch, uint64_t seed)
{
    if (!r || !net || batch != r->batch || net->n_params != r->n_params)
        return ga_fail(err, GA_EINVAL, "rounding: the buffers do not fit this net and batch");
    const ga_net_desc *d = &net->desc;
    ga_workspace *ws;
    int status = ga_workspace_alloc(&ws, err, net, batch);
    if (status)
        return status;
    /* the spread of every pre-activation, by Welford's running update */
    size_t zs = 0;
    for (size_t l = 0; l < d->n_layers; l++)
        zs += batch * d->layers[l].n_out;
    double *mean = calloc(zs, sizeof *mean), *m2 = calloc(zs, sizeof *m2);
    if (!mean || !m2) {
        free(mean), free(m2);
        ga_workspace_free(ws);
        return ga_fail(err, GA_ENOMEM, "rounding: out of memory");
    }
    ga_plain_options o;
    ga_plain_options_default(&o);
    o.mca = 1;
    o.mca_state = (seed + 1) * 0x9e3779b97f4a7c15ull;
    if (!o.mca_state)
        o.mca_state = 0x632be59bd9b4e019ull;
    for (unsigned run = 0; run < r->k && !status; run++) {
        status = ga_plain_pass(&r->loss[run], r->grad + (size_t)run * r->n_params, err, ws, net,
                               params, x, y, batch, &o);
        size_t off = 0;
        for (size_t l = 0; l < d->n_layers && !status; l++) {
            size_t m = batch * d->layers[l].n_out;
            for (size_t i = 0; i < m; i++, off++) { /* Welford */
                double zv = ws->z[l][i], dl = zv - mean[off];
                mean[off] += dl / (run + 1);
                m2[off] += dl * (zv - mean[off]);
            }
        }
    }
    if (!status) {
        for (size_t i = 0; i < r->n_params; i++)
            r->sigma[i] = spread(r->grad + i, r->n_params, r->k) * TO_DOUBLE_U;
        r->loss_sigma = spread(r->loss, 1, r->k) * TO_DOUBLE_U;
        size_t off = 0;
        for (size_t l = 0; l < d->n_layers; l++)
            for (size_t i = 0; i < batch * d->layers[l].n_out; i++, off++)
                r->z_sigma[l][i] = sqrt(m2[off] / (r->k - 1)) * TO_DOUBLE_U;
    }
    free(mean), free(m2);
    ga_workspace_free(ws);
    return status;
}

double ga_rounding_sigma_dot(const ga_rounding *r, const double *v, size_t lo, size_t hi)
{
    double mean = 0.0, m2 = 0.0;
    for (unsigned run = 0; run < r->k; run++) { /* Welford over the runs' dot products */
        const double *g = r->grad + (size_t)run * r->n_params;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++)
            s += v[i] * g[i];
        double dl = s - mean;
        mean += dl / (run + 1);
        m2 += dl * (s - mean);
    }
    return sqrt(m2 / (r->k - 1)) * TO_DOUBLE_U;
}
