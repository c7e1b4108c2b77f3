/* test_route_a_graph.c: the oracle's route (a) on nets the tuned MPFR passes
 * do not take (norms, adds, convolutions, pooling, attention, rnn, ...):
 * Ridders' differences on the generic forward pass in MPFR
 * (ga_refmp_route_a), which needs no derivative formula, against route (b),
 * the generic backward pass in Arb's balls: two methods and two libraries.
 * Before it, such nets had no cross-check (checked stayed 0) and route (a)
 * handed back route (b)'s own numbers.
 *
 * Expected values: the balls' gradient (settled by proof) and, on the small
 * nets written here, derivations by hand in the comments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "ga_oracle.h"
#include "ga_refmp.h"
#include "ga_spec.h"

#define REFDIR GA_SOURCE_ROOT "/fixtures/reference/torch_graph"

typedef struct {
    ga_spec *spec;
    ga_net *net;
    ga_oracle *o;
    const double *balls; /* (n_params) route (b) */
} problem;

static void problem_open(problem *p, const char *text, const char *path, size_t cross_count)
{
    ga_error err = {{0}};
    if (text)
        cr_assert_eq(ga_spec_parse(&p->spec, &err, text, "test.json", 1 << 20), GA_OK, "%s",
                     err.msg);
    else
        cr_assert_eq(ga_spec_load(&p->spec, &err, path, 0), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_spec_make_net(&p->net, &err, p->spec, 0, 0), GA_OK, "%s", err.msg);
    ga_oracle_options opt;
    ga_oracle_options_default(&opt);
    opt.cross_count = cross_count;
    cr_assert_eq(ga_oracle_alloc(&p->o, &err, p->net, p->net->params, p->spec->x, p->spec->y,
                                 p->spec->batch, &opt),
                 GA_OK, "%s", err.msg);
    ga_oracle_result r;
    cr_assert_eq(ga_oracle_run(&r, &err, p->o, GA_ORACLE_GRADIENT), GA_OK, "%s", err.msg);
    p->balls = r.grad;
}

static void problem_close(problem *p)
{
    ga_oracle_free(p->o);
    ga_net_free(p->net);
    ga_spec_free(p->spec);
}

/* A dense relu layer, the input added back, a dense output; x = (1, 2):
 *   z1 = (1*1 + 0*2 - 1, 0.5*1 + 0.25*2 + 0.3) = (0, 1.3): unit 0 exactly at
 *   relu's kink, reached by exact operations; r = relu(z1) + x = (1, 3.3);
 *   out = 0.75*1 - 0.5*3.3 + 0.125 = -0.775; L = (out - 0.5)^2 = 1.625625;
 *   dL/dout = -2.55: db3 = -2.55, dW3 = (-2.55, -8.415), db1[1] = -2.55 *
 *   -0.5 = 1.275, dW1[1,:] = (1.275, 2.55). W1[0,:] and b1[0] move z1[0]
 *   across the kink: route (a) is undefined there. (0.3 is the double
 *   nearest 0.3, so these hold to about 1e-16 relative.) */
static const char relu_add[] =
    "{\"layout\": \"column\", \"input\": 2,"
    " \"layers\": [{\"size\": 2, \"activation\": \"relu\"}, {\"type\": \"residual\", \"from\": 0},"
    "  {\"size\": 1, \"activation\": \"identity\"}],"
    " \"loss\": {\"type\": \"mse\", \"reduction\": \"sum\"},"
    " \"data\": {\"x\": [[1, 2]], \"y\": [[0.5]]},"
    " \"parameters\": {\"values\": {\"W1\": [[1, 0], [0.5, 0.25]], \"b1\": [-1, 0.3],"
    "  \"W3\": [[0.75, -0.5]], \"b3\": [0.125]}}}";

/* slab order: W1[0,0] W1[0,1] W1[1,0] W1[1,1] b1[0] b1[1] W3[0,0] W3[0,1] b3 */
static const int relu_add_kink[9] = {1, 1, 0, 0, 1, 0, 0, 0, 0};
static const double relu_add_hand[9] = {NAN, NAN, 1.275, 2.55, NAN, 1.275, -2.55, -8.415, -2.55};

