/* ga_rounding.c: Monte Carlo arithmetic statistics over the plain pass. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ga_plainpass.h"
#include "ga_rounding.h"

#define TO_DOUBLE_U (GA_U / GA_PLAIN_VIRTUAL_U)

/* the pre-activations of a pass: batch * (sum of the layers' widths) */
static size_t z_elems(const ga_net_desc *d, size_t batch)
{
    size_t zs = 0;
    for (size_t l = 0; l < d->n_layers; l++)
        zs += batch * d->layers[l].n_out;
    return zs;
}

int ga_rounding_alloc(ga_rounding **out, ga_error *err, const ga_net *net, size_t batch, unsigned k)
{
    *out = NULL;
    if (!net || batch == 0 || k < 2)
        return ga_fail(err, GA_EINVAL, "rounding: needs a net, batch >= 1 and k >= 2 runs");
    const ga_net_desc *d = &net->desc;
    size_t zs = z_elems(d, batch);
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

/* A spread at the virtual unit roundoff scaled to double's, rounded up:
 * a spread near DBL_MIN (gradients in the subnormal range, whose rounding
 * errors are absolute) would otherwise scale to 0 and make a tolerance of
 * 0 out of a nonzero error. */
static double to_double_u(double s)
{
    double d = s * TO_DOUBLE_U;
    return s > 0 && d < DBL_MIN ? nextafter(d, INFINITY) : d;
}

/* sample standard deviation of x[0], x[stride], ... (k values), two-pass */
static double spread(const double *x, size_t stride, unsigned k)
{
    double mean = 0.0, ss = 0.0;
    int any = 0;
    for (unsigned i = 0; i < k; i++)
        mean += x[i * stride];
    mean /= k;
    for (unsigned i = 0; i < k; i++) {
        double d = x[i * stride] - mean;
        ss += d * d;
        any |= d != 0;
    }
    if (ss == 0 && any) { /* deviations near DBL_MIN, whose squares underflow */
        long double sl = 0;
        for (unsigned i = 0; i < k; i++) {
            long double d = (long double)x[i * stride] - mean;
            sl += d * d;
        }
        return (double)sqrtl(sl / (k - 1));
    }
    return sqrt(ss / (k - 1));
}

/* The runs first, first + 2, ... of one thread: its own workspace and
 * random stream, the runs' gradients and losses into their rows of r, the
 * pre-activations' running mean and squared deviations (Welford) into its
 * own mean/m2. */
typedef struct {
    ga_rounding *r;
    const ga_net *net;
    const double *params, *x, *y;
    size_t batch, zs;
    unsigned first, step, runs;
    uint64_t stream;
    double *mean, *m2; /* (zs) */
    int status;
    ga_error err;
} mca_share;

static void *mca_share_run(void *arg)
{
    mca_share *w = arg;
    const ga_net_desc *d = &w->net->desc;
    ga_workspace *ws;
    w->status = ga_workspace_alloc(&ws, &w->err, w->net, w->batch);
    if (w->status)
        return NULL;
    ga_plain_options o;
    ga_plain_options_default(&o);
    o.mca = 1;
    o.mca_state = w->stream ? w->stream : 0x632be59bd9b4e019ull;
    for (unsigned run = w->first; run < w->r->k && !w->status; run += w->step) {
        w->status = ga_plain_pass(&w->r->loss[run], w->r->grad + (size_t)run * w->r->n_params,
                                  &w->err, ws, w->net, w->params, w->x, w->y, w->batch, &o);
        w->runs++;
        size_t off = 0;
        for (size_t l = 0; l < d->n_layers && !w->status; l++)
            for (size_t i = 0; i < w->batch * d->layers[l].n_out; i++, off++) {
                double zv = ws->z[l][i], dl = zv - w->mean[off];
                w->mean[off] += dl / w->runs;
                w->m2[off] += dl * (zv - w->mean[off]);
            }
    }
    ga_workspace_free(ws);
    return NULL;
}

int ga_rounding_compute(ga_rounding *r, ga_error *err, const ga_net *net, const double *params,
                        const double *x, const double *y, size_t batch, uint64_t seed)
{
    if (!r || !net || batch != r->batch || net->n_params != r->n_params)
        return ga_fail(err, GA_EINVAL, "rounding: the buffers do not fit this net and batch");
    const ga_net_desc *d = &net->desc;
    size_t zs = z_elems(d, batch);
    double *stats = calloc(4 * zs, sizeof *stats); /* mean, m2 of each thread */
    if (!stats)
        return ga_fail(err, GA_ENOMEM, "rounding: out of memory");
    /* the runs split over two threads (the machine's two cores), each with
     * its own random stream drawn from the seed */
    mca_share share[2];
    for (unsigned w = 0; w < 2; w++)
        share[w] = (mca_share){r, net, params, x, y, batch, zs, w, 2, 0,
                               (seed + 1) * 0x9e3779b97f4a7c15ull + w * 0xbf58476d1ce4e5b9ull,
                               stats + 2 * w * zs, stats + (2 * w + 1) * zs, GA_OK, {{0}}};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, mca_share_run, &share[1]) == 0;
    if (!threaded) {
        share[0].step = 1;
        share[1].runs = 0;
    }
    mca_share_run(&share[0]);
    if (threaded)
        pthread_join(th, NULL);
    int status = GA_OK;
    for (int w = 0; w < 2 && !status; w++)
        if (share[w].status) {
            status = share[w].status;
            if (err)
                *err = share[w].err;
        }
    if (!status) {
        for (size_t i = 0; i < r->n_params; i++)
            r->sigma[i] = to_double_u(spread(r->grad + i, r->n_params, r->k));
        r->loss_sigma = to_double_u(spread(r->loss, 1, r->k));
        /* the two threads' statistics merged (Chan, Golub & LeVeque 1983) */
        double na = share[0].runs, nb = share[1].runs, n = na + nb;
        size_t off = 0;
        for (size_t l = 0; l < d->n_layers; l++)
            for (size_t i = 0; i < batch * d->layers[l].n_out; i++, off++) {
                double dl = share[1].mean[off] - share[0].mean[off];
                double m2 = share[0].m2[off] + share[1].m2[off] + dl * dl * na * nb / n;
                r->z_sigma[l][i] = sqrt(m2 / (n - 1)) * TO_DOUBLE_U;
            }
    }
    free(stats);
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
