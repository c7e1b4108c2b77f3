/* ga_problem.c: gradaudit_check, the checker for a user's own gradient code
 * described by callbacks (gradaudit.h).
 *
 * The per-entry report is the checker's (ga_check_entry, ga_check_report in
 * checks/ga_check.h); verdicts come from its ga_compare. What is here and
 * not in checks/: the references and the tolerance model work on callbacks
 * instead of a ga_net, so checks/'s finite differences (bound to a net's
 * forward pass) and oracle/'s route (a) (bound to the MPFR network pass)
 * cannot be called; both references feed core/ga_diff.h's tableau from the
 * callbacks instead:
 *   - oracle: Richardson-extrapolated central differences in MPFR with a
 *     Ziv loop, as the oracle's route (a), oracle/orc_route_a.c (the MPFR instance,
 *     oracle/ga_diff_mpfr.h);
 *   - ridders: Ridders' extrapolated central differences in double, with
 *     the loss's rounding error added to the estimate.
 * An entry that FAILs against them gets the loss's one-sided slopes from the
 * same reference, and is `kink' when they differ and hold its value
 * (kink_verdict).
 */
#ifdef __linux__
#define _DEFAULT_SOURCE /* syscall(SYS_gettid): the caller's thread id */
#endif
#include <assert.h>
#include <dirent.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "ga_check.h"
#include "ga_diff.h"
#include "ga_diff_mpfr.h"
#include "ga_lib.h"
#include "ga_random.h"
#include "gradaudit.h"

#define ORACLE_GAP 64          /* second precision of the error estimate: p + GAP */
#define ORACLE_NTAB GA_DIFF_NTAB_CALLBACK /* rows of the MPFR tableau (reason: core/ga_diff.h) */
#define NOISE_FACTOR 16.0      /* noise model: bound = 16 x measured deviation (calibrated) */
#define RIDDERS_FACTOR 2.0     /* Ridders: reference bound = 2 x its estimate (calibrated) */
#define LOSS_AGREE_REL 0x1p-36 /* loss_mpfr vs loss: relative allowance (see loss_agreement) */
#define LOSS_AGREE_NOISE 0x1p10 /* ... and this many times the double loss's measured noise */
#define RESOLVE_DIRS 4         /* random directions of mpfr_resolves */
#define RESOLVE_EXP 70         /* its MPFR move: 2^-70 of each parameter's leading bit */
#define RESOLVE_H 0x1p-24      /* its double steps: 2^-24 and 2^-26 of each leading bit */
#define NONDET_RERUNS 2        /* reruns of the gradient at theta, compared bit for bit */
#define BUFFER_MATCH 0x1p-30   /* grad_buffer: "equal" within 2^-30 (|P_i| + |F_i|) */

/* The report behind gradaudit.h's opaque type: the checker's report (its
 * verdicts, groups and CSV writer), the whole names, and the public views the
 * accessors hand out. */
struct gradaudit_report {
    ga_check_report r;             /* entries' names there are cut at 39 bytes, groups' at 23 */
    gradaudit_reference reference; /* the one used: ORACLE or RIDDERS */
    gradaudit_tol_model tol_model;
    char model[512];               /* one sentence: reference and tolerance model */
    size_t roundings;              /* bound model: n of gamma_n; else 0 */
    size_t noise_points;           /* noise model: perturbed points used */
    unsigned unsettled;            /* oracle entries not settled at max_prec (bound kept) */
    long max_prec_used;            /* oracle: largest precision reached */
    size_t loss_evals, loss_mpfr_evals, grad_evals;
    size_t nondeterministic;       /* entries not bit-identical in a rerun at theta */
    double nondet_max_change;
    int loss_nonfinite;            /* the double loss at theta is NaN or Inf */
    size_t grad_nonfinite;         /* entries of the gradient at theta that are NaN or Inf */
    gradaudit_buffer grad_buffer;  /* what the gradient did with a pre-filled buffer */
    int grad_buffer_ok;
    char grad_buffer_note[256];
    char *names;                   /* every entry's and group's whole name, NUL-terminated */
    size_t *name_off;              /* (n) entry i's name at names + name_off[i] */
    size_t *group_off;             /* (n) group g's name at names + group_off[g] */
    const char **name_ptr;         /* (n) entry i's name, for the CSV */
    gradaudit_entry *entries;      /* (n) the public view of r.entries */
    gradaudit_group *groups;       /* (n) the public view of r.layers (n_layers used) */
    gradaudit_summary summary;
};

void gradaudit_options_default(gradaudit_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->reference = GRADAUDIT_REF_AUTO;
    opt->seed = 20261122;
    opt->noise_points = 8;
    opt->noise_ulps = 4;
    opt->top_k = 10;
    opt->start_prec = 128;
    opt->max_prec = 4096;
    opt->ignore_bound = 0;
}

const char *gradaudit_strerror(int status)
{
    if (status == GRADAUDIT_EINTERNAL) /* the checks' GA_EFAIL, as the library reports it */
        return "internal error: gradaudit's oracle and its proven enclosure disagree";
    return ga_strerror(status);
}

/* ---- the run's state ------------------------------------------------------ */
typedef struct {
    const gradaudit_problem *p;
    gradaudit_options opt;
    gradaudit_report *rep;
    ga_error *err;
    size_t n;
    double *theta;   /* (n) private copy of the point, perturbed in place */
    double *g;       /* (n) analytic gradient at theta */
    double *gk;      /* (n) gradient at a perturbed point; bound model: S_i */
    double *bound;   /* (n) error bound of the analytic value */
    double *ref;     /* (n) reference value */
    double *ref_err; /* (n) bound on |exact - ref| */
    double *buf;     /* one allocation behind the six arrays above */
    unsigned char *unsettled; /* (n) 1: the oracle did not settle entry i at max_prec */
    char *namebuf;   /* GRADAUDIT_NAME_MAX bytes for the name callback */
    char *names;     /* the name store, the report's once the check ran */
    size_t names_len, names_cap;
    double loss0;
    double loss_eps; /* estimate of the double loss's rounding error */
    gradaudit_step_fn step; /* gradaudit_check_step: the code under test, instead of p->grad */
    double lr;              /* its learning rate */
    double *stepped;        /* (2n, step only) theta after one step, then the inference's
                             * error bound per entry (extra) */
    double *extra;
    double *dir_dev;        /* (n, noise model) each entry's largest change in a directed
                             * rounding mode alone (jump_screen) */
} run;

static const char *entry_name(const run *s, size_t i)
{
    return s->names + s->rep->name_off[i];
}

static int call_loss(run *s, double *out, const char *where, size_t i)
{
    s->rep->loss_evals++;
    double v = NAN;
    int rc = s->p->loss(&v, s->theta, s->n, s->p->user);
    if (rc != 0)
        return ga_fail(s->err, GA_ECALLBACK, "gradaudit: loss callback returned %d %s%s", rc, where,
                       i < s->n ? entry_name(s, i) : "");
    if (!isfinite(v))
        return ga_fail(s->err, GA_ENONFINITE, "gradaudit: loss callback gave %s %s%s",
                       isnan(v) ? "NaN" : "Inf", where, i < s->n ? entry_name(s, i) : "");
    *out = v;
    return GA_OK;
}

/* The gradient into out (n), zeroed first: a gradient that accumulates into
 * its buffer gives the same as one that writes it (gradaudit.h). */
static int call_grad(run *s, double *out, const char *where)
{
    memset(out, 0, s->n * sizeof *out);
    s->rep->grad_evals++;
    if (s->step) { /* the gradient the step took: (theta - theta') / lr */
        memcpy(s->stepped, s->theta, s->n * sizeof *s->stepped);
        int rc = s->step(s->stepped, s->n, s->lr, s->p->user);
        if (rc != 0)
            return ga_fail(s->err, GA_ECALLBACK, "gradaudit: step callback returned %d %s", rc,
                           where);
        for (size_t i = 0; i < s->n; i++)
            out[i] = (s->theta[i] - s->stepped[i]) / s->lr;
        return GA_OK;
    }
    int rc = s->p->grad(out, s->theta, s->n, s->p->user);
    if (rc != 0)
        return ga_fail(s->err, GA_ECALLBACK, "gradaudit: gradient callback returned %d %s", rc,
                       where);
    return GA_OK;
}

/* The loss at theta: a NaN or Inf there is a finding of the report
 * (loss_nonfinite), not an error as at every other point. */
static int loss_at_theta(run *s)
{
    s->rep->loss_evals++;
    double v = NAN;
    int rc = s->p->loss(&v, s->theta, s->n, s->p->user);
    if (rc != 0)
        return ga_fail(s->err, GA_ECALLBACK, "gradaudit: loss callback returned %d at theta", rc);
    s->loss0 = v;
    s->rep->loss_nonfinite = !isfinite(v);
    return GA_OK;
}

/* ---- argument checks ------------------------------------------------------ */
static int check_problem(ga_error *err, const gradaudit_problem *p, const gradaudit_options *o,
                         gradaudit_step_fn step, double lr)
{
    if (!p)
        return ga_fail(err, GA_EINVAL, "gradaudit: problem is NULL");
    if (p->n == 0)
        return ga_fail(err, GA_EINVAL, "gradaudit: problem.n is 0: nothing to check");
    if (!p->theta)
        return ga_fail(err, GA_EINVAL, "gradaudit: problem.theta is NULL");
    if (!p->loss)
        return ga_fail(err, GA_EINVAL, "gradaudit: problem.loss (the double loss callback) is NULL");
    if (!p->grad && !step)
        return ga_fail(err, GA_EINVAL, "gradaudit: problem.grad (the gradient under test) is NULL");
    if (step && (!(lr > 0) || !isfinite(lr) ||
                 (o->float32 && ga_round_to(GA_PREC_FLOAT32, lr) != lr)))
        return ga_fail(err, GA_EINVAL, "gradaudit_check_step: lr = %.17g: need a finite lr > 0%s", lr,
                       o->float32 ? " that is a float32 number (options.float32)" : "");
    if (step && o->grad_buffer != GRADAUDIT_BUFFER_UNCHECKED)
        return ga_fail(err, GA_EINVAL, "gradaudit_check_step: options.grad_buffer: a step has no "
                       "gradient buffer to check");
    if (o->reference == GRADAUDIT_REF_ORACLE && !p->loss_mpfr)
        return ga_fail(err, GA_EINVAL,
                       "gradaudit: reference 'oracle' needs problem.loss_mpfr, which is NULL");
    if ((unsigned)o->grad_buffer > GRADAUDIT_BUFFER_ACCUMULATE)
        return ga_fail(err, GA_EINVAL,
                       "gradaudit: options.grad_buffer %d: need UNCHECKED, OVERWRITE or ACCUMULATE",
                       (int)o->grad_buffer);
    if ((unsigned)o->reference > GRADAUDIT_REF_RIDDERS)
        return ga_fail(err, GA_EINVAL, "gradaudit: unknown reference %d", (int)o->reference);
    if (o->start_prec < 53 || o->max_prec < o->start_prec || o->max_prec > (1L << 20))
        return ga_fail(err, GA_EINVAL,
                       "gradaudit: precisions start %ld, max %ld: need 53 <= start <= max <= 2^20 bits",
                       o->start_prec, o->max_prec);
    if (o->noise_points == 0 || o->noise_points > 1000 || o->noise_ulps == 0 || o->noise_ulps > 1u << 20)
        return ga_fail(err, GA_EINVAL,
                       "gradaudit: noise_points %zu, noise_ulps %u: need 1..1000 points, 1..2^20 ulps",
                       o->noise_points, o->noise_ulps);
    /* every byte the check holds per entry, refused above core's memory cap
     * before theta (n) is read */
    const size_t per = sizeof(ga_check_entry) + sizeof(ga_check_layer) + sizeof(gradaudit_entry) +
                       sizeof(gradaudit_group) + 4 * sizeof(size_t) + 6 * sizeof(double) + 16;
    if (p->n > GA_DEFAULT_MEMORY_CAP / per)
        return ga_fail(err, GA_ENOMEM,
                       "gradaudit: problem.n = %zu needs more than the %zu-byte memory cap", p->n,
                       (size_t)GA_DEFAULT_MEMORY_CAP);
    for (size_t i = 0; i < p->n; i++)
        if (!isfinite(p->theta[i]))
            return ga_fail(err, GA_ENONFINITE, "gradaudit: problem.theta[%zu] is %s", i,
                           isnan(p->theta[i]) ? "NaN" : "Inf");
    for (size_t i = 0; i < p->n && o->float32; i++)
        if (ga_round_to(GA_PREC_FLOAT32, p->theta[i]) != p->theta[i])
            return ga_fail(err, GA_EINVAL,
                           "gradaudit: options.float32: problem.theta[%zu] = %.17g is not a float32 "
                           "number (give (double)(float) of it, the value the float code sees)",
                           i, p->theta[i]);
    return GA_OK;
}

