/* ga_spec.c: parse and validate a JSON network spec (docs/spec.md) with jansson. */
#include "ga_spec.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ga_io.h"

/* ---- messages ------------------------------------------------------------ */

typedef struct {
    const char *name; /* file name for messages */
    ga_error *err;
} ctx;

/* "NAME: PATH: what"; an empty path gives "NAME: what". */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int fail(const ctx *c, int status, const char *path, const char *fmt, ...)
{
    char what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (path && *path)
        return ga_fail(c->err, status, "%s: %s: %s", c->name, path, what);
    return ga_fail(c->err, status, "%s: %s", c->name, what);
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* path buffers: small fixed strings joined with snprintf */
#define PATHLEN 256

/* Truncation keeps a valid (shortened) path: a user's key may be long. */
static void join(char *dst, const char *base, const char *key)
{
    int n = (base && *base) ? snprintf(dst, PATHLEN, "%s.%s", base, key)
                            : snprintf(dst, PATHLEN, "%s", key);
    if (n < 0)
        dst[0] = 0;
}

static void join_index(char *dst, const char *base, size_t i)
{
    if (snprintf(dst, PATHLEN, "%s[%zu]", base, i) < 0)
        dst[0] = 0;
}

/* Every key of obj must be in allowed (NULL-terminated). Names all unknown
 * keys in one message. */
static int check_keys(const ctx *c, const json_t *obj, const char *path, const char *const *allowed)
{
    char unknown[600] = "";
    size_t n_unknown = 0, len = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        (void)val;
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (!strcmp(key, allowed[i]))
                ok = 1;
        if (!ok) {
            if (len < sizeof unknown - 1) {
                int w = snprintf(unknown + len, sizeof unknown - len, "%s\"%s\"",
                                 n_unknown ? ", " : "", key);
                len += w > 0 ? (size_t)w : 0;
            }
            n_unknown++;
        }
    }
    if (!n_unknown)
        return GA_OK;
    char expected[400] = "";
    size_t el = 0;
    for (size_t i = 0; allowed[i] && el < sizeof expected - 1; i++) {
        int w = snprintf(expected + el, sizeof expected - el, "%s%s", i ? ", " : "", allowed[i]);
        el += w > 0 ? (size_t)w : 0;
    }
    char where[PATHLEN + 16];
    if (path && *path)
        snprintf(where, sizeof where, "in %s", path);
    else
        snprintf(where, sizeof where, "at top level");
    return fail(c, GA_ESPEC, "", "unknown key%s %s %s (expected one of: %s)",
                n_unknown > 1 ? "s" : "", unknown, where, expected);
}

/* ---- typed getters -------------------------------------------------------- */

static int get_object(const json_t **out, const ctx *c, const json_t *parent, const char *base,
                      const char *key, int required)
{
    char path[PATHLEN];
    join(path, base, key);
    const json_t *j = json_object_get(parent, key);
    *out = j;
    if (!j)
        return required ? fail(c, GA_ESPEC, path, "missing (expected an object)") : GA_OK;
    if (!json_is_object(j))
        return fail(c, GA_ESPEC, path, "is %s (expected an object)", json_kind(j));
    return GA_OK;
}

static int get_string(const char **out, const ctx *c, const json_t *parent, const char *base,
                      const char *key, int required, const char *expected)
{
    char path[PATHLEN];
    join(path, base, key);
    const json_t *j = json_object_get(parent, key);
    *out = NULL;
    if (!j)
        return required ? fail(c, GA_ESPEC, path, "missing (expected %s)", expected) : GA_OK;
    if (!json_is_string(j))
        return fail(c, GA_ESPEC, path, "is %s (expected %s)", json_kind(j), expected);
    *out = json_string_value(j);
    return GA_OK;
}

/* A size: an integer in [1, max]. */
static int check_size(size_t *out, const ctx *c, const json_t *j, const char *path, size_t max,
                      const char *what)
{
    if (json_is_real(j)) {
        double v = json_real_value(j);
        if (v == floor(v))
            return fail(c, GA_ESPEC, path, "is the real number %.17g (expected an integer %s "
                        "written without a decimal point or exponent)", v, what);
        return fail(c, GA_ESPEC, path, "is %.17g, not an integer (expected an integer %s)", v,
                    what);
    }
    if (!json_is_integer(j))
        return fail(c, GA_ESPEC, path, "is %s (expected an integer %s)", json_kind(j), what);
    json_int_t v = json_integer_value(j);
    if (v < 1)
        return fail(c, GA_ESPEC, path, "is %" JSON_INTEGER_FORMAT " (expected an integer %s >= 1)",
                    v, what);
    if ((unsigned long long)v > (unsigned long long)max)
        return fail(c, GA_ESPEC, path, "is %" JSON_INTEGER_FORMAT " (expected an integer %s <= %zu)",
                    v, what, max);
    *out = (size_t)v;
    return GA_OK;
}

static int get_size(size_t *out, const ctx *c, const json_t *parent, const char *base,
                    const char *key, int required, size_t max, const char *what)
{
    char path[PATHLEN];
    join(path, base, key);
    const json_t *j = json_object_get(parent, key);
    if (!j)
        return required ? fail(c, GA_ESPEC, path, "missing (expected an integer %s >= 1)", what)
                        : GA_OK;
    return check_size(out, c, j, path, max, what);
}

/* A number (integer or real). JSON numbers are finite once parsed (the syntax
 * has no NaN or Infinity and jansson refuses overflow), but integers beyond
 * 2^53 round: accepted, as NumPy's float() would. */
static int check_number(double *out, const ctx *c, const json_t *j, const char *path,
                        const char *what)
{
    if (!json_is_number(j))
        return fail(c, GA_ESPEC, path, "is %s (expected %s)", json_kind(j), what);
    double v = json_number_value(j);
    if (!isfinite(v))
        return fail(c, GA_ENONFINITE, path, "is not finite (expected %s)", what);
    *out = v;
    return GA_OK;
}

static int get_number(double *out, const ctx *c, const json_t *parent, const char *base,
                      const char *key, int required, const char *what)
{
    char path[PATHLEN];
    join(path, base, key);
    const json_t *j = json_object_get(parent, key);
    if (!j)
        return required ? fail(c, GA_ESPEC, path, "missing (expected %s)", what) : GA_OK;
    return check_number(out, c, j, path, what);
}

/* ---- names ---------------------------------------------------------------- */

static const char *activation_name(int i) { return ga_activation_name((ga_activation)i); }
static const char *loss_name(int i) { return ga_loss_name((ga_loss_kind)i); }
static const char *reduction_name(int i) { return ga_reduction_name((ga_reduction)i); }
static const char *scheme_name(int i) { return ga_init_scheme_name((ga_init_scheme)i); }

/* "a, b, c": the names 0..count-1, for "expected one of" messages */
static void list_names(char *buf, size_t size, int count, const char *(*name)(int))
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < count && len < size - 1; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", name(i));
        len += w > 0 ? (size_t)w : 0;
    }
}

/* The first few tensor names of the net, for "expected one of". */
static void list_tensors(char *buf, size_t size, const ga_net_desc *desc)
{
    size_t len = 0, n = 2 * desc->n_layers, shown = 0, last = 0;
    buf[0] = 0;
    for (size_t v = 0; v < n; v++) {
        char t[32];
        if (!ga_view_name(t, sizeof t, desc, v))
            continue;
        last = v;
        if (shown == 12 || len >= size - 1)
            continue;
        int w = snprintf(buf + len, size - len, "%s%s", shown ? ", " : "", t);
        len += w > 0 ? (size_t)w : 0;
        shown++;
    }
    char t[32];
    if (shown == 12 && len < size - 1 && ga_view_name(t, sizeof t, desc, last))
        snprintf(buf + len, size - len, ", ..., %s", t);
}

/* "W3" -> view index 4 when layer 3 is dense, "gamma2" -> 2 when layer 2 is
 * a norm, ...; -1 for a name the net has no tensor of. */
static long parse_tensor_name(const char *s, const ga_net_desc *desc)
{
    const char *p = s;
    while (isalpha((unsigned char)*p))
        p++;
    if (p == s || *p < '1' || *p > '9')
        return -1;
    size_t l = 0;
    for (const char *q = p; *q; q++) {
        if (!isdigit((unsigned char)*q) || l > (SIZE_MAX - 9) / 10)
            return -1;
        l = 10 * l + (size_t)(*q - '0');
    }
    if (l < 1 || l > desc->n_layers)
        return -1;
    for (size_t v = 2 * (l - 1); v < 2 * l; v++) {
        char t[32];
        if (ga_view_name(t, sizeof t, desc, v) && !strcmp(t, s))
            return (long)v;
    }
    return -1;
}

void ga_spec_tensor_shape(size_t *rows, size_t *cols, const ga_net_desc *desc, size_t v)
{
    ga_view_shape(rows, cols, desc, v);
}

/* ---- sections --------------------------------------------------------------- */

#define LAYER_TYPES "dense, layernorm, rmsnorm, residual, dropout, embedding, conv1d, conv2d, " \
                    "maxpool1d, maxpool2d, avgpool1d, avgpool2d, bias, attention, rnn, batchnorm, concat"

