/* ga_report_cli.c: gradaudit scan and gradaudit merge (see ga_report_cli.h). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ga_args.h"
#include "ga_csv.h"
#include "ga_io.h"
#include "ga_normlog.h"
#include "ga_random.h"
#include "ga_report_cli.h"
#include "ga_spec.h"
#include "ga_sweep.h"

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

static volatile sig_atomic_t g_stop;

/* the signal's number: the run stops between layers and exits 128 + it */
static void on_signal(int sig)
{
    g_stop = sig;
}

/* on_signal for SIGINT and SIGTERM while a long loop runs (it checks
 * g_stop between units of work); the previous handlers into *old_int,
 * *old_term for restore_signals */
static void stop_on_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

static void restore_signals(const struct sigaction *old_int, const struct sigaction *old_term)
{
    sigaction(SIGINT, old_int, NULL);
    sigaction(SIGTERM, old_term, NULL);
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
        "usage: gradaudit scan [SWEEP OPTIONS] [-o OUT.csv] [--shard K/N] [--plot FILE.svg|.png|.pdf]\n"
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
        "                      configuration, theory dashed (.svg, .png or .pdf; needs gnuplot)\n"
        "  --memory-cap BYTES  refuse configurations needing more (suffix K, M, G) [8G]\n"
        "  --no-progress       no progress bar (it is drawn only when stderr is a terminal)\n"
        "\n"
        "The network, loss and columns are described in docs/scans.md.\n"
        "exit status: 0 ok, 2 bad input or usage (one message, no file written), 3 internal\n"
        "error or a write that failed (a full disk: no partial file), 130/143 interrupted by\n"
        "SIGINT/SIGTERM (OUT then holds every finished configuration, or is untouched when\n"
        "none had finished).\n",
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
    int drawn; /* a line is on the terminal, to erase (progress_clear) */
    double t0, last;
    double total_work, done_work;
} progress;

/* "\r<erase><what> [####....] done/total <unit> pct ETA" on stderr, at most
 * every 0.2 s; the line stays unfinished until progress_clear */
static void progress_draw(progress *p, const char *what, const char *unit, size_t done,
                          size_t total)
{
    if (!p->on)
        return;
    double t = now_s();
    if (t - p->last < 0.2)
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
    ga_io_signals_line(1); /* from now on a signal's message erases it first */
    fprintf(stderr, "\r\033[K%s [%s] %zu/%zu %s %3d%% ETA %s", what, bar, done, total, unit,
            (int)(100.0 * frac), eta);
    fflush(stderr);
    p->drawn = 1;
}

/* Erases the line, if drawn, so that what follows on the terminal (a message,
 * a row on standard output, the shell's prompt) starts at column 0; the next
 * progress_draw draws it again. */
static void progress_clear(progress *p)
{
    if (!p->drawn)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    ga_io_signals_line(0);
    p->drawn = 0;
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

/* Removes a scratch file of scratch_open's and its registration. */
static void drop_temp(char *name)
{
    unlink(name);
    ga_io_temp_unregister(name);
}

/* Creates a scratch file for gnuplot in $TMPDIR (default /tmp): name (4096
 * bytes) receives its ".../gradaudit-plot-XXXXXX" name, registered for
 * removal on a signal; *out is it, open for writing. */
static int scratch_open(ga_error *err, char *name, FILE **out)
{
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir || strlen(tmpdir) > 4000 || strchr(tmpdir, '\''))
        tmpdir = "/tmp"; /* the names are quoted with ' in the script and the command */
    snprintf(name, 4096, "%s/gradaudit-plot-XXXXXX", tmpdir);
    int fd = mkstemp(name);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fd >= 0)
        ga_io_temp_register(name);
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            drop_temp(name);
        }
        return ga_fail(err, GA_EIO, "cannot create a temporary file for gnuplot: %s", strerror(e));
    }
    *out = f;
    return GA_OK;
}

/* Closes a scratch file of scratch_open's; on a write error (a full $TMPDIR
 * must not give gnuplot a torn file) removes it. bad: an earlier write failed. */
static int scratch_close(ga_error *err, char *name, FILE *f, int bad)
{
    int e = errno;
    if (fclose(f) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        drop_temp(name);
        return ga_fail(err, GA_EIO, "cannot write a temporary file for gnuplot: %s", strerror(e));
    }
    return GA_OK;
}

/* A scratch file holding len bytes of text. */
static int temp_with(ga_error *err, char *name, const char *text, size_t len)
{
    FILE *f;
    int st = scratch_open(err, name, &f);
    if (st != GA_OK)
        return st;
    return scratch_close(err, name, f, len && fwrite(text, 1, len, f) != len);
}

/* The one way gradaudit draws: gnuplot runs a script (body, after the
 * terminal's lines: svg or pngcairo by path's suffix) from a scratch file and
 * draws to its standard output, a pipe; the image is collected and written by
 * the shared atomic writer, so a full disk or a failed gnuplot leaves no
 * partial plot, and path needs no quoting in the script. Data files the body
 * names are the caller's scratch files. */
