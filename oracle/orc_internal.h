/* orc_internal.h: what the oracle's parts share (not installed, not for
 * callers: ga_oracle.h is the oracle's interface).
 *
 *   orc_state.c    the working state (orc), its allocation, the precision,
 *                  the exponent range, the arguments' checks
 *   orc_passes.c   forward, loss and reverse pass in MPFR, with directions
 *   orc_bound.c    the running error bound (long double magnitudes)
 *   orc_ziv.c      two-precision error, settling, the Ziv loop, threads
 *   orc_route_a.c  route (a): Ridders on the MPFR forward pass
 *   orc_cross.c    the cross-check of route (b) against route (a)
 *
 * Each function's comment is at its definition.
 */
#ifndef ORC_INTERNAL_H
#define ORC_INTERNAL_H

#include <stddef.h>

#include <pthread.h>

#include <mpfr.h>

#include "ga_diff_mpfr.h"
#include "ga_oracle.h"

/* Gap between the two precisions of a reverse or forward pass whose
 * difference estimates the error (ga_oracle_two_prec_error). 128 and 160 bits are both
 * fast paths of MPFR's mul and add (2 and 3 limbs). */
#define GAP 32
/* Rows of the Ridders tableau, route (a) (reason: core/ga_diff.h). */
#define NTAB GA_DIFF_NTAB_ORACLE
/* Route (a)'s variables, in orc.E: the scalars, then the tableau */
enum { F_F0, F_F0HI, F_FP, F_EPSF, F_H, F_ANS, F_ERR, F_ERRT, F_TOT, F_S1, F_S2, F_PI, NF };
#define FD_EXTRA (NF + NTAB * NTAB)

/* The oracle works in MPFR's widest exponent range whatever the caller
 * set (the range is per thread, and a user of the library may have narrowed
 * it): every entry point, and every worker thread, sets it and restores the
 * caller's on the way out. */
typedef struct {
    mpfr_exp_t emin, emax;
} orc_range;

/* ---- working state ----------------------------------------------------- */

enum { T_LOSS, T_S, T_LAM, T_ACC, T_T, T_U, T_V, T_W, T_PROD, NTMP };

/* What ga_oracle_options.progress is told, and how far the run is. */
typedef struct {
    void (*fn)(void *ctx, const char *stage, size_t done, size_t total); /* NULL: nothing */
    void *ctx;
    size_t done, total;
} orc_progress;

/* Magnitudes of the running error bound (orc_mag_forward): long double for its
 * range (x87: to 1e4932), as products of magnitudes outgrow a double's long
 * before MPFR's exponent range is in any danger. */
typedef long double mag_t;

typedef struct {
    const ga_net *net;
    const double *y;   /* (B, n_out) */
    const double *params, *x; /* (n_params), (B, n_in): converted exactly at every precision */
    size_t B, L, n_in, n_out, maxw, n_params;
    size_t *nin, *nout, *woff, *boff, *wk, *wj; /* (L) each: W(k,j) = P[woff + k wk + j wj] */
    mpfr_t *all;       /* every MPFR variable of the call, one allocation */
    size_t n_all, n_work;
    mp_limb_t *limbs;  /* (n_work, limb_cap) the significands of the working set, one slab
                          (MPFR's custom interface: never mpfr_set_prec or mpfr_clear them) */
    size_t limb_cap;
    mpfr_t *P;         /* (n_params) parameters, exact at the working precision */
    mpfr_t *X;         /* (B, n_in) inputs, exact at the working precision */
    mpfr_t **Z, **A;   /* (L) -> (B, nout[l]) pre-activations and activations */
    mpfr_t *D, *Dp;    /* (B, maxw) dL/da then dL/dz of the current layer; previous */
    mpfr_t *G;         /* (n_params) dL/dtheta */
    mpfr_t *DX;        /* (B, n_in) dL/dx, or NULL */
    mpfr_t *T;         /* (NTMP) temporaries */
    mpfr_t *E;         /* extra variables managed by the caller (n_all - n_work) */
    size_t n_extra;
    signed char *sign; /* (B * sum nout) signs of z for the kink test of route (a) */
    size_t *zoff;      /* (L) offsets of each layer in sign */
    mpfr_t *S;         /* (2, B * sum nout) route (a): z then a of every layer at theta, or NULL */
    size_t n_units;    /* B * sum nout */
    long fd_base_prec; /* route (a): p when the working set holds the forward pass
                          at theta at p + GAP bits, with E[F_EPSF] its error; else 0 */
    /* running error magnitudes of the last pass (orc_mag_forward, orc_mag_backward) */
    mag_t *mz, *ma;    /* (B * sum nout) M(z), M(a), laid out as S */
    mag_t *md, *mdp;   /* (B, maxw) M(dL/da then dL/dz) of the current layer; previous */
    mag_t *mg;         /* (n_params) M(dL/dtheta), with grad */
    mag_t *mdx;        /* (B, n_in) M(dL/dx), with dx */
    mag_t mloss;       /* M(L) */
    mag_t mexp;        /* the largest M of an exponential's argument (see orc_mag_floor) */
    mag_t depth;       /* D: roundings on the longest path of a pass, counted generously */
    mag_t mag_bump;    /* added to every |parameter| by orc_mag_forward (fd_floor), else 0 */
    /* with_dirs: what is known of each computed value against the exact one
     * (GA_DIR_*): z and a (orc_layer_affine, orc_layer_act), and with grad dL/da then
     * dL/dz of the current layer and the previous, dL/dtheta, dL/dx */
    signed char *zd, *ad;   /* (B * sum nout) each, laid out as S */
    signed char *dd, *ddp;  /* (B, maxw) each, with D and Dp */
    signed char *gd, *dxd;  /* (n_params), (B, n_in) */
    int lossd;              /* of T_LOSS */
    int branch_assumed;     /* some relu's 0 was taken as exact on its unproven side z < 0
                               (orc_layer_act): the directions hold once orc_mag_kink_unsure says
                               every side is proven */
    unsigned long N;   /* the reduction's divisor (orc_constants) */
    int kink_zero;     /* a piecewise unit's z came out 0 but not exactly (orc_mag_forward) */
    mag_t kink_ratio;  /* the largest M(z) / |z| over the piecewise units' nonzero z */
    orc_progress *prog; /* route (b)'s pass on the calling thread: its work, unit by
                           unit (orc_forward, orc_backward), as stage "gradient"; else NULL */
} orc;

