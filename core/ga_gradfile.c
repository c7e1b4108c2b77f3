/* ga_gradfile.c: a gradient from an .npz, .npy or CSV file (ga_gradfile.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_gradfile.h"
#include "ga_io.h"
#include "ga_npy.h"

int ga_gradfile_layout_from_name(ga_gradfile_layout *out, const char *name)
{
    static const char *const names[] = {"auto", "spec", "transposed"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = (ga_gradfile_layout)i;
            return GA_OK;
        }
    return GA_EINVAL;
}

/* "W1, b1, W2, b2" into buf, the names every message lists (the views the
 * layers have: gamma2, E1, ...); more than eight as the first two, "...",
 * the last two: "W1, b1, ..., W9, b9" */
static const char *expected_names(char *buf, size_t size, const ga_net *net)
{
    size_t count = 0, n = 0, k = 0;
    buf[0] = 0;
    for (size_t v = 0; v < net->n_views; v++)
        count += net->views[v].name[0] != 0;
    for (size_t v = 0; v < net->n_views && n < size; v++) {
        if (!net->views[v].name[0])
            continue;
        k++;
        if (count > 8 && k > 2 && k <= count - 2) {
            if (k == 3)
                n += (size_t)snprintf(buf + n, size - n, ", ...");
            continue;
        }
        n += (size_t)snprintf(buf + n, size - n, "%s%s", k > 1 ? ", " : "", net->views[v].name);
    }
    return buf;
}

/* The view named name ("W3", "b3", "gamma2", "E1"), or NULL */
static const ga_view *view_by_name(const ga_net *net, const char *name)
{
    const char *p = name;
    while (isalpha((unsigned char)*p))
        p++;
    if (p == name || *p < '1' || *p > '9')
        return NULL;
    char *end;
    errno = 0;
    unsigned long long l = strtoull(p, &end, 10);
    if (*end || errno || l > net->desc.n_layers)
        return NULL;
    for (size_t v = 2 * (l - 1); v < 2 * l; v++)
        if (net->views[v].name[0] && !strcmp(net->views[v].name, name))
            return &net->views[v];
    return NULL;
}

/* The slab index of item f (C order) of view vw as the file holds it: in the
 * spec's shape (rows, cols) or transposed, (cols, rows). */
static size_t slab_index(const ga_view *vw, int transposed, size_t f)
{
    if (!transposed || vw->is_bias)
        return vw->offset + f;
    size_t r = f % vw->rows, c = f / vw->rows; /* file (c, r) is spec (r, c) */
    return vw->offset + r * vw->cols + c;
}

/* Significant digits of a decimal's mantissa (leading and trailing zeros
 * not counted); a hexadecimal one counts as more than any precision holds. */
static size_t significant_digits(const char *s)
{
    while (*s == '+' || *s == '-' || isspace((unsigned char)*s))
        s++;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return SIZE_MAX;
    size_t n = 0, zeros = 0;
    int started = 0;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (!isdigit((unsigned char)*s))
            continue;
        if (*s == '0') {
            if (started)
                zeros++;
            continue;
        }
        n += started ? zeros + 1 : 1;
        started = 1;
        zeros = 0;
    }
    return n;
}

/* One decimal (text, surrounding spaces allowed) as a number of precision p:
 * NULL and *out, or why not. float32: the float32 nearest the decimal, taken
 * when the decimal is that float32 exactly or has at most 9 significant
 * digits (a float32 printed short, as str(np.float32) and %.9g print it);
 * more digits that are not one float32 are a float64's. */
static const char *parse_value(double *out, const char *text, ga_precision p)
{
    while (isspace((unsigned char)*text))
        text++;
    if (!*text)
        return "no value";
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    int range = errno == ERANGE;
    while (isspace((unsigned char)*end))
        end++;
    if (end == text || *end)
        return "not a number";
    if (isinf(v) && range)
        return "beyond float64's range (inf or -inf are written as such)";
    if (p == GA_PREC_FLOAT64 || isnan(v)) {
        *out = v;
        return NULL;
    }
    float f = strtof(text, NULL);
    if (isinf(f) && !isinf(v))
        return "beyond float32's range";
    if ((double)f != v && significant_digits(text) > 9)
        return "not a float32 number (more than 9 significant digits, and not one float32 "
               "exactly): a float64's value";
    *out = (double)f;
    return NULL;
}

