/* user.c: a user's program built against the installed gradaudit alone
 * (include/tests/test_install.sh): only <gradaudit.h>, every part of the API
 * called; compiled as C11 and again as C++20. L(theta) = sum_i (i+1) theta_i^2 with a long-named entry; the
 * gradient of entry 1 is wrong on purpose. Prints the report and the names it
 * got back; exit 0 when the report is as expected. */
#include <stdio.h>
#include <string.h>

#include <gradaudit.h>

static const char *const names[3] = {
    "a_parameter_name_well_beyond_forty_bytes_long[0]", "w[1]", "w[2]"};

static int loss(double *L, const double *t, size_t n, void *u)
{
    (void)u;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)(i + 1) * t[i] * t[i];
    *L = s;
    return 0;
}

static int grad(double *g, const double *t, size_t n, void *u)
{
    (void)u;
    for (size_t i = 0; i < n; i++)
        g[i] = 2.0 * (double)(i + 1) * t[i] * (i == 1 ? 1.5 : 1.0);
    return 0;
}

int main(int argc, char **argv)
{
    double theta[3] = {0.5, -1.0, 2.0};
    gradaudit_problem p = {.n = 3, .theta = theta, .loss = loss, .grad = grad, .loss_mpfr = NULL,
                           .grad_bound = NULL, .name = NULL, .names = names, .user = NULL};
    gradaudit_options opt;
    gradaudit_options_default(&opt);
    gradaudit_report *rep;
    gradaudit_error err;
    if (gradaudit_check(&rep, &err, &p, &opt) != GRADAUDIT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 3;
    }
    gradaudit_report_print(stdout, rep);
    const gradaudit_summary *s = gradaudit_report_summary(rep);
    const gradaudit_entry *e0 = gradaudit_report_entry(rep, 0), *worst = gradaudit_report_top(rep, 0);
    int ok = s->n_fail == 1 && worst->index == 1 && !strcmp(e0->name, names[0]) &&
             !strcmp(gradaudit_report_group(rep, 0)->name, "a_parameter_name_well_beyond_forty_bytes_long") &&
             gradaudit_report_ok(rep) == 0;
    if (argc > 1 && gradaudit_report_write_csv(&err, rep, argv[1]) != GRADAUDIT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        ok = 0;
    }
    printf("names: %s (%s)\n", e0->name, gradaudit_verdict_name(worst->verdict));
    gradaudit_report_free(rep);

    gradaudit_normlog_tensor t[1] = {{"w", 1, {3}}};
    gradaudit_normlog *log;
    const double *g[1] = {theta};
    if (argc > 2 && (gradaudit_normlog_open(&log, &err, argv[2], t, 1, NULL) != GRADAUDIT_OK ||
                     gradaudit_normlog_step(log, &err, 0, 1.0, g, NULL, NULL) != GRADAUDIT_OK ||
                     gradaudit_normlog_close(log, &err) != GRADAUDIT_OK)) {
        fprintf(stderr, "%s (%s)\n", err.msg, gradaudit_strerror(GRADAUDIT_EIO));
        ok = 0;
    }
    printf("norm %.17g\n", gradaudit_norm2(theta, 3));
    return ok ? 0 : 1;
}