/* What route (b) leaves for route (a) (keep != NULL): both working sets,
 * allocated with route (a)'s variables, the final p, and whether some
 * operation of the last step was inexact. */
typedef struct {
    orc lo, hi;
    long p;
    int inexact;
} orc_kept;

/* orc_state.c */
orc_range orc_range_widest(void);
void orc_range_restore(orc_range saved);
ga_oracle_options orc_options(const ga_oracle_options *opt);
int orc_check_args(ga_oracle_options *o, ga_error *err, const ga_net *net,
                   const double *params, const double *x, const double *y, size_t batch,
                   const ga_oracle_options *opt);
int orc_alloc(orc *o, ga_error *err, const ga_net *net, const double *params,
              const double *x, const double *y, size_t B, int with_grad, int with_dx,
              int with_sign, int with_snapshot, int with_dirs, size_t n_extra, long prec);
void orc_free(orc *o);
void orc_set_prec(orc *o, long prec);
int orc_mpfr_bytes(size_t *bytes, size_t n, long prec);
/* The sizes of a working state, counted without allocating (orc_count): what
 * orc_alloc lays out and what the memory pre-check (ga_oracle_bytes) counts. */
typedef struct {
    size_t units;   /* sum of the layers' widths */
    size_t maxw;    /* the widest of n_in and the layers */
    size_t n_x;     /* B n_in: X, and DX with_dx */
    size_t n_units; /* B units: Z, A (each), the kink signs; S holds two */
    size_t n_delta; /* with_grad: 2 B maxw (D and Dp), else 0 */
    size_t n_g;     /* with_grad: n_params (G), else 0 */
    size_t n_dx;    /* with_dx: n_x (DX), else 0 */
    size_t n_snap;  /* with_snapshot: 2 n_units (S), else 0 */
    size_t n_work;  /* P, X, Z and A, D and Dp, G, DX, S, T: the working set */
    size_t n_all;   /* n_work and the caller's n_extra */
    size_t n_mag;   /* magnitudes of the running bound: 2 n_units + n_delta + n_g + n_dx */
    size_t bytes;   /* of the n_all MPFR variables at prec + GAP bits */
} orc_sizes;
int orc_count(orc_sizes *s, ga_error *err, const ga_net_desc *d, size_t n_params, size_t B,
              int with_grad, int with_dx, int with_snapshot, size_t n_extra, long prec);

/* orc_passes.c */
size_t orc_pass_work(const orc *o);
void orc_progress_tell(orc_progress *p, const char *stage);
void orc_constants(orc *o);
void orc_forward(orc *o);
void orc_loss(orc *o);
void orc_backward(orc *o);
void orc_layer_affine(orc *o, size_t l, mpfr_t *in, size_t k0, size_t k1);
void orc_layer_act(orc *o, size_t l, size_t k0, size_t k1);
int orc_act_elementwise(mpfr_ptr a, mpfr_srcptr z, int dz, const ga_layer_desc *ld, mpfr_ptr t);

/* orc_bound.c */
mag_t orc_mag_depth(const orc *o, size_t B);
void orc_mag_forward(orc *o);
void orc_mag_backward(orc *o);
int orc_mag_kink_unsure(const orc *o, long p);
void orc_mag_floor(mpfr_ptr e, const orc *o, mag_t m, long prec, mpfr_ptr f);

/* orc_ziv.c */
int orc_neighbours(double lo, double hi);
long orc_next_prec(const orc *o, long p, long max_prec);
void orc_stats_set(ga_oracle_stats *stats, long prec, unsigned iters, unsigned unsettled,
                   unsigned boundary);
