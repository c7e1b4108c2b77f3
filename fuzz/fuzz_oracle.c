/* fuzz_oracle: differential libFuzzer target for the MPFR oracle.
 *
 * Input: a spec. A correctly rounded result does not depend on where the
 * Ziv loop starts, so the oracle's loss, gradient and dL/dx from its default
 * start (128 bits) must equal, bit for bit, those from a start at 1024 bits;
 * and route (a) (MPFR differences) must equal route (b) on two entries.
 * Any difference aborts (libFuzzer keeps the input). Specs beyond 400
 * parameter-samples are skipped, to keep an execution fast. This target
 * found the blind spot of the two-precision error estimate that the
 * oracle's running error bound now closes (test_oracle's
 * absorbed_terms_every_act_and_loss). See fuzz/README.md. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_oracle.h"
#include "ga_spec.h"
#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* With FUZZ_STATS set in the environment: how many inputs got past the
 * parser into the comparison, printed at exit. */
static unsigned long n_compared;

static void print_stats(void)
{
    fprintf(stderr, "%s: %lu specs compared\n", __FILE__, n_compared);
}

static int same(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static void compare(ga_net *net, const ga_spec *spec, const uint8_t *data)
{
    size_t P = net->n_params, B = spec->batch, nx = B * spec->desc.n_in;
    double *g = malloc(P * sizeof *g), *g2 = malloc(P * sizeof *g2);
    double *dx = malloc(nx * sizeof *dx), *dx2 = malloc(nx * sizeof *dx2);
    double L, Le, L2, Le2;
    ga_oracle_stats st;
    ga_error err;
    const ga_oracle_options dflt = {.start_prec = 128, .max_prec = 4096},
                            high = {.start_prec = 1024, .max_prec = 8192};
    /* dL/dx is computed for nets of dense layers only (the others: the ball
     * engine's gradient, compared between the two starts all the same) */
    int chain = ga_net_desc_is_chain(&net->desc);
    if (!g || !g2 || !dx || !dx2 ||
        ga_oracle_loss_gradient(&L, &Le, g, NULL, chain ? dx : NULL, &st, &err, net, net->params,
                                spec->x, spec->y, B, &dflt) != GA_OK ||
        ga_oracle_loss_gradient(&L2, &Le2, g2, NULL, chain ? dx2 : NULL, &st, &err, net,
                                net->params, spec->x, spec->y, B, &high) != GA_OK)
        goto out; /* not settled under the caps: a reported failure, not a wrong number */
    int bad = !same(L, L2);
    for (size_t i = 0; i < P; i++)
        bad |= !same(g[i], g2[i]);
    for (size_t i = 0; chain && i < nx; i++)
        bad |= !same(dx[i], dx2[i]);
    if (bad) {
        fprintf(stderr, "fuzz_oracle: start 128 and start 1024 differ: loss %a / %a\n", L, L2);
        for (size_t i = 0; i < P; i++)
            if (!same(g[i], g2[i]))
                fprintf(stderr, "  entry %zu: %a / %a\n", i, g[i], g2[i]);
        abort();
    }
    for (size_t t = 0; t < 2 && t < P; t++) {
        size_t i = ((size_t)data[0] + 7 * t) % P;
        double a, ae;
        if (ga_oracle_fd_entry(&a, &ae, &st, &err, net, net->params, spec->x, spec->y, B, i,
                               &dflt) == GA_OK &&
            !same(a, g[i])) {
            fprintf(stderr, "fuzz_oracle: entry %zu: route (a) %a, route (b) %a\n", i, a, g[i]);
            abort();
        }
    }
out:
    free(g), free(g2), free(dx), free(dx2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size, print_stats);
    if (!text)
        return 0;
    ga_spec *spec;
    ga_error err;
    if (ga_spec_parse(&spec, &err, text, "fuzz.json", 1 << 20) == GA_OK) {
        ga_net *net;
        if (ga_spec_make_net(&net, &err, spec, 0, 0) == GA_OK) {
            if (net->n_params * spec->batch <= 400) {
                n_compared++;
                compare(net, spec, data);
            }
            ga_net_free(net);
        }
        ga_spec_free(spec);
    }
    free(text);
    return 0;
}
