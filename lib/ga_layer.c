/* ga_layer.c: one op's backward pass (and optionally its forward output)
 * checked against gradaudit's own exact op: gradaudit_check_op, and
 * gradaudit_check_dense on top of it (gradaudit.h).
 *
 * The vector-Jacobian product with an upstream gradient dy is the gradient of
 * the linear loss dy . out (the `dot` loss, docs/spec.md), so the op's
 * parameter gradients are those of a net holding the op whose loss is `dot`
 * with targets dy: the oracle computes them exactly and the proven enclosure
 * judges the user's values (analytic_own_forward: the user's code has a
 * forward pass of its own). Three layers around the user's op make that net:
 *
 *   embedding (vocab B, dim n_in)  ->  the op  ->  dense, one token per entry, W = 1, b = 0
 *   net input: sample s holds the id s
 *
 * The input gradient. The oracle gives gradients of parameters, not of the
 * net's input, so x is made a parameter: the first layer is an embedding
 * whose table E (B, n_in) is x itself, sample s reading row s (its id is s).
 * Its output is x[s] exactly (a row copied, no arithmetic), and since each
 * row is read by one sample alone, dE[s] = dL/dx[s] = dx[s], a sum of one
 * term: the whole batch's dx comes out of the one reference pass that gives
 * the parameter gradients, the batch coupled as the op couples it (batch
 * norm), at the cost of a rounding budget of one addition per entry in the
 * enclosure (the sum of one term that it cannot tell apart from a longer
 * one). An embedding op takes the net's input itself (its ids have no
 * gradient); an activation alone is a dense layer of one entry per token
 * with W = 1, b = 0 (z = x exactly) carrying it, a softmax alone a dense
 * layer with W = I (softmax is per row, not per token).
 *
 * The last layer. The spec's nets end in a dense layer (the loss reads its
 * output), so a dense layer of one entry per token, W = 1, b = 0, follows the
 * op: its output is the op's, and the gradient it hands the op is dy
 * exactly (1 times dy). Neither its gradients nor E's bias-free neighbours
 * are judged; a dropout's mask is that of the op as layer 1 (0-based) of
 * this net, which gradaudit_op_dropout_keep gives the caller. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_enclose.h"
#include "ga_lib.h"
#include "ga_random.h"
#include "ga_spec.h"

/* the dropout op's place in the net above: after the embedding of x */
#define OP_STAGE 1

/* What the check of one op holds: the net, its input and targets, the
 * user's tensors matched to the net's views, and the buffers of the call. */
typedef struct {
    const char *who;            /* "check_op" or "check_dense": starts every message */
    ga_layer_desc op;           /* as parsed */
    int act_only, emb;          /* an activation alone; an embedding op (no dx) */
    size_t stage;               /* the op's layer in the net */
    size_t n_in, B, n_out;
    ga_net *net;
    double *xin;                /* (B, net n_in) the net's input: ids */
    double *dy;                 /* (B, n_out) */
    size_t n_views;             /* the op's parameter views (0, 1 or 2) */
    size_t view[2];             /* their indices in net->views */
    char name[2][32];           /* their names in a one-layer spec: "W1", "gamma1" */
    size_t rows[2], cols[2];    /* their stored shapes */
    size_t user_of[2];          /* the index in op->params of each */
} op_check;

static void op_check_free(op_check *c)
{
    ga_net_free(c->net);
    free(c->xin);
    free(c->dy);
}

/* 1 when the number overflows float32 (it cannot be held there) */
static int overflows_f32(double v)
{
    return isfinite(v) && isinf(ga_round_to(GA_PREC_FLOAT32, v));
}

/* bfloat16: float32's exponent range with 8 significant bits; the smallest
 * subnormal 2^-133, the largest finite number 0x1.fep127. */
#define BF16_MIN_EXP (-126) /* the smallest normal's exponent */
#define BF16_MAX 0x1.fep127

/* v rounded to nearest bfloat16 (ties to even); +-Inf beyond the range.
 * (v / q is exact: q a power of 2 and v / q within 2^9 in magnitude.) */
