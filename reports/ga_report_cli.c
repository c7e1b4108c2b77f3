/* ga_report_cli.c: gradaudit scan and gradaudit merge (see ga_report_cli.h). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ga_report_cli.h"
#include "ga_sweep.h"

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void scan_usage(FILE *f)
{
    fputs(
        "usage: gradaudit scan [SWEEP OPTIONS] [-o OUT.csv] [--shard K/N] [--plot FILE.svg|.png]\n"
        "\n"
        "Measures vanishing/exploding gradients in deep random MLPs, one CSV row per\n"
        "(configuration, layer), with the mean-field prediction beside each measurement.\n"
        "Every axis takes a comma list; integer axes also take ranges A-B or A-B:STEP.\n"
        "\n"
        "sweep options (defaults in brackets):\n"
        "  --act LIST          identity, sigmoid, tanh, relu, leaky_relu[:SLOPE], elu[:ALPHA],\n"
        "                      softplus [tanh]\n"
        "  --init LIST         randn (N(0,1), unscaled), rand (U[0,1)), uniform (U(+-1/sqrt(fan_in))),\n"
        "                      xavier_normal, xavier_uniform, he, he_uniform, lecun,\n"
        "                      orthogonal (gain^2 = sigma_w2), normal (N(0, sigma_w2/fan_in)) [normal]\n"
        "  --sigma-w2 LIST     weight variance x fan_in, for normal and orthogonal [1]\n"
        "  --sigma-b2 LIST     bias variance [0]\n"
        "  --depth LIST        layers, 1..100000 [10]\n"
        "  --width LIST        units per layer (and input size) [64]\n"
        "  --batch LIST        samples [32]\n"
        "  --seeds LIST        NumPy legacy seeds, 0..4294967295 [0]\n"
        "  --spec FILE         a JSON object with any of the keys above (without dashes);\n"
        "                      options on the command line override it\n"
        "  --vanish-below X    vanished = 1 where ||delta_l||/||delta_L|| < X [1e-4]\n"
        "  --explode-above X   exploded = 1 where ||delta_l||/||delta_L|| > X [1e4]\n"
        "\n"
        "output:\n"
        "  -o, --output FILE   write the CSV atomically (temporary file + rename), every\n"
        "                      --checkpoint seconds and at the end; without -o, stdout\n"
        "  --checkpoint S      seconds between rewrites of FILE with the finished\n"
        "                      configurations [10]; 0 rewrites after each one\n"
        "  --shard K/N         run only configurations i with i mod N = K-1 (1 <= K <= N);\n"
        "                      gradaudit merge joins the shards' files\n"
        "  --plot FILE         log10 ||delta_l||/||delta_L|| against layer, one line per\n"
        "                      configuration, theory dashed (.svg or .png; needs gnuplot)\n"
        "  --memory-cap BYTES  refuse configurations needing more (suffix K, M, G) [8G]\n"
        "  --no-progress       no progress bar (it is drawn only when stderr is a terminal)\n"
        "\n"
        "The network, loss and columns are described in docs/scans.md.\n"
        "exit status: 0 ok, 2 bad input or usage (one message, no file written), 3 internal\n"
        "error, 130 interrupted (OUT then holds every finished configuration, or is untouched\n"
        "when none had finished).\n",
        f);
}

static int fail_usage(const char *cmd, const char *msg)
{
    fprintf(stderr, "gradaudit %s: %s\n", cmd, msg);
    return EXIT_USAGE;
}

static int parse_bytes(size_t *out, const char *s)
{
    char *e;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    double v = strtod(s, &e);
    double mul = 1;
    if (*e == 'K' || *e == 'k')
        mul = 1024.0, e++;
    else if (*e == 'M' || *e == 'm')
        mul = 1048576.0, e++;
    else if (*e == 'G' || *e == 'g')
        mul = 1073741824.0, e++;
    else if (*e == 'T' || *e == 't')
        mul = 1099511627776.0, e++;
    if (*e || errno || !(v * mul >= 1.0) || v * mul > 9.0e18)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

/* ---- progress bar ---------------------------------------------------------- */
typedef struct {
    int on;
    double t0, last;
    double total_work, done_work;
} progress;

