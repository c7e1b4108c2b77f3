/* square_check: a parent project's gradient checked through gradaudit, used
 * as a meson subproject. L(w) = w0^2 + 3 w0 w1 + w1^4, its gradient written by
 * hand; `square_check --wrong` checks a gradient with d/dw1 missing the 3 w0.
 * Exit status: 0 every entry passed, 1 some entry FAILed, 2 usage, 3 the
 * check could not run. */
#include <stdio.h>
#include <string.h>

#include <gradaudit.h>

static int loss(double *L, const double *w, size_t n, void *user)
{
    (void)n, (void)user;
    *L = w[0] * w[0] + 3.0 * w[0] * w[1] + w[1] * w[1] * w[1] * w[1];
    return 0;
}

static int grad(double *dw, const double *w, size_t n, void *user)
{
    (void)n;
    int wrong = *(const int *)user;
    dw[0] = 2.0 * w[0] + 3.0 * w[1];
    dw[1] = (wrong ? 0.0 : 3.0 * w[0]) + 4.0 * w[1] * w[1] * w[1];
    return 0;
}

int main(int argc, char **argv)
{
    int wrong = argc == 2 && !strcmp(argv[1], "--wrong");
    if (argc > 1 && !wrong) {
        fprintf(stderr, "usage: square_check [--wrong]\n");
        return 2;
    }
    double w[2] = {0.75, -1.25}; /* (2) */
    gradaudit_problem p = {.n = 2, .theta = w, .loss = loss, .grad = grad, .user = &wrong};
    gradaudit_options opt;
    gradaudit_options_default(&opt);
    gradaudit_report *rep;
    gradaudit_error err;
    int st = gradaudit_check(&rep, &err, &p, &opt);
    if (st != GRADAUDIT_OK) {
        fprintf(stderr, "square_check: %s (%s)\n", err.msg, gradaudit_strerror(st));
        return 3;
    }
    gradaudit_report_print(stdout, rep);
    int ok = gradaudit_report_ok(rep);
    gradaudit_report_free(rep);
    return ok ? 0 : 1;
}