static double bf16_round(double v)
{
    if (!isfinite(v) || v == 0)
        return v;
    int e = ilogb(v);
    double q = ldexp(1.0, (e < BF16_MIN_EXP ? BF16_MIN_EXP : e) - 7); /* one ulp at v */
    double r = nearbyint(v / q) * q;
    return fabs(r) > BF16_MAX ? copysign(INFINITY, v) : r;
}

/* Half the spacing of the bfloat16 numbers around b, a bfloat16 number: every
 * float32 number within it of b may round to b (the ends: ties, counted in). */
static double bf16_half_ulp(double b)
{
    int e = b == 0 ? BF16_MIN_EXP : ilogb(b);
    return ldexp(1.0, (e < BF16_MIN_EXP ? BF16_MIN_EXP : e) - 8);
}

/* 1 when the number overflows the code's storage: bfloat16 or float32 */
static int overflows_code(const gradaudit_op *op, double v)
{
    return op->bfloat16 ? isfinite(v) && isinf(bf16_round(v)) : op->float32 && overflows_f32(v);
}

/* x (B n_in) and the tensors: finite, ids in range, float32 numbers when
 * asked; every message names the entry as the caller holds it */
static int check_numbers(ga_error *err, const op_check *c, const gradaudit_op *op)
{
    for (size_t i = 0; i < c->B * c->n_in; i++) {
        double v = op->x[i];
        size_t s = i / c->n_in, k = i % c->n_in;
        if (!isfinite(v))
            return ga_fail(err, GA_ENONFINITE, "%s: x[%zu][%zu] is %g (expected a finite number)",
                           c->who, s, k, v);
        if (c->emb && !(v >= 0 && v < (double)c->op.vocab && v == floor(v)))
            return ga_fail(err, GA_EINVAL, "%s: x[%zu][%zu] = %.17g is not a token id (expected an "
                           "integer 0 .. %zu for the embedding)", c->who, s, k, v, c->op.vocab - 1);
        if (overflows_code(op, v))
            return ga_fail(err, GA_EINVAL, "%s: x[%zu][%zu] = %.17g overflows %s", c->who, s, k, v,
                           op->bfloat16 ? "bfloat16" : "float32");
    }
    for (size_t t = 0; t < c->n_views; t++) {
        const gradaudit_tensor *T = &op->params[c->user_of[t]];
        for (size_t i = 0; i < T->n; i++) {
            if (!isfinite(T->data[i]))
                return ga_fail(err, GA_ENONFINITE, "%s: %s[%zu] is %g (expected a finite number)",
                               c->who, T->name, i, T->data[i]);
            if (overflows_code(op, T->data[i]))
                return ga_fail(err, GA_EINVAL, "%s: %s[%zu] = %.17g overflows %s", c->who,
                               T->name, i, T->data[i], op->bfloat16 ? "bfloat16" : "float32");
        }
    }
    return GA_OK;
}

/* The op's parameter tensors (a one-layer spec's names and stored shapes)
 * matched one to one with op->params. */
