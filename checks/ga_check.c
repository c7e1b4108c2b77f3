/* ga_check.c: per-entry verdicts, the report, its printer and CSV writer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_csv.h"
#include "ga_enclose.h"
#include "ga_loss_internal.h"
#include "ga_io.h"
#include "ga_rounding.h"

static const char *const method_names[GA_CHECK_COUNT] = {"oracle", "central", "gsl", "ridders",
                                                          "forward"};

const char *ga_check_method_name(ga_check_method m)
{
    return (unsigned)m < GA_CHECK_COUNT ? method_names[m] : "?";
}

int ga_check_method_from_name(ga_check_method *out, const char *name)
{
    for (int i = 0; i < GA_CHECK_COUNT; i++)
        if (name && !strcmp(name, method_names[i])) {
            *out = (ga_check_method)i;
            return GA_OK;
        }
    return GA_EINVAL;
}

const char *ga_verdict_name(ga_verdict v)
{
    switch (v) {
    case GA_VERDICT_PASS: return "pass";
    case GA_VERDICT_FAIL: return "FAIL";
    case GA_VERDICT_KINK: return "kink";
    case GA_VERDICT_UNJUDGEABLE: return "unjudgeable";
    default: return "?";
    }
}

void ga_check_options_default(ga_check_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->method = GA_CHECK_ORACLE;
    opt->seed = 1;
    opt->top_k = 10;
    opt->cross_check = 2; /* every run: route (b) against route (a) on 2 entries */
    opt->analytic_loss = NAN;
    ga_oracle_options_default(&opt->oracle);
}

/* the precision's name in verdicts' reasons: "double" as they have always said */
static const char *prec_word(ga_precision p)
{
    return p == GA_PREC_FLOAT32 ? "float32" : "double";
}

/* ga_compare with the ulps and the words of the precision that computed `analytic` */
static ga_verdict compare_in(ga_precision prec, char *reason, size_t size, double analytic,
                             double ref, double tol)
{
    if (isnan(analytic)) {
        snprintf(reason, size, "analytic gradient is NaN");
        return GA_VERDICT_FAIL;
    }
    if (isinf(analytic)) {
        /* an infinity is right where the exact value rounds to it in the
         * precision that computed the analytic value (float32 overflows at
         * 3.4e38, where the double reference is finite) */
        if (analytic == ga_round_to(prec, ref)) {
            if (isinf(ref))
                snprintf(reason, size, "analytic and reference are both %s", analytic > 0 ? "+inf" : "-inf");
            else
                snprintf(reason, size, "analytic %s is the exact value %.17g rounded to %s",
                         analytic > 0 ? "+inf" : "-inf", ref, ga_precision_name(prec));
            return GA_VERDICT_PASS;
        }
        snprintf(reason, size, "analytic gradient is %s, reference %.17g", analytic > 0 ? "+inf" : "-inf",
                 ref);
        return GA_VERDICT_FAIL;
    }
    if (!isfinite(ref)) {
        snprintf(reason, size, "reference is %s while the analytic gradient is finite",
                 isnan(ref) ? "NaN" : "infinite");
        return GA_VERDICT_FAIL;
    }
    if (isnan(tol)) {
        /* no number bounds this entry's error: saying pass or FAIL would be a guess */
        snprintf(reason, size, "not judgeable in %s: its error bound could not be formed "
                               "(the %s pass overflows on its way)", prec_word(prec), prec_word(prec));
        return GA_VERDICT_UNJUDGEABLE;
    }
    double d = fabs(analytic - ref);
    uint64_t ulps = ga_ulp_distance_in(prec, analytic, ref);
    if (d <= tol) {
        snprintf(reason, size, "|diff| %.3g <= tol %.3g (%llu ulps)", d, tol, (unsigned long long)ulps);
        return GA_VERDICT_PASS;
    }
    snprintf(reason, size, "|diff| %.3g > tol %.3g (%.3g x tol, %llu ulps, rel %.3g)", d, tol,
             tol > 0 ? d / tol : INFINITY, (unsigned long long)ulps,
             ref != 0 ? d / fabs(ref) : INFINITY);
    return GA_VERDICT_FAIL;
}

int ga_check_bytes(size_t *out, const ga_net_desc *d, size_t n_params, size_t batch)
{
    size_t n, t, units = 0, maxw = d->n_in, zs, bw;
    for (size_t l = 0; l < d->n_layers; l++) {
        if (!ga_size_add(&units, units, d->layers[l].n_out))
            return GA_ERANGE;
        if (d->layers[l].n_out > maxw)
            maxw = d->layers[l].n_out;
    }
    if (ga_enclosure_bytes(&n, d, n_params, batch) != GA_OK)
        return GA_ERANGE;
    int ok = ga_size_mul(&zs, units, batch) && ga_size_mul(&bw, batch, maxw);
    /* the report's entries, its tensors' rows (2 a layer) and its top list */
    ok = ok && ga_size_mul(&t, sizeof(ga_check_entry) + sizeof(size_t), n_params) &&
         ga_size_add(&n, n, t);
    ok = ok && ga_size_mul(&t, 2 * sizeof(ga_check_layer), d->n_layers) && ga_size_add(&n, n, t);
    /* the gradient and its two bounds (3 P), the running bound (2 P + 2 zs),
     * the workspace (3 zs + 2 B maxw + a conv's or an attention's scratch),
     * all doubles */
    ok = ok && ga_size_mul(&t, 5 * sizeof(double), n_params) && ga_size_add(&n, n, t);
    ok = ok && ga_size_mul(&t, 5 * sizeof(double), zs) && ga_size_add(&n, n, t);
    ok = ok && ga_size_mul(&t, 2 * sizeof(double), bw) && ga_size_add(&n, n, t);
    ok = ok && ga_workspace_scratch(&t, d) == GA_OK && ga_size_mul(&t, sizeof(double), t) &&
         ga_size_add(&n, n, t);
    if (!ok)
        return GA_ERANGE;
    *out = n;
    return GA_OK;
}

ga_verdict ga_compare(char *reason, size_t size, double analytic, double ref, double tol)
{
    return compare_in(GA_PREC_FLOAT64, reason, size, analytic, ref, tol);
}

