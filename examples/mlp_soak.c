/* mlp_soak: gradaudit_check's checks of loss_mpfr on random points of the
 * example perceptron (mlp.c), with the correct MPFR loss and with three that
 * are not the double loss computed in MPFR. Run by hand; the figures are in
 * bench/README.md ("The library's checks of loss_mpfr").
 *
 *   mlp_soak [POINTS [SEED]]        (defaults 300, 20261203)
 *   MLP_SOAK_SHOW=1 mlp_soak ...    also the worst entries of every point with a FAIL
 *
 * Per point: weights uniform in +-s, s = 10^u, u uniform in [-1, 1]; targets
 * uniform in [0, 1). One row per (MPFR loss, tolerance model): how many
 * points were refused with GRADAUDIT_EMPFRLOSS, how many passed whole, and
 * the FAIL, unjudgeable and nondeterministic entries of the others, and the
 * largest |loss - loss_oracle| / |loss| among them (the agreement check's
 * margin: it allows at least 2^-36 = 1.5e-11). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlp.h"

typedef enum { LOSS_CORRECT, LOSS_WRAPS, LOSS_1001, LOSS_1E9, LOSS_KINDS } loss_kind;
static const char *const kind_name[LOSS_KINDS] = {
    "correct", "wraps the double loss", "1.001 x the loss", "(1 + 1e-9) x the loss"};

typedef struct {
    mlp_data d;
    loss_kind kind;
} soak_user;

/* the MPFR loss of the given kind; user is a soak_user * */
static int soak_loss_mpfr(mpfr_ptr loss, mpfr_srcptr theta, size_t n, mpfr_prec_t prec, void *user)
{
    soak_user *u = user;
    if (u->kind == LOSS_WRAPS) { /* rounds theta to double and computes in double */
        double t[MLP_N], l;
        for (size_t i = 0; i < n && i < MLP_N; i++)
            t[i] = mpfr_get_d(theta + i, MPFR_RNDN);
        int rc = mlp_loss(&l, t, n, &u->d);
        mpfr_set_d(loss, l, MPFR_RNDN);
        return rc;
    }
    int rc = mlp_loss_mpfr(loss, theta, n, prec, &u->d);
    if (u->kind == LOSS_1001)
        mpfr_mul_d(loss, loss, 1.001, MPFR_RNDN);
    else if (u->kind == LOSS_1E9)
        mpfr_mul_d(loss, loss, 1 + 1e-9, MPFR_RNDN);
    return rc;
}

static double uniform(unsigned long long *st) /* [0, 1), an LCG: reproducible, seed printed */
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*st >> 11) * 0x1p-53;
}

int main(int argc, char **argv)
{
    int points = argc > 1 ? atoi(argv[1]) : 300;
    unsigned long long seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261203ULL;
    if (points <= 0) {
        fprintf(stderr, "usage: mlp_soak [POINTS [SEED]]\n");
        return 2;
    }
    printf("mlp_soak: %d points, seed %llu\n", points, seed);
    printf("%-22s %-6s %8s %6s %6s %12s %8s %10s\n", "loss_mpfr", "model", "refused", "ok", "FAIL",
           "unjudgeable", "nondet", "loss_rel");
    for (int kind = 0; kind < LOSS_KINDS; kind++) {
        for (int bound = 0; bound < 2; bound++) {
            unsigned long long st = seed;
            size_t refused = 0, ok = 0, fail = 0, unj = 0, nondet = 0;
            double worst_rel = 0; /* max |loss - loss_oracle| / |loss| of the points judged */
            for (int k = 0; k < points; k++) {
                soak_user u;
                double theta[MLP_N];
                mlp_example_data(&u.d, theta);
                u.kind = (loss_kind)kind;
                double s = pow(10, -1 + 2 * uniform(&st));
                for (int i = 0; i < MLP_N; i++)
                    theta[i] = s * (2 * uniform(&st) - 1);
                for (int b = 0; b < MLP_B; b++)
                    for (int o = 0; o < MLP_O; o++)
                        u.d.y[b][o] = uniform(&st);
                gradaudit_problem p;
                mlp_problem(&p, &u.d, theta);
                p.loss_mpfr = soak_loss_mpfr;
                p.user = &u; /* mlp's callbacks read the mlp_data at its start */
                if (!bound)
                    p.grad_bound = NULL;
                gradaudit_report *rep;
                gradaudit_error err;
                int st2 = gradaudit_check(&rep, &err, &p, NULL);
                if (st2 == GRADAUDIT_EMPFRLOSS) {
                    refused++;
                    continue;
                }
                if (st2 != GRADAUDIT_OK) {
                    fprintf(stderr, "point %d: %s\n", k, err.msg);
                    return 1;
                }
                const gradaudit_summary *sum = gradaudit_report_summary(rep);
                if (getenv("MLP_SOAK_SHOW") && sum->n_fail) {
                    printf("point %d:\n", k);
                    gradaudit_report_print_worst(stdout, rep, 2);
                }
                ok += gradaudit_report_ok(rep);
                fail += sum->n_fail;
                unj += sum->n_unjudgeable;
                nondet += sum->nondeterministic;
                double rel = fabs(sum->loss - sum->loss_oracle) / fabs(sum->loss);
                worst_rel = rel > worst_rel ? rel : worst_rel;
                gradaudit_report_free(rep);
            }
            printf("%-22s %-6s %8zu %6zu %6zu %12zu %8zu %10.2g\n", kind_name[kind],
                   bound ? "bound" : "noise", refused, ok, fail, unj, nondet, worst_rel);
        }
    }
    return 0;
}