/* ---- report allocation ---------------------------------------------------- */
void gradaudit_report_free(gradaudit_report *rep)
{
    if (!rep)
        return;
    free(rep->r.entries);
    free(rep->r.layers);
    free(rep->r.top);
    free(rep->names);
    free(rep->name_off);
    free(rep->group_off);
    free(rep->name_ptr);
    free(rep->entries);
    free(rep->groups);
    free(rep);
}

static int alloc_run(run *s, ga_error *err, size_t n, size_t top_k)
{
    /* GA_ENOMEM returned as such (not through ga_fail's value, which gcc
     * -fanalyzer cannot see is nonzero: it then follows rep == NULL on) */
    gradaudit_report *rep = calloc(1, sizeof *rep);
    if (!rep) {
        ga_fail(err, GA_ENOMEM, "gradaudit: out of memory for the report");
        return GA_ENOMEM;
    }
    size_t nt = top_k < n ? top_k : n;
    rep->r.entries = calloc(n, sizeof *rep->r.entries);
    rep->r.layers = calloc(n, sizeof *rep->r.layers);
    rep->r.top = nt ? calloc(nt, sizeof *rep->r.top) : NULL;
    /* 16 bytes a name before the store grows: "theta[1234567]" fits */
    s->names_cap = 16 * n + 64;
    s->names = malloc(s->names_cap);
    rep->name_off = malloc(n * sizeof *rep->name_off);
    rep->group_off = malloc(n * sizeof *rep->group_off);
    rep->name_ptr = malloc(n * sizeof *rep->name_ptr);
    rep->entries = calloc(n, sizeof *rep->entries);
    rep->groups = calloc(n, sizeof *rep->groups);
    s->buf = malloc(6 * n * sizeof *s->buf);
    s->namebuf = malloc(GRADAUDIT_NAME_MAX);
    s->unsettled = calloc(n, 1);
    if (!rep->r.entries || !rep->r.layers || (nt && !rep->r.top) || !s->names ||
        !rep->name_off || !rep->group_off || !rep->name_ptr || !rep->entries || !rep->groups ||
        !s->buf || !s->namebuf || !s->unsettled) {
        gradaudit_report_free(rep);
        free(s->buf);
        free(s->namebuf);
        free(s->names);
        free(s->unsettled);
        s->buf = NULL;
        s->namebuf = NULL;
        s->names = NULL;
        s->unsettled = NULL;
        return ga_fail(err, GA_ENOMEM, "gradaudit: out of memory for %zu entries", n);
    }
    s->rep = rep;
    s->theta = s->buf;
    s->g = s->buf + n;
    s->gk = s->buf + 2 * n;
    s->bound = s->buf + 3 * n;
    s->ref = s->buf + 4 * n;
    s->ref_err = s->buf + 5 * n;
    return GA_OK;
}

/* ---- names and groups ----------------------------------------------------- */
/* Room for more bytes at the end of the name store (pointers into it move). */
static int reserve_names(run *s, size_t more)
{
    if (more <= s->names_cap - s->names_len)
        return GA_OK;
    size_t cap = s->names_cap;
    while (cap - s->names_len < more) {
        if (cap > GA_DEFAULT_MEMORY_CAP / 2)
            return ga_fail(s->err, GA_ENOMEM,
                           "gradaudit: the entries' names need more than the %zu-byte memory cap",
                           (size_t)GA_DEFAULT_MEMORY_CAP);
        cap *= 2;
    }
    char *p = realloc(s->names, cap);
    if (!p)
        return ga_fail(s->err, GA_ENOMEM, "gradaudit: out of memory for the names of %zu entries",
                       s->n);
    s->names = p;
    s->names_cap = cap;
    return GA_OK;
}

/* Appends str (len bytes, not inside the store) and a NUL; *off receives its offset. */
static int store_name(run *s, size_t *off, const char *str, size_t len)
{
    int status = reserve_names(s, len + 1);
    if (status)
        return status;
    memcpy(s->names + s->names_len, str, len);
    s->names[s->names_len + len] = '\0';
    *off = s->names_len;
    s->names_len += len + 1;
    return GA_OK;
}

/* Entry i's name from the callback into s->namebuf, *len its length: asked
 * again with a 4 times larger buffer while it fills the buffer (it may have
 * been cut), up to GRADAUDIT_NAME_MAX bytes. */
static int name_from_callback(run *s, size_t *len, size_t i)
{
    const gradaudit_problem *p = s->p;
    for (size_t size = 256;; size *= 4) {
        if (size > GRADAUDIT_NAME_MAX)
            size = GRADAUDIT_NAME_MAX;
        s->namebuf[0] = '\0';
        int rc = p->name(s->namebuf, size, i, p->user);
        if (rc != 0)
            return ga_fail(s->err, GA_ECALLBACK, "gradaudit: name callback returned %d for entry %zu",
                           rc, i);
        s->namebuf[size - 1] = '\0';
        *len = strlen(s->namebuf);
        if (*len < size - 1)
            return GA_OK;
        if (size == GRADAUDIT_NAME_MAX)
            return ga_fail(s->err, GA_ERANGE,
                           "gradaudit: name callback filled all %d bytes for entry %zu: a name must "
                           "be shorter than GRADAUDIT_NAME_MAX", GRADAUDIT_NAME_MAX, i);
    }
}

static int fill_names(run *s)
{
    const gradaudit_problem *p = s->p;
    gradaudit_report *rep = s->rep;
    for (size_t i = 0; i < s->n; i++) {
        ga_check_entry *e = &rep->r.entries[i];
        e->index = i;
        const char *name = NULL;
        size_t len = 0;
        char deflt[32];
        if (p->name) {
            int status = name_from_callback(s, &len, i);
            if (status)
                return status;
            name = s->namebuf;
        } else if (p->names && p->names[i]) {
            name = p->names[i];
            len = strlen(name);
        }
        if (len == 0) {
            len = (size_t)snprintf(deflt, sizeof deflt, "theta[%zu]", i);
            name = deflt;
        }
        int status = store_name(s, &rep->name_off[i], name, len);
        if (status)
            return status;
        snprintf(e->name, sizeof e->name, "%s", name); /* the checker's copy: cut */
    }
    /* groups: maximal runs of entries whose names share the text before '[' */
    ga_check_report *r = &rep->r;
    size_t ng = 0;
    for (size_t i = 0; i < s->n; i++) {
        ga_check_entry *e = &r->entries[i];
        size_t len = strcspn(entry_name(s, i), "[");
        if (ng == 0 || strncmp(s->names + rep->group_off[ng - 1], entry_name(s, i), len) != 0 ||
            s->names[rep->group_off[ng - 1] + len] != '\0') {
            int status = reserve_names(s, len + 1);
            if (status)
                return status;
            /* the entry's name is in the store: copied from there after it moved */
            memcpy(s->names + s->names_len, entry_name(s, i), len);
            s->names[s->names_len + len] = '\0';
            rep->group_off[ng] = s->names_len;
            s->names_len += len + 1;
            size_t cut = len < sizeof r->layers[ng].name ? len : sizeof r->layers[ng].name - 1;
            memcpy(r->layers[ng].name, entry_name(s, i), cut);
            r->layers[ng].name[cut] = '\0';
            ng++;
        }
        e->view = ng - 1;
    }
    r->n_layers = ng;
    return GA_OK;
}

/* ---- the analytic value's error bound --------------------------------------- */
/* Bound model: |computed - exact| <= gamma_n S_i (Higham, Lemma 3.1; the
 * user's pass on absolute values gives S_i and n). */
/* The precision the gradient code computes in (options.float32). */
static ga_precision code_prec(const run *s)
{
    return s->opt.float32 ? GA_PREC_FLOAT32 : GA_PREC_FLOAT64;
}

static int bound_model(run *s)
{
    size_t nr = 0;
    int rc = s->p->grad_bound(s->gk, &nr, s->theta, s->n, s->p->user);
    if (rc != 0)
        return ga_fail(s->err, GA_ECALLBACK, "gradaudit: grad_bound callback returned %d at theta", rc);
    double u = ga_precision_u(code_prec(s));
    if (nr == 0 || (double)nr * u >= 0.5)
        return ga_fail(s->err, GA_EINVAL, "gradaudit: grad_bound gave %zu roundings: need 1 <= n < %s",
                       nr, s->opt.float32 ? "2^23 (float32)" : "2^52");
    double gamma = (double)nr * u / (1.0 - (double)nr * u);
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->gk[i]) || s->gk[i] < 0)
            return ga_fail(s->err, isfinite(s->gk[i]) ? GA_EINVAL : GA_ENONFINITE,
                           "gradaudit: grad_bound gave S = %g for %s: need a finite S >= 0", s->gk[i],
                           entry_name(s, i));
        /* the multiplication by gamma is rounded up by one more relative u */
        s->bound[i] = gamma * s->gk[i] * (1 + 2 * GA_U);
    }
    s->rep->tol_model = GRADAUDIT_TOL_BOUND;
    s->rep->roundings = nr;
    s->rep->r.gamma_n = nr;
    s->rep->r.gamma = gamma;
    return GA_OK;
}

/* theta_j moved by 1..max_ulps ulps (float32 ulps with float32 set: theta_j
 * is then a float32 number and stays one) in a random direction, for every j. */
static void perturb(double *t, const double *theta, size_t n, unsigned max_ulps, int float32,
                    uint64_t *st)
{
    for (size_t j = 0; j < n; j++) {
        uint64_t r = ga_splitmix64(st); /* the noise-floor perturbations */
        unsigned m = 1 + (unsigned)((r >> 1) % max_ulps);
        double dir = (r & 1) ? INFINITY : -INFINITY, v = theta[j];
        for (unsigned k = 0; k < m; k++)
            v = float32 ? (double)nextafterf((float)v, (float)dir) : nextafter(v, dir);
        t[j] = isfinite(v) ? v : theta[j];
    }
}

/* The directed rounding modes the noise model reruns the user's code in. */
const int ga_lib_directed_modes[] = {
#ifdef FE_UPWARD
    FE_UPWARD,
#endif
#ifdef FE_DOWNWARD
    FE_DOWNWARD,
#endif
#ifdef FE_TOWARDZERO
    FE_TOWARDZERO,
#endif
    -1};

