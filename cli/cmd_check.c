/* gradaudit check: every gradient entry of a spec against the MPFR oracle (or
 * a finite difference), with derived tolerances; a report and optional CSV. */
#include <errno.h>
#include <math.h>
#include <mpfr.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_fast.h"
#include "ga_io.h"
#include "ga_args.h"
#include "ga_cli.h"
#include "ga_cli_json.h"
#include "ga_progress.h"
#include "ga_core.h"
#include "ga_gradfile.h"
#include "ga_spec.h"

static void check_usage(FILE *f)
{
    fputs("usage: gradaudit check SPEC.json [--method oracle|central|gsl|ridders|forward]\n"
          "                       [--csv FILE] [--json FILE] [--seed N] [--top K]\n"
          "                       [--cross-check N] [--engine mpfr|ball] [--no-progress]\n"
          "                       [--dtype float64|float32] [--fast-math]\n"
          "       gradaudit check SPEC.json --fast [--seed N] [--directions D]\n"
          "       gradaudit check SPEC.json --grad FILE [--grad-layout L] [--grad-dtype T]\n"
          "\n"
          "Checks every entry of the spec's analytic gradient (the double backward pass)\n"
          "against a reference, with a tolerance derived for each entry:\n"
          "  oracle    the MPFR oracle, each entry correctly rounded (default); tolerance =\n"
          "            the analytic value's rounding bound plus the oracle's own bound\n"
          "  central   central differences    } tolerance = the difference's own truncation\n"
          "  gsl       GSL gsl_deriv_central   } + rounding estimate, plus the analytic\n"
          "  ridders   Ridders' extrapolation  } value's rounding bound\n"
          "  forward   forward differences     }\n"
          "The rounding bound of an entry is the smaller of the worst case gamma_n *\n"
          "sum|terms| and 32 times its Monte Carlo rounding scale (the spread of 16 runs\n"
          "of the backward pass with every operation randomly perturbed).\n"
          "Entries whose pre-activations sit at a kink (relu, leaky_relu, elu with alpha != 1)\n"
          "within the step's or the rounding's reach are labelled kink, with the reason,\n"
          "and checked against the one-sided slopes instead.\n"
          "\n"
          "options:\n"
          "  --method M        reference, as above (default oracle)\n"
          "  --csv FILE        also write every entry as RFC 4180 CSV (header row, %.17g):\n"
          "                    param,index,analytic,oracle,fd,abs_err,rel_err,ulps,tol,\n"
          "                    verdict,bound,oracle_err,fd_trunc,fd_round,slope_lo,slope_hi,\n"
          "                    reason (an empty field: not computed by this method);\n"
          "                    written to a temporary file and renamed, never partial\n"
          "  --json FILE       also write the run as one JSON document ('-': standard\n"
          "                    output, which then holds the JSON alone), docs/json.md:\n"
          "                    gradaudit \"check\", schema, version, spec, method, dtype, seed,\n"
          "                    batch, n_entries, loss, loss_oracle, loss_oracle_err,\n"
          "                    loss_ulps, counts {pass, FAIL, kink, unjudgeable},\n"
          "                    rounding, oracle, cross_check, tensors [the per-tensor\n"
          "                    table], worst [names], reproduce, entries [one object an\n"
          "                    entry: name, index, tensor, row, col, analytic, reference,\n"
          "                    tol, verdict, reason, abs_err, rel_err, ulps, bound, oracle,\n"
          "                    oracle_err, and lo/hi, fd/fd_trunc/fd_round, slope_lo/\n"
          "                    slope_hi where the method computes them]; numbers read back\n"
          "                    bit for bit (%.17g); NaN and infinities are null beside a\n"
          "                    string KEY_nonfinite: \"NaN\", \"Infinity\" or \"-Infinity\"\n"
          "  --seed N          override parameters.init.seed; also picks the cross-check\n"
          "                    sample (default: the spec's seed, or 1)\n"
          "  --top K           list the K worst entries (default 10)\n"
          "  --cross-check N   also compare the oracle's reverse pass with its MPFR\n"
          "                    finite differences on N entries (default 2)\n"
          "  --engine E        the oracle's reverse pass: ball (default: Arb's ball\n"
          "                    arithmetic, settled by proof in one pass per precision;\n"
          "                    MPFR only for entries the balls leave unsettled) or mpfr\n"
          "                    (two precisions compared and a running error bound);\n"
          "                    the same doubles, each its own oracle_err column\n"
          "  --fast            directional checks instead of entry by entry: v.g against\n"
          "                    d/dt L(theta + t v) (Ridders' differences) along D random\n"
          "                    +-1 directions, a few dozen forward passes whatever the\n"
          "                    parameter count; a disagreement is localised by bisection\n"
          "                    and each named entry confirmed by the oracle\n",
          f);
    /* two strings: ISO C's limit on one literal's length */
    fputs("  --directions D    directions for --fast (default 2)\n"
          "  --dtype D         what the code under test computes in: float64 (default, the\n"
          "                    double core) or float32: every number of the spec\n"
          "                    (parameters, data, activation parameters, loss scale and\n"
          "                    decay) rounded to float32 (one beyond its range: exit 2),\n"
          "                    the gradient computed in float32 (core/ga_f32.c), the oracle\n"
          "                    exact at those rounded numbers, the tolerance the proven\n"
          "                    enclosure at float32's unit roundoff 2^-24 and range, the\n"
          "                    loss and the ulps float32's; the report's first line says\n"
          "                    so. Oracle method only: not with\n"
          "                    --method other than oracle, --fast or --inject\n"
          "  --fast-math       the code under test was built with -Ofast or -ffast-math\n"
          "                    (perhaps run with flush-to-zero): the enclosure's fast-math\n"
          "                    model, which also holds a result below the smallest normal\n"
          "                    flushed to 0 and a subnormal operand read as 0, a product's\n"
          "                    factors grouped in any order, a division as a product with\n"
          "                    a reciprocal, division and square root within 8 ulps and\n"
          "                    elementary functions within 16 (docs/verdicts.md); wider\n"
          "                    tolerances. Oracle method only, not with --fast\n"
          "  --inject NAME*F   multiply the analytic entry NAME (e.g. W1[0,1]) by F before\n"
          "                    checking: shows the check catching a wrong entry\n"
          "  --grad FILE       judge the gradient another program computed for the spec's\n"
          "                    network (oracle method only), docs/gradfiles.md: an .npz of\n"
          "                    arrays named like the tensors, np.savez(\"grads.npz\",\n"
          "                    W1=dW1, b1=db1, ...), a flat .npy in slab order, or a CSV\n"
          "                    (one value a line in slab order, or name,index,value rows);\n"
          "                    float32 or float64, judged in that precision at the spec's\n"
          "                    numbers rounded to it; NaN or Inf in it are FAILs\n"
          "  --grad-layout L   how the file holds each W: spec (the spec's shape),\n"
          "                    transposed (X @ W for a column-layout spec, W @ x for a\n"
          "                    row one) or auto (default: an .npz W by its shape, a\n"
          "                    square W as the file's other Ws; the flat forms as spec)\n"
          "  --grad-dtype T    float64 or float32: the precision the gradient was\n"
          "                    computed in (default: the file's dtype; a CSV: float64)\n"
          "  --no-progress     no progress line (drawn only when stderr is a terminal:\n"
          "                    the rounding enclosures' and the MPFR oracle's passes\n"
          "                    in percent, the oracle's cross-check's and then the\n"
          "                    check's entries done/total, each with an ETA, a few\n"
          "                    times a second, erased at the end and before any\n"
          "                    message; never into a pipe or a file)\n"
          "  --help            this text\n"
          "\n"
          "exit status: 0 every entry passes (explained kinks count as passing), 1 an entry\n"
          "FAILs, 2 bad input or usage (unreadable or malformed spec, NaN in the data,\n"
          "unwritable CSV or JSON path: one message naming it), 3 internal error or a\n"
          "failed write (a full disk: no partial CSV or JSON), 130/143 interrupted by\n"
          "SIGINT/SIGTERM.\n",
          f);
}

