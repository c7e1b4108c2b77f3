/* ga_args.c: getopt_long with the conventions of ga_args.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_args.h"

#ifndef GA_VERSION
#define GA_VERSION "unknown"
#endif

#define VERSION_VAL 0x7f00 /* outside any short option's range */
#define MAX_LONGOPTS 64

void ga_args_begin(void)
{
    optind = 0; /* glibc: reinitialise completely */
    opterr = 0; /* messages are ours */
}

int ga_args_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gradaudit %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; try 'gradaudit %s --help'\n", cmd);
    va_end(ap);
    return 2;
}

int ga_args_next(int *status, const char *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *longopts)
{
    struct option all[MAX_LONGOPTS + 2];
    size_t n = 0;
    while (longopts[n].name && n < MAX_LONGOPTS) {
        all[n] = longopts[n];
        n++;
    }
    all[n++] = (struct option){"version", no_argument, NULL, VERSION_VAL};
    all[n] = (struct option){NULL, 0, NULL, 0};
    char opts[64];
    snprintf(opts, sizeof opts, ":%s", shortopts); /* ':' first: a missing value gives ':' */
    int prev = optind ? optind : 1;
    int c = getopt_long(argc, argv, opts, all, NULL);
    if (c == VERSION_VAL) {
        printf("gradaudit %s\n", GA_VERSION);
        *status = fflush(stdout) == 0 ? 0 : 3;
        return GA_ARGS_STOP;
    }
    if (c == '?' || c == ':') {
        /* the offending element: for a long option the one getopt just passed,
         * for a short one optopt (it may sit inside a cluster) */
        const char *a = optind - 1 >= prev && optind - 1 < argc ? argv[optind - 1] : "";
        if (c == ':' && !strncmp(a, "--", 2))
            *status = ga_args_usage_error(cmd, "%s needs a value", a);
        else if (c == ':')
            *status = ga_args_usage_error(cmd, "-%c needs a value", optopt);
        else if (optopt && strncmp(a, "--", 2))
            *status = ga_args_usage_error(cmd, "unknown option '-%c'", optopt);
        else if (optopt) /* a long option given a value it does not take */
            *status = ga_args_usage_error(cmd, "'%s' takes no value", a);
        else
            *status = ga_args_usage_error(cmd, "unknown option '%s'", a);
        return GA_ARGS_STOP;
    }
    return c;
}
