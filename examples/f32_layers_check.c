/* f32_layers_check: every layer of f32_layers.c checked through
 * gradaudit_check_op in float32 (f32_layers_op.h), on a few shapes each:
 * the correct op passes every entry of dx, of each parameter's gradient and
 * of its forward output; each wrong variant (enum f32_bug) FAILs, and only in
 * the tensors its mistake breaks.
 *
 *   f32_layers_check [--op=matmul|layernorm|gelu|attention|softmax_ce]
 *       the op (every op by default), correct and with each of its bugs:
 *       one TAP line per shape and variant; exit 0 when every correct op
 *       passed and every bug FAILed where expected, 1 otherwise
 *   f32_layers_check --bug=NAME     (NAME: none or a bug below, with --op for none)
 *       that variant alone on its op's shapes, the verdicts per tensor and
 *       the first FAIL; exit 0 when every entry passed, 1 when one FAILed
 *
 * Exit 2: usage; 3: a check could not run (--bug mode). The inputs are
 * fixed (fill below), dy is drawn by gradaudit from the seed printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f32_layers_op.h"

enum op_kind { MATMUL, LAYERNORM, GELU, ATTENTION, SOFTMAX_CE, N_OPS };
static const char *const op_names[N_OPS] = {"matmul", "layernorm", "gelu", "attention",
                                            "softmax_ce"};

/* each bug, its op and the tensors it may FAIL in (the first one must) */
static const struct {
    int bug;
    enum op_kind op;
    const char *name, *what, *broken[2];
} bugs[] = {
    {F32_MATMUL_DW_TRANSPOSED, MATMUL, "dw-transposed", "dW written transposed", {"dW1", NULL}},
    {F32_MATMUL_DB_ONE_SAMPLE, MATMUL, "db-one-sample", "db from the first sample only",
     {"db1", NULL}},
    {F32_LN_NO_MEAN, LAYERNORM, "ln-no-mean", "dx without mean(dxhat)", {"dx", NULL}},
    {F32_GELU_TYPO, GELU, "gelu-typo", "0.044715 typed 0.04475", {"dx", NULL}},
    {F32_GELU_NO_SECH2, GELU, "gelu-no-sech2", "derivative without sech^2", {"dx", NULL}},
    {F32_ATTN_NO_SCALE, ATTENTION, "attn-no-scale", "backward without 1/sqrt(hs)", {"dx", NULL}},
    {F32_ATTN_NO_MASK, ATTENTION, "attn-no-mask", "causal mask forgotten", {"dx", "y"}},
    {F32_CE_NO_MEAN, SOFTMAX_CE, "ce-no-mean", "p - y, dloss (1/(B T)) ignored", {"dx", NULL}},
    {F32_CE_SIGN, SOFTMAX_CE, "ce-sign", "y - p: the sign flipped", {"dx", NULL}},
};
#define N_BUGS (sizeof bugs / sizeof bugs[0])

/* the shapes each op is checked on: B, T, C, OC, NH, V */
#define N_SHAPES 3
static const f32_op_case shapes[N_OPS][N_SHAPES] = {
    [MATMUL] = {{2, 3, 4, 5}, {3, 2, 6, 6}, {2, 4, 8, 3}},
    [LAYERNORM] = {{2, 3, 8}, {3, 2, 5}, {2, 4, 16}},
    [GELU] = {{2, 3, 8}, {3, 1, 20}, {2, 5, 6}},
    /* head sizes 3, 6 and 8; 1.0f / sqrtf(6) is not the float nearest 1/sqrt(6) */
    [ATTENTION] = {{2, 4, 6, 0, 2}, {2, 5, 12, 0, 2}, {2, 3, 8, 0, 1}},
    [SOFTMAX_CE] = {{2, 3, 0, 0, 0, 5}, {2, 4, 0, 0, 0, 10}, {3, 2, 0, 0, 0, 2}},
};

/* n numbers spread over [-scale, scale] around `at`, no two alike, deterministic */
static void fill(float *a, size_t n, double at, double scale, double phase)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(at + scale * sin(1.618 * (double)i + phase) *
                                (0.8 + 0.2 * cos(0.41 * (double)i)));
}

