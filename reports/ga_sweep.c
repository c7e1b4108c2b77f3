/* ga_sweep.c: sweep axes, CSV rows, shards, merge and atomic writes (see ga_sweep.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "ga_csv.h"
#include "ga_health.h"
#include "ga_spec.h"
#include "ga_sweep.h"

/* ---- buffer -------------------------------------------------------------- */
int ga_buf_append(ga_buf *b, const char *text, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1) {
            if (cap > SIZE_MAX / 2)
                return GA_ENOMEM;
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (!d)
            return GA_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
    return GA_OK;
}

void ga_buf_free(ga_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_printf(ga_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int buf_printf(ga_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return GA_ERANGE;
    return ga_buf_append(b, tmp, (size_t)n);
}

/* ---- axes ---------------------------------------------------------------- */
int ga_sweep_init(ga_sweep *s, ga_error *err)
{
    memset(s, 0, sizeof *s);
    s->vanish_below = GA_VANISH_BELOW_DEFAULT;
    s->explode_above = GA_EXPLODE_ABOVE_DEFAULT;
    const char *defaults[][2] = {{"act", "tanh"}, {"init", "normal"}, {"sigma-w2", "1"},
                                 {"sigma-b2", "0"}, {"depth", "10"}, {"width", "64"},
                                 {"batch", "32"}, {"seeds", "0"}};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        int st = ga_sweep_set(s, err, defaults[i][0], defaults[i][1]);
        if (st != GA_OK) {
            ga_sweep_free(s);
            return st;
        }
    }
    return GA_OK;
}

void ga_sweep_free(ga_sweep *s)
{
    free(s->act);
    free(s->act_param);
    free(s->init);
    free(s->sw2);
    free(s->sb2);
    free(s->depth);
    free(s->width);
    free(s->batch);
    free(s->seed);
    memset(s, 0, sizeof *s);
}

/* Splits text at commas into a NULL-terminated array of fresh strings. */
static char **split(size_t *n, const char *text)
{
    size_t count = 1;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    char **items = calloc(count + 1, sizeof *items);
    char *copy = malloc(strlen(text) + 1);
    if (!items || !copy) {
        free(items);
        free(copy);
        return NULL;
    }
    strcpy(copy, text);
    size_t i = 0;
    char *start = copy;
    for (char *p = copy;; p++) {
        if (*p == ',' || *p == '\0') {
            int end = *p == '\0';
            *p = '\0';
            items[i++] = start;
            start = p + 1;
            if (end)
                break;
        }
    }
    *n = count;
    return items; /* items[0] owns the copy */
}

static void split_free(char **items)
{
    if (items) {
        free(items[0]);
        free(items);
    }
}

static int parse_u64(unsigned long long *out, const char *s, const char **end)
{
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    char *e;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno)
        return 0;
    *out = v;
    *end = e;
    return 1;
}

/* Comma list of integers and ranges A-B[:S] within [lo, hi]. */
static int parse_int_list(unsigned long long **out, size_t *n_out, ga_error *err,
                          const char *key, const char *text, unsigned long long lo,
                          unsigned long long hi)
{
    size_t n_items;
    char **items = split(&n_items, text);
    if (!items)
        return ga_fail(err, GA_ENOMEM, "out of memory");
    unsigned long long *vals = NULL;
    size_t n = 0, cap = 0;
    int st = GA_OK;
    for (size_t i = 0; i < n_items && st == GA_OK; i++) {
        const char *it = items[i], *e;
        unsigned long long a, b, step = 1;
        if (!parse_u64(&a, it, &e)) {
            st = ga_fail(err, GA_EINVAL, "--%s: '%s' is not a non-negative integer or range A-B",
                         key, it);
            break;
        }
        b = a;
        if (*e == '-') {
            if (!parse_u64(&b, e + 1, &e) || b < a) {
                st = ga_fail(err, GA_EINVAL, "--%s: '%s' is not a range A-B with A <= B", key, it);
                break;
            }
            if (*e == ':' && (!parse_u64(&step, e + 1, &e) || step == 0)) {
                st = ga_fail(err, GA_EINVAL, "--%s: '%s' has no positive step after ':'", key, it);
                break;
            }
        }
        if (*e != '\0') {
            st = ga_fail(err, GA_EINVAL, "--%s: '%s' is not an integer or range A-B[:STEP]", key, it);
            break;
        }
        if (a < lo || b > hi) {
            st = ga_fail(err, GA_EINVAL, "--%s: %s is outside %llu..%llu", key, it, lo, hi);
            break;
        }
        if ((b - a) / step + 1 > GA_SWEEP_MAX_CONFIGS - n) {
            st = ga_fail(err, GA_ERANGE, "--%s: more than %lu values", key, GA_SWEEP_MAX_CONFIGS);
            break;
        }
        for (unsigned long long v = a;; v += step) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                unsigned long long *nv = realloc(vals, cap * sizeof *nv);
                if (!nv) {
                    st = ga_fail(err, GA_ENOMEM, "out of memory");
                    break;
                }
                vals = nv;
            }
            vals[n++] = v;
            if (b - v < step)
                break;
        }
    }
    split_free(items);
    if (st != GA_OK) {
        free(vals);
        return st;
    }
    *out = vals;
    *n_out = n;
    return GA_OK;
}

