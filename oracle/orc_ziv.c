/* orc_ziv.c: the Ziv loop of the loss and of route (b): the two-precision
 * error estimate, the settle test (to nearest, with what the passes know of
 * each value's side: GA_DIR_*), the next precision, and the loop itself,
 * whose two passes at p and p + GAP run on two threads, as does the settle
 * test when there are enough results: orc_run_loss, the loss alone, and
 * orc_run_loss_gradient, route (b) with the loss and dL/dx.
 */
#include <math.h>
#include <pthread.h>

#include <mpfr.h>

#include "orc_internal.h"

/* ---- error estimate and the settled test -------------------------------- */

/* Why the two-precision difference is a trustworthy error estimate:
 * every MPFR operation is correctly rounded at the working precision p, so
 * the computed value is v_p = v + E_p with |E_p| <= K 2^-p, where K (a sum
 * over the operations of |partial result| times the condition of the rest of
 * the computation) does not depend on p once p exceeds the conditioning of
 * the problem. Running the same pass at p and at p + GAP gives
 * v_p - v_{p+GAP} = E_p - E_{p+GAP} with |E_{p+GAP}| about 2^-GAP |E_p|, so
 * |v_p - v_{p+GAP}| bounds the error of v_{p+GAP} with a safety factor of
 * about 2^GAP = 2^32. The floor 2^-p |v| covers the (measure-zero) accident
 * of the two runs agreeing to the last bit although inexact; it is dropped
 * when MPFR's inexact flag says every operation of both runs was exact. An
 * estimate that came out too small would be caught by route (a), which shares
 * no derivative formula with route (b) (GA_ORACLE_CROSS_CHECK). */
void ga_oracle_two_prec_error(mpfr_ptr e, mpfr_srcptr hi, mpfr_srcptr lo, long p, int inexact,
                              mpfr_ptr f)
{
    if (!mpfr_number_p(hi) || !mpfr_number_p(lo)) {
        mpfr_set_inf(e, 1);
        return;
    }
    mpfr_sub(e, hi, lo, MPFR_RNDA);
    mpfr_abs(e, e, MPFR_RNDN);
    if (inexact && !mpfr_zero_p(hi)) {
        mpfr_mul_2si(f, hi, -p, MPFR_RNDA);
        mpfr_abs(f, f, MPFR_RNDN);
        mpfr_add(e, e, f, MPFR_RNDU);
    }
}

/* 1 when every number the exact value may be rounds to the same double
 * (nearest, ties to even), writing that double; else 0 and *out = v rounded.
 * The exact value lies in [v - e, v + e], and on the side of v that dir
 * tells (GA_DIR_ABOVE: v is above it, so in [v - e, v)). The open end is
 * taken at the number next to v at 64 more bits than v's: a rounding
 * boundary of doubles (a midpoint, 54 bits) cannot lie strictly between the
 * two. So v exactly on a boundary settles on the side dir tells, and with
 * e = 0 (an exact v) an exact tie goes to even. *abserr (if not NULL) bounds
 * |exact - *out|. scratch: 2 variables. */
static int settle_ends(double *out, double *abserr, double ends[2], mpfr_srcptr v, mpfr_srcptr e,
                       int dir, mpfr_ptr lo, mpfr_ptr hi)
{
    *out = mpfr_get_d(v, MPFR_RNDN);
    ends[0] = ends[1] = NAN;
    int ok = 0;
    if (mpfr_number_p(v) && mpfr_number_p(e)) {
        mpfr_set_prec(lo, mpfr_get_prec(v) + 64);
        mpfr_set_prec(hi, mpfr_get_prec(v) + 64);
        mpfr_sub(lo, v, e, MPFR_RNDD);
        mpfr_add(hi, v, e, MPFR_RNDU);
        if (dir == GA_DIR_ABOVE) {
            mpfr_set(hi, v, MPFR_RNDN);
            mpfr_nextbelow(hi);
        } else if (dir == GA_DIR_BELOW) {
            mpfr_set(lo, v, MPFR_RNDN);
            mpfr_nextabove(lo);
        }
        double dl = mpfr_get_d(lo, MPFR_RNDN), dh = mpfr_get_d(hi, MPFR_RNDN);
        ends[0] = dl;
        ends[1] = dh;
        ok = dl == dh; /* +0 == -0: the exact value rounds to a zero */
        if (ok)
            *out = dl;
        if (*out == 0)
            *out = 0.0; /* the sign of a zero result carries no information: +0 */
        if (abserr) {
            mpfr_set_d(lo, *out, MPFR_RNDN);
            mpfr_sub(lo, v, lo, MPFR_RNDA);
            mpfr_abs(lo, lo, MPFR_RNDN);
            mpfr_add(lo, lo, e, MPFR_RNDU);
            *abserr = mpfr_get_d(lo, MPFR_RNDU);
        }
    } else if (abserr) {
        *abserr = INFINITY;
    }
    return ok;
}