static int match_params(ga_error *err, op_check *c, const gradaudit_op *op, ga_layout layout)
{
    ga_net_desc one = {layout, c->n_in, 1, &c->op, {GA_LOSS_DOT, 1.0, GA_REDUCE_SUM, 0.0}};
    char have[64] = "";
    c->n_views = 0;
    for (size_t v = 0; !c->act_only && v < 2; v++) {
        char nm[32];
        size_t r, k;
        ga_view_shape(&r, &k, &one, v);
        if (!ga_view_name(nm, sizeof nm, &one, v) || r * k == 0)
            continue;
        size_t t = c->n_views++;
        snprintf(c->name[t], sizeof c->name[t], "%s", nm);
        c->rows[t] = r;
        c->cols[t] = k;
        c->view[t] = 2 * c->stage + v;
        size_t len = strlen(have);
        snprintf(have + len, sizeof have - len, "%s%s", t ? ", " : "", nm);
    }
    const char *kind = c->act_only ? "activation" : ga_layer_kind_name(c->op.kind);
    if (op->n_params && !op->params)
        return ga_fail(err, GA_EINVAL, "%s: n_params is %zu but params is NULL", c->who,
                       op->n_params);
    int seen[2] = {0, 0};
    for (size_t i = 0; i < op->n_params; i++) {
        const gradaudit_tensor *T = &op->params[i];
        if (!T->name || !T->data)
            return ga_fail(err, GA_EINVAL, "%s: params[%zu] has a NULL %s", c->who, i,
                           T->name ? "data" : "name");
        size_t t = 0;
        while (t < c->n_views && strcmp(T->name, c->name[t]))
            t++;
        if (t == c->n_views)
            return ga_fail(err, GA_EINVAL, "%s: params[%zu] is \"%.40s\", which this %s does not "
                           "have (its parameters: %s)", c->who, i, T->name, kind,
                           c->n_views ? have : "none");
        if (seen[t]++)
            return ga_fail(err, GA_EINVAL, "%s: %s is given twice (params[%zu] and an earlier "
                           "one)", c->who, T->name, i);
        if (T->n != c->rows[t] * c->cols[t])
            return ga_fail(err, GA_EINVAL, "%s: %s has %zu entries (expected %zu: its stored shape "
                           "is (%zu, %zu) in the %s layout)", c->who, T->name, T->n,
                           c->rows[t] * c->cols[t], c->rows[t], c->cols[t],
                           layout == GA_LAYOUT_ROW ? "row" : "column");
        c->user_of[t] = i;
    }
    for (size_t t = 0; t < c->n_views; t++)
        if (!seen[t])
            return ga_fail(err, GA_EINVAL, "%s: %s is missing (expected (%zu, %zu) numbers in the "
                           "%s layout; this %s has: %s)", c->who, c->name[t], c->rows[t],
                           c->cols[t], layout == GA_LAYOUT_ROW ? "row" : "column", kind, have);
    return GA_OK;
}

/* The net around the op (the file's comment), refused over the memory cap
 * before x or a tensor is read; its parameters filled from op, its input
 * (ids) and the drawn dy; rounded to float32 when asked. */