/* "tokens": T > 0 dividing the layer's input width (absent: the whole row). */
static int get_tokens(ga_layer_desc *d, const ctx *c, const json_t *L, const char *base, size_t fan_in)
{
    char path[PATHLEN];
    int st = get_size(&d->tokens, c, L, base, "tokens", 0, GA_MAX_WIDTH, "token count");
    if (st)
        return st;
    join(path, base, "tokens");
    if (d->tokens > 1 && fan_in % d->tokens)
        return fail(c, GA_ESPEC, path, "is %zu, which does not divide the layer's input width %zu",
                    d->tokens, fan_in);
    return GA_OK;
}

/* A layer's activation, slope and alpha (dense and conv layers). */
static int parse_activation(ga_layer_desc *d, const ctx *c, const json_t *L, const char *base)
{
    char path[PATHLEN], names[300], expected[320];
    const char *act;
    int st;
    list_names(names, sizeof names, GA_ACT_COUNT, activation_name);
    snprintf(expected, sizeof expected, "one of: %s", names);
    if ((st = get_string(&act, c, L, base, "activation", 1, expected)))
        return st;
    join(path, base, "activation");
    if (ga_activation_from_name(&d->act, act) != GA_OK)
        return fail(c, GA_ESPEC, path, "unknown activation \"%s\" (expected one of: %s)", act,
                    names);
    d->act_param = ga_activation_default_param(d->act);
    const json_t *slope = json_object_get(L, "slope"), *alpha = json_object_get(L, "alpha");
    if (slope && d->act != GA_ACT_LEAKY_RELU) {
        join(path, base, "slope");
        return fail(c, GA_ESPEC, path, "only leaky_relu takes a slope (this layer is %s)",
                    ga_activation_name(d->act));
    }
    if (alpha && d->act != GA_ACT_ELU) {
        join(path, base, "alpha");
        return fail(c, GA_ESPEC, path, "only elu takes an alpha (this layer is %s)",
                    ga_activation_name(d->act));
    }
    if (slope && (st = get_number(&d->act_param, c, L, base, "slope", 1, "a number")))
        return st;
    if (alpha && (st = get_number(&d->act_param, c, L, base, "alpha", 1, "a number")))
        return st;
    return GA_OK;
}

/* key of L: an integer, or an array of `dims` integers (one per spatial
 * axis), each >= lo; absent: def for every axis (required: an error) */
static int get_dims(size_t *out, const ctx *c, const json_t *L, const char *base, const char *key,
                    int dims, size_t lo, int required, size_t def)
{
    char path[PATHLEN];
    join(path, base, key);
    const json_t *j = json_object_get(L, key);
    if (!j) {
        if (required)
            return fail(c, GA_ESPEC, path, "missing (expected an integer or an array of %d)", dims);
        for (int k = 0; k < dims; k++)
            out[k] = def;
        return GA_OK;
    }
    for (int k = 0; k < dims; k++) {
        const json_t *e = json_is_array(j) ? json_array_get(j, (size_t)k) : j;
        if (json_is_array(j) && json_array_size(j) != (size_t)dims)
            return fail(c, GA_ESPEC, path, "has %zu entries (expected %d, one per spatial axis)",
                        json_array_size(j), dims);
        if (!e || !json_is_integer(e) || json_integer_value(e) < (json_int_t)lo ||
            json_integer_value(e) > (json_int_t)GA_MAX_WIDTH)
            return fail(c, GA_ESPEC, path, "is %s (expected an integer %zu .. %zu, or an array of %d)",
                        e && json_is_integer(e) ? "out of range" : json_kind(e ? e : j), lo,
                        (size_t)GA_MAX_WIDTH, dims);
        out[k] = (size_t)json_integer_value(e);
    }
    return GA_OK;
}

/* A conv's or a pool's geometry: in_shape [C, L] (1d) or [C, H, W] (2d), whose
 * product must be the input width; channels (conv); kernel; stride (conv: 1,
 * pool: the kernel); padding (conv, 0). 1d layers are the 2d maths with H = 1. */
static int parse_geom(ga_geom *g, const ctx *c, const json_t *L, const char *base, int dims,
                      int conv, size_t fan_in)
{
    char path[PATHLEN];
    size_t sh[3] = {0, 1, 1}, k[2] = {1, 1}, s[2] = {1, 1}, p[2] = {0, 0};
    join(path, base, "in_shape");
    const json_t *j = json_object_get(L, "in_shape");
    if (!j || !json_is_array(j) || json_array_size(j) != (size_t)dims + 1)
        return fail(c, GA_ESPEC, path, "is %s (expected [channels, %s])", j ? json_kind(j) : "missing",
                    dims == 1 ? "length" : "height, width");
    for (int a = 0; a <= dims; a++) {
        const json_t *e = json_array_get(j, (size_t)a);
        if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > (json_int_t)GA_MAX_WIDTH)
            return fail(c, GA_ESPEC, path, "entry %d is %s (expected an integer 1 .. %zu)", a,
                        json_is_integer(e) ? "out of range" : json_kind(e), (size_t)GA_MAX_WIDTH);
        sh[a == 0 ? 0 : dims == 1 ? 2 : a] = (size_t)json_integer_value(e);
    }
    int st;
    size_t *kk = dims == 1 ? k + 1 : k, *ss = dims == 1 ? s + 1 : s, *pp = dims == 1 ? p + 1 : p;
    if ((st = get_dims(kk, c, L, base, "kernel", dims, 1, 1, 0)) ||
        (st = get_dims(ss, c, L, base, "stride", dims, 1, 0, 1)))
        return st;
    if (!conv && !json_object_get(L, "stride"))
        for (int a = 0; a < dims; a++)
            ss[a] = kk[a];
    if (conv && (st = get_dims(pp, c, L, base, "padding", dims, 0, 0, 0)))
        return st;
    *g = (ga_geom){.c = sh[0], .h = sh[1], .w = sh[2], .kh = k[0], .kw = k[1], .sh = s[0],
                   .sw = s[1], .ph = p[0], .pw = p[1], .oc = sh[0]};
    if (conv && (st = get_size(&g->oc, c, L, base, "channels", 1, GA_MAX_WIDTH, "output channel count")))
        return st;
    if (!ga_geom_finish(g) || g->c * g->h * g->w != fan_in || g->oc * g->ho * g->wo > GA_MAX_WIDTH)
        return fail(c, GA_ESPEC, base, "input (%zu, %zu, %zu) with kernel (%zu, %zu), stride "
                    "(%zu, %zu), padding (%zu, %zu), the layer's input width %zu: %s", g->c, g->h,
                    g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, fan_in,
                    !ga_geom_finish(g) ? "the kernel does not fit the padded input"
                    : g->c * g->h * g->w != fan_in ? "in_shape's product is not the input width"
                                                   : "the output is too wide");
    if (!conv && g->kh * g->kw > GA_POOL_MAX_WINDOW)
        return fail(c, GA_ESPEC, base, "a pooling window of %zu entries (expected at most %d)",
                    g->kh * g->kw, GA_POOL_MAX_WINDOW);
    return GA_OK;
}

/* Layer i of n (0-based) from the JSON object L at path base, its input fan_in
 * wide; desc holds the layers before it (a residual's or a concat's `from`).
 * Every layer but a dense one must be followed by another: i + 1 < n. */
