/* mlp_check: checks the hand-written backprop of mlp.c through gradaudit's
 * public API and prints the report.
 *
 *   mlp_check [--bug=none|factor2|tanh-deriv] [--reference=auto|oracle|ridders]
 *             [--model=bound|noise] [--csv=PATH]
 *
 * Exit status: 0 every entry passed, 1 some entry FAILed, 2 usage, 3 the
 * check could not run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

static int usage(const char *arg)
{
    fprintf(stderr, "mlp_check: unknown argument '%s'\n"
                    "usage: mlp_check [--bug=none|factor2|tanh-deriv] "
                    "[--reference=auto|oracle|ridders] [--model=bound|noise] [--csv=PATH]\n",
            arg);
    return 2;
}

int main(int argc, char **argv)
{
    mlp_data d;
    double theta[MLP_N];
    mlp_example_data(&d, theta);
    gradaudit_problem p;
    mlp_problem(&p, &d, theta);
    gradaudit_options opt;
    gradaudit_options_default(&opt);
    const char *csv = NULL;
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        if (!strcmp(s, "--bug=none"))
            d.bug = MLP_CORRECT;
        else if (!strcmp(s, "--bug=factor2"))
            d.bug = MLP_BUG_FACTOR2;
        else if (!strcmp(s, "--bug=tanh-deriv"))
            d.bug = MLP_BUG_TANH_DERIV;
        else if (!strcmp(s, "--reference=auto"))
            opt.reference = GRADAUDIT_REF_AUTO;
        else if (!strcmp(s, "--reference=oracle"))
            opt.reference = GRADAUDIT_REF_ORACLE;
        else if (!strcmp(s, "--reference=ridders"))
            opt.reference = GRADAUDIT_REF_RIDDERS;
        else if (!strcmp(s, "--model=bound"))
            opt.ignore_bound = 0;
        else if (!strcmp(s, "--model=noise"))
            opt.ignore_bound = 1;
        else if (!strncmp(s, "--csv=", 6) && s[6])
            csv = s + 6;
        else
            return usage(s);
    }
    gradaudit_report *rep;
    gradaudit_error err;
    int st = gradaudit_check(&rep, &err, &p, &opt);
    if (st != GRADAUDIT_OK) {
        fprintf(stderr, "mlp_check: %s (%s)\n", err.msg, gradaudit_strerror(st));
        return 3;
    }
    gradaudit_report_print(stdout, rep);
    if (csv && (st = gradaudit_report_write_csv(&err, rep, csv)) != GRADAUDIT_OK) {
        fprintf(stderr, "mlp_check: %s\n", err.msg);
        gradaudit_report_free(rep);
        return 3;
    }
    int ok = gradaudit_report_ok(rep);
    gradaudit_report_free(rep);
    return ok ? 0 : 1;
}