/* Noise model, for gradient code that gives no bound of its own.
 * Two measurements of the size of the analytic value's rounding error:
 * (1) the user's gradient rerun with every arithmetic operation rounded
 *     upward, downward and toward zero (Kahan, "How futile are mindless
 *     assessments of roundoff in floating-point computation?", 2006): under a
 *     directed mode every local error has the same sign, so the deviation
 *     from the round-to-nearest run is about half of the sum of the local
 *     errors' magnitudes, i.e. about half the running bound gamma_n M of
 *     Higham's analysis, which bounds the round-to-nearest error;
 * (2) the user's gradient at K points where every parameter moved by a few
 *     ulps: the rounding errors are redrawn while the exact gradient moves
 *     by H delta, itself of the order of the rounding errors.
 * Neither measurement is a bound: directed errors cancel in differences
 * (1 - p of a saturated sigmoid: rounding 1 + e up then 1/(1 + e) up moves
 * the result less than one round-to-nearest error can), and a few-ulp move
 * may leave the rounding pattern unchanged. So the factor on the larger of
 * the two is calibrated, not derived: against the MPFR oracle on 64,000
 * entries of random two-layer tanh/sigmoid perceptrons (weights 0.1 to 10,
 * examples/mlp.c), the largest |analytic - exact| seen was 8.0 times the
 * measurement; the factor is twice that, 16. The floor is 2 ulps of the
 * analytic value (one rounding of the value, one of the reference).
 * Library functions (exp, tanh) keep their round-to-nearest accuracy in
 * every mode. grad_bound (the bound model) is the rigorous path. The same
 * runs give the double loss's noise, used by Ridders' rounding term. */
/* One measurement of noise_model: the loss lk and the gradient s->gk of a
 * perturbed run widen the loss's noise *leps and each entry's s->bound by
 * their deviation from the round-to-nearest run. A non-finite deviation says
 * nothing about rounding: skipped. */
static void widen_noise(run *s, double lk, double *leps)
{
    if (fabs(lk - s->loss0) > *leps)
        *leps = fabs(lk - s->loss0);
    for (size_t i = 0; i < s->n; i++) {
        double d = fabs(s->gk[i] - s->g[i]);
        if (isfinite(d) && d > s->bound[i])
            s->bound[i] = d;
    }
}

/* On-CPU time of each thread of this process but the caller's (Linux's
 * /proc/self/task/TID/schedstat, nanoseconds), up to cap threads; the count,
 * 0 when unknown. */
#define MAX_TASKS 256
typedef struct {
    long tid;
    unsigned long long ns;
} task_time;

static size_t other_task_times(task_time *t, size_t cap)
{
#ifdef __linux__
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return 0;
    long self = (long)syscall(SYS_gettid);
    size_t n = 0;
    struct dirent *de;
    while (n < cap && (de = readdir(dir))) {
        char *end;
        long tid = strtol(de->d_name, &end, 10);
        if (*end || tid <= 0 || tid == self)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fscanf(f, "%llu", &t[n].ns) == 1)
            t[n++].tid = tid;
        fclose(f);
    }
    closedir(dir);
    return n;
#else
    (void)t;
    (void)cap;
    return 0;
#endif
}

/* 1 when a thread other than the caller's ran between the two snapshots */
static int others_ran(const task_time *a, size_t na, const task_time *b, size_t nb)
{
    for (size_t j = 0; j < nb; j++) {
        int seen = 0;
        for (size_t i = 0; i < na && !seen; i++)
            if (a[i].tid == b[j].tid) {
                seen = 1;
                if (b[j].ns > a[i].ns)
                    return 1;
            }
        if (!seen) /* started during the call: it inherited the mode (POSIX), but ran */
            return 1;
    }
    return 0;
}

/* The directed modes' assumption, checked where it visibly fails: a mode set
 * here reaches only this thread and threads it starts afterwards (POSIX
 * threads inherit the floating-point environment), not a pool started before
 * (OpenMP's), so entries computed there never move while the others do, and
 * their noise goes unmeasured. Refused when another thread of the process ran
 * during a directed-mode call of the gradient (its on-CPU time grew) and some
 * nonzero entries moved in no mode while others moved. (An entry computed
 * exactly also stays put: with a busy unrelated thread such code is refused
 * too; the message names the way out.) On entry s->bound holds each entry's
 * largest directed-mode deviation. */
static int directed_modes_reached(run *s, int workers_ran)
{
    size_t moved = 0, still = 0, first = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->g[i]) || s->g[i] == 0)
            continue;
        if (s->bound[i] > 0)
            moved++;
        else if (!still++)
            first = i;
    }
    if (!moved || !still || !workers_ran)
        return GA_OK;
    return ga_fail(s->err, GA_EINVAL,
                   "gradaudit: the noise model cannot measure this gradient: %zu of its %zu nonzero "
                   "entries (the first %s) did not move in any directed rounding mode while %zu "
                   "did, and other threads ran during the gradient: a rounding mode set by the "
                   "calling thread does not reach a worker pool started before it (OpenMP's), "
                   "whose entries would get no measured noise. Run the gradient on one thread "
                   "(OMP_NUM_THREADS=1), give grad_bound (the bound model), or check an op "
                   "gradaudit knows with gradaudit_check_op, whose tolerance holds for any thread "
                   "count",
                   still, moved + still, entry_name(s, first), moved);
}

/* The noise model's bound of entry i from its largest measured change dev:
 * NOISE_FACTOR dev, at least 2 ulps of the analytic value (float32 ulps with
 * float32 set); NaN for a non-finite analytic value. */
static double noise_bound(const run *s, size_t i, double dev)
{
    double ulp2 = 2 * ga_ulp_in(code_prec(s), s->g[i]);
    double b = NOISE_FACTOR * dev;
    return isfinite(s->g[i]) ? (b > ulp2 ? b : ulp2) : NAN;
}

static int noise_model(run *s, const double *theta0)
{
    for (size_t i = 0; i < s->n; i++)
        s->bound[i] = 0;
    double leps = 0;
    char where[96];
    int saved = fegetround();
    int workers_ran = 0;
    for (int m = 0; ga_lib_directed_modes[m] >= 0; m++) {
        snprintf(where, sizeof where, "in directed rounding mode %d", m);
        task_time before[MAX_TASKS], after[MAX_TASKS];
        size_t nb = other_task_times(before, MAX_TASKS);
        fesetround(ga_lib_directed_modes[m]);
        int status = call_grad(s, s->gk, where);
        workers_ran |= others_ran(before, nb, after, other_task_times(after, MAX_TASKS));
        double lk = s->loss0;
        if (!status)
            status = call_loss(s, &lk, where, (size_t)-1);
        fesetround(saved);
        if (status)
            return status;
        widen_noise(s, lk, &leps);
    }
    int status = directed_modes_reached(s, workers_ran);
    if (status)
        return status;
    if (s->dir_dev)
        memcpy(s->dir_dev, s->bound, s->n * sizeof *s->dir_dev);
    uint64_t st = s->opt.seed;
    for (size_t k = 0; k < s->opt.noise_points; k++) {
        perturb(s->theta, theta0, s->n, s->opt.noise_ulps, s->opt.float32, &st);
        snprintf(where, sizeof where, "at noise point %zu (seed %llu)", k,
                 (unsigned long long)s->opt.seed);
        status = call_grad(s, s->gk, where);
        if (status)
            return status;
        double lk;
        status = call_loss(s, &lk, where, (size_t)-1);
        if (status)
            return status;
        widen_noise(s, lk, &leps);
    }
    memcpy(s->theta, theta0, s->n * sizeof *s->theta);
    for (size_t i = 0; i < s->n; i++)
        s->bound[i] = noise_bound(s, i, s->bound[i]);
    s->loss_eps = leps;
    s->rep->tol_model = GRADAUDIT_TOL_NOISE;
    s->rep->noise_points = s->opt.noise_points;
    return GA_OK;
}

/* Double loss noise without the noise model: the same reruns, loss only. */
static int loss_noise(run *s, const double *theta0)
{
    uint64_t st = s->opt.seed;
    double leps = 0;
    int saved = fegetround();
    for (int m = 0; ga_lib_directed_modes[m] >= 0; m++) {
        double lk = s->loss0;
        fesetround(ga_lib_directed_modes[m]);
        int status = call_loss(s, &lk, "in a directed rounding mode", (size_t)-1);
        fesetround(saved);
        if (status)
            return status;
        if (fabs(lk - s->loss0) > leps)
            leps = fabs(lk - s->loss0);
    }
    for (size_t k = 0; k < s->opt.noise_points; k++) {
        perturb(s->theta, theta0, s->n, s->opt.noise_ulps, s->opt.float32, &st);
        double lk;
        int status = call_loss(s, &lk, "at a loss noise point", (size_t)-1);
        if (status)
            return status;
        if (fabs(lk - s->loss0) > leps)
            leps = fabs(lk - s->loss0);
    }
    memcpy(s->theta, theta0, s->n * sizeof *s->theta);
    s->loss_eps = leps;
    return GA_OK;
}

/* ---- reference 1: Ridders in double ---------------------------------------- */
/* The double loss's error: its measured noise, at least 2 roundings of |L|. */
static double loss_err(const run *s)
{
    return s->loss_eps > 2 * GA_U * fabs(s->loss0) ? s->loss_eps : 2 * GA_U * fabs(s->loss0);
}

/* The objective of core/ga_diff.h: the loss with theta_i = t, each value off
 * by at most eps (the loss's noise); a failing callback's status stops the
 * difference and its message names the side and the entry. */
typedef struct {
    run *s;
    size_t i;
    double t0, eps;
} entry_fn;

static int loss_at(double *fx, double *fx_err, double t, void *p)
{
    entry_fn *e = p;
    e->s->theta[e->i] = t;
    int status = call_loss(e->s, fx, t >= e->t0 ? "at theta + h e_i for " : "at theta - h e_i for ",
                           e->i);
    e->s->theta[e->i] = e->t0;
    *fx_err = e->eps;
    return status;
}

/* One Ridders tableau (core/ga_diff.h) from the first step h: *ans, its
 * estimate *errb (the tableau's: max distance to the two entries it came
 * from), and the loss-noise bound *rnd of that entry (eps per loss value
 * carried through the weights). Rows are the central differences with the
 * step actually taken (theta +- h rounded); their noise is taken as eps / h,
 * h the nominal step. */
static int ridders_from(double *ans, double *errb, double *rnd, run *s, size_t i, double h,
                        double eps)
{
    entry_fn e = {s, i, s->theta[i], eps};
    ga_diff_fn fn = {loss_at, &e};
    ga_diff_tableau t;
    ga_diff_tableau_init(&t, GA_DIFF_NTAB, GA_DIFF_CON * GA_DIFF_CON, GA_DIFF_SAFE);
    for (;; h /= GA_DIFF_CON) {
        double d, hd;
        int status = ga_diff_quotient(&d, &hd, &fn, e.t0, h);
        if (status)
            return status;
        /* (L(t+h) - L(t-h)) / 2h with |error of each L| <= eps */
        if (ga_diff_tableau_add(&t, d, eps / h))
            break;
    }
    *ans = t.ans;
    *errb = t.best;
    *rnd = t.ans_round;
    return GA_OK;
}

/* Ridders on entry i from n >= 2 first steps h0, h0 / 8, ...: side 0
 * central (ridders_from), +1 / -1 one-sided to the right / left
 * (core/ga_diff.h's ga_diff_ridders: steps halve, error in h). A first step
 * too large for the scale on which the loss bends gives a poor tableau whose
 * estimate can be too small, so the estimates are cross-examined: the result
 * *ans is the one with the smallest total estimate E = 4 errb + round (4:
 * the safety factor oracle/ uses on a tableau estimate; round: the loss's
 * noise carried through the tableau's weights exactly), *errb its tableau's
 * estimate, *excess how far another start contradicts it, *rnd its round. */