int ga_oracle_settle_dir(double *out, double *abserr, mpfr_srcptr v, mpfr_srcptr e, int dir,
                         mpfr_ptr lo, mpfr_ptr hi)
{
    double ends[2];
    return settle_ends(out, abserr, ends, v, e, dir, lo, hi);
}

int ga_oracle_settle(double *out, double *abserr, mpfr_srcptr v, mpfr_srcptr e, mpfr_ptr lo,
                     mpfr_ptr hi)
{
    return ga_oracle_settle_dir(out, abserr, v, e, GA_DIR_UNKNOWN, lo, hi);
}

/* 1 when the doubles lo < hi are neighbours: the interval they end holds a
 * single rounding boundary */
int orc_neighbours(double lo, double hi)
{
    return isfinite(lo) && isfinite(hi) && lo != hi && nextafter(lo, INFINITY) == hi;
}

/* The last Ziv step's settle test (last: no precision follows): 1 settled;
 * else, when the interval straddles a single rounding boundary, 2: the
 * exact value lies nearer to that boundary than the last precision tells
 * (e^-|z| of a saturated unit on a tie, on a side no ternary value told),
 * and *out stays v rounded, *abserr |exact - *out| (up to half an ulp plus
 * e); else 0. */
static int settle_last(double *out, double *abserr, mpfr_srcptr v, mpfr_srcptr e, int dir,
                       mpfr_ptr lo, mpfr_ptr hi, int last)
{
    double ends[2];
    if (settle_ends(out, abserr, ends, v, e, dir, lo, hi))
        return 1;
    return last && orc_neighbours(ends[0], ends[1]) ? 2 : 0;
}

/* The next Ziv precision, or 0 when the MPFR variables would outgrow the
 * memory cap at it. */
long orc_next_prec(const orc *o, long p, long max_prec)
{
    long np = 2 * p > max_prec ? max_prec : 2 * p;
    size_t bytes;
    if (!orc_mpfr_bytes(&bytes, o->n_all, np + GAP) || bytes > GA_DEFAULT_MEMORY_CAP)
        return 0;
    return np;
}

void orc_stats_set(ga_oracle_stats *stats, long prec, unsigned iters, unsigned unsettled,
                   unsigned boundary)
{
    if (stats) {
        stats->final_prec = prec;
        stats->ziv_iterations = iters;
        stats->unsettled = unsettled;
        stats->boundary = boundary;
    }
}

/* ---- public entry points -------------------------------------------------- */

