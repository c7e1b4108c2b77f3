/* test_soak.c (slow suite): the false-alarm soak. At least 10,000 random
 * correct networks, every hidden activation x loss x reduction x batch size
 * {1, 2, 7, 64} x layout, many seeds, a third of the kinked ones placed
 * deliberately near a kink: the oracle check draws zero FAIL verdicts.
 * Run: meson configure build -Dslow_tests=true && meson test -C build --suite slow */
#include <math.h>
#include <stdio.h>

#include <criterion/criterion.h>

#include "ga_check.h"
#include "soak_common.h"

#define N_NETS 10080 /* 10.5 passes over the 960-configuration grid */

/* Moves z1[0, 0] (first sample, first unit) to about `at` by setting b1[0]. */
static void place_near_kink(ga_randnet *p, double at)
{
    ga_net *net = p->net;
    const ga_view *W = &net->views[0], *b = &net->views[1];
    double s = 0.0;
    for (size_t j = 0; j < net->desc.n_in; j++)
        s += p->x[j] * net->params[ga_weight_index(net, W, 0, j)];
    net->params[b->offset] = at - s;
}

Test(soak, ten_thousand_correct_networks_draw_no_fail, .timeout = 3000)
{
    const size_t batches[] = {1, 2, 7, 64};
    const double kink_offsets[] = {0.0, 3e-9, -1e-12, 1e-300};
    size_t fails = 0, kinks = 0, entries = 0, placed = 0;
    for (size_t k = 0; k < N_NETS; k++) {
        soak_config c = soak_config_at(k, batches, 4);
        uint32_t seed = 500000u + (uint32_t)k;
        ga_randnet p;
        ga_error err;
        cr_assert_eq(ga_randnet_make(&p, &err, c.layout, c.hidden, c.loss, c.reduction, c.batch,
                                     1 + k % 3, 0, (k % 5 == 0) ? 0.01 : 0.0, seed),
                     GA_OK, "%s", err.msg);
        if (ga_activation_has_kink(p.layers[0].act, p.layers[0].act_param) && p.net->desc.n_layers > 1 &&
            k % 3 == 1) {
            place_near_kink(&p, kink_offsets[(k / 3) % 4]);
            placed++;
        }
        ga_check_options opt;
        ga_check_options_default(&opt);
        opt.cross_check = 0; /* verdicts only: the oracle's two routes are compared in test_oracle */
        opt.seed = seed;
        ga_check_report *r;
        char what[160];
        ga_randnet_describe(what, sizeof what, &p);
        cr_assert_eq(ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &opt), GA_OK,
                     "%s: %s", what, err.msg);
        if (r->n_fail) {
            fails++;
            const ga_check_entry *e = &r->entries[r->top[0]];
            cr_log_error("FAIL on %s: %s analytic %.17g oracle %.17g tol %.3g: %s", what, e->name,
                         e->analytic, e->oracle, e->tol, e->reason);
        }
        kinks += r->n_kink;
        entries += r->n_entries;
        ga_check_report_free(r);
        ga_randnet_clear(&p);
    }
    cr_log_info("soak: %d nets, %zu entries, %zu FAIL, %zu kink verdicts, %zu nets placed near a kink",
                N_NETS, entries, fails, kinks, placed);
    printf("# soak: %d nets, %zu entries, %zu FAIL, %zu kink verdicts, %zu nets placed near a kink\n",
           N_NETS, entries, fails, kinks, placed);
    cr_assert_eq(fails, 0, "%zu of %d correct networks drew a FAIL", fails, N_NETS);
}
