/* ga_fast.h: fast mode. Directional checks compare v.g (the analytic
 * gradient along a random direction v) with the derivative of
 * phi(t) = L(theta + t v) at t = 0, taken by Ridders-extrapolated central
 * differences: a few dozen forward passes whatever the parameter count.
 * When a direction disagrees, the bad entries are localised by bisection:
 * the same check restricted to each half of the failing block, recursively,
 * until single entries are named; each is then confirmed entry by entry
 * (against the MPFR oracle by default).
 *
 * Tolerance of one directional check on a block S (derived, not picked):
 *   |v.g - phi'| <= sum_{i in S} |v_i| e_i          analytic rounding (ga_bound)
 *                 + gamma_|S| sum |v_i g_i|           rounding of the dot product
 *                 + trunc + round                     the FD's own estimate
 *                 + rep                               the perturbation's representation
 * where rep bounds sum |g_i| |fl(theta_i +- t v_i) - theta_i -+ t v_i| / 2t,
 * the error from steps that are not exactly t v_i in double. */
#ifndef GA_FAST_H
#define GA_FAST_H

#include <stdint.h>

#include "ga_check.h"

typedef struct {
    size_t n_directions;   /* independent random directions (default 2) */
    uint64_t seed;         /* of the directions (printed) */
    size_t max_bad;        /* stop localising after naming this many entries (default 16) */
    int confirm_with_oracle; /* 1 (default): confirm with the MPFR oracle; 0: Ridders per entry */
    const double *analytic;  /* (n_params) gradient to check; NULL: ga_backward's */
    ga_oracle_options oracle;
} ga_fast_options;

void ga_fast_options_default(ga_fast_options *opt);

typedef struct {
    size_t index;
    char name[40];
    double analytic, reference, ref_err, tol;
    int confirmed;        /* 1: the entry-by-entry check failed too */
} ga_fast_entry;

typedef struct {
    int failed;               /* the verdict: some entry confirmed wrong, or (no oracle) some
                                 direction disagreed */
    int disagreed;            /* some direction disagreed */
    int cleared;              /* the directions disagreed, no localised entry was confirmed,
                                 and the oracle's whole gradient holds every entry within its
                                 tolerance: finite differences misled (a pass) */
    int by_whole_oracle;      /* bad[] came from the oracle's whole gradient (no localised
                                 entry was confirmed) */
    size_t n_directions;
    double *dir_analytic;     /* (n_directions) v.g */
    double *dir_reference;    /* (n_directions) phi'(0) */
    double *dir_tol;          /* (n_directions) */
    size_t n_checks;          /* directional checks run, localisation included */
    size_t forward_passes;    /* double forward passes, detection + localisation */
    size_t detect_passes;     /* of which detection */
    size_t n_bad;
    ga_fast_entry *bad;       /* (n_bad) localised entries */
    uint64_t seed;
    int truncated;            /* localisation stopped at max_bad */
    double seconds_setup;     /* backward pass, bounds and rounding scale */
    double seconds_detect;    /* the directional checks over every entry */
    double seconds_localise;  /* bisection */
    double seconds_confirm;   /* entry-by-entry confirmation */
} ga_fast_report;

int ga_fast_check(ga_fast_report **out, ga_error *err, const ga_net *net,
                  const double *params, const double *x, const double *y, size_t batch,
                  const ga_fast_options *opt);
void ga_fast_report_free(ga_fast_report *r);
int ga_fast_report_print(FILE *f, const ga_fast_report *r);

#endif
