/* test_cli_main.c: the program's dispatch and the conventions every command
 * shares (core/ga_args.h): a usage error is one line naming the problem and
 * "try 'gradaudit CMD --help'" (exit 2, nothing on stdout); --help and
 * --version (exit 0) on every command; --opt=V and --opt V; "--". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ga_testsupport.h"

/* the program with up to 7 arguments (NULL-terminated) */
static ga_test_run runv(const char *a1, ...)
{
    const char *prog = getenv("GRADAUDIT");
    cr_assert(prog && *prog, "GRADAUDIT is not set (meson passes the program's path)");
    char *argv[9] = {(char *)prog};
    va_list ap;
    va_start(ap, a1);
    int n = 1;
    for (const char *a = a1; a && n < 8; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    ga_test_run r;
    cr_assert_eq(ga_test_run_program(&r, argv), 0, "cannot run %s", prog);
    return r;
}

/* the program with one or two arguments (a1 NULL: none) */
static ga_test_run run(const char *a1, const char *a2)
{
    return runv(a1, a2, NULL);
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* exit 2, nothing on stdout, one line on stderr holding want and the pointer
 * to the command's --help */
static void expect_usage_error(ga_test_run *r, const char *cmd, const char *want)
{
    char hint[64];
    snprintf(hint, sizeof hint, "; try 'gradaudit %s--help'\n", cmd);
    cr_expect_eq(r->status, 2, "%s: exit %d, stderr %s", want, r->status, r->err);
    cr_expect_eq(r->out_len, 0, "%s: stdout %s", want, r->out);
    cr_expect_eq(lines(r->err), 1, "%s: not one line: %s", want, r->err);
    cr_expect(strstr(r->err, want) != NULL, "message lacks '%s': %s", want, r->err);
    size_t n = strlen(r->err), h = strlen(hint);
    cr_expect(n >= h && !strcmp(r->err + n - h, hint), "no '%s' at the end: %s", hint, r->err);
}

Test(cli_main, no_command_is_a_usage_error)
{
    ga_test_run r = run(NULL, NULL);
    expect_usage_error(&r, "", "usage: gradaudit COMMAND");
    ga_test_run_free(&r);
}

Test(cli_main, unknown_command_is_named)
{
    ga_test_run r = run("audti", NULL);
    expect_usage_error(&r, "", "gradaudit: unknown command 'audti'");
    ga_test_run_free(&r);
}

Test(cli_main, help_and_version)
{
    ga_test_run r = run("--help", NULL);
    cr_expect_eq(r.status, 0);
    const char *commands[] = {"audit", "check", "eval", "tutorial", "scan", "train", "merge",
                              "norms"};
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
    const char *commands[] = {"audit", "check", "eval", "tutorial", "scan", "train", "merge",
                              "norms"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        ga_test_run r = run(commands[i], "--help");
        cr_expect_eq(r.status, 0, "%s --help: exit %d, stderr %s", commands[i], r.status, r.err);
        cr_expect(strstr(r.out, "usage: gradaudit") != NULL, "%s --help: %s", commands[i], r.out);
        ga_test_run_free(&r);
        char cmd[32], want[96];
        snprintf(cmd, sizeof cmd, "%s ", commands[i]);
        snprintf(want, sizeof want, "gradaudit %s: unknown option '--no-such-option'", commands[i]);
        r = run(commands[i], "--no-such-option");
        expect_usage_error(&r, cmd, want);
        ga_test_run_free(&r);
        snprintf(want, sizeof want, "gradaudit %s: unknown option '-Z'", commands[i]);
        r = run(commands[i], "-Z");
        expect_usage_error(&r, cmd, want);
        ga_test_run_free(&r);
        snprintf(want, sizeof want, "gradaudit %s: '--help=1' takes no value", commands[i]);
        r = run(commands[i], "--help=1");
        expect_usage_error(&r, cmd, want);
        ga_test_run_free(&r);
    }
}

Test(cli_main, every_command_has_version)
{
    const char *commands[] = {"audit", "check", "eval", "tutorial", "scan", "train", "merge",
                              "norms"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        ga_test_run r = run(commands[i], "--version");
        cr_expect_eq(r.status, 0, "%s --version: exit %d, stderr %s", commands[i], r.status, r.err);
        cr_expect(!strncmp(r.out, "gradaudit ", 10) && lines(r.out) == 1, "%s --version: %s",
                  commands[i], r.out);
        cr_expect_eq(r.err_len, 0, "%s --version: stderr %s", commands[i], r.err);
        ga_test_run_free(&r);
    }
}

/* a value missing at the end of the line, for every command that takes one */
Test(cli_main, missing_value_is_one_line)
{
    static const char *const cases[][3] = {
        {"check", "--method", "gradaudit check: --method needs a value"},
        {"eval", "--seed", "gradaudit eval: --seed needs a value"},
        {"tutorial", "--csv", "gradaudit tutorial: --csv needs a value"},
        {"audit", "--out", "gradaudit audit: --out needs a value"},
        {"scan", "--depth", "gradaudit scan: --depth needs a value"},
        {"train", "--norms", "gradaudit train: --norms needs a value"},
        {"merge", "-o", "gradaudit merge: -o needs a value"},
        {"norms", "-o", "gradaudit norms: -o needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, "%s ", cases[i][0]);
        ga_test_run r = run(cases[i][0], cases[i][1]);
        expect_usage_error(&r, cmd, cases[i][2]);
        ga_test_run_free(&r);
    }
}

/* the tutorial's own usage errors: one line and the pointer too */
Test(cli_main, tutorial_usage_errors_are_one_line)
{
    ga_test_run r = run("tutorial", "nope");
    expect_usage_error(&r, "tutorial ", "gradaudit tutorial: unknown tutorial 'nope' (one of: "
                       "wrapping-your-head algorithm-that-enables-learning first-draft "
                       "how-backprop-works hand-by-hand)");
    ga_test_run_free(&r);
    r = run("tutorial", "first-draft");
    expect_usage_error(&r, "tutorial ", "gradaudit tutorial: first-draft needs --seed S");
    ga_test_run_free(&r);
    r = runv("tutorial", "how-backprop-works", "--seed", "1", NULL);
    expect_usage_error(&r, "tutorial ", "how-backprop-works has no random initialisation");
    ga_test_run_free(&r);
    r = runv("audit", "--seeds", "1,,2", NULL);
    expect_usage_error(&r, "audit ", "gradaudit audit: --seeds '1,,2': expected 1 to 16");
    ga_test_run_free(&r);
}

/* --opt=V and --opt V are the same; options may follow operands; "--" ends
 * the options; a unique abbreviation is the option */
Test(cli_main, getopt_conventions)
{
    const char *spec = GA_SOURCE_ROOT "/fixtures/specs/relu-regression.json";
    ga_test_run a = runv("eval", spec, "--seed", "3", NULL);
    ga_test_run b = runv("eval", "--seed=3", spec, NULL);
    ga_test_run c = runv("eval", "--se", "3", "--", spec, NULL);
    cr_expect_eq(a.status, 0, "%s", a.err);
    cr_expect(!strncmp(a.out, "seed 3\n", 7), "%s", a.out);
    cr_expect_str_eq(a.out, b.out, "--seed 3 and --seed=3 differ");
    cr_expect_str_eq(a.out, c.out, "--se 3 -- SPEC differs");
    ga_test_run_free(&a);
    ga_test_run_free(&b);
    ga_test_run_free(&c);
    /* after "--", "-x" is an operand: the file -x, which does not exist */
    a = runv("eval", "--", "-x", NULL);
    cr_expect_eq(a.status, 2, "%s", a.err);
    cr_expect(strstr(a.err, "gradaudit eval: -x: cannot open: No such file or directory"), "%s", a.err);
    ga_test_run_free(&a);
    /* "--s" is ambiguous for scan (--seeds, --sigma-w2, ...): refused */
    a = runv("scan", "--s", "1", NULL);
    expect_usage_error(&a, "scan ", "gradaudit scan: unknown option '--s'");
    ga_test_run_free(&a);
}