void ga_check_report_free(ga_check_report *r)
{
    if (!r)
        return;
    free(r->entries);
    free(r->layers);
    free(r->top);
    free(r);
}

static ga_fd_method fd_of(ga_check_method m)
{
    switch (m) {
    case GA_CHECK_CENTRAL: return GA_FD_CENTRAL;
    case GA_CHECK_GSL: return GA_FD_GSL;
    case GA_CHECK_RIDDERS: return GA_FD_RIDDERS;
    case GA_CHECK_FORWARD: return GA_FD_FORWARD;
    default: return GA_FD_COUNT;
    }
}

/* "z2[0,3]" (batch > 1) or "z2[3]": pre-activation k of sample n, layer l */
static void z_name(char *buf, size_t size, size_t l, size_t n, size_t k, size_t batch)
{
    if (batch == 1)
        snprintf(buf, size, "z%zu[%zu]", l + 1, k);
    else
        snprintf(buf, size, "z%zu[%zu,%zu]", l + 1, n, k);
}

/* The first pre-activation whose enclosure straddles a kink on the paths of
 * an entry of layer `layer` feeding unit k: its own unit in its own layer
 * (any sample), or any unit of a layer above. 0 when there is none. */
static int kink_reason(char *buf, size_t size, const ga_enclosure *enc, const ga_net *net,
                       size_t layer, size_t k, size_t batch)
{
    const ga_net_desc *d = &net->desc;
    for (size_t l = layer; l < d->n_layers; l++) {
        size_t no = d->layers[l].n_out;
        for (size_t n = 0; n < batch; n++)
            for (size_t u = l == layer ? k : 0; u < (l == layer ? k + 1 : no); u++) {
                size_t i = n * no + u;
                if (!enc->amb[l][i])
                    continue;
                char zn[96];
                z_name(zn, sizeof zn, l, n, u, batch);
                if (d->layers[l].kind == GA_LAYER_MAXPOOL)
                    snprintf(buf, size, "max pool output %.60s: its window's largest entries tie "
                             "(a kink)", zn);
                else if (enc->z_lo[l][i] == 0 && enc->z_hi[l][i] == 0)
                    snprintf(buf, size, "%s = 0 is exactly at %s's kink", zn,
                             ga_activation_name(d->layers[l].act));
                else
                    snprintf(buf, size, "%s in [%.3g, %.3g] may lie on either side of %s's kink", zn,
                             enc->z_lo[l][i], enc->z_hi[l][i], ga_activation_name(d->layers[l].act));
                return 1;
            }
    }
    return 0;
}

/* The first pre-activation whose slope (or, at the output of a fused loss,
 * dL/dz) the forward pass left without a correct digit. 0 when there is
 * none. */
static int lost_reason(char *buf, size_t size, const ga_enclosure *enc, const ga_net *net,
                       size_t batch)
{
    const ga_net_desc *d = &net->desc;
    for (size_t l = 0; l < d->n_layers; l++) {
        size_t no = d->layers[l].n_out;
        for (size_t i = 0; i < batch * no; i++)
            if (enc->lost[l][i]) {
                char zn[96];
                z_name(zn, sizeof zn, l, i / no, i % no, batch);
                snprintf(buf, size, "the forward pass lost every digit of %.60s's %s (%.60s in [%.3g, %.3g])",
                         zn, l + 1 == d->n_layers && ga_loss_fuses_output(d->loss.kind) ? "dL/dz"
                                                                                          : "slope",
                         zn, enc->z_lo[l][i], enc->z_hi[l][i]);
                return 1;
            }
    }
    return 0;
}

/* GA_EFAIL when a value of the double forward pass in ws lies outside its
 * proven enclosure: the core's forward pass (or the enclosure) is wrong, and
 * no enclosure built on that pass can be trusted. */
static int forward_inside(ga_error *err, const ga_enclosure *enc, const ga_net *net,
                          const ga_workspace *ws, size_t batch)
{
    const ga_net_desc *d = &net->desc;
    for (size_t l = 0; l < d->n_layers; l++)
        for (size_t i = 0; i < batch * d->layers[l].n_out; i++) {
            double z = ws->z[l][i], a = ws->a[l][i];
            /* inf - inf is a double's answer where both ends may overflow */
            int nan_ok = isinf(enc->z_lo[l][i]) && isinf(enc->z_hi[l][i]);
            if (isnan(z) && nan_ok)
                return GA_OK; /* every later value may be NaN too */
            int z_in = z >= enc->z_lo[l][i] && z <= enc->z_hi[l][i];
            if (z_in && a >= enc->a_lo[l][i] && a <= enc->a_hi[l][i])
                continue;
            char zn[96];
            size_t no = d->layers[l].n_out;
            z_name(zn, sizeof zn, l, i / no, i % no, batch);
            if (!z_in)
                return ga_fail(err, GA_EFAIL,
                               "check: internal inconsistency: the double forward pass's %s = %.17g "
                               "lies outside its proven enclosure [%.17g, %.17g]",
                               zn, z, enc->z_lo[l][i], enc->z_hi[l][i]);
            return ga_fail(err, GA_EFAIL,
                           "check: internal inconsistency: the double forward pass's activation of "
                           "%s = %.17g lies outside its proven enclosure [%.17g, %.17g]",
                           zn, a, enc->a_lo[l][i], enc->a_hi[l][i]);
        }
    return GA_OK;
}

/* The oracle method's verdict on one entry: the analytic value against the
 * proven enclosure [lo, hi] of every value a correct double computation can
 * produce (ga_enclose.h), which holds the exact value and so the oracle's
 * correctly rounded one. The tolerance reported is the distance from the
 * oracle to the enclosure's end on the analytic value's side, so that
 * |analytic - oracle| <= tol says exactly "inside". GA_EFAIL when the
 * oracle lies outside the enclosure: one of the two is wrong, and no
 * verdict built on them can stand. */
