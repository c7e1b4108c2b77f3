/* test_refball_soak (slow suite): the ball reference (oracle/ga_refball.h)
 * against the MPFR oracle's route (b) on hard nets 1..10000 (every hard
 * region, checks/ga_hardnet.h): wherever both settle an entry, the same
 * double. The gate runs the same comparison on 240 of them (test_refmp);
 * this is issue 16's full comparison of the old path and the new. */
#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "ga_hardnet.h"
#include "ga_oracle.h"
#include "ga_refball.h"
#include "ga_testsupport.h"

#define N_NETS 10000

Test(refball_soak, equals_the_mpfr_oracle_on_ten_thousand_hard_nets, .timeout = 3000)
{
    size_t compared = 0, differ = 0, ball_left = 0, nets = 0;
    for (uint32_t seed = 1; seed <= N_NETS; seed++) {
        ga_hardnet h;
        ga_error err;
        cr_assert_eq(ga_hardnet_make(&h, &err, seed), GA_OK, "hardnet %u: %s", seed, err.msg);
        size_t n = h.net->n_params;
        double *go = malloc(n * sizeof *go), *eo = malloc(n * sizeof *eo), *gb = malloc(n * sizeof *gb);
        unsigned char *ok = malloc(n);
        cr_assert(go && eo && gb && ok);
        ga_oracle_options opt;
        ga_oracle_options_default(&opt);
        ga_oracle_stats st;
        double lo, le;
        int s = ga_oracle_loss_gradient(&lo, &le, go, eo, NULL, &st, &err, h.net, h.net->params, h.x,
                                        h.y, h.batch, &opt);
        if (s == GA_OK || s == GA_EFAIL) {
            ga_refball_stats bs;
            cr_assert_eq(ga_refball_loss_gradient(NULL, NULL, NULL, gb, NULL, ok, &bs, &err, h.net,
                                                  h.net->params, h.x, h.y, h.batch, 128, 8192, NULL),
                         GA_OK, "%s: %s", h.description, err.msg);
            for (size_t i = 0; i < n; i++) {
                /* the oracle's entry is correctly rounded when its bound is at
                 * most half an ulp (boundary entries are faithful only) */
                if (!(eo[i] <= ga_test_half_ulp(go[i])))
                    continue;
                if (!ok[i]) {
                    ball_left++;
                    continue;
                }
                compared++;
                if (go[i] != gb[i]) {
                    differ++;
                    char name[64];
                    ga_param_name(name, sizeof name, h.net, i);
                    cr_log_error("%s %s: oracle %a, balls %a", h.description, name, go[i], gb[i]);
                }
            }
            nets++;
        }
        free(go);
        free(eo);
        free(gb);
        free(ok);
        ga_hardnet_clear(&h);
    }
    cr_log_info("%zu hard nets: %zu entries compared, %zu differ, %zu the oracle settled and the "
                "balls left", nets, compared, differ, ball_left);
    cr_expect_eq(differ, 0, "%zu entries differ", differ);
    cr_expect_gt(compared, (size_t)N_NETS * 20);
}