static int loss_in_range(double *loss, double *abserr, ga_oracle_stats *stats,
                         ga_error *err, const ga_net *net, const double *params,
                         const double *x, const double *y, size_t batch,
                         const ga_oracle_options *opt)
{
    ga_oracle_options op;
    if (!loss)
        return ga_fail(err, GA_EINVAL, "oracle: loss output is NULL");
    int status = orc_check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    orc o;
    /* extra: the low-precision loss, the error, two settle scratch */
    status = orc_alloc(&o, err, net, params, x, y, batch, 0, 0, 0, 0, 1, 4, op.start_prec);
    if (status)
        return status;
    mpfr_ptr lo = o.E[0], e = o.E[1];
    unsigned iters = 0;
    int done = 0;
    long p = op.start_prec;
    for (;;) {
        iters++;
        mpfr_clear_inexflag();
        orc_set_prec(&o, p);
        orc_constants(&o);
        orc_forward(&o);
        mpfr_set_prec(lo, p);
        mpfr_set(lo, o.T[T_LOSS], MPFR_RNDN);
        orc_set_prec(&o, p + GAP);
        orc_constants(&o);
        orc_forward(&o);
        int inexact = mpfr_inexflag_p();
        if (o.branch_assumed && o.lossd != GA_DIR_UNKNOWN) {
            orc_mag_forward(&o); /* the side of every relu's z proven, or no direction */
            if (orc_mag_kink_unsure(&o, p))
                o.lossd = GA_DIR_UNKNOWN;
        }
        if (o.lossd == GA_DIR_EXACT) {
            mpfr_set_zero(e, 1);
        } else {
            ga_oracle_two_prec_error(e, o.T[T_LOSS], lo, p, inexact, o.E[2]);
            if (inexact) {
                orc_mag_forward(&o);
                orc_mag_floor(e, &o, o.mloss, p + GAP, o.E[2]);
            }
        }
        long np = p >= op.max_prec ? 0 : orc_next_prec(&o, p, op.max_prec);
        done = settle_last(loss, abserr, o.T[T_LOSS], e, o.lossd, o.E[2], o.E[3], !np);
        if (done || !np)
            break;
        p = np;
    }
    orc_stats_set(stats, p + GAP, iters, done ? 0 : 1, done == 2);
    orc_free(&o);
    if (!done)
        return ga_fail(err, GA_EFAIL, "oracle: the loss was not settled at %ld bits (value %.17g)%s",
                       p + GAP, *loss, p < op.max_prec ? ", more would exceed the memory cap" : "");
    return GA_OK;
}

int orc_run_loss(double *loss, double *abserr, ga_oracle_stats *stats, ga_error *err,
                 const ga_net *net, const double *params, const double *x, const double *y,
                 size_t batch, const ga_oracle_options *opt)
{
    orc_range saved = orc_range_widest();
    int status = loss_in_range(loss, abserr, stats, err, net, params, x, y, batch, opt);
    orc_range_restore(saved);
    return status;
}

/* A result's settle test in orc_pass_work's units, for the progress told:
 * the settle tests (and the wait for the other pass) took about a sixth of
 * the passes' time on a 16-512-512-512-1 tanh net at batch 8, 534k
 * parameters (3 B units of pass per parameter, 4 of settling). */
#define SETTLE_WORK 4

/* One pass of the Ziv loop: the forward and reverse pass at prec, and
 * whether any MPFR operation of it was inexact (MPFR's flags are per
 * thread, so each pass reads its own). */
typedef struct {
    orc *o;
    long prec;
    int inexact;
    int mag; /* also the running error magnitudes (orc_mag_forward, orc_mag_backward) */
} orc_pass;

static void orc_pass_do(void *arg)
{
    orc_pass *ps = arg;
    orc_range saved = orc_range_widest();
    mpfr_clear_inexflag();
    orc_set_prec(ps->o, ps->prec);
    orc_constants(ps->o);
    orc_forward(ps->o);
    orc_backward(ps->o);
    ps->inexact = mpfr_inexflag_p();
    if (ps->mag) {
        orc_mag_forward(ps->o);
        orc_mag_backward(ps->o);
    }
    orc_range_restore(saved);
}

/* do_(a) on a thread of its own and do_(b) on this one, then the join; both
 * here, one after the other, when no thread can be started. On the new
 * thread MPFR's caches (of constants, of exp's tables) are per thread and
 * are released before it ends. */
typedef struct {
    void (*do_)(void *);
    void *arg;
} two_job;

static void *two_job_thread(void *arg)
{
    two_job *j = arg;
    j->do_(j->arg);
    mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE);
    return NULL;
}