static int judge_enclosed(ga_check_entry *e, ga_error *err, ga_precision prec, double lo,
                          double hi, int kinked, const char *kreason, const char *lreason,
                          int settled)
{
    const char *pname = prec_word(prec);
    double a = e->analytic, ref = e->oracle;
    if (!settled) {
        /* the oracle's best value is no reference: membership alone */
        e->ref = ref;
        e->lo = lo;
        e->hi = hi;
        e->bound = e->tol = fmax(hi - ref, ref - lo);
        if (kinked) {
            e->slope_lo = lo;
            e->slope_hi = hi;
        }
        int in = isfinite(a) && a >= lo && a <= hi;
        e->verdict = !in ? GA_VERDICT_FAIL : kinked ? GA_VERDICT_KINK : GA_VERDICT_PASS;
        snprintf(e->reason, sizeof e->reason,
                 "%s%sthe oracle could not settle this entry (a kink's side it cannot prove); "
                 "analytic %.17g lies %s the whole proven enclosure [%.17g, %.17g]",
                 kinked ? kreason : "", kinked ? "; " : "", a, in ? "within" : "outside", lo, hi);
        return GA_OK;
    }
    e->ref = ref;
    e->lo = lo;
    e->hi = hi;
    e->bound = fmax(hi - ref, ref - lo);
    e->tol = a >= ref ? hi - ref : ref - lo;
    if (isnan(e->tol)) /* an infinite oracle at an infinite end */
        e->tol = a == ref ? 0.0 : INFINITY;
    if (isnan(e->bound))
        e->bound = INFINITY;
    if (!(lo <= ref && ref <= hi))
        return ga_fail(err, GA_EFAIL,
                       "check: internal inconsistency at %s: the oracle's %.17g lies outside the "
                       "proven enclosure [%.17g, %.17g] of the exact value",
                       e->name, ref, lo, hi);
    if (kinked) {
        e->slope_lo = lo;
        e->slope_hi = hi;
    }
    if (isinf(a) && a != ga_round_to(prec, ref) && a >= lo && a <= hi) {
        /* an infinity a correct computation can give (its enclosure reaches
         * it: the pass may overflow on the way) where the exact value is
         * finite in the precision: no verdict can be had in the precision */
        e->verdict = GA_VERDICT_UNJUDGEABLE;
        snprintf(e->reason, sizeof e->reason,
                 "not judgeable in %s: analytic %s, exact %.17g; a correct %s computation of "
                 "this entry can overflow (its enclosure is [%.3g, %.3g])", pname,
                 a > 0 ? "+inf" : "-inf", ref, pname, lo, hi);
        return GA_OK;
    }
    if (!isfinite(a)) {
        /* NaN, or an infinity outside the enclosure, fails; an infinity the
         * exact value rounds to in the precision passes */
        e->verdict = compare_in(prec, e->reason, sizeof e->reason, a, ref, e->tol);
        return GA_OK;
    }
    if (!(a >= lo && a <= hi)) {
        e->verdict = GA_VERDICT_FAIL;
        if (kinked)
            snprintf(e->reason, sizeof e->reason,
                     "%s; analytic %.17g lies outside the proven interval [%.17g, %.17g]", kreason, a,
                     lo, hi);
        else
            compare_in(prec, e->reason, sizeof e->reason, a, ref, e->tol);
        return GA_OK;
    }
    if (!isfinite(lo) || !isfinite(hi)) {
        e->verdict = GA_VERDICT_UNJUDGEABLE;
        snprintf(e->reason, sizeof e->reason,
                 "%s%snot judgeable in %s: a correct %s computation of this entry can "
                 "overflow (its enclosure is [%.3g, %.3g])", kinked ? kreason : "",
                 kinked ? "; " : "", pname, pname, lo, hi);
        return GA_OK;
    }
    if (kinked) {
        e->verdict = GA_VERDICT_KINK;
        snprintf(e->reason, sizeof e->reason,
                 "%s; analytic %.6g lies within the proven interval [%.6g, %.6g]", kreason, a, lo, hi);
        return GA_OK;
    }
    /* 0, -ref and 2 ref all inside: neither a dropped term, nor a flipped
     * sign, nor a doubled value could be told from a correct one */
    if (ref != 0 && lo <= fmin(-ref, 2 * ref) && hi >= fmax(-ref, 2 * ref)) {
        e->verdict = GA_VERDICT_UNJUDGEABLE;
        snprintf(e->reason, sizeof e->reason,
                 "not judgeable in %s: %s; its enclosure [%.3g, %.3g] holds 0, -exact and "
                 "2 exact alike", pname, lreason ? lreason : "rounding can move this entry by more "
                 "than its own size", lo, hi);
        return GA_OK;
    }
    e->verdict = compare_in(prec, e->reason, sizeof e->reason, a, ref, e->tol);
    return GA_OK;
}

/* A NaN or infinite analytic entry of a net whose double loss is not finite
 * comes from the double pass overflowing before it comes from any formula:
 * the reason says so (the verdict stays FAIL: the number is unusable). */
static void append_overflow(char *reason, size_t size, double loss, ga_precision prec)
{
    size_t n = strlen(reason);
    if (n + 1 < size)
        snprintf(reason + n, size - n, " (the %s loss is %s: the %s pass overflowed)",
                 prec_word(prec), isnan(loss) ? "NaN" : loss > 0 ? "+inf" : "-inf",
                 prec_word(prec));
}

/* When several samples sit at kinks, the batch's one-sided slopes (every
 * sample moved the same way) need not bracket a valid analytic value: each
 * sample at a kink may take either branch. The values those choices reach
 * are the sum over samples of [min, max] of each sample's two one-sided
 * slopes: into [*lo, *hi], with *e_out the sum of their error estimates.
 * Each sample's loss is that of a batch of one: the reduction's 1/B and the
 * weight decay, which every sample's loss carries once and the batch's once,
 * are mapped back. loss_err is the batch loss's bound; a sample's loss is at
 * most B times larger. */
