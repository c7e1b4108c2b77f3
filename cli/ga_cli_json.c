/* ga_cli_json.c: the --json documents' writer (ga_cli_json.h, docs/json.md). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_cli_json.h"
#include "ga_io.h"

#ifndef GA_VERSION
#define GA_VERSION "unknown"
#endif

/* jansson takes ownership of value, also when the call fails */
static int set(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

int ga_json_set_num(json_t *obj, const char *key, double v)
{
    if (isfinite(v))
        return set(obj, key, json_real(v));
    char side[96];
    snprintf(side, sizeof side, "%s_nonfinite", key);
    if (set(obj, key, json_null()))
        return -1;
    return set(obj, side, json_string(isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity"));
}

int ga_json_set_uint(json_t *obj, const char *key, uint64_t v)
{
    /* json_int_t is long long (JSON_INTEGER_IS_LONG_LONG): a larger count
     * (the ulp distance from an infinity, or across zero between huge values)
     * is written as the nearest double, and exactly as a decimal string in
     * KEY_exact */
    if (v <= (uint64_t)LLONG_MAX)
        return set(obj, key, json_integer((json_int_t)v));
    char side[96], digits[24];
    snprintf(side, sizeof side, "%s_exact", key);
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    return set(obj, key, json_real((double)v)) ? -1 : set(obj, side, json_string(digits));
}

int ga_json_set_str(json_t *obj, const char *key, const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (!j && s) { /* not UTF-8: every byte outside ASCII becomes '?' */
        char *copy = strdup(s);
        if (!copy)
            return -1;
        for (char *p = copy; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        j = json_string(copy);
        free(copy);
    }
    return set(obj, key, j);
}

json_t *ga_json_document(const char *command)
{
    json_t *doc = json_object();
    if (!doc || set(doc, "gradaudit", json_string(command)) || set(doc, "schema", json_integer(GA_JSON_SCHEMA)) ||
        set(doc, "version", json_string(GA_VERSION))) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

#define GA_JSON_FLAGS JSON_REAL_PRECISION(17)

int ga_json_fwrite(ga_error *err, FILE *f, const json_t *head, const char *array_key, size_t n,
                   ga_json_item_fn item, void *ctx)
{
    char *h = json_dumps(head, JSON_INDENT(2) | GA_JSON_FLAGS);
    if (!h)
        return ga_fail(err, GA_ENOMEM, "JSON: out of memory");
    size_t len = strlen(h);
    if (!array_key) {
        fwrite(h, 1, len, f);
        fputc('\n', f);
        free(h);
        return GA_OK;
    }
    /* the head without its closing brace, then the array one element a line */
    while (len && (h[len - 1] == '}' || h[len - 1] == '\n'))
        len--;
    fwrite(h, 1, len, f);
    free(h);
    fprintf(f, "%s\n  \"%s\": [", len > 1 ? "," : "", array_key);
    for (size_t i = 0; i < n; i++) {
        json_t *it = item(ctx, i);
        char *s = it ? json_dumps(it, GA_JSON_FLAGS) : NULL;
        json_decref(it);
        if (!s)
            return ga_fail(err, GA_ENOMEM, "JSON: out of memory at element %zu of %s", i, array_key);
        fprintf(f, "%s\n    %s", i ? "," : "", s);
        free(s);
    }
    fputs(n ? "\n  ]\n}\n" : "]\n}\n", f);
    return GA_OK;
}

int ga_json_write(ga_error *err, const char *path, const json_t *head, const char *array_key,
                  size_t n, ga_json_item_fn item, void *ctx)
{
    ga_atomic_file af;
    int st = ga_atomic_open(&af, err, path);
    if (st != GA_OK)
        return st;
    if ((st = ga_json_fwrite(err, af.f, head, array_key, n, item, ctx)) != GA_OK) {
        ga_atomic_abort(&af);
        return st;
    }
    return ga_atomic_commit(&af, err);
}
