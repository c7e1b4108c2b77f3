/* ga_npy.c: a strict .npy parser and a .npz reader over libzip (ga_npy.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "ga_npy.h"

/* ---- the header's dict literal ------------------------------------------------- */
typedef struct {
    const char *p, *end; /* the header text, without its final '\n' */
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* a quoted Python string of printable ASCII, no escapes, into out (size) */
static int quoted(cursor *c, char *out, size_t size)
{
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p < 0x20 || *c->p > 0x7e || n + 1 >= size)
            return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[n] = 0;
    return 1;
}

static int word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || strncmp(c->p, w, n))
        return 0;
    c->p += n;
    return 1;
}

/* "(3, 4)", "(5,)", "()": 0 with *why set when malformed */
static int shape_tuple(cursor *c, size_t *shape, size_t *ndim, const char **why)
{
    *ndim = 0;
    if (!word(c, "(")) {
        *why = "is not a tuple of integers like (3, 4)";
        return 0;
    }
    skip_ws(c);
    int comma_after_last = 0;
    while (c->p < c->end && *c->p != ')') {
        if (*c->p < '0' || *c->p > '9') {
            *why = "is not a tuple of non-negative integers";
            return 0;
        }
        size_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            unsigned d = (unsigned)(*c->p++ - '0');
            if (v > (SIZE_MAX - d) / 10) {
                *why = "has a dimension too large for this machine";
                return 0;
            }
            v = v * 10 + d;
        }
        if (*ndim == GA_NPY_MAX_DIM) {
            *why = "has more than 32 dimensions";
            return 0;
        }
        shape[(*ndim)++] = v;
        skip_ws(c);
        comma_after_last = 0;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            comma_after_last = 1;
            skip_ws(c);
        } else if (c->p < c->end && *c->p != ')') {
            *why = "is not a tuple of non-negative integers";
            return 0;
        }
    }
    if (!word(c, ")")) {
        *why = "has no closing ')'";
        return 0;
    }
    if (*ndim == 1 && !comma_after_last) {
        *why = "is an integer in parentheses, not a tuple (a 1-d shape is written (5,))";
        return 0;
    }
    return 1;
}

static size_t read_le(const unsigned char *p, int bytes)
{
    size_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void ga_npy_shape_text(char *buf, size_t size, const size_t *shape, size_t ndim)
{
    size_t k = (size_t)snprintf(buf, size, "(");
    for (size_t d = 0; d < ndim && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, d + 1 < ndim || ndim == 1 ? "%zu," : "%zu",
                              shape[d]);
    if (k < size)
        snprintf(buf + k, size - k, ")");
}

/* one item of the dtype at p, exactly as a double */
static double item(const unsigned char *p, int width, int big)
{
    unsigned char b[8];
    for (int i = 0; i < width; i++)
        b[i] = big ? p[width - 1 - i] : p[i]; /* little-endian order in b */
    uint64_t u = 0;
    for (int i = width - 1; i >= 0; i--)
        u = u << 8 | b[i];
    if (width == 4) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        return (double)f;
    }
    double d;
    memcpy(&d, &u, 8);
    return d;
}