static int gnuplot_draw(ga_error *err, const char *path, const ga_buf *body, int extra_px)
{
    char script_name[4096];
    ga_buf image = {0};
    FILE *sf;
    int st = scratch_open(err, script_name, &sf);
    if (st != GA_OK)
        return st;
    /* svg, pngcairo or pdfcairo by the suffix; the pdf terminal's size is in inches */
    /* extra_px: room for a long key below the plot (100 px an inch in pdf) */
    int h = 600 + extra_px;
    int bad = ends_with(path, ".pdf")
                  ? fprintf(sf, "set terminal pdfcairo size 9in,%gin\nset output\n", h / 100.0) < 0
                  : fprintf(sf, "set terminal %s size 900,%d\nset output\n",
                            ends_with(path, ".png") ? "pngcairo" : "svg", h) < 0;
    bad |= body->len && fwrite(body->data, 1, body->len, sf) != body->len;
    st = scratch_close(err, script_name, sf, bad);
    if (st != GA_OK)
        return st;
    /* gnuplot's messages into a scratch file: its first line goes into ours
     * when it fails (a bare exit status tells a user nothing) */
    char err_name[4096];
    FILE *ef;
    if ((st = scratch_open(err, err_name, &ef)) != GA_OK) {
        drop_temp(script_name);
        return st;
    }
    fclose(ef);
    char cmdline[8400];
    snprintf(cmdline, sizeof cmdline, "gnuplot '%s' 2>'%s'", script_name, err_name);
    FILE *gp = popen(cmdline, "r");
    if (!gp)
        st = ga_fail(err, GA_EIO, "cannot run gnuplot");
    else {
        char chunk[65536];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, gp)) > 0 && st == GA_OK)
            st = ga_buf_append(&image, chunk, got);
        int rc = pclose(gp);
        if (st != GA_OK)
            st = ga_fail(err, st, "out of memory for the plot");
        else if (rc != 0 || image.len == 0) {
            char said[512] = "";
            FILE *ef2 = fopen(err_name, "r");
            /* the first line that says something: gnuplot echoes the script
             * line, then a caret line, then the message */
            for (char line[512]; ef2 && fgets(line, sizeof line, ef2);) {
                line[strcspn(line, "\n")] = '\0';
                const char *t = line + strspn(line, " \t^");
                if (*t && (strstr(t, "error") || strstr(t, "line ") || !said[0]))
                    snprintf(said, sizeof said, "%s", t);
                if (strstr(t, "error") || strstr(t, "\"/"))
                    break;
            }
            if (ef2)
                fclose(ef2);
            st = ga_fail(err, GA_EIO, "gnuplot failed (%s %d) drawing %s%s%s",
                         WIFEXITED(rc) ? "exit status" : "status",
                         WIFEXITED(rc) ? WEXITSTATUS(rc) : rc, path, said[0] ? ": gnuplot says: " : "",
                         said);
        }
        else
            st = ga_atomic_write(err, path, image.data, image.len);
    }
    drop_temp(script_name);
    drop_temp(err_name);
    ga_buf_free(&image);
    return st;
}

/* Draws the finished configurations of csv (the CSV text) into path with
 * gnuplot (gnuplot_draw), the CSV in a scratch file. */
static int plot(ga_error *err, const char *path, const ga_buf *csv, const ga_sweep *s,
                const size_t *idx, size_t n_idx)
{
    char data[4096];
    int st = temp_with(err, data, csv->data, csv->len);
    if (st != GA_OK)
        return st;
    ga_buf script = {0};
    char line[9000]; /* two data file names of up to 4 KiB each */
    snprintf(line, sizeof line,
             "set datafile separator ','\n"
             "set xlabel 'layer l'\nset ylabel 'log10 ||dL/dh_l|| / ||dL/dh_L||' noenhanced\n"
             "set title 'measured (solid) and mean-field prediction (dashed)'\n"
             /* a key of three columns below the plot, the plot taller for each row */
             "set key below horizontal noenhanced maxcols 3 font ',8' samplen 2 width -4\n"
             "set grid\n"
             /* the health thresholds as dotted lines at log10 of each (lv, le),
              * the y range stretched to hold both */
             "lv = log10(%.17g); le = log10(%.17g)\n"
             "set yrange [* < lv - 0.5 : le + 0.5 < *]\n"
             "set arrow from graph 0, first lv to graph 1, first lv nohead dt 3 lc rgb 'gray30'\n"
             "set label 'vanishing below %g' at graph 0.01, first lv offset 0,-0.7 "
             "font ',9' tc rgb 'gray30'\n"
             "set arrow from graph 0, first le to graph 1, first le nohead dt 3 lc rgb 'gray30'\n"
             "set label 'exploding above %g' at graph 0.01, first le offset 0,0.7 "
             "font ',9' tc rgb 'gray30'\n"
             "plot ",
             s->vanish_below, s->explode_above, s->vanish_below, s->explode_above);
    st = ga_buf_append(&script, line, strlen(line));
    for (size_t k = 0; k < n_idx && st == GA_OK; k++) {
        ga_scan_config c;
        ga_sweep_config(&c, s, idx[k]);
        snprintf(line, sizeof line,
                 "%s'%s' skip 1 using 12:($1==%zu ? $22 : NaN) with lines lc %zu lw 1.5 "
                 "title '%s %s L=%zu s_w2=%.4g s_b2=%.4g N=%zu B=%zu seed=%lu', "
                 "'%s' skip 1 using 12:($1==%zu ? $33 : NaN) with lines lc %zu dt 2 notitle",
                 k ? ", " : "", data, idx[k], k + 1, ga_activation_name(c.act),
                 ga_scan_init_name(c.init), c.depth, c.sigma_w2, c.sigma_b2, c.width, c.batch,
                 (unsigned long)c.seed, data, idx[k], k + 1);
        st = ga_buf_append(&script, line, strlen(line));
    }
    if (st == GA_OK)
        st = ga_buf_append(&script, "\n", 1);
    if (st == GA_OK)
        st = gnuplot_draw(err, path, &script, 15 * (int)((n_idx + 2) / 3));
    else
        st = ga_fail(err, st, "out of memory for the plot");
    drop_temp(data);
    ga_buf_free(&script);
    return st;
}

