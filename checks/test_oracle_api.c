/* test_oracle_api.c: the oracle's interface (oracle/ga_oracle.h): allocate,
 * run with named flags, free.
 *
 * Independent sources:
 *   the numbers below were computed by the entry points the interface
 *   replaced (ga_oracle_loss_gradient, ga_oracle_loss, ga_oracle_fd_entry,
 *   ga_oracle_loss_gradient_cross, ga_oracle_cross_check) at commit b9b6f08,
 *   before any of them went through it: every combination of flags must give
 *   them bit for bit;
 *   the generic reference in MPFR (oracle/ga_refmp.h), which shares no pass
 *   with the oracle: where it settles an entry it must agree;
 *   the documented status codes and messages;
 *   the progress a run tells (ga_oracle_options.progress), recorded: on the
 *   calling thread only, never backwards, ending at its total, with the
 *   numbers unchanged by it.
 * The net is fixed (api_net): no seed. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arb.h>

#include "ga_oracle.h"
#include "ga_refmp.h"
#include "ga_spec.h"

/* row layout, 3-4-1, tanh then sigmoid, mse (mean) with weight decay 1/64,
 * batch 5; parameters, x and y dyadic, so exact in every precision */
static ga_net *api_net(double x[15], double y[5])
{
    ga_layer_desc layers[2] = {{4, GA_ACT_TANH, 0}, {1, GA_ACT_SIGMOID, 0}};
    ga_net_desc d = {GA_LAYOUT_ROW, 3, 2, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_MEAN, 1.0 / 64}};
    ga_net *net = NULL;
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    for (size_t i = 0; i < net->n_params; i++)
        net->params[i] = (double)((long)((i * 7919) % 23) - 11) / 16;
    for (size_t i = 0; i < 15; i++)
        x[i] = (double)((long)((i * 104729) % 19) - 9) / 8;
    for (size_t i = 0; i < 5; i++)
        y[i] = (double)((i * 31) % 7) / 8;
    return net;
}

#define N_PARAMS 21

/* ga_oracle_loss_gradient(&loss, &loss_err, grad, abserr, dx, ...) at b9b6f08
 * (one Ziv step, 160 bits); ga_oracle_loss gave the same loss and bound */
static const double want_loss = 0x1.d9a1f1b91dd1bp-4, want_loss_err = 0x1.e884a06538778p-63;
static const double want_grad[21] = {
    -0x1.18697d9dff357p-6, 0x1.6e3eac5858acfp-7, 0x1.8p-9, -0x1.74a0a5e99799cp-7,
    -0x1.e1b4ac75ac6cap-7, 0x1.05ed7e42cad89p-6, 0x1p-7, -0x1.e3646534235a9p-6,
    -0x1.92965daf5a6e7p-7, 0x1.54bba659695aap-6, -0x1.4p-7, -0x1.9c7877737ae83p-6,
    -0x1.4386c4e6b8074p-6, -0x1.31d7e9617de9bp-11, 0x0p+0, -0x1.228247eaf1b57p-8,
    0x1.3e848ed00a2bp-5, -0x1.398668b5c73d5p-6, 0x1.4d005616f39dbp-10, 0x1.3e5427ca1e72dp-7,
    -0x1.42e76a6605369p-7
};
static const double want_abserr[21] = {
    0x1.88ed5069233acp-60, 0x1.9f2c46ddbe597p-62, 0x0p+0, 0x1.d65f89e4754fcp-63,
    0x1.e9029d2de6d5ep-62, 0x1.37831445dd78fp-67, 0x0p+0, 0x1.e72fa643d6db5p-61,
    0x1.f5ba7c005a96ap-62, 0x1.9356e1f778f3dp-60, 0x0p+0, 0x1.de04687f9a7acp-60,
    0x1.96fbda4e78177p-64, 0x1.c5e82004aeb51p-65, 0x0p+0, 0x1.cc788bcf42f3bp-62,
    0x1.3f8a1ceeb1ecbp-59, 0x1.a94d4e9ecd5a8p-64, 0x1.04630879152cbp-64, 0x1.4bca81d6487f2p-61,
    0x1.25273ebd41673p-61
};
static const double want_dx[15] = {
    0x1.84c831e456c48p-7, -0x1.89b81bfe06c4ap-7, -0x1.25c336c710facp-7, 0x1.7756be22e77e2p-11,
    -0x1.3aa14d19a6219p-10, -0x1.94f25b2eb1a79p-11, -0x1.3b4d9937722bdp-9, 0x1.ba0cda3b1e65dp-7,
    0x1.dff850f59bd1bp-8, -0x1.fe8da2d1796e7p-13, -0x1.6f7266b681db7p-9, -0x1.5ec6c5a930b95p-10,
    0x1.0b3fb7dfa569ep-10, 0x1.8cefd2d2228edp-7, 0x1.6ee2192dd1f3fp-8
};
/* ga_oracle_fd_entry(&g, &abserr, ...) on entries 0, 7 and 20 at b9b6f08 */
static const struct {
    size_t i;
    double g, abserr;
} want_route_a[3] = {
    {0, -0x1.18697d9dff357p-6, 0x1.88ed50c12d4e4p-60},
    {7, -0x1.e3646534235a9p-6, 0x1.e72fa6f69863cp-61},
    {20, -0x1.42e76a6605369p-7, 0x1.25273f7295aaep-61}
};

