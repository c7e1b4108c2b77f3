/* test_cli_main.c: the program's dispatch: usage, unknown commands and
 * options (exit 2, usage on stderr), --help and --version (exit 0), and
 * every command's own --help. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ga_testsupport.h"

static ga_test_run run(const char *a1, const char *a2)
{
    const char *prog = getenv("GRADAUDIT");
    cr_assert(prog && *prog, "GRADAUDIT is not set (meson passes the program's path)");
    char *argv[4] = {(char *)prog, (char *)a1, (char *)a2, NULL};
    if (!a1)
        argv[1] = NULL;
    ga_test_run r;
    cr_assert_eq(ga_test_run_program(&r, argv), 0, "cannot run %s", prog);
    return r;
}

Test(cli_main, no_command_is_a_usage_error)
{
    ga_test_run r = run(NULL, NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "usage: gradaudit COMMAND") != NULL, "%s", r.err);
    cr_expect_eq(r.out_len, 0);
    ga_test_run_free(&r);
}

Test(cli_main, unknown_command_is_named)
{
    ga_test_run r = run("audti", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "unknown command 'audti'") != NULL, "%s", r.err);
    cr_expect_eq(r.out_len, 0);
    ga_test_run_free(&r);
}

Test(cli_main, help_and_version)
{
    ga_test_run r = run("--help", NULL);
    cr_expect_eq(r.status, 0);
    const char *commands[] = {"audit", "check", "eval", "tutorial", "scan", "train", "merge"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        cr_expect(strstr(r.out, commands[i]) != NULL, "--help lists %s", commands[i]);
    ga_test_run_free(&r);
    r = run("--version", NULL);
    cr_expect_eq(r.status, 0);
    cr_expect(strncmp(r.out, "gradaudit ", 10) == 0, "%s", r.out);
    ga_test_run_free(&r);
}

Test(cli_main, every_command_has_help_and_refuses_unknown_options)
{
    const char *commands[] = {"audit", "check", "eval", "tutorial", "scan", "train", "merge"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        ga_test_run r = run(commands[i], "--help");
        cr_expect_eq(r.status, 0, "%s --help: exit %d, stderr %s", commands[i], r.status, r.err);
        cr_expect(strstr(r.out, "usage: gradaudit") != NULL, "%s --help: %s", commands[i], r.out);
        ga_test_run_free(&r);
        r = run(commands[i], "--no-such-option");
        cr_expect_eq(r.status, 2, "%s --no-such-option: exit %d", commands[i], r.status);
        cr_expect(r.err_len > 0 && strstr(r.err, "--no-such-option") != NULL,
                  "%s: the message names the option: %s", commands[i], r.err);
        cr_expect_eq(r.out_len, 0, "%s: nothing on stdout", commands[i]);
        ga_test_run_free(&r);
    }
}