static int parse_layer(ga_layer_desc *d, const ctx *c, const json_t *L, const char *base,
                       size_t i, size_t n, size_t fan_in, const ga_net_desc *desc)
{
    static const char *const layer_keys[] = {"type", "size", "activation", "slope", "alpha",
                                             "tokens", NULL};
    static const char *const norm_keys[] = {"type", "eps", "tokens", NULL};
    static const char *const residual_keys[] = {"type", "from", NULL};
    static const char *const dropout_keys[] = {"type", "p", "seed", NULL};
    static const char *const embedding_keys[] = {"type", "vocab", "dim", NULL};
    static const char *const conv_keys[] = {"type", "in_shape", "channels", "kernel", "stride",
                                            "padding", "activation", "slope", "alpha", NULL};
    static const char *const pool_keys[] = {"type", "in_shape", "kernel", "stride", NULL};
    static const char *const bias_keys[] = {"type", NULL};
    static const char *const attention_keys[] = {"type", "tokens", "heads", NULL};
    static const char *const rnn_keys[] = {"type", "tokens", "size", "activation", "slope", "alpha",
                                           NULL};
    char path[PATHLEN];
    int st;
    if (!json_is_object(L))
        return fail(c, GA_ESPEC, base, "is %s (expected a layer object with size and "
                    "activation)", json_kind(L));
    const char *type;
    if ((st = get_string(&type, c, L, base, "type", 0,
                         "one of: " LAYER_TYPES)))
        return st;
    if (!type)
        type = "dense";
    int dims = 0; /* conv1d, maxpool1d, ...: 1; the 2d forms: 2 */
    if (type && strlen(type) > 2 && !strcmp(type + strlen(type) - 2, "1d"))
        dims = 1;
    else if (type && strlen(type) > 2 && !strcmp(type + strlen(type) - 2, "2d"))
        dims = 2;
    if (dims && (!strncmp(type, "conv", 4) || !strncmp(type, "maxpool", 7) ||
                 !strncmp(type, "avgpool", 7)) &&
        strlen(type) == (size_t)(type[0] == 'c' ? 6 : 9)) {
        d->kind = type[0] == 'c' ? GA_LAYER_CONV : type[0] == 'm' ? GA_LAYER_MAXPOOL : GA_LAYER_AVGPOOL;
        int conv = d->kind == GA_LAYER_CONV;
        if ((st = check_keys(c, L, base, conv ? conv_keys : pool_keys)))
            return st;
        if ((st = parse_geom(&d->geom, c, L, base, dims, conv, fan_in)))
            return st;
        d->n_out = d->geom.oc * d->geom.ho * d->geom.wo;
        d->act = GA_ACT_IDENTITY;
        if (conv && (st = parse_activation(d, c, L, base)))
            return st;
        if (conv && d->act == GA_ACT_SOFTMAX) {
            join(path, base, "activation");
            return fail(c, GA_ESPEC, path, "is softmax (expected an elementwise activation: "
                        "a convolution's outputs are not one distribution)");
        }
        if (i + 1 == n)
            return fail(c, GA_ESPEC, base, "is a %s layer; the loss reads a dense layer's "
                        "output (expected a dense layer last)", type);
        return GA_OK;
    }
    if (ga_layer_kind_from_name(&d->kind, type) != GA_OK || d->kind == GA_LAYER_CONV ||
        d->kind == GA_LAYER_MAXPOOL || d->kind == GA_LAYER_AVGPOOL) { /* those: 1d or 2d forms */
        join(path, base, "type");
        return fail(c, GA_ESPEC, path, "unknown layer type \"%s\" (expected one of: "
                    LAYER_TYPES ")", type);
    }
    if (d->kind == GA_LAYER_RNN) {
        if ((st = check_keys(c, L, base, rnn_keys)) ||
            (st = get_size(&d->tokens, c, L, base, "tokens", 1, GA_MAX_WIDTH, "step count")) ||
            (st = get_size(&d->n_out, c, L, base, "size", 1, GA_MAX_WIDTH, "hidden size")) ||
            (st = parse_activation(d, c, L, base)))
            return st;
        join(path, base, "tokens");
        if (fan_in % d->tokens)
            return fail(c, GA_ESPEC, path, "is %zu, which does not divide the layer's input "
                        "width %zu (T steps of d inputs)", d->tokens, fan_in);
        if (d->act == GA_ACT_SOFTMAX) {
            join(path, base, "activation");
            return fail(c, GA_ESPEC, path, "is softmax (expected an elementwise activation)");
        }
        if (d->n_out > GA_MAX_WIDTH / d->tokens)
            return fail(c, GA_ESPEC, base, "%zu steps of %zu states make a row over %zu numbers",
                        d->tokens, d->n_out, (size_t)GA_MAX_WIDTH);
        d->n_out *= d->tokens; /* the states of every step */
        if (i + 1 == n)
            return fail(c, GA_ESPEC, base, "is an rnn layer; the loss reads a dense layer's "
                        "output (expected a dense layer last)");
        return GA_OK;
    }
    if (d->kind == GA_LAYER_BIAS || d->kind == GA_LAYER_ATTENTION) {
        int att = d->kind == GA_LAYER_ATTENTION;
        if ((st = check_keys(c, L, base, att ? attention_keys : bias_keys)))
            return st;
        d->act = GA_ACT_IDENTITY;
        d->n_out = fan_in;
        if (att) {
            if ((st = get_size(&d->tokens, c, L, base, "tokens", 1, GA_MAX_WIDTH, "token count")) ||
                (st = get_size(&d->heads, c, L, base, "heads", 1, GA_MAX_WIDTH, "head count")))
                return st;
            if (fan_in % (3 * d->tokens) || (fan_in / (3 * d->tokens)) % d->heads)
                return fail(c, GA_ESPEC, base, "attention over %zu tokens and %zu heads reads "
                            "rows of 3 T d numbers (q, k, v per token), d a multiple of the "
                            "heads; its input has %zu", d->tokens, d->heads, fan_in);
            size_t hs = fan_in / (3 * d->tokens) / d->heads;
            d->act_param = 1.0 / sqrt((double)hs); /* the scores' scale, as code holds it */
            d->n_out = fan_in / 3;
        }
        if (i + 1 == n)
            return fail(c, GA_ESPEC, base, "is a%s %s layer; the loss reads a dense layer's "
                        "output (expected a dense layer last)", att ? "n" : "", type);
        return GA_OK;
    }
    if (d->kind == GA_LAYER_EMBEDDING || d->kind == GA_LAYER_DROPOUT) {
        int emb = d->kind == GA_LAYER_EMBEDDING;
        if ((st = check_keys(c, L, base, emb ? embedding_keys : dropout_keys)))
            return st;
        d->act = GA_ACT_IDENTITY;
        if (emb) {
            if (i != 0)
                return fail(c, GA_ESPEC, base, "is an embedding (expected it first: it reads "
                            "the ids in data.x)");
            if ((st = get_size(&d->vocab, c, L, base, "vocab", 1, GA_MAX_WIDTH, "vocabulary size")) ||
                (st = get_size(&d->dim, c, L, base, "dim", 1, GA_MAX_WIDTH, "embedding dimension")))
                return st;
            if (!ga_size_mul(&d->n_out, fan_in, d->dim) || d->n_out > GA_MAX_WIDTH)
                return fail(c, GA_ESPEC, base, "%zu ids of dim %zu make a row over %zu numbers",
                            fan_in, d->dim, (size_t)GA_MAX_WIDTH);
        } else {
            d->n_out = fan_in;
            if ((st = get_number(&d->p, c, L, base, "p", 1, "a probability 0 <= p < 1")))
                return st;
            join(path, base, "p");
            if (!(d->p >= 0.0 && d->p < 1.0))
                return fail(c, GA_ESPEC, path, "is %.17g (expected a probability 0 <= p < 1)", d->p);
            d->act_param = 1.0 / (1.0 - d->p); /* inverted dropout's scale */
            const json_t *js = json_object_get(L, "seed");
            join(path, base, "seed");
            if (js && (!json_is_integer(js) || json_integer_value(js) < 0 ||
                       json_integer_value(js) > (json_int_t)UINT32_MAX))
                return fail(c, GA_ESPEC, path, "is %s (expected an integer 0 .. 4294967295)",
                            json_is_integer(js) ? "out of range" : json_kind(js));
            d->seed = js ? (uint32_t)json_integer_value(js) : 0;
        }
        if (i + 1 == n)
            return fail(c, GA_ESPEC, base, "is %s layer; the loss reads a dense layer's "
                        "output (expected a dense layer last)", emb ? "an embedding" : "a dropout");
        return GA_OK;
    }
    if (d->kind != GA_LAYER_DENSE) {
        if ((st = check_keys(c, L, base,
                             d->kind == GA_LAYER_RESIDUAL || d->kind == GA_LAYER_CONCAT
                                 ? residual_keys : norm_keys)))
            return st;
        d->n_out = fan_in; /* a norm or an add keeps its input's width */
        d->act = GA_ACT_IDENTITY;
        if (d->kind == GA_LAYER_RESIDUAL || d->kind == GA_LAYER_CONCAT) {
            join(path, base, "from");
            const json_t *jf = json_object_get(L, "from");
            if (!jf)
                return fail(c, GA_ESPEC, path, "missing (expected 0, the input, or the "
                            "number of a layer before this one, 1 .. %zu)", i);
            if (!json_is_integer(jf) || json_integer_value(jf) < 0 ||
                (unsigned long long)json_integer_value(jf) > (unsigned long long)i)
                return fail(c, GA_ESPEC, path, "is %s (expected an integer: 0, the input, or "
                            "the number of a layer before this one, 1 .. %zu)",
                            json_is_integer(jf) ? "out of range" : json_kind(jf), i);
            d->from = (size_t)json_integer_value(jf);
            size_t wf = d->from == 0 ? desc->n_in : desc->layers[d->from - 1].n_out;
            if (d->kind == GA_LAYER_CONCAT) { /* the row, then `from`'s */
                if (wf > GA_MAX_WIDTH - fan_in)
                    return fail(c, GA_ESPEC, path, "a concat of %zu and %zu numbers is wider "
                                "than %zu", fan_in, wf, (size_t)GA_MAX_WIDTH);
                d->n_out = fan_in + wf;
            } else if (wf != fan_in) {
                return fail(c, GA_ESPEC, path, "%s has width %zu, this layer's input %zu "
                            "(a residual add needs equal widths)",
                            d->from == 0 ? "the input" : "that layer", wf, fan_in);
            }
        } else {
            d->eps = 1e-5;
            if ((st = get_number(&d->eps, c, L, base, "eps", 0, "a number > 0")) ||
                (st = get_tokens(d, c, L, base, fan_in)))
                return st;
            if (!(d->eps > 0.0)) {
                join(path, base, "eps");
                return fail(c, GA_ESPEC, path, "is %.17g (expected a number > 0)", d->eps);
            }
        }
        if (i + 1 == n)
            return fail(c, GA_ESPEC, base, "is a %s layer; the loss reads a dense layer's "
                        "output (expected a dense layer last)", type);
        return GA_OK;
    }
    if ((st = check_keys(c, L, base, layer_keys)))
        return st;
    if ((st = get_size(&d->n_out, c, L, base, "size", 1, GA_MAX_WIDTH, "layer size")) ||
        (st = get_tokens(d, c, L, base, fan_in)))
        return st;
    if (d->tokens > 1 && (d->n_out > GA_MAX_WIDTH / d->tokens))
        return fail(c, GA_ESPEC, base, "%zu tokens of size %zu make a row over %zu numbers",
                    d->tokens, d->n_out, (size_t)GA_MAX_WIDTH);
    d->n_out *= ga_layer_tokens(d); /* size is per token */
    return parse_activation(d, c, L, base);
}