static int ridders_starts(double *ans_out, double *errb_out, double *excess_out, double *rnd_out,
                          run *s, size_t i, int side, double h0, size_t n)
{
    assert(n >= 2 && n <= GA_DIFF_H_STARTS);
    double eps = loss_err(s);
    double ans[GA_DIFF_H_STARTS] = {0}, errb[GA_DIFF_H_STARTS] = {0}, rnd[GA_DIFF_H_STARTS] = {0},
           tot[GA_DIFF_H_STARTS] = {0};
    entry_fn ef = {s, i, s->theta[i], eps};
    ga_diff_fn fn = {loss_at, &ef};
    size_t best = 0;
    for (size_t k = 0; k < n; k++, h0 /= GA_DIFF_H_START_SHRINK) {
        ga_diff_result r;
        int status = side == 0 ? ridders_from(&ans[k], &errb[k], &rnd[k], s, i, h0, eps)
                               : ga_diff_ridders(&r, &fn, ef.t0, h0, side);
        if (status)
            return status;
        if (side != 0) {
            ans[k] = r.value;
            errb[k] = r.trunc;
            rnd[k] = r.round;
        }
        tot[k] = 4 * errb[k] + rnd[k];
        if (tot[k] < tot[best])
            best = k;
    }
    /* two starts whose intervals ans +- E do not overlap: one estimate is
     * dishonest and which one is unknown; the exact value lies within E_k of
     * ans_k if start k is the honest one, so the chosen result's error is at
     * most |ans_k - ans_best| + E_k. */
    double excess = 0;
    size_t second = best == 0 ? 1 : 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs(ans[k] - ans[best]);
        if (d > tot[k] + tot[best] && d + tot[k] - tot[best] > excess)
            excess = d + tot[k] - tot[best];
        if (k != best && tot[k] < tot[second])
            second = k;
    }
    /* and at least the distance to the next best start's result: two
     * extrapolations from different steps, a direct sample of the error */
    if (fabs(ans[second] - ans[best]) - tot[best] > excess)
        excess = fabs(ans[second] - ans[best]) - tot[best];
    *ans_out = ans[best];
    *errb_out = errb[best];
    *excess_out = excess;
    *rnd_out = rnd[best];
    return GA_OK;
}

/* The Ridders reference: ridders_starts, central, from GA_DIFF_H_STARTS
 * first steps 0.1 s, 0.1 s / 8, ... (s = max(|theta_i|, 1)). */
static int ridders(run *s, ga_check_entry *e, size_t i)
{
    double ans, errb, excess, rnd;
    int status = ridders_starts(&ans, &errb, &excess, &rnd, s, i, 0,
                                GA_DIFF_H_FIRST_START * ga_diff_scale(s->theta[i]), GA_DIFF_H_STARTS);
    if (status)
        return status;
    e->fd = ans;
    e->fd_trunc = 4 * errb + excess;
    e->fd_round = rnd;
    s->ref[i] = ans;
    /* against the oracle on 64,000 entries (see noise_model) the largest
     * |fd - exact| was 0.68 of fd_trunc + fd_round, and 1.1 of the total
     * tolerance in a 96,000-entry soak before this factor: 2 keeps a margin */
    s->ref_err[i] = RIDDERS_FACTOR * (e->fd_trunc + e->fd_round);
    return GA_OK;
}

/* Entry i's one-sided slope (side +1 / -1: right / left, a kink's; see
 * kink_verdict) on the double loss: ridders_starts from the first steps
 * 8 GA_DIFF_H_ONE_SIDED s and GA_DIFF_H_ONE_SIDED s (their reason:
 * core/ga_diff.h). *d, its error estimate *est = errb +
 * excess + round (the tableau's estimate, widened by the starts'
 * contradiction, and the loss's noise through its weights), and its error
 * bound *b formed as the central reference's: RIDDERS_FACTOR x (4 errb +
 * excess + round). */
static int ridders_one_sided(double *d, double *est, double *b, run *s, size_t i, int side)
{
    double errb, excess, rnd;
    double h0 = GA_DIFF_H_START_SHRINK * GA_DIFF_H_ONE_SIDED * ga_diff_scale(s->theta[i]);
    int status = ridders_starts(d, &errb, &excess, &rnd, s, i, side, h0, GA_DIFF_H_ONE_SIDED_STARTS);
    if (status)
        return status;
    *est = errb + excess + rnd;
    *b = RIDDERS_FACTOR * (4 * errb + excess + rnd);
    return GA_OK;
}

/* ---- reference 2: the MPFR oracle ------------------------------------------ */
typedef struct {
    __mpfr_struct *th;       /* (n) the parameters, exact */
    mpfr_t f0, f0hi, fp, fm, eps, ans, errb, et, tot, s1, s2, lo, hi, h;
    mpfr_t tab[ORACLE_NTAB][ORACLE_NTAB];
    int inited;
} oracle_ws;

static void oracle_free(oracle_ws *w, size_t n)
{
    if (w->th) {
        for (size_t j = 0; j < n; j++)
            mpfr_clear(w->th + j);
        free(w->th);
        w->th = NULL;
    }
    if (w->inited) {
        mpfr_clears(w->f0, w->f0hi, w->fp, w->fm, w->eps, w->ans, w->errb, w->et, w->tot, w->s1,
                    w->s2, w->lo, w->hi, w->h, (mpfr_ptr)0);
        for (int a = 0; a < ORACLE_NTAB; a++)
            for (int b = 0; b < ORACLE_NTAB; b++)
                mpfr_clear(w->tab[a][b]);
        w->inited = 0;
    }
}

static int oracle_alloc(oracle_ws *w, run *s)
{
    memset(w, 0, sizeof *w);
    w->th = malloc(s->n * sizeof *w->th);
    if (!w->th)
        return ga_fail(s->err, GA_ENOMEM, "gradaudit: out of memory for %zu MPFR parameters", s->n);
    for (size_t j = 0; j < s->n; j++) {
        mpfr_init2(w->th + j, 53);
        mpfr_set_d(w->th + j, s->theta[j], MPFR_RNDN);
    }
    mpfr_inits2(53, w->f0, w->f0hi, w->fp, w->fm, w->eps, w->ans, w->errb, w->et, w->tot, w->s1,
                w->s2, w->lo, w->hi, w->h, (mpfr_ptr)0);
    for (int a = 0; a < ORACLE_NTAB; a++)
        for (int b = 0; b < ORACLE_NTAB; b++)
            mpfr_init2(w->tab[a][b], 53);
    w->inited = 1;
    return GA_OK;
}

static void oracle_set_prec(oracle_ws *w, long p)
{
    mpfr_ptr v[] = {w->f0, w->f0hi, w->fp, w->fm, w->eps, w->ans, w->errb, w->et, w->tot, w->s1,
                    w->s2};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
        mpfr_set_prec(v[k], p);
    for (int a = 0; a < ORACLE_NTAB; a++)
        for (int b = 0; b < ORACLE_NTAB; b++)
            mpfr_set_prec(w->tab[a][b], p);
}

static int call_mpfr(run *s, oracle_ws *w, mpfr_ptr out, long prec, const char *where, size_t i)
{
    s->rep->loss_mpfr_evals++;
    mpfr_set_prec(out, prec);
    mpfr_set_nan(out);
    int rc = s->p->loss_mpfr(out, w->th, s->n, (mpfr_prec_t)prec, s->p->user);
    if (rc != 0)
        return ga_fail(s->err, GA_ECALLBACK, "gradaudit: loss_mpfr callback returned %d %s%s (%ld bits)",
                       rc, where, i < s->n ? entry_name(s, i) : "", prec);
    if (!mpfr_number_p(out))
        return ga_fail(s->err, GA_ENONFINITE, "gradaudit: loss_mpfr callback gave %s %s%s (%ld bits)",
                       mpfr_nan_p(out) ? "NaN" : "Inf", where, i < s->n ? entry_name(s, i) : "", prec);
    return GA_OK;
}

/* The error of the run at p + GAP and the rounding test are the oracle's
 * (ga_oracle_two_prec_error, ga_oracle_settle; why they hold: oracle/
 * orc_ziv.c). The user's loss is assumed to do its arithmetic at the
 * precision it is given, so its rounding error shrinks like 2^-p. */

/* The loss at theta, at p and p + GAP, and its error bound eps (in w). */
static int oracle_loss(run *s, oracle_ws *w, long p)
{
    mpfr_clear_inexflag();
    int status = call_mpfr(s, w, w->f0hi, p + ORACLE_GAP, "at theta", (size_t)-1);
    if (!status)
        status = call_mpfr(s, w, w->f0, p, "at theta", (size_t)-1);
    if (status)
        return status;
    mpfr_set_prec(w->eps, p + ORACLE_GAP);
    mpfr_set_prec(w->s1, p + ORACLE_GAP);
    ga_oracle_two_prec_error(w->eps, w->f0hi, w->f0, p, mpfr_inexflag_p(), w->s1);
    return GA_OK;
}

/* Entry i's derivative in MPFR: the oracle (side 0), or a one-sided slope
 * (side +1 / -1: right / left, a kink's; see kink_verdict). tab[j][r],
 * h_r = 2^-(k0 + r), k0 = p / 8,
 *   side 0:   tab[0][r] = (L(theta + h_r e_i) - L(theta - h_r e_i)) / 2 h_r, R = 4;
 *   side +-1: tab[0][r] = +-(L(theta +- h_r e_i) - L(theta)) / h_r, R = 2 (error in h);
 *   tab[j][r] = (R^j tab[j-1][r] - tab[j-1][r-1]) / (R^j - 1)   (Richardson);
 * error = 4 x the tableau's estimate + W eps / h (rounding: ga_diff_mpfr_total);
 * accepted when settled, else p doubles. *g: the value rounded to double,
 * *gerr its error bound (|exact - *g|, also when not settled), *settled. */
static int oracle_slope(double *g, double *gerr, int *settled, run *s, oracle_ws *w, size_t i,
                        int side)
{
    double t0 = s->theta[i];
    mpfr_ptr Pi = w->th + i;
    long p = s->opt.start_prec;
    *g = NAN;
    *gerr = INFINITY;
    int done = 0, status = GA_OK;
    for (;;) {
        long k0 = p / 8, pbits = ga_diff_mpfr_step_bits(t0, k0, k0 + ORACLE_NTAB);
        oracle_set_prec(w, p + ORACLE_GAP);
        status = oracle_loss(s, w, p);
        if (status)
            break;
        ga_diff_tableau_mpfr T;
        ga_diff_tableau_mpfr_init(&T, ORACLE_NTAB, &w->tab[0][0], w->errb, w->ans, w->s1, w->s2,
                                  w->et);
        if (side)
            T.ratio_log2 = GA_DIFF_RATIO_LOG2_MPFR_ONE_SIDED;
        for (long r = 0; r < ORACLE_NTAB; r++) {
            long k = k0 + r;
            mpfr_set_ui_2exp(w->h, 1, -k, MPFR_RNDN); /* exact: one bit */
            for (int q = 0; q < 2; q++) { /* q = 0: theta + h, 1: theta - h */
                if ((side > 0 && q == 1) || (side < 0 && q == 0))
                    continue;
                mpfr_set_prec(Pi, pbits > 53 ? pbits : 53);
                mpfr_set_d(Pi, t0, MPFR_RNDN);
                int inex = q == 0 ? mpfr_add(Pi, Pi, w->h, MPFR_RNDN)
                                  : mpfr_sub(Pi, Pi, w->h, MPFR_RNDN);
                if (inex) {
                    status = ga_fail(s->err, GA_EINVAL, "gradaudit: internal: theta +- h not exact");
                    break;
                }
                status = call_mpfr(s, w, q == 0 ? w->fp : w->fm, p,
                                   q == 0 ? "at theta + h e_i for " : "at theta - h e_i for ", i);
                if (status)
                    break;
            }
            mpfr_set_prec(Pi, 53);
            mpfr_set_d(Pi, t0, MPFR_RNDN);
            if (status)
                break;
            /* one-sided: the quotient over h is the central formula at k + 1 */
            if (side == 0)
                ga_diff_mpfr_quotient(w->tab[0][r], w->fp, w->fm, k);
            else if (side > 0)
                ga_diff_mpfr_quotient(w->tab[0][r], w->fp, w->f0, k + 1);
            else
                ga_diff_mpfr_quotient(w->tab[0][r], w->f0, w->fm, k + 1);
            int row = ga_diff_mpfr_row_settle(g, gerr, &T, w->tot, w->eps, k);
            done = row == 1;
            if (row)
                break;
        }
        if (status)
            break;
        if (p > s->rep->max_prec_used)
            s->rep->max_prec_used = p;
        if (done || p >= s->opt.max_prec)
            break;
        p = 2 * p > s->opt.max_prec ? s->opt.max_prec : 2 * p;
    }
    *settled = done;
    return status;
}

