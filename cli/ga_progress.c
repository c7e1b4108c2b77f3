/* ga_progress.c: the progress line on a terminal (ga_progress.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ga_io.h"
#include "ga_progress.h"

#define GA_PROGRESS_PERIOD 0.25 /* seconds between two draws of a counted phase */
#define GA_PROGRESS_ETA_AFTER 2.0 /* seconds of a phase before its ETA, if 1% takes longer */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void hms(char *buf, size_t size, double s)
{
    long t = s < 0 ? 0 : s > 359999 ? 359999 : (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

void ga_progress_init(ga_progress *p, const char *what, int enabled)
{
    memset(p, 0, sizeof *p);
    p->on = enabled && isatty(STDERR_FILENO);
    p->what = what;
    p->t0 = p->phase_t0 = now_s();
}

/* A phase counted in units of work rather than entries. */
static int in_work(const char *phase)
{
    return !strcmp(phase, "oracle") || !strcmp(phase, "enclosure") ||
           !strcmp(phase, "backward bound");
}

static const char *phase_text(const char *phase)
{
    if (!strcmp(phase, "bounds"))
        return "rounding bounds";
    if (!strcmp(phase, "oracle"))
        return "the MPFR oracle's gradient";
    if (!strcmp(phase, "enclosure"))
        return "the rounding enclosure";
    if (!strcmp(phase, "backward bound"))
        return "the backward pass's enclosure";
    return phase;
}

/* A phase told in counts: the entries, the oracle's cross-check, and in
 * units of work, where a percentage alone means something, the enclosures'
 * and the oracle's passes. */
static int counted(const char *phase, size_t total)
{
    return total > 0 && (!strcmp(phase, "entries") || !strcmp(phase, "cross-check") ||
                         in_work(phase));
}

void ga_progress_update(ga_progress *p, const char *phase, size_t done, size_t total)
{
    if (!p->on)
        return;
    double t = now_s();
    int new_phase = strcmp(p->phase, phase) != 0;
    if (new_phase) {
        snprintf(p->phase, sizeof p->phase, "%s", phase);
        p->phase_t0 = t;
    } else if (t - p->last < GA_PROGRESS_PERIOD && done < total) {
        return;
    }
    p->last = t;
    char line[240], el[32], eta[32], what[96];
    hms(el, sizeof el, t - p->t0);
    if (counted(phase, total)) {
        /* the ETA from this phase's own rate: the phases before it cost
         * differently per unit */
        /* no ETA from the first crumbs (it said 24:51:20 at 0%), but one
         * within seconds where 1% takes long (an entry of a wide net by
         * central differences: 6 ms, 1% of 136k of them 8 s) */
        double ran = t - p->phase_t0;
        if (done > 0 && (done >= total / 100 || ran >= GA_PROGRESS_ETA_AFTER))
            hms(eta, sizeof eta, ran * (double)(total - done) / (double)done);
        else
            snprintf(eta, sizeof eta, "--:--");
        if (in_work(phase))
            snprintf(what, sizeof what, "%s", phase_text(phase));
        else
            snprintf(what, sizeof what, "%s%zu/%zu",
                     strcmp(phase, "entries") ? "the oracle's cross-check, entries " : "entries ",
                     done, total);
        snprintf(line, sizeof line, "\r\033[K%s: %s (%d%%), elapsed %s, ETA %s", p->what, what,
                 (int)(100.0 * (double)done / (double)total), el, eta);
    } else if (total > 0) { /* drawn once: no clock that would stand still while it runs */
        snprintf(line, sizeof line, "\r\033[K%s: computing %s (%zu entries)...", p->what,
                 phase_text(phase), total);
    } else {
        snprintf(line, sizeof line, "\r\033[K%s: computing %s...", p->what, phase_text(phase));
    }
    ga_io_signals_line(1); /* from now on a signal's message erases it first */
    fputs(line, stderr);
    fflush(stderr);
    p->drawn = 1;
}

void ga_progress_clear(ga_progress *p)
{
    if (p->on && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        ga_io_signals_line(0);
    }
    p->drawn = 0;
}

void ga_progress_check_cb(void *ctx, const char *phase, size_t done, size_t total)
{
    ga_progress_update(ctx, phase, done, total);
}