static int parse_net(ga_spec *s, const ctx *c, const json_t *root)
{
    const char *layout;
    int st = get_string(&layout, c, root, "", "layout", 1, "\"column\" or \"row\"");
    if (st)
        return st;
    if (!strcmp(layout, "column"))
        s->desc.layout = GA_LAYOUT_COLUMN;
    else if (!strcmp(layout, "row"))
        s->desc.layout = GA_LAYOUT_ROW;
    else
        return fail(c, GA_ESPEC, "layout", "unknown layout \"%s\" (expected one of: column, row)",
                    layout);
    if ((st = get_size(&s->desc.n_in, c, root, "", "input", 1, GA_MAX_WIDTH, "input size")))
        return st;

    const json_t *layers = json_object_get(root, "layers");
    if (!layers)
        return fail(c, GA_ESPEC, "layers", "missing (expected an array of layer objects)");
    if (!json_is_array(layers))
        return fail(c, GA_ESPEC, "layers", "is %s (expected an array of layer objects)",
                    json_kind(layers));
    size_t n = json_array_size(layers);
    if (n == 0)
        return fail(c, GA_ESPEC, "layers", "is empty (expected at least one layer)");
    if (n > GA_MAX_LAYERS)
        return fail(c, GA_ESPEC, "layers", "has %zu layers (expected at most %d)", n,
                    GA_MAX_LAYERS);
    s->desc.layers = calloc(n, sizeof *s->desc.layers);
    if (!s->desc.layers)
        return fail(c, GA_ENOMEM, "layers", "cannot allocate %zu layer descriptions", n);
    s->desc.n_layers = n;
    size_t fan_in = s->desc.n_in;
    for (size_t i = 0; i < n; i++) {
        char base[PATHLEN];
        join_index(base, "layers", i);
        ga_layer_desc *d = &s->desc.layers[i];
        if ((st = parse_layer(d, c, json_array_get(layers, i), base, i, n, fan_in, &s->desc)))
            return st;
        fan_in = d->n_out;
    }

    const json_t *loss;
    if ((st = get_object(&loss, c, root, "", "loss", 1)))
        return st;
    static const char *const loss_keys[] = {"type", "scale", "reduction", "weight_decay", NULL};
    if ((st = check_keys(c, loss, "loss", loss_keys)))
        return st;
    char names[300], expected[320];
    const char *name;
    list_names(names, sizeof names, GA_LOSS_COUNT, loss_name);
    snprintf(expected, sizeof expected, "one of: %s", names);
    if ((st = get_string(&name, c, loss, "loss", "type", 1, expected)))
        return st;
    if (ga_loss_from_name(&s->desc.loss.kind, name) != GA_OK)
        return fail(c, GA_ESPEC, "loss.type", "unknown loss \"%s\" (expected one of: %s)", name,
                    names);
    list_names(names, sizeof names, GA_REDUCE_COUNT, reduction_name);
    snprintf(expected, sizeof expected, "one of: %s", names);
    if ((st = get_string(&name, c, loss, "loss", "reduction", 1, expected)))
        return st;
    if (ga_reduction_from_name(&s->desc.loss.reduction, name) != GA_OK)
        return fail(c, GA_ESPEC, "loss.reduction", "unknown reduction \"%s\" (expected one of: %s)",
                    name, names);
    s->desc.loss.scale = 1.0;
    if ((st = get_number(&s->desc.loss.scale, c, loss, "loss", "scale", 0, "a number > 0")))
        return st;
    if (!(s->desc.loss.scale > 0.0))
        return fail(c, GA_ESPEC, "loss.scale", "is %.17g (expected a number > 0)",
                    s->desc.loss.scale);
    s->desc.loss.weight_decay = 0.0;
    if ((st = get_number(&s->desc.loss.weight_decay, c, loss, "loss", "weight_decay", 0,
                         "a number >= 0")))
        return st;
    if (!(s->desc.loss.weight_decay >= 0.0))
        return fail(c, GA_ESPEC, "loss.weight_decay", "is %.17g (expected a number >= 0)",
                    s->desc.loss.weight_decay);
    ga_error inner = {{0}};
    ga_activation last = s->desc.layers[n - 1].act;
    if (ga_loss_check_pair(&inner, s->desc.loss.kind, last) != GA_OK)
        return fail(c, GA_ESPEC, "loss.type", "%s (the last layer is layers[%zu]; valid pairs are "
                    "in docs/spec.md)", inner.msg, n - 1);
    return GA_OK;
}

/* Reads a JSON array of arrays holding a (rows, cols) matrix into dst C order;
 * with transposed the JSON holds its transpose (cols arrays of rows numbers).
 * rows_what / cols_what say what the outer / inner lengths mean. */
static int read_matrix(double *dst, const ctx *c, const json_t *j, const char *path, size_t rows,
                       size_t cols, int transposed, const char *outer_what, const char *inner_what)
{
    size_t jr = transposed ? cols : rows, jc = transposed ? rows : cols;
    if (!json_is_array(j))
        return fail(c, GA_ESPEC, path, "is %s (expected an array of %zu arrays of %zu numbers)",
                    json_kind(j), jr, jc);
    if (json_array_size(j) != jr)
        return fail(c, GA_ESPEC, path, "has %zu rows (expected %zu: %s)", json_array_size(j), jr,
                    outer_what);
    for (size_t i = 0; i < jr; i++) {
        char rp[PATHLEN];
        join_index(rp, path, i);
        const json_t *row = json_array_get(j, i);
        if (!json_is_array(row))
            return fail(c, GA_ESPEC, rp, "is %s (expected an array of %zu numbers)",
                        json_kind(row), jc);
        if (json_array_size(row) != jc)
            return fail(c, GA_ESPEC, rp, "has %zu entries (expected %zu: %s)",
                        json_array_size(row), jc, inner_what);
        for (size_t k = 0; k < jc; k++) {
            char ep[PATHLEN];
            join_index(ep, rp, k);
            double v;
            int st = check_number(&v, c, json_array_get(row, k), ep, "a number");
            if (st)
                return st;
            if (transposed)
                dst[k * cols + i] = v;
            else
                dst[i * cols + k] = v;
        }
    }
    return GA_OK;
}

/* An embedding first layer reads token ids: each x must be an integer 0 .. vocab - 1. */
static int check_ids(const ga_spec *s, const ctx *c)
{
    const ga_layer_desc *L = &s->desc.layers[0];
    size_t T = s->desc.n_in;
    if (L->kind != GA_LAYER_EMBEDDING)
        return GA_OK;
    for (size_t i = 0; i < s->batch * T; i++) {
        double v = s->x[i];
        if (!(v >= 0 && v < (double)L->vocab && v == floor(v))) {
            char path[PATHLEN], p2[PATHLEN];
            join_index(p2, "data.x", i / T);
            join_index(path, p2, i % T);
            return fail(c, GA_ESPEC, path, "is %.17g (expected a token id: an integer 0 .. %zu, "
                        "layers[0] being an embedding of vocab %zu)", v, L->vocab - 1, L->vocab);
        }
    }
    return GA_OK;
}