/* Entry i's oracle reference (oracle_slope, central). */
static int oracle_entry(run *s, oracle_ws *w, ga_check_entry *e, size_t i)
{
    double g, gerr;
    int settled;
    int status = oracle_slope(&g, &gerr, &settled, s, w, i, 0);
    if (status)
        return status;
    if (!settled) {
        s->rep->unsettled++;
        s->unsettled[i] = 1;
    }
    e->oracle = g;
    e->oracle_err = gerr;
    s->ref[i] = g;
    s->ref_err[i] = gerr;
    return GA_OK;
}

/* The MPFR loss at theta, settled like the derivatives (for the report). */
static int oracle_loss_value(run *s, oracle_ws *w)
{
    long p = s->opt.start_prec;
    for (;;) {
        oracle_set_prec(w, p + ORACLE_GAP);
        int status = oracle_loss(s, w, p);
        if (status)
            return status;
        double v, ve;
        int ok = ga_oracle_settle(&v, &ve, w->f0hi, w->eps, w->lo, w->hi);
        s->rep->r.loss_oracle = v;
        s->rep->r.loss_oracle_err = ve;
        if (ok || p >= s->opt.max_prec)
            return GA_OK;
        p = 2 * p > s->opt.max_prec ? s->opt.max_prec : 2 * p;
    }
}

/* ---- is loss_mpfr the double loss in MPFR? ------------------------------------ */
/* The settled MPFR loss at theta against the double loss, before any gradient
 * is judged: a loss_mpfr computing another function (issue 15: one 1.001x
 * off) would otherwise FAIL every entry as if the gradient were wrong. The
 * allowance is generous, not derived (the double loss gives no error bound):
 * 2^-36 relative (2^17 ulps), plus 2^10 times the double loss's measured
 * noise (its deviation under directed rounding and at ulp-perturbed points,
 * which sees cancellation), plus DBL_MIN for underflow, plus the MPFR value's
 * own bound (infinite when unsettled: a loss that does not settle is judged
 * per entry). Not looser: a loss (1 + 1e-9) x off FAILs every entry of the
 * example perceptron, and 2^-20 + 2^20 x noise let 41 of 300 such points
 * through (examples/mlp_soak.c); correct losses were within 5.3e-16. */
static int loss_agreement(run *s)
{
    const ga_check_report *r = &s->rep->r;
    double l = s->loss0, lm = r->loss_oracle;
    double allowed = LOSS_AGREE_REL * fmax(fabs(l), fabs(lm)) + LOSS_AGREE_NOISE * s->loss_eps +
                     DBL_MIN;
    double d = fabs(l - lm);
    if (!(d > allowed + r->loss_oracle_err))
        return GA_OK;
    char ratio[64];
    if (l != 0)
        snprintf(ratio, sizeof ratio, "%.6gx", lm / l);
    else
        snprintf(ratio, sizeof ratio, "%.3g where it is 0 in", lm);
    return ga_fail(s->err, GA_EMPFRLOSS,
                   "gradaudit: the MPFR loss is %s the double loss at theta (loss_mpfr %.17g, loss "
                   "%.17g: |diff| %.3g > %.3g, what the double loss's rounding can explain): they "
                   "compute different functions; no gradient judged",
                   ratio, lm, l, d, allowed + r->loss_oracle_err);
}

/* d_j of the direction drawn from key: +-theta_j's leading bit (0 for 0), the
 * sign one splitmix64 draw per (key, j); finite for every finite theta_j. */
static double dir_step(double theta_j, uint64_t key, size_t j)
{
    if (theta_j == 0)
        return 0.0;
    uint64_t st = key + 0x9e3779b97f4a7c15ULL * (uint64_t)(j + 1);
    int ex;
    frexp(theta_j, &ex);
    return (ga_splitmix64(&st) >> 63) ? ldexp(1.0, ex - 1) : -ldexp(1.0, ex - 1);
}

/* A loss_mpfr that wraps the double loss (rounds theta to double, returns the
 * double result) settles at once and gives a derivative of 0 (issue 15: the
 * report then said "error <= 1/2 ulp" of a wrong reference). It is caught by
 * a move no double can see: theta_j + 2^-70 d_j, d_j = +-2^(e_j - 1) (theta_j's
 * leading bit, random signs; 0 for theta_j = 0), in RESOLVE_DIRS directions.
 * The double loss's central differences along d (steps 2^-24 and 2^-26,
 * exact in double unless theta_j + h d_j reaches the next binade, then off
 * by one rounding) give the slope D; where D is significant (16 x its
 * rounding error, the two steps within 1/4) the MPFR loss must change by
 * about 2^-70 D. Precision doubles from start_prec until that change is at
 * least 64 x the MPFR loss's error bound (two precisions). Refused when no
 * resolvable direction changed by 1/8 of the prediction; several directions,
 * because at a kink one side may be flat. A correct loss whose whole slope
 * comes from a kink within 2^-24 of theta (relu(z), 0 < -z < 2^-24 scale) is
 * flat at 2^-70 and would be refused: the steps are small to make that rare.
 * Not judged (no finding) when no direction is significant: at a stationary
 * point, or theta = 0. */
static int mpfr_resolves(run *s, oracle_ws *w, const double *theta0)
{
    double slope[RESOLVE_DIRS];
    uint64_t st = s->opt.seed ^ 0x5eed0fda11ULL, signs[RESOLVE_DIRS];
    double eps = loss_err(s);
    int any = 0, status = GA_OK;
    for (int k = 0; k < RESOLVE_DIRS; k++) {
        signs[k] = ga_splitmix64(&st); /* the key of direction k's signs */
        double dk[2];
        for (int q = 0; q < 2 && !status; q++) {
            double h = q == 0 ? RESOLVE_H : RESOLVE_H / 4, lp, lm;
            for (size_t j = 0; j < s->n; j++)
                s->theta[j] = theta0[j] + h * dir_step(theta0[j], signs[k], j);
            status = call_loss(s, &lp, "at theta + h d (checking loss_mpfr's resolution)",
                               (size_t)-1);
            for (size_t j = 0; j < s->n && !status; j++)
                s->theta[j] = theta0[j] - h * dir_step(theta0[j], signs[k], j);
            if (!status)
                status = call_loss(s, &lm, "at theta - h d (checking loss_mpfr's resolution)",
                                   (size_t)-1);
            dk[q] = (lp - lm) / (2 * h);
        }
        memcpy(s->theta, theta0, s->n * sizeof *s->theta);
        if (status)
            return status;
        int significant =
            fabs(dk[0]) > 16 * eps / RESOLVE_H && fabs(dk[0] - dk[1]) <= fabs(dk[0]) / 4;
        slope[k] = significant ? dk[0] : 0.0;
        any |= significant;
    }
    if (!any)
        return GA_OK;
    double worst_seen = 0, worst_pred = 0;
    for (long p = s->opt.start_prec;; p = 2 * p > s->opt.max_prec ? s->opt.max_prec : 2 * p) {
        oracle_set_prec(w, p + ORACLE_GAP);
        status = oracle_loss(s, w, p);
        if (status)
            return status;
        mpfr_set(w->fp, w->f0hi, MPFR_RNDN); /* the loss at theta and its bound */
        mpfr_set(w->fm, w->eps, MPFR_RNDN);
        int resolvable = 0, changed = 0;
        for (int k = 0; k < RESOLVE_DIRS && !status; k++) {
            if (slope[k] == 0)
                continue;
            for (size_t j = 0; j < s->n; j++) {
                /* theta_j + 2^-70 d_j: bits e_j .. e_j - 71, exact in 125 */
                mpfr_set_prec(w->th + j, 53 + RESOLVE_EXP + 2);
                mpfr_set_d(w->th + j, theta0[j], MPFR_RNDN);
                mpfr_set_d(w->s2, dir_step(theta0[j], signs[k], j), MPFR_RNDN);
                mpfr_mul_2si(w->s2, w->s2, -RESOLVE_EXP, MPFR_RNDN);
                mpfr_add(w->th + j, w->th + j, w->s2, MPFR_RNDN);
            }
            status = oracle_loss(s, w, p);
            for (size_t j = 0; j < s->n; j++) {
                mpfr_set_prec(w->th + j, 53);
                mpfr_set_d(w->th + j, theta0[j], MPFR_RNDN);
            }
            if (status)
                break;
            mpfr_sub(w->ans, w->f0hi, w->fp, MPFR_RNDN);
            double seen = fabs(mpfr_get_d(w->ans, MPFR_RNDN));
            double err = mpfr_get_d(w->fm, MPFR_RNDU) + mpfr_get_d(w->eps, MPFR_RNDU);
            double pred = fabs(ldexp(slope[k], -RESOLVE_EXP));
            if (!(pred > 64 * err))
                continue;
            resolvable = 1;
            if (seen > pred / 8)
                changed = 1;
            else if (pred > worst_pred) {
                worst_pred = pred;
                worst_seen = seen;
            }
        }
        if (status)
            return status;
        if (resolvable && changed)
            return GA_OK;
        if (resolvable)
            return ga_fail(s->err, GA_EMPFRLOSS,
                           "gradaudit: loss_mpfr does not resolve changes below double precision: "
                           "it gains no accuracy with precision (theta moved by 2^-%d of each "
                           "parameter's leading bit in %d random directions changed it by %.3g "
                           "where the double "
                           "loss's slope predicts %.3g, at %ld bits; does it round theta or an "
                           "intermediate to double?); no gradient judged",
                           RESOLVE_EXP, RESOLVE_DIRS, worst_seen, worst_pred, p);
        if (p >= s->opt.max_prec)
            return GA_OK;
    }
}

/* ---- summary ---------------------------------------------------------------- */
/* 1 when entry a is worse than entry b: FAIL first, then by ratio, then index. */
static int worse(const ga_check_entry *a, const ga_check_entry *b)
{
    int fa = a->verdict == GA_VERDICT_FAIL, fb = b->verdict == GA_VERDICT_FAIL;
    if (fa != fb)
        return fa > fb;
    double ra = ga_check_entry_ratio(a), rb = ga_check_entry_ratio(b);
    if (ra != rb)
        return ra > rb;
    return a->index < b->index;
}

