/* ga_health.h: when a gradient has vanished or exploded, one definition for the
 * scans (reports/ga_sweep.c) and the training-norm log (ga_normlog.h).
 *
 * A ratio r of two gradient norms (a layer's to the top layer's in the scans; a
 * tensor's to the reference tensor's, or a step's global norm to the first
 * step's, in the log) is judged on its log10, so that ratios outside the double
 * range (the scans' extended reals) compare the same way:
 *   vanished  log10 r < log10 vanish_below      (default 1e-4)
 *   exploded  log10 r > log10 explode_above     (default 1e4)
 * A NaN ratio is neither. */
#ifndef GA_HEALTH_H
#define GA_HEALTH_H

#include <math.h>

#define GA_VANISH_BELOW_DEFAULT 1e-4
#define GA_EXPLODE_ABOVE_DEFAULT 1e4

static inline int ga_health_vanished(double log10_ratio, double vanish_below)
{
    return log10_ratio < log10(vanish_below);
}

static inline int ga_health_exploded(double log10_ratio, double explode_above)
{
    return log10_ratio > log10(explode_above);
}

#endif
