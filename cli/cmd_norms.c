/* gradaudit norms: the gradient-norm report (docs/norms.md) of gradients a NumPy
 * loop saved with np.savez, one archive per step. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ga_args.h"
#include "ga_cli.h"
#include "ga_io.h"
#include "ga_normlog.h"
#include "ga_npy.h"

int ga_cmd_norms(int argc, char **argv);

static void norms_usage(FILE *f)
{
    fputs("usage: gradaudit norms FILE.npz|DIR... -o NORMS.csv [--lightning]\n"
          "                       [--vanish-below X] [--explode-above X] [--ref NAME]\n"
          "\n"
          "Writes the gradient-norm report of docs/norms.md from gradients saved with\n"
          "np.savez or np.savez_compressed, one archive per step. In a NumPy loop:\n"
          "\n"
          "    import os; os.makedirs(\"grads\", exist_ok=True)                  # once\n"
          "    np.savez(f\"grads/step{i:06d}.npz\", dW1=dW1, db1=db1, dW2=dW2, db2=db2,\n"
          "             W1=W1, b1=b1, W2=W2, b2=b2, loss=loss)   # each step, pre-update\n"
          "    # then: gradaudit norms grads -o norms.csv\n"
          "\n"
          "Every array of an archive is a gradient (float32 or float64, any shape, C or\n"
          "Fortran order), except 'loss', a single number, and an array NAME beside an\n"
          "array dNAME: the parameters of the gradient dNAME, for update_ratio_dNAME\n"
          "(optional: give the parameters of every gradient at every step, or of none).\n"
          "Every archive must hold the same arrays with the same shapes; the first\n"
          "archive's order is the columns'. A directory stands for its *.npz files.\n"
          "The step of a file is the last number in its name (step000012.npz: 12) and\n"
          "files are taken in the order of their steps; a file given by name without a\n"
          "number has its position (0, 1, ...).\n"
          "\n"
          "options:\n"
          "  -o, --out FILE      the CSV, written atomically once every file is read\n"
          "  --lightning         Lightning's column names: grad_2.0_norm/NAME and\n"
          "                      grad_2.0_norm_total\n"
          "  --vanish-below X    vanished_NAME = 1 where ||g_NAME||/||g_ref|| < X [1e-4]\n"
          "  --explode-above X   exploded_NAME = 1 where that ratio > X; exploded = 1 also\n"
          "                      where the global norm grew by more than X since the first\n"
          "                      step [1e4]\n"
          "  --ref NAME          the reference tensor [the last of 2 or more dimensions]\n"
          "\n"
          "exit status: 0 ok, 2 bad input or usage (one message naming the file and the\n"
          "field; no output file is written), 3 internal error or a failed write (a full\n"
          "disk: no partial file), 130/143 interrupted by SIGINT/SIGTERM (nothing written).\n",
          f);
}

static int usage_error(const char *fmt, const char *arg)
{
    return ga_cli_usage_error("norms", fmt, arg);
}

typedef struct {
    char *path;
    unsigned long long step;
    int has_number, from_dir;
} input;

/* the last run of digits in the file's base name */
static int step_of(unsigned long long *out, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *end = NULL;
    for (const char *p = base; *p; p++)
        if (isdigit((unsigned char)*p))
            end = p;
    if (!end)
        return 0;
    const char *start = end;
    while (start > base && isdigit((unsigned char)start[-1]))
        start--;
    if (end - start >= 19)
        return 0; /* more digits than a step can have */
    unsigned long long v = 0;
    for (const char *p = start; p <= end; p++)
        v = v * 10 + (unsigned)(*p - '0');
    *out = v;
    return 1;
}

static int by_step(const void *a, const void *b)
{
    const input *x = a, *y = b;
    return x->step < y->step ? -1 : x->step > y->step;
}

typedef struct {
    input *v;
    size_t n, cap;
} input_list;