static void run_two(void (*do_)(void *), void *a, void *b)
{
    two_job j = {do_, a};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, two_job_thread, &j) == 0;
    if (!threaded)
        do_(a);
    do_(b);
    if (threaded)
        pthread_join(th, NULL);
}

/* The settle test of results first <= i < end of a Ziv step of route (b):
 * the gradient, then dL/dx, then the loss, each from the two passes, with
 * three scratch variables of the thread's own. */
typedef struct {
    const orc *lo, *hi; /* lo carries the magnitudes */
    mpfr_t *sc;
    long p;
    int inexact;
    int kink_unsure;    /* orc_mag_kink_unsure: no gradient entry settles */
    int last;           /* no precision follows (settle_last) */
    size_t first, end, n_grad, n_dx;
    double *grad, *abserr, *dx, *loss, *loss_err;
    unsigned unsettled, boundary;
} settle_share;

static void settle_do(void *arg)
{
    settle_share *s = arg;
    orc_range saved = orc_range_widest();
    s->unsettled = s->boundary = 0;
    for (size_t i = s->first; i < s->end; i++) {
        size_t n_grad = s->n_grad, n_dx = s->n_dx;
        int is_g = i < n_grad, is_dx = !is_g && i < n_grad + n_dx;
        mpfr_srcptr hi = is_g ? s->hi->G[i] : is_dx ? s->hi->DX[i - n_grad] : s->hi->T[T_LOSS];
        mpfr_srcptr lo = is_g ? s->lo->G[i] : is_dx ? s->lo->DX[i - n_grad] : s->lo->T[T_LOSS];
        double *out = is_g ? &s->grad[i] : is_dx ? &s->dx[i - n_grad] : s->loss;
        double *ae = is_g ? (s->abserr ? &s->abserr[i] : NULL) : is_dx ? NULL : s->loss_err;
        int dir = is_g ? s->hi->gd[i] : is_dx ? s->hi->dxd[i - n_grad] : s->hi->lossd;
        if (s->kink_unsure && s->hi->branch_assumed)
            dir = GA_DIR_UNKNOWN; /* (the gradient's bound is infinite then) */
        for (int k = 0; k < 3; k++)
            mpfr_set_prec(s->sc[k], s->p + GAP);
        if (dir == GA_DIR_EXACT) {
            mpfr_set_zero(s->sc[0], 1);
        } else {
            ga_oracle_two_prec_error(s->sc[0], hi, lo, s->p, s->inexact, s->sc[1]);
            if (s->inexact)
                orc_mag_floor(s->sc[0], s->lo,
                              is_g ? s->lo->mg[i] : is_dx ? s->lo->mdx[i - n_grad] : s->lo->mloss,
                              s->p + GAP, s->sc[1]);
        }
        if (s->kink_unsure && (is_g || is_dx))
            mpfr_set_inf(s->sc[0], 1);
        int r = settle_last(out, ae, hi, s->sc[0], dir, s->sc[1], s->sc[2], s->last);
        s->unsettled += r == 0;
        s->boundary += r == 2;
    }
    orc_range_restore(saved);
}