Test(route_a_graph, a_relu_at_its_kink_is_reported_and_the_rest_agree)
{
    problem p;
    problem_open(&p, relu_add, NULL, 2);
    cr_assert(!ga_net_desc_is_chain(&p.net->desc));
    for (size_t i = 0; i < 9; i++) {
        double g, ae;
        ga_error err = {{0}};
        int st = ga_oracle_route_a(&g, &ae, NULL, &err, p.o, i);
        char name[64];
        ga_param_name(name, sizeof name, p.net, i);
        if (relu_add_kink[i]) {
            cr_expect_eq(st, GA_EFAIL, "%s: status %d", name, st);
            cr_expect(strstr(err.msg, name) && strstr(err.msg, "changes within the FD step"),
                      "%s: \"%s\"", name, err.msg);
            continue;
        }
        cr_expect_eq(st, GA_OK, "%s: %s", name, err.msg);
        cr_expect_eq(g, p.balls[i], "%s: route (a) %a, the balls %a", name, g, p.balls[i]);
        cr_expect(fabs(g - relu_add_hand[i]) <= 1e-15 * fabs(relu_add_hand[i]),
                  "%s: %.17g, by hand %.17g", name, g, relu_add_hand[i]);
        cr_expect(ae <= 0.5 * fabs(nextafter(g, INFINITY) - g), "%s: abserr %g", name, ae);
    }
    problem_close(&p);
}

/* Two equal entries in a max pool's window (z = W1 x + b1 = (1.5, 1.5)):
 * each of W1 and b1 moves one of them, so the window's largest entry
 * changes within any step: a kink for route (a) on all four; W3 and b3
 * agree with the balls (dL/dout = 2 (0.75*1.5 + 0.125 - 0.5) = 1.5:
 * dW3 = 2.25, db3 = 1.5). */
static const char pool_tie[] =
    "{\"layout\": \"column\", \"input\": 1,"
    " \"layers\": [{\"size\": 2, \"activation\": \"identity\"},"
    "  {\"type\": \"maxpool1d\", \"in_shape\": [1, 2], \"kernel\": 2},"
    "  {\"size\": 1, \"activation\": \"identity\"}],"
    " \"loss\": {\"type\": \"mse\", \"reduction\": \"sum\"},"
    " \"data\": {\"x\": [[1]], \"y\": [[0.5]]},"
    " \"parameters\": {\"values\": {\"W1\": [[1], [1]], \"b1\": [0.5, 0.5], \"W3\": [[0.75]],"
    "  \"b3\": [0.125]}}}";

Test(route_a_graph, a_tie_in_a_max_pool_is_a_kink)
{
    problem p;
    problem_open(&p, pool_tie, NULL, 2);
    const double hand[6] = {NAN, NAN, NAN, NAN, 2.25, 1.5};
    for (size_t i = 0; i < 6; i++) {
        double g;
        ga_error err = {{0}};
        int st = ga_oracle_route_a(&g, NULL, NULL, &err, p.o, i);
        if (i < 4) {
            cr_expect(st == GA_EFAIL && strstr(err.msg, "changes within the FD step"),
                      "entry %zu: status %d, \"%s\"", i, st, err.msg);
        } else {
            cr_expect_eq(st, GA_OK, "entry %zu: %s", i, err.msg);
            cr_expect(g == hand[i] && g == p.balls[i], "entry %zu: %a, by hand %a, balls %a", i,
                      g, hand[i], p.balls[i]);
        }
    }
    problem_close(&p);
}

/* The cross-check of a graph's gradient: every entry drawn (cross_count >=
 * n_params) compares the six smooth entries and skips the three at the
 * kink; one ulp off in W3[0,1] is one mismatch; a wrong value at the kink
 * is not seen (route (a) has no value there: the verdict's enclosure
 * judges those entries, with both branches). */
Test(route_a_graph, the_cross_check_compares_a_graph_and_counts_a_wrong_entry)
{
    problem p;
    problem_open(&p, relu_add, NULL, 100);
    ga_error err = {{0}};
    double g[9];
    memcpy(g, p.balls, sizeof g);
    size_t mism, checked;
    cr_assert_eq(ga_oracle_cross_check_against(&mism, &checked, &err, p.o, g), GA_OK, "%s",
                 err.msg);
    cr_expect(mism == 0 && checked == 6, "%zu mismatches of %zu", mism, checked);
    g[7] = nextafter(g[7], 0.0);
    cr_assert_eq(ga_oracle_cross_check_against(&mism, &checked, &err, p.o, g), GA_OK, "%s",
                 err.msg);
    cr_expect(mism == 1 && checked == 6, "%zu mismatches of %zu", mism, checked);
    memcpy(g, p.balls, sizeof g);
    g[4] = 123.0;
    cr_assert_eq(ga_oracle_cross_check_against(&mism, &checked, &err, p.o, g), GA_OK, "%s",
                 err.msg);
    cr_expect(mism == 0 && checked == 6, "%zu mismatches of %zu", mism, checked);
    /* and through ga_oracle_run, as `check` asks it */
    ga_oracle_result r;
    cr_assert_eq(ga_oracle_run(&r, &err, p.o, GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK), GA_OK,
                 "%s", err.msg);
    cr_expect(r.mismatches == 0 && r.checked == 6, "%zu mismatches of %zu", r.mismatches,
              r.checked);
    problem_close(&p);
}

