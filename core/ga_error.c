/* ga_error.c: status codes, messages, and the ulp distance every folder uses. */
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