/* The check of op k on case c, its inputs filled here; *r the verdicts */
static int check(gradaudit_op_result *r, gradaudit_error *err, enum op_kind k,
                 const f32_op_case *c)
{
    size_t BT = (size_t)c->B * c->T, n;
    switch (k) {
    case MATMUL: n = BT * c->C + (size_t)c->OC * c->C + c->OC; break;
    case LAYERNORM: n = BT * c->C + 2 * (size_t)c->C; break;
    case GELU: n = BT * c->C; break;
    case ATTENTION: n = 3 * BT * c->C; break;
    default: n = BT * c->V; break;
    }
    float *a = malloc(n * sizeof *a);
    if (!a) {
        snprintf(err->msg, sizeof err->msg, "f32_layers_check: out of memory");
        return GRADAUDIT_ENOMEM;
    }
    const f32_layers_ops *L = &f32_layers_o2;
    int st;
    switch (k) {
    case MATMUL: {
        float *w = a + BT * c->C, *b = w + (size_t)c->OC * c->C;
        fill(a, BT * c->C, 0.0, 1.5, 0.3);
        fill(w, (size_t)c->OC * c->C, 0.0, 0.5, 1.1);
        fill(b, c->OC, 0.0, 0.1, 2.0);
        st = f32_check_matmul(r, err, L, c, a, w, b);
        break;
    }
    case LAYERNORM: {
        float *w = a + BT * c->C, *b = w + c->C;
        fill(a, BT * c->C, 0.5, 2.0, 0.7);
        fill(w, c->C, 1.0, 0.5, 0.0);
        fill(b, c->C, 0.0, 0.1, 1.0);
        st = f32_check_layernorm(r, err, L, c, a, w, b);
        break;
    }
    case GELU: /* through both tails: tanh saturates beyond |x| of about 4 */
        fill(a, n, 0.0, 6.0, 0.2);
        st = f32_check_gelu(r, err, L, c, a);
        break;
    case ATTENTION:
        fill(a, n, 0.0, 1.5, 0.9);
        st = f32_check_attention(r, err, L, c, a);
        break;
    default:
        fill(a, n, 0.0, 3.0, 0.4);
        st = f32_check_softmax_ce(r, err, L, c, a);
        break;
    }
    free(a);
    return st;
}

/* "B=2 T=3 C=4 OC=5" */
static void shape_text(char *buf, size_t size, enum op_kind k, const f32_op_case *c)
{
    if (k == MATMUL)
        snprintf(buf, size, "B=%d T=%d C=%d OC=%d", c->B, c->T, c->C, c->OC);
    else if (k == ATTENTION)
        snprintf(buf, size, "B=%d T=%d C=%d NH=%d", c->B, c->T, c->C, c->NH);
    else if (k == SOFTMAX_CE)
        snprintf(buf, size, "B=%d T=%d V=%d", c->B, c->T, c->V);
    else
        snprintf(buf, size, "B=%d T=%d C=%d", c->B, c->T, c->C);
}

/* "dx 0/24, dW1 3/20, db1 0/5, y 0/30" (FAIL / entries per tensor) */
static void tensors_text(char *buf, size_t size, const gradaudit_op_result *r)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t t = 0; t < r->n_tensors && len < size; t++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s %zu/%zu", t ? ", " : "",
                                r->tensors[t].name, r->tensors[t].n_fail, r->tensors[t].n);
}

/* 1 when tensor `name` is one of the bug's broken ones */
static int is_broken(const char *const broken[2], const char *name)
{
    return (broken[0] && !strcmp(broken[0], name)) || (broken[1] && !strcmp(broken[1], name));
}

/* Variant b (a bug's index, or -1: the correct op) on shape s of op k,
 * checked with its forward output; *c the case, shape its text */
static int check_variant(gradaudit_op_result *r, gradaudit_error *err, f32_op_case *c,
                         char shape[64], enum op_kind k, int b, size_t s)
{
    *c = shapes[k][s];
    c->bug = b < 0 ? F32_OK : bugs[b].bug;
    c->seed = 1500 + 10 * (uint64_t)k + s;
    c->forward = 1;
    shape_text(shape, 64, k, c);
    return check(r, err, k, c);
}

