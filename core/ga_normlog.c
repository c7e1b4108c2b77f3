/* ga_normlog.c: streamed gradient-norm rows (ga_normlog.h, docs/norms.md). */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ga_csv.h"
#include "ga_health.h"
#include "ga_normlog.h"

/* ---- statistics ------------------------------------------------------------ */
void ga_tensor_stats_compute(ga_tensor_stats *out, const double *x, size_t n)
{
    /* branch-free first pass (5x faster than testing each entry); the NaN and
     * Inf are counted only when there are some */
    double mx = 0.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i]);
        bad |= !(a <= DBL_MAX);
        mx = a > mx ? a : mx;
    }
    size_t nan = 0, inf = 0;
    for (size_t i = 0; bad && i < n; i++) {
        nan += isnan(x[i]) != 0;
        inf += isinf(x[i]) != 0;
    }
    out->nan = nan;
    out->inf = inf;
    if (nan || inf) {
        out->norm = out->max_abs = nan ? NAN : INFINITY;
        return;
    }
    out->max_abs = mx;
    if (mx == 0.0) {
        out->norm = 0.0;
        return;
    }
    int e;
    (void)frexp(mx, &e); /* mx = f 2^e, 1/2 <= f < 1 */
    /* four accumulators, entry i into s[i mod 4], in index order: the sum is
     * bound by the latency of one addition per accumulator, not per entry */
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0, n4 = n - n % 4;
    if (e > -1021 && e < 1022) {
        double scale = ldexp(1.0, -e); /* a normal double: the products are exact */
        for (; i < n4; i += 4) {
            double y0 = x[i] * scale, y1 = x[i + 1] * scale, y2 = x[i + 2] * scale,
                   y3 = x[i + 3] * scale;
            s0 += y0 * y0, s1 += y1 * y1, s2 += y2 * y2, s3 += y3 * y3;
        }
        double y[3] = {0, 0, 0};
        for (size_t k = 0; i + k < n; k++)
            y[k] = x[i + k] * scale;
        s0 += y[0] * y[0], s1 += y[1] * y[1], s2 += y[2] * y[2];
    } else {
        double y[4];
        for (; i < n; i += 4) {
            for (size_t k = 0; k < 4; k++)
                y[k] = i + k < n ? ldexp(x[i + k], -e) : 0.0;
            s0 += y[0] * y[0], s1 += y[1] * y[1], s2 += y[2] * y[2], s3 += y[3] * y[3];
        }
    }
    double s = (s0 + s1) + (s2 + s3);
    out->norm = ldexp(sqrt(s), e);
}

double ga_norm2(const double *x, size_t n)
{
    ga_tensor_stats st;
    ga_tensor_stats_compute(&st, x, n);
    return st.norm;
}

/* ---- the log ----------------------------------------------------------------- */
struct ga_normlog {
    int fd, own_fd, broken;
    char *label;
    size_t n;             /* tensors */
    char **names;         /* (n) */
    size_t *size;         /* (n) entries */
    size_t ref;           /* norm_ratio's denominator */
    ga_normlog_options opt;
    int have_step, have_params;
    uint64_t last_step;
    double first_global;  /* global norm of the first logged step */
    double *prev;         /* (sum of sizes) parameters of the last step that gave them */
    double *prev_norm;    /* (n) their norms */
    double *diff;         /* (max size) scratch for p - p_prev (non-finite or extreme) */
    ga_tensor_stats *stats;
    double *norm_ratio, *update_ratio, *norms;
    int *vanished, *exploded;
    ga_normlog_last last;
    char *row;            /* the row being formatted */
    size_t row_cap, row_len;
};

void ga_normlog_options_default(ga_normlog_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->vanish_below = GA_VANISH_BELOW_DEFAULT;
    opt->explode_above = GA_EXPLODE_ABOVE_DEFAULT;
    opt->ref_tensor = -1;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > GA_NORMLOG_MAX_NAME)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_.:/-[]", *p)))
            return 0;
    return 1;
}

/* Appends to log->row; the capacity is sized at open for the longest row, so a
 * failure here is a programming error reported as GA_ERANGE. */