static int kink_hull(double *lo, double *hi, double *e_out, ga_error *err, const ga_net *net,
                     const double *params, const double *x, const double *y, size_t batch,
                     double loss_err, size_t i)
{
    const ga_net_desc *d = &net->desc;
    size_t n_in = d->n_in, n_out = d->layers[d->n_layers - 1].n_out, row, col;
    const ga_view *v = ga_net_locate(&row, &col, net, i);
    double c = d->loss.reduction == GA_REDUCE_SUM ? 1.0 : 1.0 / (double)batch;
    double wd = v && !v->is_bias ? d->loss.weight_decay * params[i] : 0.0;
    double slo = 0, shi = 0, e = 0;
    for (size_t n = 0; n < batch; n++) {
        ga_fd_ctx *one;
        ga_fd_result rp, rm;
        int status = ga_fd_ctx_alloc(&one, err, net, params, x + n * n_in, y + n * n_out, 1,
                                     loss_err * (double)batch);
        if (status)
            return status;
        if ((status = ga_fd_one_sided(&rp, err, one, i, +1, 0.0)) ||
            (status = ga_fd_one_sided(&rm, err, one, i, -1, 0.0))) {
            ga_fd_ctx_free(one);
            return status;
        }
        ga_fd_ctx_free(one);
        slo += fmin(rp.value, rm.value) - wd;
        shi += fmax(rp.value, rm.value) - wd;
        e += rp.trunc + rp.round + rm.trunc + rm.round;
    }
    *lo = wd + c * slo;
    *hi = wd + c * shi;
    *e_out = c * e;
    return GA_OK;
}

double ga_check_entry_ratio(const ga_check_entry *e)
{
    if (e->verdict == GA_VERDICT_FAIL && !(e->abs_err > e->tol))
        return INFINITY; /* NaN analytic etc. */
    if (e->tol > 0)
        return e->abs_err / e->tol;
    return e->abs_err > 0 ? INFINITY : 0.0;
}

/* sort key of an entry for the worst-k list: FAIL first, then by |diff| / tol */
typedef struct {
    int fail;
    double ratio;
    size_t index;
} top_key;