/* Every reference net of fixtures/reference/torch_graph (142 nets: every op
 * kind's parameters, read by the pass as theta +- h), the first and last
 * entry of each tensor: route (a) settles and equals the balls, or meets a
 * kink. */
Test(route_a_graph, agrees_with_the_balls_on_every_torch_graph_net)
{
    json_t *root;
    ga_error err = {{0}};
    cr_assert_eq(ga_json_load(&root, &err, REFDIR "/reference.json", (size_t)1 << 26), GA_OK,
                 "%s", err.msg);
    const json_t *refs = json_object_get(root, "references");
    cr_assert(json_is_array(refs) && json_array_size(refs) > 100, "no references in the index");
    size_t compared = 0, kinks = 0, nets = 0;
    for (size_t k = 0; k < json_array_size(refs); k++) {
        char path[700];
        snprintf(path, sizeof path, REFDIR "/%s",
                 json_string_value(json_object_get(json_array_get(refs, k), "spec")));
        problem p;
        problem_open(&p, NULL, path, 2);
        nets += !ga_net_desc_is_chain(&p.net->desc);
        for (size_t v = 0; v < p.net->n_views; v++) {
            const ga_view *w = &p.net->views[v];
            size_t n = w->rows * w->cols;
            for (size_t e = 0; e < 2 && n > 0; e++) {
                size_t i = w->offset + (e ? n - 1 : 0);
                if (e && n == 1)
                    break;
                double g;
                int st = ga_oracle_route_a(&g, NULL, NULL, &err, p.o, i);
                if (st == GA_EFAIL && strstr(err.msg, "changes within the FD step")) {
                    kinks++;
                    continue;
                }
                cr_expect_eq(st, GA_OK, "%s: %s", path, err.msg);
                cr_expect_eq(g, p.balls[i], "%s entry %zu: route (a) %a, the balls %a", path, i, g,
                             p.balls[i]);
                compared++;
            }
        }
        problem_close(&p);
    }
    json_decref(root);
    fprintf(stderr, "route (a) on %zu entries of %zu graph nets, %zu kinks\n", compared, nets, kinks);
    cr_expect(nets > 100 && compared > 1000, "%zu nets, %zu entries", nets, compared);
}

/* The memory pre-check counts route (a)'s two forward passes (at start_prec
 * and 32 bits more) on each of its two threads. relu_add at batch 1 has 9
 * values (x 2, layer 1's z and a 2 each, the add's 2, the output's 1); an
 * MPFR variable at 128 or 160 bits is its struct and 4 limbs (2 or 3 for
 * the significand, MPFR's size word, one spare in the count). The balls'
 * own count is larger on this net, and the pre-check holds the larger. */
Test(route_a_graph, its_bytes_counted_by_hand)
{
    ga_spec *spec;
    ga_error err = {{0}};
    cr_assert_eq(ga_spec_parse(&spec, &err, relu_add, "test.json", 1 << 20), GA_OK, "%s", err.msg);
    size_t b, each = sizeof(__mpfr_struct) + 4 * sizeof(mp_limb_t);
    cr_assert_eq(ga_refmp_route_a_bytes(&b, &spec->desc, 1, 128), GA_OK);
    cr_expect_eq(b, 9 * 2 * each, "%zu bytes, by hand %zu", b, 9 * 2 * each);
    ga_oracle_options o;
    ga_oracle_options_default(&o);
    size_t with, without;
    cr_assert_eq(ga_oracle_bytes(&with, &spec->desc, 9, 1, &o,
                                 GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK), GA_OK);
    cr_assert_eq(ga_oracle_bytes(&without, &spec->desc, 9, 1, &o, GA_ORACLE_GRADIENT), GA_OK);
    cr_expect(with == without && with >= 2 * b, "%zu with the cross-check, %zu without", with,
              without);
    cr_expect_eq(ga_refmp_route_a_bytes(&b, &spec->desc, SIZE_MAX / 2, 128), GA_ERANGE);
    ga_spec_free(spec);
}
