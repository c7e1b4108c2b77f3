/* ga_cli.h: the gradaudit program's commands. Each returns the process exit status:
 * 0 success, 1 a check failed (a finding), 2 bad input or usage, 3 internal error. */
#ifndef GA_CLI_H
#define GA_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "ga_core.h"

enum { GA_EXIT_OK = 0, GA_EXIT_FAIL = 1, GA_EXIT_USAGE = 2, GA_EXIT_INTERNAL = 3 };

int ga_cmd_eval(int argc, char **argv);      /* cmd_eval.c */
int ga_cmd_check(int argc, char **argv);     /* cmd_check.c */
int ga_cmd_tutorial(int argc, char **argv);  /* cmd_tutorial.c */
int ga_cmd_audit(int argc, char **argv);     /* cmd_tutorial.c */
int ga_cmd_scan(int argc, char **argv);      /* cmd_scan.c */
int ga_cmd_train(int argc, char **argv);     /* cmd_scan.c */
int ga_cmd_merge(int argc, char **argv);     /* cmd_scan.c */

/* Decimal digits only (no sign, space or suffix), value in 0..max: 0, else -1. */
int ga_cli_parse_uint(uint64_t *out, const char *s, uint64_t max);
/* 1 when a and b name one file: the same string, or (both existing, symlinks
 * followed) the same device and inode. Two outputs of one run must not. */
int ga_cli_same_file(const char *a, const char *b);
/* "gradaudit CMD: <fmt with arg>; try 'gradaudit CMD --help'" on stderr
 * (core/ga_args.h); returns GA_EXIT_USAGE. */
int ga_cli_usage_error(const char *cmd, const char *fmt, const char *arg);

/* --dtype V of command cmd: float32 or float64 (ga_precision_from_name's
 * names); 0 and *out, else the usage error (GA_EXIT_USAGE). */
int ga_cli_parse_dtype(ga_precision *out, const char *cmd, const char *v);
/* The spec's numbers as code in precision p holds them, in place: the net's
 * parameters and constants, x and y of the batch (ga_round_problem). 0, or GA_EXIT_USAGE after one line on stderr naming the
 * number that overflows p: "gradaudit CMD: SPEC: W1[3] = 4e+38 overflows float32". */
int ga_cli_round_problem(const char *cmd, const char *path, ga_precision p, ga_net *net, double *x,
                         double *y, size_t batch);

#endif