static int parse_data(ga_spec *s, const ctx *c, const json_t *root, size_t memory_cap)
{
    const json_t *data;
    int st = get_object(&data, c, root, "", "data", 1);
    if (st)
        return st;
    static const char *const data_keys[] = {"x", "y", "orientation", NULL};
    if ((st = check_keys(c, data, "data", data_keys)))
        return st;
    const char *orient;
    if ((st = get_string(&orient, c, data, "data", "orientation", 0, "\"rows\" or \"columns\"")))
        return st;
    int columns = 0;
    if (orient && !strcmp(orient, "columns"))
        columns = 1;
    else if (orient && strcmp(orient, "rows"))
        return fail(c, GA_ESPEC, "data.orientation",
                    "unknown orientation \"%s\" (expected one of: rows, columns)", orient);
    const json_t *x = json_object_get(data, "x"), *y = json_object_get(data, "y");
    if (!x)
        return fail(c, GA_ESPEC, "data.x", "missing (expected an array of samples)");
    if (!y)
        return fail(c, GA_ESPEC, "data.y", "missing (expected an array of targets)");
    if (!json_is_array(x))
        return fail(c, GA_ESPEC, "data.x", "is %s (expected an array of arrays of numbers)",
                    json_kind(x));
    if (!json_is_array(y))
        return fail(c, GA_ESPEC, "data.y", "is %s (expected an array of arrays of numbers)",
                    json_kind(y));
    size_t n_in = s->desc.n_in, n_out = s->desc.layers[s->desc.n_layers - 1].n_out;
    size_t B;
    if (!columns) {
        B = json_array_size(x);
        if (B == 0)
            return fail(c, GA_ESPEC, "data.x", "is empty (expected at least one sample)");
    } else {
        if (json_array_size(x) != n_in)
            return fail(c, GA_ESPEC, "data.x", "has %zu rows (expected %zu: with orientation "
                        "columns, one row per input feature)", json_array_size(x), n_in);
        const json_t *x0 = json_array_get(x, 0);
        if (!json_is_array(x0))
            return fail(c, GA_ESPEC, "data.x[0]", "is %s (expected an array of numbers)",
                        json_kind(x0));
        B = json_array_size(x0);
        if (B == 0)
            return fail(c, GA_ESPEC, "data.x[0]", "is empty (expected at least one sample)");
    }
    /* B is bounded by the parsed text, but the products may still pass the cap */
    size_t width = n_in + n_out;
    if (B > SIZE_MAX / sizeof(double) / width)
        return fail(c, GA_ERANGE, "data", "%zu samples of %zu numbers overflow a size", B, width);
    /* the cap bounds params + grads (already counted) + data + explicit values */
    size_t used = 2 * s->n_params * sizeof(double), bytes = B * width * sizeof(double);
    if (bytes > memory_cap - used)
        return fail(c, GA_ENOMEM, "data", "%zu samples of %zu numbers need %zu bytes, over the "
                    "memory cap of %zu bytes with %zu bytes of parameters and gradients", B, width,
                    bytes, memory_cap, used);
    s->batch = B;
    s->x = malloc(B * n_in * sizeof *s->x);
    s->y = malloc(B * n_out * sizeof *s->y);
    if (!s->x || !s->y)
        return fail(c, GA_ENOMEM, "data", "cannot allocate %zu samples", B);
    char outer[160], inner[160];
    if (!columns) {
        snprintf(inner, sizeof inner, "the input size");
        if ((st = read_matrix(s->x, c, x, "data.x", B, n_in, 0, "one per sample", inner)))
            return st;
        snprintf(outer, sizeof outer, "one per sample, as in data.x");
        snprintf(inner, sizeof inner, "the size of the last layer");
        return read_matrix(s->y, c, y, "data.y", B, n_out, 0, outer, inner);
    }
    snprintf(outer, sizeof outer, "with orientation columns, one row per input feature");
    snprintf(inner, sizeof inner, "with orientation columns, one entry per sample");
    if ((st = read_matrix(s->x, c, x, "data.x", B, n_in, 1, outer, inner)))
        return st;
    snprintf(outer, sizeof outer, "with orientation columns, one row per output of the last "
             "layer");
    snprintf(inner, sizeof inner, "one entry per sample, as in data.x");
    return read_matrix(s->y, c, y, "data.y", B, n_out, 1, outer, inner);
}

static int parse_values(ga_spec *s, const ctx *c, const json_t *values, size_t memory_cap)
{
    const ga_net_desc *desc = &s->desc;
    size_t n_views = 2 * desc->n_layers;
    char names[200];
    list_tensors(names, sizeof names, desc);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)values, key, val) {
        (void)val;
        if (parse_tensor_name(key, desc) < 0) {
            char path[PATHLEN];
            join(path, "parameters.values", key);
            return fail(c, GA_ESPEC, path, "unknown tensor \"%s\" (expected one of: %s)", key,
                        names);
        }
    }
    /* params + grads + data were checked against the cap; add the values */
    size_t used = 2 * s->n_params * sizeof(double) +
                  s->batch * (s->desc.n_in + s->desc.layers[s->desc.n_layers - 1].n_out) *
                      sizeof(double);
    if (s->n_params * sizeof(double) > memory_cap - used)
        return fail(c, GA_ENOMEM, "parameters.values", "%zu parameters need %zu bytes, over the "
                    "memory cap of %zu bytes with %zu bytes already used", s->n_params,
                    s->n_params * sizeof(double), memory_cap, used);
    s->values = malloc((s->n_params ? s->n_params : 1) * sizeof *s->values);
    if (!s->values)
        return fail(c, GA_ENOMEM, "parameters.values", "cannot allocate %zu parameters",
                    s->n_params);
    size_t off = 0;
    for (size_t v = 0; v < n_views; v++) {
        char t[32], path[PATHLEN];
        if (!ga_view_name(t, sizeof t, desc, v))
            continue; /* a view this layer does not have */
        join(path, "parameters.values", t);
        size_t r, cc;
        ga_spec_tensor_shape(&r, &cc, desc, v);
        const json_t *j = json_object_get(values, t);
        if (!j)
            return fail(c, GA_ESPEC, path, "missing (expected %s's values, an array of %zu arrays "
                        "of %zu numbers, its stored shape (%zu, %zu) in the %s layout)", t, r, cc,
                        r, cc, desc->layout == GA_LAYOUT_COLUMN ? "column" : "row");
        double *dst = s->values + off;
        int st;
        if ((r == 1 || cc == 1) && json_is_array(j) && json_array_size(j) > 0 &&
            json_is_number(json_array_get(j, 0))) {
            /* a vector may be written flat */
            if (json_array_size(j) != r * cc)
                return fail(c, GA_ESPEC, path, "has %zu entries (expected %zu, %s's stored shape "
                            "(%zu, %zu))", json_array_size(j), r * cc, t, r, cc);
            for (size_t k = 0; k < r * cc; k++) {
                char ep[PATHLEN];
                join_index(ep, path, k);
                if ((st = check_number(&dst[k], c, json_array_get(j, k), ep, "a number")))
                    return st;
            }
        } else {
            char outer[128], inner[128];
            snprintf(outer, sizeof outer, "%s's stored shape is (%zu, %zu) in the %s layout", t, r,
                     cc, desc->layout == GA_LAYOUT_COLUMN ? "column" : "row");
            snprintf(inner, sizeof inner, "%s's stored shape is (%zu, %zu)", t, r, cc);
            if ((st = read_matrix(dst, c, j, path, r, cc, 0, outer, inner)))
                return st;
        }
        off += r * cc;
    }
    return GA_OK;
}

static int parse_tensor_recipe(ga_init_desc *d, const ctx *c, const json_t *j, const char *path,
                               size_t rows, size_t cols, size_t fan_in, size_t fan_out)
{
    if (!json_is_object(j))
        return fail(c, GA_ESPEC, path, "is %s (expected an object with a scheme)", json_kind(j));
    static const char *const keys[] = {"scheme", "a", "b", "value", "scale", "fan_in",
                                       "fan_out", "shape", "transpose", NULL};
    int st = check_keys(c, j, path, keys);
    if (st)
        return st;
    char names[300], expected[320], kp[PATHLEN];
    list_names(names, sizeof names, GA_INIT_COUNT, scheme_name);
    snprintf(expected, sizeof expected, "one of: %s", names);
    const char *name;
    if ((st = get_string(&name, c, j, path, "scheme", 1, expected)))
        return st;
    ga_init_scheme sch;
    join(kp, path, "scheme");
    if (ga_init_scheme_from_name(&sch, name) != GA_OK)
        return fail(c, GA_ESPEC, kp, "unknown scheme \"%s\" (expected one of: %s; aliases "
                    "glorot_normal, glorot_uniform, he_normal, kaiming_normal, kaiming_uniform, "
                    "lecun_normal)", name, names);
    ga_init_desc_default(d, sch);
    /* keys that only some schemes read: refuse them elsewhere, a typo or a misunderstanding */
    if ((json_object_get(j, "a") || json_object_get(j, "b")) && sch != GA_INIT_UNIFORM) {
        join(kp, path, json_object_get(j, "a") ? "a" : "b");
        return fail(c, GA_ESPEC, kp, "only the uniform scheme takes bounds a and b (this "
                    "tensor's scheme is %s)", ga_init_scheme_name(sch));
    }
    if (json_object_get(j, "value") && sch != GA_INIT_CONSTANT) {
        join(kp, path, "value");
        return fail(c, GA_ESPEC, kp, "only the constant scheme takes a value (this tensor's "
                    "scheme is %s)", ga_init_scheme_name(sch));
    }
    if (json_object_get(j, "fan_in") && !ga_init_scheme_uses_fan_in(sch)) {
        join(kp, path, "fan_in");
        return fail(c, GA_ESPEC, kp, "scheme %s does not use fan_in", ga_init_scheme_name(sch));
    }
    if (json_object_get(j, "fan_out") && !ga_init_scheme_uses_fan_out(sch)) {
        join(kp, path, "fan_out");
        return fail(c, GA_ESPEC, kp, "scheme %s does not use fan_out", ga_init_scheme_name(sch));
    }
    if (json_object_get(j, "scale") && sch == GA_INIT_ZEROS) {
        join(kp, path, "scale");
        return fail(c, GA_ESPEC, kp, "the zeros scheme takes no scale");
    }
    if (sch == GA_INIT_CONSTANT &&
        (st = get_number(&d->value, c, j, path, "value", 1, "a number")))
        return st;
    if ((st = get_number(&d->low, c, j, path, "a", 0, "a number")))
        return st;
    if ((st = get_number(&d->high, c, j, path, "b", 0, "a number")))
        return st;
    if ((st = get_number(&d->scale, c, j, path, "scale", 0, "a number")))
        return st;
    if ((st = get_size(&d->fan_in, c, j, path, "fan_in", 0, SIZE_MAX / 4, "fan_in")))
        return st;
    if ((st = get_size(&d->fan_out, c, j, path, "fan_out", 0, SIZE_MAX / 4, "fan_out")))
        return st;
    const json_t *tr = json_object_get(j, "transpose");
    if (tr) {
        join(kp, path, "transpose");
        if (!json_is_boolean(tr))
            return fail(c, GA_ESPEC, kp, "is %s (expected true or false)", json_kind(tr));
        d->transpose = json_is_true(tr);
    }
    const json_t *shape = json_object_get(j, "shape");
    if (shape) {
        join(kp, path, "shape");
        if (!json_is_array(shape) || json_array_size(shape) < 1 || json_array_size(shape) > 2)
            return fail(c, GA_ESPEC, kp, "is %s (expected an array of 1 or 2 integer sizes, "
                        "e.g. [%zu, %zu])", json_is_array(shape) ? "an array of the wrong length"
                        : json_kind(shape), rows, cols);
        d->ndim = json_array_size(shape);
        for (size_t i = 0; i < d->ndim; i++) {
            char ep[PATHLEN];
            join_index(ep, kp, i);
            if ((st = check_size(&d->shape[i], c, json_array_get(shape, i), ep, GA_MAX_WIDTH,
                                 "dimension")))
                return st;
        }
    }
    ga_error inner = {{0}};
    if ((st = ga_init_desc_check(&inner, d, rows, cols, fan_in, fan_out)) != GA_OK)
        return fail(c, GA_ESPEC, path, "%s", inner.msg);
    return GA_OK;
}

