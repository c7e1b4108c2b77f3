/* test_scan_cli: gradaudit scan / merge as a user runs them: the CSV, bad input
 * (exit 2, one message, no file), atomic files under SIGINT, shards merged into
 * the single run's bytes, the progress bar only on a terminal.
 *
 * Each command runs in a forked child with stdout and stderr sent to files (or a
 * pseudo-terminal), so exit statuses, messages and signals are the real ones.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ga_testsupport.h"

#include "ga_report_cli.h"
#include "ga_scan.h"
#include "ga_sweep.h"

typedef int (*cmd_fn)(int, char **);

static char g_dir[256];

static void make_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ga-scan-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    if (!d)
        return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(g_dir);
}

static char *path_in(const char *name)
{
    static char bufs[16][600];
    static int k;
    char *b = bufs[k++ % 16];
    snprintf(b, 600, "%s/%s", g_dir, name);
    return b;
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Runs fn(argv) in a child; stdout/stderr into files; returns the exit status. */
static int run(cmd_fn fn, char **out, char **err, const char *const *args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    char *o = path_in("stdout.txt"), *e = path_in("stderr.txt");
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fo, 1);
        dup2(fe, 2);
        char **argv = calloc((size_t)argc + 1, sizeof *argv);
        if (!argv)
            _exit(127); /* the child cannot assert: the parent sees the status */
        for (int i = 0; i < argc && args[i]; i++)
            argv[i] = strdup(args[i]);
        int rc = fn(argc, argv);
        fflush(NULL);
        _exit(rc);
    }
    int status;
    waitpid(pid, &status, 0);
    if (out)
        *out = ga_test_slurp(o, NULL);
    if (err)
        *err = ga_test_slurp(e, NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* ---- the CSV ----------------------------------------------------------------- */
Test(scan_cli, csv_shape_and_numbers, .init = make_dir, .fini = remove_dir)
{
    const char *args[] = {"scan", "--act", "tanh,relu", "--init", "normal,he", "--sigma-w2",
                          "1.5,2.25", "--depth", "3,5", "--width", "8", "--batch", "4",
                          "--seeds", "0-1", "-o", path_in("a.csv"), NULL};
    char *err;
    cr_assert_eq(run(ga_report_scan_main, NULL, &err, args), 0, "stderr: %s", err);
    cr_expect_str_empty(err, "stderr not empty when not a terminal: %s", err);
    char *csv = ga_test_slurp(path_in("a.csv"), NULL);
    cr_assert_not_null(csv);
    /* configurations: 2 act x (2 sigma_w2 for normal + 1 he) x 2 depths x 2 seeds = 24,
     * rows: 2 act x 3 x 2 seeds x (3 + 5) layers = 96, plus the header */
    cr_expect_eq(count_char(csv, '\n'), 97, "rows: %zu", count_char(csv, '\n'));
    const char *hdr = ga_sweep_header();
    cr_assert(!strncmp(csv, hdr, strlen(hdr)), "header");
    size_t fields = count_char(hdr, ',') + 1;
    /* RFC 4180: every record has the header's field count; nothing needs quoting here */
    for (char *line = csv; *line;) {
        char *nl = strchr(line, '\n');
        cr_assert_not_null(nl, "unterminated last line");
        size_t f = 1;
        for (char *p = line; p < nl; p++) {
            f += *p == ',';
            cr_assert(*p != '"' && *p != '\r', "unexpected quote or CR");
        }
        cr_expect_eq(f, fields, "record with %zu fields, header has %zu", f, fields);
        line = nl + 1;
    }
    cr_expect_eq(strstr(csv, "0,24,tanh,0,normal,1.5,0,3,8,4,0,1,8,8,") - csv, (long)strlen(hdr),
                 "first row starts with the first configuration");
    /* %.17g round trip: the first row's delta_norm equals the library's double */
    ga_scan_config c = {0};
    ga_activation_from_name(&c.act, "tanh");
    c.init = GA_SCAN_INIT_NORMAL;
    c.sigma_w2 = 1.5;
    c.depth = 3;
    c.width = 8;
    c.batch = 4;
    ga_scan_result r;
    cr_assert_eq(ga_scan_run(&r, NULL, &c, (size_t)1 << 30, NULL), GA_OK);
    char *row = csv + strlen(hdr);
    char *p = row;
    for (int k = 0; k < 18; k++) /* delta_norm is column 19 */
        p = strchr(p, ',') + 1;
    cr_expect_eq(strtod(p, NULL), ga_xreal_to_double(r.layers[0].delta_norm),
                 "delta_norm does not round-trip: %.40s", p);
    ga_scan_result_free(&r);
    free(csv);
    free(err);
}

/* Norms beyond the double range print with their true decimal exponent. */
Test(scan_cli, extended_range_numbers, .init = make_dir, .fini = remove_dir)
{
    const char *args[] = {"scan", "--act", "tanh", "--sigma-w2", "0.5", "--depth", "2000",
                          "--width", "4", "--batch", "2", "-o", path_in("deep.csv"), NULL};
    cr_assert_eq(run(ga_report_scan_main, NULL, NULL, args), 0);
    char *csv = ga_test_slurp(path_in("deep.csv"), NULL);
    cr_assert_not_null(csv);
    char *first = strchr(csv, '\n') + 1;
    /* layer 1's delta_ratio (column 21) and its log10 (column 22) */
    char *p = first;
    for (int k = 0; k < 20; k++)
        p = strchr(p, ',') + 1;
    char *e = strchr(p, 'e');
    cr_assert(e != NULL && e < strchr(p, ','), "no exponent in '%.40s'", p);
    char mtext[64];
    snprintf(mtext, sizeof mtext, "%.*s", (int)(e - p), p);
    double mant = strtod(mtext, NULL);
    long ex = strtol(e + 1, NULL, 10);
    double lg = strtod(strchr(p, ',') + 1, NULL);
    cr_expect(ex < -308, "layer 1 ratio %.40s is not beyond the double range", p);
    cr_expect(fabs(log10(mant) + (double)ex - lg) < 1e-9, "value %.40s disagrees with log10 %.17g",
              p, lg);
    cr_expect(strstr(first, "inf") == NULL && strstr(first, "nan") == NULL, "non-finite in the CSV");
    free(csv);
}

/* ---- bad input: exit 2, one message, no file ------------------------------- */
typedef struct {
    const char *opt, *val, *needle;
} bad_case;

Test(scan_cli, bad_input, .init = make_dir, .fini = remove_dir)
{
    const bad_case cases[] = {
        {"--act", "tanhh", "unknown activation 'tanhh'"},
        {"--act", "softmax", "unknown activation 'softmax'"},
        {"--act", "silu", "unknown activation 'silu'"},
        {"--init", "kaiming_magic", "unknown init"},
        {"--depth", "0", "--depth: 0 is outside"},
        {"--depth", "5-2", "--depth"},
        {"--width", "-3", "--width"},
        {"--sigma-w2", "nan", "--sigma-w2"},
        {"--width", "16777216", "memory cap"},   /* 2 x 8 x N^2 bytes, far over 8 GiB */
        {"--shard", "3/2", "--shard"},
        {"--shard", "0/2", "--shard"},
        {"--shard", "1/0", "--shard"},
        {"--shard", "a/b", "--shard"},
        {"--shard", "1/2x", "--shard"},
        {"--seeds", "4294967296", "--seeds"},
        {"--memory-cap", "lots", "--memory-cap"},
        {"--seeds", "0-20000000", "more than 10000000"},
        {"--bogus", "1", "unknown option"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"scan", "--depth", "2", "--width", "4", cases[i].opt, cases[i].val,
                              "-o", path_in("bad.csv"), NULL};
        char *out, *err;
        int rc = run(ga_report_scan_main, &out, &err, args);
        cr_expect_eq(rc, 2, "%s %s: exit %d, stderr %s", cases[i].opt, cases[i].val, rc, err);
        cr_expect(strstr(err, cases[i].needle) != NULL, "%s %s: message lacks '%s': %s",
                  cases[i].opt, cases[i].val, cases[i].needle, err);
        cr_expect_eq(count_char(err, '\n'), 1, "%s %s: not one line: %s", cases[i].opt,
                     cases[i].val, err);
        cr_expect(!file_exists(path_in("bad.csv")), "%s %s: a file was written", cases[i].opt,
                  cases[i].val);
        cr_expect_str_empty(out, "stdout not empty");
        free(out);
        free(err);
    }
}

Test(scan_cli, unwritable_output, .init = make_dir, .fini = remove_dir)
{
    const char *targets[] = {"/nonexistent-dir/x.csv", g_dir};
    for (size_t i = 0; i < 2; i++) {
        const char *args[] = {"scan", "--depth", "2", "--width", "4", "-o", targets[i], NULL};
        char *err;
        int rc = run(ga_report_scan_main, NULL, &err, args);
        cr_expect_eq(rc, 2, "%s: exit %d", targets[i], rc);
        cr_expect(strstr(err, "cannot write") != NULL, "%s: message: %s", targets[i], err);
        free(err);
    }
    cr_expect(!file_exists("/nonexistent-dir"), "directory appeared");
    /* and merge likewise */
    const char *args[] = {"merge", "/nonexistent-dir/a.csv", "-o", "/nonexistent-dir/m.csv", NULL};
    cr_expect_eq(run(ga_report_merge_main, NULL, NULL, args), 2);
}

/* ---- atomic writes under SIGINT ----------------------------------------------- */
/* A snapshot of OUT is acceptable when it is the previous content or a complete CSV:
 * the header, then whole configurations 0, 1, ..., k-1 of depth rows each. Returns k,
 * or -1 for the previous content; fails the test otherwise. */
static long check_snapshot(const char *text, const char *previous, size_t depth)
{
    if (!strcmp(text, previous))
        return -1;
    const char *hdr = ga_sweep_header();
    cr_assert(!strncmp(text, hdr, strlen(hdr)), "torn file: bad header: %.80s", text);
    size_t len = strlen(text);
    cr_assert(len > 0 && text[len - 1] == '\n', "torn file: no final line end");
    size_t rows = count_char(text, '\n') - 1;
    cr_assert_eq(rows % depth, 0, "torn file: %zu rows is not whole configurations", rows);
    const char *p = text + strlen(hdr);
    for (size_t r = 0; r < rows; r++) {
        cr_assert_eq(strtoul(p, NULL, 10), r / depth, "row %zu belongs to configuration %lu", r,
                     strtoul(p, NULL, 10));
        p = strchr(p, '\n') + 1;
    }
    return (long)(rows / depth);
}

static pid_t spawn_scan(const char *const *args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fe = open(path_in("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fe, 2);
        char **argv = calloc((size_t)argc + 1, sizeof *argv);
        if (!argv)
            _exit(127); /* the child cannot assert: the parent sees the status */
        for (int i = 0; i < argc && args[i]; i++)
            argv[i] = strdup(args[i]);
        _exit(ga_report_scan_main(argc, argv));
    }
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int no_temporaries(void)
{
    DIR *d = opendir(g_dir);
    cr_assert_not_null(d, "%s", g_dir);
    struct dirent *e;
    int ok = 1;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.") || !strncmp(e->d_name, ".gradaudit-", 11))
            ok = 0;
    closedir(d);
    return ok;
}

Test(scan_cli, sigint_leaves_complete_file, .init = make_dir, .fini = remove_dir, .timeout = 60)
{
    const char *previous = "previous run\n";
    const char *out = path_in("run.csv");
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f);
    fputs(previous, f);
    fclose(f);
    const char *args[] = {"scan", "--depth", "40", "--width", "96", "--batch", "16", "--seeds",
                          "0-399", "--checkpoint", "0", "-o", out, NULL};
    pid_t pid = spawn_scan(args);
    long seen = -1;
    int polls = 0;
    double t0 = (double)time(NULL);
    while (seen < 3 && (double)time(NULL) - t0 < 40) {
        char *s = ga_test_slurp(out, NULL);
        cr_assert_not_null(s, "the output vanished (rename is atomic, it never should)");
        seen = check_snapshot(s, previous, 40);
        free(s);
        polls++;
        sleep_ms(2);
    }
    cr_assert(seen >= 3, "no checkpoint with 3 configurations after %d polls", polls);
    kill(pid, SIGINT);
    int status;
    waitpid(pid, &status, 0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == GA_EXIT_INTERRUPTED,
              "exit status %d, want 130", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    char *s = ga_test_slurp(out, NULL);
    long k = check_snapshot(s, previous, 40);
    cr_expect(k >= seen && k < 400, "final file holds %ld configurations (saw %ld)", k, seen);
    free(s);
    cr_expect(no_temporaries(), "a temporary file was left behind");
    char *err = ga_test_slurp(path_in("stderr.txt"), NULL);
    cr_expect(strstr(err, "interrupted") != NULL, "no interruption message: %s", err);
    free(err);
}

Test(scan_cli, sigint_before_first_configuration_keeps_previous, .init = make_dir,
     .fini = remove_dir, .timeout = 60)
{
    const char *previous = "previous run\n";
    const char *out = path_in("run.csv");
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f);
    fputs(previous, f);
    fclose(f);
    /* one configuration of several seconds (weights regenerated under the small cap,
     * so little memory): interrupted long before it finishes */
    const char *args[] = {"scan", "--depth", "2000", "--width", "256", "--batch", "4",
                          "--memory-cap", "64M", "--checkpoint", "0", "-o", out, NULL};
    pid_t pid = spawn_scan(args);
    sleep_ms(300);
    kill(pid, SIGINT);
    int status;
    waitpid(pid, &status, 0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == GA_EXIT_INTERRUPTED, "exit status");
    char *s = ga_test_slurp(out, NULL);
    cr_expect_str_eq(s, previous, "previous file changed");
    free(s);
    cr_expect(no_temporaries(), "a temporary file was left behind");
}

/* ---- shards and merge ----------------------------------------------------------- */
Test(scan_cli, shards_merge_to_single_run_bytes, .init = make_dir, .fini = remove_dir)
{
    const char *sweep[] = {"--act", "tanh,relu,elu", "--init", "normal,orthogonal,he",
                           "--sigma-w2", "1,2.25", "--depth", "4,7", "--width", "6",
                           "--batch", "3", "--seeds", "0-2"};
    const size_t ns = sizeof sweep / sizeof sweep[0];
    const char *args[40];
    size_t n = 0;
    args[n++] = "scan";
    for (size_t i = 0; i < ns; i++)
        args[n++] = sweep[i];
    args[n++] = "-o";
    args[n++] = path_in("single.csv");
    args[n] = NULL;
    cr_assert_eq(run(ga_report_scan_main, NULL, NULL, args), 0);
    const char *shard_names[] = {"s1.csv", "s2.csv", "s3.csv", "s4.csv"};
    for (int k = 1; k <= 4; k++) {
        char spec[16];
        snprintf(spec, sizeof spec, "%d/4", k);
        args[n] = "--shard";
        args[n + 1] = spec;
        args[n - 1] = path_in(shard_names[k - 1]);
        args[n + 2] = NULL;
        cr_assert_eq(run(ga_report_scan_main, NULL, NULL, args), 0, "shard %d", k);
    }
    const char *margs[] = {"merge", path_in("s3.csv"), path_in("s1.csv"), path_in("s4.csv"),
                           path_in("s2.csv"), "-o", path_in("merged.csv"), NULL};
    char *err;
    cr_assert_eq(run(ga_report_merge_main, NULL, &err, margs), 0, "merge: %s", err);
    free(err);
    size_t la, lb;
    char *a = ga_test_slurp(path_in("single.csv"), &la), *b = ga_test_slurp(path_in("merged.csv"), &lb);
    cr_assert(a && b);
    cr_expect_eq(la, lb, "sizes differ: %zu vs %zu", la, lb);
    cr_expect(la == lb && memcmp(a, b, la) == 0, "merged bytes differ from the single run");
    cr_expect(la > 10000, "suspiciously small CSV (%zu bytes)", la);
    free(a);
    free(b);

    /* a missing shard and a duplicated one are refused, nothing written */
    const char *missing[] = {"merge", path_in("s1.csv"), path_in("s2.csv"), path_in("s4.csv"),
                             "-o", path_in("m2.csv"), NULL};
    cr_expect_eq(run(ga_report_merge_main, NULL, &err, missing), 2);
    cr_expect(strstr(err, "missing") != NULL, "message: %s", err);
    free(err);
    const char *dup[] = {"merge", path_in("s1.csv"), path_in("s1.csv"), path_in("s2.csv"),
                         path_in("s3.csv"), path_in("s4.csv"), "-o", path_in("m2.csv"), NULL};
    cr_expect_eq(run(ga_report_merge_main, NULL, &err, dup), 2);
    cr_expect(strstr(err, "twice") != NULL, "message: %s", err);
    free(err);
    cr_expect(!file_exists(path_in("m2.csv")), "a refused merge wrote a file");

    /* what only the rows can tell: a shard cut short by its last row, a row
     * edited by hand, a shard of another sweep with the same number of
     * configurations (seeds 3-5 instead of 0-2) */
    size_t l4;
    char *s4 = ga_test_slurp(path_in("s4.csv"), &l4);
    cr_assert(s4 && l4 > 2);
    size_t cut = l4 - 1;
    while (cut > 0 && s4[cut - 1] != '\n')
        cut--;
    FILE *f = fopen(path_in("s4cut.csv"), "w");
    cr_assert_not_null(f);
    fwrite(s4, 1, cut, f);
    fclose(f);
    char *comma = strstr(s4 + strlen(ga_sweep_header()), ",normal,");
    cr_assert_not_null(comma, "no normal-init row in shard 4");
    memcpy(comma, ",NORMAL,", 8);
    f = fopen(path_in("s4edit.csv"), "w");
    cr_assert_not_null(f);
    fwrite(s4, 1, l4, f);
    fclose(f);
    free(s4);
    args[n - 1] = path_in("other.csv");
    args[n] = "--shard";
    args[n + 1] = "4/4";
    args[n + 2] = NULL;
    for (size_t i = 0; args[i]; i++)
        if (!strcmp(args[i], "0-2"))
            args[i] = "3-5";
    cr_assert_eq(run(ga_report_scan_main, NULL, NULL, args), 0, "the other sweep's shard");
    const struct {
        const char *last, *want;
    } bad[] = {{"s4cut.csv", "rows for depth"}, {"s4edit.csv", "settings differ"},
               {"other.csv", "shards of different sweeps"}};
    for (size_t i = 0; i < 3; i++) {
        const char *m[] = {"merge", path_in("s1.csv"), path_in("s2.csv"), path_in("s3.csv"),
                           path_in(bad[i].last), "-o", path_in("m3.csv"), NULL};
        cr_expect_eq(run(ga_report_merge_main, NULL, &err, m), 2, "%s accepted", bad[i].last);
        cr_expect(strstr(err, bad[i].want) != NULL, "%s: message: %s", bad[i].last, err);
        free(err);
        cr_expect(!file_exists(path_in("m3.csv")), "a refused merge wrote a file");
    }
}

/* ---- scan spec file ------------------------------------------------------------- */
Test(scan_cli, spec_file_equals_command_line, .init = make_dir, .fini = remove_dir)
{
    FILE *f = fopen(path_in("scan.json"), "w");
    cr_assert_not_null(f);
    fputs("{\"act\": [\"tanh\", \"leaky_relu:0.2\"], \"init\": \"he,normal\", \"sigma-w2\": [1.5],\n"
          " \"depth\": [3, 4], \"width\": 5, \"batch\": \"2\", \"seeds\": \"0-1\"}\n", f);
    fclose(f);
    const char *a1[] = {"scan", "--spec", path_in("scan.json"), "-o", path_in("a.csv"), NULL};
    const char *a2[] = {"scan", "--act", "tanh,leaky_relu:0.2", "--init", "he,normal",
                        "--sigma-w2", "1.5", "--depth", "3,4", "--width", "5", "--batch", "2",
                        "--seeds", "0-1", "-o", path_in("b.csv"), NULL};
    cr_assert_eq(run(ga_report_scan_main, NULL, NULL, a1), 0);
    cr_assert_eq(run(ga_report_scan_main, NULL, NULL, a2), 0);
    char *x = ga_test_slurp(path_in("a.csv"), NULL), *y = ga_test_slurp(path_in("b.csv"), NULL);
    cr_expect_str_eq(x, y, "spec file and command line differ");
    cr_expect(strstr(x, "leaky_relu,0.20000000000000001,") != NULL, "slope not applied");
    free(x);
    free(y);
    f = fopen(path_in("bad.json"), "w");
    cr_assert_not_null(f);
    fputs("{\"act\": [\"tanh\"], \"depht\": 3}\n", f);
    fclose(f);
    const char *a3[] = {"scan", "--spec", path_in("bad.json"), "-o", path_in("c.csv"), NULL};
    char *err;
    cr_expect_eq(run(ga_report_scan_main, NULL, &err, a3), 2);
    cr_expect(strstr(err, "depht") != NULL, "message does not name the key: %s", err);
    cr_expect(!file_exists(path_in("c.csv")));
    free(err);
}

/* ---- progress bar: on a terminal only ------------------------------------------------ */
Test(scan_cli, progress_bar_only_on_a_terminal, .init = make_dir, .fini = remove_dir)
{
    const char *args[] = {"scan", "--depth", "30", "--width", "64", "--seeds", "0-5", "-o",
                          path_in("p.csv"), NULL};
    char *seen;
    int status = ga_test_stderr_on_pty(&seen, ga_report_scan_main, args);
    cr_expect_eq(status, 0);
    cr_assert_not_null(seen, "nothing on the terminal");
    cr_expect(strstr(seen, "ETA") && strstr(seen, "/6 configurations"),
              "no progress bar on the terminal: %s", seen);
    size_t n = strlen(seen);
    cr_expect(n >= 4 && !strcmp(seen + n - 4, "\r\033[K") && !strchr(seen, '\n'),
              "the bar is not erased at the end: %s", seen);
    free(seen);
    char buf[4096];
    /* piped: nothing on stderr (csv_shape_and_numbers checks a file; here a pipe) */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        char *argv[16];
        int argc = 0;
        for (; args[argc]; argc++)
            argv[argc] = strdup(args[argc]);
        argv[argc] = NULL;
        _exit(ga_report_scan_main(argc, argv));
    }
    close(fds[1]);
    ssize_t r = read(fds[0], buf, sizeof buf);
    waitpid(pid, &status, 0);
    cr_expect_eq(r, 0, "stderr through a pipe was not empty");
    close(fds[0]);
}

/* ---- plot: gnuplot or a clear note ---------------------------------------------------- */
Test(scan_cli, plot_or_note, .init = make_dir, .fini = remove_dir)
{
    int have = system("command -v gnuplot >/dev/null 2>&1") == 0;
    const char *args[] = {"scan", "--act", "tanh,relu", "--depth", "6", "--width", "16",
                          "-o", path_in("p.csv"), "--plot", path_in("p.svg"), NULL};
    char *err;
    cr_assert_eq(run(ga_report_scan_main, NULL, &err, args), 0, "stderr: %s", err);
    cr_expect(file_exists(path_in("p.csv")), "CSV not written");
    if (have) {
        char *svg = ga_test_slurp(path_in("p.svg"), NULL);
        cr_assert_not_null(svg, "no plot although gnuplot is installed");
        cr_expect(strstr(svg, "<svg") != NULL, "not an SVG");
        /* the depth in every label, the vanishing threshold drawn and named */
        cr_expect(strstr(svg, "tanh normal L=6 ") != NULL, "no depth in the key");
        cr_expect(strstr(svg, "vanishing below 0.0001") != NULL, "no threshold line's label");
        free(svg);
    } else {
        cr_expect(strstr(err, "gnuplot is not installed") != NULL, "no note: %s", err);
        cr_expect(!file_exists(path_in("p.svg")), "a plot file without gnuplot");
    }
    free(err);
    const char *bad[] = {"scan", "--depth", "2", "--plot", path_in("p.jpg"), NULL};
    cr_expect_eq(run(ga_report_scan_main, NULL, NULL, bad), 2, ".jpg accepted");
    if (have) { /* a PDF as well: gnuplot's pdfcairo terminal */
        const char *pdf[] = {"scan", "--act", "tanh", "--depth", "4", "--width", "8",
                             "-o", path_in("q.csv"), "--plot", path_in("q.pdf"), NULL};
        cr_assert_eq(run(ga_report_scan_main, NULL, NULL, pdf), 0);
        size_t len = 0;
        char *body = ga_test_slurp(path_in("q.pdf"), &len);
        cr_assert_not_null(body, "no PDF written");
        cr_expect(len > 5 && memcmp(body, "%PDF-", 5) == 0, "not a PDF");
        free(body);
    }
}

/* gnuplot's own words reach the user when it fails (a fake gnuplot first on
 * PATH that fails as gnuplot does: the script line, a caret, the message),
 * and no plot file is left. */
Test(scan_cli, gnuplot_failure_says_what_gnuplot_said, .init = make_dir, .fini = remove_dir)
{
    const char *fake = path_in("gnuplot");
    FILE *f = fopen(fake, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\n"
          "echo 'plot \"data\" using 1:zz' >&2\n"
          "echo '                      ^' >&2\n"
          "echo '\"script\" line 7: undefined variable: zz' >&2\n"
          "exit 1\n", f);
    fclose(f);
    cr_assert_eq(chmod(fake, 0755), 0);
    const char *old_path = getenv("PATH");
    char *saved = strdup(old_path ? old_path : "/usr/bin:/bin");
    char path[2048];
    snprintf(path, sizeof path, "%s:%s", path_in(""), saved);
    setenv("PATH", path, 1);
    const char *args[] = {"scan", "--act", "tanh", "--depth", "4", "--width", "8",
                          "-o", path_in("p.csv"), "--plot", path_in("p.svg"), NULL};
    char *err;
    int rc = run(ga_report_scan_main, NULL, &err, args);
    setenv("PATH", saved, 1);
    free(saved);
    cr_expect_neq(rc, 0, "a failed plot reported success");
    cr_expect(strstr(err, "gnuplot failed (exit status 1)") != NULL, "%s", err);
    cr_expect(strstr(err, "gnuplot says: \"script\" line 7: undefined variable: zz") != NULL, "%s",
              err);
    cr_expect(!file_exists(path_in("p.svg")), "a plot file left by a failed gnuplot");
    free(err);
    unlink(fake);
}