static int put(ga_normlog *log, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int put(ga_normlog *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(log->row + log->row_len, log->row_cap - log->row_len, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= log->row_cap - log->row_len)
        return GA_ERANGE;
    log->row_len += (size_t)k;
    return GA_OK;
}

/* ",%.17g", every NaN written "nan" (printf may write "-nan"), Inf "inf"/"-inf" */
static int put_num(ga_normlog *log, double v)
{
    return isnan(v) ? put(log, ",nan") : put(log, ",%.17g", v);
}

/* The row goes out in one write(2) with every blockable signal held, so a
 * SIGINT, SIGTERM or SIGHUP that arrives meanwhile takes effect only once the
 * row is whole. SIGKILL cannot be held: see ga_normlog.h. */
static int write_row(ga_normlog *log, ga_error *err)
{
    sigset_t all, old;
    sigfillset(&all);
    int masked = pthread_sigmask(SIG_BLOCK, &all, &old) == 0;
    int st = GA_OK;
    size_t off = 0;
    while (off < log->row_len) {
        ssize_t k = write(log->fd, log->row + off, log->row_len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            log->broken = 1;
            st = ga_fail(err, GA_EIO, "writing %s failed: %s", log->label,
                         k < 0 ? strerror(errno) : "nothing written");
            break;
        }
        off += (size_t)k;
    }
    if (st == GA_OK && log->opt.fsync_rows && fsync(log->fd) != 0) {
        log->broken = 1;
        st = ga_fail(err, GA_EIO, "syncing %s failed: %s", log->label, strerror(errno));
    }
    if (masked)
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

static void log_free(ga_normlog *log)
{
    if (!log)
        return;
    if (log->names)
        for (size_t i = 0; i < log->n; i++)
            free(log->names[i]);
    free(log->names);
    free(log->size);
    free(log->label);
    free(log->prev);
    free(log->diff);
    free(log->prev_norm);
    free(log->stats);
    free(log->norm_ratio);
    free(log->update_ratio);
    free(log->norms);
    free(log->vanished);
    free(log->exploded);
    free(log->row);
    free(log);
}

static int header(ga_normlog *log)
{
    static const char *per[] = {"grad_max_abs_", "grad_nan_", "grad_inf_", "update_ratio_",
                                "norm_ratio_", "vanished_", "exploded_"};
    int st = put(log, "step,loss");
    for (size_t t = 0; t < log->n && !st; t++) {
        st = log->opt.lightning_names ? put(log, ",grad_2.0_norm/%s", log->names[t])
                                      : put(log, ",grad_norm_%s", log->names[t]);
        for (size_t k = 0; k < sizeof per / sizeof per[0] && !st; k++)
            st = put(log, ",%s%s", per[k], log->names[t]);
    }
    if (!st)
        st = put(log, ",%s,global_norm_clipped,clipped,clip_max,growth,vanished,exploded,nan_inf,"
                 "vanish_below,explode_above,row_complete" GA_CSV_EOL,
                 log->opt.lightning_names ? "grad_2.0_norm_total" : "global_norm");
    return st;
}

/* The arguments of open, checked before any file is touched; *o the options. */
static int check_open(ga_normlog_options *o, ga_error *err, const char *label,
                      const ga_normlog_tensor *tensors, size_t n_tensors,
                      const ga_normlog_options *opt)
{
    if (!tensors || n_tensors == 0)
        return ga_fail(err, GA_EINVAL, "%s: no tensors to log", label);
    if (opt)
        *o = *opt;
    else
        ga_normlog_options_default(o);
    if (!(o->vanish_below > 0) || !isfinite(o->vanish_below) || !(o->explode_above > 0) ||
        !isfinite(o->explode_above))
        return ga_fail(err, GA_EINVAL, "%s: vanish_below %g and explode_above %g must be "
                       "finite and positive", label, o->vanish_below, o->explode_above);
    if (o->ref_tensor < -1 || (o->ref_tensor >= 0 && (size_t)o->ref_tensor >= n_tensors))
        return ga_fail(err, GA_EINVAL, "%s: ref_tensor %ld is not -1 or a tensor index below %zu",
                       label, o->ref_tensor, n_tensors);
    size_t total = 0;
    for (size_t t = 0; t < n_tensors; t++) {
        const ga_normlog_tensor *x = &tensors[t];
        if (!x->name || !name_ok(x->name))
            return ga_fail(err, GA_EINVAL, "%s: tensor %zu: name '%.200s' is not 1..%d of "
                           "letters, digits and _.:/-[]", label, t, x->name ? x->name : "(null)",
                           GA_NORMLOG_MAX_NAME);
        for (size_t u = 0; u < t; u++)
            if (!strcmp(tensors[u].name, x->name))
                return ga_fail(err, GA_EINVAL, "%s: tensor name '%s' given twice (%zu and %zu)",
                               label, x->name, u, t);
        if (x->ndim > GA_NORMLOG_MAX_DIM)
            return ga_fail(err, GA_EINVAL, "%s: tensor %s: %zu dimensions (at most %d)", label,
                           x->name, x->ndim, GA_NORMLOG_MAX_DIM);
        size_t size = 1;
        for (size_t d = 0; d < x->ndim; d++) {
            if (x->shape[d] == 0)
                return ga_fail(err, GA_EINVAL, "%s: tensor %s: dimension %zu is 0 (a tensor "
                               "without entries has no norm to log)", label, x->name, d);
            if (size > SIZE_MAX / 8 / x->shape[d])
                return ga_fail(err, GA_ERANGE, "%s: tensor %s: the shape's size overflows",
                               label, x->name);
            size *= x->shape[d];
        }
        if (total > SIZE_MAX / 8 - size)
            return ga_fail(err, GA_ERANGE, "%s: the tensors' total size overflows", label);
        total += size;
    }

    return GA_OK;
}

int ga_normlog_open_fd(ga_normlog **out, ga_error *err, int fd, const char *label,
                       const ga_normlog_tensor *tensors, size_t n_tensors,
                       const ga_normlog_options *opt)
{
    if (!out)
        return ga_fail(err, GA_EINVAL, "normlog: no place for the log (out is NULL)");
    *out = NULL;
    if (!label)
        label = "the norms log";
    if (fd < 0)
        return ga_fail(err, GA_EINVAL, "%s: invalid file descriptor %d", label, fd);
    ga_normlog_options o;
    int st = check_open(&o, err, label, tensors, n_tensors, opt);
    if (st != GA_OK)
        return st;

    ga_normlog *log = calloc(1, sizeof *log);
    if (!log)
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", label);
    log->fd = fd;
    log->n = n_tensors;
    log->opt = o;
    log->label = strdup(label);
    log->names = calloc(n_tensors, sizeof *log->names);
    log->size = calloc(n_tensors, sizeof *log->size);
    log->stats = calloc(n_tensors, sizeof *log->stats);
    log->norm_ratio = calloc(n_tensors, sizeof *log->norm_ratio);
    log->update_ratio = calloc(n_tensors, sizeof *log->update_ratio);
    log->norms = calloc(n_tensors, sizeof *log->norms);
    log->vanished = calloc(n_tensors, sizeof *log->vanished);
    log->exploded = calloc(n_tensors, sizeof *log->exploded);
    /* a number is at most 24 bytes with its comma (",-2.2250738585072014e-308"),
     * a header field at most the name + 20 */
    log->row_cap = 64 + 16 * 32 + n_tensors * 8 * (GA_NORMLOG_MAX_NAME + 32);
    log->row = malloc(log->row_cap);
    int ok = log->label && log->names && log->size && log->stats && log->norm_ratio &&
             log->update_ratio && log->norms && log->vanished && log->exploded && log->row;
    for (size_t t = 0; ok && t < n_tensors; t++) {
        log->names[t] = strdup(tensors[t].name);
        ok = log->names[t] != NULL;
        size_t size = 1;
        for (size_t d = 0; d < tensors[t].ndim; d++)
            size *= tensors[t].shape[d];
        log->size[t] = size;
    }
    if (!ok) {
        log_free(log);
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", label);
    }
    log->ref = n_tensors - 1;
    if (o.ref_tensor >= 0)
        log->ref = (size_t)o.ref_tensor;
    else
        for (size_t t = n_tensors; t-- > 0;)
            if (tensors[t].ndim >= 2) {
                log->ref = t;
                break;
            }
    st = header(log);
    if (st == GA_OK)
        st = write_row(log, err);
    else
        ga_fail(err, st, "%s: the header row does not fit", label);
    log->row_len = 0;
    if (st != GA_OK) {
        log_free(log);
        return st;
    }
    *out = log;
    return GA_OK;
}

int ga_normlog_open(ga_normlog **out, ga_error *err, const char *path,
                    const ga_normlog_tensor *tensors, size_t n_tensors,
                    const ga_normlog_options *opt)
{
    if (out)
        *out = NULL;
    if (!path || !*path)
        return ga_fail(err, GA_EINVAL, "normlog: no output file name");
    ga_normlog_options o;
    int st = out ? check_open(&o, err, path, tensors, n_tensors, opt)
                 : ga_fail(err, GA_EINVAL, "normlog: no place for the log (out is NULL)");
    if (st != GA_OK)
        return st; /* refused before the file is touched */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(errno));
    st = ga_normlog_open_fd(out, err, fd, path, tensors, n_tensors, opt);
    if (st != GA_OK) { /* out of memory, or the header could not be written */
        struct stat sb; /* a device or a FIFO (/dev/full, a pipe) is not removed */
        int regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
        close(fd);
        if (regular)
            unlink(path);
        return st;
    }
    (*out)->own_fd = 1;
    return GA_OK;
}

/* One tensor's update: *dnorm = ||p - q||, *pnorm = ||p|| (on entry ||q||), and
 * q = p afterwards; both norms with ga_norm2's bits. Two passes over p and q (a
 * max pass; a pass that sums and copies) where every entry is finite and no
 * exponent is extreme; the plain way through scratch (n) otherwise. This is 4
 * array traversals where ga_norm2 on a difference, ga_norm2(q) and a copy took 9. */
static void update_norms(double *dnorm, double *pnorm, double *q, const double *p, size_t n,
                         double *scratch)
{
    double dmax = 0.0, pmax = 0.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(p[i] - q[i]), b = fabs(p[i]);
        bad |= !(a <= DBL_MAX) | !(b <= DBL_MAX);
        dmax = a > dmax ? a : dmax;
        pmax = b > pmax ? b : pmax;
    }
    if (!bad && dmax == 0.0) { /* p == q: nothing to copy, ||p|| = ||q|| */
        *dnorm = 0.0;
        return;
    }
    int ed, ep;
    (void)frexp(dmax, &ed);
    (void)frexp(pmax, &ep);
    if (bad || ed <= -1021 || ed >= 1022 || ep <= -1021 || ep >= 1022) {
        for (size_t i = 0; i < n; i++)
            scratch[i] = p[i] - q[i];
        *dnorm = ga_norm2(scratch, n);
        *pnorm = ga_norm2(p, n);
        memcpy(q, p, n * sizeof *q);
        return;
    }
    /* as ga_tensor_stats_compute: entry i into sum i mod 4, scaled by 2^-e */
    double sd = ldexp(1.0, -ed), sp = ldexp(1.0, -ep);
    double d0 = 0, d1 = 0, d2 = 0, d3 = 0, p0 = 0, p1 = 0, p2 = 0, p3 = 0;
    size_t i = 0, n4 = n - n % 4;
    for (; i < n4; i += 4) {
        double a0 = (p[i] - q[i]) * sd, a1 = (p[i + 1] - q[i + 1]) * sd,
               a2 = (p[i + 2] - q[i + 2]) * sd, a3 = (p[i + 3] - q[i + 3]) * sd;
        double y0 = p[i] * sp, y1 = p[i + 1] * sp, y2 = p[i + 2] * sp, y3 = p[i + 3] * sp;
        d0 += a0 * a0, d1 += a1 * a1, d2 += a2 * a2, d3 += a3 * a3;
        p0 += y0 * y0, p1 += y1 * y1, p2 += y2 * y2, p3 += y3 * y3;
        q[i] = p[i], q[i + 1] = p[i + 1], q[i + 2] = p[i + 2], q[i + 3] = p[i + 3];
    }
    double a[3] = {0, 0, 0}, y[3] = {0, 0, 0};
    for (size_t k = 0; i + k < n; k++) {
        a[k] = (p[i + k] - q[i + k]) * sd;
        y[k] = p[i + k] * sp;
        q[i + k] = p[i + k];
    }
    d0 += a[0] * a[0], d1 += a[1] * a[1], d2 += a[2] * a[2];
    p0 += y[0] * y[0], p1 += y[1] * y[1], p2 += y[2] * y[2];
    *dnorm = ldexp(sqrt((d0 + d1) + (d2 + d3)), ed);
    *pnorm = ldexp(sqrt((p0 + p1) + (p2 + p3)), ep);
}