static int parse_init(ga_spec *s, const ctx *c, const json_t *init)
{
    static const char *const keys[] = {"seed", "order", "tensors", "default", NULL};
    int st = check_keys(c, init, "parameters.init", keys);
    if (st)
        return st;
    const ga_net_desc *desc = &s->desc;
    size_t n_views = 2 * desc->n_layers;
    char names[200];
    list_tensors(names, sizeof names, desc);

    const json_t *seed = json_object_get(init, "seed");
    if (!seed)
        return fail(c, GA_ESPEC, "parameters.init.seed", "missing (expected an integer in "
                    "[0, 4294967295], the argument of np.random.seed)");
    if (!json_is_integer(seed) || json_integer_value(seed) < 0 ||
        json_integer_value(seed) > (json_int_t)UINT32_MAX) {
        if (json_is_integer(seed))
            return fail(c, GA_ESPEC, "parameters.init.seed", "is %" JSON_INTEGER_FORMAT
                        " (expected an integer in [0, 4294967295])", json_integer_value(seed));
        return fail(c, GA_ESPEC, "parameters.init.seed", "is %s (expected an integer in "
                    "[0, 4294967295])", json_kind(seed));
    }
    s->init.seed = (uint32_t)json_integer_value(seed);

    s->init.n_tensors = n_views;
    s->init.tensors = calloc(n_views, sizeof *s->init.tensors);
    s->init.order = calloc(n_views, sizeof *s->init.order);
    if (!s->init.tensors || !s->init.order)
        return fail(c, GA_ENOMEM, "parameters.init", "cannot allocate %zu tensor recipes",
                    n_views);
    unsigned char *have = calloc(n_views, 1);
    if (!have)
        return fail(c, GA_ENOMEM, "parameters.init", "cannot allocate %zu flags", n_views);

    const json_t *tensors, *dflt;
    if ((st = get_object(&tensors, c, init, "parameters.init", "tensors", 0)) ||
        (st = get_object(&dflt, c, init, "parameters.init", "default", 0)))
        goto done;
    if (tensors) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)tensors, key, val) {
            char path[PATHLEN];
            join(path, "parameters.init.tensors", key);
            long v = parse_tensor_name(key, desc);
            if (v < 0) {
                st = fail(c, GA_ESPEC, path, "unknown tensor \"%s\" (expected one of: %s)", key,
                          names);
                goto done;
            }
            size_t r, cc, l = (size_t)v / 2;
            ga_spec_tensor_shape(&r, &cc, desc, (size_t)v);
            size_t fi = l == 0 ? desc->n_in : desc->layers[l - 1].n_out;
            if ((st = parse_tensor_recipe(&s->init.tensors[v], c, val, path, r, cc, fi,
                                          desc->layers[l].n_out)))
                goto done;
            have[v] = 1;
        }
    }
    for (size_t v = 0; v < n_views; v++) {
        char t[32];
        if (have[v] || !ga_view_name(t, sizeof t, desc, v))
            continue; /* a view the layer does not have keeps the zeros recipe */
        if (!dflt) {
            st = fail(c, GA_ESPEC, "parameters.init.tensors", "no recipe for %s (expected one in "
                      "tensors, or a default)", t);
            goto done;
        }
        size_t r, cc, l = v / 2;
        ga_spec_tensor_shape(&r, &cc, desc, v);
        size_t fi = l == 0 ? desc->n_in : desc->layers[l - 1].n_out;
        char path[PATHLEN];
        snprintf(path, sizeof path, "parameters.init.default (for %s)", t);
        if ((st = parse_tensor_recipe(&s->init.tensors[v], c, dflt, path, r, cc, fi,
                                      desc->layers[l].n_out)))
            goto done;
    }

    memset(have, 0, n_views);
    const json_t *order = json_object_get(init, "order");
    if (!order) {
        for (size_t v = 0; v < n_views; v++)
            s->init.order[v] = v;
        s->init.n_order = n_views;
    } else {
        if (!json_is_array(order)) {
            st = fail(c, GA_ESPEC, "parameters.init.order", "is %s (expected an array of tensor "
                      "names such as [\"W1\", \"b1\", \"W2\", \"b2\"])", json_kind(order));
            goto done;
        }
        if (json_array_size(order) > n_views) {
            st = fail(c, GA_ESPEC, "parameters.init.order", "has %zu entries (expected at most "
                      "%zu, one per tensor)", json_array_size(order), n_views);
            goto done;
        }
        for (size_t k = 0; k < json_array_size(order); k++) {
            char path[PATHLEN];
            join_index(path, "parameters.init.order", k);
            const json_t *e = json_array_get(order, k);
            if (!json_is_string(e)) {
                st = fail(c, GA_ESPEC, path, "is %s (expected a tensor name, one of: %s)",
                          json_kind(e), names);
                goto done;
            }
            long v = parse_tensor_name(json_string_value(e), desc);
            if (v < 0) {
                st = fail(c, GA_ESPEC, path, "unknown tensor \"%s\" (expected one of: %s)",
                          json_string_value(e), names);
                goto done;
            }
            if (have[v]) {
                st = fail(c, GA_ESPEC, path, "lists %s a second time (expected each tensor at "
                          "most once)", json_string_value(e));
                goto done;
            }
            have[v] = 1;
            s->init.order[s->init.n_order++] = (size_t)v;
        }
        for (size_t v = 0; v < n_views; v++)
            if (!have[v] && ga_init_scheme_draws(s->init.tensors[v].scheme)) {
                char t[32];
                ga_view_name(t, sizeof t, desc, v);
                st = fail(c, GA_ESPEC, "parameters.init.order", "leaves out %s, whose scheme %s "
                          "draws random numbers (expected every drawing tensor once, in draw "
                          "order)", t, ga_init_scheme_name(s->init.tensors[v].scheme));
                goto done;
            }
    }
done:
    free(have);
    return st;
}

static int parse_parameters(ga_spec *s, const ctx *c, const json_t *root, size_t memory_cap)
{
    const json_t *p;
    int st = get_object(&p, c, root, "", "parameters", 1);
    if (st)
        return st;
    static const char *const keys[] = {"values", "init", NULL};
    if ((st = check_keys(c, p, "parameters", keys)))
        return st;
    const json_t *values, *init;
    if ((st = get_object(&values, c, p, "parameters", "values", 0)) ||
        (st = get_object(&init, c, p, "parameters", "init", 0)))
        return st;
    if (values && init)
        return fail(c, GA_ESPEC, "parameters", "has both values and init (expected one of them)");
    if (!values && !init)
        return fail(c, GA_ESPEC, "parameters", "has neither values nor init (expected one of "
                    "them)");
    if (values)
        return parse_values(s, c, values, memory_cap);
    s->has_init = 1;
    return parse_init(s, c, init);
}

/* ---- entry points ----------------------------------------------------------- */

/* A jansson syntax error as FILE:LINE:COLUMN: message, clearer for NaN,
 * Infinity and overflowing numbers. */