static void summarise(gradaudit_report *rep, size_t top_k)
{
    ga_check_report *r = &rep->r;
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        ga_check_layer *l = &r->layers[e->view];
        double ratio = ga_check_entry_ratio(e);
        if (l->count == 0 || ratio > l->worst_ratio) {
            l->worst = i;
            l->worst_ratio = ratio;
        }
        l->count++;
        if (e->verdict == GA_VERDICT_PASS) {
            l->pass++;
            r->n_pass++;
        } else if (e->verdict == GA_VERDICT_FAIL) {
            l->fail++;
            r->n_fail++;
        } else if (e->verdict == GA_VERDICT_UNJUDGEABLE) {
            l->unjudgeable++;
            r->n_unjudgeable++;
        } else {
            l->kink++;
            r->n_kink++;
        }
        double ae = isnan(e->abs_err) ? INFINITY : e->abs_err;
        double re = isnan(e->rel_err) ? INFINITY : e->rel_err;
        if (ae > l->max_abs_err)
            l->max_abs_err = ae;
        if (re > l->max_rel_err)
            l->max_rel_err = re;
    }
    /* top k by insertion into a sorted list: O(n k), k small */
    size_t nt = 0, cap = top_k < r->n_entries ? top_k : r->n_entries;
    for (size_t i = 0; i < r->n_entries && cap; i++) {
        const ga_check_entry *e = &r->entries[i];
        if (nt == cap && !worse(e, &r->entries[r->top[nt - 1]]))
            continue;
        size_t pos = nt < cap ? nt++ : cap - 1;
        while (pos > 0 && worse(e, &r->entries[r->top[pos - 1]])) {
            r->top[pos] = r->top[pos - 1];
            pos--;
        }
        r->top[pos] = i;
    }
    r->n_top = nt;
}

/* The public views of the finished report: pointers into it, set once no
 * name moves any more. */
static void publish(gradaudit_report *rep)
{
    const ga_check_report *r = &rep->r;
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        rep->name_ptr[i] = rep->names + rep->name_off[i];
        rep->entries[i] = (gradaudit_entry){
            .index = e->index, .name = rep->name_ptr[i], .group = e->view,
            .analytic = e->analytic, .ref = e->ref, .oracle = e->oracle,
            .oracle_err = e->oracle_err, .fd = e->fd, .fd_trunc = e->fd_trunc,
            .fd_round = e->fd_round, .abs_err = e->abs_err, .rel_err = e->rel_err,
            .ulps = e->ulps, .bound = e->bound, .tol = e->tol,
            .verdict = (gradaudit_verdict)e->verdict, .reason = e->reason,
            .slope_lo = e->slope_lo, .slope_hi = e->slope_hi};
    }
    for (size_t g = 0; g < r->n_layers; g++) {
        const ga_check_layer *l = &r->layers[g];
        rep->groups[g] = (gradaudit_group){
            .name = rep->names + rep->group_off[g], .count = l->count, .pass = l->pass,
            .fail = l->fail, .unjudgeable = l->unjudgeable, .max_abs_err = l->max_abs_err,
            .max_rel_err = l->max_rel_err, .worst_ratio = l->worst_ratio, .worst = l->worst,
            .kink = l->kink};
    }
    rep->summary = (gradaudit_summary){
        .n_entries = r->n_entries, .n_pass = r->n_pass, .n_fail = r->n_fail,
        .n_unjudgeable = r->n_unjudgeable, .n_groups = r->n_layers, .n_top = r->n_top,
        .reference = rep->reference, .tol_model = rep->tol_model, .model = rep->model,
        .seed = r->seed, .loss = r->loss, .loss_oracle = r->loss_oracle,
        .loss_oracle_err = r->loss_oracle_err, .loss_ulps = r->loss_ulps,
        .roundings = rep->roundings, .gamma = r->gamma, .noise_points = rep->noise_points,
        .unsettled = rep->unsettled, .max_prec_used = rep->max_prec_used,
        .loss_evals = rep->loss_evals, .loss_mpfr_evals = rep->loss_mpfr_evals,
        .grad_evals = rep->grad_evals, .nondeterministic = rep->nondeterministic,
        .nondet_max_change = rep->nondet_max_change, .loss_nonfinite = rep->loss_nonfinite,
        .grad_nonfinite = rep->grad_nonfinite, .grad_buffer = rep->grad_buffer,
        .grad_buffer_ok = rep->grad_buffer_ok, .grad_buffer_note = rep->grad_buffer_note,
        .n_kink = r->n_kink};
}

/* ---- findings about the gradient code as a whole ------------------------------- */
/* Nondeterminism: the gradient rerun at theta NONDET_RERUNS times, each entry
 * compared bit for bit with the first run (threads that sum in a varying
 * order, atomics, uninitialised memory). A finding of its own, not FAILs: the
 * verdicts stand on the first run. */
static int nondeterminism(run *s)
{
    char where[64];
    double *differs = s->bound; /* free until the tolerance model runs */
    for (size_t i = 0; i < s->n; i++)
        differs[i] = 0;
    for (int k = 0; k < NONDET_RERUNS; k++) {
        snprintf(where, sizeof where, "at theta (rerun %d, checking determinism)", k + 1);
        int status = call_grad(s, s->gk, where);
        if (status)
            return status;
        for (size_t i = 0; i < s->n; i++) {
            if (memcmp(&s->gk[i], &s->g[i], sizeof s->g[i]) == 0)
                continue;
            differs[i] = 1;
            double d = fabs(s->gk[i] - s->g[i]);
            if (isnan(d))
                d = isnan(s->gk[i]) && isnan(s->g[i]) ? 0 : INFINITY; /* two NaNs: payloads */
            if (d > s->rep->nondet_max_change)
                s->rep->nondet_max_change = d;
        }
    }
    for (size_t i = 0; i < s->n; i++)
        s->rep->nondeterministic += differs[i] != 0;
    return GA_OK;
}

/* options.grad_buffer: one call on a buffer pre-filled with P_i = +-(1 + |F_i|)
 * (1 + (i mod 5) / 8), F the gradient on a zeroed buffer (s->g); the result R
 * says per entry overwritten (R_i = F_i) or accumulated into (R_i = P_i + F_i),
 * within BUFFER_MATCH (|P_i| + |F_i|), allowing for += rounding in any order.
 * Entries with a non-finite F_i say nothing and are skipped. */
static int grad_buffer_check(run *s)
{
    gradaudit_report *rep = s->rep;
    rep->grad_buffer_ok = 1;
    if (s->opt.grad_buffer == GRADAUDIT_BUFFER_UNCHECKED)
        return GA_OK;
    double *P = s->bound, *R = s->gk; /* free until the tolerance model runs */
    for (size_t i = 0; i < s->n; i++) {
        double f = isfinite(s->g[i]) ? fabs(s->g[i]) : 0;
        P[i] = (i % 2 ? -1 : 1) * (1 + f) * (1 + (double)(i % 5) / 8);
        R[i] = P[i];
    }
    rep->grad_evals++;
    int rc = s->p->grad(R, s->theta, s->n, s->p->user);
    if (rc != 0)
        return ga_fail(s->err, GA_ECALLBACK,
                       "gradaudit: gradient callback returned %d at theta (on a pre-filled buffer, "
                       "checking options.grad_buffer)", rc);
    size_t over = 0, acc = 0, neither = 0, first_over = s->n, first_acc = s->n, first_neither = s->n;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->g[i]))
            continue;
        double m = BUFFER_MATCH * (fabs(P[i]) + fabs(s->g[i]));
        if (fabs(R[i] - s->g[i]) <= m) {
            over++;
            first_over = first_over < i ? first_over : i;
        } else if (fabs(R[i] - (P[i] + s->g[i])) <= m) {
            acc++;
            first_acc = first_acc < i ? first_acc : i;
        } else {
            neither++;
            first_neither = first_neither < i ? first_neither : i;
        }
    }
    const char *want = s->opt.grad_buffer == GRADAUDIT_BUFFER_OVERWRITE ? "writes" : "accumulates into";
    char *note = rep->grad_buffer_note;
    size_t size = sizeof rep->grad_buffer_note;
    if (over + acc + neither == 0) {
        rep->grad_buffer = GRADAUDIT_BUFFER_UNCHECKED;
        snprintf(note, size, "the gradient's buffer convention was not checked: no entry is finite");
        return GA_OK;
    }
    if (neither == 0 && acc == 0) {
        rep->grad_buffer = GRADAUDIT_BUFFER_OVERWRITE;
        snprintf(note, size, "the gradient overwrote its buffer (%zu entries checked)", over);
    } else if (neither == 0 && over == 0) {
        rep->grad_buffer = GRADAUDIT_BUFFER_ACCUMULATE;
        snprintf(note, size, "the gradient accumulated into its buffer (%zu entries checked)", acc);
    } else {
        rep->grad_buffer = GRADAUDIT_BUFFER_OTHER;
        size_t f = neither ? first_neither : s->opt.grad_buffer == GRADAUDIT_BUFFER_OVERWRITE
                                                 ? first_acc : first_over;
        snprintf(note, size,
                 "the gradient overwrote %zu entries of its buffer, accumulated into %zu and did "
                 "neither to %zu (first off the convention: %.80s)",
                 over, acc, neither, entry_name(s, f));
    }
    rep->grad_buffer_ok = rep->grad_buffer == s->opt.grad_buffer;
    if (!rep->grad_buffer_ok) {
        size_t len = strlen(note);
        snprintf(note + len, size - len, ", but options.grad_buffer says it %s it", want);
    }
    return GA_OK;
}

/* A NaN or Inf loss at theta has no derivative: every entry is unjudgeable,
 * and a finite gradient there is an inconsistency the summary reports. */
static void loss_nonfinite_verdicts(run *s)
{
    ga_check_report *r = &s->rep->r;
    const char *what = isnan(s->loss0) ? "NaN" : "Inf";
    for (size_t i = 0; i < s->n; i++) {
        ga_check_entry *e = &r->entries[i];
        e->oracle = e->oracle_err = e->fd = e->fd_trunc = e->fd_round = NAN;
        e->slope_lo = e->slope_hi = NAN;
        e->analytic = s->g[i];
        e->ref = e->abs_err = e->rel_err = e->bound = e->tol = NAN;
        e->verdict = GA_VERDICT_UNJUDGEABLE;
        snprintf(e->reason, sizeof e->reason,
                 isfinite(s->g[i]) ? "not judgeable: the loss at theta is %s, so it has no "
                                     "derivative, yet this gradient entry is finite: inconsistent"
                                   : "not judgeable: the loss at theta is %s, so it has no "
                                     "derivative (this gradient entry is not finite either)",
                 what);
    }
}

/* ---- the check ---------------------------------------------------------------- */
/* An oracle entry the Ziv loop did not settle: its error bound rests on the
 * MPFR loss's rounding error shrinking with the precision, which is just what
 * failed to happen (a loss with noise, or one that does not compute at the
 * precision it is given: issue 15 saw a doubled gradient pass under a
 * tolerance of 9e152). Neither pass nor FAIL is proven: not judgeable. A
 * non-finite analytic value keeps its FAIL (the reference is finite). */
static void unsettled_verdict(ga_check_entry *e, long max_prec)
{
    e->verdict = GA_VERDICT_UNJUDGEABLE;
    snprintf(e->reason, sizeof e->reason,
             "not judgeable: the MPFR loss did not settle this derivative up to %ld bits "
             "(|diff| %.3g against an error bound %.3g of the unsettled reference): does loss_mpfr "
             "gain accuracy with its precision?",
             max_prec, e->abs_err, e->tol);
}

/* The error of the gradient inferred from one SGD step, entry i (the run's
 * stepped array holds theta' = the step from theta, d = theta - theta'):
 * the step computed theta' = theta - lr g with at most two roundings in the
 * code's precision (lr g, then the subtraction; one with an FMA), so
 *   |theta' - (theta - lr g)| <= u_c |lr g| + u_c |theta'| + 2 eta_c
 * to first order, |lr g| <= |d| (1 + u_c) + ..., eta_c the code's smallest
 * subnormal; gradaudit's (theta - theta') / lr adds two roundings in double.
 * Hence |g_inferred - g| <= (u_c (|d| (1 + u_c) + |theta'|) + 2 eta_c) / lr +
 * 2 u |g_inferred|, widened by 2^-40 relative for the second-order terms. */