int orc_loss_gradient_run(double *loss, double *loss_err, double *grad, double *abserr,
                          double *dx, ga_oracle_stats *stats, ga_error *err, const ga_net *net,
                          const double *params, const double *x, const double *y, size_t batch,
                          const ga_oracle_options *opt, orc_kept *keep)
{
    ga_oracle_options op;
    if (!grad)
        return ga_fail(err, GA_EINVAL, "oracle: grad output is NULL");
    int status = orc_check_args(&op, err, net, params, x, y, batch, opt);
    if (status)
        return status;
    /* results: the gradient, then dL/dx, then the loss, each settled alike */
    size_t n_dx = dx ? batch * net->desc.n_in : 0, n_grad = net->n_params;
    size_t n_res = n_grad + n_dx + (loss != NULL);
    /* The two runs of each Ziv step, at p and p + GAP, are independent: each
     * has its own working set and runs on its own thread (the machine has
     * two cores; MPFR keeps its flags per thread). hi carries the scratch. */
    orc lo_o, hi_o;
    int sign = keep && orc_net_has_piecewise(net), snap = keep != NULL;
    size_t fd_extra = keep ? FD_EXTRA : 0;
    status = orc_alloc(&lo_o, err, net, params, x, y, batch, 1, dx != NULL, sign, snap, 1,
                       fd_extra + 3, op.start_prec);
    if (status)
        return status;
    status = orc_alloc(&hi_o, err, net, params, x, y, batch, 1, dx != NULL, sign, snap, 1,
                       fd_extra + 3, op.start_prec + GAP);
    if (status) {
        orc_free(&lo_o);
        return status;
    }
    int inexact = 0, kink_unsure = 0;
    unsigned iters = 0, unsettled = 0, boundary = 0;
    long p = op.start_prec;
    /* told by the pass on this thread (run_two's second), unit by unit */
    orc_progress prog = {op.progress, op.progress_ctx, 0, 0};
    hi_o.prog = op.progress ? &prog : NULL;
    for (;;) {
        iters++;
        prog.total += orc_pass_work(&hi_o) + SETTLE_WORK * n_res;
        orc_progress_tell(hi_o.prog, "gradient");
        orc_pass lo_pass = {&lo_o, p, 0, 1}, hi_pass = {&hi_o, p + GAP, 0, 0};
        run_two(orc_pass_do, &lo_pass, &hi_pass);
        inexact = lo_pass.inexact || hi_pass.inexact;
        kink_unsure = orc_mag_kink_unsure(&lo_o, p);
        long np = p >= op.max_prec ? 0 : orc_next_prec(&hi_o, p, op.max_prec);
        /* the results split between two threads when there are enough of
         * them to pay for one (a thread costs tens of microseconds) */
        size_t half = n_res >= 1024 ? n_res / 2 : n_res;
        settle_share part[2];
        for (int w = 0; w < 2; w++)
            part[w] = (settle_share){&lo_o, &hi_o, (w ? &lo_o : &hi_o)->E + fd_extra, p, inexact,
                                     kink_unsure, !np, w ? half : 0, w ? n_res : half, n_grad,
                                     n_dx, grad, abserr, dx, loss, loss_err, 0, 0};
        if (half < n_res)
            run_two(settle_do, &part[1], &part[0]);
        else
            settle_do(&part[0]);
        unsettled = part[0].unsettled + part[1].unsettled;
        boundary = part[0].boundary + part[1].boundary;
        prog.done = prog.total; /* the step is over, settling included */
        orc_progress_tell(hi_o.prog, "gradient");
        if (!unsettled || !np)
            break;
        p = np;
    }
    hi_o.prog = NULL; /* a kept working set runs route (a), which is no pass of route (b) */
    orc_stats_set(stats, p + GAP, iters, unsettled, boundary);
    if (keep && !unsettled) {
        *keep = (orc_kept){lo_o, hi_o, p, inexact};
    } else {
        orc_free(&lo_o);
        orc_free(&hi_o);
    }
    if (unsettled)
        return ga_fail(err, GA_EFAIL, "oracle: %u results were not settled at %ld bits%s%s",
                       unsettled, p + GAP,
                       kink_unsure ? " (the sign of a pre-activation at a relu-type kink is "
                                     "not proven: it came out 0 from rounded operations, or "
                                     "within its error bound of 0)" : "",
                       p < op.max_prec ? ", more would exceed the memory cap" : "");
    return GA_OK;
}

int orc_run_loss_gradient(double *loss, double *loss_err, double *grad, double *abserr,
                          double *dx, ga_oracle_stats *stats, ga_error *err, const ga_net *net,
                          const double *params, const double *x, const double *y, size_t batch,
                          const ga_oracle_options *opt)
{
    orc_range saved = orc_range_widest();
    int status = orc_loss_gradient_run(loss, loss_err, grad, abserr, dx, stats, err, net, params,
                                       x, y, batch, opt, NULL);
    orc_range_restore(saved);
    return status;
}