static int syntax_error(const ctx *c, const json_error_t *e, const char *text, size_t len)
{
    const char *near = strstr(e->text, "near '");
    char token[64] = "";
    if (near) {
        near += 6;
        size_t n = strcspn(near, "'");
        if (n >= sizeof token)
            n = sizeof token - 1;
        memcpy(token, near, n);
        token[n] = 0;
    }
    /* jansson names the token for some errors only ("too big integer" at the
     * end of a line does, before a comma does not): the number that ends at
     * the error's position, then */
    if (!token[0] && e->position > 0 && (size_t)e->position <= len) {
        size_t end = (size_t)e->position, start = end;
        while (start > 0 && text[start - 1] && strchr("0123456789+-.eE", text[start - 1]))
            start--;
        size_t n = end - start < sizeof token ? end - start : sizeof token - 1;
        memcpy(token, text + start, n);
        token[n] = 0;
    }
    /* after a lone sign jansson stops; look at what follows in the text */
    const char *after = (e->position >= 0 && (size_t)e->position <= len) ? text + e->position : "";
    const char *t = token;
    if (*t == '-' || *t == '+')
        t++;
    int nonfinite = !strncasecmp(t, "nan", 3) || !strncasecmp(t, "inf", 3) ||
                    ((!strcmp(token, "-") || !strcmp(token, "+")) &&
                     (!strncasecmp(after, "nan", 3) || !strncasecmp(after, "inf", 3)));
    if (nonfinite)
        return ga_fail(c->err, GA_ESPEC, "%s:%d:%d: NaN and Infinity are not JSON numbers "
                       "(expected a finite number)", c->name, e->line, e->column);
    if (strstr(e->text, "real number overflow"))
        return ga_fail(c->err, GA_ESPEC, "%s:%d:%d: number %s overflows a double (expected a "
                       "finite number, magnitude below 1.7976931348623157e308)", c->name,
                       e->line, e->column, token);
    if (strstr(e->text, "too big integer"))
        return ga_fail(c->err, GA_ESPEC, "%s:%d:%d: integer %s does not fit in 64 bits (expected "
                       "a smaller integer, or a real such as 1e20)", c->name, e->line, e->column,
                       token);
    if (strstr(e->text, "duplicate object key"))
        return ga_fail(c->err, GA_ESPEC, "%s:%d:%d: duplicate key %s (expected each key once in "
                       "an object)", c->name, e->line, e->column, token);
    return ga_fail(c->err, GA_ESPEC, "%s:%d:%d: invalid JSON: %s", c->name, e->line, e->column,
                   e->text);
}

int ga_spec_parse_layer(ga_layer_desc *d, int *act_only, ga_error *err, const char *text,
                        const char *name, size_t fan_in)
{
    ctx c = {name, err};
    memset(d, 0, sizeof *d);
    *act_only = 0;
    if (!text)
        return fail(&c, GA_ESPEC, "layer", "missing (expected one layer object of docs/spec.md)");
    if (fan_in == 0 || fan_in > GA_MAX_WIDTH)
        return fail(&c, GA_ESPEC, "", "an input width of %zu (expected 1 .. %zu)", fan_in,
                    (size_t)GA_MAX_WIDTH);
    json_error_t je;
    size_t len = strlen(text);
    json_t *L = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!L)
        return syntax_error(&c, &je, text, len);
    int st;
    if (json_is_object(L) && !json_object_get(L, "type") && !json_object_get(L, "size") &&
        json_object_get(L, "activation")) {
        /* an activation alone: a dense layer's keys but its size */
        static const char *const act_keys[] = {"activation", "slope", "alpha", NULL};
        *act_only = 1;
        d->n_out = fan_in;
        if (!(st = check_keys(&c, L, "layer", act_keys)))
            st = parse_activation(d, &c, L, "layer");
    } else {
        const json_t *jt = json_is_object(L) ? json_object_get(L, "type") : NULL;
        const char *type = json_is_string(jt) ? json_string_value(jt) : "";
        if (!strcmp(type, "residual") || !strcmp(type, "concat"))
            st = fail(&c, GA_ESPEC, "layer.type", "is %s, which joins two layers' outputs "
                      "(expected an op of one input: check a %s in a spec)", type, type);
        else /* layers[0] of a net that goes on after it */
            st = parse_layer(d, &c, L, "layer", 0, 2, fan_in, NULL);
    }
    json_decref(L);
    return st;
}

int ga_json_load(struct json_t **out, ga_error *err, const char *path, size_t cap)
{
    char *text;
    size_t len;
    *out = NULL;
    int st = ga_read_file(&text, &len, err, path, cap);
    if (st != GA_OK)
        return st;
    json_error_t je;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out) {
        ctx c = {path, err};
        st = syntax_error(&c, &je, text, len);
    }
    free(text);
    return st;
}

static int parse_buffer(ga_spec **out, ga_error *err, const char *text, size_t len,
                        const char *name, size_t memory_cap)
{
    *out = NULL;
    if (memory_cap == 0)
        memory_cap = GA_DEFAULT_MEMORY_CAP;
    ctx c = {name, err};
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return syntax_error(&c, &je, text, len);
    int st;
    ga_spec *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(root);
        return fail(&c, GA_ENOMEM, "", "cannot allocate a spec");
    }
    s->source = strdup(name);
    if (!s->source) {
        st = fail(&c, GA_ENOMEM, "", "cannot allocate a spec");
        goto out;
    }
    if (!json_is_object(root)) {
        st = fail(&c, GA_ESPEC, "", "the top level is %s (expected an object with layout, input, "
                  "layers, loss, data, parameters)", json_kind(root));
        goto out;
    }
    static const char *const keys[] = {"description", "layout", "input", "layers", "loss",
                                       "data", "parameters", NULL};
    if ((st = check_keys(&c, root, "", keys)))
        goto out;
    const char *descr;
    if ((st = get_string(&descr, &c, root, "", "description", 0, "a string")))
        goto out;
    if (descr && !(s->description = strdup(descr))) {
        st = fail(&c, GA_ENOMEM, "", "cannot allocate a spec");
        goto out;
    }
    if ((st = parse_net(s, &c, root)))
        goto out;
    /* sizes, pair, parameter count and memory cap, before anything big */
    ga_error inner = {{0}};
    if ((st = ga_net_desc_validate(&s->n_params, &inner, &s->desc, memory_cap)) != GA_OK) {
        st = fail(&c, st, "", "%s", inner.msg); /* the core names the field */
        goto out;
    }
    if ((st = parse_data(s, &c, root, memory_cap)) || (st = check_ids(s, &c)))
        goto out;
    st = parse_parameters(s, &c, root, memory_cap);
out:
    json_decref(root);
    if (st != GA_OK) {
        ga_spec_free(s);
        return st;
    }
    *out = s;
    return GA_OK;
}

int ga_spec_parse(ga_spec **out, ga_error *err, const char *text, const char *name_for_messages,
                  size_t memory_cap)
{
    return parse_buffer(out, err, text, strlen(text), name_for_messages, memory_cap);
}

int ga_spec_load(ga_spec **out, ga_error *err, const char *path, size_t memory_cap)
{
    *out = NULL;
    if (memory_cap == 0)
        memory_cap = GA_DEFAULT_MEMORY_CAP;
    /* a regular file no larger than the cap, refused before reading when
     * it is a FIFO, a device or a directory (core/ga_io.h) */
    char *buf;
    size_t len;
    int rs = ga_read_file(&buf, &len, err, path, memory_cap);
    if (rs != GA_OK)
        return rs;
    int st = parse_buffer(out, err, buf, len, path, memory_cap);
    free(buf);
    return st;
}

void ga_spec_free(ga_spec *s)
{
    if (!s)
        return;
    free(s->source);
    free(s->description);
    free(s->desc.layers);
    free(s->x);
    free(s->y);
    free(s->values);
    free(s->init.tensors);
    free(s->init.order);
    free(s);
}

static int first_nonfinite(const double *a, size_t n, size_t *where);

int ga_spec_make_net(ga_net **out, ga_error *err, const ga_spec *spec, uint32_t seed_override,
                     int use_override)
{
    *out = NULL;
    if (use_override && !spec->has_init)
        return ga_fail(err, GA_EINVAL, "%s: a seed applies only to a spec with parameters.init "
                       "(this one gives parameters.values)", spec->source);
    ga_net *net;
    int st = ga_net_alloc(&net, err, &spec->desc);
    if (st != GA_OK)
        return st;
    if (net->n_params != spec->n_params || net->n_views != 2 * spec->desc.n_layers) {
        ga_net_free(net);
        return ga_fail(err, GA_EINVAL, "%s: the net has %zu parameters in %zu tensors (expected "
                       "%zu in %zu)", spec->source, net->n_params, net->n_views, spec->n_params,
                       2 * spec->desc.n_layers);
    }
    for (size_t v = 0; v < net->n_views; v++) {
        size_t r, c;
        ga_spec_tensor_shape(&r, &c, &spec->desc, v);
        if (net->views[v].rows != r || net->views[v].cols != c) {
            ga_net_free(net);
            return ga_fail(err, GA_EINVAL, "%s: tensor %s of the net is (%zu, %zu) (expected "
                           "(%zu, %zu))", spec->source, net->views[v].name, net->views[v].rows,
                           net->views[v].cols, r, c);
        }
    }
    if (spec->has_init) {
        ga_error inner = {{0}};
        st = ga_init_net(net, &inner, &spec->init, use_override ? seed_override : spec->init.seed);
        if (st != GA_OK) {
            ga_net_free(net);
            return ga_fail(err, st, "%s: parameters.init: %s", spec->source, inner.msg);
        }
        /* a recipe can overflow (randn with scale 1e308): refused here, so that
         * eval and train, like check, never start from an infinite weight */
        size_t i;
        if (first_nonfinite(net->params, net->n_params, &i)) {
            char name[64];
            ga_param_name(name, sizeof name, net, i);
            st = ga_fail(err, GA_ENONFINITE, "%s: parameters.init: %s is %g (the recipe "
                         "overflows a double; expected finite weights)", spec->source, name,
                         net->params[i]);
            ga_net_free(net);
            return st;
        }
    } else {
        /* spec->values holds W1, b1, W2, b2, ... back to back */
        size_t off = 0;
        for (size_t v = 0; v < net->n_views; v++) {
            size_t n = net->views[v].rows * net->views[v].cols;
            memcpy(net->params + net->views[v].offset, spec->values + off, n * sizeof(double));
            off += n;
        }
    }
    *out = net;
    return GA_OK;
}

