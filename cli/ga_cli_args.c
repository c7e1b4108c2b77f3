/* ga_cli_args.c: argument parsing shared by the commands. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ga_args.h"
#include "ga_cli.h"

int ga_cli_parse_uint(uint64_t *out, const char *s, uint64_t max)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int ga_cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!strcmp(a, b))
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino &&
           S_ISREG(sa.st_mode);
}

int ga_cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    char msg[1200];
    snprintf(msg, sizeof msg, fmt, arg);
    return ga_args_usage_error(cmd, "%s", msg);
}

int ga_cli_parse_dtype(ga_precision *out, const char *cmd, const char *v)
{
    if (ga_precision_from_name(out, v) != GA_OK)
        return ga_cli_usage_error(cmd, "--dtype '%s': expected float32 or float64", v);
    return 0;
}

int ga_cli_round_problem(const char *cmd, const char *path, ga_precision p, ga_net *net, double *x,
                         double *y, size_t batch)
{
    ga_error err = {{0}};
    if (ga_round_problem(&err, p, net, net->params, x, y, batch) != GA_OK) {
        fprintf(stderr, "gradaudit %s: %s: %s\n", cmd, path, err.msg);
        return GA_EXIT_USAGE;
    }
    return 0;
}
