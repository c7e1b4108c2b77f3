/* gradaudit: command dispatch. */
#include <stdio.h>
#include <string.h>

#include "ga_cli.h"
#include "ga_io.h"

int ga_cmd_norms(int argc, char **argv); /* cmd_norms.c */

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"audit", ga_cmd_audit, "reproduce every tutorial and audit its gradients (the main job)"},
    {"check", ga_cmd_check, "check a spec's analytic gradient against the oracle or finite differences"},
    {"eval", ga_cmd_eval, "print the loss and gradients of a spec (17 significant digits)"},
    {"tutorial", ga_cmd_tutorial, "reproduce one tutorial's printed numbers exactly"},
    {"scan", ga_cmd_scan, "vanishing/exploding-gradient scans as CSV"},
    {"train", ga_cmd_train, "train a spec and log gradient norms per step"},
    {"merge", ga_cmd_merge, "join shard CSVs of a scan into a single run's bytes"},
    {"norms", ga_cmd_norms, "gradient-norm report (CSV) of gradients saved with np.savez"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("usage: gradaudit COMMAND [ARGS...]\n"
          "       gradaudit COMMAND --help\n\ncommands:\n", f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\nexit status: 0 success, 1 a check failed, 2 bad input or usage, 3 internal error\n"
          "or a failed write (a full disk), 130/143 interrupted by SIGINT/SIGTERM\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: gradaudit COMMAND [ARGS...]; try 'gradaudit --help'\n", stderr);
        return GA_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return GA_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        puts("gradaudit " GA_VERSION);
        return GA_EXIT_OK;
    }
    /* every command: SIGINT/SIGTERM remove the temporary files being written
     * and exit 130/143 (scan puts its own, gentler handler over these while
     * it runs) */
    ga_io_signals_install();
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gradaudit: unknown command '%s'; try 'gradaudit --help'\n", argv[1]);
    return GA_EXIT_USAGE;
}