static int build(ga_error *err, op_check *c, const gradaudit_op *op, ga_layout layout)
{
    ga_layer_desc L[3];
    size_t nl = 0;
    memset(L, 0, sizeof L);
    if (!c->emb)
        L[nl++] = (ga_layer_desc){.n_out = c->n_in, .act = GA_ACT_IDENTITY,
                                  .kind = GA_LAYER_EMBEDDING, .vocab = c->B, .dim = c->n_in};
    c->stage = nl;
    if (c->act_only) /* W = 1 per entry (softmax: W = I over the row), b = 0 */
        L[nl++] = (ga_layer_desc){.n_out = c->n_in, .act = c->op.act, .act_param = c->op.act_param,
                                  .tokens = c->op.act == GA_ACT_SOFTMAX ? 0 : c->n_in};
    else
        L[nl++] = c->op;
    c->n_out = L[nl - 1].n_out;
    L[nl++] = (ga_layer_desc){.n_out = c->n_out, .act = GA_ACT_IDENTITY, .tokens = c->n_out};
    ga_net_desc d = {layout, c->emb ? c->n_in : 1, nl, L, {GA_LOSS_DOT, 1.0, GA_REDUCE_SUM, 0.0}};
    size_t P, need = 0, own = 0;
    ga_oracle_options oo;
    ga_oracle_options_default(&oo);
    oo.cross_count = 0;
    ga_error inner = {{0}}; /* the core's message, prefixed */
    int st = ga_net_desc_validate(&P, &inner, &d, GA_DEFAULT_MEMORY_CAP);
    if (st) { /* the core names the op "layers[1]" (its place in the net): "layer" here */
        char tag[32];
        int n = snprintf(tag, sizeof tag, "layers[%zu]", c->stage);
        const char *at = strstr(inner.msg, tag);
        if (at)
            return ga_fail(err, st, "%s: %.*slayer%s", c->who, (int)(at - inner.msg), inner.msg,
                           at + n);
        return ga_fail(err, st, "%s: %s", c->who, inner.msg);
    }
    if (ga_oracle_bytes(&need, &d, P, c->B, &oo, GA_ORACLE_LOSS | GA_ORACLE_GRADIENT) ||
        ga_check_bytes(&own, &d, P, c->B) || !ga_size_add(&need, need, own) ||
        need > GA_DEFAULT_MEMORY_CAP)
        return ga_fail(err, GA_ENOMEM, "%s: an op of %zu inputs, %zu outputs and %zu parameters "
                       "over a batch of %zu needs more than the memory cap of %zu bytes", c->who,
                       c->n_in, c->n_out, P, c->B, (size_t)GA_DEFAULT_MEMORY_CAP);
    /* the sizes are sane: x and the tensors may be read */
    if ((st = check_numbers(err, c, op)) || (st = ga_net_alloc(&c->net, err, &d)))
        return st;
    ga_net *net = c->net;
    size_t nxin = c->B * d.n_in;
    c->xin = malloc(nxin * sizeof *c->xin);
    c->dy = malloc(c->B * c->n_out * sizeof *c->dy);
    if (!c->xin || !c->dy)
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", c->who);
    if (c->emb) {
        memcpy(c->xin, op->x, nxin * sizeof *c->xin);
    } else {
        for (size_t s = 0; s < c->B; s++)
            c->xin[s] = (double)s;
        memcpy(net->params + net->views[0].offset, op->x, c->B * c->n_in * sizeof *op->x);
    }
    for (size_t t = 0; t < c->n_views; t++)
        memcpy(net->params + net->views[c->view[t]].offset, op->params[c->user_of[t]].data,
               op->params[c->user_of[t]].n * sizeof(double));
    if (c->act_only) {
        const ga_view *W = &net->views[2 * c->stage];
        for (size_t k = 0; k < W->rows; k++)
            net->params[W->offset + k * W->cols + k] = 1.0;
    }
    net->params[net->views[2 * (nl - 1)].offset] = 1.0; /* the last layer's W (1, 1) */
    ga_rng rng;
    ga_rng_seed(&rng, (uint32_t)(op->seed ^ (op->seed >> 32)));
    for (size_t i = 0; i < c->B * c->n_out; i++) /* float32 numbers: exact in either precision */
        c->dy[i] = (double)(float)ga_rng_gauss(&rng);
    if (op->bfloat16) { /* the stored numbers; the constants stay float32's (below) */
        for (size_t i = 0; i < net->n_params; i++)
            net->params[i] = bf16_round(net->params[i]);
        for (size_t i = 0; i < c->B * c->n_out; i++)
            c->dy[i] = bf16_round(c->dy[i]);
    }
    if ((op->float32 || op->bfloat16) &&
        (st = ga_round_problem(&inner, GA_PREC_FLOAT32, net, net->params, c->xin, c->dy, c->B)))
        return ga_fail(err, st, "%s: %s", c->who, inner.msg);
    return GA_OK;
}

/* "dW1[2,1]", "db1[3]", "dx[0,5]": entry i of a (rows, cols) tensor */
static void entry_name(char *buf, size_t size, const char *tensor, size_t i, size_t rows,
                       size_t cols)
{
    if (rows == 1 || cols == 1)
        snprintf(buf, size, "%s[%zu]", tensor, i);
    else
        snprintf(buf, size, "%s[%zu,%zu]", tensor, i / cols, i % cols);
}