static void step_inference_bound(run *s)
{
    ga_precision p = code_prec(s);
    double uc = ga_precision_u(p), eta = 2 * uc * ga_precision_min_normal(p); /* 2^-149, 2^-1074 */
    for (size_t i = 0; i < s->n; i++) {
        double d = fabs(s->theta[i] - s->stepped[i]);
        double e = (uc * (d * (1 + uc) + fabs(s->stepped[i])) + 2 * eta) / s->lr +
                   2 * GA_U * fabs(s->g[i]);
        s->extra[i] = e * (1 + 0x1p-40);
    }
}

/* Entry i against its reference under the tolerance: pass or FAIL, or
 * unjudgeable when the oracle did not settle it. */
static void ordinary_verdict(run *s, size_t i)
{
    ga_check_entry *e = &s->rep->r.entries[i];
    e->analytic = s->g[i];
    e->ref = s->ref[i];
    e->abs_err = fabs(e->analytic - e->ref);
    e->rel_err = e->abs_err == 0 ? 0.0 : e->abs_err / fabs(e->ref);
    e->ulps = ga_ulp_distance_in(code_prec(s), e->analytic, e->ref);
    e->bound = s->bound[i];
    /* |analytic - ref| <= |analytic - exact| + |exact - ref| */
    e->tol = (s->bound[i] + s->ref_err[i]) * (1 + 2 * GA_U);
    e->verdict = ga_compare(e->reason, sizeof e->reason, e->analytic, e->ref, e->tol);
    if (s->unsettled[i] && isfinite(e->analytic))
        unsettled_verdict(e, s->opt.max_prec);
    else if (!isfinite(e->analytic) && e->verdict == GA_VERDICT_FAIL)
        snprintf(e->reason, sizeof e->reason,
                 "analytic gradient is %s where the loss is finite (%.17g at theta); reference "
                 "%.17g", isnan(e->analytic) ? "NaN" : e->analytic > 0 ? "+inf" : "-inf",
                 s->loss0, e->ref);
}

/* An entry's one-sided slopes d, estimates est and bounds b ([0] left, side
 * -1; [1] right, side +1) from the run's reference; kink = 1 when the
 * intervals d +- b are disjoint (kink_verdict's test). */
typedef struct {
    double d[2], est[2], b[2];
    int kink;
} one_sided;

static int one_sided_slopes(one_sided *o, run *s, oracle_ws *w, size_t i, int use_oracle)
{
    for (int k = 0; k < 2; k++) {
        int settled, side = 2 * k - 1;
        int status = use_oracle ? oracle_slope(&o->d[k], &o->b[k], &settled, s, w, i, side)
                                : ridders_one_sided(&o->d[k], &o->est[k], &o->b[k], s, i, side);
        if (status)
            return status;
        if (use_oracle)
            o->est[k] = o->b[k];
    }
    o->kink = fabs(o->d[1] - o->d[0]) > o->b[0] + o->b[1];
    return GA_OK;
}

/* A kink (docs/library.md, "Kinks"): where the loss is continuous but its
 * one-sided derivatives along theta_i differ (relu(z) at z = 0), the central
 * reference converges to neither of them (to their mean at the kink, to a
 * mixture when the kink is within reach of the steps), while a correct
 * gradient takes one of them. So an entry that FAILs the ordinary test gets
 * the one-sided slopes D- and D+ from the same reference (the oracle's Ziv
 * loop, or Ridders on the double loss), each with
 *   B, its error bound formed as that reference's own bound (double:
 *      RIDDERS_FACTOR x (4 x the tableau's estimate + the starts'
 *      contradiction + rounding), ridders_one_sided; MPFR: 4 x the estimate
 *      + 2^5 eps / h, settled to double), and
 *   E, its error estimate (double: the same without the factors 2 and 4, as
 *      the CLI's finite-difference kinks, checks/ga_check.c; MPFR: B).
 * The test: where L is differentiable along theta_i both one-sided
 * derivatives are its derivative, so the intervals D- +- B- and D+ +- B+
 * (honest when the bounds are, as the central reference's are taken to be)
 * both hold it and overlap. A kink is measured when they are disjoint,
 * |D+ - D-| > B- + B+: a multiple 1 of the summed bounds, in double 2 x (4 x
 * estimate + contradiction + rounding) per side. The verdict is then `kink'
 * when the analytic value lies in [min D - (bound + E), max D + (bound + E)]
 * (bound: its own error bound under the model; E: the estimate of the slope
 * at that end), else the FAIL stands with both slopes in its reason. E, not
 * B, widens the hull: a correct value is the slope on its own side of the
 * kink, whose tableau runs on rows that do not cross it, while near a kink
 * the other side's slope mixes rows across it and its bound is wide (with B
 * a sign-flipped gradient of lib/test_problem.c's relu losses was labelled
 * kink, 1 of 694 wrong values; with E none).
 * When the intervals overlap the FAIL stands unchanged: a wrong gradient of
 * a loss smooth at the steps' scale is not rescued (softplus(1e6 z) is not:
 * to steps of 1e-6 it is a kink). What it measures, not proves: a value
 * inside the slopes' hull is accepted (it could be right), and several kinks
 * at theta whose branches a gradient may mix give sums outside the two
 * slopes, which FAIL. */
/* known: the entry's slopes when jump_screen already took them, else NULL. */
static int kink_verdict(run *s, oracle_ws *w, ga_check_entry *e, size_t i, int use_oracle,
                        const one_sided *known)
{
    one_sided o;
    if (known)
        o = *known;
    else {
        int status = one_sided_slopes(&o, s, w, i, use_oracle);
        if (status)
            return status;
    }
    if (!o.kink)
        return GA_OK;
    const double *d = o.d, *est = o.est, *b = o.b;
    int l = d[1] < d[0]; /* the side of the smaller slope */
    double a = e->analytic;
    double lo = d[l] - (e->bound + est[l]) * (1 + 2 * GA_U);
    double hi = d[!l] + (e->bound + est[!l]) * (1 + 2 * GA_U);
    e->slope_lo = d[l];
    e->slope_hi = d[!l];
    int in = a >= lo && a <= hi;
    snprintf(e->reason, sizeof e->reason,
             "analytic %.6g %s the one-sided slopes [%.6g, %.6g] of a kink (left %.6g +- %.2g, "
             "right %.6g +- %.2g, apart beyond their bounds %.2g, %.2g; the analytic value's "
             "bound %.2g)%s",
             a, in ? "within" : "outside", d[l], d[!l], d[0], est[0], d[1], est[1], b[0], b[1],
             e->bound, in ? ": the central reference does not apply" : "");
    if (in) {
        e->verdict = GA_VERDICT_KINK;
        /* |analytic - ref| <= tol: from ref to the hull's end on a's side */
        e->tol = a >= e->ref ? hi - e->ref : e->ref - lo;
    }
    return GA_OK;
}

/* The noise model at a kink. Its moves of theta by a few ulps cross a kink
 * that theta sits on (relu(z) at z = 0 exactly, with exact data), and the
 * gradient's jump there, a slope's worth, was taken for rounding noise: the
 * tolerance swallowed any value between and around the slopes (a relu
 * backward with relu'(0) = 2 passed, lib/test_vjp.c). An entry whose bound
 * from the moves exceeds JUMP_FACTOR times what the directed modes alone give
 * (rounding noise measured both ways agrees within a small factor; a jump
 * does not) gets the one-sided slope test; at a kink its bound is the
 * directed modes' alone, and the kink verdict judges it against the slopes.
 * (A pre-activation that cancels to 0 in rounded arithmetic can flip under a
 * directed mode too: then both measurements see the jump and nothing is
 * changed, a loose tolerance as before.) */
#define JUMP_FACTOR 0x1p10
/* *screened = 1 when it took the slopes (into *o, for kink_verdict). */
static int jump_screen(one_sided *o, int *screened, run *s, oracle_ws *w, size_t i, int use_oracle)
{
    *screened = 0;
    double quiet = noise_bound(s, i, s->dir_dev[i]);
    if (s->step) /* the step's inference, as check_run adds it */
        quiet = (quiet + s->extra[i]) * (1 + 2 * GA_U);
    if (!(s->bound[i] > JUMP_FACTOR * quiet))
        return GA_OK;
    int status = one_sided_slopes(o, s, w, i, use_oracle);
    if (status)
        return status;
    *screened = 1;
    if (o->kink)
        s->bound[i] = quiet;
    return GA_OK;
}

