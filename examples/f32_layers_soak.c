/* f32_layers_soak: the false-alarm soak of f32_layers (issue 15). Random
 * instances of the five ops, correct code, each judged by gradaudit_check_op
 * in float32 (every entry of dx, the parameter gradients and the forward
 * output) in each build of the library (f32_layers.h: -O2 as the project
 * compiles, -Ofast -march=native -ffp-contract=fast as llm.c builds itself
 * and run with flush-to-zero as llm.c runs, OpenMP on 2 threads).
 * gradaudit_check_op's tolerance is the whole enclosure, valid in any
 * summation order with or without FMA; the -Ofast build is judged by its
 * fast-math model (gradaudit_op.fast_math), so no build may draw a FAIL.
 *
 *   f32_layers_soak [--instances=N] [--seed=S] [--threads=N]
 *
 * Instance i (seed S + i) is op i mod 5 with a random small shape and
 * numbers drawn hard on purpose, per tensor: large scales (2^8 .. 2^50),
 * tiny ones (2^-20 .. 2^-140: products below float's smallest normal, and
 * from 2^-126 the numbers themselves), half the entries exactly 0, three
 * values repeated (ties), scales mixed entry by entry; GELU inputs in both
 * saturated tails, layernorm rows nearly constant, attention scores large
 * enough to make the weights one-hot, identical keys, logits hundreds
 * apart, sums that cancel exactly. Every build checks the same
 * instance. TAP: one line per build (0 FAIL, and every check ran), one
 * saying the -Ofast build computed other bits than -O2 on some instances
 * (else the flags changed nothing and the line proves nothing), one that
 * the OpenMP build ran its loops on the threads asked; counts per op as
 * comments. Exit 0 when every line is ok.
 *
 * The -Ofast build is judged a second time by the IEEE model, counted and
 * not asserted: what the fast-math model is for. Its layernorm draws FAILs
 * there (10,000 instances, seed 20261215, before flush-to-zero: 81 entries
 * in 14 of the 2,000 layernorms, none elsewhere; none with -O3
 * -march=native -ffp-contract=fast -fno-math-errno, vectorised and
 * contracted alone), each from a step outside the IEEE model:
 *  - -funsafe-math-optimizations turns the mean's m / C, a division by a
 *    loop invariant, into m * (1/C), two roundings (even with
 *    -fno-reciprocal-math); in a nearly constant row x - m cancels and the
 *    extra half ulp of m becomes most of x - m's digits (a row of three
 *    numbers near -69.533: xhat 0.0038 where the exact is 0.0025 and every
 *    IEEE evaluation of the written formula lies in [0.0015, 0.0036]);
 *  - -fassociative-math regroups the product (x - m) s w as (x - m) (s w),
 *    and s w underflows where ((x - m) s) w does not (x near 1e7, s near
 *    1e-7, w near 1e-37: y off by 0.8% where the written order is off by
 *    1e-7);
 * and with flush-to-zero every op does (a result below FLT_MIN is 0, a
 * subnormal input read as 0). The fast-math model holds all three.
 *
 * Built with -Dcore_fast_math=true (F32_SOAK_CORE_FAST_MATH), every build
 * is -Ofast (the first run with flush-to-zero, the OpenMP one without) and
 * every run but that second one is judged by the fast-math model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "f32_layers_op.h"

enum { MATMUL, LAYERNORM, GELU, ATTENTION, SOFTMAX_CE, N_OPS };
static const char *const op_names[N_OPS] = {"matmul", "layernorm", "gelu", "attention",
                                            "softmax_ce"};

/* A build of f32_layers and the model it is judged by. */
typedef struct {
    const f32_layers_ops *L;
    int fast_math;  /* gradaudit_op.fast_math */
    int asserted;   /* 0: the -Ofast build judged by the IEEE model, counted alone */
} run;

#ifndef F32_SOAK_CORE_FAST_MATH
#define F32_SOAK_CORE_FAST_MATH 0
#endif
#define N_BUILDS 4
static const run builds[N_BUILDS] = {{&f32_layers_o2, F32_SOAK_CORE_FAST_MATH, 1},
                                     {&f32_layers_ofast, 1, 1},
                                     {&f32_layers_ofast, 0, 0},
                                     {&f32_layers_omp, F32_SOAK_CORE_FAST_MATH, 1}};

/* ---- random numbers: splitmix64 ------------------------------------------ */

typedef struct {
    uint64_t s;
} rng;