static gradaudit_op_tensor *add_tensor(gradaudit_op_result *out, const char *name)
{
    gradaudit_op_tensor *t = &out->tensors[out->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

static void count(gradaudit_op_result *out, gradaudit_op_tensor *t, ga_verdict v)
{
    t->n++;
    out->n_entries++;
    switch (v) {
    case GA_VERDICT_PASS: t->n_pass++, out->n_pass++; break;
    case GA_VERDICT_KINK: t->n_kink++, out->n_kink++; break;
    case GA_VERDICT_UNJUDGEABLE: t->n_unjudgeable++, out->n_unjudgeable++; break;
    case GA_VERDICT_FAIL: t->n_fail++, out->n_fail++; break;
    }
}

/* The verdicts of view `view` (rows, cols) of the report, as tensor `tensor` */
static void tally(gradaudit_op_result *out, const ga_check_report *r, const ga_net *net,
                  size_t view, const char *tensor, size_t rows, size_t cols, uint64_t seed)
{
    const ga_view *v = &net->views[view];
    gradaudit_op_tensor *t = add_tensor(out, tensor);
    for (size_t i = 0; i < rows * cols; i++) {
        const ga_check_entry *e = &r->entries[v->offset + i];
        count(out, t, e->verdict);
        out->n_nonfinite += !isfinite(e->analytic) && isfinite(e->oracle);
        if (e->verdict != GA_VERDICT_FAIL || out->first_fail[0])
            continue;
        char name[64];
        entry_name(name, sizeof name, tensor, i, rows, cols);
        snprintf(out->first_fail, sizeof out->first_fail, "%s: analytic %.17g, exact %.17g (dy "
                 "from seed %llu): %s%s", name, e->analytic, e->oracle, (unsigned long long)seed,
                 e->reason, isnan(e->analytic) ? "; the buffer held NaN before the call: an entry "
                                                 "added into (+=) or left unwritten stays NaN"
                                               : "");
    }
}

/* The caller's forward output y (B, n_out) against the proven enclosure of
 * the op's output: the exact value and every computation of it in the
 * precision lie inside. */
static int judge_forward(gradaudit_op_result *out, ga_error *err, const op_check *c,
                         const gradaudit_op *op)
{
    ga_enclosure *enc = NULL;
    ga_precision prec = op->float32 || op->bfloat16 ? GA_PREC_FLOAT32 : GA_PREC_FLOAT64;
    int st = ga_enclosure_alloc(&enc, err, c->net, c->B);
    if (!st)
        st = ga_enclosure_compute(enc, err, c->net, prec, op->fast_math != 0, c->net->params,
                                  c->xin, c->dy, c->B);
    if (st) {
        ga_enclosure_free(enc);
        return st;
    }
    gradaudit_op_tensor *t = add_tensor(out, "y");
    const double *lo = enc->a_lo[c->stage], *hi = enc->a_hi[c->stage];
    for (size_t i = 0; i < c->B * c->n_out; i++) {
        double y = op->y[i], h = op->bfloat16 && bf16_round(y) == y ? bf16_half_ulp(y) : 0;
        int in = y + h >= lo[i] && y - h <= hi[i]; /* [y - h, y + h] meets [lo, hi] */
        count(out, t, in ? GA_VERDICT_PASS : GA_VERDICT_FAIL);
        if (in || out->first_fail[0])
            continue;
        char name[64];
        entry_name(name, sizeof name, "y", i, c->B, c->n_out);
        snprintf(out->first_fail, sizeof out->first_fail, "%s: forward output %.17g lies outside "
                 "[%.17g, %.17g], the proven enclosure of the exact output and of every %s "
                 "computation of it%s", name, y, lo[i], hi[i], ga_precision_name(prec),
                 h > 0 ? ", nor does any float32 number that rounds to it in bfloat16" : "");
    }
    ga_enclosure_free(enc);
    return GA_OK;
}

/* a and b: the entries whose bits differ, counted into out, the first named */
static void rerun_tensor(gradaudit_op_result *out, const double *a, const double *b, size_t n,
                         const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!memcmp(&a[i], &b[i], sizeof a[i]))
            continue;
        if (!out->n_rerun_differ++)
            snprintf(out->rerun_first, sizeof out->rerun_first, "%s[%zu]: %a then %a", name, i,
                     a[i], b[i]);
    }
}

/* the two calls' dx (ndx entries) and parameter gradients, bit for bit */
static void rerun_compare(gradaudit_op_result *out, const double *dx, const double *dx2,
                          size_t ndx, double *const *dp, double *const *dp2,
                          const gradaudit_op *op)
{
    rerun_tensor(out, dx, dx2, ndx, "dx");
    for (size_t u = 0; u < op->n_params; u++) {
        char dn[40];
        snprintf(dn, sizeof dn, "d%.30s", op->params[u].name);
        if (dp[u])
            rerun_tensor(out, dp[u], dp2[u], op->params[u].n, dn);
    }
}