/* ---- .npz ------------------------------------------------------------------------ */
static void shape_text(char *buf, size_t size, const ga_npy_array *a)
{
    size_t n = (size_t)snprintf(buf, size, "(");
    for (size_t d = 0; d < a->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%zu%s", a->shape[d],
                              a->ndim == 1 ? ",)" : d + 1 < a->ndim ? ", " : ")");
    if (a->ndim == 0 && n < size)
        snprintf(buf + n, size - n, ")");
}

/* How an array a fits view vw: bit 1 the spec's shape, bit 2 the transpose. */
static int fits(const ga_view *vw, const ga_npy_array *a)
{
    size_t n = vw->rows * vw->cols;
    if (vw->is_bias)
        return (a->ndim == 1 && a->shape[0] == n) || (a->ndim == 0 && n == 1) ||
               (a->ndim == 2 && ((a->shape[0] == 1 && a->shape[1] == n) ||
                                 (a->shape[0] == n && a->shape[1] == 1)));
    if (a->ndim != 2)
        return 0;
    return (a->shape[0] == vw->rows && a->shape[1] == vw->cols) |
           (a->shape[0] == vw->cols && a->shape[1] == vw->rows) << 1;
}

static int refuse_shape(ga_error *err, const char *path, const ga_net *net, const ga_view *vw,
                        const ga_npy_array *a, ga_gradfile_layout layout)
{
    char got[128];
    shape_text(got, sizeof got, a);
    size_t r = vw->rows, c = vw->cols, n = r * c;
    if (vw->is_bias)
        return ga_fail(err, GA_EINVAL, "%s: %s has shape %s: expected (%zu,), (1, %zu) or (%zu, 1)",
                       path, vw->name, got, n, n, n);
    const char *spec = net->desc.layout == GA_LAYOUT_COLUMN ? "column layout, (out, in)"
                                                            : "row layout, (in, out)";
    if (layout == GA_GRADFILE_LAYOUT_SPEC)
        return ga_fail(err, GA_EINVAL, "%s: %s has shape %s: expected (%zu, %zu), the spec's %s",
                       path, vw->name, got, r, c, spec);
    if (layout == GA_GRADFILE_LAYOUT_TRANSPOSED)
        return ga_fail(err, GA_EINVAL, "%s: %s has shape %s: expected (%zu, %zu), the transpose "
                       "of the spec's %s", path, vw->name, got, c, r, spec);
    return ga_fail(err, GA_EINVAL, "%s: %s has shape %s: expected (%zu, %zu), the spec's %s, or "
                   "its transpose (%zu, %zu)", path, vw->name, got, r, c, spec, c, r);
}

/* The layout the file's non-square Ws show: 1 spec, 2 transposed, 0 none or both */
static int file_layout(const ga_net *net, const ga_npy_array *const *by_view)
{
    int seen = 0;
    for (size_t v = 0; v < net->n_views; v++)
        if (!net->views[v].is_bias && net->views[v].rows != net->views[v].cols)
            seen |= fits(&net->views[v], by_view[v]);
    return seen == 3 ? 0 : seen;
}