/* gcc 12's -fanalyzer loses a pointer stored at a variable index of a heap
 * array and reports it leaked here; free_inputs frees every l->v[i].path. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 10
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static int add_input(input_list *l, const char *path, int from_dir)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        input *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v, l->cap = cap;
    }
    input *in = &l->v[l->n];
    in->path = strdup(path);
    if (!in->path)
        return -1;
    in->from_dir = from_dir;
    in->has_number = step_of(&in->step, path);
    l->n++;
    return 0;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 10
#pragma GCC diagnostic pop
#endif

static void free_inputs(input_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
}

/* GA_EXIT_* */
static int collect(input_list *l, char **args, size_t n_args)
{
    for (size_t a = 0; a < n_args; a++) {
        struct stat sb;
        if (stat(args[a], &sb) != 0) {
            fprintf(stderr, "gradaudit norms: %s: %s\n", args[a], strerror(errno));
            return GA_EXIT_USAGE;
        }
        if (!S_ISDIR(sb.st_mode)) {
            if (add_input(l, args[a], 0))
                goto nomem;
            continue;
        }
        DIR *d = opendir(args[a]);
        if (!d) {
            fprintf(stderr, "gradaudit norms: %s: %s\n", args[a], strerror(errno));
            return GA_EXIT_USAGE;
        }
        size_t before = l->n;
        for (struct dirent *e; (e = readdir(d));) {
            size_t k = strlen(e->d_name);
            if (k <= 4 || strcmp(e->d_name + k - 4, ".npz"))
                continue;
            char *p = malloc(strlen(args[a]) + k + 2);
            if (!p) {
                closedir(d);
                goto nomem;
            }
            sprintf(p, "%s/%s", args[a], e->d_name);
            int bad = add_input(l, p, 1);
            free(p);
            if (bad) {
                closedir(d);
                goto nomem;
            }
        }
        closedir(d);
        if (l->n == before) {
            fprintf(stderr, "gradaudit norms: %s: a directory without .npz files\n", args[a]);
            return GA_EXIT_USAGE;
        }
    }
    int all_numbered = 1;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].from_dir && !l->v[i].has_number) {
            fprintf(stderr, "gradaudit norms: %s: no step number in the file's name (a "
                    "directory's files are ordered by it)\n", l->v[i].path);
            return GA_EXIT_USAGE;
        }
        all_numbered &= l->v[i].has_number;
    }
    if (all_numbered && l->n > 1) /* qsort wants a valid array even for n = 0 */
        qsort(l->v, l->n, sizeof *l->v, by_step);
    else
        for (size_t i = 0; i < l->n; i++)
            l->v[i].step = i;
    for (size_t i = 1; i < l->n; i++)
        if (l->v[i].step == l->v[i - 1].step) {
            fprintf(stderr, "gradaudit norms: %s and %s are both step %llu\n", l->v[i - 1].path,
                    l->v[i].path, l->v[i].step);
            return GA_EXIT_USAGE;
        }
    return GA_EXIT_OK;
nomem:
    fprintf(stderr, "gradaudit norms: out of memory\n");
    return GA_EXIT_INTERNAL;
}

static int exit_for(int status)
{
    return status == GA_ENOMEM ? GA_EXIT_INTERNAL : GA_EXIT_USAGE;
}

/* The parameters' convention (docs/norms.md): in an archive, an array NAME
 * beside an array dNAME holds the parameters of the gradient dNAME, the names
 * of a NumPy tutorial's W1 and dW1. 'loss' is never a parameter. */
static const ga_npy_array *find(const ga_npz *z, const char *name)
{
    for (size_t i = 0; i < z->n; i++)
        if (!strcmp(z->arrays[i].name, name))
            return &z->arrays[i];
    return NULL;
}

/* the parameters dNAME has in z, or NULL */
static const ga_npy_array *params_of(const ga_npz *z, const char *grad)
{
    if (grad[0] != 'd' || !grad[1] || !strcmp(grad + 1, "loss"))
        return NULL;
    return find(z, grad + 1);
}

/* the gradient whose parameters NAME are, or NULL */
static const ga_npy_array *grad_of(const ga_npz *z, const char *name)
{
    char d[GA_NORMLOG_MAX_NAME + 2];
    if (!strcmp(name, "loss") || strlen(name) > GA_NORMLOG_MAX_NAME)
        return NULL;
    snprintf(d, sizeof d, "d%s", name);
    return find(z, d);
}