/* The numbers below are the MPFR engine's (its error bound is its own): the
 * tests that pin them name it; the ball engine, the default, gives the same
 * doubles with its own bounds (flags_ball_gives_the_same_doubles). */
static void options(ga_oracle_options *opt, size_t cross_count, uint64_t cross_seed)
{
    ga_oracle_options_default(opt);
    opt->cross_count = cross_count;
    opt->cross_seed = cross_seed;
    opt->engine = GA_ORACLE_MPFR;
}

/* What a run told ga_oracle_options.progress, stage by stage
 * (0 "gradient", 1 "cross-check"). */
typedef struct {
    pthread_t thread;     /* the caller's */
    size_t off_thread;    /* calls from any other thread */
    size_t bad;           /* an unknown stage, done past total or going back */
    size_t calls[2], done[2], total[2];
} told;

static void record(void *ctx, const char *stage, size_t done, size_t total)
{
    told *t = ctx;
    t->off_thread += !pthread_equal(pthread_self(), t->thread);
    int s = !strcmp(stage, "gradient") ? 0 : !strcmp(stage, "cross-check") ? 1 : -1;
    if (s < 0 || done > total || (t->calls[s] && (done < t->done[s] || total < t->total[s]))) {
        t->bad++;
        return;
    }
    t->calls[s]++;
    t->done[s] = done;
    t->total[s] = total;
}

/* every combination of flags with at least one result */
static struct criterion_test_params every_flags(void)
{
    static unsigned flags[15];
    size_t n = 0;
    for (unsigned f = 1; f < 16; f++)
        if (!((f & GA_ORACLE_DX) && !(f & GA_ORACLE_GRADIENT)))
            flags[n++] = f;
    return cr_make_param_array(unsigned, flags, n);
}

ParameterizedTestParameters(oracle_api, flags_give_the_old_numbers)
{
    return every_flags();
}

/* One run with flags f on the engine given: the old numbers (MPFR), or the
 * same doubles with the balls' own bounds, each within half an ulp */