/* ---- writing ------------------------------------------------------------------ */

/* %.17g round-trips a double; "-0.0" keeps the sign of a negative zero (a bare
 * "-0" would parse as the integer 0). */
static void put_number(FILE *f, double v)
{
    if (v == 0.0)
        fputs(signbit(v) ? "-0.0" : "0", f);
    else
        fprintf(f, "%.17g", v);
}

/* a (rows, cols) C-order matrix as an array of arrays, one row a line */
static void put_matrix(FILE *f, const double *a, size_t rows, size_t cols, const char *indent)
{
    fputs("[", f);
    for (size_t i = 0; i < rows; i++) {
        fprintf(f, "%s\n%s  [", i ? "," : "", indent);
        for (size_t j = 0; j < cols; j++) {
            if (j)
                fputs(", ", f);
            put_number(f, a[i * cols + j]);
        }
        fputs("]", f);
    }
    fprintf(f, "\n%s]", indent);
}

static int first_nonfinite(const double *a, size_t n, size_t *where)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) {
            *where = i;
            return 1;
        }
    return 0;
}

int ga_spec_write(FILE *f, ga_error *err, const ga_spec *spec, const ga_net *net)
{
    const ga_net_desc *d = &spec->desc;
    size_t n_out = d->layers[d->n_layers - 1].n_out, i;
    if (net->n_params != spec->n_params || net->n_views != 2 * d->n_layers)
        return ga_fail(err, GA_EINVAL, "%s: the net was not made from this spec", spec->source);
    /* nothing is written unless everything can be */
    if (first_nonfinite(spec->x, spec->batch * d->n_in, &i))
        return ga_fail(err, GA_ENONFINITE, "%s: data.x[%zu][%zu] is not finite", spec->source,
                       i / d->n_in, i % d->n_in);
    if (first_nonfinite(spec->y, spec->batch * n_out, &i))
        return ga_fail(err, GA_ENONFINITE, "%s: data.y[%zu][%zu] is not finite", spec->source,
                       i / n_out, i % n_out);
    if (first_nonfinite(net->params, net->n_params, &i)) {
        char name[64];
        ga_param_name(name, sizeof name, net, i);
        return ga_fail(err, GA_ENONFINITE, "%s: parameter %s is %g: a spec holds finite numbers "
                       "only", spec->source, name, net->params[i]);
    }
    char *descr = NULL;
    if (spec->description) {
        json_t *js = json_string(spec->description);
        descr = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        json_decref(js);
        if (!descr)
            return ga_fail(err, GA_ENOMEM, "%s: cannot encode the description", spec->source);
    }
    fputs("{\n", f);
    if (descr)
        fprintf(f, "  \"description\": %s,\n", descr);
    free(descr);
    fprintf(f, "  \"layout\": \"%s\",\n  \"input\": %zu,\n  \"layers\": [",
            d->layout == GA_LAYOUT_COLUMN ? "column" : "row", d->n_in);
    for (size_t l = 0; l < d->n_layers; l++) {
        const ga_layer_desc *L = &d->layers[l];
        if (L->kind == GA_LAYER_CONV || L->kind == GA_LAYER_MAXPOOL || L->kind == GA_LAYER_AVGPOOL) {
            const ga_geom *g = &L->geom;
            fprintf(f, "%s\n    {\"type\": \"%s\", \"in_shape\": [%zu, %zu, %zu], \"kernel\": [%zu, %zu], "
                    "\"stride\": [%zu, %zu]", l ? "," : "",
                    L->kind == GA_LAYER_CONV ? "conv2d" : L->kind == GA_LAYER_MAXPOOL ? "maxpool2d" : "avgpool2d",
                    g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw);
            if (L->kind == GA_LAYER_CONV) {
                fprintf(f, ", \"padding\": [%zu, %zu], \"channels\": %zu, \"activation\": \"%s\"", g->ph,
                        g->pw, g->oc, ga_activation_name(L->act));
                if (L->act == GA_ACT_LEAKY_RELU || L->act == GA_ACT_ELU) {
                    fprintf(f, ", \"%s\": ", L->act == GA_ACT_ELU ? "alpha" : "slope");
                    put_number(f, L->act_param);
                }
            }
            fputs("}", f);
            continue;
        }
        if (L->kind != GA_LAYER_DENSE) {
            fprintf(f, "%s\n    {\"type\": \"%s\"", l ? "," : "", ga_layer_kind_name(L->kind));
            if (L->kind == GA_LAYER_EMBEDDING) {
                fprintf(f, ", \"vocab\": %zu, \"dim\": %zu}", L->vocab, L->dim);
            } else if (L->kind == GA_LAYER_ATTENTION) {
                fprintf(f, ", \"tokens\": %zu, \"heads\": %zu}", L->tokens, L->heads);
            } else if (L->kind == GA_LAYER_RNN) {
                fprintf(f, ", \"tokens\": %zu, \"size\": %zu, \"activation\": \"%s\"", L->tokens,
                        L->n_out / L->tokens, ga_activation_name(L->act));
                if (L->act == GA_ACT_LEAKY_RELU || L->act == GA_ACT_ELU) {
                    fprintf(f, ", \"%s\": ", L->act == GA_ACT_ELU ? "alpha" : "slope");
                    put_number(f, L->act_param);
                }
                fputs("}", f);
            } else if (L->kind == GA_LAYER_BIAS) {
                fputs("}", f);
            } else if (L->kind == GA_LAYER_DROPOUT) {
                fputs(", \"p\": ", f);
                put_number(f, L->p);
                fprintf(f, ", \"seed\": %u}", (unsigned)L->seed);
            } else if (L->kind == GA_LAYER_RESIDUAL || L->kind == GA_LAYER_CONCAT) {
                fprintf(f, ", \"from\": %zu}", L->from);
            } else {
                fputs(", \"eps\": ", f);
                put_number(f, L->eps);
                if (L->tokens > 1)
                    fprintf(f, ", \"tokens\": %zu", L->tokens);
                fputs("}", f);
            }
            continue;
        }
        fprintf(f, "%s\n    {\"size\": %zu, \"activation\": \"%s\"", l ? "," : "",
                L->n_out / ga_layer_tokens(L), ga_activation_name(L->act));
        if (L->tokens > 1)
            fprintf(f, ", \"tokens\": %zu", L->tokens);
        if (L->act == GA_ACT_LEAKY_RELU || L->act == GA_ACT_ELU) {
            fprintf(f, ", \"%s\": ", L->act == GA_ACT_ELU ? "alpha" : "slope");
            put_number(f, L->act_param);
        }
        fputs("}", f);
    }
    fprintf(f, "\n  ],\n  \"loss\": {\"type\": \"%s\", \"reduction\": \"%s\", \"scale\": ",
            ga_loss_name(d->loss.kind), ga_reduction_name(d->loss.reduction));
    put_number(f, d->loss.scale);
    fputs(", \"weight_decay\": ", f);
    put_number(f, d->loss.weight_decay);
    fputs("},\n  \"data\": {\n    \"x\": ", f);
    put_matrix(f, spec->x, spec->batch, d->n_in, "    ");
    fputs(",\n    \"y\": ", f);
    put_matrix(f, spec->y, spec->batch, n_out, "    ");
    fputs("\n  },\n  \"parameters\": {\"values\": {", f);
    for (size_t v = 0, shown = 0; v < net->n_views; v++) {
        const ga_view *w = &net->views[v];
        if (!w->name[0])
            continue; /* a view the layer does not have */
        fprintf(f, "%s\n    \"%s\": ", shown++ ? "," : "", w->name);
        put_matrix(f, net->params + w->offset, w->rows, w->cols, "    ");
    }
    fputs("\n  }}\n}\n", f);
    if (fflush(f) != 0 || ferror(f))
        return ga_fail(err, GA_EIO, "%s: cannot write the spec: %s", spec->source,
                       strerror(errno));
    return GA_OK;
}