static int cmp_top(const void *pa, const void *pb)
{
    const top_key *a = pa, *b = pb;
    if (a->fail != b->fail)
        return b->fail - a->fail;
    if (a->ratio > b->ratio)
        return -1;
    if (a->ratio < b->ratio)
        return 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* The enclosure's and the oracle's progress (ga_enclosure.progress,
 * ga_oracle_options.progress) as check's phases: "enclosure", "backward
 * bound" (the enclosure's "backward"), "oracle" (the oracle's "gradient")
 * and "cross-check"; ctx is the options. */
static void told_progress(void *ctx, const char *stage, size_t done, size_t total)
{
    const ga_check_options *opt = ctx;
    const char *phase = !strcmp(stage, "gradient") ? "oracle"
                        : !strcmp(stage, "backward") ? "backward bound" : stage;
    opt->progress(opt->progress_ctx, phase, done, total);
}

int ga_check_run(ga_check_report **out, ga_error *err, const ga_net *net, const double *params,
                 const double *x, const double *y, size_t batch, const ga_check_options *opt_in)
{
    *out = NULL;
    ga_check_options dflt;
    if (!opt_in) {
        ga_check_options_default(&dflt);
        opt_in = &dflt;
    }
    const ga_check_options *opt = opt_in;
    if (!net || !params || !x || !y)
        return ga_fail(err, GA_EINVAL, "check: missing net, parameters or data");
    if (batch == 0)
        return ga_fail(err, GA_EINVAL, "check: batch size must be at least 1");
    int ids = ga_net_check_ids(err, &net->desc, x, batch);
    if (ids)
        return ids;
    if ((unsigned)opt->method >= GA_CHECK_COUNT)
        return ga_fail(err, GA_EINVAL, "check: unknown method %d", (int)opt->method);
    if (opt->precision != GA_PREC_FLOAT64 &&
        (opt->method != GA_CHECK_ORACLE || !opt->analytic || !opt->analytic_own_forward))
        return ga_fail(err, GA_EINVAL,
                       "check: a %s gradient is judged by the oracle method, given as `analytic` "
                       "with analytic_own_forward set (the core computes in float64)",
                       ga_precision_name(opt->precision));
    size_t P = net->n_params;

    int status = GA_OK;
    ga_check_report *r = calloc(1, sizeof *r);
    ga_workspace *ws = NULL;
    ga_bound *bd = NULL;
    ga_rounding *rd = NULL;
    ga_fd_ctx *fd = NULL;
    ga_enclosure *enc = NULL;
    ga_oracle *orc = NULL;
    int by_oracle = opt->method == GA_CHECK_ORACLE;
    /* the enclosure of the analytic gradient's backward pass from its own
     * forward values applies: the core's, or one whose forward values came
     * with it (docs/verdicts.md) */
    int tight = !(opt->analytic && opt->analytic_own_forward) || opt->analytic_forward;
    int chain = ga_net_desc_is_chain(&net->desc), attention = 0;
    for (size_t l = 0; l < net->desc.n_layers; l++)
        attention |= net->desc.layers[l].kind == GA_LAYER_ATTENTION;
    /* a graph's backward pass alone is enclosed from the forward values the
     * workspace holds; an attention's weights are recomputed there as the
     * double core, or in float32 the float32 core, computes them: so with a
     * float64 gradient only for the core's own forward pass */
    tight = tight && (chain || !(opt->analytic_forward && attention &&
                                 opt->precision != GA_PREC_FLOAT32));
    double *grad = malloc(3 * P * sizeof *grad);
    if (!chain && !by_oracle) {
        status = ga_fail(err, GA_EINVAL, "check: a net with layers other than dense is judged by "
                         "the oracle method only (the finite-difference methods' bounds are passes "
                         "over dense layers)");
        goto out;
    }
    if (!r || !grad) {
        status = ga_fail(err, GA_ENOMEM, "check: out of memory (%zu parameters)", P);
        goto out;
    }
    double *blo = grad + P, *bhi = grad + 2 * P;
    r->method = opt->method;
    r->precision = opt->precision;
    /* a core built -Ofast (-Dcore_fast_math=true): its gradient, and one
     * derived from its forward pass, are fast-math code's */
    r->fast_math = opt->fast_math ||
                   (ga_core_fast_math() && !(opt->analytic && opt->analytic_own_forward));
    r->seed = opt->seed;
    r->batch = batch;
    r->n_entries = P;
    r->n_layers = net->n_views;
    r->entries = calloc(P, sizeof *r->entries);
    r->layers = calloc(net->n_views, sizeof *r->layers);
    if (!r->entries || !r->layers) {
        status = ga_fail(err, GA_ENOMEM, "check: out of memory for %zu report entries", P);
        goto out;
    }

    if (opt->progress)
        opt->progress(opt->progress_ctx, "bounds", 0, P);
    /* analytic gradient and its running error bound */
    if ((status = ga_workspace_alloc(&ws, err, net, batch)))
        goto out;
    if ((status = ga_bound_alloc(&bd, err, net, batch)))
        goto out;
    if ((status = ga_bound_compute(bd, err, ws, net, params, x, y, batch)))
        goto out;
    r->loss = bd->loss;
    r->gamma_n = bd->n_grad;
    r->gamma = bd->gamma_grad;
    if (by_oracle) {
        /* Verdicts against the proven enclosure (ga_enclose.h): valid in
         * every region, forward rounding, saturation, kinks, underflow and
         * overflow included, where the first-order bound and the Monte Carlo
         * scale each fail somewhere (shared/cases/verdicts). */
        if ((status = ga_enclosure_alloc(&enc, err, net, batch)))
            goto out;
        if (opt->progress) {
            enc->progress = told_progress;
            enc->progress_ctx = (void *)opt;
        }
        /* the core's forward pass must lie in the enclosure: not checked where
         * an -Ofast core's (-Dcore_fast_math=true) meets the IEEE model, which
         * another program's gradient is judged by */
        if ((status = ga_enclosure_compute(enc, err, net, opt->precision, r->fast_math, params, x,
                                           y, batch)) ||
            ((r->fast_math || !ga_core_fast_math()) &&
             (status = forward_inside(err, enc, net, ws, batch))) ||
            (opt->analytic_forward &&
             (status = forward_inside(err, enc, net, opt->analytic_forward, batch))))
            goto out;
        /* The whole enclosure is a worst case over both passes' roundings,
         * whose forward part grows with width and depth like sum |W| per
         * layer. For a gradient computed from the core's own forward pass,
         * that pass is known: its backward pass lies in the far tighter
         * enclosure built on it, and the forward pass's effect is the
         * distance from there to the exact value (the oracle), taken whole
         * below. Both enclosures hold the core's gradient, so their
         * intersection does. */
        if (tight && (status = ga_enclosure_backward_from(
                          blo, bhi, err, enc, net, opt->precision, r->fast_math, params, x, y,
                          batch, opt->analytic_forward ? opt->analytic_forward : ws)))
            goto out;
    } else {
        /* The finite-difference methods: the worst-case bound above is, for
         * wide or deep nets, loose by orders of magnitude (|W| sums grow like
         * sqrt(fan-in) per layer where the signed sums do not). Each bound
         * below is the smaller of it and LAMBDA times the Monte Carlo
         * rounding scale (ga_rounding.h). */
        if ((status = ga_rounding_alloc(&rd, err, net, batch, GA_ROUNDING_RUNS)) ||
            (status = ga_rounding_compute(rd, err, net, params, x, y, batch, opt->seed)))
            goto out;
        for (size_t i = 0; i < P; i++)
            bd->grad_err[i] = fmin(bd->grad_err[i], GA_ROUNDING_LAMBDA * rd->sigma[i]);
        bd->loss_err = fmin(bd->loss_err, GA_ROUNDING_LAMBDA * rd->loss_sigma);
        r->mca_runs = rd->k;
        r->lambda = GA_ROUNDING_LAMBDA;
    }
    if (opt->analytic) {
        memcpy(grad, opt->analytic, P * sizeof *grad);
    } else if ((status = ga_backward(grad, NULL, ws, net, params, x, y, batch))) {
        status = ga_fail(err, status, "check: backward pass failed: %s", ga_strerror(status));
        goto out;
    }

    /* the oracle: every entry correctly rounded, with its bound, and (oracle
     * method) its two routes compared on opt->cross_check entries */
    ga_oracle_options oo = opt->oracle;
    oo.cross_count = opt->method == GA_CHECK_ORACLE ? opt->cross_check : 0;
    oo.cross_seed = opt->seed;
    ga_oracle_result res;
    if (opt->progress) {
        opt->progress(opt->progress_ctx, "oracle", 0, 0);
        oo.progress = told_progress;
        oo.progress_ctx = (void *)opt;
    }
    if ((status = ga_oracle_alloc(&orc, err, net, params, x, y, batch, &oo)))
        goto out;
    status = ga_oracle_run(&res, err, orc, GA_ORACLE_LOSS | GA_ORACLE_GRADIENT |
                                               (oo.cross_count ? GA_ORACLE_CROSS_CHECK : 0u));
    const double *oracle = res.grad, *oerr = res.abserr;
    r->loss_oracle = res.loss;
    r->loss_oracle_err = res.loss_err;
    r->cross_mismatches = res.mismatches;
    r->cross_checked = res.checked;
    r->oracle_stats = res.stats;
    if (status) {
        /* Entries the oracle cannot settle (a kink's side it cannot prove:
         * a pre-activation that cancels to 0 through rounded operations,
         * like w a - w a with a inexact) still have a proven verdict: the
         * whole enclosure holds their exact value whatever it is. Those
         * entries are judged against it alone and say so; every other
         * entry as usual. */
        if (!(status == GA_EFAIL && r->oracle_stats.unsettled > 0))
            goto out;
        status = GA_OK;
        if (err)
            err->msg[0] = 0;
    }
    if (opt->analytic && !isnan(opt->analytic_loss))
        r->loss = opt->analytic_loss;
    r->loss_ulps = ga_ulp_distance_in(opt->precision, r->loss, r->loss_oracle);

    char lreason[256] = "";
    int lost = by_oracle && lost_reason(lreason, sizeof lreason, enc, net, batch);

    ga_fd_method fm = fd_of(opt->method);
    /* finite differences: the method's, and one-sided slopes at kinks */
    if (!by_oracle && (status = ga_fd_ctx_alloc(&fd, err, net, params, x, y, batch, bd->loss_err)))
        goto out;

    for (size_t i = 0; i < P; i++) {
        ga_check_entry *e = &r->entries[i];
        size_t row, col;
        const ga_view *v = ga_net_locate(&row, &col, net, i);
        e->index = i;
        ga_param_name(e->name, sizeof e->name, net, i);
        e->view = (size_t)(v - net->views);
        e->analytic = grad[i];
        e->oracle = oracle[i];
        e->oracle_err = oerr[i];
        e->bound = bd->grad_err[i];
        e->fd = e->fd_trunc = e->fd_round = NAN;
        e->slope_lo = e->slope_hi = NAN;
        e->lo = e->hi = NAN;
        int kink = 0;
        char kreason[192] = "";
        if (by_oracle) {
            size_t k = ga_view_unit(net, row, col);
            int kinked = enc->grad_kink[i] &&
                         kink_reason(kreason, sizeof kreason, enc, net, v->layer, k, batch);
            double lo = enc->grad_lo[i], hi = enc->grad_hi[i];
            /* settled: within an ulp of the exact value (a faithful rounding
             * at worst), by the oracle's own bound */
            int settled = !r->oracle_stats.unsettled ||
                          (isfinite(oerr[i]) && oerr[i] <= ga_ulp_in(GA_PREC_FLOAT64, oracle[i]));
            if (settled && tight && lo <= oracle[i] &&
                oracle[i] <= hi) {
                lo = fmax(lo, fmin(blo[i], oracle[i]));
                hi = fmin(hi, fmax(bhi[i], oracle[i]));
            }
            if ((status = judge_enclosed(e, err, opt->precision, lo, hi, kinked, kreason,
                                         lost ? lreason : NULL, settled)))
                goto out;
            e->abs_err = e->analytic == e->ref ? 0.0 : fabs(e->analytic - e->ref);
            e->rel_err = e->abs_err == 0 ? 0.0 : e->ref != 0 ? e->abs_err / fabs(e->ref) : INFINITY;
            if (isnan(e->abs_err))
                e->rel_err = NAN;
            e->ulps = ga_ulp_distance_in(opt->precision, e->analytic, e->ref);
            goto tally;
        } else {
            ga_fd_result fr;
            if ((status = ga_fd_entry(&fr, err, fd, fm, i, 0.0)))
                goto out;
            e->fd = fr.value;
            e->fd_trunc = fr.trunc;
            e->fd_round = fr.round;
            e->ref = e->fd;
            e->tol = fr.trunc + fr.round + e->bound;
            if (fr.kink) {
                kink = 1;
                snprintf(kreason, sizeof kreason, "%s", fr.kink_reason);
            }
        }
        /* equal infinities (the exact value overflows, and so did the
         * analytic one, same sign) differ by nothing, not by inf - inf */
        e->abs_err = e->analytic == e->ref ? 0.0 : fabs(e->analytic - e->ref);
        e->rel_err = e->abs_err == 0 ? 0.0 : e->ref != 0 ? e->abs_err / fabs(e->ref) : INFINITY;
        if (isnan(e->abs_err))
            e->rel_err = NAN;
        e->ulps = ga_ulp_distance(e->analytic, e->ref);
        if (!kink) {
            e->verdict = ga_compare(e->reason, sizeof e->reason, e->analytic, e->ref, e->tol);
        } else {
            /* checked against the one-sided slopes: the analytic value must lie
             * between them, each widened by its own error estimate and the
             * analytic value's bound */
            ga_fd_result rp, rm;
            if ((status = ga_fd_one_sided(&rp, err, fd, i, +1, 0.0)) ||
                (status = ga_fd_one_sided(&rm, err, fd, i, -1, 0.0)))
                goto out;
            double lo = rp.value < rm.value ? rp.value : rm.value;
            double hi = rp.value < rm.value ? rm.value : rp.value;
            double elo = rp.value < rm.value ? rp.trunc + rp.round : rm.trunc + rm.round;
            double ehi = rp.value < rm.value ? rm.trunc + rm.round : rp.trunc + rp.round;
            e->slope_lo = lo;
            e->slope_hi = hi;
            double a = e->analytic;
            if (!isfinite(a)) {
                e->verdict = GA_VERDICT_FAIL;
                snprintf(e->reason, sizeof e->reason, "%s; analytic gradient is %s", kreason,
                         isnan(a) ? "NaN" : "infinite");
            } else if (isnan(lo - elo - e->bound) || isnan(hi + ehi + e->bound)) {
                e->verdict = GA_VERDICT_UNJUDGEABLE;
                snprintf(e->reason, sizeof e->reason,
                         "%s; not judgeable in double: the slopes' error bound could not be formed "
                         "(the double pass overflows on its way)", kreason);
            } else if (a >= lo - elo - e->bound && a <= hi + ehi + e->bound) {
                e->verdict = GA_VERDICT_KINK;
                e->tol = e->tol > 0 ? e->tol : 0;
                snprintf(e->reason, sizeof e->reason,
                         "%s; analytic %.6g lies within the one-sided slopes [%.6g, %.6g]", kreason, a,
                         lo, hi);
            } else if (fm == GA_FD_COUNT && ga_compare(e->reason, sizeof e->reason, a, e->ref,
                                                       e->tol) == GA_VERDICT_PASS) {
                /* The oracle takes each kink's branch from the exact sign of z
                 * (the convention at an exact 0): an analytic value equal to it
                 * took the same branches. The slopes of the batch's loss bracket
                 * the convention's value only when one sample sits at the kink:
                 * with W1 = 0 and b1 = 0 every sample does, and a column of x
                 * with both signs puts both slopes on one side of relu'(0) = 0
                 * (found by fuzz/fuzz_check). */
                e->verdict = GA_VERDICT_KINK;
                snprintf(e->reason, sizeof e->reason,
                         "%s; analytic %.6g, outside the one-sided slopes [%.6g, %.6g] of the "
                         "batch, equals the oracle, which takes the exact branches",
                         kreason, a, lo, hi);
            } else {
                double hlo = lo, hhi = hi, herr = 0;
                if (batch > 1 && (status = kink_hull(&hlo, &hhi, &herr, err, net, params, x, y,
                                                     batch, bd->loss_err, i)))
                    goto out;
                if (batch > 1 && a >= hlo - herr - e->bound && a <= hhi + herr + e->bound) {
                    e->verdict = GA_VERDICT_KINK;
                    snprintf(e->reason, sizeof e->reason,
                             "%s; analytic %.6g lies within the samples' one-sided slopes, "
                             "summed: [%.6g, %.6g]", kreason, a, hlo, hhi);
                } else {
                    e->verdict = GA_VERDICT_FAIL;
                    snprintf(e->reason, sizeof e->reason,
                             "%s; analytic %.6g lies outside the one-sided slopes [%.6g, %.6g] "
                             "(+- %.2g)%s", kreason, a, lo, hi, elo > ehi ? elo : ehi,
                             batch > 1 ? " and their per-sample sum" : "");
                }
            }
        }
    tally:
        if (e->verdict == GA_VERDICT_FAIL && !isfinite(e->analytic) && !isfinite(r->loss))
            append_overflow(e->reason, sizeof e->reason, r->loss, opt->precision);
        ga_check_layer *ly = &r->layers[e->view];
        ly->count++;
        switch (e->verdict) {
        case GA_VERDICT_PASS: r->n_pass++, ly->pass++; break;
        case GA_VERDICT_FAIL: r->n_fail++, ly->fail++; break;
        case GA_VERDICT_KINK: r->n_kink++, ly->kink++; break;
        case GA_VERDICT_UNJUDGEABLE: r->n_unjudgeable++, ly->unjudgeable++; break;
        }
        if (!(e->abs_err <= ly->max_abs_err))
            ly->max_abs_err = e->abs_err;
        if (!(e->rel_err <= ly->max_rel_err))
            ly->max_rel_err = e->rel_err;
        double ratio = ga_check_entry_ratio(e);
        if (ly->count == 1 || ratio > ly->worst_ratio) {
            ly->worst_ratio = ratio;
            ly->worst = i;
        }
        if (opt->progress)
            opt->progress(opt->progress_ctx, "entries", i + 1, P);
    }
    for (size_t vi = 0; vi < net->n_views; vi++)
        snprintf(r->layers[vi].name, sizeof r->layers[vi].name, "%s", net->views[vi].name);

    /* the worst k entries */
    {
        size_t k = opt->top_k < P ? opt->top_k : P;
        size_t *idx = malloc((P ? P : 1) * sizeof *idx);
        top_key *keys = malloc((P ? P : 1) * sizeof *keys);
        if (!idx || !keys) {
            free(idx);
            free(keys);
            status = ga_fail(err, GA_ENOMEM, "check: out of memory sorting entries");
            goto out;
        }
        for (size_t i = 0; i < P; i++)
            keys[i] = (top_key){r->entries[i].verdict == GA_VERDICT_FAIL, ga_check_entry_ratio(&r->entries[i]), i};
        qsort(keys, P, sizeof *keys, cmp_top);
        for (size_t i = 0; i < P; i++)
            idx[i] = keys[i].index;
        free(keys);
        r->top = idx;
        r->n_top = k;
    }
    snprintf(r->command, sizeof r->command, "gradaudit check %s --method %s --seed %llu",
             opt->spec_path ? opt->spec_path : "SPEC.json", ga_check_method_name(opt->method),
             (unsigned long long)opt->seed);
    if (opt->oracle.engine == GA_ORACLE_MPFR && ga_net_desc_is_chain(&net->desc)) {
        size_t len = strlen(r->command); /* the default is the ball engine */
        snprintf(r->command + len, sizeof r->command - len, " --engine mpfr");
    }
    if (opt->fast_math && opt->method == GA_CHECK_ORACLE) {
        size_t len = strlen(r->command);
        snprintf(r->command + len, sizeof r->command - len, " --fast-math");
    }

out: /* every path, status says which */
    ga_oracle_free(orc);
    ga_fd_ctx_free(fd);
    ga_enclosure_free(enc);
    ga_bound_free(bd);
    ga_rounding_free(rd);
    ga_workspace_free(ws);
    free(grad);
    if (status) {
        ga_check_report_free(r);
        return status;
    }
    *out = r;
    return GA_OK;
}

/* ---- printing ------------------------------------------------------------ */

/* v with %.*g to `digits` significant digits, but a NaN is "NaN" whatever
 * its sign bit (printf writes "-nan") */
static const char *num_g(char buf[32], int digits, double v)
{
    if (isnan(v))
        return "NaN";
    snprintf(buf, 32, "%.*g", digits, v);
    return buf;
}

int ga_check_report_print(FILE *f, const ga_check_report *r)
{
    fprintf(f, "gradaudit check: method %s, seed %llu, batch %zu, %zu entries%s\n",
            ga_check_method_name(r->method), (unsigned long long)r->seed, r->batch, r->n_entries,
            r->precision == GA_PREC_FLOAT32 ? ", a float32 gradient (ulps are float32's)" : "");
    char v1[32], v2[32];
    if (r->loss_ulps == UINT64_MAX) /* a NaN on either side: no distance */
        fprintf(f, "loss %s (oracle %s, no ulp distance to a NaN)\n", num_g(v1, 17, r->loss),
                num_g(v2, 17, r->loss_oracle));
    else
        fprintf(f, "loss %.17g (oracle %.17g, %llu ulps)\n", r->loss, r->loss_oracle,
                (unsigned long long)r->loss_ulps);
    if (!isfinite(r->loss))
        fprintf(f, "the %s forward pass overflows (loss %s): its non-finite gradient entries "
                   "come from that overflow, whatever the formulas\n",
                r->precision == GA_PREC_FLOAT32 ? "float32" : "double",
                isnan(r->loss) ? "NaN" : r->loss > 0 ? "+inf" : "-inf");
    if (r->method == GA_CHECK_ORACLE) {
        fprintf(f, "tolerance: the proven enclosure of every value a correct %s computation "
                   "can give (any summation order, slopes over the interval each argument is "
                   "known to lie in, underflow and overflow), both branches at a kink\n",
                r->precision == GA_PREC_FLOAT32 ? "float32" : "double");
        if (r->fast_math)
            fprintf(f, "fast-math model: code built with -Ofast, perhaps with flush-to-zero "
                       "(underflow budgets at the smallest normal, products grouped in any "
                       "order, division and square root within %d ulps, elementary functions "
                       "within %d)\n", GA_ENCLOSE_FAST_APPROX_ULPS,
                    GA_ENCLOSE_ELEM_ULPS + GA_ENCLOSE_FAST_APPROX_ULPS);
    } else {
        fprintf(f, "analytic rounding bound: min(gamma_n * sum|terms| of the backward pass, n = %zu, "
                   "gamma_n = %.3g; %g x its Monte Carlo rounding scale over %u runs)\n",
                r->gamma_n, r->gamma, r->lambda, r->mca_runs);
        fprintf(f, "tolerance: the %s difference's truncation + rounding estimate plus that bound\n",
                ga_check_method_name(r->method));
    }
    if (r->oracle_stats.boundary)
        fprintf(f, "oracle: %u entries lie within 2^-%ld of a rounding boundary on an unknown side: "
                   "faithful (one of the two doubles around it), their error bound says how far\n",
                r->oracle_stats.boundary, r->oracle_stats.final_prec);
    if (r->oracle_stats.unsettled)
        fprintf(f, "oracle: %u entries not settled (a kink's side it cannot prove): judged against "
                   "the whole proven enclosure alone\n", r->oracle_stats.unsettled);
    if (r->cross_checked)
        fprintf(f, "oracle cross-check (reverse mode vs MPFR differences): %zu entries, %zu mismatches\n",
                r->cross_checked, r->cross_mismatches);
    fprintf(f, "result: %zu pass, %zu FAIL, %zu kink (explained)", r->n_pass, r->n_fail, r->n_kink);
    if (r->n_unjudgeable)
        fprintf(f, ", %zu unjudgeable (not judgeable in %s: not a FAIL)", r->n_unjudgeable,
                r->precision == GA_PREC_FLOAT32 ? "float32" : "double");
    fputc('\n', f);
    fprintf(f, "\n%-8s %7s %7s %6s %6s %6s %12s %12s %12s\n", "tensor", "entries", "pass", "FAIL",
            "kink", "unjdg", "max_abs_err", "max_rel_err", "worst/tol");
    for (size_t i = 0; i < r->n_layers; i++) {
        const ga_check_layer *l = &r->layers[i];
        char c1[32], c2[32], c3[32];
        if (!l->name[0])
            continue; /* a view its layer does not have (a residual's, a pool's) */
        fprintf(f, "%-8s %7zu %7zu %6zu %6zu %6zu %12s %12s %12s\n", l->name, l->count, l->pass,
                l->fail, l->kink, l->unjudgeable, num_g(c1, 3, l->max_abs_err), num_g(c2, 3, l->max_rel_err),
                num_g(c3, 3, l->worst_ratio));
    }
    if (r->n_top) {
        fprintf(f, "\nworst %zu entries (by |analytic - reference| / tol):\n", r->n_top);
        for (size_t t = 0; t < r->n_top; t++) {
            const ga_check_entry *e = &r->entries[r->top[t]];
            fprintf(f, "  %-4s %s: analytic %s, reference %s, %s\n", ga_verdict_name(e->verdict),
                    e->name, num_g(v1, 17, e->analytic), num_g(v2, 17, e->ref), e->reason);
        }
    }
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        if (e->verdict == GA_VERDICT_KINK)
            fprintf(f, "kink %s: %s\n", e->name, e->reason);
    }
    fprintf(f, "\nreproduce: %s\n", r->command);
    return ferror(f) ? GA_EIO : GA_OK;
}

