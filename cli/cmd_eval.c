/* gradaudit eval: loss and every gradient entry of a spec, 17 significant digits. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_args.h"
#include "ga_cli.h"
#include "ga_core.h"
#include "ga_spec.h"

static void eval_usage(FILE *f)
{
    fputs("usage: gradaudit eval SPEC.json [--seed N] [--kernel blas|reference] [--params]\n"
          "\n"
          "Evaluates the spec's network on its data and prints, one per line:\n"
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
          "  --help             this text\n"
          "\n"
          "exit status: 0 ok, 2 bad spec or usage (one message on stderr, nothing on stdout),\n"
          "3 internal error. The spec format is described in docs/spec.md.\n",
          f);
}

static int usage_error(const char *fmt, const char *arg)
{
    return ga_cli_usage_error("eval", fmt, arg);
}

int ga_cmd_eval(int argc, char **argv)
{
    const char *path = NULL;
    uint32_t seed = 0;
    int have_seed = 0, show_params = 0, c, status = 0;
    ga_kernel kernel = GA_KERNEL_BLAS;
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"seed", required_argument, 0, 's'},
                                         {"kernel", required_argument, 0, 'k'},
                                         {"params", no_argument, 0, 'p'},
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
    if (st == GA_OK)
        st = ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, spec->x, spec->y,
                              spec->batch);
    if (st != GA_OK) {
        fprintf(stderr, "gradaudit eval: %s\n", err.msg[0] ? err.msg : ga_strerror(st));
        /* bad input (spec, sizes, data) is status 2; only an allocation failure that
         * passed the cap is internal */
        rc = st == GA_ENOMEM && spec && net ? GA_EXIT_INTERNAL : GA_EXIT_USAGE;
        goto out;
    }

    /* Everything is computed before the first byte goes to stdout: an error
     * leaves stdout empty. Output is buffered and checked at the end. */
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