static void run_flags(unsigned f, int engine)
{
    int ball = engine == GA_ORACLE_BALL;
    double x[15], y[5];
    ga_net *net = api_net(x, y);
    cr_assert_eq(net->n_params, N_PARAMS);
    ga_oracle_options opt;
    options(&opt, 5, 7); /* ga_oracle_loss_gradient_cross(..., 5, 7) checked 5, no mismatch */
    opt.engine = engine;
    told t = {.thread = pthread_self()};
    opt.progress = record; /* (told unit by unit, the passes go another way: same numbers) */
    opt.progress_ctx = &t;
    ga_oracle *o;
    ga_oracle_result r;
    ga_error err = {{0}};
    cr_assert_eq(ga_oracle_alloc(&o, &err, net, net->params, x, y, 5, &opt), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_oracle_run(&r, &err, o, f), GA_OK, "flags 0x%x: %s", f, err.msg);
    cr_assert(t.off_thread == 0 && t.bad == 0, "flags 0x%x: progress told from %zu other threads, "
              "%zu times wrong", f, t.off_thread, t.bad);
    /* the balls run with GA_ORACLE_GRADIENT or _CROSS_CHECK unless dL/dx is asked
     * (MPFR's route (b) then): the start, 2 stages forward, 2 back, the settle test */
    int balls = ball && (f & (GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK)) && !(f & GA_ORACLE_DX);
    if (f & (GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK)) /* route (b): layer by layer */
        cr_assert(t.calls[0] > (balls ? 5u : 4u) && t.total[0] > 0 && t.done[0] == t.total[0],
                  "flags 0x%x: gradient told %zu times, last %zu of %zu", f, t.calls[0],
                  t.done[0], t.total[0]);
    else /* the loss's own loop is not told */
        cr_assert(t.calls[0] == 0, "flags 0x%x: the loss alone told a gradient's progress", f);
    if (f & GA_ORACLE_CROSS_CHECK)
        cr_assert(t.calls[1] >= 2 && t.done[1] == 5 && t.total[1] == 5,
                  "flags 0x%x: cross-check told %zu times, last %zu of %zu", f, t.calls[1],
                  t.done[1], t.total[1]);
    else
        cr_assert(t.calls[1] == 0, "flags 0x%x: a cross-check told without one", f);
    if (f & GA_ORACLE_LOSS)
        cr_assert(r.loss == want_loss &&
                      (balls ? r.loss_err <= ga_ulp_in(GA_PREC_FLOAT64, want_loss) / 2 : r.loss_err == want_loss_err),
                  "flags 0x%x: loss %a +- %a, was %a +- %a", f, r.loss, r.loss_err, want_loss,
                  want_loss_err);
    else
        cr_assert(isnan(r.loss) && isnan(r.loss_err), "flags 0x%x: a loss not asked for", f);
    if (f & GA_ORACLE_GRADIENT) {
        cr_assert(r.grad && r.abserr, "flags 0x%x", f);
        for (size_t i = 0; i < N_PARAMS; i++)
            cr_assert(r.grad[i] == want_grad[i] &&
                          (balls ? r.abserr[i] <= ga_ulp_in(GA_PREC_FLOAT64, want_grad[i]) / 2 &&
                                       (want_grad[i] != 0 || r.abserr[i] == 0)
                                 : r.abserr[i] == want_abserr[i]),
                      "flags 0x%x: entry %zu %a +- %a, was %a +- %a", f, i, r.grad[i],
                      r.abserr[i], want_grad[i], want_abserr[i]);
    } else {
        cr_assert(!r.grad && !r.abserr, "flags 0x%x: a gradient not asked for", f);
    }
    if (f & GA_ORACLE_DX) {
        cr_assert(r.dx, "flags 0x%x", f);
        for (size_t i = 0; i < 15; i++)
            cr_assert(r.dx[i] == want_dx[i], "flags 0x%x: dx %zu %a, was %a", f, i, r.dx[i],
                      want_dx[i]);
    } else {
        cr_assert(!r.dx, "flags 0x%x: dL/dx not asked for", f);
    }
    if (f & GA_ORACLE_CROSS_CHECK)
        cr_assert(r.mismatches == 0 && r.checked == 5, "flags 0x%x: %zu mismatches, %zu checked",
                  f, r.mismatches, r.checked);
    else
        cr_assert(r.mismatches == 0 && r.checked == 0, "flags 0x%x", f);
    /* MPFR: one Ziv step, the pair 128/160 bits; balls: one pass at 128 */
    cr_assert(r.stats.final_prec == (balls ? 128 : 160) && r.stats.ziv_iterations == 1 &&
                  r.stats.unsettled == 0 && r.stats.boundary == 0,
              "flags 0x%x: %ld bits, %u steps, %u unsettled", f, r.stats.final_prec,
              r.stats.ziv_iterations, r.stats.unsettled);
    ga_oracle_free(o);
    ga_net_free(net);
}