int ga_npy_parse(ga_npy_array *out, ga_error *err, const unsigned char *buf, size_t len,
                 const char *label, size_t memory_cap)
{
    memset(out, 0, sizeof *out);
    if (!label)
        label = "array";
    if (!memory_cap)
        memory_cap = GA_DEFAULT_MEMORY_CAP;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6))
        return ga_fail(err, GA_EINVAL, "%s: not a .npy file (no \\x93NUMPY magic)", label);
    int major = buf[6], minor = buf[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return ga_fail(err, GA_EINVAL, "%s: .npy format version %d.%d: expected 1.0, 2.0 or 3.0",
                       label, major, minor);
    size_t pre = major == 1 ? 10 : 12;
    if (len < pre)
        return ga_fail(err, GA_EINVAL, "%s: truncated before the header length", label);
    size_t hlen = read_le(buf + 8, major == 1 ? 2 : 4);
    if (hlen > len - pre)
        return ga_fail(err, GA_EINVAL, "%s: header length %zu runs past the end of the file "
                       "(%zu bytes)", label, hlen, len);
    if (hlen == 0 || buf[pre + hlen - 1] != '\n')
        return ga_fail(err, GA_EINVAL, "%s: header does not end with a newline", label);
    for (size_t i = pre; i < pre + hlen - 1; i++)
        if (buf[i] < 0x20 || buf[i] > 0x7e)
            return ga_fail(err, GA_EINVAL, "%s: header byte %zu is not printable ASCII (0x%02x)",
                           label, i - pre, buf[i]);

    cursor c = {(const char *)buf + pre, (const char *)buf + pre + hlen - 1};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    char key[32], descr[32];
    skip_ws(&c);
    if (!word(&c, "{"))
        return ga_fail(err, GA_EINVAL, "%s: header is not a dict (no '{')", label);
    for (;;) {
        skip_ws(&c);
        if (word(&c, "}"))
            break;
        if (!quoted(&c, key, sizeof key))
            return ga_fail(err, GA_EINVAL, "%s: header: expected a quoted key or '}' at byte %td",
                           label, c.p - (const char *)buf - (ptrdiff_t)pre);
        skip_ws(&c);
        if (!word(&c, ":"))
            return ga_fail(err, GA_EINVAL, "%s: header: no ':' after key '%s'", label, key);
        skip_ws(&c);
        if (!strcmp(key, "descr")) {
            if (have_descr++)
                return ga_fail(err, GA_EINVAL, "%s: header: key 'descr' given twice", label);
            if (!quoted(&c, descr, sizeof descr))
                return ga_fail(err, GA_EINVAL, "%s: header: 'descr' is not a quoted dtype "
                               "string like '<f8'", label);
            if (strcmp(descr, "<f4") && strcmp(descr, ">f4") && strcmp(descr, "<f8") &&
                strcmp(descr, ">f8"))
                return ga_fail(err, GA_EINVAL, "%s: header: 'descr' is '%s': expected '<f4', "
                               "'>f4', '<f8' or '>f8' (float32 or float64)", label, descr);
            memcpy(out->descr, descr, 4);
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran++)
                return ga_fail(err, GA_EINVAL, "%s: header: key 'fortran_order' given twice",
                               label);
            if (word(&c, "True"))
                out->fortran_order = 1;
            else if (word(&c, "False"))
                out->fortran_order = 0;
            else
                return ga_fail(err, GA_EINVAL, "%s: header: 'fortran_order' is not True or "
                               "False", label);
        } else if (!strcmp(key, "shape")) {
            if (have_shape++)
                return ga_fail(err, GA_EINVAL, "%s: header: key 'shape' given twice", label);
            const char *why = "";
            if (!shape_tuple(&c, out->shape, &out->ndim, &why))
                return ga_fail(err, GA_EINVAL, "%s: header: 'shape' %s", label, why);
        } else {
            return ga_fail(err, GA_EINVAL, "%s: header: unknown key '%s' (expected 'descr', "
                           "'fortran_order' and 'shape')", label, key);
        }
        skip_ws(&c);
        if (word(&c, ","))
            continue;
        skip_ws(&c);
        if (word(&c, "}"))
            break;
        return ga_fail(err, GA_EINVAL, "%s: header: expected ',' or '}' after the value of '%s'",
                       label, key);
    }
    skip_ws(&c);
    if (c.p != c.end)
        return ga_fail(err, GA_EINVAL, "%s: header: text after the closing '}'", label);
    if (!have_descr || !have_fortran || !have_shape)
        return ga_fail(err, GA_EINVAL, "%s: header: missing key '%s'", label,
                       !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");

    int width = out->descr[2] == '4' ? 4 : 8, big = out->descr[0] == '>';
    size_t size = 1;
    for (size_t d = 0; d < out->ndim; d++) {
        if (out->shape[d] && size > SIZE_MAX / 8 / out->shape[d])
            return ga_fail(err, GA_ERANGE, "%s: shape's size overflows", label);
        size *= out->shape[d];
    }
    char shp[128];
    ga_npy_shape_text(shp, sizeof shp, out->shape, out->ndim);
    if (size > memory_cap / sizeof(double))
        return ga_fail(err, GA_ENOMEM, "%s: shape %s needs %zu bytes, over the memory cap of "
                       "%zu", label, shp, size * sizeof(double), memory_cap);
    size_t data = pre + hlen, need = size * (size_t)width;
    if (len - data < need)
        return ga_fail(err, GA_EINVAL, "%s: data truncated: %zu bytes for shape %s of '%s' "
                       "(%zu expected)", label, len - data, shp, out->descr, need);
    if (len - data > need)
        return ga_fail(err, GA_EINVAL, "%s: %zu bytes after the data of shape %s of '%s'",
                       label, len - data - need, shp, out->descr);
    out->size = size;
    out->data = malloc((size ? size : 1) * sizeof *out->data);
    if (!out->data)
        return ga_fail(err, GA_ENOMEM, "%s: out of memory for %zu numbers", label, size);
    const unsigned char *src = buf + data;
    if (!out->fortran_order || out->ndim < 2) {
        for (size_t i = 0; i < size; i++)
            out->data[i] = item(src + i * (size_t)width, width, big);
        return GA_OK;
    }
    /* Fortran order: walk the source with the first index fastest, placing each
     * item at its C-order offset */
    size_t idx[GA_NPY_MAX_DIM] = {0}, cstride[GA_NPY_MAX_DIM];
    cstride[out->ndim - 1] = 1;
    for (size_t d = out->ndim - 1; d-- > 0;)
        cstride[d] = cstride[d + 1] * out->shape[d + 1];
    size_t dst = 0;
    for (size_t i = 0; i < size; i++) {
        out->data[dst] = item(src + i * (size_t)width, width, big);
        for (size_t d = 0; d < out->ndim; d++) {
            if (++idx[d] < out->shape[d]) {
                dst += cstride[d];
                break;
            }
            dst -= (idx[d] - 1) * cstride[d];
            idx[d] = 0;
        }
    }
    return GA_OK;
}