static int usage_error(const char *fmt, const char *arg)
{
    return ga_cli_usage_error("check", fmt, arg);
}

/* ---- --json (docs/json.md) ------------------------------------------------- */
typedef struct {
    const ga_check_report *rep;
    const ga_net *net;
} check_json_ctx;

/* Entry i: the CSV's columns plus the tensor, row and column of its name;
 * the method's own columns only where it computes them. */
static json_t *check_json_entry(void *vctx, size_t i)
{
    const check_json_ctx *cx = vctx;
    const ga_check_report *r = cx->rep;
    const ga_check_entry *e = &r->entries[i];
    size_t row = 0, col = 0;
    ga_net_locate(&row, &col, cx->net, e->index);
    json_t *o = json_object();
    int bad = !o || ga_json_set_str(o, "name", e->name) || ga_json_set_uint(o, "index", e->index) ||
              ga_json_set_str(o, "tensor", cx->net->views[e->view].name) ||
              ga_json_set_uint(o, "row", row) || ga_json_set_uint(o, "col", col) ||
              ga_json_set_num(o, "analytic", e->analytic) || ga_json_set_num(o, "reference", e->ref) ||
              ga_json_set_num(o, "tol", e->tol) || ga_json_set_str(o, "verdict", ga_verdict_name(e->verdict)) ||
              ga_json_set_str(o, "reason", e->reason) || ga_json_set_num(o, "abs_err", e->abs_err) ||
              ga_json_set_num(o, "rel_err", e->rel_err) || ga_json_set_num(o, "bound", e->bound) ||
              ga_json_set_num(o, "oracle", e->oracle) || ga_json_set_num(o, "oracle_err", e->oracle_err);
    if (!bad) /* UINT64_MAX: a NaN on one side, no distance */
        bad = e->ulps == UINT64_MAX ? json_object_set_new(o, "ulps", json_null()) != 0
                                    : ga_json_set_uint(o, "ulps", e->ulps);
    if (!bad && r->method == GA_CHECK_ORACLE)
        bad = ga_json_set_num(o, "lo", e->lo) || ga_json_set_num(o, "hi", e->hi);
    if (!bad && r->method != GA_CHECK_ORACLE)
        bad = ga_json_set_num(o, "fd", e->fd) || ga_json_set_num(o, "fd_trunc", e->fd_trunc) ||
              ga_json_set_num(o, "fd_round", e->fd_round);
    if (!bad && !(isnan(e->slope_lo) && isnan(e->slope_hi)))
        bad = ga_json_set_num(o, "slope_lo", e->slope_lo) || ga_json_set_num(o, "slope_hi", e->slope_hi);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Everything but the entries: the run, the counts, the per-tensor table. */
static json_t *check_json_head(const ga_check_report *r, const char *spec_path, ga_precision dtype)
{
    json_t *d = ga_json_document("check"), *counts = json_object(), *tensors = json_array(),
           *worst = json_array(), *oracle = json_object(), *cross = json_object(), *round = json_object();
    int bad = !d || !counts || !tensors || !worst || !oracle || !cross || !round;
    bad = bad || ga_json_set_str(d, "spec", spec_path) ||
          ga_json_set_str(d, "method", ga_check_method_name(r->method)) ||
          ga_json_set_str(d, "dtype", ga_precision_name(dtype)) ||
          (r->fast_math && json_object_set_new(d, "fast_math", json_true())) ||
          ga_json_set_uint(d, "seed", r->seed) || ga_json_set_uint(d, "batch", r->batch) ||
          ga_json_set_uint(d, "n_entries", r->n_entries) || ga_json_set_num(d, "loss", r->loss) ||
          ga_json_set_num(d, "loss_oracle", r->loss_oracle) ||
          ga_json_set_num(d, "loss_oracle_err", r->loss_oracle_err) ||
          (r->loss_ulps == UINT64_MAX ? json_object_set_new(d, "loss_ulps", json_null()) != 0
                                      : ga_json_set_uint(d, "loss_ulps", r->loss_ulps));
    bad = bad || ga_json_set_uint(counts, "pass", r->n_pass) || ga_json_set_uint(counts, "FAIL", r->n_fail) ||
          ga_json_set_uint(counts, "kink", r->n_kink) ||
          ga_json_set_uint(counts, "unjudgeable", r->n_unjudgeable);
    bad = bad || ga_json_set_uint(round, "gamma_n", r->gamma_n) || ga_json_set_num(round, "gamma", r->gamma);
    if (!bad && r->method != GA_CHECK_ORACLE)
        bad = ga_json_set_uint(round, "mca_runs", r->mca_runs) || ga_json_set_num(round, "lambda", r->lambda);
    bad = bad || json_object_set_new(oracle, "final_prec", json_integer(r->oracle_stats.final_prec)) ||
          ga_json_set_uint(oracle, "ziv_iterations", r->oracle_stats.ziv_iterations) ||
          ga_json_set_uint(oracle, "unsettled", r->oracle_stats.unsettled) ||
          ga_json_set_uint(oracle, "boundary", r->oracle_stats.boundary) ||
          ga_json_set_uint(cross, "checked", r->cross_checked) ||
          ga_json_set_uint(cross, "mismatches", r->cross_mismatches);
    for (size_t i = 0; !bad && i < r->n_layers; i++) {
        const ga_check_layer *l = &r->layers[i];
        if (!l->name[0])
            continue; /* a view its layer does not have */
        json_t *t = json_object();
        bad = !t || json_array_append_new(tensors, t) || ga_json_set_str(t, "tensor", l->name) ||
              ga_json_set_uint(t, "entries", l->count) || ga_json_set_uint(t, "pass", l->pass) ||
              ga_json_set_uint(t, "FAIL", l->fail) || ga_json_set_uint(t, "kink", l->kink) ||
              ga_json_set_uint(t, "unjudgeable", l->unjudgeable) ||
              ga_json_set_num(t, "max_abs_err", l->max_abs_err) ||
              ga_json_set_num(t, "max_rel_err", l->max_rel_err) ||
              ga_json_set_num(t, "worst_ratio", l->worst_ratio) ||
              (l->count && l->worst < r->n_entries ? ga_json_set_str(t, "worst", r->entries[l->worst].name)
                                                   : json_object_set_new(t, "worst", json_null()) != 0);
    }
    for (size_t k = 0; !bad && k < r->n_top; k++)
        bad = json_array_append_new(worst, json_string(r->entries[r->top[k]].name)) != 0;
    if (!bad) {
        /* | not ||: each call takes its value, also when it fails */
        bad = (json_object_set_new(d, "counts", counts) | json_object_set_new(d, "rounding", round) |
               json_object_set_new(d, "oracle", oracle) | json_object_set_new(d, "cross_check", cross) |
               json_object_set_new(d, "tensors", tensors) | json_object_set_new(d, "worst", worst)) != 0;
        counts = round = oracle = cross = tensors = worst = NULL; /* d owns them, even on failure */
        bad = bad || ga_json_set_str(d, "reproduce", r->command);
    }
    json_decref(counts), json_decref(round), json_decref(oracle), json_decref(cross);
    json_decref(tensors), json_decref(worst);
    if (bad) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* Opens path and writes the whole document to it, flushed: the caller
 * commits (renames) or aborts. GA_ENOMEM, GA_EIO (a full disk). */
static int check_json_begin(ga_atomic_file *af, ga_error *err, const char *path, const ga_check_report *r,
                            const ga_net *net, const char *spec_path, ga_precision dtype)
{
    json_t *head = check_json_head(r, spec_path, dtype);
    if (!head)
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
    int st = ga_atomic_open(af, err, path);
    if (st == GA_OK) {
        check_json_ctx cx = {r, net};
        st = ga_json_fwrite(err, af->f, head, "entries", r->n_entries, check_json_entry, &cx);
        if (st == GA_OK && (fflush(af->f) != 0 || ferror(af->f)))
            st = ga_fail(err, GA_EIO, "writing %s failed: %s", path, strerror(errno));
        if (st != GA_OK)
            ga_atomic_abort(af);
    }
    json_decref(head);
    return st;
}

/* --grad FILE (docs/gradfiles.md): the gradient another program computed
 * replaces the core's, judged against the whole enclosure in the precision
 * of its numbers; for float32 the spec's numbers are first rounded as float32
 * code holds them. *grad (n_params) is the caller's to free. Exit status. */
static int check_grad_file(double **grad, ga_check_options *opt, ga_net *net, ga_spec *spec,
                           const char *spec_path, const char *file, const ga_gradfile_options *go)
{
    ga_error err = {{0}};
    ga_precision prec = GA_PREC_FLOAT64;
    double loss = NAN;
    ga_gradfile_options with_loss = *go;
    with_loss.loss = &loss; /* an .npz's `loss`: reported beside the oracle's */
    go = &with_loss;
    *grad = malloc((net->n_params ? net->n_params : 1) * sizeof **grad);
    if (!*grad) {
        fprintf(stderr, "gradaudit check: --grad %s: out of memory\n", file);
        return GA_EXIT_INTERNAL;
    }
    if (ga_grad_read(*grad, &prec, &err, net, file, go, GA_DEFAULT_MEMORY_CAP) != GA_OK) {
        fprintf(stderr, "gradaudit check: --grad %s\n", err.msg);
        return GA_EXIT_USAGE;
    }
    int rc = prec == GA_PREC_FLOAT64 ? 0 : ga_cli_round_problem("check", spec_path, prec, net,
                                                                spec->x, spec->y, spec->batch);
    opt->analytic = *grad;
    opt->analytic_own_forward = 1;
    opt->precision = prec;
    opt->analytic_loss = loss;
    return rc;
}

int ga_cmd_check(int argc, char **argv)
{
    const char *path = NULL, *csv = NULL, *json = NULL;
    ga_check_options opt;
    ga_check_options_default(&opt);
    uint64_t seed = 1;
    int have_seed = 0;
    const char *inject = NULL;
    int fast = 0, cross_check_given = 0, no_progress = 0;
    size_t directions = 0;
    const char *gradfile = NULL;
    ga_gradfile_options grad_opt = {GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, NULL};
    const char *grad_layout = NULL, *grad_dtype = NULL; /* as given, for the reproduce line */
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"method", required_argument, 0, 'm'},
                                         {"csv", required_argument, 0, 'c'},
                                         {"seed", required_argument, 0, 's'},
                                         {"top", required_argument, 0, 't'},
                                         {"cross-check", required_argument, 0, 'x'},
                                         {"fast", no_argument, 0, 'f'},
                                         {"directions", required_argument, 0, 'd'},
                                         {"inject", required_argument, 0, 'i'},
                                         {"json", required_argument, 0, 'j'},
                                         {"no-progress", no_argument, 0, 'P'},
                                         {"engine", required_argument, 0, 'e'},
                                         {"dtype", required_argument, 0, 'D'},
                                         {"grad", required_argument, 0, 'g'},
                                         {"grad-layout", required_argument, 0, 'L'},
                                         {"grad-dtype", required_argument, 0, 'T'},
                                         {"fast-math", no_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    int c, status = 0;
    ga_args_begin();
    while ((c = ga_args_next(&status, "check", argc, argv, "h", opts)) != GA_ARGS_END) {
        const char *v = optarg;
        uint64_t k;
        switch (c) {
        case GA_ARGS_STOP:
            return status;
        case GA_ARGS_HELP:
            check_usage(stdout);
            return GA_EXIT_OK;
        case 'm':
            if (ga_check_method_from_name(&opt.method, v))
                return usage_error("--method '%s': expected oracle, central, gsl, ridders or forward", v);
            break;
        case 'c':
            if (!*v)
                return usage_error("%s needs a file name", "--csv");
            csv = v;
            break;
        case 'j':
            if (!*v)
                return usage_error("%s needs a file name ('-': standard output)", "--json");
            json = v;
            break;
        case 's':
            if (ga_cli_parse_uint(&seed, v, UINT32_MAX))
                return usage_error("--seed '%s': expected an integer in 0..4294967295", v);
            have_seed = 1;
            break;
        case 't':
            if (ga_cli_parse_uint(&k, v, 1000000))
                return usage_error("--top '%s': expected an integer in 0..1000000", v);
            opt.top_k = (size_t)k;
            break;
        case 'x':
            if (ga_cli_parse_uint(&k, v, 1000000))
                return usage_error("--cross-check '%s': expected an integer in 0..1000000", v);
            opt.cross_check = (size_t)k;
            cross_check_given = 1;
            break;
        case 'f':
            fast = 1;
            break;
        case 'P':
            no_progress = 1;
            break;
        case 'F':
            opt.fast_math = 1;
            break;
        case 'D':
            if (ga_cli_parse_dtype(&opt.precision, "check", v))
                return GA_EXIT_USAGE;
            break;
        case 'e':
            if (!strcmp(v, "mpfr"))
                opt.oracle.engine = GA_ORACLE_MPFR;
            else if (!strcmp(v, "ball"))
                opt.oracle.engine = GA_ORACLE_BALL;
            else
                return usage_error("--engine '%s': expected mpfr or ball", v);
            break;
        case 'd':
            if (ga_cli_parse_uint(&k, v, 64) || k < 1)
                return usage_error("--directions '%s': expected an integer in 1..64", v);
            directions = (size_t)k;
            break;
        case 'i':
            if (!strchr(v, '*'))
                return usage_error("--inject needs NAME*FACTOR, e.g. W1[0,1]*1.000000001%s", "");
            inject = v;
            break;
        case 'g':
            if (!*v)
                return usage_error("%s needs a file name", "--grad");
            gradfile = v;
            break;
        case 'L':
            if (ga_gradfile_layout_from_name(&grad_opt.layout, v))
                return usage_error("--grad-layout '%s': expected spec, transposed or auto", v);
            grad_layout = v;
            break;
        case 'T':
            if (ga_precision_from_name(&grad_opt.dtype, v))
                return usage_error("--grad-dtype '%s': expected float64 or float32", v);
            grad_opt.dtype_given = 1;
            grad_dtype = v;
            break;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (path)
            return usage_error("unexpected argument '%s': one spec file only", argv[i]);
        path = argv[i];
    }
    if (!path)
        return usage_error("%s", "missing SPEC.json");
    if (fast && (csv || json || opt.method != GA_CHECK_ORACLE || cross_check_given))
        return usage_error("%s", "--fast goes with --seed, --directions and --inject only");
    if (opt.fast_math && (fast || opt.method != GA_CHECK_ORACLE))
        return usage_error("--fast-math judges by the oracle method's enclosure: not with %s",
                           fast ? "--fast" : "--method other than oracle");
    /* float32 is judged against the oracle's proven enclosure alone (ga_check.h) */
    if (opt.precision == GA_PREC_FLOAT32 && (fast || inject || opt.method != GA_CHECK_ORACLE))
        return usage_error("--dtype float32 goes with the oracle method only, not with %s",
                           fast ? "--fast" : inject ? "--inject" : "--method other than oracle");
    if (gradfile && (fast || inject || opt.method != GA_CHECK_ORACLE))
        return usage_error("%s", "--grad is judged by the oracle method alone: not with --method "
                                 "other than oracle, --fast or --inject");
    if (gradfile && opt.precision != GA_PREC_FLOAT64)
        return usage_error("%s", "--dtype is the core's precision; a --grad file's is its own "
                                 "(--grad-dtype)");
    if (!gradfile && (grad_layout || grad_dtype))
        return usage_error("%s", "--grad-layout and --grad-dtype describe a --grad FILE: give one");
    if (gradfile && !strcmp(gradfile, "-") && !strcmp(path, "-"))
        return usage_error("%s", "the spec and --grad cannot both be standard input ('-')");

    ga_error err = {{0}};
    ga_spec *spec = NULL;
    ga_net *net = NULL;
    ga_check_report *rep = NULL;
    ga_workspace *f32_forward = NULL; /* the float32 pass's forward values */
    int rc = GA_EXIT_OK;
    /* an unwritable CSV or JSON path, or the spec itself, is refused before any work */
    if (csv && json && ga_cli_same_file(csv, json))
        return usage_error(!strcmp(json, "-") ? "--csv and --json both name standard output "
                                                "('%s'): give one of them a file"
                                              : "--csv and --json both name '%s'",
                           json);
    if (csv && (ga_path_writable(&err, csv) != GA_OK ||
                ga_path_distinct(&err, csv, (const char *const[]){path, gradfile}, 2) != GA_OK)) {
        fprintf(stderr, "gradaudit check: %s\n", err.msg);
        return GA_EXIT_USAGE;
    }
    if (json && (ga_path_writable(&err, json) != GA_OK ||
                 ga_path_distinct(&err, json, (const char *const[]){path, gradfile}, 2) != GA_OK)) {
        fprintf(stderr, "gradaudit check: --json %s\n", err.msg);
        return GA_EXIT_USAGE;
    }
    int st = ga_spec_load(&spec, &err, path, GA_DEFAULT_MEMORY_CAP);
    /* a size the check would refuse is refused before any work: the
     * oracle's own count (ga_oracle_bytes, the flags ga_check_run will use)
     * and the check's own arrays (ga_check_bytes: the report's entries first) */
    if (st == GA_OK && !fast) {
        size_t need = 0, own = 0;
        int oracle = opt.method == GA_CHECK_ORACLE || opt.cross_check > 0;
        unsigned flags = GA_ORACLE_LOSS | GA_ORACLE_GRADIENT |
                         (opt.method == GA_CHECK_ORACLE && opt.cross_check ? GA_ORACLE_CROSS_CHECK : 0u);
        ga_oracle_options oo = opt.oracle;
        oo.cross_count = opt.cross_check;
        int counted = oracle ? ga_oracle_bytes(&need, &spec->desc, spec->n_params, spec->batch,
                                               &oo, flags)
                             : GA_OK;
        if (counted == GA_OK)
            counted = ga_check_bytes(&own, &spec->desc, spec->n_params, spec->batch);
        if (counted == GA_OK && !ga_size_add(&need, need, own))
            counted = GA_ERANGE;
        if (counted != GA_OK || need > GA_DEFAULT_MEMORY_CAP) {
            fprintf(stderr, "gradaudit check: %s: %zu parameters and a batch of %zu need %s%zu "
                    "bytes (%sthe check's own arrays), over the memory cap of %zu bytes "
                    "(try --fast)\n", path, spec->n_params, spec->batch,
                    counted ? "more than " : "", counted ? (size_t)SIZE_MAX : need,
                    oracle ? "the oracle's MPFR variables and balls and " : "",
                    (size_t)GA_DEFAULT_MEMORY_CAP);
            rc = GA_EXIT_USAGE;
            goto out;
        }
    }
    int override = have_seed && st == GA_OK && spec->has_init;
    if (st == GA_OK)
        st = ga_spec_make_net(&net, &err, spec, (uint32_t)seed, override);
    if (st != GA_OK) {
        fprintf(stderr, "gradaudit check: %s\n", err.msg[0] ? err.msg : ga_strerror(st));
        rc = st == GA_ENOMEM && spec && net ? GA_EXIT_INTERNAL : GA_EXIT_USAGE;
        goto out;
    }
    opt.seed = have_seed ? seed : spec->has_init ? spec->init.seed : 1;
    opt.spec_path = path;
    double *wrong = NULL;
    if (gradfile) {
        if ((rc = check_grad_file(&wrong, &opt, net, spec, path, gradfile, &grad_opt))) {
            free(wrong);
            goto out;
        }
    } else if (opt.precision == GA_PREC_FLOAT32) {
        /* the code under test's own numbers and its own forward pass: the
         * check runs at the rounded numbers, the oracle exact there */
        if ((rc = ga_cli_round_problem("check", path, opt.precision, net, spec->x, spec->y,
                                       spec->batch)))
            goto out;
        wrong = malloc(net->n_params * sizeof *wrong);
        st = wrong ? ga_workspace_alloc(&f32_forward, &err, net, spec->batch)
                   : ga_fail(&err, GA_ENOMEM, "out of memory");
        if (st == GA_OK)
            st = ga_loss_grad_f32_ws(&opt.analytic_loss, wrong, f32_forward, &err, net,
                                     net->params, spec->x, spec->y, spec->batch);
        if (st != GA_OK) {
            fprintf(stderr, "gradaudit check: %s: %s\n", path, err.msg);
            free(wrong);
            rc = st == GA_ENOMEM ? GA_EXIT_INTERNAL : GA_EXIT_USAGE;
            goto out;
        }
        opt.analytic = wrong;
        opt.analytic_own_forward = 1;
        opt.analytic_forward = f32_forward; /* its backward pass alone is enclosed */
        opt.fast_math |= ga_core_fast_math(); /* the core's, built -Ofast or not */
    }
    if (inject) {
        /* NAME*FACTOR: find the entry by its printed name */
        const char *star = strrchr(inject, '*');
        char *end;
        double factor = strtod(star + 1, &end);
        size_t nlen = (size_t)(star - inject), hit = net->n_params;
        char name[64];
        for (size_t i = 0; i < net->n_params && hit == net->n_params; i++) {
            ga_param_name(name, sizeof name, net, i);
            if (strlen(name) == nlen && !strncmp(name, inject, nlen))
                hit = i;
        }
        if (*end || star[1] == '\0' || hit == net->n_params) {
            fprintf(stderr, "gradaudit check: --inject '%s': expected NAME*FACTOR with NAME an "
                            "entry of %s such as W1[0,0]\n", inject, path);
            rc = GA_EXIT_USAGE;
            goto out;
        }
        ga_workspace *ws = NULL;
        double loss;
        wrong = malloc(net->n_params * sizeof *wrong);
        st = wrong ? ga_workspace_alloc(&ws, &err, net, spec->batch) : GA_ENOMEM;
        if (st == GA_OK)
            st = ga_loss_and_grad(&loss, wrong, NULL, ws, net, net->params, spec->x, spec->y,
                                  spec->batch);
        ga_workspace_free(ws);
        if (st != GA_OK) {
            fprintf(stderr, "gradaudit check: %s: %s\n", path, err.msg[0] ? err.msg : ga_strerror(st));
            free(wrong);
            rc = st == GA_ENONFINITE ? GA_EXIT_USAGE : GA_EXIT_INTERNAL;
            goto out;
        }
        wrong[hit] *= factor;
        opt.analytic = wrong;
    }
    if (fast) {
        ga_fast_options fo;
        ga_fast_options_default(&fo);
        fo.seed = opt.seed;
        fo.analytic = opt.analytic;
        if (directions)
            fo.n_directions = directions;
        ga_fast_report *fr = NULL;
        st = ga_fast_check(&fr, &err, net, net->params, spec->x, spec->y, spec->batch, &fo);
        free(wrong);
        if (st != GA_OK) {
            fprintf(stderr, "gradaudit check: %s: %s\n", path, err.msg[0] ? err.msg : ga_strerror(st));
            rc = st == GA_ENONFINITE || st == GA_EINVAL ? GA_EXIT_USAGE : GA_EXIT_INTERNAL;
            goto out;
        }
        ga_fast_report_print(stdout, fr);
        /* every option that changes the run, so that the line reproduces it */
        printf("reproduce: gradaudit check %s --fast --seed %llu --directions %zu", path,
               (unsigned long long)fo.seed, fo.n_directions);
        if (inject)
            printf(" --inject '%s'", inject);
        putchar('\n');
        rc = fr->failed ? GA_EXIT_FAIL : GA_EXIT_OK;
        ga_fast_report_free(fr);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "gradaudit check: cannot write to standard output: %s\n", strerror(errno));
            rc = GA_EXIT_INTERNAL;
        }
        goto out;
    }
    /* on a terminal only: entries done / total, erased before anything else is printed */
    ga_progress prog;
    ga_progress_init(&prog, "gradaudit check", !no_progress);
    opt.progress = ga_progress_check_cb;
    opt.progress_ctx = &prog;
    st = ga_check_run(&rep, &err, net, net->params, spec->x, spec->y, spec->batch, &opt);
    ga_progress_clear(&prog);
    free(wrong);
    if (st != GA_OK) {
        fprintf(stderr, "gradaudit check: %s: %s\n", path, err.msg[0] ? err.msg : ga_strerror(st));
        rc = (st == GA_EINVAL || st == GA_ENONFINITE || st == GA_ESPEC || st == GA_ERANGE)
                 ? GA_EXIT_USAGE
                 : GA_EXIT_INTERNAL;
        goto out;
    }
    if (inject) { /* the reproduce line reproduces the injection too */
        size_t n = strlen(rep->command);
        snprintf(rep->command + n, sizeof rep->command - n, " --inject '%s'", inject);
    }
    if (gradfile) { /* and the gradient file */
        size_t n = strlen(rep->command);
        snprintf(rep->command + n, sizeof rep->command - n, " --grad %s%s%s%s%s", gradfile,
                 grad_layout ? " --grad-layout " : "", grad_layout ? grad_layout : "",
                 grad_dtype ? " --grad-dtype " : "", grad_dtype ? grad_dtype : "");
    } else if (opt.precision != GA_PREC_FLOAT64) { /* and the dtype */
        size_t n = strlen(rep->command);
        snprintf(rep->command + n, sizeof rep->command - n, " --dtype %s", ga_precision_name(opt.precision));
    }
    /* the files first: if one cannot be written, nothing goes to stdout; their
     * paths were judged writable above, so a failure now (a full disk) is
     * status 3. The JSON is written and flushed before the CSV is renamed into
     * place and renamed after it: a full disk leaves both old. */
    ga_atomic_file jf = {0};
    int json_direct = json && ga_path_is_direct(json); /* "-", a pipe: after the CSV */
    if (json && !json_direct && (st = check_json_begin(&jf, &err, json, rep, net, path, opt.precision)) != GA_OK) {
        fprintf(stderr, "gradaudit check: --json %s\n", err.msg);
        rc = GA_EXIT_INTERNAL;
        goto out;
    }
    if (csv && (st = ga_check_report_write_csv(&err, rep, csv)) != GA_OK) {
        fprintf(stderr, "gradaudit check: %s\n", err.msg);
        if (json && !json_direct)
            ga_atomic_abort(&jf);
        rc = GA_EXIT_INTERNAL;
        goto out;
    }
    if (json_direct && (st = check_json_begin(&jf, &err, json, rep, net, path, opt.precision)) != GA_OK) {
        fprintf(stderr, "gradaudit check: --json %s\n", err.msg);
        rc = GA_EXIT_INTERNAL;
        goto out;
    }
    if (json && (st = ga_atomic_commit(&jf, &err)) != GA_OK) {
        fprintf(stderr, "gradaudit check: --json %s\n", err.msg);
        rc = GA_EXIT_INTERNAL;
        goto out;
    }
    /* --json -: standard output holds the JSON document alone */
    if (!json || strcmp(json, "-"))
        ga_check_report_print(stdout, rep);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gradaudit check: cannot write to standard output: %s\n", strerror(errno));
        rc = GA_EXIT_INTERNAL;
        goto out;
    }
    if (rep->cross_mismatches) {
        fprintf(stderr, "gradaudit check: the oracle's two routes disagree on %zu of %zu entries\n",
                rep->cross_mismatches, rep->cross_checked);
        rc = GA_EXIT_INTERNAL;
        goto out;
    }
    rc = rep->n_fail ? GA_EXIT_FAIL : GA_EXIT_OK;
out:
    ga_check_report_free(rep);
    ga_workspace_free(f32_forward);
    ga_net_free(net);
    ga_spec_free(spec);
    return rc;
}