ParameterizedTest(unsigned *flags, oracle_api, flags_give_the_old_numbers)
{
    run_flags(*flags, GA_ORACLE_MPFR);
}

ParameterizedTestParameters(oracle_api, flags_ball_gives_the_same_doubles)
{
    return every_flags();
}

ParameterizedTest(unsigned *flags, oracle_api, flags_ball_gives_the_same_doubles)
{
    run_flags(*flags, GA_ORACLE_BALL);
}

Test(oracle_api, route_a_gives_the_old_numbers)
{
    double x[15], y[5];
    ga_net *net = api_net(x, y);
    ga_oracle *o;
    ga_error err = {{0}};
    cr_assert_eq(ga_oracle_alloc(&o, &err, net, net->params, x, y, 5, NULL), GA_OK, "%s", err.msg);
    for (int k = 0; k < 3; k++) {
        double g, ae;
        ga_oracle_stats st;
        size_t i = want_route_a[k].i;
        cr_assert_eq(ga_oracle_route_a(&g, &ae, &st, &err, o, i), GA_OK, "entry %zu: %s", i,
                     err.msg);
        cr_assert(g == want_route_a[k].g && ae == want_route_a[k].abserr,
                  "entry %zu: %a +- %a, was %a +- %a", i, g, ae, want_route_a[k].g,
                  want_route_a[k].abserr);
        cr_assert(g == want_grad[i], "entry %zu: route (a) %a, route (b) %a", i, g, want_grad[i]);
        cr_assert(st.final_prec == 160 && st.ziv_iterations == 1, "entry %zu: %ld bits", i,
                  st.final_prec);
    }
    ga_oracle_free(o);
    ga_net_free(net);
}

/* The comparison can fail: a gradient with one entry one ulp off is one
 * mismatch when every entry is compared (ga_oracle_cross_check gave 0 of 21
 * on the right one, count 1000, seed 7). */
Test(oracle_api, cross_check_against_counts_a_wrong_entry)
{
    double x[15], y[5], g[N_PARAMS];
    ga_net *net = api_net(x, y);
    ga_oracle_options opt;
    options(&opt, 1000, 7);
    ga_oracle *o;
    ga_error err = {{0}};
    cr_assert_eq(ga_oracle_alloc(&o, &err, net, net->params, x, y, 5, &opt), GA_OK, "%s", err.msg);
    memcpy(g, want_grad, sizeof g);
    size_t m = 9, c = 0;
    cr_assert_eq(ga_oracle_cross_check_against(&m, &c, &err, o, g), GA_OK, "%s", err.msg);
    cr_assert(m == 0 && c == N_PARAMS, "%zu mismatches, %zu checked", m, c);
    g[3] = nextafter(g[3], INFINITY);
    cr_assert_eq(ga_oracle_cross_check_against(&m, &c, &err, o, g), GA_OK, "%s", err.msg);
    cr_assert(m == 1 && c == N_PARAMS, "entry 3 one ulp off: %zu mismatches, %zu checked", m, c);
    ga_oracle_free(o);
    ga_net_free(net);
}

/* The oracle reads the caller's parameters at every run: after a change it
 * gives what a new oracle at the new point gives, and after the change is
 * undone, the old numbers again. */