int ga_normlog_step(ga_normlog *log, ga_error *err, uint64_t step, double loss,
                    const double *const *grads, const double *const *params,
                    const ga_normlog_clip *clip)
{
    if (!log)
        return ga_fail(err, GA_EINVAL, "normlog: log is NULL");
    if (log->broken)
        return ga_fail(err, GA_EIO, "%s: an earlier write failed; the log takes no more rows",
                       log->label);
    if (!grads)
        return ga_fail(err, GA_EINVAL, "%s: step %llu: grads is NULL", log->label,
                       (unsigned long long)step);
    for (size_t t = 0; t < log->n; t++) {
        if (!grads[t])
            return ga_fail(err, GA_EINVAL, "%s: step %llu: the gradient of %s is NULL",
                           log->label, (unsigned long long)step, log->names[t]);
        if (params && !params[t])
            return ga_fail(err, GA_EINVAL, "%s: step %llu: the parameters of %s are NULL "
                           "(pass params = NULL to log none)", log->label,
                           (unsigned long long)step, log->names[t]);
    }
    if (log->have_step && step <= log->last_step)
        return ga_fail(err, GA_EINVAL, "%s: step %llu does not follow step %llu (steps must "
                       "increase)", log->label, (unsigned long long)step,
                       (unsigned long long)log->last_step);
    if (clip && (!(clip->max_norm > 0) || !isfinite(clip->max_norm) || !(clip->eps >= 0) ||
                 !isfinite(clip->eps)))
        return ga_fail(err, GA_EINVAL, "%s: step %llu: clip max_norm %g must be finite and "
                       "positive, eps %g finite and non-negative", log->label,
                       (unsigned long long)step, clip->max_norm, clip->eps);
    if (params && !log->prev) {
        size_t total = 0, largest = 0; /* sizes were checked at open */
        for (size_t t = 0; t < log->n; t++) {
            total += log->size[t];
            if (log->size[t] > largest)
                largest = log->size[t];
        }
        log->prev = malloc(total * sizeof *log->prev);
        log->diff = malloc(largest * sizeof *log->diff);
        log->prev_norm = malloc(log->n * sizeof *log->prev_norm);
        if (!log->prev || !log->diff || !log->prev_norm) {
            free(log->prev), free(log->diff), free(log->prev_norm);
            log->prev = log->diff = log->prev_norm = NULL;
            return ga_fail(err, GA_ENOMEM, "%s: out of memory for the parameters' copy",
                           log->label);
        }
    }

    int any_nan_inf = 0;
    for (size_t t = 0; t < log->n; t++) {
        ga_tensor_stats_compute(&log->stats[t], grads[t], log->size[t]);
        log->norms[t] = log->stats[t].norm;
        any_nan_inf |= log->stats[t].nan || log->stats[t].inf;
    }
    double global = ga_norm2(log->norms, log->n);
    double ref = log->norms[log->ref];
    int step_van = 0, step_exp = 0;
    for (size_t t = 0; t < log->n; t++) {
        double r = log->norms[t] / ref;
        log->norm_ratio[t] = r;
        log->vanished[t] = ga_health_vanished(log10(r), log->opt.vanish_below);
        log->exploded[t] = ga_health_exploded(log10(r), log->opt.explode_above);
        step_van |= log->vanished[t];
        step_exp |= log->exploded[t];
        log->update_ratio[t] = NAN;
    }
    if (!log->have_step)
        log->first_global = global;
    double growth = global / log->first_global;
    step_exp |= ga_health_exploded(log10(growth), log->opt.explode_above) || !isfinite(global);

    double clipped_norm = global;
    int fired = 0;
    if (clip) {
        double coef = clip->max_norm / (global + clip->eps); /* as ga_clip_global_norm */
        fired = coef < 1.0;
        if (fired)
            clipped_norm = global * coef;
    }
    if (params) {
        size_t off = 0;
        for (size_t t = 0; t < log->n; t++) {
            double *q = log->prev + off, dn;
            if (log->have_params) {
                double qn = log->prev_norm[t];
                update_norms(&dn, &log->prev_norm[t], q, params[t], log->size[t], log->diff);
                log->update_ratio[t] = dn / qn;
            } else {
                memcpy(q, params[t], log->size[t] * sizeof *q);
                log->prev_norm[t] = ga_norm2(q, log->size[t]);
            }
            off += log->size[t];
        }
    }

    log->row_len = 0;
    int st = put(log, "%llu", (unsigned long long)step);
    if (!st) st = put_num(log, loss);
    for (size_t t = 0; t < log->n && !st; t++) {
        const ga_tensor_stats *s = &log->stats[t];
        st = put_num(log, s->norm);
        if (!st) st = put_num(log, s->max_abs);
        if (!st) st = put(log, ",%zu,%zu", s->nan, s->inf);
        if (!st) st = isnan(log->update_ratio[t]) && !(params && log->have_params)
                          ? put(log, ",")
                          : put_num(log, log->update_ratio[t]);
        if (!st) st = put_num(log, log->norm_ratio[t]);
        if (!st) st = put(log, ",%d,%d", log->vanished[t], log->exploded[t]);
    }
    if (!st) st = put_num(log, global);
    if (!st) st = put_num(log, clipped_norm);
    if (!st) st = put(log, ",%d", fired);
    if (!st) st = clip ? put_num(log, clip->max_norm) : put(log, ",");
    if (!st) st = put_num(log, growth);
    if (!st) st = put(log, ",%d,%d,%d", step_van, step_exp, any_nan_inf);
    if (!st) st = put_num(log, log->opt.vanish_below);
    if (!st) st = put_num(log, log->opt.explode_above);
    /* the last field, so a row cut short anywhere lacks it (ga_normlog.h) */
    if (!st) st = put(log, ",1" GA_CSV_EOL);
    if (st)
        return ga_fail(err, st, "%s: step %llu: the row does not fit its buffer", log->label,
                       (unsigned long long)step);
    st = write_row(log, err);
    if (st)
        return st;

    log->have_step = 1;
    log->have_params |= params != NULL;
    log->last_step = step;
    log->last = (ga_normlog_last){.step = step, .tensors = log->stats,
                                  .norm_ratio = log->norm_ratio,
                                  .update_ratio = log->update_ratio,
                                  .vanished = log->vanished, .exploded = log->exploded,
                                  .global_norm = global, .global_norm_clipped = clipped_norm,
                                  .growth = growth, .clipped = fired, .step_vanished = step_van,
                                  .step_exploded = step_exp, .nan_inf = any_nan_inf};
    return GA_OK;
}

