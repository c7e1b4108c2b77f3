/* gradaudit eval: loss and every gradient entry of a spec, 17 significant digits. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_args.h"
#include "ga_cli.h"
#include "ga_cli_json.h"
#include "ga_io.h"
#include "ga_core.h"
#include "ga_spec.h"

static void eval_usage(FILE *f)
{
    fputs("usage: gradaudit eval SPEC.json [--seed N] [--kernel blas|reference] [--params]\n"
          "                      [--dtype float64|float32] [--json FILE]\n"
          "\n"
          "Evaluates the spec's network on its data and prints, one per line:\n"
          "  dtype float32      with --dtype float32 only\n"
          "  seed S             the seed used (specs with parameters.init only)\n"
          "  loss L             the loss\n"
          "  param NAME VALUE   each parameter (with --params), e.g. param W2[0,1] ...\n"
          "  grad NAME VALUE    dL/d(parameter) for every parameter, e.g. grad W2[0,1] ...\n"
          "NAME is the tensor and its 0-based (row, column) in the stored shape; numbers are\n"
          "printed with %.17g, which round-trips a double.\n"
          "\n"
          "options:\n"
          "  --seed N           override parameters.init.seed (0..4294967295)\n"
          "  --kernel K         blas (default, gsl_blas_dgemm) or reference (plain loops,\n"
          "                     sums in index order)\n"
          "  --params           also print the parameter values\n"
          "  --dtype D          float64 (default: the double core) or float32: every number\n"
          "                     of the spec (parameters, data, activation parameters, loss\n"
          "                     scale and decay) rounded to float32, and the loss and\n"
          "                     gradient computed in float32, one float rounding an\n"
          "                     operation (core/ga_f32.c); printed exactly, widened to\n"
          "                     double. A number beyond float32's range is refused (exit 2)\n"
          "  --json FILE        also write the run as one JSON document ('-': standard\n"
          "                     output, which then holds the JSON alone), docs/json.md:\n"
          "                     gradaudit \"eval\", schema, version, spec, seed (specs with\n"
          "                     parameters.init only), kernel, dtype, loss, n_entries, entries\n"
          "                     [one object a parameter: name, index, tensor, row, col,\n"
          "                     param, grad]; numbers read back bit for bit (%.17g); NaN\n"
          "                     and infinities are null beside a string KEY_nonfinite:\n"
          "                     \"NaN\", \"Infinity\" or \"-Infinity\"\n"
          "  --help             this text\n"
          "\n"
          "exit status: 0 ok, 2 bad spec or usage (one message on stderr, nothing on\n"
          "stdout; an unwritable --json path), 3 internal error or a failed write (a full\n"
          "disk: no partial JSON). The spec format is described in docs/spec.md.\n",
          f);
}

static int usage_error(const char *fmt, const char *arg)
{
    return ga_cli_usage_error("eval", fmt, arg);
}

/* ---- --json (docs/json.md) ------------------------------------------------- */
static json_t *eval_json_entry(void *vnet, size_t i)
{
    const ga_net *net = vnet;
    size_t row = 0, col = 0;
    const ga_view *v = ga_net_locate(&row, &col, net, i);
    char name[64];
    ga_param_name(name, sizeof name, net, i);
    json_t *o = json_object();
    if (!o || ga_json_set_str(o, "name", name) || ga_json_set_uint(o, "index", i) ||
        ga_json_set_str(o, "tensor", v->name) || ga_json_set_uint(o, "row", row) ||
        ga_json_set_uint(o, "col", col) || ga_json_set_num(o, "param", net->params[i]) ||
        ga_json_set_num(o, "grad", net->grads[i])) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int eval_json_write(ga_error *err, const char *json, const char *spec_path, const ga_spec *spec,
                           const ga_net *net, int have_seed, uint32_t seed, ga_precision dtype,
                           double loss)
{
    json_t *d = ga_json_document("eval");
    int bad = !d || ga_json_set_str(d, "spec", spec_path);
    if (!bad && spec->has_init)
        bad = ga_json_set_uint(d, "seed", have_seed ? seed : spec->init.seed);
    bad = bad || ga_json_set_str(d, "kernel", net->kernel == GA_KERNEL_BLAS ? "blas" : "reference") ||
          ga_json_set_str(d, "dtype", ga_precision_name(dtype)) ||
          ga_json_set_num(d, "loss", loss) || ga_json_set_uint(d, "n_entries", net->n_params);
    int st = bad ? ga_fail(err, GA_ENOMEM, "%s: out of memory", json)
                 : ga_json_write(err, json, d, "entries", net->n_params, eval_json_entry, (void *)net);
    json_decref(d);
    return st;
}

int ga_cmd_eval(int argc, char **argv)
{
    const char *path = NULL, *json = NULL;
    uint32_t seed = 0;
    int have_seed = 0, show_params = 0, c, status = 0;
    ga_kernel kernel = GA_KERNEL_BLAS;
    ga_precision dtype = GA_PREC_FLOAT64;
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"seed", required_argument, 0, 's'},
                                         {"kernel", required_argument, 0, 'k'},
                                         {"params", no_argument, 0, 'p'},
                                         {"json", required_argument, 0, 'j'},
                                         {"dtype", required_argument, 0, 'D'},
                                         {0, 0, 0, 0}};
    ga_args_begin();
    while ((c = ga_args_next(&status, "eval", argc, argv, "h", opts)) != GA_ARGS_END) {
        const char *v = optarg;
        if (c == GA_ARGS_STOP) {
            return status;
        } else if (c == GA_ARGS_HELP) {
            eval_usage(stdout);
            return GA_EXIT_OK;
        } else if (c == 's') {
            uint64_t sv;
            if (ga_cli_parse_uint(&sv, v, UINT32_MAX))
                return usage_error("--seed '%s': expected an integer in 0..4294967295", v);
            seed = (uint32_t)sv;
            have_seed = 1;
        } else if (c == 'k') {
            if (!strcmp(v, "blas"))
                kernel = GA_KERNEL_BLAS;
            else if (!strcmp(v, "reference"))
                kernel = GA_KERNEL_REFERENCE;
            else
                return usage_error("--kernel '%s': expected blas or reference", v);
        } else if (c == 'p') {
            show_params = 1;
        } else if (c == 'D') {
            if (ga_cli_parse_dtype(&dtype, "eval", v))
                return GA_EXIT_USAGE;
        } else if (c == 'j') {
            if (!*v)
                return usage_error("%s needs a file name ('-': standard output)", "--json");
            json = v;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (path)
            return usage_error("unexpected argument '%s': one spec file only", argv[i]);
        path = argv[i];
    }
    if (!path)
        return usage_error("%s", "missing SPEC.json");

    ga_error err = {{0}};
    ga_spec *spec = NULL;
    ga_net *net = NULL;
    ga_workspace *ws = NULL;
    int rc = GA_EXIT_OK;
    /* an unwritable JSON path, or the spec itself, is refused before any work */
    if (json && (ga_path_writable(&err, json) != GA_OK ||
                 ga_path_distinct(&err, json, (const char *const[]){path}, 1) != GA_OK)) {
        fprintf(stderr, "gradaudit eval: --json %s\n", err.msg);
        return GA_EXIT_USAGE;
    }
    int st = ga_spec_load(&spec, &err, path, GA_DEFAULT_MEMORY_CAP);
    if (st == GA_OK && have_seed && !spec->has_init) {
        ga_fail(&err, GA_EINVAL, "%s: --seed applies only to a spec with parameters.init (this "
                "one gives parameters.values)", path);
        st = GA_EINVAL;
    }
    if (st == GA_OK)
        st = ga_spec_make_net(&net, &err, spec, seed, have_seed);
    if (st == GA_OK) {
        net->kernel = kernel;
        st = ga_workspace_alloc(&ws, &err, net, spec->batch);
    }
    double loss = 0;
    if (st == GA_OK && dtype == GA_PREC_FLOAT32) {
        if ((rc = ga_cli_round_problem("eval", path, dtype, net, spec->x, spec->y, spec->batch)))
            goto out;
        st = ga_loss_grad_f32(&loss, net->grads, &err, net, net->params, spec->x, spec->y, spec->batch);
    } else if (st == GA_OK) {
        st = ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, spec->x, spec->y,
                              spec->batch);
    }
    if (st != GA_OK) {
        fprintf(stderr, "gradaudit eval: %s\n", err.msg[0] ? err.msg : ga_strerror(st));
        /* bad input (spec, sizes, data) is status 2; only an allocation failure that
         * passed the cap is internal */
        rc = st == GA_ENOMEM && spec && net ? GA_EXIT_INTERNAL : GA_EXIT_USAGE;
        goto out;
    }

    /* Everything is computed before the first byte goes to stdout: an error
     * leaves stdout empty. Output is buffered and checked at the end. The
     * JSON first (its path was judged writable: a failure now is status 3);
     * with --json -, standard output holds it alone. */
    if (json && (st = eval_json_write(&err, json, path, spec, net, have_seed, seed, dtype, loss)) != GA_OK) {
        fprintf(stderr, "gradaudit eval: --json %s\n", err.msg);
        rc = GA_EXIT_INTERNAL;
        goto out;
    }
    if (json && !strcmp(json, "-"))
        goto out;
    if (dtype != GA_PREC_FLOAT64)
        printf("dtype %s\n", ga_precision_name(dtype));
    if (spec->has_init)
        printf("seed %lu\n", (unsigned long)(have_seed ? seed : spec->init.seed));
    printf("loss %.17g\n", loss);
    char name[64];
    if (show_params)
        for (size_t i = 0; i < net->n_params; i++) {
            ga_param_name(name, sizeof name, net, i);
            printf("param %s %.17g\n", name, net->params[i]);
        }
    for (size_t i = 0; i < net->n_params; i++) {
        ga_param_name(name, sizeof name, net, i);
        printf("grad %s %.17g\n", name, net->grads[i]);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gradaudit eval: cannot write to standard output: %s\n", strerror(errno));
        rc = GA_EXIT_INTERNAL;
    }
out:
    ga_workspace_free(ws);
    ga_net_free(net);
    ga_spec_free(spec);
    return rc;
}