Test(oracle_api, a_run_reads_the_parameters_anew)
{
    double x[15], y[5], g1[N_PARAMS];
    ga_net *net = api_net(x, y);
    ga_oracle *o, *fresh;
    ga_oracle_result r, rf;
    ga_error err = {{0}};
    const unsigned f = GA_ORACLE_LOSS | GA_ORACLE_GRADIENT;
    cr_assert_eq(ga_oracle_alloc(&o, &err, net, net->params, x, y, 5, NULL), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_oracle_run(&r, &err, o, f), GA_OK, "%s", err.msg);
    cr_assert(r.loss == want_loss);
    net->params[0] += 0.0625;
    cr_assert_eq(ga_oracle_run(&r, &err, o, f), GA_OK, "%s", err.msg);
    memcpy(g1, r.grad, sizeof g1);
    cr_assert_eq(ga_oracle_alloc(&fresh, &err, net, net->params, x, y, 5, NULL), GA_OK, "%s",
                 err.msg);
    cr_assert_eq(ga_oracle_run(&rf, &err, fresh, f), GA_OK, "%s", err.msg);
    cr_assert(r.loss != want_loss && r.loss == rf.loss, "loss %a, a new oracle's %a", r.loss,
              rf.loss);
    cr_assert(memcmp(g1, rf.grad, sizeof g1) == 0, "the gradients differ");
    net->params[0] -= 0.0625;
    cr_assert_eq(ga_oracle_run(&r, &err, o, f), GA_OK, "%s", err.msg);
    cr_assert(r.loss == want_loss && memcmp(r.grad, want_grad, sizeof want_grad) == 0);
    ga_oracle_free(fresh);
    ga_oracle_free(o);
    ga_net_free(net);
}

/* Where the generic reference (its own passes, core/ga_ref_tmpl.h) settles
 * an entry, the oracle's run gives the same double. */
Test(oracle_api, agrees_with_the_generic_reference)
{
    double x[15], y[5], gr[N_PARAMS], lr;
    unsigned char ok[N_PARAMS];
    int lr_ok;
    ga_net *net = api_net(x, y);
    ga_refmp_stats rs;
    ga_error err = {{0}};
    cr_assert_eq(ga_refmp_loss_gradient(&lr, &lr_ok, gr, ok, &rs, &err, net, net->params, x, y, 5,
                                        4096),
                 GA_OK, "%s", err.msg);
    ga_oracle *o;
    ga_oracle_result r;
    cr_assert_eq(ga_oracle_alloc(&o, &err, net, net->params, x, y, 5, NULL), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_oracle_run(&r, &err, o, GA_ORACLE_LOSS | GA_ORACLE_GRADIENT), GA_OK, "%s",
                 err.msg);
    size_t compared = 0;
    for (size_t i = 0; i < N_PARAMS; i++)
        if (ok[i]) {
            compared++;
            cr_assert(r.grad[i] == gr[i], "entry %zu: oracle %a, generic reference %a", i,
                      r.grad[i], gr[i]);
        }
    cr_assert(lr_ok && r.loss == lr, "loss: oracle %a, generic reference %a", r.loss, lr);
    /* exact entries (0x1.8p-9 and the like) stay unsettled there: ga_refmp.h */
    cr_assert(compared >= N_PARAMS - 5, "only %zu entries settled by the reference", compared);
    ga_oracle_free(o);
    ga_net_free(net);
}

static void assert_einval(int status, const ga_error *err, const char *word, const char *what)
{
    cr_assert_eq(status, GA_EINVAL, "%s: status %d", what, status);
    cr_assert(strstr(err->msg, word), "%s: message \"%s\" does not name %s", what, err->msg, word);
}