/* ---- scan ------------------------------------------------------------------ */
/* The bar during one configuration: its share of the work by layers done. */
typedef struct {
    progress *pr;
    size_t done_configs, n_configs;
    double work, base; /* the configuration's work; the work done before it */
} scan_progress;

static void scan_layer_progress(void *ctx, size_t done, size_t total)
{
    scan_progress *sp = ctx;
    sp->pr->done_work = sp->base + sp->work * (double)done / (double)(total ? total : 1);
    progress_draw(sp->pr, "scan", "configurations", sp->done_configs, sp->n_configs);
}

static const char *const sweep_keys[] = {"act", "init", "sigma-w2", "sigma-b2", "depth", "width",
                                         "batch", "seeds", "vanish-below", "explode-above"};

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
    size_t *idx = NULL, n_specs = 0;
    ga_buf csv = {0};
    const char **specs = calloc((size_t)argc, sizeof *specs);
    if (!specs) {
        fprintf(stderr, "gradaudit %s: out of memory\n", cmd);
        ga_sweep_free(&sw);
        return EXIT_INTERNAL;
    }

    /* the axes are applied after every --spec, so that the command line
     * overrides the files; kept here in their order meanwhile */
    enum { AXIS = 0x100, SPEC = 0x200, SHARD, PLOT, CAP, CHECKPOINT, NO_PROGRESS };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'}, {"act", required_argument, 0, AXIS + 0},
        {"init", required_argument, 0, AXIS + 1}, {"sigma-w2", required_argument, 0, AXIS + 2},
        {"sigma-b2", required_argument, 0, AXIS + 3}, {"depth", required_argument, 0, AXIS + 4},
        {"width", required_argument, 0, AXIS + 5}, {"batch", required_argument, 0, AXIS + 6},
        {"seeds", required_argument, 0, AXIS + 7}, {"vanish-below", required_argument, 0, AXIS + 8},
        {"explode-above", required_argument, 0, AXIS + 9}, {"spec", required_argument, 0, SPEC},
        {"output", required_argument, 0, 'o'}, {"shard", required_argument, 0, SHARD},
        {"plot", required_argument, 0, PLOT}, {"memory-cap", required_argument, 0, CAP},
        {"checkpoint", required_argument, 0, CHECKPOINT},
        {"no-progress", no_argument, 0, NO_PROGRESS}, {0, 0, 0, 0}};
    int *axis_keys = calloc((size_t)argc, sizeof *axis_keys);
    const char **axis_values = calloc((size_t)argc, sizeof *axis_values);
    size_t n_axes = 0;
    int c = 0, status = 0;
    if (!axis_keys || !axis_values) {
        fprintf(stderr, "gradaudit %s: out of memory\n", cmd);
        rc = EXIT_INTERNAL;
        goto parsed;
    }
    ga_args_begin();
    while ((c = ga_args_next(&status, cmd, argc, argv, "ho:", opts)) != GA_ARGS_END) {
        const char *v = optarg;
        if (c == GA_ARGS_STOP || c == GA_ARGS_HELP) {
            if (c == GA_ARGS_HELP)
                scan_usage(stdout);
            rc = status;
            goto parsed;
        }
        if (c >= AXIS && c < AXIS + 10) {
            axis_keys[n_axes] = c - AXIS;
            axis_values[n_axes++] = v;
        } else if (c == SPEC) {
            if (ga_sweep_load(&sw, &err, v) != GA_OK) {
                rc = fail_usage(cmd, err.msg);
                goto parsed;
            }
            specs[n_specs++] = v;
        } else if (c == 'o') {
            out_path = v;
        } else if (c == SHARD) {
            shard_text = v;
        } else if (c == PLOT) {
            plot_path = v;
        } else if (c == NO_PROGRESS) {
            no_progress = 1;
        } else if (c == CAP && parse_bytes(&cap, v)) {
            rc = ga_args_usage_error(cmd, "--memory-cap: '%s' is not a size in bytes (suffix K, M, G)", v);
            goto parsed;
        } else if (c == CHECKPOINT) {
            char *e;
            checkpoint = strtod(v, &e);
            if (*e || !(checkpoint >= 0) || !isfinite(checkpoint)) {
                rc = ga_args_usage_error(cmd, "--checkpoint: '%s' is not a number of seconds >= 0", v);
                goto parsed;
            }
        }
    }
    if (optind < argc) {
        rc = ga_args_usage_error(cmd, "unexpected argument '%s' (scan takes options only)", argv[optind]);
        goto parsed;
    }
    for (size_t k = 0; k < n_axes; k++)
        if (ga_sweep_set(&sw, &err, sweep_keys[axis_keys[k]], axis_values[k]) != GA_OK) {
            rc = ga_args_usage_error(cmd, "%s", err.msg);
            break;
        }