static int check_run(gradaudit_report **out, ga_error *err, const gradaudit_problem *problem,
                     const gradaudit_options *opt, gradaudit_step_fn step, double lr)
{
    if (!out)
        return ga_fail(err, GA_EINVAL, "gradaudit: report output pointer is NULL");
    *out = NULL;
    run s;
    memset(&s, 0, sizeof s);
    if (opt)
        s.opt = *opt;
    else
        gradaudit_options_default(&s.opt);
    int status = check_problem(err, problem, &s.opt, step, lr);
    if (status)
        return status;
    s.p = problem;
    s.err = err;
    s.n = problem->n;
    s.step = step;
    s.lr = lr;
    status = alloc_run(&s, err, s.n, s.opt.top_k);
    if (status)
        return status;
    if (step) {
        s.stepped = malloc(2 * s.n * sizeof *s.stepped);
        if (!s.stepped) {
            gradaudit_report_free(s.rep);
            free(s.buf);
            free(s.namebuf);
            free(s.names);
            free(s.unsettled);
            return ga_fail(err, GA_ENOMEM, "gradaudit: out of memory for %zu entries", s.n);
        }
        s.extra = s.stepped + s.n;
    }
    gradaudit_report *rep = s.rep;
    ga_check_report *r = &rep->r;
    r->n_entries = s.n;
    r->seed = s.opt.seed;
    r->loss_oracle = NAN;
    r->loss_oracle_err = NAN;
    memcpy(s.theta, problem->theta, s.n * sizeof *s.theta);
    int use_oracle = s.opt.reference == GRADAUDIT_REF_ORACLE ||
                     (s.opt.reference == GRADAUDIT_REF_AUTO && problem->loss_mpfr);
    rep->reference = use_oracle ? GRADAUDIT_REF_ORACLE : GRADAUDIT_REF_RIDDERS;
    r->method = use_oracle ? GA_CHECK_ORACLE : GA_CHECK_RIDDERS;

    /* a copy of theta0 the perturbations start from (ref is free until the reference runs) */
    double *theta0 = s.ref;
    memcpy(theta0, problem->theta, s.n * sizeof *theta0);
    oracle_ws w;
    memset(&w, 0, sizeof w);

    status = fill_names(&s);
    if (!status)
        status = loss_at_theta(&s);
    if (!status)
        status = call_grad(&s, s.g, "at theta");
    if (!status && step)
        step_inference_bound(&s);
    for (size_t i = 0; i < s.n && !status; i++)
        rep->grad_nonfinite += !isfinite(s.g[i]);
    if (!status)
        status = nondeterminism(&s);
    if (!status)
        status = grad_buffer_check(&s);
    r->loss = s.loss0;
    /* a NaN or Inf loss at theta has no derivative: no reference, no model */
    int judge = !rep->loss_nonfinite;
    if (!status && judge) {
        if (problem->grad_bound && !s.opt.ignore_bound) {
            status = bound_model(&s);
            if (!status)
                status = loss_noise(&s, theta0);
        } else {
            s.dir_dev = malloc(s.n * sizeof *s.dir_dev);
            status = s.dir_dev ? noise_model(&s, theta0)
                               : ga_fail(err, GA_ENOMEM, "gradaudit: out of memory for %zu entries",
                                         s.n);
        }
    }
    for (size_t i = 0; i < s.n && !status && judge && step; i++) /* the step's inference */
        s.bound[i] = (s.bound[i] + s.extra[i]) * (1 + 2 * GA_U);
    if (!status && judge && use_oracle) {
        status = oracle_alloc(&w, &s);
        if (!status)
            status = oracle_loss_value(&s, &w);
        if (!status)
            r->loss_ulps = ga_ulp_distance(s.loss0, r->loss_oracle);
        if (!status)
            status = loss_agreement(&s);
        if (!status)
            status = mpfr_resolves(&s, &w, theta0);
    }
    for (size_t i = 0; i < s.n && !status && judge; i++) {
        ga_check_entry *e = &r->entries[i];
        e->oracle = e->oracle_err = NAN;
        e->fd = e->fd_trunc = e->fd_round = NAN;
        e->slope_lo = e->slope_hi = NAN;
        status = use_oracle ? oracle_entry(&s, &w, e, i) : ridders(&s, e, i);
    }
    /* each entry: the noise model's kink screen, the verdict, and for one
     * that FAILs with a finite analytic value, whether it is at a kink (with
     * the slopes the screen took, if it took them) */
    for (size_t i = 0; i < s.n && !status && judge; i++) {
        one_sided o;
        int screened = 0;
        if (s.dir_dev && isfinite(s.g[i]))
            status = jump_screen(&o, &screened, &s, &w, i, use_oracle);
        if (status)
            break;
        ordinary_verdict(&s, i);
        if (r->entries[i].verdict == GA_VERDICT_FAIL && isfinite(s.g[i]))
            status = kink_verdict(&s, &w, &r->entries[i], i, use_oracle, screened ? &o : NULL);
    }
    oracle_free(&w, s.n);
    free(s.namebuf);
    free(s.stepped);
    free(s.dir_dev);
    if (status) {
        gradaudit_report_free(rep);
        free(s.buf);
        free(s.unsettled);
        free(s.names);
        return status;
    }
    rep->names = s.names;
    if (!judge)
        loss_nonfinite_verdicts(&s);
    free(s.buf);
    free(s.unsettled);
    summarise(rep, s.opt.top_k);

    if (!judge)
        rep->tol_model = problem->grad_bound && !s.opt.ignore_bound ? GRADAUDIT_TOL_BOUND
                                                                    : GRADAUDIT_TOL_NOISE;
    const char *refs = use_oracle
        ? "reference: MPFR central differences with Richardson extrapolation, precision raised until "
          "settled (error <= 1/2 ulp when settled)"
        : "reference: Ridders-extrapolated central differences on the double loss, with their "
          "truncation + rounding estimate";
    if (rep->tol_model == GRADAUDIT_TOL_BOUND)
        snprintf(rep->model, sizeof rep->model,
                 "%s; tolerance: bound model, gamma_n * S_i from the user's grad_bound, n = %zu "
                 "roundings (gamma_n = %.3g), plus the reference's bound",
                 refs, rep->roundings, r->gamma);
    else
        snprintf(rep->model, sizeof rep->model,
                 "%s; tolerance: noise model, 16 x the largest change of the gradient rerun in "
                 "directed rounding modes and at %zu points perturbed by 1..%u %sulps (seed %llu), "
                 "at least 2 %sulps, plus the reference's bound",
                 refs, rep->noise_points, s.opt.noise_ulps, s.opt.float32 ? "float32 " : "",
                 (unsigned long long)s.opt.seed, s.opt.float32 ? "float32 " : "");
    if (step && judge) {
        size_t len = strlen(rep->model);
        snprintf(rep->model + len, sizeof rep->model - len,
                 "; the gradient inferred from one SGD step, (theta - theta') / lr with lr = %.17g, "
                 "its inference error u (|theta - theta'| + |theta'|) / lr added to the tolerance",
                 lr);
    }
    if (!judge)
        snprintf(rep->model, sizeof rep->model,
                 "no reference and no tolerance: the double loss at theta is %s, so it has no "
                 "derivative and no entry is judged", isnan(s.loss0) ? "NaN" : "Inf");
    snprintf(r->command, sizeof r->command, "gradaudit_check(reference %s, seed %llu)",
             use_oracle ? "oracle" : "ridders", (unsigned long long)s.opt.seed);
    publish(rep);
    *out = rep;
    return GA_OK;
}

int gradaudit_check(gradaudit_report **out, gradaudit_error *err, const gradaudit_problem *problem,
                    const gradaudit_options *opt)
{
    ga_error e;
    e.msg[0] = '\0';
    return ga_lib_pass_error(err, &e, check_run(out, err ? &e : NULL, problem, opt, NULL, 0.0));
}

int gradaudit_check_step(gradaudit_report **out, gradaudit_error *err,
                         const gradaudit_problem *problem, gradaudit_step_fn step, double lr,
                         const gradaudit_options *opt)
{
    ga_error e;
    e.msg[0] = '\0';
    if (!step) {
        if (out)
            *out = NULL;
        return ga_lib_pass_error(err, &e, ga_fail(err ? &e : NULL, GA_EINVAL,
                                                  "gradaudit_check_step: step is NULL"));
    }
    return ga_lib_pass_error(err, &e, check_run(out, err ? &e : NULL, problem, opt, step, lr));
}

int gradaudit_report_ok(const gradaudit_report *rep)
{
    /* every entry judged and passed (a kink verdict is a pass): an entry that could not be
     * judged is not a pass */
    return rep && rep->r.n_fail == 0 && rep->r.n_entries > 0 &&
           rep->r.n_pass + rep->r.n_kink == rep->r.n_entries && rep->grad_buffer_ok;
}

const gradaudit_summary *gradaudit_report_summary(const gradaudit_report *rep)
{
    return rep ? &rep->summary : NULL;
}

const gradaudit_entry *gradaudit_report_entry(const gradaudit_report *rep, size_t i)
{
    return rep && i < rep->r.n_entries ? &rep->entries[i] : NULL;
}

const gradaudit_group *gradaudit_report_group(const gradaudit_report *rep, size_t g)
{
    return rep && g < rep->r.n_layers ? &rep->groups[g] : NULL;
}

const gradaudit_entry *gradaudit_report_top(const gradaudit_report *rep, size_t t)
{
    return rep && t < rep->r.n_top ? &rep->entries[rep->r.top[t]] : NULL;
}

const char *gradaudit_verdict_name(gradaudit_verdict v)
{
    switch (v) {
    case GRADAUDIT_VERDICT_PASS:
    case GRADAUDIT_VERDICT_FAIL:
    case GRADAUDIT_VERDICT_KINK:
    case GRADAUDIT_VERDICT_UNJUDGEABLE: return ga_verdict_name((ga_verdict)v);
    default: return "?";
    }
}

/* ---- printing ---------------------------------------------------------------- */
int gradaudit_report_print_worst(FILE *f, const gradaudit_report *rep, size_t k)
{
    if (!f || !rep)
        return GA_EINVAL;
    const ga_check_report *r = &rep->r;
    size_t nt = k == 0 || k > r->n_top ? r->n_top : k;
    fprintf(f, "worst %zu entries (by |analytic - reference| / tol):\n", nt);
    for (size_t t = 0; t < nt; t++) {
        const gradaudit_entry *e = &rep->entries[r->top[t]];
        fprintf(f, "  %-4s %s: analytic %.17g, reference %.17g, %s\n",
                gradaudit_verdict_name(e->verdict), e->name, e->analytic, e->ref, e->reason);
    }
    return ferror(f) ? GA_EIO : GA_OK;
}

/* The findings about the gradient code as a whole, one line each. */
static void print_findings(FILE *f, const gradaudit_report *rep)
{
    size_t n = rep->r.n_entries, finite = n - rep->grad_nonfinite;
    const char *lw = isnan(rep->r.loss) ? "NaN" : "Inf";
    if (rep->loss_nonfinite && finite)
        fprintf(f, "inconsistent: the loss at theta is %s while %zu of %zu gradient entries are "
                   "finite; no entry judged\n", lw, finite, n);
    else if (rep->loss_nonfinite)
        fprintf(f, "the loss at theta is %s and no gradient entry is finite; no entry judged\n", lw);
    else if (rep->grad_nonfinite)
        fprintf(f, "inconsistent: the loss at theta is finite while %zu of %zu gradient entries "
                   "are NaN or Inf\n", rep->grad_nonfinite, n);
    if (rep->nondeterministic)
        fprintf(f, "nondeterministic: %zu of %zu gradient entries were not bit-identical when "
                   "rerun at theta (largest change %.3g); the verdicts judge the first run\n",
                rep->nondeterministic, n, rep->nondet_max_change);
    else
        fprintf(f, "deterministic: %d reruns at theta bit-identical\n", NONDET_RERUNS);
    if (rep->grad_buffer_note[0])
        fprintf(f, "%s: %s\n", rep->grad_buffer_ok ? "buffer" : "BUFFER", rep->grad_buffer_note);
}

int gradaudit_report_print(FILE *f, const gradaudit_report *rep)
{
    if (!f || !rep)
        return GA_EINVAL;
    const ga_check_report *r = &rep->r;
    fprintf(f, "gradaudit_check: %zu entries, reference %s, seed %llu\n", r->n_entries,
            rep->reference == GRADAUDIT_REF_ORACLE ? "oracle" : "ridders",
            (unsigned long long)r->seed);
    fprintf(f, "%s\n", rep->model);
    if (rep->loss_nonfinite)
        fprintf(f, "loss %.17g\n", r->loss);
    else if (rep->reference == GRADAUDIT_REF_ORACLE)
        fprintf(f, "loss %.17g (oracle %.17g, %llu ulps); oracle up to %ld bits, %u unsettled\n",
                r->loss, r->loss_oracle, (unsigned long long)r->loss_ulps, rep->max_prec_used,
                rep->unsettled);
    else
        fprintf(f, "loss %.17g\n", r->loss);
    fprintf(f, "result: %zu pass, %zu FAIL", r->n_pass, r->n_fail);
    if (r->n_kink) /* only then: a report without kinks reads as before */
        fprintf(f, ", %zu kink (passes between the one-sided slopes of a measured kink)",
                r->n_kink);
    if (r->n_unjudgeable)
        fprintf(f, ", %zu not judgeable (not a pass: each entry's reason says why)",
                r->n_unjudgeable);
    fputc('\n', f);
    print_findings(f, rep);
    /* the kink column only when there are kinks, as the result line */
    fprintf(f, "\n%-12s %7s %7s %6s", "group", "entries", "pass", "FAIL");
    if (r->n_kink)
        fprintf(f, " %6s", "kink");
    fprintf(f, " %12s %12s %12s\n", "max_abs_err", "max_rel_err", "worst/tol");
    for (size_t i = 0; i < r->n_layers; i++) {
        const gradaudit_group *l = &rep->groups[i];
        fprintf(f, "%-12s %7zu %7zu %6zu", l->name, l->count, l->pass, l->fail);
        if (r->n_kink)
            fprintf(f, " %6zu", l->kink);
        fprintf(f, " %12.3g %12.3g %12.3g\n", l->max_abs_err, l->max_rel_err, l->worst_ratio);
    }
    if (r->n_top) {
        fputc('\n', f);
        gradaudit_report_print_worst(f, rep, 0);
    }
    return ferror(f) ? GA_EIO : GA_OK;
}

int gradaudit_report_write_csv(gradaudit_error *err, const gradaudit_report *rep, const char *path)
{
    ga_error e;
    e.msg[0] = '\0';
    if (!rep)
        return ga_lib_pass_error(err, &e, ga_fail(&e, GA_EINVAL, "CSV: no report"));
    return ga_lib_pass_error(err, &e,
                             ga_check_report_write_csv_names(err ? &e : NULL, &rep->r,
                                                             (const char *const *)rep->name_ptr,
                                                             path));
}