static void progress_draw(progress *p, size_t done, size_t total, int final)
{
    if (!p->on)
        return;
    double t = now_s();
    if (!final && t - p->last < 0.2)
        return;
    p->last = t;
    double frac = p->total_work > 0 ? p->done_work / p->total_work : 1.0;
    char bar[31];
    int fill = (int)(frac * 30.0);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    char eta[32] = "--:--";
    if (frac > 0) {
        double rem = (t - p->t0) * (1.0 - frac) / frac;
        long s = (long)(rem + 0.5);
        snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    }
    fprintf(stderr, "\rscan [%s] %zu/%zu configurations %3d%% ETA %s ", bar, done, total,
            (int)(100.0 * frac), eta);
    if (final)
        fputs("\n", stderr);
    fflush(stderr);
}

/* ---- plot ------------------------------------------------------------------ */
static int have_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* Draws the finished configurations of csv (the CSV text) into path with gnuplot. */
static int plot(ga_error *err, const char *path, const ga_buf *csv, const ga_sweep *s,
                const size_t *idx, size_t n_idx)
{
    char data[] = "/tmp/gradaudit-plot-XXXXXX";
    int fd = mkstemp(data);
    if (fd < 0)
        return ga_fail(err, GA_EIO, "cannot create a temporary file for gnuplot: %s",
                       strerror(errno));
    FILE *df = fdopen(fd, "w");
    if (!df) {
        close(fd);
        unlink(data);
        return ga_fail(err, GA_EIO, "cannot write a temporary file for gnuplot");
    }
    fwrite(csv->data, 1, csv->len, df);
    fclose(df);
    size_t plen = strlen(path);
    char *tmp_out = malloc(plen + 16);
    ga_buf script = {0};
    int st = tmp_out ? GA_OK : GA_ENOMEM;
    if (st == GA_OK) {
        snprintf(tmp_out, plen + 16, "%s.tmp.XXXXXX", path);
        int ofd = mkstemp(tmp_out);
        if (ofd < 0)
            st = ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(errno));
        else
            close(ofd);
    }
    if (st == GA_OK) {
        char line[1024];
        snprintf(line, sizeof line,
                 "set terminal %s size 900,600\nset output '%s'\nset datafile separator ','\n"
                 "set xlabel 'layer l'\nset ylabel 'log10 ||dL/dh_l|| / ||dL/dh_L||'\n"
                 "set key outside right top noenhanced\nset grid\nplot ",
                 ends_with(path, ".png") ? "pngcairo" : "svg", tmp_out);
        ga_buf_append(&script, line, strlen(line));
        for (size_t k = 0; k < n_idx; k++) {
            ga_scan_config c;
            ga_sweep_config(&c, s, idx[k]);
            snprintf(line, sizeof line,
                     "%s'%s' skip 1 using 12:($1==%zu ? $22 : NaN) with lines lc %zu lw 1.5 "
                     "title '%s %s s_w2=%.4g s_b2=%.4g N=%zu B=%zu seed=%lu', "
                     "'%s' skip 1 using 12:($1==%zu ? $33 : NaN) with lines lc %zu dt 2 notitle",
                     k ? ", " : "", data, idx[k], k + 1, ga_activation_name(c.act),
                     ga_scan_init_name(c.init), c.sigma_w2, c.sigma_b2, c.width, c.batch,
                     (unsigned long)c.seed, data, idx[k], k + 1);
            ga_buf_append(&script, line, strlen(line));
        }
        ga_buf_append(&script, "\n", 1);
        FILE *gp = popen("gnuplot 2>/dev/null", "w");
        if (!gp)
            st = ga_fail(err, GA_EIO, "cannot run gnuplot");
        else {
            fwrite(script.data, 1, script.len, gp);
            int rc = pclose(gp);
            if (rc != 0)
                st = ga_fail(err, GA_EIO, "gnuplot failed (status %d) drawing %s", rc, path);
            else if (rename(tmp_out, path) != 0)
                st = ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(errno));
        }
        if (st != GA_OK)
            unlink(tmp_out);
    }
    unlink(data);
    free(tmp_out);
    ga_buf_free(&script);
    return st;
}