Test(oracle_api, bad_flags_and_nulls_are_einval_with_a_message)
{
    double x[15], y[5], g = 0, ae = 0;
    ga_net *net = api_net(x, y);
    ga_oracle *o = (ga_oracle *)&g; /* set to NULL by a failed alloc */
    ga_oracle_result r;
    ga_error err = {{0}};
    assert_einval(ga_oracle_alloc(NULL, &err, net, net->params, x, y, 5, NULL), &err, "NULL",
                  "alloc, no address");
    assert_einval(ga_oracle_alloc(&o, &err, NULL, net->params, x, y, 5, NULL), &err, "net",
                  "alloc, no net");
    cr_assert_null(o, "a failed alloc leaves *o NULL");
    assert_einval(ga_oracle_alloc(&o, &err, net, net->params, x, NULL, 5, NULL), &err, "y",
                  "alloc, no y");
    assert_einval(ga_oracle_alloc(&o, &err, net, net->params, x, y, 0, NULL), &err, "batch",
                  "alloc, batch 0");
    ga_oracle_options bad = {.start_prec = 256, .max_prec = 128};
    assert_einval(ga_oracle_alloc(&o, &err, net, net->params, x, y, 5, &bad), &err, "precision",
                  "alloc, start above max");
    cr_assert_eq(ga_oracle_alloc(&o, &err, net, net->params, x, y, 5, NULL), GA_OK, "%s", err.msg);
    assert_einval(ga_oracle_run(NULL, &err, o, GA_ORACLE_LOSS), &err, "result", "run, no result");
    assert_einval(ga_oracle_run(&r, &err, NULL, GA_ORACLE_LOSS), &err, "oracle", "run, no oracle");
    assert_einval(ga_oracle_run(&r, &err, o, 0), &err, "flags 0x0", "run, flags 0");
    assert_einval(ga_oracle_run(&r, &err, o, GA_ORACLE_LOSS | 1u << 7), &err, "flags 0x81",
                  "run, an unknown flag");
    assert_einval(ga_oracle_run(&r, &err, o, GA_ORACLE_DX), &err, "GA_ORACLE_GRADIENT",
                  "run, dx alone");
    assert_einval(ga_oracle_run(&r, &err, o, GA_ORACLE_LOSS | GA_ORACLE_DX | GA_ORACLE_CROSS_CHECK),
                  &err, "GA_ORACLE_GRADIENT", "run, dx without the gradient");
    assert_einval(ga_oracle_route_a(&g, &ae, NULL, &err, NULL, 0), &err, "oracle",
                  "route (a), no oracle");
    assert_einval(ga_oracle_route_a(NULL, &ae, NULL, &err, o, 0), &err, "g output",
                  "route (a), no g");
    assert_einval(ga_oracle_route_a(&g, &ae, NULL, &err, o, N_PARAMS), &err, "entry 21",
                  "route (a), entry out of range");
    size_t m, c;
    assert_einval(ga_oracle_cross_check_against(&m, &c, &err, NULL, want_grad), &err, "oracle",
                  "cross-check, no oracle");
    assert_einval(ga_oracle_cross_check_against(&m, &c, &err, o, NULL), &err, "gradient",
                  "cross-check, no gradient");
    assert_einval(ga_oracle_cross_check_against(NULL, &c, &err, o, want_grad), &err, "mismatches",
                  "cross-check, no mismatches");
    /* err may be NULL */
    cr_assert_eq(ga_oracle_run(&r, NULL, o, 0), GA_EINVAL);
    /* and the oracle still works after the refusals */
    cr_assert_eq(ga_oracle_run(&r, &err, o, GA_ORACLE_LOSS), GA_OK, "%s", err.msg);
    cr_assert(r.loss == want_loss);
    ga_oracle_free(o);
    ga_oracle_free(NULL);
    ga_net_free(net);
}