/* bfloat16 storage: a gradient entry b that is a bfloat16 number was some
 * float32 value v rounded, |v - b| <= h(b), and is right when such a v lies in
 * the enclosure E, which holds the exact value x. For a FAIL entry the point
 * of [b - h, b + h] nearest the reference (x rounded) is judged instead: if
 * some v of the interval lies in E, so does every point between v and x, this
 * one among them. The whole check runs again on those points (the oracle's
 * cost again, on a FAIL only); the report then shows the user's b. */
static int bf16_rejudge(ga_check_report **r, ga_error *err, const ga_net *net, const op_check *c,
                        double *g, const ga_check_options *opt)
{
    size_t moved = 0;
    for (size_t i = 0; i < net->n_params; i++) {
        const ga_check_entry *e = &(*r)->entries[i];
        double b = g[i];
        if (e->verdict != GA_VERDICT_FAIL || !isfinite(b) || bf16_round(b) != b ||
            !isfinite(e->ref))
            continue;
        double h = bf16_half_ulp(b);
        g[i] = e->ref < b - h ? b - h : e->ref > b + h ? b + h : e->ref;
        moved++;
    }
    if (!moved)
        return GA_OK;
    ga_check_report *again = NULL;
    int st = ga_check_run(&again, err, c->net, c->net->params, c->xin, c->dy, c->B, opt);
    if (st)
        return st;
    for (size_t i = 0; i < net->n_params; i++) /* the user's numbers, as the backward gave them */
        again->entries[i].analytic = (*r)->entries[i].analytic;
    ga_check_report_free(*r);
    *r = again;
    return GA_OK;
}