/* ---- scan ------------------------------------------------------------------ */
static const char *const sweep_keys[] = {"act", "init", "sigma-w2", "sigma-b2", "depth", "width",
                                         "batch", "seeds", "vanish-below", "explode-above"};

/* The value of option a (--key VALUE or --key=VALUE); NULL if a is not --key. */
static const char *opt_value(int *i, int argc, char **argv, const char *key, int *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(key);
    if (strncmp(a, key, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int ga_report_scan_main(int argc, char **argv)
{
    const char *cmd = argv[0] ? argv[0] : "scan";
    ga_sweep sw;
    ga_error err = {{0}};
    char msg[1200];
    if (ga_sweep_init(&sw, &err) != GA_OK) {
        fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
        return EXIT_INTERNAL;
    }
    const char *out_path = NULL, *plot_path = NULL, *shard_text = NULL;
    size_t cap = GA_DEFAULT_MEMORY_CAP;
    double checkpoint = 10.0;
    int no_progress = 0, rc = EXIT_OK;
    size_t *idx = NULL;
    ga_buf csv = {0};

    /* --spec first, so that command-line axes override it */
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v = opt_value(&i, argc, argv, "--spec", &missing);
        if (missing) {
            rc = fail_usage(cmd, "--spec needs a value");
            goto done;
        }
        if (v && ga_sweep_load(&sw, &err, v) != GA_OK) {
            rc = fail_usage(cmd, err.msg);
            goto done;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0, matched = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            scan_usage(stdout);
            goto done;
        }
        if (!strcmp(a, "--no-progress")) {
            no_progress = 1;
            continue;
        }
        for (size_t k = 0; k < sizeof sweep_keys / sizeof sweep_keys[0] && !matched; k++) {
            char key[32];
            snprintf(key, sizeof key, "--%s", sweep_keys[k]);
            if ((v = opt_value(&i, argc, argv, key, &missing)) != NULL) {
                matched = 1;
                if (ga_sweep_set(&sw, &err, sweep_keys[k], v) != GA_OK) {
                    rc = fail_usage(cmd, err.msg);
                    goto done;
                }
            }
        }
        if (matched)
            continue;
        if (!missing && (v = opt_value(&i, argc, argv, "--spec", &missing)) != NULL)
            continue;
        if (!missing && ((v = opt_value(&i, argc, argv, "--output", &missing)) != NULL ||
                         (!missing && (v = opt_value(&i, argc, argv, "-o", &missing)) != NULL))) {
            out_path = v;
            continue;
        }
        if (!missing && (v = opt_value(&i, argc, argv, "--shard", &missing)) != NULL) {
            shard_text = v;
            continue;
        }
        if (!missing && (v = opt_value(&i, argc, argv, "--plot", &missing)) != NULL) {
            plot_path = v;
            continue;
        }
        if (!missing && (v = opt_value(&i, argc, argv, "--memory-cap", &missing)) != NULL) {
            if (parse_bytes(&cap, v)) {
                snprintf(msg, sizeof msg, "--memory-cap: '%s' is not a size in bytes (suffix K, M, G)", v);
                rc = fail_usage(cmd, msg);
                goto done;
            }
            continue;
        }
        if (!missing && (v = opt_value(&i, argc, argv, "--checkpoint", &missing)) != NULL) {
            char *e;
            checkpoint = strtod(v, &e);
            if (*e || !(checkpoint >= 0) || !isfinite(checkpoint)) {
                snprintf(msg, sizeof msg, "--checkpoint: '%s' is not a number of seconds >= 0", v);
                rc = fail_usage(cmd, msg);
                goto done;
            }
            continue;
        }
        if (missing)
            snprintf(msg, sizeof msg, "%s needs a value", a);
        else
            snprintf(msg, sizeof msg, "unknown option '%s' (see gradaudit %s --help)", a, cmd);
        rc = fail_usage(cmd, msg);
        goto done;
    }

    size_t n_configs, shard_k = 1, shard_n = 1;
    if (ga_sweep_count(&n_configs, &err, &sw) != GA_OK) {
        rc = fail_usage(cmd, err.msg);
        goto done;
    }
    if (shard_text && ga_shard_parse(&shard_k, &shard_n, &err, shard_text) != GA_OK) {
        rc = fail_usage(cmd, err.msg);
        goto done;
    }
    /* every configuration checked before anything runs or is written */
    for (size_t i = 0; i < n_configs; i++) {
        ga_scan_config c;
        ga_sweep_config(&c, &sw, i);
        if (ga_scan_config_check(&err, &c, cap) != GA_OK) {
            snprintf(msg, sizeof msg, "configuration %zu (%s, %s, depth %zu, width %zu, batch %zu): %s%s",
                     i, ga_activation_name(c.act), ga_scan_init_name(c.init), c.depth, c.width,
                     c.batch, err.msg, strstr(err.msg, "memory cap") ? " (--memory-cap)" : "");
            rc = fail_usage(cmd, msg);
            goto done;
        }
    }
    if (plot_path && !ends_with(plot_path, ".svg") && !ends_with(plot_path, ".png")) {
        snprintf(msg, sizeof msg, "--plot: '%s' must end in .svg or .png", plot_path);
        rc = fail_usage(cmd, msg);
        goto done;
    }
    if ((out_path && ga_check_writable(&err, out_path) != GA_OK) ||
        (plot_path && ga_check_writable(&err, plot_path) != GA_OK)) {
        rc = fail_usage(cmd, err.msg);
        goto done;
    }
    size_t n_idx = 0;
    idx = malloc((n_configs / shard_n + 1) * sizeof *idx);
    if (!idx) {
        fprintf(stderr, "gradaudit %s: out of memory\n", cmd);
        rc = EXIT_INTERNAL;
        goto done;
    }
    progress pr = {0};
    pr.on = !no_progress && isatty(STDERR_FILENO);
    for (size_t i = shard_k - 1; i < n_configs; i += shard_n) {
        idx[n_idx++] = i;
        ga_scan_config c;
        ga_sweep_config(&c, &sw, i);
        pr.total_work += (double)c.depth * (double)c.width * (double)c.width * (double)c.batch;
    }

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    const char *hdr = ga_sweep_header();
    ga_buf_append(&csv, hdr, strlen(hdr));
    if (!out_path) {
        fputs(hdr, stdout);
        fflush(stdout);
    }
    pr.t0 = pr.last = now_s();
    double last_write = pr.t0;
    size_t done_n = 0;
    int interrupted = 0;
    progress_draw(&pr, 0, n_idx, 0);
    for (size_t k = 0; k < n_idx; k++) {
        ga_scan_config c;
        ga_sweep_config(&c, &sw, idx[k]);
        ga_scan_result r;
        int st = ga_scan_run(&r, &err, &c, cap, &g_stop);
        if (st == GA_SCAN_INTERRUPTED) {
            interrupted = 1;
            break;
        }
        if (st != GA_OK) {
            fprintf(stderr, "%sgradaudit %s: configuration %zu: %s\n", pr.on ? "\n" : "", cmd,
                    idx[k], err.msg);
            rc = EXIT_INTERNAL;
            break;
        }
        size_t before = csv.len;
        st = ga_sweep_rows(&csv, &sw, idx[k], n_configs, &c, &r);
        ga_scan_result_free(&r);
        if (st != GA_OK) {
            fprintf(stderr, "gradaudit %s: out of memory for the CSV\n", cmd);
            csv.len = before;
            rc = EXIT_INTERNAL;
            break;
        }
        done_n++;
        pr.done_work += (double)c.depth * (double)c.width * (double)c.width * (double)c.batch;
        if (!out_path) {
            fwrite(csv.data + before, 1, csv.len - before, stdout);
            fflush(stdout);
        } else if (now_s() - last_write >= checkpoint && k + 1 < n_idx) {
            if (ga_atomic_write(&err, out_path, csv.data, csv.len) != GA_OK) {
                fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
                rc = EXIT_INTERNAL;
                break;
            }
            last_write = now_s();
        }
        progress_draw(&pr, done_n, n_idx, 0);
        if (g_stop) {
            interrupted = k + 1 < n_idx;
            break;
        }
    }
    progress_draw(&pr, done_n, n_idx, 1);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    if (out_path && done_n > 0 &&
        ga_atomic_write(&err, out_path, csv.data, csv.len) != GA_OK) {
        fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
        rc = EXIT_INTERNAL;
    }
    if (interrupted) {
        if (out_path && done_n > 0)
            fprintf(stderr, "gradaudit %s: interrupted: %s holds the %zu finished of %zu "
                    "configurations\n", cmd, out_path, done_n, n_idx);
        else
            fprintf(stderr, "gradaudit %s: interrupted before a configuration finished; "
                    "nothing written\n", cmd);
        rc = GA_EXIT_INTERRUPTED;
    } else if (rc == EXIT_OK && out_path && done_n == 0) {
        /* an empty shard (K > number of configurations): the header alone */
        if (ga_atomic_write(&err, out_path, csv.data, csv.len) != GA_OK) {
            fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
            rc = EXIT_INTERNAL;
        }
    }
    if (rc == EXIT_OK && plot_path) {
        if (!have_gnuplot())
            fprintf(stderr, "gradaudit %s: gnuplot is not installed: no plot drawn, the CSV "
                    "alone was written (install gnuplot, e.g. apt-get install gnuplot-nox)\n", cmd);
        else if (plot(&err, plot_path, &csv, &sw, idx, n_idx) != GA_OK) {
            fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
            rc = EXIT_INTERNAL;
        }
    }
done:
    free(idx);
    ga_buf_free(&csv);
    ga_sweep_free(&sw);
    return rc;
}

/* ---- merge ----------------------------------------------------------------- */
int ga_report_merge_main(int argc, char **argv)
{
    const char *cmd = argv[0] ? argv[0] : "merge";
    const char *out_path = NULL;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    size_t n_in = 0;
    int rc = EXIT_OK;
    ga_error err = {{0}};
    ga_buf out = {0};
    if (!inputs)
        return EXIT_INTERNAL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs("usage: gradaudit merge SHARD.csv... -o OUT.csv\n"
                  "\n"
                  "Joins the CSVs of gradaudit scan --shard K/N runs (any order) into the bytes\n"
                  "one unsharded run writes. Refuses files of other sweeps, a configuration\n"
                  "present twice, or one missing (an absent or interrupted shard).\n"
                  "exit status: 0 ok, 2 bad input or usage (nothing written), 3 internal error.\n",
                  stdout);
            goto done;
        }
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) {
                rc = fail_usage(cmd, "-o needs a value");
                goto done;
            }
            out_path = argv[++i];
        } else if (!strncmp(a, "--output=", 9))
            out_path = a + 9;
        else if (a[0] == '-' && a[1] != '\0') {
            char msg[600];
            snprintf(msg, sizeof msg, "unknown option '%.500s' (see gradaudit %s --help)", a, cmd);
            rc = fail_usage(cmd, msg);
            goto done;
        } else
            inputs[n_in++] = a;
    }
    if (!out_path || n_in == 0) {
        rc = fail_usage(cmd, "usage: gradaudit merge SHARD.csv... -o OUT.csv");
        goto done;
    }
    if (ga_check_writable(&err, out_path) != GA_OK ||
        ga_sweep_merge(&out, &err, inputs, n_in) != GA_OK) {
        rc = fail_usage(cmd, err.msg);
        goto done;
    }
    if (ga_atomic_write(&err, out_path, out.data, out.len) != GA_OK) {
        fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
        rc = EXIT_INTERNAL;
    }
done:
    ga_buf_free(&out);
    free(inputs);
    return rc;
}

int ga_report_train_main(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gradaudit %s: not built yet\n", argv[0]);
    return EXIT_INTERNAL;
}