static uint64_t next(rng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform(rng *g) /* [0, 1) */
{
    return (double)(next(g) >> 11) * 0x1p-53;
}

static int below(rng *g, int n) /* 0 .. n - 1 */
{
    return (int)(uniform(g) * n);
}

static double gauss(rng *g) /* Box-Muller */
{
    double u = uniform(g), v = uniform(g);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* ---- hard numbers --------------------------------------------------------- */

enum regime { NORMAL, LARGE, TINY, ZEROS, REPEATED, MIXED, N_GENERAL,
              SPECIAL = N_GENERAL, N_REGIMES };
static const char *const regime_names[N_REGIMES] = {"normal", "large", "tiny", "zeros",
                                                    "repeated", "mixed", "op-special"};

/* n floats of regime r; `cap`, the largest binary exponent of a large scale,
 * keeps the op's sums and products finite in float */
static void draw(float *a, size_t n, rng *g, enum regime r, int cap)
{
    int e = r == LARGE ? 8 + below(g, cap - 7) : r == TINY ? -20 - below(g, 121) : 0;
    double rep[3] = {gauss(g), gauss(g), ldexp(gauss(g), below(g, 9) - 4)};
    for (size_t i = 0; i < n; i++) {
        double v = gauss(g);
        switch (r) {
        case LARGE:
        case TINY: v = ldexp(v, e); break;
        case ZEROS: v = uniform(g) < 0.5 ? 0.0 : v; break;
        case REPEATED: v = rep[below(g, 3)]; break;
        case MIXED: v = ldexp(v, below(g, 41) - 20); break;
        default: break;
        }
        a[i] = (float)v;
    }
}

/* ---- one instance --------------------------------------------------------- */

typedef struct {
    int op;
    enum regime regime;  /* of the op's input */
    f32_op_case c;
    float *a;            /* every input of the op, one buffer */
    size_t n;
} instance;

/* a regime for the op's input: the op's special one a third of the time */
static enum regime pick(rng *g)
{
    return below(g, 3) == 0 ? SPECIAL : (enum regime)below(g, N_GENERAL);
}

/* op-special inputs (the file's comment); the rest by draw */
static void special(instance *s, rng *g)
{
    const f32_op_case *c = &s->c;
    size_t BT = (size_t)c->B * c->T;
    switch (s->op) {
    case MATMUL: /* x and -x in every other token: sums over the batch cancel exactly */
        draw(s->a, BT * c->C, g, NORMAL, 0);
        for (size_t r = 1; r < BT; r += 2)
            for (int i = 0; i < c->C; i++)
                s->a[r * c->C + i] = -s->a[(r - 1) * c->C + i];
        break;
    case LAYERNORM: /* each row an offset plus noise 2^-10 .. 2^-30 of it */
        for (size_t r = 0; r < BT; r++) {
            double at = ldexp(gauss(g), below(g, 13)), noise = ldexp(at, -10 - below(g, 21));
            for (int i = 0; i < c->C; i++)
                s->a[r * c->C + i] = (float)(at + noise * gauss(g));
        }
        break;
    case GELU: /* both tails, a few near 0 */
        for (size_t i = 0; i < BT * c->C; i++) {
            double m = below(g, 4) == 0 ? ldexp(1.0, below(g, 36) + 4) : 3.0 + 27.0 * uniform(g);
            s->a[i] = (float)((below(g, 2) ? m : -m) * (below(g, 8) == 0 ? 1e-4 : 1.0));
        }
        break;
    case ATTENTION: /* scores large (one-hot weights), or every key alike (even weights) */
        draw(s->a, 3 * BT * c->C, g, NORMAL, 0);
        if (below(g, 2)) {
            int e = 3 + below(g, 18);
            for (size_t i = 0; i < 3 * BT * c->C; i++)
                s->a[i] = (float)ldexp(s->a[i], (int)(i % (3 * (size_t)c->C)) < 2 * c->C ? e : 0);
        } else {
            for (size_t t = 1; t < BT; t++)
                memcpy(s->a + t * 3 * c->C + c->C, s->a + c->C, c->C * sizeof(float));
        }
        break;
    default: /* logits far apart, and ties */
        for (size_t i = 0; i < BT * c->V; i++)
            s->a[i] = below(g, 4) == 0 ? 0.0f : (float)(200.0 * (uniform(g) - 0.5));
        break;
    }
}

/* Instance i: op i mod 5, its shape, inputs and dy's seed */
static int make(instance *s, uint64_t seed, size_t i)
{
    rng g = {seed};
    memset(s, 0, sizeof *s);
    s->op = (int)(i % N_OPS);
    f32_op_case *c = &s->c;
    c->B = 1 + below(&g, 3);
    c->T = 1 + below(&g, 4);
    c->seed = seed;
    c->forward = 1;
    size_t BT;
    switch (s->op) {
    case MATMUL: c->C = 1 + below(&g, 8), c->OC = 1 + below(&g, 8); break;
    case ATTENTION:
        c->B = 1 + below(&g, 2), c->T = 1 + below(&g, 5), c->NH = 1 + below(&g, 3);
        c->C = c->NH * (1 + below(&g, 8));
        break;
    case SOFTMAX_CE: c->V = 1 + below(&g, 16); break;
    default: c->C = 1 + below(&g, 16); break;
    }
    BT = (size_t)c->B * c->T;
    size_t nx = s->op == ATTENTION ? 3 * BT * c->C : s->op == SOFTMAX_CE ? BT * c->V : BT * c->C;
    size_t np = s->op == MATMUL ? (size_t)c->OC * c->C + c->OC : s->op == LAYERNORM ? 2 * (size_t)c->C : 0;
    s->n = nx + np;
    s->a = malloc(s->n * sizeof *s->a);
    if (!s->a)
        return -1;
    /* large scales capped where the op multiplies two of them, or cubes one */
    static const int cap[N_OPS] = {50, 50, 40, 55, 60};
    s->regime = pick(&g);
    if (s->regime == SPECIAL)
        special(s, &g);
    else
        draw(s->a, nx, &g, s->regime, cap[s->op]);
    if (s->op == MATMUL) {
        draw(s->a + nx, (size_t)c->OC * c->C, &g, (enum regime)below(&g, N_GENERAL), cap[MATMUL]);
        draw(s->a + nx + (size_t)c->OC * c->C, c->OC, &g, (enum regime)below(&g, N_GENERAL),
             cap[MATMUL]);
    } else if (s->op == LAYERNORM) {
        draw(s->a + nx, c->C, &g, (enum regime)below(&g, N_GENERAL), 20);
        draw(s->a + nx + c->C, c->C, &g, (enum regime)below(&g, N_GENERAL), 20);
    }
    return 0;
}

static int check(gradaudit_op_result *r, gradaudit_error *err, const run *b, const instance *s,
                 uint64_t *digest)
{
    const f32_layers_ops *L = b->L;
    f32_op_case c = s->c;
    c.digest = digest;
    c.fast_math = b->fast_math;
    const f32_op_case *cp = &c;
    size_t nx = (size_t)c.B * c.T * c.C;
    switch (s->op) {
    case MATMUL: return f32_check_matmul(r, err, L, cp, s->a, s->a + nx, s->a + nx + (size_t)c.OC * c.C);
    case LAYERNORM: return f32_check_layernorm(r, err, L, cp, s->a, s->a + nx, s->a + nx + c.C);
    case GELU: return f32_check_gelu(r, err, L, cp, s->a);
    case ATTENTION: return f32_check_attention(r, err, L, cp, s->a);
    default: return f32_check_softmax_ce(r, err, L, cp, s->a);
    }
}

/* "attention B=2 T=3 C=6 NH=2, input tiny" */
static void describe(char *buf, size_t size, const instance *s)
{
    const f32_op_case *c = &s->c;
    snprintf(buf, size, "%s B=%d T=%d C=%d OC=%d NH=%d V=%d, input %s", op_names[s->op], c->B, c->T,
             c->C, c->OC, c->NH, c->V, regime_names[s->regime]);
}

/* ---- the tally ------------------------------------------------------------ */

typedef struct {
    size_t instances, entries, fail, failed, unjudgeable, kink, errors; /* failed: instances */
} counts;

typedef struct {
    counts op[N_OPS], all;
    size_t regime_unjudgeable[N_REGIMES];
    double seconds;
    size_t shown; /* FAILs and errors printed */
} tally;

static void add(counts *k, const gradaudit_op_result *r, int st)
{
    k->instances++;
    k->errors += st != GRADAUDIT_OK;
    if (st == GRADAUDIT_OK) {
        k->entries += r->n_entries;
        k->fail += r->n_fail;
        k->failed += r->n_fail > 0;
        k->unjudgeable += r->n_unjudgeable;
        k->kink += r->n_kink;
    }
}

/* "Ofast+FTZ build, fast-math model" */
static void run_name(char *buf, size_t size, int b)
{
    snprintf(buf, size, "%s build, %s model", builds[b].L->build,
             builds[b].fast_math ? "fast-math" : "IEEE");
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int arg_number(const char *s, const char *key, unsigned long long *v)
{
    size_t n = strlen(key);
    if (strncmp(s, key, n))
        return 0;
    char *end;
    *v = strtoull(s + n, &end, 10);
    return s[n] && !*end;
}

int main(int argc, char **argv)
{
    unsigned long long n = 10000, seed = 20261215, threads = 2;
    for (int a = 1; a < argc; a++)
        if (!arg_number(argv[a], "--instances=", &n) && !arg_number(argv[a], "--seed=", &seed) &&
            !arg_number(argv[a], "--threads=", &threads)) {
            fprintf(stderr, "f32_layers_soak: unknown argument '%s'\nusage: f32_layers_soak "
                            "[--instances=N] [--seed=S] [--threads=N]\n", argv[a]);
            return 2;
        }
    for (int b = 0; b < N_BUILDS; b++)
        builds[b].L->set_threads((int)threads);
    static tally t[N_BUILDS];
    size_t differ = 0, omp_same = 0; /* instances where -Ofast's bits are not -O2's, OpenMP's are */
    for (size_t i = 0; i < n; i++) {
        instance s;
        if (make(&s, seed + i, i)) {
            fprintf(stderr, "f32_layers_soak: out of memory\n");
            return 3;
        }
        uint64_t digest[N_BUILDS];
        for (int b = 0; b < N_BUILDS; b++) {
            gradaudit_op_result r;
            gradaudit_error err = {{0}};
            double t0 = now();
            int st = check(&r, &err, &builds[b], &s, &digest[b]);
            t[b].seconds += now() - t0;
            add(&t[b].op[s.op], &r, st);
            add(&t[b].all, &r, st);
            if (st == GRADAUDIT_OK)
                t[b].regime_unjudgeable[s.regime] += r.n_unjudgeable;
            if ((st || r.n_fail) && t[b].shown++ < 20) {
                char what[160], name[64];
                describe(what, sizeof what, &s);
                run_name(name, sizeof name, b);
                printf("# %s, instance %zu (--seed=%llu --instances=%zu), %s: %s\n", name, i,
                       seed, i + 1, what, st ? err.msg : r.first_fail);
            }
        }
        differ += digest[1] != digest[0];
        omp_same += digest[3] == digest[0];
        free(s.a);
    }
    int ok = 1, line = 0;
    for (int b = 0; b < N_BUILDS; b++) {
        const counts *k = &t[b].all;
        const f32_layers_ops *L = builds[b].L;
        char name[64];
        run_name(name, sizeof name, b);
        if (!builds[b].asserted) { /* counted: what the fast-math model is for */
            printf("# %s (%d thread%s), not asserted: %zu instances, %zu entries, %zu FAIL, "
                   "%zu unjudgeable, %zu kink, %zu checks that did not run; %.1f s\n", name,
                   L->threads(), L->threads() > 1 ? "s" : "", k->instances, k->entries, k->fail,
                   k->unjudgeable, k->kink, k->errors, t[b].seconds);
        } else {
            int good = k->fail == 0 && k->errors == 0;
            ok &= good;
            printf("%s %d - %s (%d thread%s): %zu instances, %zu entries, %zu FAIL, %zu "
                   "unjudgeable, %zu kink, %zu checks that did not run; %.1f s\n",
                   good ? "ok" : "not ok", ++line, name, L->threads(), L->threads() > 1 ? "s" : "",
                   k->instances, k->entries, k->fail, k->unjudgeable, k->kink, k->errors,
                   t[b].seconds);
        }
        for (int o = 0; o < N_OPS; o++) {
            const counts *q = &t[b].op[o];
            printf("#   %-10s %6zu instances, %8zu entries, %zu FAIL in %zu instances, %zu "
                   "unjudgeable\n", op_names[o], q->instances, q->entries, q->fail, q->failed,
                   q->unjudgeable);
        }
        printf("#   unjudgeable by input regime:");
        for (int g = 0; g < N_REGIMES; g++)
            printf(" %s %zu%s", regime_names[g], t[b].regime_unjudgeable[g],
                   g + 1 < N_REGIMES ? "," : "\n");
    }
    if (F32_SOAK_CORE_FAST_MATH) { /* the first build is -Ofast too */
        printf("# the -Ofast build computed other bits than the first (-Ofast, flush-to-zero) on "
               "%zu of %llu instances\n", differ, n);
    } else {
        printf("%s %d - the -Ofast build computed other bits than -O2 on %zu of %llu instances\n",
               differ ? "ok" : "not ok", ++line, differ, n);
        ok &= differ > 0;
    }
    printf("# the OpenMP build computed the same bits as the first on %zu of %llu instances "
           "(each sum of llm.c's parallel loops stays on one thread, in order)\n", omp_same, n);
    int omp = f32_layers_omp.threads();
    printf("%s %d - the OpenMP build ran its loops on %d threads (%llu asked)\n",
           omp == (int)threads ? "ok" : "not ok", ++line, omp, threads);
    ok &= omp == (int)threads;
    printf("1..%d\n", line);
    return ok ? 0 : 1;
}