/* The first archive: is_param[i] = 1 where z's array i holds parameters;
 * *has_params = 1 when some do. Every array is then in a pair (or 'loss'),
 * and none is both a gradient with parameters and the parameters of another. */
static int classify(int *is_param, int *has_params, ga_error *err, const ga_npz *z,
                    const char *path)
{
    const ga_npy_array *pair_g = NULL, *pair_p = NULL;
    for (size_t i = 0; i < z->n; i++) {
        const ga_npy_array *a = &z->arrays[i], *p = params_of(z, a->name),
                           *g = grad_of(z, a->name);
        is_param[i] = g != NULL;
        if (p && g)
            return ga_fail(err, GA_EINVAL, "%s: array '%s' is ambiguous: the gradient of '%s' "
                           "and the parameters of '%s' (NAME beside dNAME is dNAME's "
                           "parameters): rename one", path, a->name, p->name, g->name);
        if (p && !pair_g)
            pair_g = a, pair_p = p;
    }
    *has_params = pair_g != NULL;
    for (size_t i = 0; pair_g && i < z->n; i++) {
        const ga_npy_array *a = &z->arrays[i];
        if (strcmp(a->name, "loss") && !is_param[i] && !params_of(z, a->name))
            return ga_fail(err, GA_EINVAL, "%s: array '%s' is not in a pair of parameters "
                           "NAME and gradient dNAME, while '%s' has '%s': save the parameters "
                           "of every gradient or of none", path, a->name, pair_g->name, pair_p->name);
    }
    return GA_OK;
}

/* The arrays of z in the order of the tensors t (n_t), named as in the first
 * archive (first): g[k] the gradient, p[k] its parameters when has_params;
 * *loss the 'loss' array's number or NaN. Checks every shape. */
static int match(const ga_npy_array **g, const ga_npy_array **p, double *loss, ga_error *err,
                 const ga_npz *z, const char *path, const ga_normlog_tensor *t, size_t n_t,
                 int has_params, const char *first)
{
    *loss = NAN;
    for (size_t k = 0; k < n_t; k++)
        g[k] = p[k] = NULL;
    char want[64], got[64];
    for (size_t i = 0; i < z->n; i++) {
        const ga_npy_array *a = &z->arrays[i];
        if (!strcmp(a->name, "loss")) {
            if (a->size != 1) {
                ga_npy_shape_text(got, sizeof got, a->shape, a->ndim);
                return ga_fail(err, GA_EINVAL, "%s: 'loss' has shape %s, %zu entries: expected "
                               "one number", path, got, a->size);
            }
            *loss = a->data[0];
            continue;
        }
        size_t k = 0;
        while (k < n_t && strcmp(t[k].name, a->name))
            k++;
        int param = 0;
        if (k == n_t)
            for (k = 0; k < n_t && !(t[k].name[0] == 'd' && !strcmp(t[k].name + 1, a->name));)
                k++;
        if (k < n_t && strcmp(t[k].name, a->name)) {
            param = 1;
            if (!has_params)
                return ga_fail(err, GA_EINVAL, "%s: array '%s' holds the parameters of '%s', "
                               "which %s has without them: save the parameters at every step "
                               "or at none", path, a->name, t[k].name, first);
        }
        if (k == n_t)
            return ga_fail(err, GA_EINVAL, "%s: array '%s' is not in the first file (%s arrays "
                           "must be the same in every file)", path, a->name, "gradient");
        if (a->ndim != t[k].ndim || memcmp(a->shape, t[k].shape, a->ndim * sizeof *a->shape)) {
            ga_npy_shape_text(want, sizeof want, t[k].shape, t[k].ndim);
            ga_npy_shape_text(got, sizeof got, a->shape, a->ndim);
            if (param)
                return ga_fail(err, GA_EINVAL, "%s: parameters '%s' have shape %s, their "
                               "gradient '%s' %s", path, a->name, got, t[k].name, want);
            return ga_fail(err, GA_EINVAL, "%s: array '%s' has another shape than in the first "
                           "file: %s, not %s", path, a->name, got, want);
        }
        *(param ? &p[k] : &g[k]) = a;
    }
    for (size_t k = 0; k < n_t; k++) {
        if (!g[k])
            return ga_fail(err, GA_EINVAL, "%s: array '%s' of the first file is missing",
                           path, t[k].name);
        if (has_params && !p[k])
            return ga_fail(err, GA_EINVAL, "%s: array '%s', the parameters of '%s', is missing "
                           "(%s has them: save the parameters at every step or at none)", path,
                           t[k].name + 1, t[k].name, first);
    }
    return GA_OK;
}

