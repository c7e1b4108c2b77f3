/* ga_args.h: the command-line conventions every gradaudit command shares.
 *
 * Options are parsed by getopt_long, so every command behaves the same way:
 * "--opt=V" and "--opt V", unique abbreviations of long options, options and
 * operands in any order, "--" ends the options (an operand may then start
 * with '-'), "-" is an operand (standard input or output). --help/-h and
 * --version are understood by every command. A usage error is one line:
 *     gradaudit CMD: PROBLEM; try 'gradaudit CMD --help'
 * and exit status 2. */
#ifndef GA_ARGS_H
#define GA_ARGS_H

#include <getopt.h>

enum {
    GA_ARGS_END = -1,  /* no more options: operands are argv[optind..argc) */
    GA_ARGS_STOP = -2, /* --version printed, or a usage error reported: exit *status */
    GA_ARGS_HELP = 'h' /* --help or -h: the caller prints its usage and exits 0 */
};

/* Starts a parse (getopt's state reset: commands may be run twice in one
 * process, as the test suites do). */
void ga_args_begin(void);
/* The next option of argv, as getopt_long returns it, for command cmd.
 * longopts must contain {"help", no_argument, 0, 'h'}; --version is added
 * here. Unknown options, ambiguous abbreviations and missing values are
 * reported (one line) and give GA_ARGS_STOP with *status 2. */
int ga_args_next(int *status, const char *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *longopts);
/* "gradaudit CMD: <fmt...>; try 'gradaudit CMD --help'" on stderr; returns 2. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int ga_args_usage_error(const char *cmd, const char *fmt, ...);

#endif