static int read_npz(double *grad, ga_precision *prec, ga_error *err, const ga_net *net,
                    const char *path, const ga_gradfile_options *opt, size_t cap)
{
    ga_npz z;
    int st = ga_npz_read(&z, err, path, cap);
    if (st != GA_OK)
        return st;
    const ga_npy_array **by_view = calloc(net->n_views, sizeof *by_view);
    char names[512];
    if (!by_view) {
        st = ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    const ga_npy_array *first = NULL; /* the first gradient array: its dtype is the file's */
    if (opt->loss)
        *opt->loss = NAN;
    for (size_t i = 0; i < z.n && st == GA_OK; i++) {
        const ga_npy_array *a = &z.arrays[i];
        if (!strcmp(a->name, "loss")) { /* the program's loss, in whatever dtype it was saved */
            if (a->size != 1)
                st = ga_fail(err, GA_EINVAL, "%s: array 'loss' has %zu numbers (expected one: "
                             "np.savez(path, loss=loss, W1=dW1, ...))", path, a->size);
            else if (opt->loss)
                *opt->loss = a->data[0];
            continue;
        }
        if (!first)
            first = a;
        if (a->descr[2] != first->descr[2]) {
            st = ga_fail(err, GA_EINVAL, "%s: %s is %s but %s is %s: save every array in one dtype",
                         path, a->name, a->descr[2] == '4' ? "float32" : "float64",
                         first->name, a->descr[2] == '4' ? "float64" : "float32");
            break;
        }
        const ga_view *vw = view_by_name(net, a->name);
        if (!vw)
            st = ga_fail(err, GA_EINVAL, "%s: array '%s' is not a tensor of the spec (expected "
                         "one array each named %s: np.savez(path, W1=dW1, ...))", path, a->name,
                         expected_names(names, sizeof names, net));
        else /* ga_npz_read refused a name given twice */
            by_view[vw - net->views] = a;
    }
    for (size_t v = 0; v < net->n_views && st == GA_OK; v++)
        if (!by_view[v] && net->views[v].name[0]) /* a view the layer does not have: none */
            st = ga_fail(err, GA_EINVAL, "%s: no array '%s' (expected one array each named %s)",
                         path, net->views[v].name, expected_names(names, sizeof names, net));
    if (st != GA_OK)
        goto done;
    *prec = opt->dtype_given ? opt->dtype : first->descr[2] == '4' ? GA_PREC_FLOAT32
                                                                   : GA_PREC_FLOAT64;
    int majority = opt->layout == GA_GRADFILE_LAYOUT_AUTO ? file_layout(net, by_view) : 0;
    for (size_t v = 0; v < net->n_views && st == GA_OK; v++) {
        const ga_view *vw = &net->views[v];
        const ga_npy_array *a = by_view[v];
        if (!vw->name[0])
            continue; /* a view the layer does not have */
        int fit = fits(vw, a), transposed = 0;
        if (!vw->is_bias && opt->layout != GA_GRADFILE_LAYOUT_AUTO)
            fit &= opt->layout == GA_GRADFILE_LAYOUT_SPEC ? 1 : 2;
        if (!fit) {
            st = refuse_shape(err, path, net, vw, a, opt->layout);
            break;
        }
        if (fit == 3 && vw->rows > 1) { /* square: both shapes fit */
            if (!majority) {
                st = ga_fail(err, GA_EINVAL, "%s: %s is square, (%zu, %zu), and no other W of "
                             "the file shows whether it is held in the spec's layout or "
                             "transposed: give the layout (--grad-layout spec|transposed)",
                             path, vw->name, vw->rows, vw->cols);
                break;
            }
            fit = majority;
        }
        transposed = fit == 2;
        for (size_t f = 0; f < a->size; f++) {
            double x = a->data[f];
            if (*prec == GA_PREC_FLOAT32 && isfinite(x) && (double)(float)x != x) {
                st = ga_fail(err, GA_EINVAL, "%s: %s item %zu = %.17g is not a float32 number "
                             "(the gradient is said to be float32)", path, vw->name, f, x);
                break;
            }
            grad[slab_index(vw, transposed, f)] = x;
        }
    }
done:
    free(by_view);
    ga_npz_free(&z);
    return st;
}

/* ---- .npy -------------------------------------------------------------------------- */
static int read_npy(double *grad, ga_precision *prec, ga_error *err, const ga_net *net,
                    const char *path, const unsigned char *buf, size_t len,
                    const ga_gradfile_options *opt, size_t cap)
{
    ga_npy_array a;
    int st = ga_npy_parse(&a, err, buf, len, path, cap);
    if (st != GA_OK)
        return st;
    char names[512];
    if (a.ndim != 1 || a.shape[0] != net->n_params) {
        char got[128];
        shape_text(got, sizeof got, &a);
        st = ga_fail(err, GA_EINVAL, "%s: shape %s: expected one flat vector (%zu,) of every "
                     "entry in slab order, %s each flattened (or an .npz of named arrays)", path,
                     got, net->n_params, expected_names(names, sizeof names, net));
    }
    *prec = opt->dtype_given ? opt->dtype : a.descr[2] == '4' ? GA_PREC_FLOAT32 : GA_PREC_FLOAT64;
    for (size_t i = 0; st == GA_OK && i < a.size; i++) {
        const ga_view *vw = ga_net_locate(NULL, NULL, net, i);
        double x = a.data[i];
        if (*prec == GA_PREC_FLOAT32 && isfinite(x) && (double)(float)x != x)
            st = ga_fail(err, GA_EINVAL, "%s: item %zu = %.17g is not a float32 number (the "
                         "gradient is said to be float32)", path, i, x);
        grad[slab_index(vw, opt->layout == GA_GRADFILE_LAYOUT_TRANSPOSED, i - vw->offset)] = x;
    }
    ga_npy_array_free(&a);
    return st;
}

/* ---- CSV --------------------------------------------------------------------------- */
/* Splits the NUL-terminated line at commas in place: up to max fields */
static size_t split_fields(char **fields, size_t max, char *line)
{
    size_t n = 0;
    for (char *p = line;; p++) {
        if (n < max)
            fields[n] = p;
        n++;
        p = strchr(p, ',');
        if (!p)
            return n;
        *p = 0;
    }
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static int read_csv(double *grad, ga_precision *prec, ga_error *err, const ga_net *net,
                    const char *path, char *text, const ga_gradfile_options *opt)
{
    *prec = opt->dtype_given ? opt->dtype : GA_PREC_FLOAT64;
    int transposed = opt->layout == GA_GRADFILE_LAYOUT_TRANSPOSED;
    size_t *line_of = calloc(net->n_params ? net->n_params : 1, sizeof *line_of);
    if (!line_of)
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
    int st = GA_OK, named = -1; /* -1: form not known yet */
    size_t count = 0, lineno = 0;
    char names[512];
    for (char *line = text; st == GA_OK && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = 0;
        char *next = nl ? nl + 1 : line + len;
        if (line[0] == '#') { /* np.savetxt's header= and footer= lines */
            line = next;
            continue;
        }
        char *f[4];
        size_t nf = split_fields(f, 4, line);
        if (named < 0) {
            named = nf == 3 && !strcmp(trim(f[0]), "name") && !strcmp(trim(f[1]), "index") &&
                    !strcmp(trim(f[2]), "value");
            if (named) {
                line = next;
                continue;
            }
        }
        const char *why;
        double x = 0;
        if (!named) {
            if (nf != 1) {
                st = ga_fail(err, GA_EINVAL, "%s: line %zu: %zu fields: expected one value a line "
                             "(or the header name,index,value first)", path, lineno, nf);
            } else if (count == net->n_params) {
                st = ga_fail(err, GA_EINVAL, "%s: line %zu: more than the %zu values of the "
                             "spec's gradient", path, lineno, net->n_params);
            } else if ((why = parse_value(&x, f[0], *prec)) != NULL) {
                st = ga_fail(err, GA_EINVAL, "%s: line %zu: '%s': %s", path, lineno, trim(f[0]),
                             why);
            } else {
                const ga_view *vw = ga_net_locate(NULL, NULL, net, count);
                grad[slab_index(vw, transposed, count - vw->offset)] = x;
                count++;
            }
            line = next;
            continue;
        }
        if (nf != 3) {
            st = ga_fail(err, GA_EINVAL, "%s: line %zu: %zu fields: expected name,index,value",
                         path, lineno, nf);
            break;
        }
        char *name = trim(f[0]), *idx = trim(f[1]), *end;
        const ga_view *vw = view_by_name(net, name);
        if (!vw) {
            st = ga_fail(err, GA_EINVAL, "%s: line %zu: '%s' is not a tensor of the spec "
                         "(expected %s)", path, lineno, name,
                         expected_names(names, sizeof names, net));
            break;
        }
        size_t n = vw->rows * vw->cols;
        errno = 0;
        unsigned long long k = isdigit((unsigned char)idx[0]) ? strtoull(idx, &end, 10) : 0;
        if (!isdigit((unsigned char)idx[0]) || *end || errno || k >= n) {
            st = ga_fail(err, GA_EINVAL, "%s: line %zu: index '%s': expected an integer in "
                         "0..%zu (%s flat in C order)", path, lineno, idx, n - 1, name);
            break;
        }
        if ((why = parse_value(&x, f[2], *prec)) != NULL) {
            st = ga_fail(err, GA_EINVAL, "%s: line %zu: '%s': %s", path, lineno, trim(f[2]), why);
            break;
        }
        size_t s = slab_index(vw, transposed, (size_t)k);
        if (line_of[s]) {
            st = ga_fail(err, GA_EINVAL, "%s: line %zu: %s index %llu given twice (first on line "
                         "%zu)", path, lineno, name, k, line_of[s]);
            break;
        }
        line_of[s] = lineno;
        grad[s] = x;
        count++;
        line = next;
    }
    if (st == GA_OK && named != 1 && count < net->n_params)
        st = ga_fail(err, GA_EINVAL, "%s: %zu values: expected %zu, one a line in slab order (%s, "
                     "each flat in C order)", path, count, net->n_params,
                     expected_names(names, sizeof names, net));
    for (size_t i = 0; st == GA_OK && named == 1 && i < net->n_params; i++)
        if (!line_of[i]) {
            const ga_view *vw = ga_net_locate(NULL, NULL, net, i);
            size_t f = i - vw->offset; /* its index as the file numbers it */
            if (transposed && !vw->is_bias)
                f = (f % vw->cols) * vw->rows + f / vw->cols;
            st = ga_fail(err, GA_EINVAL, "%s: no row for %s index %zu (every entry once)", path,
                         vw->name, f);
        }
    free(line_of);
    return st;
}

int ga_grad_read(double *grad, ga_precision *prec, ga_error *err, const ga_net *net,
                 const char *path, const ga_gradfile_options *opt, size_t memory_cap)
{
    static const ga_gradfile_options none = {GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, NULL};
    if (!opt)
        opt = &none;
    if (!memory_cap)
        memory_cap = GA_DEFAULT_MEMORY_CAP;
    char *buf = NULL;
    size_t len = 0;
    int st = ga_read_file(&buf, &len, err, path, memory_cap);
    if (st != GA_OK)
        return st;
    if (len >= 4 && (!memcmp(buf, "PK\3\4", 4) || !memcmp(buf, "PK\5\6", 4))) {
        free(buf);
        if (!strcmp(path, "-")) /* libzip reads a file it can seek in */
            return ga_fail(err, GA_EINVAL, "-: an .npz on standard input: name the file instead");
        return read_npz(grad, prec, err, net, path, opt, memory_cap);
    }
    if (len >= 6 && !memcmp(buf, "\x93NUMPY", 6))
        st = read_npy(grad, prec, err, net, path, (const unsigned char *)buf, len, opt, memory_cap);
    else if (memchr(buf, 0, len))
        st = ga_fail(err, GA_EINVAL, "%s: neither an .npz, an .npy nor a text (CSV) file", path);
    else
        st = read_csv(grad, prec, err, net, path, buf, opt);
    free(buf);
    return st;
}