int orc_loss_gradient_run(double *loss, double *loss_err, double *grad, double *abserr,
                          double *dx, ga_oracle_stats *stats, ga_error *err, const ga_net *net,
                          const double *params, const double *x, const double *y, size_t batch,
                          const ga_oracle_options *opt, orc_kept *keep);

/* orc_route_a.c */
int orc_net_has_piecewise(const ga_net *net);
int orc_kink_signs(orc *o, int record, size_t *layer, size_t *unit);
mag_t orc_fd_moved_mag(orc *o, long k0);
void orc_fd_snapshot(orc *o, int save, size_t l0);
int orc_fd_alloc(orc *o, ga_error *err, const ga_net *net, const double *params,
                 const double *x, const double *y, size_t batch, const ga_oracle_options *op);
/* Route (a)'s base at p (orc_fd_run computes it when o->fd_base_prec != p):
 * the forward pass at theta at q = p + GAP snapshot in o->S, E[F_EPSF] its
 * loss's rounding error (the pass at p against it, and the magnitudes'
 * floor), theta's magnitudes and kink signs. */
void orc_fd_base(orc *o, long p);
/* The same with the pass at q alone: the base's loss error eps_f is the
 * running error bound alone (orc_mag_floor: proven, where the two
 * precisions' difference is an estimate, and 2^GAP times tighter). */
void orc_fd_base_bound(orc *o, long p);
/* dst, a working set of orc_fd_alloc on the same net, params, x, y and
 * batch, takes src's base (src->fd_base_prec != 0): the copy route (a)'s
 * second thread starts from instead of two forward passes of its own. */
void orc_fd_base_copy(orc *dst, const orc *src);
int orc_fd_run(double *g, double *abserr, double bracket[2], int *kink, long *prec_out,
               unsigned *iters_out, ga_error *err, orc *o, const double *params, size_t i,
               const ga_oracle_options *op);

/* What ga_oracle_run and ga_oracle.c's other functions call, one per kind of
 * result; each checks its arguments (orc_check_args) and works in MPFR's
 * widest exponent range. The outputs are those of ga_oracle.h's result (the
 * stand-alone loss; route (b) with the loss and dL/dx; route (a) on entry i;
 * the cross-check of a gradient gb; route (b) then the cross-check from its
 * last Ziv step). */
int orc_run_loss(double *loss, double *abserr, ga_oracle_stats *stats, ga_error *err,
                 const ga_net *net, const double *params, const double *x, const double *y,
                 size_t batch, const ga_oracle_options *opt);
int orc_run_loss_gradient(double *loss, double *loss_err, double *grad, double *abserr,
                          double *dx, ga_oracle_stats *stats, ga_error *err, const ga_net *net,
                          const double *params, const double *x, const double *y, size_t batch,
                          const ga_oracle_options *opt);
int orc_run_fd_entry(double *g, double *abserr, ga_oracle_stats *stats, ga_error *err,
                     const ga_net *net, const double *params, const double *x,
                     const double *y, size_t batch, size_t i,
                     const ga_oracle_options *opt);
/* The ball engine's cross-check: orc_cross_base_start starts route (a)'s
 * base (op->start_prec: the forward pass at q, eps_f from the running error
 * bound) on a second thread, for the caller to compute the balls meanwhile;
 * orc_run_cross_check_base then compares count entries of the gradient gb
 * with route (a) from that base (its second working set a copy of the
 * first), and frees the base; orc_cross_base_drop frees a base not used (it
 * may be called after either, and does nothing then). */
typedef struct {
    const ga_net *net;
    const double *params, *x, *y;
    size_t batch;
    ga_oracle_options op;
    pthread_t th;
    int started, threaded, done, status; /* done: joined, or run on the caller's thread */
    ga_error err;
    orc a;               /* the base's working set (when status is GA_OK) */
} orc_cross_base;
int orc_cross_base_start(orc_cross_base *cb, ga_error *err, const ga_net *net,
                         const double *params, const double *x, const double *y, size_t batch,
                         const ga_oracle_options *opt);
int orc_run_cross_check_base(size_t *mismatches, size_t *checked, ga_error *err,
                             orc_cross_base *cb, const double *gb, size_t count, uint64_t seed);
void orc_cross_base_drop(orc_cross_base *cb);
int orc_run_cross_check_grad(size_t *mismatches, size_t *checked, ga_error *err,
                             const ga_net *net, const double *params, const double *x,
                             const double *y, size_t batch, const double *gb, size_t count,
                             uint64_t seed, const ga_oracle_options *opt);
int orc_run_loss_gradient_cross(double *loss, double *loss_err, double *grad, double *abserr,
                                size_t *mismatches, size_t *checked, ga_oracle_stats *stats,
                                ga_error *err, const ga_net *net, const double *params,
                                const double *x, const double *y, size_t batch, size_t count,
                                uint64_t seed, const ga_oracle_options *opt);

#endif
