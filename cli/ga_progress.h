/* ga_progress.h: a progress line on a terminal, for work that takes a while.
 *
 * Drawn on standard error only when it is a terminal (isatty), never into a
 * pipe or a file, so that no output file or captured log holds it: one line,
 * rewritten in place ("\r", erase to the end), "WHAT: entries done/total
 * (pct%), elapsed M:SS, ETA M:SS", at most four times a second, and erased
 * at the end and before any message (a signal's too: ga_io_signals_line).
 * The rounding enclosures' and the MPFR oracle's passes show a percentage of
 * their work with an ETA, the oracle's cross-check its entries; a phase with
 * no count of its own (the first-order bound, the Monte Carlo rounding scale
 * of the finite-difference methods, the balls of --engine ball) shows its
 * name once, when it starts, with no clock that would stand still. */
#ifndef GA_PROGRESS_H
#define GA_PROGRESS_H

#include <stddef.h>

typedef struct {
    int on;             /* drawing: enabled and standard error is a terminal */
    int drawn;          /* a line is on the terminal, to erase */
    const char *what;   /* "check" */
    char phase[16];     /* the phase last drawn */
    double t0;          /* monotonic seconds at init */
    double phase_t0;    /* when the counted phase started */
    double last;        /* when the line was last drawn */
} ga_progress;

/* enabled 0 (--no-progress): never draws. */
void ga_progress_init(ga_progress *p, const char *what, int enabled);
/* phase's done of total units. A new phase is drawn at once; the counted
 * phases ("entries", "cross-check", and with a total "enclosure", "backward
 * bound", "oracle") at most every 0.25 s, and when done reaches total; an ETA
 * once 1% is done or the phase has run 2 s. */
void ga_progress_update(ga_progress *p, const char *phase, size_t done, size_t total);
/* Erases the line (before any message or output follows). */
void ga_progress_clear(ga_progress *p);
/* ga_check_options.progress's signature: ctx is a ga_progress. */
void ga_progress_check_cb(void *ctx, const char *phase, size_t done, size_t total);

#endif