/* One TAP line: variant b on shape s of op k, and whether it did as expected */
static int tap_case(int *line, enum op_kind k, int b, size_t s)
{
    f32_op_case c;
    gradaudit_op_result r;
    gradaudit_error err = {{0}};
    char shape[64], tensors[256];
    const char *what = b < 0 ? "correct" : bugs[b].what;
    ++*line;
    int st = check_variant(&r, &err, &c, shape, k, b, s);
    if (st) {
        printf("not ok %d - %s %s, %s: the check did not run: %s\n", *line, op_names[k], what,
               shape, err.msg);
        return 0;
    }
    tensors_text(tensors, sizeof tensors, &r);
    int ok;
    if (b < 0) {
        ok = r.n_fail == 0;
    } else { /* FAILs in a quarter of the first broken tensor or more, none elsewhere */
        const gradaudit_op_tensor *first = gradaudit_op_result_tensor(&r, bugs[b].broken[0]);
        size_t outside = 0;
        for (size_t t = 0; t < r.n_tensors; t++)
            outside += is_broken(bugs[b].broken, r.tensors[t].name) ? 0 : r.tensors[t].n_fail;
        size_t len = strlen(bugs[b].broken[0]);
        ok = first && first->n_fail > 0 && first->n_fail * 4 >= first->n && outside == 0 &&
             !strncmp(r.first_fail, bugs[b].broken[0], len) && r.first_fail[len] == '[';
    }
    printf("%s %d - %s %s, %s: FAIL/entries %s; %zu unjudgeable (seed %llu)\n",
           ok ? "ok" : "not ok", *line, op_names[k], what, shape, tensors, r.n_unjudgeable,
           (unsigned long long)c.seed);
    if (r.n_fail)
        printf("# first FAIL: %s\n", r.first_fail);
    return ok;
}

/* --bug mode: one variant on its op's shapes, printed */
static int show(enum op_kind k, int b)
{
    int any_fail = 0;
    for (size_t s = 0; s < N_SHAPES; s++) {
        f32_op_case c;
        gradaudit_op_result r;
        gradaudit_error err = {{0}};
        char shape[64], tensors[256];
        int st = check_variant(&r, &err, &c, shape, k, b, s);
        if (st) {
            fprintf(stderr, "f32_layers_check: %s (%s)\n", err.msg, gradaudit_strerror(st));
            return 3;
        }
        tensors_text(tensors, sizeof tensors, &r);
        printf("%s %s, %s: %zu of %zu entries FAIL (per tensor, FAIL/entries: %s), %zu "
               "unjudgeable (seed %llu)\n", op_names[k], b < 0 ? "correct" : bugs[b].what, shape,
               r.n_fail, r.n_entries, tensors, r.n_unjudgeable, (unsigned long long)c.seed);
        if (r.n_fail)
            printf("  first FAIL: %s\n", r.first_fail);
        any_fail |= r.n_fail > 0;
    }
    return any_fail;
}

static int usage(const char *problem, const char *arg)
{
    fprintf(stderr, "f32_layers_check: %s '%s'\nusage: f32_layers_check "
                    "[--op=matmul|layernorm|gelu|attention|softmax_ce] [--bug=none|NAME]; NAME one "
                    "of:", problem, arg);
    for (size_t b = 0; b < N_BUGS; b++)
        fprintf(stderr, " %s", bugs[b].name);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv)
{
    int op = -1, bug = -2; /* -1: every op; bug -2: the TAP run, -1: none */
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        if (!strncmp(s, "--op=", 5)) {
            for (int k = 0; k < N_OPS; k++)
                op = !strcmp(s + 5, op_names[k]) ? k : op;
            if (op < 0)
                return usage("unknown argument", s);
        } else if (!strcmp(s, "--bug=none")) {
            bug = -1;
        } else if (!strncmp(s, "--bug=", 6)) {
            for (size_t b = 0; b < N_BUGS; b++)
                bug = !strcmp(s + 6, bugs[b].name) ? (int)b : bug;
            if (bug < 0)
                return usage("unknown argument", s);
        } else {
            return usage("unknown argument", s);
        }
    }
    if (bug >= 0 && op >= 0 && (int)bugs[bug].op != op)
        return usage("not a bug of that --op:", bugs[bug].name);
    if (bug == -1 && op < 0)
        return usage("--op=NAME is needed with", "--bug=none");
    if (bug > -2)
        return show(bug >= 0 ? bugs[bug].op : (enum op_kind)op, bug);
    int line = 0, ok = 1;
    for (int k = 0; k < N_OPS; k++) {
        if (op >= 0 && k != op)
            continue;
        for (size_t s = 0; s < N_SHAPES; s++)
            ok &= tap_case(&line, (enum op_kind)k, -1, s);
        for (size_t b = 0; b < N_BUGS; b++)
            for (size_t s = 0; bugs[b].op == (enum op_kind)k && s < N_SHAPES; s++)
                ok &= tap_case(&line, (enum op_kind)k, (int)b, s);
    }
    printf("1..%d\n", line);
    return ok ? 0 : 1;
}