/* ---- CSV ------------------------------------------------------------------ */
/* %.17g; an empty field for values that were not computed */
static void csv_num(FILE *f, double v, int empty_if_nan)
{
    fputc(',', f);
    if (isnan(v) && empty_if_nan)
        return;
    fprintf(f, "%.17g", v);
}

int ga_check_report_write_csv(ga_error *err, const ga_check_report *r, const char *path)
{
    return ga_check_report_write_csv_names(err, r, NULL, path);
}

int ga_check_report_write_csv_names(ga_error *err, const ga_check_report *r,
                                    const char *const *names, const char *path)
{
    if (!r || !path || !*path)
        return ga_fail(err, GA_EINVAL, "CSV: no report or empty path");
    ga_atomic_file af;
    int status = ga_atomic_open(&af, err, path);
    if (status)
        return status;
    FILE *f = af.f;
    fputs("param,index,analytic,oracle,fd,abs_err,rel_err,ulps,tol,verdict,bound,oracle_err,"
          "fd_trunc,fd_round,slope_lo,slope_hi,reason" GA_CSV_EOL, f);
    for (size_t i = 0; i < r->n_entries; i++) {
        const ga_check_entry *e = &r->entries[i];
        ga_csv_field(f, names ? names[i] : e->name);
        fprintf(f, ",%zu", e->index);
        csv_num(f, e->analytic, 0);
        csv_num(f, e->oracle, 1);
        csv_num(f, e->fd, 1);
        csv_num(f, e->abs_err, 0);
        csv_num(f, e->rel_err, 0);
        fputc(',', f);
        if (e->ulps != UINT64_MAX)
            fprintf(f, "%llu", (unsigned long long)e->ulps);
        csv_num(f, e->tol, 0);
        fputc(',', f);
        ga_csv_field(f, ga_verdict_name(e->verdict));
        csv_num(f, e->bound, 0);
        csv_num(f, e->oracle_err, 1);
        csv_num(f, e->fd_trunc, 1);
        csv_num(f, e->fd_round, 1);
        csv_num(f, e->slope_lo, 1);
        csv_num(f, e->slope_hi, 1);
        fputc(',', f);
        ga_csv_field(f, e->reason);
        ga_csv_end_row(f);
    }
    return ga_atomic_commit(&af, err);
}
