/* gate_common.h: one case of the gate's table checked, for the gate's suites
 * (test_gate, test_gate_slow), so that the fast and the slow sweep build and
 * check their nets the same way. Include after <criterion/criterion.h>. */
#ifndef GA_GATE_COMMON_H
#define GA_GATE_COMMON_H

#include "ga_check.h"
#include "ga_randnet.h"

/* The report of ga_check_run on case c's net with method m and the case's
 * seed (the caller frees it); what receives the case's description
 * (ga_randnet_describe) for the caller's messages. Asserts that the net is
 * built and the check runs. */
static inline ga_check_report *gate_check_case(char *what, size_t what_size,
                                               const ga_randnet_case *c, ga_check_method m)
{
    ga_randnet p;
    ga_error err;
    int st = ga_randnet_make_case(&p, &err, c);
    cr_assert_eq(st, GA_OK, "seed %u: %s", c->seed, err.msg);
    ga_randnet_describe(what, what_size, &p);
    ga_check_options o;
    ga_check_options_default(&o);
    o.method = m;
    o.seed = c->seed;
    ga_check_report *r = NULL;
    st = ga_check_run(&r, &err, p.net, p.net->params, p.x, p.y, p.batch, &o);
    cr_assert_eq(st, GA_OK, "%s: %s", what, err.msg);
    ga_randnet_clear(&p);
    return r;
}

#endif