/* The check, with messages starting `who` */
static int check_op(gradaudit_op_result *out, ga_error *err, const char *who,
                    const gradaudit_op *op, gradaudit_op_backward_fn backward, void *user)
{
    if (!out || !op || !backward || !op->layer || !op->x)
        return ga_fail(err, GA_EINVAL, "%s: a required argument is NULL (out, op, backward, "
                       "op->layer, op->x)", who);
    memset(out, 0, sizeof *out);
    op_check c = {.who = who, .n_in = op->n_in, .B = op->batch};
    ga_layout layout = GA_LAYOUT_COLUMN;
    if (op->layout && !strcmp(op->layout, "row"))
        layout = GA_LAYOUT_ROW;
    else if (op->layout && strcmp(op->layout, "column"))
        return ga_fail(err, GA_EINVAL, "%s: layout \"%.40s\" (expected \"column\" or \"row\")",
                       who, op->layout);
    if (!c.n_in || !c.B || c.n_in > GA_MAX_WIDTH || c.B > GA_MAX_WIDTH)
        return ga_fail(err, GA_EINVAL, "%s: input width %zu, batch %zu: each from 1 to %zu", who,
                       c.n_in, c.B, (size_t)GA_MAX_WIDTH);
    int st = ga_spec_parse_layer(&c.op, &c.act_only, err, op->layer, who, c.n_in);
    if (st)
        return st == GA_ESPEC ? GA_EINVAL : st;
    c.emb = !c.act_only && c.op.kind == GA_LAYER_EMBEDDING;
    c.stage = c.emb ? 0 : 1;
    if ((st = match_params(err, &c, op, layout)) || (st = build(err, &c, op, layout))) {
        op_check_free(&c);
        return st;
    }
    ga_net *net = c.net;
    size_t P = net->n_params, ndx = c.emb ? 0 : c.B * c.n_in, ng = ndx;
    for (size_t t = 0; t < c.n_views; t++)
        ng += c.rows[t] * c.cols[t];
    /* one slab: the user's gradients (dx, then each parameter's in op's
     * order), the analytic slab (P); the tensors as the callback sees them */
    double *buf = malloc((2 * ng + P) * sizeof *buf);
    double **dparams = calloc(2 * (op->n_params + 1), sizeof *dparams);
    gradaudit_tensor *seen_p = calloc(op->n_params + 1, sizeof *seen_p);
    ga_check_report *r = NULL;
    if (!buf || !dparams || !seen_p) {
        st = ga_fail(err, GA_ENOMEM, "%s: out of memory", who);
        goto done;
    }
    double *g = buf + ng, *again = g + P, **dagain = dparams + op->n_params + 1;
    for (size_t i = 0; i < ng; i++)
        buf[i] = again[i] = NAN; /* an accumulating or partial backward shows as NaN */
    gradaudit_op seen = *op;
    seen.x = c.emb ? c.xin : net->params + net->views[0].offset;
    seen.params = seen_p;
    for (size_t i = 0; i < op->n_params; i++)
        seen_p[i] = op->params[i];
    for (size_t t = 0, off = ndx; t < c.n_views; t++) {
        size_t u = c.user_of[t];
        seen_p[u].data = net->params + net->views[c.view[t]].offset;
        dparams[u] = buf + off;
        dagain[u] = again + off;
        off += c.rows[t] * c.cols[t];
    }
    if (backward(c.emb ? NULL : buf, dparams, c.dy, &seen, c.n_out, user) ||
        backward(c.emb ? NULL : again, dagain, c.dy, &seen, c.n_out, user)) {
        st = ga_fail(err, GA_ECALLBACK, "%s: the backward callback returned non-zero", who);
        goto done;
    }
    rerun_compare(out, buf, again, ndx, dparams, dagain, op);
    memset(g, 0, P * sizeof *g); /* entries not judged: the helper layers' */
    if (!c.emb)
        memcpy(g + net->views[0].offset, buf, ndx * sizeof *g);
    for (size_t t = 0; t < c.n_views; t++)
        memcpy(g + net->views[c.view[t]].offset, dparams[c.user_of[t]],
               c.rows[t] * c.cols[t] * sizeof *g);
    ga_check_options opt;
    ga_check_options_default(&opt);
    opt.seed = op->seed;
    opt.cross_check = 0; /* the verdicts; the oracle's routes are tested elsewhere */
    opt.analytic = g;
    opt.analytic_own_forward = 1;
    opt.precision = op->float32 || op->bfloat16 ? GA_PREC_FLOAT32 : GA_PREC_FLOAT64;
    opt.fast_math = op->fast_math != 0;
    if ((st = ga_check_run(&r, err, net, net->params, c.xin, c.dy, c.B, &opt)))
        goto done;
    if (op->bfloat16 && (st = bf16_rejudge(&r, err, net, &c, g, &opt)))
        goto done;
    out->n_out = c.n_out;
    if (!c.emb)
        tally(out, r, net, 0, "dx", c.B, c.n_in, op->seed);
    for (size_t t = 0; t < c.n_views; t++) { /* in the caller's order */
        size_t k = 0;
        for (size_t u = 0; u < c.n_views; u++)
            k = c.user_of[u] == t ? u : k;
        char dn[40];
        snprintf(dn, sizeof dn, "d%s", c.name[k]);
        tally(out, r, net, c.view[k], dn, c.rows[k], c.cols[k], op->seed);
    }
    if (op->y)
        st = judge_forward(out, err, &c, op);
done:
    ga_check_report_free(r);
    free(seen_p);
    free(dparams);
    free(buf);
    op_check_free(&c);
    return st;
}

int gradaudit_check_op(gradaudit_op_result *out, gradaudit_error *uerr, const gradaudit_op *op,
                       gradaudit_op_backward_fn backward, void *user)
{
    ga_error err = {{0}};
    return ga_lib_pass_error(uerr, &err, check_op(out, &err, "check_op", op, backward, user));
}

const gradaudit_op_tensor *gradaudit_op_result_tensor(const gradaudit_op_result *r,
                                                      const char *name)
{
    for (size_t i = 0; r && name && i < r->n_tensors && i < GRADAUDIT_OP_MAX_TENSORS; i++)
        if (!strcmp(r->tensors[i].name, name))
            return &r->tensors[i];
    return NULL;
}

int gradaudit_op_n_out(size_t *n_out, gradaudit_error *uerr, const char *layer, size_t n_in)
{
    ga_error err = {{0}};
    ga_layer_desc d;
    int act_only;
    if (!n_out)
        return ga_lib_pass_error(uerr, &err, ga_fail(&err, GA_EINVAL, "op_n_out: n_out is NULL"));
    int st = ga_spec_parse_layer(&d, &act_only, &err, layer, "op_n_out", n_in);
    if (st)
        return ga_lib_pass_error(uerr, &err, st == GA_ESPEC ? GA_EINVAL : st);
    *n_out = d.n_out;
    return GRADAUDIT_OK;
}