int ga_cmd_norms(int argc, char **argv)
{
    const char *out = NULL, *ref = NULL;
    ga_normlog_options opt;
    ga_normlog_options_default(&opt);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) {
        fprintf(stderr, "gradaudit norms: out of memory\n");
        return GA_EXIT_INTERNAL;
    }
    size_t n_args = 0;
    int rc = GA_EXIT_OK;
    enum { LIGHTNING = 0x100, REF, VANISH, EXPLODE };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'}, {"out", required_argument, 0, 'o'},
        {"lightning", no_argument, 0, LIGHTNING}, {"ref", required_argument, 0, REF},
        {"vanish-below", required_argument, 0, VANISH},
        {"explode-above", required_argument, 0, EXPLODE}, {0, 0, 0, 0}};
    int c, status = 0;
    ga_args_begin();
    while (rc == GA_EXIT_OK &&
           (c = ga_args_next(&status, "norms", argc, argv, "ho:", opts)) != GA_ARGS_END) {
        const char *v = optarg;
        if (c == GA_ARGS_STOP || c == GA_ARGS_HELP) {
            if (c == GA_ARGS_HELP)
                norms_usage(stdout);
            free(args);
            return status;
        }
        if (c == 'o') {
            out = v;
        } else if (c == LIGHTNING) {
            opt.lightning_names = 1;
        } else if (c == REF) {
            ref = v;
        } else if (c == VANISH || c == EXPLODE) {
            char *e;
            double x = strtod(v, &e);
            if (!*v || *e || !isfinite(x) || !(x > 0))
                rc = usage_error(c == EXPLODE ? "--explode-above '%s': expected a finite positive number"
                                              : "--vanish-below '%s': expected a finite positive number",
                                 v);
            else
                *(c == EXPLODE ? &opt.explode_above : &opt.vanish_below) = x;
        }
    }
    for (int i = optind; i < argc && rc == GA_EXIT_OK; i++)
        args[n_args++] = argv[i];
    if (rc == GA_EXIT_OK && !out)
        rc = usage_error("%s", "missing -o NORMS.csv");
    if (rc == GA_EXIT_OK && !n_args)
        rc = usage_error("%s", "no FILE.npz or directory given");
    if (rc != GA_EXIT_OK) {
        free(args);
        return rc;
    }

    ga_error err = {{0}};
    input_list in = {0};
    ga_npz z = {0};
    ga_normlog_tensor *t = NULL;
    const ga_npy_array **g = NULL, **p = NULL;
    const double **gp = NULL, **pp = NULL;
    int *is_param = NULL, has_params = 0;
    ga_normlog *log = NULL;
    ga_atomic_file af = {0};
    size_t n_t = 0;
    int st;
    if (ga_path_writable(&err, out) != GA_OK) {
        fprintf(stderr, "gradaudit norms: %s\n", err.msg);
        rc = GA_EXIT_USAGE;
        goto done;
    }
    rc = collect(&in, args, n_args);
    if (rc != GA_EXIT_OK)
        goto done;
    /* the output must not replace one of the archives it reads */
    for (size_t f = 0; f < in.n; f++)
        if (ga_path_distinct(&err, out, (const char *const[]){in.v[f].path}, 1) != GA_OK) {
            fprintf(stderr, "gradaudit norms: %s\n", err.msg);
            rc = GA_EXIT_USAGE;
            goto done;
        }
    for (size_t f = 0; f < in.n; f++) {
        const char *path = in.v[f].path;
        st = ga_npz_read(&z, &err, path, 0);
        if (st == GA_OK && f == 0) {
            /* the tensors: the first archive's gradients (its arrays but loss
             * and parameters) */
            t = calloc(z.n, sizeof *t);
            g = calloc(z.n, sizeof *g);
            p = calloc(z.n, sizeof *p);
            gp = calloc(z.n, sizeof *gp);
            pp = calloc(z.n, sizeof *pp);
            is_param = calloc(z.n + 1, sizeof *is_param);
            if (!t || !g || !p || !gp || !pp || !is_param)
                st = ga_fail(&err, GA_ENOMEM, "out of memory");
            else
                st = classify(is_param, &has_params, &err, &z, path);
            for (size_t i = 0; st == GA_OK && i < z.n; i++) {
                const ga_npy_array *a = &z.arrays[i];
                if (!strcmp(a->name, "loss") || is_param[i])
                    continue;
                if (a->size == 0)
                    st = ga_fail(&err, GA_EINVAL, "%s: array '%s' has no entries", path, a->name);
                t[n_t].name = strdup(a->name);
                if (!t[n_t].name)
                    st = ga_fail(&err, GA_ENOMEM, "out of memory");
                t[n_t].ndim = a->ndim;
                memcpy(t[n_t].shape, a->shape, sizeof a->shape);
                n_t++;
            }
            if (st == GA_OK && n_t == 0)
                st = ga_fail(&err, GA_EINVAL, "%s: no gradient arrays (only 'loss')", path);
            if (st == GA_OK && ref) {
                opt.ref_tensor = -1;
                for (size_t k = 0; k < n_t; k++)
                    if (!strcmp(t[k].name, ref))
                        opt.ref_tensor = (long)k;
                if (opt.ref_tensor < 0)
                    st = ga_fail(&err, GA_EINVAL, "%s: --ref %s: no such array", path, ref);
            }
            if (st == GA_OK)
                st = ga_atomic_open(&af, &err, out);
            if (st == GA_OK) {
                st = ga_normlog_open_fd(&log, &err, fileno(af.f), out, t, n_t, &opt);
                if (st != GA_OK && st != GA_ENOMEM) {
                    char m[sizeof err.msg];
                    snprintf(m, sizeof m, "%s", err.msg);
                    ga_fail(&err, st, "%s: %s", path, m);
                }
            }
        }
        double loss = NAN;
        if (st == GA_OK)
            st = match(g, p, &loss, &err, &z, path, t, n_t, has_params, in.v[0].path);
        if (st == GA_OK) {
            for (size_t k = 0; k < n_t; k++)
                gp[k] = g[k]->data, pp[k] = has_params ? p[k]->data : NULL;
            st = ga_normlog_step(log, &err, in.v[f].step, loss, gp, has_params ? pp : NULL,
                                 NULL);
            if (st == GA_EIO) {
                fprintf(stderr, "gradaudit norms: %s\n", err.msg);
                rc = GA_EXIT_INTERNAL;
                goto done;
            }
        }
        ga_npz_free(&z);
        if (st != GA_OK) {
            fprintf(stderr, "gradaudit norms: %s\n", err.msg);
            rc = exit_for(st);
            goto done;
        }
    }
    st = ga_normlog_close(log, &err);
    log = NULL;
    if (st == GA_OK)
        st = ga_atomic_commit(&af, &err);
    if (st != GA_OK) {
        fprintf(stderr, "gradaudit norms: %s\n", err.msg);
        rc = GA_EXIT_INTERNAL;
    }
done:
    ga_normlog_close(log, NULL);
    if (af.f)
        ga_atomic_abort(&af);
    ga_npz_free(&z);
    for (size_t k = 0; t && k < n_t; k++)
        free((char *)t[k].name);
    free(t);
    free(g);
    free(p);
    free(gp);
    free(pp);
    free(is_param);
    free_inputs(&in);
    free(args);
    return rc;
}
