/* ga_cli_args.c: argument parsing shared by the commands. */
#include <stdio.h>
#include <string.h>

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

const char *ga_cli_opt_value(int argc, char **argv, int *i, const char *name, int *matched)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    *matched = 0;
    if (strncmp(a, name, n))
        return NULL;
    if (a[n] == '=') {
        *matched = 1;
        return a + n + 1;
    }
    if (a[n] != '\0')
        return NULL;
    *matched = 1;
    return *i + 1 < argc ? argv[++*i] : NULL;
}

int ga_cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "gradaudit %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see gradaudit %s --help)\n", cmd);
    return GA_EXIT_USAGE;
}