/* ga_oracle_bytes, the pre-check's count: by hand for a 2-3-1 net, batch 4,
 * 13 parameters, route (b) with the cross-check's base kept, at 128 + 32 + 32
 * bits (route (b)'s second precision): parameters 13, x 8, z and a 2 x 16
 * (4 units, 4 samples), the kept base 2 x 16, deltas 2 x 4 x 3 (the widest
 * layer 3), gradient 13, 9 scratch values, and
 * route (a)'s extra variables plus 3 results: each a struct and 192/64 + 2
 * limbs. Without the cross-check the base and route (a)'s variables go; the
 * loss alone is counted at 160 bits with 4 extra variables. Overflow is
 * GA_ERANGE. */
Test(oracle_api, bytes_counted_as_the_oracle_allocates)
{
    ga_layer_desc layers[2] = {{3, GA_ACT_TANH, 0}, {1, GA_ACT_IDENTITY, 0}};
    ga_net_desc d = {GA_LAYOUT_ROW, 2, 2, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_MEAN, 0.0}};
    ga_oracle_options o;
    ga_oracle_options_default(&o);
    o.engine = GA_ORACLE_MPFR; /* the balls' count: balls_bytes_counted_by_hand */
    size_t per192 = sizeof(mpfr_t) + (192 / GMP_NUMB_BITS + 2) * sizeof(mp_limb_t);
    size_t per160 = sizeof(mpfr_t) + (160 / GMP_NUMB_BITS + 2) * sizeof(mp_limb_t);
    size_t cross, grad, loss;
    cr_assert_eq(ga_oracle_bytes(&cross, &d, 13, 4, &o, GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK),
                 GA_OK);
    cr_assert_eq(ga_oracle_bytes(&grad, &d, 13, 4, &o, GA_ORACLE_GRADIENT), GA_OK);
    cr_assert_eq(ga_oracle_bytes(&loss, &d, 13, 4, &o, GA_ORACLE_LOSS), GA_OK);
    size_t base = 13 + 8 + 32 + 24 + 13 + 9; /* without the kept base */
    cr_expect_eq(grad, (base + 3) * per192, "gradient: %zu bytes", grad);
    cr_expect_gt(cross, grad + 32 * per192, "the cross-check's base and variables: %zu", cross);
    cr_expect_eq(loss, (13 + 8 + 32 + 9 + 4) * per160, "loss alone: %zu bytes", loss);
    size_t b;
    cr_expect_eq(ga_oracle_bytes(&b, &d, 13, SIZE_MAX / 2, &o, GA_ORACLE_GRADIENT), GA_ERANGE);
}

/* With the balls (the default engine), the same net's count adds the ball
 * pass, by hand: the values x (2), z1 (3), a1 (3), z2 (1: identity, no a)
 * for 4 samples, 36; the two deltas of a chain, 2 x 4 x 3 (the widest layer),
 * 24; the gradient and the parameters as balls, 13 each: 86 balls, each a
 * struct and the limbs of a midpoint at 128 + 1,077 + 32 + 64 bits (21),
 * the precision an exact zero makes the balls jump to. The loss alone and
 * dL/dx run no balls. */
Test(oracle_api, balls_bytes_counted_by_hand)
{
    ga_layer_desc layers[2] = {{3, GA_ACT_TANH, 0}, {1, GA_ACT_IDENTITY, 0}};
    ga_net_desc d = {GA_LAYOUT_ROW, 2, 2, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_MEAN, 0.0}};
    ga_oracle_options o, m;
    ga_oracle_options_default(&o);
    m = o;
    m.engine = GA_ORACLE_MPFR;
    size_t ball = 86 * (sizeof(arb_struct) + 21 * sizeof(mp_limb_t)), with, without;
    const unsigned flags[3] = {GA_ORACLE_GRADIENT, GA_ORACLE_GRADIENT | GA_ORACLE_CROSS_CHECK,
                               GA_ORACLE_LOSS};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(ga_oracle_bytes(&with, &d, 13, 4, &o, flags[k]), GA_OK);
        cr_assert_eq(ga_oracle_bytes(&without, &d, 13, 4, &m, flags[k]), GA_OK);
        cr_expect_eq(with, without + (flags[k] == GA_ORACLE_LOSS ? 0 : ball),
                     "flags 0x%x: %zu bytes with balls, %zu with MPFR", flags[k], with, without);
    }
}

