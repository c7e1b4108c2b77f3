/* ga_error.c: status codes, messages, and the ulp distance every folder uses. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ga_core.h"

const char *ga_strerror(int status)
{
    switch (status) {
    case GA_OK: return "success";
    case GA_EINVAL: return "invalid argument";
    case GA_ENOMEM: return "out of memory or over the memory cap";
    case GA_ERANGE: return "size overflow";
    case GA_EIO: return "input/output error";
    case GA_ESPEC: return "malformed spec";
    case GA_ENONFINITE: return "non-finite number";
    case GA_EFAIL: return "check failed";
    case GA_ECALLBACK: return "a callback reported an error";
    case GA_EMPFRLOSS: return "the MPFR loss is not the double loss computed in MPFR";
    default: return "unknown status";
    }
}

/* Doubles ordered as integers: flip the magnitude bits of negatives so that
 * consecutive doubles map to consecutive integers and -0 meets +0. */
static int64_t ordered_bits(double x)
{
    int64_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? INT64_MIN - i : i;
}

uint64_t ga_ulp_distance(double a, double b)
{
    if (isnan(a) || isnan(b))
        return UINT64_MAX;
    int64_t ia = ordered_bits(a), ib = ordered_bits(b);
    return ia > ib ? (uint64_t)ia - (uint64_t)ib : (uint64_t)ib - (uint64_t)ia;
}

static int32_t ordered_bits_f(float x)
{
    int32_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? INT32_MIN - i : i;
}

const char *ga_precision_name(ga_precision p)
{
    return p == GA_PREC_FLOAT32 ? "float32" : "float64";
}

int ga_precision_from_name(ga_precision *out, const char *name)
{
    if (!strcmp(name, "float64") || !strcmp(name, "double") || !strcmp(name, "f64")) {
        *out = GA_PREC_FLOAT64;
        return GA_OK;
    }
    if (!strcmp(name, "float32") || !strcmp(name, "float") || !strcmp(name, "f32")) {
        *out = GA_PREC_FLOAT32;
        return GA_OK;
    }
    return GA_EINVAL;
}

double ga_precision_u(ga_precision p) { return p == GA_PREC_FLOAT32 ? 0x1p-24 : 0x1p-53; }
double ga_precision_min_normal(ga_precision p) { return p == GA_PREC_FLOAT32 ? FLT_MIN : DBL_MIN; }
double ga_precision_max(ga_precision p) { return p == GA_PREC_FLOAT32 ? FLT_MAX : DBL_MAX; }

double ga_round_to(ga_precision p, double v)
{
    /* a conversion of a double beyond FLT_MAX is undefined in C; IEEE
     * rounding to nearest sends anything at or past FLT_MAX + ulp/2 to inf */
    if (p == GA_PREC_FLOAT32 && isfinite(v) && fabs(v) >= 0x1.ffffffp127)
        return v > 0 ? INFINITY : -INFINITY;
    return p == GA_PREC_FLOAT32 ? (double)(float)v : v;
}

uint64_t ga_ulp_distance_in(ga_precision p, double a, double b)
{
    if (p == GA_PREC_FLOAT64)
        return ga_ulp_distance(a, b);
    if (isnan(a) || isnan(b))
        return UINT64_MAX;
    int64_t ia = ordered_bits_f((float)ga_round_to(p, a));
    int64_t ib = ordered_bits_f((float)ga_round_to(p, b));
    return ia > ib ? (uint64_t)(ia - ib) : (uint64_t)(ib - ia);
}

double ga_ulp_in(ga_precision p, double v)
{
    double a = fabs(v);
    if (!isfinite(a))
        return INFINITY;
    if (p == GA_PREC_FLOAT32) {
        if (a >= FLT_MAX)
            return 0x1p104; /* the spacing at the top of float32's range */
        float f = (float)a;
        if ((double)f > a)
            f = nextafterf(f, 0.0f);
        return (double)nextafterf(f, INFINITY) - (double)f;
    }
    return nextafter(a, INFINITY) - a;
}

static int overflows(ga_precision p, double v)
{
    return isfinite(v) && !isfinite(ga_round_to(p, v));
}

int ga_round_problem(ga_error *err, ga_precision p, ga_net *net, double *params, double *x,
                     double *y, size_t batch)
{
    ga_net_desc *d = &net->desc;
    size_t nx, ny;
    if (!d->n_layers || !ga_size_mul(&nx, batch, d->n_in) ||
        !ga_size_mul(&ny, batch, d->layers[d->n_layers - 1].n_out))
        return ga_fail(err, GA_ERANGE, "a net with no layer, or a batch of %zu overflows a size",
                       batch);
    if (overflows(p, d->loss.scale) || overflows(p, d->loss.weight_decay))
        return ga_fail(err, GA_EINVAL, "the loss's scale %.17g or weight decay %.17g overflows %s",
                       d->loss.scale, d->loss.weight_decay, ga_precision_name(p));
    for (size_t l = 0; l < d->n_layers; l++)
        if (overflows(p, d->layers[l].act_param))
            return ga_fail(err, GA_EINVAL, "layer %zu's activation parameter %.17g overflows %s",
                           l + 1, d->layers[l].act_param, ga_precision_name(p));
    for (size_t v = 0; v < net->n_views; v++) {
        const ga_view *vw = &net->views[v];
        for (size_t i = 0; i < vw->rows * vw->cols; i++)
            if (overflows(p, params[vw->offset + i]))
                return ga_fail(err, GA_EINVAL, "%s[%zu] = %.17g overflows %s", vw->name, i,
                               params[vw->offset + i], ga_precision_name(p));
    }
    for (size_t i = 0; i < nx; i++)
        if (overflows(p, x[i]))
            return ga_fail(err, GA_EINVAL, "x[%zu] = %.17g overflows %s", i, x[i],
                           ga_precision_name(p));
    for (size_t i = 0; i < ny; i++)
        if (overflows(p, y[i]))
            return ga_fail(err, GA_EINVAL, "y[%zu] = %.17g overflows %s", i, y[i],
                           ga_precision_name(p));
    d->loss.scale = ga_round_to(p, d->loss.scale);
    d->loss.weight_decay = ga_round_to(p, d->loss.weight_decay);
    for (size_t l = 0; l < d->n_layers; l++) {
        d->layers[l].act_param = ga_round_to(p, d->layers[l].act_param);
        d->layers[l].eps = ga_round_to(p, d->layers[l].eps); /* a norm's eps, as code holds it */
    }
    for (size_t i = 0; i < net->n_params; i++)
        params[i] = ga_round_to(p, params[i]);
    for (size_t i = 0; i < nx; i++)
        x[i] = ga_round_to(p, x[i]);
    for (size_t i = 0; i < ny; i++)
        y[i] = ga_round_to(p, y[i]);
    return GA_OK;
}
