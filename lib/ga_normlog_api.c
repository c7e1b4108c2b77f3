/* ga_normlog_api.c: gradaudit.h's gradient-norm log, over core/'s ga_normlog.
 * The public types mirror core's field by field and are copied across, so the
 * public header needs none of core's. */
#include <stdlib.h>

#include "ga_lib.h"
#include "ga_normlog.h"

_Static_assert(GRADAUDIT_NORMLOG_MAX_DIM == GA_NORMLOG_MAX_DIM &&
                   GRADAUDIT_NORMLOG_MAX_NAME == GA_NORMLOG_MAX_NAME,
               "gradaudit.h's normlog limits are core's");

struct gradaudit_normlog {
    ga_normlog *log;
    size_t n;                      /* tensors */
    gradaudit_tensor_stats *stats; /* (n) the last step's, for gradaudit_normlog_last_step */
};

static void stats_out(gradaudit_tensor_stats *out, const ga_tensor_stats *s)
{
    *out = (gradaudit_tensor_stats){s->norm, s->max_abs, s->nan, s->inf};
}

void gradaudit_tensor_stats_compute(gradaudit_tensor_stats *out, const double *x, size_t n)
{
    ga_tensor_stats s;
    ga_tensor_stats_compute(&s, x, n);
    stats_out(out, &s);
}

double gradaudit_norm2(const double *x, size_t n)
{
    return ga_norm2(x, n);
}

void gradaudit_normlog_options_default(gradaudit_normlog_options *opt)
{
    ga_normlog_options o;
    ga_normlog_options_default(&o);
    *opt = (gradaudit_normlog_options){o.lightning_names, o.vanish_below, o.explode_above,
                                       o.ref_tensor, o.fsync_rows};
}

/* Both opens: path (by_fd 0) or fd. The wrapper and core's copy of the tensors
 * in one allocation, refused above core's memory cap before tensors is read. */
static int open_any(gradaudit_normlog **out, ga_error *err, const char *path, int by_fd, int fd,
                    const char *label, const gradaudit_normlog_tensor *tensors, size_t n,
                    const gradaudit_normlog_options *opt)
{
    if (!out)
        return ga_fail(err, GA_EINVAL, "normlog: no place for the log (out is NULL)");
    *out = NULL;
    const size_t per = sizeof(ga_normlog_tensor) + sizeof(gradaudit_tensor_stats);
    if (n > GA_DEFAULT_MEMORY_CAP / per)
        return ga_fail(err, GA_ENOMEM, "normlog: %zu tensors need more than the %zu-byte memory cap",
                       n, (size_t)GA_DEFAULT_MEMORY_CAP);
    gradaudit_normlog *log = malloc(sizeof *log + n * per);
    if (!log)
        return ga_fail(err, GA_ENOMEM, "normlog: out of memory for %zu tensors", n);
    log->n = n;
    log->stats = (gradaudit_tensor_stats *)(log + 1);
    ga_normlog_tensor *t = (ga_normlog_tensor *)(log->stats + n);
    for (size_t i = 0; tensors && i < n; i++) {
        t[i].name = tensors[i].name;
        t[i].ndim = tensors[i].ndim;
        memcpy(t[i].shape, tensors[i].shape, sizeof t[i].shape);
    }
    ga_normlog_options o, *op = NULL;
    if (opt) {
        o = (ga_normlog_options){opt->lightning_names, opt->vanish_below, opt->explode_above,
                                 opt->ref_tensor, opt->fsync_rows};
        op = &o;
    }
    const ga_normlog_tensor *tp = tensors ? t : NULL;
    int st = by_fd ? ga_normlog_open_fd(&log->log, err, fd, label, tp, n, op)
                   : ga_normlog_open(&log->log, err, path, tp, n, op);
    if (st != GA_OK) {
        free(log);
        return st;
    }
    *out = log;
    return GA_OK;
}

int gradaudit_normlog_open(gradaudit_normlog **out, gradaudit_error *err, const char *path,
                           const gradaudit_normlog_tensor *tensors, size_t n_tensors,
                           const gradaudit_normlog_options *opt)
{
    ga_error e;
    e.msg[0] = '\0';
    return ga_lib_pass_error(err, &e,
                             open_any(out, err ? &e : NULL, path, 0, -1, path, tensors, n_tensors, opt));
}

int gradaudit_normlog_open_fd(gradaudit_normlog **out, gradaudit_error *err, int fd,
                              const char *label, const gradaudit_normlog_tensor *tensors,
                              size_t n_tensors, const gradaudit_normlog_options *opt)
{
    ga_error e;
    e.msg[0] = '\0';
    return ga_lib_pass_error(err, &e, open_any(out, err ? &e : NULL, NULL, 1, fd, label, tensors,
                                               n_tensors, opt));
}

int gradaudit_normlog_step(gradaudit_normlog *log, gradaudit_error *err, uint64_t step,
                           double loss, const double *const *grads,
                           const double *const *params, const gradaudit_normlog_clip *clip)
{
    ga_error e;
    e.msg[0] = '\0';
    ga_normlog_clip c;
    if (clip)
        c = (ga_normlog_clip){clip->max_norm, clip->eps};
    return ga_lib_pass_error(err, &e,
                             ga_normlog_step(log ? log->log : NULL, err ? &e : NULL, step, loss,
                                             grads, params, clip ? &c : NULL));
}

int gradaudit_normlog_last_step(gradaudit_normlog_last *out, const gradaudit_normlog *log)
{
    if (!out || !log)
        return GA_EINVAL;
    ga_normlog_last l;
    int st = ga_normlog_last_step(&l, log->log);
    if (st != GA_OK)
        return st;
    for (size_t t = 0; t < log->n; t++)
        stats_out(&log->stats[t], &l.tensors[t]);
    *out = (gradaudit_normlog_last){
        .step = l.step, .tensors = log->stats, .norm_ratio = l.norm_ratio,
        .update_ratio = l.update_ratio, .vanished = l.vanished, .exploded = l.exploded,
        .global_norm = l.global_norm, .global_norm_clipped = l.global_norm_clipped,
        .growth = l.growth, .clipped = l.clipped, .step_vanished = l.step_vanished,
        .step_exploded = l.step_exploded, .nan_inf = l.nan_inf};
    return GA_OK;
}

int gradaudit_normlog_repair(gradaudit_error *err, const char *path, size_t *cut)
{
    ga_error e;
    e.msg[0] = '\0';
    return ga_lib_pass_error(err, &e, ga_normlog_repair(err ? &e : NULL, path, cut));
}

int gradaudit_normlog_close(gradaudit_normlog *log, gradaudit_error *err)
{
    if (!log)
        return GA_OK;
    ga_error e;
    e.msg[0] = '\0';
    int st = ga_normlog_close(log->log, err ? &e : NULL);
    free(log);
    return ga_lib_pass_error(err, &e, st);
}