int gradaudit_op_dropout_keep(uint32_t seed, size_t n, size_t k, double p)
{
    return ga_dropout_keep(seed, OP_STAGE, n, k, p);
}

/* ---- one dense layer ------------------------------------------------------ */

typedef struct {
    const gradaudit_dense_layer *layer;
    gradaudit_dense_backward_fn backward;
    void *user;
} dense_call;

/* the op's callback in check_dense's terms: W1 and b1 are params 0 and 1 */
static int dense_backward(double *dx, double *const *dparams, const double *dy,
                          const gradaudit_op *op, size_t n_out, void *ctx)
{
    const dense_call *dc = ctx;
    (void)n_out;
    gradaudit_dense_layer seen = *dc->layer;
    seen.W = op->params[0].data;
    seen.b = op->params[1].data;
    seen.x = op->x;
    return dc->backward(dx, dparams[0], dparams[1], dy, &seen, dc->user);
}

int gradaudit_check_dense(gradaudit_layer_result *out, gradaudit_error *uerr,
                          const gradaudit_dense_layer *layer, gradaudit_dense_backward_fn backward,
                          void *user)
{
    ga_error err = {{0}};
    if (!out || !layer || !backward || !layer->activation || !layer->W || !layer->b || !layer->x)
        return ga_lib_pass_error(uerr, &err, ga_fail(&err, GA_EINVAL, "check_dense: a required "
                                                     "argument is NULL"));
    memset(out, 0, sizeof *out);
    ga_activation act;
    if (ga_activation_from_name(&act, layer->activation) != GA_OK || act == GA_ACT_SOFTMAX)
        return ga_lib_pass_error(uerr, &err, ga_fail(&err, GA_EINVAL, "check_dense: \"%.40s\" is "
                                                     "not an elementwise activation of gradaudit's",
                                                     layer->activation));
    if (!layer->n_out || layer->n_out > GA_MAX_WIDTH)
        return ga_lib_pass_error(uerr, &err, ga_fail(&err, GA_EINVAL, "check_dense: n_out %zu: "
                                                     "from 1 to %zu", layer->n_out,
                                                     (size_t)GA_MAX_WIDTH));
    char json[160];
    const char *key = act == GA_ACT_LEAKY_RELU ? "slope" : act == GA_ACT_ELU ? "alpha" : NULL;
    if (key && layer->act_param != 0)
        snprintf(json, sizeof json, "{\"size\": %zu, \"activation\": \"%s\", \"%s\": %.17g}",
                 layer->n_out, ga_activation_name(act), key, layer->act_param);
    else
        snprintf(json, sizeof json, "{\"size\": %zu, \"activation\": \"%s\"}", layer->n_out,
                 ga_activation_name(act));
    gradaudit_tensor p[2] = {{"W1", layer->W, layer->n_out * layer->n_in},
                             {"b1", layer->b, layer->n_out}};
    gradaudit_op op = {json, "column", layer->n_in, layer->batch, layer->x, p, 2, NULL,
                       layer->float32, layer->seed};
    dense_call dc = {layer, backward, user};
    gradaudit_op_result r;
    int st = check_op(&r, &err, "check_dense", &op, dense_backward, &dc);
    if (st)
        return ga_lib_pass_error(uerr, &err, st);
    out->n_entries = r.n_entries;
    out->n_pass = r.n_pass;
    out->n_fail = r.n_fail;
    out->n_kink = r.n_kink;
    out->n_unjudgeable = r.n_unjudgeable;
    out->fail_dx = gradaudit_op_result_tensor(&r, "dx")->n_fail;
    out->fail_dW = gradaudit_op_result_tensor(&r, "dW1")->n_fail;
    out->fail_db = gradaudit_op_result_tensor(&r, "db1")->n_fail;
    memcpy(out->first_fail, r.first_fail, sizeof out->first_fail - 1);
    out->first_fail[sizeof out->first_fail - 1] = 0;
    return GRADAUDIT_OK;
}