parsed:
    free(axis_keys);
    free(axis_values);
    if (rc != EXIT_OK || c == GA_ARGS_HELP || c == GA_ARGS_STOP)
        goto done;

    /* "-o -" is standard output, streamed as without -o; a device or a pipe
     * is written once, at the end: checkpoints would repeat the rows */
    if (out_path && !strcmp(out_path, "-"))
        out_path = NULL;
    if (out_path && ga_path_is_direct(out_path))
        checkpoint = INFINITY;
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
    if (plot_path && !ends_with(plot_path, ".svg") && !ends_with(plot_path, ".png") &&
        !ends_with(plot_path, ".pdf")) {
        snprintf(msg, sizeof msg, "--plot: '%s' must end in .svg, .png or .pdf", plot_path);
        rc = fail_usage(cmd, msg);
        goto done;
    }
    if ((out_path && (ga_path_writable(&err, out_path) != GA_OK ||
                      ga_path_distinct(&err, out_path, specs, n_specs) != GA_OK)) ||
        (plot_path && (ga_path_writable(&err, plot_path) != GA_OK ||
                       ga_path_distinct(&err, plot_path, specs, n_specs) != GA_OK ||
                       (out_path && !strcmp(out_path, plot_path) &&
                        ga_fail(&err, GA_EINVAL, "--plot %s: is also the CSV's -o", plot_path))))) {
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

    struct sigaction old_int, old_term;
    stop_on_signals(&old_int, &old_term);

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
    pr.last = pr.t0 - 1.0; /* drawn at once */
    progress_draw(&pr, "scan", "configurations", 0, n_idx);
    for (size_t k = 0; k < n_idx; k++) {
        ga_scan_config c;
        ga_sweep_config(&c, &sw, idx[k]);
        /* within a configuration too: a deep one takes minutes */
        scan_progress sp = {&pr, done_n, n_idx,
                            (double)c.depth * (double)c.width * (double)c.width * (double)c.batch,
                            pr.done_work};
        if (pr.on) {
            c.progress = scan_layer_progress;
            c.progress_ctx = &sp;
        }
        ga_scan_result r;
        int st = ga_scan_run(&r, &err, &c, cap, &g_stop);
        if (st == GA_SCAN_INTERRUPTED) {
            interrupted = 1;
            break;
        }
        if (st != GA_OK) {
            progress_clear(&pr);
            fprintf(stderr, "gradaudit %s: configuration %zu: %s\n", cmd, idx[k], err.msg);
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
        pr.done_work = sp.base + sp.work; /* whatever the layers' calls left */
        if (!out_path) {
            progress_clear(&pr); /* standard output may be the same terminal */
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
        progress_draw(&pr, "scan", "configurations", done_n, n_idx);
        if (g_stop) {
            interrupted = k + 1 < n_idx;
            break;
        }
    }
    progress_clear(&pr);
    restore_signals(&old_int, &old_term);

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
        rc = 128 + (g_stop ? (int)g_stop : SIGINT);
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
    free(specs);
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
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"output", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    int c, status = 0;
    ga_args_begin();
    while ((c = ga_args_next(&status, cmd, argc, argv, "ho:", opts)) != GA_ARGS_END) {
        if (c == GA_ARGS_STOP) {
            rc = status;
            goto done;
        }
        if (c == GA_ARGS_HELP) {
            fputs("usage: gradaudit merge SHARD.csv... -o OUT.csv\n"
                  "\n"
                  "Joins the CSVs of gradaudit scan --shard K/N runs (any order) into the bytes\n"
                  "one unsharded run writes. Refuses files of other sweeps, a configuration\n"
                  "present twice, or one missing (an absent or interrupted shard).\n"
                  "-o - writes to standard output.\n"
                  "exit status: 0 ok, 2 bad input or usage (nothing written), 3 internal error\n"
                  "or a write that failed (a full disk), 130/143 interrupted.\n",
                  stdout);
            goto done;
        }
        if (c == 'o')
            out_path = optarg;
    }
    for (int i = optind; i < argc; i++)
        inputs[n_in++] = argv[i];
    if (!out_path || n_in == 0) {
        rc = ga_args_usage_error(cmd, "%s", !out_path ? "missing -o OUT.csv" : "missing SHARD.csv");
        goto done;
    }
    if (ga_path_writable(&err, out_path) != GA_OK ||
        ga_path_distinct(&err, out_path, inputs, n_in) != GA_OK ||
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

/* ---- train ----------------------------------------------------------------- */
static void train_usage(FILE *f)
{
    fputs(
        "usage: gradaudit train SPEC.json --norms FILE.csv [--optimizer sgd|momentum|adam]\n"
        "                       [--lr X] [--epochs N] [--steps N] [--batch-size N]\n"
        "                       [--shuffle-seed S] [--clip MAX] [--clip-eps E] [--seed S]\n"
        "                       [--plot FILE.svg|.png|.pdf] [--no-progress] [--lightning]\n"
        "\n"
        "Trains the spec's network on its data and writes, per optimizer step, the\n"
        "gradient-norm row of docs/norms.md (the columns of the logging API): the loss\n"
        "and the gradient of the step's batch before clipping, each tensor's norm,\n"
        "max |g|, NaN/Inf counts, update ratio and flags, the global norm before and\n"
        "after clipping, and whether clipping fired. Then the optimizer step uses the\n"
        "(clipped) gradient. Rows are written as the steps happen (tail -f works).\n"
        "\n"
        "options (defaults in brackets):\n"
        "  --norms FILE        the CSV (required), created or truncated at the start and\n"
        "                      written in place, row by row (no temporary file); - is\n"
        "                      standard output\n"
        "  --optimizer NAME    sgd: p -= lr g; momentum: v = mu v + g, p -= lr v;\n"
        "                      adam (Kingma & Ba, bias-corrected) [sgd]\n"
        "  --lr X              learning rate [0.1]\n"
        "  --epochs N          1..10000000 [100, or unlimited with --steps]\n"
        "  --steps N           stop after N optimizer steps, 1..1000000000\n"
        "  --batch-size N      mini-batches of N samples, the samples shuffled at every\n"
        "                      epoch; the last batch of an epoch may be smaller [all:\n"
        "                      full batch, one step per epoch, no shuffling]\n"
        "  --shuffle-seed S    the shuffling's seed, printed on stderr [0]\n"
        "  --momentum MU       for momentum [0.9]\n"
        "  --beta1 B --beta2 B --adam-eps E   for adam [0.9, 0.999, 1e-8]\n"
        "  --clip MAX          clip the global norm: g *= MAX / (norm + eps) when that is < 1\n"
        "  --clip-eps E        eps above [0; 1e-6 is the tutorials' variant]\n"
        "  --seed S            override the spec's init seed\n"
        "  --plot FILE         log10 of each tensor's norm and of the global norm against\n"
        "                      the step, clipped steps marked (.svg, .png or .pdf; needs gnuplot)\n"
        "  --no-progress       no progress line (it is drawn only when stderr is a terminal)\n"
        "  --lightning         Lightning's column names: grad_2.0_norm/W1 ... and\n"
        "                      grad_2.0_norm_total\n"
        "\n"
        "exit status: 0 ok, 1 the loss or a gradient became NaN/Inf (rows up to that step are\n"
        "written), 2 bad input or usage (no file written), 3 internal error or a failed\n"
        "write (a full disk: the rows of the steps before it stay, no partial row),\n"
        "130/143 interrupted by SIGINT/SIGTERM (the rows of the finished steps stay).\n",
        f);
}

static int parse_pos_double(double *out, const char *s, int allow_zero)
{
    char *e;
    if (!*s)
        return -1;
    double v = strtod(s, &e);
    if (*e || !isfinite(v) || v < 0 || (!allow_zero && v == 0))
        return -1;
    *out = v;
    return 0;
}

/* a decimal integer in lo..hi, nothing else */
static int parse_count(unsigned long long *out, const char *v, unsigned long long lo,
                       unsigned long long hi)
{
    char *e;
    errno = 0;
    unsigned long long n = (*v >= '0' && *v <= '9') ? strtoull(v, &e, 10) : 0;
    if (*v < '0' || *v > '9' || *e || errno || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

/* gnuplot (gnuplot_draw): log10 of every tensor's norm and of the global norm
 * against the step, clipped steps marked. data: a scratch file of train's, one
 * line per step: step, each tensor's norm, global norm, clipped (0/1). */
static int train_plot(ga_error *err, const char *path, const char *data, const ga_net *net)
{
    ga_buf script = {0};
    char line[9000]; /* two data file names of up to 4 KiB each */
    size_t glob = 2 + net->n_views;
    snprintf(line, sizeof line,
             "set datafile separator ','\nset key below noenhanced\nset grid\n"
             "set xlabel 'step'\nset ylabel 'log10 gradient norm'\n"
             "set title 'gradient norms (clipped steps marked x)' noenhanced\nplot ");
    int st = ga_buf_append(&script, line, strlen(line));
    for (size_t v = 0; v < net->n_views && st == GA_OK; v++) {
        snprintf(line, sizeof line, "'%s' using 1:(log10($%zu)) with lines title '%s', ",
                 data, 2 + v, net->views[v].name);
        st = ga_buf_append(&script, line, strlen(line));
    }
    snprintf(line, sizeof line,
             "'%s' using 1:(log10($%zu)) with lines lw 2 lc rgb 'black' title 'global', "
             "'%s' using 1:($%zu == 1 ? log10($%zu) : NaN) with points pt 2 ps 1 "
             "lc rgb 'red' title 'clipped'\n",
             data, glob, data, glob + 1, glob);
    if (st == GA_OK)
        st = ga_buf_append(&script, line, strlen(line));
    if (st == GA_OK)
        st = gnuplot_draw(err, path, &script, 0);
    else
        ga_fail(err, st, "out of memory for the plot");
    ga_buf_free(&script);
    return st;
}

int ga_report_train_main(int argc, char **argv)
{
    const char *cmd = argv[0] ? argv[0] : "train";
    const char *spec_path = NULL, *norms = NULL, *opt_name = "sgd", *plot_path = NULL;
    double lr = 0.1, mu = 0.9, b1 = 0.9, b2 = 0.999, aeps = 1e-8, clip = -1.0, clip_eps = 0.0;
    unsigned long long epochs = 100, max_steps = 0, batch_size = 0, sseed = 0, n = 0;
    uint32_t seed = 0;
    int have_seed = 0, have_epochs = 0, no_progress = 0, lightning = 0, rc = EXIT_OK;
    ga_error err = {{0}};
    struct { const char *key; double *dst; int zero_ok; } dopts[] = {
        {"lr", &lr, 0}, {"momentum", &mu, 1}, {"beta1", &b1, 1}, {"beta2", &b2, 1},
        {"adam-eps", &aeps, 1}, {"clip", &clip, 0}, {"clip-eps", &clip_eps, 1}};
    /* integer options: name, destination, range */
    struct { const char *key; unsigned long long *dst, lo, hi; int *flag; } iopts[] = {
        {"epochs", &epochs, 1, 10000000ULL, &have_epochs},
        {"steps", &max_steps, 1, 1000000000ULL, NULL},
        {"batch-size", &batch_size, 1, SIZE_MAX, NULL},
        {"shuffle-seed", &sseed, 0, UINT32_MAX, NULL},
        {"seed", &n, 0, UINT32_MAX, &have_seed}};
    enum { DOUBLE = 0x100, INTEGER = 0x200, NORMS = 0x300, OPTIMIZER, PLOT, NO_PROGRESS, LIGHTNING };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'}, {"lr", required_argument, 0, DOUBLE + 0},
        {"momentum", required_argument, 0, DOUBLE + 1}, {"beta1", required_argument, 0, DOUBLE + 2},
        {"beta2", required_argument, 0, DOUBLE + 3}, {"adam-eps", required_argument, 0, DOUBLE + 4},
        {"clip", required_argument, 0, DOUBLE + 5}, {"clip-eps", required_argument, 0, DOUBLE + 6},
        {"epochs", required_argument, 0, INTEGER + 0}, {"steps", required_argument, 0, INTEGER + 1},
        {"batch-size", required_argument, 0, INTEGER + 2},
        {"shuffle-seed", required_argument, 0, INTEGER + 3}, {"seed", required_argument, 0, INTEGER + 4},
        {"norms", required_argument, 0, NORMS}, {"optimizer", required_argument, 0, OPTIMIZER},
        {"plot", required_argument, 0, PLOT}, {"no-progress", no_argument, 0, NO_PROGRESS},
        {"lightning", no_argument, 0, LIGHTNING}, {0, 0, 0, 0}};
    int c, status = 0;
    ga_args_begin();
    while ((c = ga_args_next(&status, cmd, argc, argv, "h", opts)) != GA_ARGS_END) {
        const char *v = optarg;
        if (c == GA_ARGS_STOP)
            return status;
        if (c == GA_ARGS_HELP) {
            train_usage(stdout);
            return EXIT_OK;
        }
        if (c >= DOUBLE && c < DOUBLE + 7) {
            const int k = c - DOUBLE;
            if (parse_pos_double(dopts[k].dst, v, dopts[k].zero_ok))
                return ga_args_usage_error(cmd, "--%s: '%.200s' is not a finite %s number",
                                           dopts[k].key, v, dopts[k].zero_ok ? "non-negative" : "positive");
        } else if (c >= INTEGER && c < INTEGER + 5) {
            const int k = c - INTEGER;
            if (parse_count(iopts[k].dst, v, iopts[k].lo, iopts[k].hi))
                return ga_args_usage_error(cmd, "--%s: '%.200s' is not an integer in %llu..%llu",
                                           iopts[k].key, v, iopts[k].lo, iopts[k].hi);
            if (iopts[k].flag)
                *iopts[k].flag = 1;
            if (iopts[k].dst == &n)
                seed = (uint32_t)n;
        } else if (c == NORMS) {
            norms = v;
        } else if (c == PLOT) {
            plot_path = v;
        } else if (c == NO_PROGRESS) {
            no_progress = 1;
        } else if (c == LIGHTNING) {
            lightning = 1;
        } else if (c == OPTIMIZER) {
            if (strcmp(v, "sgd") && strcmp(v, "momentum") && strcmp(v, "adam"))
                return ga_args_usage_error(cmd, "--optimizer: unknown '%.200s' (sgd, momentum, adam)", v);
            opt_name = v;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (spec_path)
            return ga_args_usage_error(cmd, "unexpected argument '%.200s': one spec file only", argv[i]);
        spec_path = argv[i];
    }
    if (!spec_path || !norms)
        return ga_args_usage_error(cmd, "%s", !spec_path ? "missing SPEC.json" : "missing --norms FILE.csv");
    if (b1 >= 1.0 || b2 >= 1.0)
        return ga_args_usage_error(cmd, "--beta1 and --beta2 must be below 1");
    if (plot_path && !ends_with(plot_path, ".svg") && !ends_with(plot_path, ".png") &&
        !ends_with(plot_path, ".pdf"))
        return ga_args_usage_error(cmd, "--plot: '%.200s' must end in .svg, .png or .pdf", plot_path);
    const char *const inputs[] = {spec_path};
    if (ga_path_writable(&err, norms) != GA_OK || ga_path_distinct(&err, norms, inputs, 1) != GA_OK ||
        (plot_path && (ga_path_writable(&err, plot_path) != GA_OK ||
                       ga_path_distinct(&err, plot_path, inputs, 1) != GA_OK ||
                       (!strcmp(norms, plot_path) &&
                        ga_fail(&err, GA_EINVAL, "--plot %s: is also the --norms file", plot_path)) ||
                       ga_path_distinct(&err, plot_path, (const char *const[]){norms}, 1) != GA_OK)))
        return fail_usage(cmd, err.msg);
    if (max_steps && !have_epochs)
        epochs = ULLONG_MAX; /* --steps alone decides */

    ga_spec *spec = NULL;
    ga_net *net = NULL;
    ga_workspace *ws = NULL;
    ga_normlog *log = NULL;
    double *s1 = NULL, *s2 = NULL, *xb = NULL, *yb = NULL;
    size_t *perm = NULL;
    int st = ga_spec_load(&spec, &err, spec_path, 0);
    if (st == GA_OK)
        st = ga_spec_make_net(&net, &err, spec, seed, have_seed && spec->has_init);
    if (st == GA_OK && have_seed && !spec->has_init)
        st = ga_fail(&err, GA_EINVAL, "%s: --seed needs a spec with parameters.init", spec_path);
    if (st == GA_OK && batch_size > spec->batch)
        st = ga_fail(&err, GA_EINVAL, "--batch-size %llu: the spec %s has %zu samples",
                     batch_size, spec_path, spec->batch);
    if (st != GA_OK) {
        rc = (st == GA_ENOMEM && !strstr(err.msg, "cap")) ? EXIT_INTERNAL : EXIT_USAGE;
        fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
        goto done;
    }
    size_t B = spec->batch, nb = batch_size ? (size_t)batch_size : B;
    size_t n_in = net->desc.n_in, n_out = net->desc.layers[net->desc.n_layers - 1].n_out;
    size_t np = net->n_params;
    st = ga_workspace_alloc(&ws, &err, net, B);
    s1 = calloc(np ? np : 1, sizeof *s1);
    s2 = calloc(np ? np : 1, sizeof *s2);
    xb = malloc(nb * n_in * sizeof *xb);
    yb = malloc(nb * n_out * sizeof *yb);
    perm = malloc(B * sizeof *perm);
    ga_normlog_tensor *t = calloc(net->n_views, sizeof *t);
    const double **gp = calloc(net->n_views, sizeof *gp), **pp = calloc(net->n_views, sizeof *pp);
    if (st != GA_OK || !s1 || !s2 || !xb || !yb || !perm || !t || !gp || !pp) {
        fprintf(stderr, "gradaudit %s: out of memory\n", cmd);
        rc = EXIT_INTERNAL;
        free(t), free(gp), free(pp);
        goto done;
    }
    for (size_t v = 0; v < net->n_views; v++) {
        const ga_view *vw = &net->views[v];
        t[v] = (ga_normlog_tensor){vw->name, 2, {vw->rows, vw->cols}};
        gp[v] = net->grads + vw->offset;
        pp[v] = net->params + vw->offset;
    }
    ga_normlog_options lo;
    ga_normlog_options_default(&lo);
    lo.lightning_names = lightning;
    /* "-" is standard output, as for every command's output */
    st = !strcmp(norms, "-") ? ga_normlog_open_fd(&log, &err, STDOUT_FILENO, "-", t, net->n_views, &lo)
                             : ga_normlog_open(&log, &err, norms, t, net->n_views, &lo);
    free(t);
    if (st != GA_OK) {
        fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
        rc = EXIT_INTERNAL; /* norms was found writable: a failed write (a full disk) */
        free(gp), free(pp);
        goto done;
    }
    /* --plot: the norms gnuplot draws, one line per step (step, each tensor's
     * norm, global norm, clipped), in a scratch file of $TMPDIR: the log itself
     * may be a pipe or a device, and its name needs no quoting */
    char plot_data[4096];
    FILE *pf = NULL;
    int pf_bad = 0;
    if (plot_path && have_gnuplot() && scratch_open(&err, plot_data, &pf) != GA_OK) {
        fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
        rc = EXIT_INTERNAL;
        free(gp), free(pp);
        goto done;
    }
    size_t per_epoch = (B + nb - 1) / nb;
    if (batch_size)
        fprintf(stderr, "gradaudit %s: mini-batches of %zu of %zu samples, %zu steps per epoch, "
                "shuffled at every epoch from --shuffle-seed %llu\n", cmd, nb, B, per_epoch,
                sseed);
    ga_rng rng;
    ga_rng_seed(&rng, (uint32_t)sseed);
    for (size_t i = 0; i < B; i++)
        perm[i] = i;
    unsigned long long total = max_steps ? max_steps : epochs * per_epoch;
    progress pr = {0};
    pr.on = !no_progress && isatty(STDERR_FILENO);
    pr.t0 = now_s();
    pr.last = pr.t0 - 1.0; /* the first step draws at once */
    pr.total_work = (double)total;
    int rows_direct = pr.on && ga_path_is_direct(norms);
    ga_normlog_clip cl = {clip, clip_eps};
    unsigned long long step = 0;
    /* SIGINT/SIGTERM stop the loop between steps: every row written so far is
     * whole (ga_normlog_step holds signals while it writes one) and stays */
    struct sigaction old_int, old_term;
    stop_on_signals(&old_int, &old_term);
    for (unsigned long long ep = 1;
         ep <= epochs && (!max_steps || step < max_steps) && rc == EXIT_OK && !g_stop; ep++) {
        if (batch_size)
            for (size_t i = B; i > 1; i--) { /* Fisher-Yates, unbiased by rejection */
                uint32_t lim = UINT32_MAX - UINT32_MAX % (uint32_t)i, r;
                do
                    r = ga_rng_u32(&rng);
                while (r >= lim);
                size_t j = r % (uint32_t)i, tmp = perm[i - 1];
                perm[i - 1] = perm[j], perm[j] = tmp;
            }
        for (size_t start = 0; start < B && (!max_steps || step < max_steps) && !g_stop;
             start += nb) {
            size_t m = B - start < nb ? B - start : nb;
            const double *x = spec->x, *y = spec->y;
            if (batch_size) {
                for (size_t r = 0; r < m; r++) {
                    memcpy(xb + r * n_in, spec->x + perm[start + r] * n_in, n_in * sizeof *xb);
                    memcpy(yb + r * n_out, spec->y + perm[start + r] * n_out, n_out * sizeof *yb);
                }
                x = xb, y = yb;
            }
            double loss;
            step++;
            st = ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, x, y, m);
            if (st != GA_OK && st != GA_ENONFINITE) {
                progress_clear(&pr);
                fprintf(stderr, "gradaudit %s: step %llu: %s\n", cmd, step, ga_strerror(st));
                rc = EXIT_INTERNAL;
                break;
            }
            if (rows_direct) /* the row may go to this terminal */
                progress_clear(&pr);
            st = ga_normlog_step(log, &err, step, loss, gp, pp, clip > 0 ? &cl : NULL);
            if (st != GA_OK) {
                progress_clear(&pr);
                fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
                rc = EXIT_INTERNAL;
                break;
            }
            ga_normlog_last last;
            ga_normlog_last_step(&last, log);
            if (pf && !pf_bad) {
                pf_bad |= fprintf(pf, "%llu", step) < 0;
                for (size_t v = 0; v < net->n_views; v++)
                    pf_bad |= fprintf(pf, ",%.17g", last.tensors[v].norm) < 0;
                pf_bad |= fprintf(pf, ",%.17g,%d\n", last.global_norm, last.clipped) < 0;
            }
            if (!isfinite(loss) || !isfinite(last.global_norm)) {
                progress_clear(&pr);
                fprintf(stderr, "gradaudit %s: the %s became non-finite at step %llu (epoch "
                        "%llu); rows up to it are in %s\n", cmd,
                        isfinite(loss) ? "gradient" : "loss", step, ep, norms);
                rc = 1;
                break;
            }
            if (last.clipped) { /* the logged decision is the one applied */
                double coef = clip / (last.global_norm + clip_eps);
                for (size_t i = 0; i < np; i++)
                    net->grads[i] *= coef;
            }
            if (!strcmp(opt_name, "sgd"))
                ga_sgd_step(net->params, net->grads, np, lr);
            else if (!strcmp(opt_name, "momentum"))
                ga_momentum_step(net->params, s1, net->grads, np, lr, mu);
            else
                ga_adam_step(net->params, s1, s2, net->grads, np, lr, b1, b2, aeps,
                             (unsigned long)step);
            pr.done_work = (double)step;
            progress_draw(&pr, "train", "steps", (size_t)step, (size_t)total);
        }
    }
    int stopped = (int)g_stop;
    progress_clear(&pr); /* whether it finished, failed or was stopped */
    free(gp), free(pp);
    st = ga_normlog_close(log, &err);
    log = NULL;
    if (st != GA_OK && rc != EXIT_INTERNAL) {
        fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
        rc = EXIT_INTERNAL;
    }
    if (stopped && rc != EXIT_INTERNAL) {
        fprintf(stderr, "gradaudit %s: %s: %s holds the rows of the %llu finished steps\n", cmd,
                stopped == SIGTERM ? "terminated (SIGTERM)" : "interrupted (SIGINT)", norms, step);
        rc = 128 + stopped;
    }
    restore_signals(&old_int, &old_term);
    if (pf) {
        st = scratch_close(&err, plot_data, pf, pf_bad);
        pf = NULL;
        if ((rc == EXIT_OK || rc == 1) && st != GA_OK) {
            fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
            rc = EXIT_INTERNAL;
        } else if (st == GA_OK) {
            if ((rc == EXIT_OK || rc == 1) && train_plot(&err, plot_path, plot_data, net) != GA_OK) {
                fprintf(stderr, "gradaudit %s: %s\n", cmd, err.msg);
                rc = EXIT_INTERNAL;
            }
            drop_temp(plot_data);
        }
    } else if ((rc == EXIT_OK || rc == 1) && plot_path) {
        fprintf(stderr, "gradaudit %s: gnuplot is not installed: no plot drawn, the CSV "
                "alone was written (install gnuplot, e.g. apt-get install gnuplot-nox)\n", cmd);
    }
done:
    ga_normlog_close(log, NULL);
    free(s1);
    free(s2);
    free(xb);
    free(yb);
    free(perm);
    ga_workspace_free(ws);
    ga_net_free(net);
    ga_spec_free(spec);
    return rc;
}