/* The oracle's loss and gradient on a fixture spec (fixtures/specs/FILE),
 * with opt (NULL: the defaults); the caller frees *o, *net and *spec. */
static ga_oracle_result fixture_run(ga_oracle **o, ga_net **net, ga_spec **spec, const char *file,
                                    const ga_oracle_options *opt)
{
    char path[512];
    ga_error err = {{0}};
    ga_oracle_result r;
    snprintf(path, sizeof path, "%s/fixtures/specs/%s", GA_SOURCE_ROOT, file);
    cr_assert_eq(ga_spec_load(spec, &err, path, 0), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_spec_make_net(net, &err, *spec, 0, 0), GA_OK, "%s", err.msg);
    cr_assert_eq(ga_oracle_alloc(o, &err, *net, (*net)->params, (*spec)->x, (*spec)->y,
                                 (*spec)->batch, opt),
                 GA_OK, "%s", err.msg);
    cr_assert_eq(ga_oracle_run(&r, &err, *o, GA_ORACLE_LOSS | GA_ORACLE_GRADIENT), GA_OK, "%s: %s",
                 file, err.msg);
    return r;
}

/* The balls tell their progress on a net of layer types too (the reverse
 * walk of a graph tells as it leaves each stage): from 0 to the pass's end,
 * never back, on the caller's thread, every entry settled. */
Test(oracle_api, balls_tell_progress_on_a_graph)
{
    ga_spec *spec;
    ga_net *net;
    ga_oracle *o;
    ga_oracle_options opt;
    ga_oracle_options_default(&opt);
    told t = {.thread = pthread_self()};
    opt.progress = record;
    opt.progress_ctx = &t;
    ga_oracle_result r = fixture_run(&o, &net, &spec, "gpt-block-like.json", &opt);
    cr_assert(t.off_thread == 0 && t.bad == 0, "told from %zu other threads, %zu times wrong",
              t.off_thread, t.bad);
    /* a pass: the start, each stage forward and back, the settle test */
    size_t per_pass = t.total[0] / r.stats.ziv_iterations;
    cr_assert(t.total[0] > 0 && t.done[0] == t.total[0] && t.total[0] % r.stats.ziv_iterations == 0,
              "last %zu of %zu in %u passes", t.done[0], t.total[0], r.stats.ziv_iterations);
    cr_assert_eq(t.calls[0], r.stats.ziv_iterations * (per_pass + 1),
                 "told %zu times, %zu units a pass, %u passes", t.calls[0], per_pass,
                 r.stats.ziv_iterations);
    cr_assert_eq(r.stats.unsettled, 0);
    ga_oracle_free(o);
    ga_net_free(net);
    ga_spec_free(spec);
}

/* gpt2-like's gradient holds exact zeros reached by cancellation, balls
 * around 0 that settle only once their radius is below 2^-1075: the balls
 * go from 128 bits straight to the precision that radius asks for (one
 * more pass, not five doublings to 2,048 bits as before), and every entry
 * settles. */
Test(oracle_api, balls_jump_to_the_bits_an_exact_zero_needs)
{
    ga_spec *spec;
    ga_net *net;
    ga_oracle *o;
    ga_oracle_result r = fixture_run(&o, &net, &spec, "gpt2-like.json", NULL);
    cr_assert(r.stats.ziv_iterations == 2 && r.stats.final_prec > 1077 &&
                  r.stats.final_prec < 2048 && r.stats.unsettled == 0,
              "%u passes, the last at %ld bits, %u unsettled", r.stats.ziv_iterations,
              r.stats.final_prec, r.stats.unsettled);
    ga_oracle_free(o);
    ga_net_free(net);
    ga_spec_free(spec);
}