static int parse_double(double *out, const char *s)
{
    if (!*s)
        return 0;
    errno = 0;
    char *e;
    double v = strtod(s, &e);
    if (*e != '\0' || !isfinite(v) || errno == ERANGE)
        return 0;
    *out = v;
    return 1;
}

static int parse_double_list(double **out, size_t *n_out, ga_error *err, const char *key,
                             const char *text, int nonneg)
{
    size_t n = 0;
    char **items = split(&n, text);
    double *vals = items ? malloc(n * sizeof *vals) : NULL;
    if (!vals) {
        split_free(items);
        return ga_fail(err, GA_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (!parse_double(&vals[i], items[i]) || (nonneg && vals[i] < 0)) {
            int st = ga_fail(err, GA_EINVAL, "--%s: '%s' is not a finite%s number", key, items[i],
                             nonneg ? " non-negative" : "");
            split_free(items);
            free(vals);
            return st;
        }
    split_free(items);
    *out = vals;
    *n_out = n;
    return GA_OK;
}

static const char *known_acts = "identity, sigmoid, tanh, relu, leaky_relu[:SLOPE], elu[:ALPHA], softplus";
static const char *known_inits = "randn, rand, uniform, xavier_normal, xavier_uniform, he, he_uniform, "
                                 "lecun, orthogonal, normal";

static int set_act(ga_sweep *s, ga_error *err, const char *text)
{
    size_t n = 0;
    char **items = split(&n, text);
    ga_activation *a = items ? malloc(n * sizeof *a) : NULL;
    double *p = a ? malloc(n * sizeof *p) : NULL;
    if (!p) {
        split_free(items);
        free(a);
        return ga_fail(err, GA_ENOMEM, "out of memory");
    }
    int st = GA_OK;
    for (size_t i = 0; i < n && st == GA_OK; i++) {
        char *colon = strchr(items[i], ':');
        if (colon)
            *colon = '\0';
        if (ga_activation_from_name(&a[i], items[i]) != GA_OK || a[i] == GA_ACT_SOFTMAX ||
            ga_activation_is_generic(a[i])) {
            st = ga_fail(err, GA_EINVAL, "--act: unknown activation '%s' (known: %s)", items[i],
                         known_acts);
            break;
        }
        p[i] = ga_activation_default_param(a[i]);
        if (colon && (!ga_activation_has_param(a[i]) || !parse_double(&p[i], colon + 1)))
            st = ga_fail(err, GA_EINVAL, "--act: '%s:%s' takes no parameter or a bad one", items[i],
                         colon + 1);
    }
    split_free(items);
    if (st != GA_OK) {
        free(a);
        free(p);
        return st;
    }
    free(s->act);
    free(s->act_param);
    s->act = a;
    s->act_param = p;
    s->n_act = n;
    return GA_OK;
}

static int set_init(ga_sweep *s, ga_error *err, const char *text)
{
    size_t n = 0;
    char **items = split(&n, text);
    int *v = items ? malloc(n * sizeof *v) : NULL;
    if (!v) {
        split_free(items);
        return ga_fail(err, GA_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (ga_scan_init_from_name(&v[i], items[i]) != GA_OK) {
            int st = ga_fail(err, GA_EINVAL, "--init: unknown init '%s' (known: %s)", items[i],
                             known_inits);
            split_free(items);
            free(v);
            return st;
        }
    split_free(items);
    free(s->init);
    s->init = v;
    s->n_init = n;
    return GA_OK;
}

int ga_sweep_set(ga_sweep *s, ga_error *err, const char *key, const char *text)
{
    int st;
    if (!strcmp(key, "act"))
        return set_act(s, err, text);
    if (!strcmp(key, "init"))
        return set_init(s, err, text);
    if (!strcmp(key, "sigma-w2") || !strcmp(key, "sigma-b2")) {
        double *v = NULL;
        size_t n = 0;
        st = parse_double_list(&v, &n, err, key, text, 1);
        if (st != GA_OK)
            return st;
        if (key[6] == 'w') {
            free(s->sw2);
            s->sw2 = v;
            s->n_sw2 = n;
        } else {
            free(s->sb2);
            s->sb2 = v;
            s->n_sb2 = n;
        }
        return GA_OK;
    }
    if (!strcmp(key, "vanish-below") || !strcmp(key, "explode-above")) {
        double v;
        if (!parse_double(&v, text) || !(v > 0))
            return ga_fail(err, GA_EINVAL, "--%s: '%s' is not a positive number", key, text);
        if (key[0] == 'v')
            s->vanish_below = v;
        else
            s->explode_above = v;
        return GA_OK;
    }
    unsigned long long lo = 1, hi;
    if (!strcmp(key, "depth"))
        hi = GA_MAX_LAYERS;
    else if (!strcmp(key, "width") || !strcmp(key, "batch"))
        hi = GA_MAX_WIDTH;
    else if (!strcmp(key, "seeds")) {
        lo = 0;
        hi = UINT32_MAX;
    } else
        return ga_fail(err, GA_EINVAL, "unknown scan setting '%s'", key);
    unsigned long long *v = NULL;
    size_t n = 0;
    st = parse_int_list(&v, &n, err, key, text, lo, hi);
    if (st != GA_OK)
        return st;
    if (!strcmp(key, "seeds")) {
        uint32_t *u = malloc(n * sizeof *u);
        if (!u) {
            free(v);
            return ga_fail(err, GA_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            u[i] = (uint32_t)v[i];
        free(v);
        free(s->seed);
        s->seed = u;
        s->n_seed = n;
        return GA_OK;
    }
    size_t *z = malloc(n * sizeof *z);
    if (!z) {
        free(v);
        return ga_fail(err, GA_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        z[i] = (size_t)v[i];
    free(v);
    size_t **dst = key[0] == 'd' ? &s->depth : key[0] == 'w' ? &s->width : &s->batch;
    size_t *cnt = key[0] == 'd' ? &s->n_depth : key[0] == 'w' ? &s->n_width : &s->n_batch;
    free(*dst);
    *dst = z;
    *cnt = n;
    return GA_OK;
}

int ga_sweep_load(ga_sweep *s, ga_error *err, const char *path)
{
    /* read as spec files are: a regular file of at most GA_SWEEP_SPEC_CAP bytes,
     * each key once */
    json_t *root;
    int st = ga_json_load(&root, err, path, GA_SWEEP_SPEC_CAP);
    if (st != GA_OK)
        return st;
    if (!json_is_object(root)) {
        st = ga_fail(err, GA_ESPEC, "%s: expected a JSON object of scan settings", path);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        ga_buf text = {0};
        size_t n = json_is_array(val) ? json_array_size(val) : 1;
        for (size_t i = 0; i < n && st == GA_OK; i++) {
            json_t *it = json_is_array(val) ? json_array_get(val, i) : val;
            if (i)
                st = ga_buf_append(&text, ",", 1);
            if (json_is_string(it))
                st = ga_buf_append(&text, json_string_value(it), json_string_length(it));
            else if (json_is_integer(it))
                st = buf_printf(&text, "%" JSON_INTEGER_FORMAT, json_integer_value(it));
            else if (json_is_real(it))
                st = buf_printf(&text, "%.17g", json_real_value(it));
            else
                st = ga_fail(err, GA_ESPEC, "%s: \"%s\": expected a string, a number or an array of "
                             "them", path, key);
        }
        if (st == GA_OK && n == 0)
            st = ga_fail(err, GA_ESPEC, "%s: \"%s\": empty array", path, key);
        if (st == GA_OK) {
            ga_error e2 = {{0}};
            st = ga_sweep_set(s, &e2, key, text.data ? text.data : "");
            if (st != GA_OK) {
                ga_fail(err, GA_ESPEC, "%s: \"%s\": %s", path, key, e2.msg);
                st = GA_ESPEC;
            }
        } else if (st == GA_ENOMEM || st == GA_ERANGE)
            ga_fail(err, st, "%s: \"%s\": value too long", path, key);
        ga_buf_free(&text);
        if (st != GA_OK)
            break;
    }
done:
    json_decref(root);
    return st;
}

static size_t per_act(const ga_sweep *s)
{
    size_t k = 0;
    for (size_t j = 0; j < s->n_init; j++)
        k += ga_scan_init_uses_sigma_w2(s->init[j]) ? s->n_sw2 : 1;
    return k;
}

int ga_sweep_count(size_t *n, ga_error *err, const ga_sweep *s)
{
    size_t f[] = {s->n_act, per_act(s), s->n_sb2, s->n_depth, s->n_width, s->n_batch, s->n_seed};
    size_t total = 1;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i] != 0 && total > GA_SWEEP_MAX_CONFIGS / f[i])
            return ga_fail(err, GA_ERANGE, "the sweep has more than %lu configurations",
                           GA_SWEEP_MAX_CONFIGS);
        total *= f[i];
    }
    *n = total;
    return GA_OK;
}

void ga_sweep_config(ga_scan_config *c, const ga_sweep *s, size_t i)
{
    memset(c, 0, sizeof *c);
    c->seed = s->seed[i % s->n_seed];
    i /= s->n_seed;
    c->batch = s->batch[i % s->n_batch];
    i /= s->n_batch;
    c->width = s->width[i % s->n_width];
    i /= s->n_width;
    c->depth = s->depth[i % s->n_depth];
    i /= s->n_depth;
    c->sigma_b2 = s->sb2[i % s->n_sb2];
    i /= s->n_sb2;
    size_t k = per_act(s), j = i % k;
    i /= k;
    c->act = s->act[i];
    c->act_param = s->act_param[i];
    for (size_t m = 0; m < s->n_init; m++) {
        size_t km = ga_scan_init_uses_sigma_w2(s->init[m]) ? s->n_sw2 : 1;
        if (j < km) {
            c->init = s->init[m];
            c->sigma_w2 = ga_scan_sigma_w2(c->init, c->width, s->sw2[j]);
            break;
        }
        j -= km;
    }
}

int ga_shard_parse(size_t *k, size_t *n, ga_error *err, const char *text)
{
    unsigned long long a, b;
    const char *e;
    if (!parse_u64(&a, text, &e) || *e != '/' || !parse_u64(&b, e + 1, &e) || *e != '\0' ||
        a < 1 || a > b || b > GA_SWEEP_MAX_CONFIGS)
        return ga_fail(err, GA_EINVAL, "--shard: expected K/N with 1 <= K <= N, got '%s'", text);
    *k = (size_t)a;
    *n = (size_t)b;
    return GA_OK;
}

/* ---- CSV ----------------------------------------------------------------- */
const char *ga_sweep_header(void)
{
    return "config,n_configs,activation,act_param,init,sigma_w2,sigma_b2,depth,width,batch,seed,"
           "layer,fan_in,fan_out,act_norm,log10_act_norm,preact_var,log10_preact_var,delta_norm,"
           "log10_delta_norm,delta_ratio,log10_delta_ratio,weight_grad_fro,log10_weight_grad_fro,"
           "weight_grad_ratio,log10_weight_grad_ratio,bias_grad_norm,log10_bias_grad_norm,"
           "global_grad_norm,log10_global_grad_norm,theory_q,theory_chi,theory_log10_delta_ratio,"
           "vanished,exploded,nan_inf,vanish_below,explode_above,sweep" GA_CSV_EOL;
}

/* FNV-1a, 64 bits, over the sweep's definition written out: every axis's
 * values in order (the order fixes which configuration an index is) and
 * the thresholds. Shards of one sweep carry the same id in every row;
 * merge refuses rows of another. */
static uint64_t fnv_text(uint64_t h, const char *t)
{
    for (; *t; t++) {
        h ^= (unsigned char)*t;
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t ga_sweep_id(const ga_sweep *s)
{
    char t[64];
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < s->n_act; i++) {
        snprintf(t, sizeof t, "act %s %.17g;", ga_activation_name(s->act[i]), s->act_param[i]);
        h = fnv_text(h, t);
    }
    for (size_t i = 0; i < s->n_init; i++) {
        snprintf(t, sizeof t, "init %s;", ga_scan_init_name(s->init[i]));
        h = fnv_text(h, t);
    }
    const double *dl[2] = {s->sw2, s->sb2};
    const size_t dn[2] = {s->n_sw2, s->n_sb2};
    for (int a = 0; a < 2; a++)
        for (size_t i = 0; i < dn[a]; i++) {
            snprintf(t, sizeof t, "%c %.17g;", a ? 'b' : 'w', dl[a][i]);
            h = fnv_text(h, t);
        }
    const size_t *zl[3] = {s->depth, s->width, s->batch};
    const size_t zn[3] = {s->n_depth, s->n_width, s->n_batch};
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < zn[a]; i++) {
            snprintf(t, sizeof t, "%c %zu;", "dwb"[a], zl[a][i]);
            h = fnv_text(h, t);
        }
    for (size_t i = 0; i < s->n_seed; i++) {
        snprintf(t, sizeof t, "s %lu;", (unsigned long)s->seed[i]);
        h = fnv_text(h, t);
    }
    snprintf(t, sizeof t, "v %.17g e %.17g", s->vanish_below, s->explode_above);
    return fnv_text(h, t);
}

/* "value,log10," */
static int put_xl(ga_buf *b, ga_xreal v, double lg)
{
    char tmp[64];
    int n = ga_xreal_format(tmp, sizeof tmp, v);
    if (n < 0)
        return GA_ERANGE;
    int st = ga_buf_append(b, tmp, (size_t)n);
    if (st == GA_OK && isnan(lg))
        return ga_buf_append(b, ",nan,", 5); /* printf may write "-nan" */
    return st ? st : buf_printf(b, ",%.17g,", lg);
}

static int put_x(ga_buf *b, ga_xreal v)
{
    return put_xl(b, v, ga_xreal_log10(v));
}

int ga_sweep_rows(ga_buf *out, const ga_sweep *s, size_t index, size_t n_configs,
                  const ga_scan_config *c, const ga_scan_result *r)
{
    const ga_scan_layer *top = &r->layers[r->depth - 1];
    int st = GA_OK;
    for (size_t l = 0; l < r->depth && st == GA_OK; l++) {
        const ga_scan_layer *y = &r->layers[l];
        ga_xreal dr = ga_xreal_div(y->delta_norm, top->delta_norm);
        ga_xreal wr = ga_xreal_div(y->weight_grad, top->weight_grad);
        double ldr = ga_xreal_log10(y->delta_norm) - ga_xreal_log10(top->delta_norm);
        double lwr = ga_xreal_log10(y->weight_grad) - ga_xreal_log10(top->weight_grad);
        if (!st) st = buf_printf(out, "%zu,%zu,%s,%.17g,%s,%.17g,%.17g,%zu,%zu,%zu,%lu,%zu,%zu,%zu,",
                                 index, n_configs, ga_activation_name(c->act), c->act_param,
                                 ga_scan_init_name(c->init), c->sigma_w2, c->sigma_b2, c->depth,
                                 c->width, c->batch, (unsigned long)c->seed, l + 1, c->width,
                                 c->width);
        if (!st) st = put_x(out, y->act_norm);
        if (!st) st = put_x(out, y->preact_var);
        if (!st) st = put_x(out, y->delta_norm);
        /* ratios: the quotient of the norms; log10 as the difference of the logs */
        if (!st) st = put_xl(out, dr, ldr);
        if (!st) st = put_x(out, y->weight_grad);
        if (!st) st = put_xl(out, wr, lwr);
        if (!st) st = put_x(out, y->bias_grad);
        if (!st) st = put_x(out, r->global_grad);
        if (!st) {
            if (isnan(y->theory_q.m))
                st = ga_buf_append(out, ",,,", 3);
            else {
                char q[64];
                if (ga_xreal_format(q, sizeof q, y->theory_q) < 0)
                    st = GA_ERANGE;
                else
                    st = buf_printf(out, "%s,%.17g,%.17g,", q, y->theory_chi,
                                    y->theory_log10_ratio);
            }
        }
        if (!st) st = buf_printf(out, "%d,%d,%d,%.17g,%.17g,%016llx" GA_CSV_EOL,
                                 ga_health_vanished(ldr, s->vanish_below),
                                 ga_health_exploded(ldr, s->explode_above), y->nan_inf,
                                 s->vanish_below, s->explode_above,
                                 (unsigned long long)ga_sweep_id(s));
    }
    return st;
}

/* ---- files: capped reads and atomic writes are core/ga_io.h's ------------ */
typedef struct {
    const char *start;
    size_t len;
    size_t file;
} block;

/* A configuration's rows, as merge found them: all its settings (columns 3
 * to 11) alike, its layers 1, 2, ... depth in order, none missing or extra.
 * A shard cut short or a row edited by hand fails here. */
static int check_block(ga_error *err, const block *bk, const char *path, size_t config)
{
    const char *p = bk->start, *end = bk->start + bk->len, *first_settings = NULL;
    size_t settings_len = 0, rows = 0;
    unsigned long long depth = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        /* skip config and n_configs; the settings run to the 11th comma */
        const char *q = p;
        for (int c = 0; c < 2 && q; c++)
            q = memchr(q, ',', (size_t)(nl - q)), q = q ? q + 1 : NULL;
        const char *settings = q, *r = q;
        for (int c = 0; c < 9 && r; c++)
            r = memchr(r, ',', (size_t)(nl - r)), r = r ? r + 1 : NULL;
        if (!settings || !r)
            return ga_fail(err, GA_EINVAL, "%s: configuration %zu: a row with too few columns",
                           path, config);
        size_t slen = (size_t)(r - settings);
        /* depth is the 8th column, the 6th of the settings */
        const char *d = settings;
        for (int c = 0; c < 5; c++)
            d = (const char *)memchr(d, ',', (size_t)(r - d)) + 1;
        unsigned long long dep, layer;
        const char *e;
        if (!parse_u64(&dep, d, &e) || !parse_u64(&layer, r, &e))
            return ga_fail(err, GA_EINVAL, "%s: configuration %zu: depth or layer is not a number",
                           path, config);
        if (!first_settings) {
            first_settings = settings;
            settings_len = slen;
            depth = dep;
        } else if (slen != settings_len || memcmp(settings, first_settings, slen) != 0) {
            return ga_fail(err, GA_EINVAL, "%s: configuration %zu: row %zu's settings differ from "
                           "its first row's (edited?)", path, config, rows + 1);
        }
        if (layer != rows + 1)
            return ga_fail(err, GA_EINVAL, "%s: configuration %zu: layer %llu where %zu was due",
                           path, config, layer, rows + 1);
        rows++;
        p = nl + 1;
    }
    if (rows != depth)
        return ga_fail(err, GA_EINVAL, "%s: configuration %zu has %zu rows for depth %llu (a shard "
                       "cut short?)", path, config, rows, depth);
    return GA_OK;
}

int ga_sweep_merge(ga_buf *out, ga_error *err, const char *const *paths, size_t n_paths)
{
    const char *hdr = ga_sweep_header();
    size_t hlen = strlen(hdr), n_configs = 0, sweep_file = 0;
    const char *sweep_id = NULL;
    char **texts = calloc(n_paths, sizeof *texts);
    block *blocks = NULL;
    int st = GA_OK;
    if (!texts)
        return ga_fail(err, GA_ENOMEM, "out of memory");
    /* the shards' sizes together, before reading any (a file that grows is
     * still held to what is left) */
    size_t room = GA_SWEEP_MERGE_CAP, total = 0;
    for (size_t f = 0; f < n_paths && st == GA_OK; f++) {
        struct stat sb;
        if (stat(paths[f], &sb) == 0 && S_ISREG(sb.st_mode) &&
            (!ga_size_add(&total, total, (size_t)sb.st_size) || total > room))
            st = ga_fail(err, GA_ENOMEM, "%s: the shards come to more than merge's cap of %zu "
                         "bytes", paths[f], (size_t)GA_SWEEP_MERGE_CAP);
    }
    for (size_t f = 0; f < n_paths && st == GA_OK; f++) {
        size_t len;
        st = ga_read_file(&texts[f], &len, err, paths[f], room);
        if (st == GA_ENOMEM && f > 0)
            st = ga_fail(err, GA_ENOMEM, "%s: the shards come to more than merge's cap of %zu "
                         "bytes", paths[f], (size_t)GA_SWEEP_MERGE_CAP);
        if (st != GA_OK)
            break;
        room -= len;
        if (len < hlen || memcmp(texts[f], hdr, hlen) != 0) {
            st = ga_fail(err, GA_EINVAL, "%s: not a gradaudit scan CSV (header differs)", paths[f]);
            break;
        }
        const char *p = texts[f] + hlen, *end = texts[f] + len;
        size_t line = 2;
        while (p < end && st == GA_OK) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) {
                st = ga_fail(err, GA_EINVAL, "%s:%zu: last row has no line end (torn file?)",
                             paths[f], line);
                break;
            }
            unsigned long long idx, nc;
            const char *e;
            if (!parse_u64(&idx, p, &e) || *e != ',' || !parse_u64(&nc, e + 1, &e) || *e != ',' ||
                nc == 0 || idx >= nc || nc > GA_SWEEP_MAX_CONFIGS) {
                st = ga_fail(err, GA_EINVAL, "%s:%zu: row does not start with config,n_configs",
                             paths[f], line);
                break;
            }
            if (!blocks) {
                n_configs = (size_t)nc;
                blocks = calloc(n_configs, sizeof *blocks);
                if (!blocks) {
                    st = ga_fail(err, GA_ENOMEM, "out of memory");
                    break;
                }
            } else if (nc != n_configs) {
                st = ga_fail(err, GA_EINVAL, "%s:%zu: n_configs %llu, other shards have %zu",
                             paths[f], line, nc, n_configs);
                break;
            }
            /* the sweep id (the last field) is the same in every row of every shard */
            const char *last = nl;
            while (last > p && last[-1] != ',')
                last--;
            size_t id_len = (size_t)(nl - last) - (nl > last && nl[-1] == '\r');
            if (id_len != 16) {
                st = ga_fail(err, GA_EINVAL, "%s:%zu: no sweep id in the last column", paths[f], line);
                break;
            }
            if (!sweep_id) {
                sweep_id = last;
                sweep_file = f;
            } else if (memcmp(sweep_id, last, 16) != 0) {
                st = ga_fail(err, GA_EINVAL, "%s:%zu: sweep %.16s, but %s holds sweep %.16s: shards "
                             "of different sweeps", paths[f], line, last, paths[sweep_file], sweep_id);
                break;
            }
            block *bk = &blocks[idx];
            if (bk->start && !(bk->file == f && bk->start + bk->len == p)) {
                st = ga_fail(err, GA_EINVAL, "%s:%zu: configuration %llu appears twice (also in %s)",
                             paths[f], line, idx, paths[bk->file]);
                break;
            }
            if (!bk->start) {
                bk->start = p;
                bk->file = f;
            }
            bk->len += (size_t)(nl + 1 - p);
            p = nl + 1;
            line++;
        }
    }
    if (st == GA_OK && !blocks)
        st = ga_fail(err, GA_EINVAL, "no rows in the inputs");
    for (size_t i = 0; i < n_configs && st == GA_OK; i++)
        if (blocks[i].start)
            st = check_block(err, &blocks[i], paths[blocks[i].file], i);
    if (st == GA_OK) {
        size_t missing = 0, first = 0;
        for (size_t i = 0; i < n_configs; i++)
            if (!blocks[i].start && missing++ == 0)
                first = i;
        if (missing)
            st = ga_fail(err, GA_EINVAL, "%zu of %zu configurations missing (first: %zu): a shard "
                         "is absent or was interrupted", missing, n_configs, first);
    }
    if (st == GA_OK) {
        st = ga_buf_append(out, hdr, hlen);
        for (size_t i = 0; i < n_configs && st == GA_OK; i++)
            st = ga_buf_append(out, blocks[i].start, blocks[i].len);
        if (st != GA_OK)
            st = ga_fail(err, st, "out of memory");
    }
    for (size_t f = 0; f < n_paths; f++)
        free(texts[f]);
    free(texts);
    free(blocks);
    return st;
}