void ga_npy_array_free(ga_npy_array *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- .npz -------------------------------------------------------------------------- */
void ga_npz_free(ga_npz *z)
{
    if (!z)
        return;
    for (size_t i = 0; i < z->n; i++)
        ga_npy_array_free(&z->arrays[i]);
    free(z->arrays);
    memset(z, 0, sizeof *z);
}

int ga_npz_read(ga_npz *out, ga_error *err, const char *path, size_t memory_cap)
{
    memset(out, 0, sizeof *out);
    if (!memory_cap)
        memory_cap = GA_DEFAULT_MEMORY_CAP;
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        int st = ga_fail(err, GA_EIO, "%s: cannot read as a .npz (zip) archive: %s", path,
                         zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return st;
    }
    int st = GA_OK;
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n <= 0) {
        st = ga_fail(err, GA_EINVAL, "%s: the archive holds no arrays", path);
        goto done;
    }
    out->arrays = calloc((size_t)n, sizeof *out->arrays);
    if (!out->arrays) {
        st = ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t used = 0;
    for (zip_int64_t i = 0; i < n && st == GA_OK; i++) {
        zip_stat_t sb;
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &sb) != 0 ||
            !(sb.valid & ZIP_STAT_NAME) || !(sb.valid & ZIP_STAT_SIZE)) {
            st = ga_fail(err, GA_EIO, "%s: entry %lld: %s", path, (long long)i,
                         zip_strerror(za));
            break;
        }
        size_t nl = strlen(sb.name);
        for (size_t k = 0; k < nl; k++) /* every message names the entry: on one line */
            if ((unsigned char)sb.name[k] < 0x20 || sb.name[k] == 0x7f) {
                st = ga_fail(err, GA_EINVAL, "%s: entry %lld: its name holds a control "
                             "character (0x%02x)", path, (long long)i, (unsigned char)sb.name[k]);
                break;
            }
        if (st != GA_OK)
            break;
        char label[1200];
        snprintf(label, sizeof label, "%s:%s", path, sb.name);
        if (nl <= 4 || strcmp(sb.name + nl - 4, ".npy")) {
            st = ga_fail(err, GA_EINVAL, "%s: entry is not NAME.npy (np.savez writes only those)",
                         label);
            break;
        }
        if (sb.size > memory_cap - used) {
            st = ga_fail(err, GA_ENOMEM, "%s: %llu bytes, over the memory cap of %zu", label,
                         (unsigned long long)sb.size, memory_cap);
            break;
        }
        unsigned char *buf = malloc(sb.size ? (size_t)sb.size : 1);
        zip_file_t *zf = buf ? zip_fopen_index(za, (zip_uint64_t)i, 0) : NULL;
        if (!buf || !zf) {
            st = buf ? ga_fail(err, GA_EIO, "%s: cannot open: %s", label, zip_strerror(za))
                     : ga_fail(err, GA_ENOMEM, "%s: out of memory", label);
            free(buf);
            break;
        }
        zip_int64_t got = 0, k;
        while ((zip_uint64_t)got < sb.size &&
               (k = zip_fread(zf, buf + got, sb.size - (zip_uint64_t)got)) > 0)
            got += k;
        int bad_read = (zip_uint64_t)got != sb.size;
        char zmsg[256];
        snprintf(zmsg, sizeof zmsg, "%s", zip_file_strerror(zf));
        zip_fclose(zf);
        if (bad_read) {
            st = ga_fail(err, GA_EIO, "%s: read %lld of %llu bytes: %s", label, (long long)got,
                         (unsigned long long)sb.size, zmsg);
            free(buf);
            break;
        }
        ga_npy_array *a = &out->arrays[out->n];
        st = ga_npy_parse(a, err, buf, (size_t)sb.size, label, memory_cap - used);
        free(buf);
        if (st != GA_OK)
            break;
        used += a->size * sizeof(double);
        out->n++;
        a->name = strndup(sb.name, nl - 4);
        if (!a->name) {
            st = ga_fail(err, GA_ENOMEM, "%s: out of memory", label);
            break;
        }
        for (size_t j = 0; j + 1 < out->n; j++)
            if (!strcmp(out->arrays[j].name, a->name)) {
                st = ga_fail(err, GA_EINVAL, "%s: array '%s' appears twice", path, a->name);
                break;
            }
    }
done:
    zip_discard(za); /* read-only: nothing to write back */
    if (st != GA_OK)
        ga_npz_free(out);
    return st;
}