int ga_normlog_last_step(ga_normlog_last *out, const ga_normlog *log)
{
    if (!out || !log || !log->have_step)
        return GA_EINVAL;
    *out = log->last;
    return GA_OK;
}

int ga_normlog_repair(ga_error *err, const char *path, size_t *cut)
{
    if (cut)
        *cut = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return ga_fail(err, GA_EIO, "cannot open %s: %s", path, strerror(errno));
    off_t end = lseek(fd, 0, SEEK_END), pos = end;
    char buf[4096];
    int st = GA_OK, found = 0;
    while (pos > 0 && !found) {
        size_t k = pos < (off_t)sizeof buf ? (size_t)pos : sizeof buf;
        pos -= (off_t)k;
        if (pread(fd, buf, k, pos) != (ssize_t)k) {
            st = ga_fail(err, GA_EIO, "reading %s failed: %s", path, strerror(errno));
            break;
        }
        for (size_t i = k; i-- > 0;)
            if (buf[i] == '\n') {
                pos += (off_t)i + 1;
                found = 1;
                break;
            }
    }
    if (st == GA_OK && !found)
        st = ga_fail(err, GA_EINVAL, "%s: no complete line (not a norms log?)", path);
    if (st == GA_OK && pos < end && ftruncate(fd, pos) != 0)
        st = ga_fail(err, GA_EIO, "truncating %s failed: %s", path, strerror(errno));
    if (st == GA_OK && cut)
        *cut = (size_t)(end - pos);
    close(fd);
    return st;
}

int ga_normlog_close(ga_normlog *log, ga_error *err)
{
    if (!log)
        return GA_OK;
    int st = log->broken ? ga_fail(err, GA_EIO, "%s: a write had failed", log->label) : GA_OK;
    if (log->own_fd && close(log->fd) != 0 && st == GA_OK)
        st = ga_fail(err, GA_EIO, "closing %s failed: %s", log->label, strerror(errno));
    log_free(log);
    return st;
}
