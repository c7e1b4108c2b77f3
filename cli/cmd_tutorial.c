/* cmd_tutorial.c: `gradaudit tutorial SLUG ...` (one tutorial's numbers) and
 * `gradaudit audit` (every tutorial: figures, transcripts, gradient audit). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ga_audit.h"
#include "ga_args.h"
#include "ga_cli.h"
#include "ga_cli_json.h"
#include "ga_io.h"
#include "ga_table.h"
#include "ga_worked.h"

#if defined(__has_include)
#if __has_include("ga_transcript.h")
#include "ga_transcript.h"
#define HAVE_TRANSCRIPTS 1
#endif
#endif
#ifndef HAVE_TRANSCRIPTS
#define HAVE_TRANSCRIPTS 0
#endif

/* Where the data (the NumPy reference transcripts) is, set by the root
 * meson.build: the build tree's program reads the source tree's fixtures/,
 * an installed one get_option('datadir')/gradaudit. */
#ifndef GA_BUILD_ROOT
#define GA_BUILD_ROOT ""
#endif
#ifndef GA_SOURCE_DATADIR
#define GA_SOURCE_DATADIR "fixtures/reference"
#endif
#ifndef GA_INSTALL_DATADIR
#define GA_INSTALL_DATADIR "/usr/local/share/gradaudit"
#endif

static const char *const slugs[] = {"wrapping-your-head", "algorithm-that-enables-learning",
                                    "first-draft", "how-backprop-works", "hand-by-hand"};
#define N_SLUGS 5
#define WORKED_SLUG "algorithm-that-enables-learning"

#define N_RANDOM_SLUGS 3
static const char *const random_slugs[N_RANDOM_SLUGS] = {"wrapping-your-head", "first-draft", "hand-by-hand"};

static int is_random_slug(const char *s)
{
    for (int i = 0; i < N_RANDOM_SLUGS; i++)
        if (!strcmp(s, random_slugs[i]))
            return 1;
    return 0;
}

static void tutorial_usage(FILE *f)
{
    fputs("usage: gradaudit tutorial SLUG [--seed S] [--dump-state] [--csv FILE]\n"
          "\n"
          "  algorithm-that-enables-learning [--csv FILE]\n"
          "      the worked example's 19 figures: printed, replayed with the tutorial's\n"
          "      rounding, exact (MPFR) and why they differ; then its derivative\n"
          "      examples and loss-gradient formulas, each checked. --csv writes the\n"
          "      19-row table (RFC 4180) atomically.\n"
          "  wrapping-your-head | first-draft | hand-by-hand  --seed S [--dump-state]\n"
          "      the tutorial program's output after np.random.seed(S), byte for byte,\n"
          "      S in 0..4294967295; --dump-state appends the final parameters.\n"
          "  how-backprop-works\n"
          "      no data and no printed numbers: prints its gradient audit (on generated data).\n"
          "\nThe transcripts are built into the program: tutorial reads no data file\n"
          "(`gradaudit audit` compares them with the NumPy references under\n"
          "GRADAUDIT_DATADIR; see gradaudit audit --help).\n"
          "\nexit status: 0 reproduced, 1 a figure did not reproduce, 2 bad usage or\n"
          "unwritable path, 3 internal error or a failed write (a full disk), 130/143\n"
          "interrupted by SIGINT/SIGTERM\n",
          f);
#if HAVE_TRANSCRIPTS
    for (int i = 0; i < N_SLUGS; i++) {
        const char *p = is_random_slug(slugs[i]) ? ga_tutorial_transcript_provenance(slugs[i]) : NULL;
        if (p)
            fprintf(f, "\nprovenance of %s:\n%s\n", slugs[i], p);
    }
#endif
}

/* The worked example's table and claims; writes csv_path when not NULL.
 * Returns the exit status. */
static int run_worked(FILE *out, const char *csv_path)
{
    ga_error err = {{0}};
    ga_worked_result r;
    ga_table t;
    if (ga_worked_run(&r, &err) != GA_OK) {
        fprintf(stderr, "gradaudit tutorial: %s\n", err.msg);
        return GA_EXIT_INTERNAL;
    }
    if (ga_worked_table(&t, &err, &r) != GA_OK) {
        fprintf(stderr, "gradaudit tutorial: %s\n", err.msg);
        return GA_EXIT_INTERNAL;
    }
    /* the path was judged writable before the work: a failure now (a full
     * disk) is status 3, as in every command */
    if (csv_path && ga_table_write_csv(&err, &t, csv_path) != GA_OK) {
        fprintf(stderr, "gradaudit tutorial: --csv %s\n", err.msg);
        ga_table_free(&t);
        return GA_EXIT_INTERNAL;
    }
    fprintf(out, "%s: worked example (x = 2, y = 1, relu then sigmoid, L = (y_hat - y)^2, one SGD step at 0.1)\n\n",
            WORKED_SLUG);
    ga_table_fprint_text(out, &t);
    ga_table_free(&t);
    fprintf(out, "\nreplayed = printed: %d/%d; exact = printed: %d/%d (exact digits settled at %ld bits)\n",
            r.n_replayed, GA_WORKED_N, r.n_exact, GA_WORKED_N, r.prec);

    ga_worked_claim c[GA_WORKED_CLAIMS_MAX];
    size_t n = 0, ok = 0;
    if (ga_worked_claims(c, &n, &err) != GA_OK || ga_worked_claims_table(&t, &err, c, n) != GA_OK) {
        fprintf(stderr, "gradaudit tutorial: %s\n", err.msg);
        return GA_EXIT_INTERNAL;
    }
    for (size_t i = 0; i < n; i++)
        ok += c[i].ok != 0;
    fputs("\nactivation-derivative examples and loss-gradient formulas (MPFR numerical derivative):\n\n", out);
    ga_table_fprint_text(out, &t);
    ga_table_free(&t);
    fprintf(out, "\nclaims confirmed: %zu/%zu\n", ok, n);
    if (csv_path)
        fprintf(out, "wrote %s\n", csv_path);
    return r.n_replayed == GA_WORKED_N && ok == n ? GA_EXIT_OK : GA_EXIT_FAIL;
}

static int print_audit_of(FILE *out, const char *slug)
{
    static const uint64_t seeds[] = {1, 2, 3};
    ga_error err = {{0}};
    ga_audit_result r;
    if (ga_audit_run(&r, &err, seeds, 3) != GA_OK) {
        fprintf(stderr, "gradaudit tutorial: %s\n", err.msg);
        return GA_EXIT_INTERNAL;
    }
    fprintf(out, "%s has no data and prints no numbers; its formulas are audited on generated data "
                 "(random seeds 1, 2, 3):\n\n", slug);
    for (size_t i = 0; i < r.n; i++)
        if (!strcmp(r.rows[i].slug, slug))
            fprintf(out, "%-12s  %s\n    %s; %s\n", ga_audit_verdict_name(r.rows[i].verdict), r.rows[i].formula,
                    r.rows[i].detail, r.rows[i].measured);
    ga_audit_result_free(&r);
    return GA_EXIT_OK;
}

int ga_cmd_tutorial(int argc, char **argv)
{
    const char *slug = NULL, *csv = NULL, *seed_s = NULL;
    int dump = 0, c, status = 0;
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"seed", required_argument, 0, 's'},
                                         {"csv", required_argument, 0, 'c'},
                                         {"dump-state", no_argument, 0, 'd'},
                                         {0, 0, 0, 0}};
    ga_args_begin();
    while ((c = ga_args_next(&status, "tutorial", argc, argv, "h", opts)) != GA_ARGS_END) {
        if (c == GA_ARGS_STOP)
            return status;
        if (c == GA_ARGS_HELP) {
            tutorial_usage(stdout);
            return GA_EXIT_OK;
        }
        if (c == 's')
            seed_s = optarg;
        else if (c == 'c')
            csv = optarg;
        else if (c == 'd')
            dump = 1;
    }
    for (int i = optind; i < argc; i++) {
        if (slug)
            return ga_args_usage_error("tutorial", "one SLUG only (got '%s' and '%s')", slug, argv[i]);
        slug = argv[i];
    }
    if (!slug)
        return ga_args_usage_error("tutorial", "missing SLUG");
    int known = 0;
    for (int i = 0; i < N_SLUGS; i++)
        known |= !strcmp(slug, slugs[i]);
    if (!known) {
        char list[256] = "";
        for (int i = 0; i < N_SLUGS; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), " %s", slugs[i]);
        return ga_args_usage_error("tutorial", "unknown tutorial '%s' (one of:%s)", slug, list);
    }
    if (!is_random_slug(slug) && (seed_s || dump))
        return ga_args_usage_error("tutorial", "%s has no random initialisation: --seed/--dump-state "
                                   "do not apply", slug);
    if (!strcmp(slug, WORKED_SLUG)) {
        ga_error err = {{0}};
        if (csv && ga_path_writable(&err, csv) != GA_OK) {
            fprintf(stderr, "gradaudit tutorial: --csv %s\n", err.msg);
            return GA_EXIT_USAGE;
        }
        return run_worked(stdout, csv);
    }
    if (csv)
        return ga_args_usage_error("tutorial", "--csv applies to %s only", WORKED_SLUG);
    if (!strcmp(slug, "how-backprop-works"))
        return print_audit_of(stdout, slug);

    uint64_t seed = 0;
    if (!seed_s)
        return ga_args_usage_error("tutorial", "%s needs --seed S (0..4294967295)", slug);
    if (ga_cli_parse_uint(&seed, seed_s, UINT32_MAX) != 0)
        return ga_args_usage_error("tutorial", "--seed '%s': not an integer in 0..4294967295 "
                                   "(np.random.seed's range)", seed_s);
#if HAVE_TRANSCRIPTS
    ga_error err = {{0}};
    int st = ga_tutorial_transcript(stdout, &err, slug, (uint32_t)seed, dump);
    if (fflush(stdout) != 0 && st == GA_OK)
        st = GA_EIO;
    if (st != GA_OK) {
        fprintf(stderr, "gradaudit tutorial: %s\n", err.msg[0] ? err.msg : ga_strerror(st));
        return st == GA_EINVAL ? GA_EXIT_USAGE : GA_EXIT_INTERNAL;
    }
    return GA_EXIT_OK;
#else
    fprintf(stderr, "gradaudit tutorial: transcripts of %s are not built into this program\n", slug);
    return GA_EXIT_INTERNAL;
#endif
}

/* ---- audit ---------------------------------------------------------------- */

/* Seeds: comma-separated decimal integers (each < 2^32, at most 16). */
static int parse_seeds(uint64_t *seeds, size_t *n, const char *s)
{
    *n = 0;
    const char *p = s;
    while (1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[16];
        if (len == 0 || len >= sizeof buf || *n >= 16)
            return -1;
        memcpy(buf, p, len);
        buf[len] = 0;
        if (ga_cli_parse_uint(&seeds[*n], buf, UINT32_MAX) != 0)
            return -1;
        ++*n;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

typedef struct {
    size_t checked, matched;
    char first_mismatch[512];
} transcript_tally;

/* The data directory: GRADAUDIT_DATADIR when set (and not empty); else the
 * source tree's fixtures/reference for the program in the build tree (its
 * executable is in GA_BUILD_ROOT, the same directory by device and inode);
 * else the installed data directory. */
static const char *data_dir(void)
{
    const char *env = getenv("GRADAUDIT_DATADIR");
    if (env && *env)
        return env;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat here, build;
    if (n > 0 && GA_BUILD_ROOT[0] && stat(GA_BUILD_ROOT, &build) == 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        if (slash && stat(exe[0] ? exe : "/", &here) == 0 && here.st_dev == build.st_dev &&
            here.st_ino == build.st_ino)
            return GA_SOURCE_DATADIR;
    }
    return GA_INSTALL_DATADIR;
}

/* The stored NumPy reference transcripts (fixtures/reference/transcripts/,
 * installed as DATADIR/transcripts/), all read before any work:
 * SLUG/seed-S.txt is the program's output after np.random.seed(S), and
 * SLUG/seed-S.state the --dump-state addition (up to its "--- bits ---"
 * section), for the seeds listed in seeds.txt (one a line, blank lines
 * allowed). Every file is read as every input is (core/ga_io.h: a regular
 * file, capped, so that a FIFO cannot block the audit). */
typedef struct {
    uint32_t *seeds; /* (n_seeds) */
    size_t n_seeds;
    char **txt, **state;      /* (N_RANDOM_SLUGS * n_seeds) */
    size_t *n_txt, *n_state;  /* their lengths; n_state up to the bits section */
} stored_refs;

static void stored_refs_free(stored_refs *r)
{
    for (size_t i = 0; r->txt && i < N_RANDOM_SLUGS * r->n_seeds; i++) {
        free(r->txt[i]);
        free(r->state[i]);
    }
    free(r->seeds);
    free(r->txt);
    free(r->state);
    free(r->n_txt);
    free(r->n_state);
    memset(r, 0, sizeof *r);
}

/* GA_EIO (a file missing, unreadable or malformed) or GA_ENOMEM, with a
 * message naming the file; GA_OK when every reference was read. */
static int stored_refs_load(stored_refs *r, ga_error *err, const char *dir)
{
    memset(r, 0, sizeof *r);
    char path[8192];
    snprintf(path, sizeof path, "%s/seeds.txt", dir);
    char *list;
    size_t n_list;
    int st = ga_read_file(&list, &n_list, err, path, (size_t)1 << 20);
    if (st != GA_OK)
        return st;
    size_t cap = 1;
    for (size_t i = 0; i < n_list; i++)
        cap += list[i] == '\n';
    r->seeds = malloc(cap * sizeof *r->seeds);
    if (!r->seeds) {
        free(list);
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
    }
    size_t line_no = 0;
    char *next;
    for (char *line = list; line && st == GA_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        line[strcspn(line, "\r")] = '\0';
        uint64_t seed;
        if (!*line)
            continue;
        if (ga_cli_parse_uint(&seed, line, UINT32_MAX) != 0)
            st = ga_fail(err, GA_EIO, "%s:%zu: '%.40s' is not a seed in 0..4294967295", path, line_no, line);
        else
            r->seeds[r->n_seeds++] = (uint32_t)seed;
    }
    free(list);
    if (st == GA_OK && r->n_seeds == 0)
        st = ga_fail(err, GA_EIO, "%s: lists no seed", path);
    size_t n = N_RANDOM_SLUGS * r->n_seeds;
    if (st == GA_OK) {
        r->txt = calloc(n, sizeof *r->txt);
        r->state = calloc(n, sizeof *r->state);
        r->n_txt = calloc(n, sizeof *r->n_txt);
        r->n_state = calloc(n, sizeof *r->n_state);
        if (!r->txt || !r->state || !r->n_txt || !r->n_state)
            st = ga_fail(err, GA_ENOMEM, "%s: out of memory", dir);
    }
    for (size_t i = 0; st == GA_OK && i < n; i++) {
        const char *slug = random_slugs[i / r->n_seeds];
        uint32_t seed = r->seeds[i % r->n_seeds];
        snprintf(path, sizeof path, "%s/%s/seed-%" PRIu32 ".txt", dir, slug, seed);
        st = ga_read_file(&r->txt[i], &r->n_txt[i], err, path, (size_t)64 << 20);
        if (st != GA_OK)
            break;
        snprintf(path, sizeof path, "%s/%s/seed-%" PRIu32 ".state", dir, slug, seed);
        st = ga_read_file(&r->state[i], &r->n_state[i], err, path, (size_t)64 << 20);
        char *bits = st == GA_OK ? strstr(r->state[i], "--- bits ---\n") : NULL;
        if (st == GA_OK && !bits)
            st = ga_fail(err, GA_EIO, "%s: no '--- bits ---' section", path);
        if (bits)
            r->n_state[i] = (size_t)(bits - r->state[i]);
    }
    if (st != GA_OK)
        stored_refs_free(r);
    return st;
}

#if HAVE_TRANSCRIPTS
/* Our transcript of (slug, seed, dump) compared with the bytes want (n). */
static int same_transcript(int *same, char *why, size_t whysize, const char *slug, uint32_t seed, int dump,
                           const char *want, size_t n)
{
    char *mine = NULL;
    size_t nm = 0;
    FILE *m = open_memstream(&mine, &nm);
    if (!m)
        return GA_ENOMEM;
    ga_error err = {{0}};
    int st = ga_tutorial_transcript(m, &err, slug, seed, dump);
    if (fclose(m) != 0) {
        free(mine);
        return GA_ENOMEM;
    }
    *same = st == GA_OK && nm == n && memcmp(mine, want, n) == 0;
    if (!*same) {
        size_t at = 0;
        while (at < n && at < nm && mine[at] == want[at])
            at++;
        snprintf(why, whysize, "%s seed %" PRIu32 "%s: first difference at byte %zu%s%.200s", slug, seed,
                 dump ? " --dump-state" : "", at, st != GA_OK ? "; " : "", st != GA_OK ? err.msg : "");
    }
    free(mine);
    return GA_OK;
}
#endif

/* Every stored transcript of the random slug number k compared with ours,
 * plain and with --dump-state. */
static int check_transcripts(transcript_tally *t, const stored_refs *r, size_t k)
{
    memset(t, 0, sizeof *t);
#if HAVE_TRANSCRIPTS
    const char *slug = random_slugs[k];
    int st = GA_OK;
    for (size_t s = 0; s < r->n_seeds && st == GA_OK; s++) {
        size_t i = k * r->n_seeds + s, nt = r->n_txt[i], keep = r->n_state[i];
        int same = 0;
        char *why = t->first_mismatch[0] ? NULL : t->first_mismatch;
        st = same_transcript(&same, why, why ? sizeof t->first_mismatch : 0, slug, r->seeds[s], 0, r->txt[i], nt);
        t->checked++;
        t->matched += same;
        if (st != GA_OK)
            break;
        char *both = malloc(nt + keep + 1);
        if (!both)
            return GA_ENOMEM;
        memcpy(both, r->txt[i], nt);
        memcpy(both + nt, r->state[i], keep);
        why = t->first_mismatch[0] ? NULL : t->first_mismatch;
        st = same_transcript(&same, why, why ? sizeof t->first_mismatch : 0, slug, r->seeds[s], 1, both,
                             nt + keep);
        t->checked++;
        t->matched += same;
        free(both);
    }
    return st;
#else
    (void)r;
    (void)k;
    return GA_OK;
#endif
}

/* ---- audit --json (docs/json.md) ---------------------------------------------- */
static int set_count_or_null(json_t *o, const char *key, int known, size_t v)
{
    return known ? ga_json_set_uint(o, key, v) : json_object_set_new(o, key, json_null());
}

/* One row of the summary table: its four columns as printed, and their numbers
 * (null where a column does not apply to the tutorial). wr: the worked
 * example's result, for its row only. */
static int audit_json_row(json_t *rows, const char *const text[4], const ga_worked_result *wr,
                          size_t claims_ok, size_t n_claims, int tr_known, size_t t_matched,
                          size_t t_checked, size_t correct, size_t wrong, size_t inconsistent)
{
    json_t *o = json_object();
    if (!o || json_array_append_new(rows, o) != 0)
        return -1;
    return ga_json_set_str(o, "tutorial", text[0]) || ga_json_set_str(o, "figures", text[1]) ||
           ga_json_set_str(o, "transcript_check", text[2]) || ga_json_set_str(o, "gradient_verdicts", text[3]) ||
           set_count_or_null(o, "figures_replayed", wr != NULL, wr ? (size_t)wr->n_replayed : 0) ||
           set_count_or_null(o, "figures_exact", wr != NULL, wr ? (size_t)wr->n_exact : 0) ||
           set_count_or_null(o, "figures_total", wr != NULL, GA_WORKED_N) ||
           set_count_or_null(o, "claims_confirmed", wr != NULL, claims_ok) ||
           set_count_or_null(o, "claims_total", wr != NULL, n_claims) ||
           set_count_or_null(o, "transcripts_matched", tr_known, t_matched) ||
           set_count_or_null(o, "transcripts_checked", tr_known, t_checked) ||
           ga_json_set_uint(o, "correct", correct) || ga_json_set_uint(o, "wrong", wrong) ||
           ga_json_set_uint(o, "inconsistent", inconsistent);
}

/* The document without its rows: the run, the oracle's and the checker's
 * agreement, the findings. NULL when out of memory. */
static json_t *audit_json_head(const char *refs, const char *outdir, const uint64_t *seeds, size_t n_seeds,
                               int all_reproduced, const char *mismatch, const ga_audit_result *ar)
{
    json_t *d = ga_json_document("audit"), *js = json_array(), *oracle = json_object(),
           *checker = json_object(), *findings = json_array();
    int bad = !d || !js || !oracle || !checker || !findings;
    for (size_t i = 0; !bad && i < n_seeds; i++)
        bad = json_array_append_new(js, json_integer((json_int_t)seeds[i])) != 0;
    for (size_t i = 0; !bad && i < ar->n; i++) {
        const ga_audit_row *r = &ar->rows[i];
        if (r->verdict == GA_AUDIT_CORRECT)
            continue;
        json_t *f = json_object();
        bad = !f || json_array_append_new(findings, f) != 0 || ga_json_set_str(f, "tutorial", r->slug) ||
              ga_json_set_str(f, "part", r->part) || ga_json_set_str(f, "formula", r->formula) ||
              ga_json_set_str(f, "verdict", ga_audit_verdict_name(r->verdict)) ||
              ga_json_set_str(f, "detail", r->detail);
    }
    bad = bad || ga_json_set_uint(oracle, "checked", ar->oracle_checked) ||
          ga_json_set_uint(oracle, "mismatches", ar->oracle_mismatch) ||
          ga_json_set_uint(checker, "checked", ar->checker_checked) ||
          ga_json_set_uint(checker, "disagree", ar->checker_disagree);
    bad = bad || ga_json_set_str(d, "refs", refs) || ga_json_set_str(d, "out", outdir) ||
          json_object_set_new(d, "all_reproduced", json_boolean(all_reproduced)) != 0 ||
          (mismatch[0] ? ga_json_set_str(d, "transcript_mismatch", mismatch)
                       : json_object_set_new(d, "transcript_mismatch", json_null()) != 0);
    if (!bad) { /* | not ||: each call takes its value, also when it fails */
        bad = (json_object_set_new(d, "seeds", js) | json_object_set_new(d, "oracle", oracle) |
               json_object_set_new(d, "checker", checker) | json_object_set_new(d, "findings", findings)) != 0;
        js = oracle = checker = findings = NULL;
    }
    json_decref(js), json_decref(oracle), json_decref(checker), json_decref(findings);
    if (bad) {
        json_decref(d);
        return NULL;
    }
    return d;
}

static void audit_usage(FILE *f)
{
    fputs("usage: gradaudit audit [--out DIR] [--seeds S1,S2,...] [--refs DIR]\n"
          "                       [--json FILE]\n"
          "\n"
          "Reproduces every tutorial and audits its gradients: the worked example's 19\n"
          "figures and claims, the random-init tutorials' transcripts against the stored\n"
          "NumPy references (DATADIR/transcripts/), and every backward formula\n"
          "against an MPFR reference gradient on the tutorial's data and on random data\n"
          "from each seed (default 1,2,3). Prints one summary table and writes\n"
          "summary.csv, worked.csv, claims.csv and audit.csv into DIR (default\n"
          "./gradaudit-audit). A wrong gradient in a tutorial is a finding, not a failure.\n"
          "--refs names another reference-transcript directory (layout SLUG/seed-S.txt,\n"
          "SLUG/seed-S.state, seeds.txt); default: DATADIR/transcripts, where DATADIR\n"
          "is $GRADAUDIT_DATADIR when set and not empty, else the source tree's\n"
          "fixtures/reference for the program in its build tree, else\n"
          "  " GA_INSTALL_DATADIR "\n"
          "(where `meson install` puts it). Every reference is read before any work: a\n"
          "missing, unreadable or malformed one is exit 2, naming the file.\n"
          "--json FILE also writes the summary as one JSON document ('-': standard\n"
          "output, which then holds the JSON alone), renamed into place with the four\n"
          "CSVs (docs/json.md): gradaudit \"audit\", schema, version, refs, out, seeds,\n"
          "all_reproduced, rows [the summary table: tutorial, figures, transcript_check,\n"
          "gradient_verdicts as printed, and as numbers figures_replayed, figures_exact,\n"
          "figures_total, claims_confirmed, claims_total, transcripts_matched,\n"
          "transcripts_checked (null where they do not apply), correct, wrong,\n"
          "inconsistent], transcript_mismatch, oracle {checked, mismatches}, checker\n"
          "{checked, disagree}, findings [tutorial, part, formula, verdict, detail].\n"
          "\nexit status: 0 everything reproduced, 1 something did not reproduce,\n"
          "2 bad option, unwritable directory or --json path, or a missing or unreadable\n"
          "reference, 3 internal error or a failed write\n"
          "(a full disk: the four CSVs and the JSON stay as they were), 130/143 interrupted\n",
          f);
}

int ga_cmd_audit(int argc, char **argv)
{
    const char *outdir = "gradaudit-audit";
    const char *refs = NULL, *json = NULL;
    uint64_t seeds[16] = {1, 2, 3};
    size_t n_seeds = 3;
    int c, st_args = 0;
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"out", required_argument, 0, 'o'},
                                         {"seeds", required_argument, 0, 's'},
                                         {"refs", required_argument, 0, 'r'},
                                         {"json", required_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    ga_args_begin();
    while ((c = ga_args_next(&st_args, "audit", argc, argv, "h", opts)) != GA_ARGS_END) {
        const char *v = optarg;
        if (c == GA_ARGS_STOP)
            return st_args;
        if (c == GA_ARGS_HELP) {
            audit_usage(stdout);
            return GA_EXIT_OK;
        }
        if (c == 'r') {
            struct stat rb;
            if (!*v || stat(v, &rb) != 0 || !S_ISDIR(rb.st_mode))
                return ga_args_usage_error("audit", "--refs '%s': not a directory", v);
            refs = v;
        } else if (c == 'o') {
            if (!*v)
                return ga_args_usage_error("audit", "--out needs a directory");
            outdir = v;
        } else if (c == 'j') {
            if (!*v)
                return ga_args_usage_error("audit", "--json needs a file name ('-': standard output)");
            json = v;
        } else if (c == 's' && parse_seeds(seeds, &n_seeds, v) != 0) {
            return ga_args_usage_error("audit", "--seeds '%s': expected 1 to 16 comma-separated "
                                       "integers in 0..4294967295", v);
        }
    }
    if (optind < argc)
        return ga_args_usage_error("audit", "unexpected argument '%s'", argv[optind]);
    /* The references first, then the output directory: a bad path is
     * reported before any work, and before the directory is made. */
    char refs_default[4096];
    if (!refs) {
        snprintf(refs_default, sizeof refs_default, "%s/transcripts", data_dir());
        refs = refs_default;
    }
    stored_refs stored = {0};
    if (HAVE_TRANSCRIPTS) {
        ga_error err = {{0}};
        int st = stored_refs_load(&stored, &err, refs);
        if (st != GA_OK) {
            fprintf(stderr, "gradaudit audit: reference transcripts: %s\n", err.msg);
            return st == GA_ENOMEM ? GA_EXIT_INTERNAL : GA_EXIT_USAGE;
        }
    }
    if (json) {
        ga_error err = {{0}};
        if (ga_path_writable(&err, json) != GA_OK) {
            fprintf(stderr, "gradaudit audit: --json %s\n", err.msg);
            stored_refs_free(&stored);
            return GA_EXIT_USAGE;
        }
    }
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "gradaudit audit: --out %s: cannot create the directory: %s\n", outdir, strerror(errno));
        stored_refs_free(&stored);
        return GA_EXIT_USAGE;
    }
    struct stat sb;
    if (stat(outdir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "gradaudit audit: --out %s: not a directory\n", outdir);
        stored_refs_free(&stored);
        return GA_EXIT_USAGE;
    }
    static const char *const csv_names[] = {"summary.csv", "worked.csv", "claims.csv", "audit.csv"};
    char csv_paths[4][4096];
    for (size_t i = 0; i < 4; i++) {
        ga_error err = {{0}};
        snprintf(csv_paths[i], sizeof csv_paths[i], "%s/%s", outdir, csv_names[i]);
        if (ga_path_writable(&err, csv_paths[i]) != GA_OK) {
            fprintf(stderr, "gradaudit audit: --out %s\n", err.msg);
            stored_refs_free(&stored);
            return GA_EXIT_USAGE;
        }
        if (json && ga_cli_same_file(json, csv_paths[i])) {
            fprintf(stderr, "gradaudit audit: --json %s: is also %s, a CSV of --out\n", json, csv_paths[i]);
            stored_refs_free(&stored);
            return GA_EXIT_USAGE;
        }
    }

    ga_error err = {{0}};
    int status = GA_EXIT_OK;

    ga_worked_result wr;
    ga_worked_claim claims[GA_WORKED_CLAIMS_MAX];
    size_t n_claims = 0, claims_ok = 0;
    if (ga_worked_run(&wr, &err) != GA_OK || ga_worked_claims(claims, &n_claims, &err) != GA_OK) {
        fprintf(stderr, "gradaudit audit: %s\n", err.msg);
        stored_refs_free(&stored);
        return GA_EXIT_INTERNAL;
    }
    for (size_t i = 0; i < n_claims; i++)
        claims_ok += claims[i].ok != 0;
    if (wr.n_replayed != GA_WORKED_N || claims_ok != n_claims)
        status = GA_EXIT_FAIL;

    ga_audit_result ar;
    if (ga_audit_run(&ar, &err, seeds, n_seeds) != GA_OK) {
        fprintf(stderr, "gradaudit audit: %s\n", err.msg);
        stored_refs_free(&stored);
        return GA_EXIT_INTERNAL;
    }

    if (ar.oracle_mismatch != 0 || ar.checker_disagree != 0)
        status = GA_EXIT_FAIL; /* the audit's own reference is in question */

    static const char *const hdr[] = {"tutorial", "figures reproduced", "transcript check", "gradient verdicts"};
    ga_table sum, t;
    if (ga_table_init(&sum, &err, 4, hdr) != GA_OK) {
        ga_audit_result_free(&ar);
        stored_refs_free(&stored);
        fprintf(stderr, "gradaudit audit: %s\n", err.msg);
        return GA_EXIT_INTERNAL;
    }
    const char *tdir = refs;
    char mismatch_note[600] = "";
    /* --json: the summary's rows, each column as printed and as numbers */
    json_t *jrows = json ? json_array() : NULL;
    if (json && !jrows)
        status = GA_EXIT_INTERNAL;
    for (int s = 0; s < N_SLUGS; s++) {
        const char *slug = slugs[s];
        char fig[96], tr[96], ver[96];
        if (!strcmp(slug, WORKED_SLUG))
            snprintf(fig, sizeof fig, "%d/%d (exact %d/%d) + claims %zu/%zu", wr.n_replayed, GA_WORKED_N,
                     wr.n_exact, GA_WORKED_N, claims_ok, n_claims);
        else if (!strcmp(slug, "how-backprop-works"))
            snprintf(fig, sizeof fig, "none printed (no data)");
        else
            snprintf(fig, sizeof fig, "seed-dependent: see transcripts");
        size_t t_matched = 0, t_checked = 0;
        if (is_random_slug(slug)) {
            transcript_tally tt;
            size_t k = 0;
            while (strcmp(random_slugs[k], slug))
                k++;
            if (check_transcripts(&tt, &stored, k) != GA_OK) {
                fprintf(stderr, "gradaudit audit: out of memory comparing transcripts\n");
                status = GA_EXIT_INTERNAL;
            }
            if (!HAVE_TRANSCRIPTS)
                snprintf(tr, sizeof tr, "not built in");
            else
                snprintf(tr, sizeof tr, "%zu/%zu byte-identical to NumPy", tt.matched, tt.checked);
            t_matched = tt.matched;
            t_checked = tt.checked;
            if (tt.matched != tt.checked) {
                if (status == GA_EXIT_OK)
                    status = GA_EXIT_FAIL;
                if (!mismatch_note[0])
                    snprintf(mismatch_note, sizeof mismatch_note, "%s", tt.first_mismatch);
            }
        } else {
            snprintf(tr, sizeof tr, "n/a (no random program)");
        }
        size_t c, w, inc;
        ga_audit_counts(&c, &w, &inc, &ar, slug);
        snprintf(ver, sizeof ver, "%zu correct, %zu wrong, %zu inconsistent", c, w, inc);
        const char *row[] = {slug, fig, tr, ver};
        if (ga_table_add(&sum, &err, row) != GA_OK) {
            fprintf(stderr, "gradaudit audit: %s\n", err.msg);
            status = GA_EXIT_INTERNAL;
        }
        int worked = !strcmp(slug, WORKED_SLUG), tr_known = is_random_slug(slug) && HAVE_TRANSCRIPTS;
        if (jrows && audit_json_row(jrows, row, worked ? &wr : NULL, claims_ok, n_claims,
                                    tr_known, t_matched, t_checked, c, w, inc) != 0) {
            fprintf(stderr, "gradaudit audit: --json: out of memory\n");
            status = GA_EXIT_INTERNAL;
        }
    }
    json_t *jdoc = NULL;
    if (jrows && status != GA_EXIT_INTERNAL &&
        !(jdoc = audit_json_head(refs, outdir, seeds, n_seeds, status == GA_EXIT_OK, mismatch_note, &ar))) {
        fprintf(stderr, "gradaudit audit: --json: out of memory\n");
        status = GA_EXIT_INTERNAL;
    }
    if (jdoc && json_object_set_new(jdoc, "rows", jrows) != 0) {
        fprintf(stderr, "gradaudit audit: --json: out of memory\n");
        status = GA_EXIT_INTERNAL;
    }
    if (!jdoc)
        json_decref(jrows);
    jrows = NULL;
    /* --json -: standard output holds the JSON alone, the text goes nowhere */
    char *sink = NULL;
    size_t n_sink = 0;
    FILE *out = json && !strcmp(json, "-") ? open_memstream(&sink, &n_sink) : stdout;
    if (!out) {
        fprintf(stderr, "gradaudit audit: out of memory\n");
        status = GA_EXIT_INTERNAL;
        out = stdout;
    }

    fputs("gradaudit audit: every tutorial\n\n", out);
    ga_table_fprint_text(out, &sum);
    if (mismatch_note[0])
        fprintf(out, "\ntranscript mismatch: %s\n", mismatch_note);
    fprintf(out, "\ntranscripts: references in %s\n", tdir);
#if HAVE_TRANSCRIPTS
    {
        const char *prov = ga_tutorial_transcript_provenance("first-draft");
        if (prov)
            fprintf(out, "provenance: %s\n", prov);
    }
#endif
    fprintf(out, "gradients: each formula as written against an MPFR reference of the stated loss "
           "(equal to the project oracle on %zu/%zu entries; the checker agrees on %zu/%zu tensors)\n",
           ar.oracle_checked - ar.oracle_mismatch, ar.oracle_checked, ar.checker_checked - ar.checker_disagree,
           ar.checker_checked);
    fputs("\nfindings (formulas that are not correct):\n", out);
    for (size_t i = 0; i < ar.n; i++)
        if (ar.rows[i].verdict != GA_AUDIT_CORRECT)
            fprintf(out, "  %s (%s) %s\n    %s: %s\n", ar.rows[i].slug, ar.rows[i].part, ar.rows[i].formula,
                   ga_audit_verdict_name(ar.rows[i].verdict), ar.rows[i].detail);
    fprintf(out, "\nrandom data seeds:");
    for (size_t i = 0; i < n_seeds; i++)
        fprintf(out, "%s%" PRIu64, i ? "," : " ", seeds[i]);
    fputc('\n', out);

    /* CSVs: the four temporaries written, then renamed together, so that DIR
     * holds one run's files, all new or all old. The paths were judged
     * writable before the work: a failure now (a full disk) is status 3. */
    ga_atomic_file af[5];
    size_t n_open = 0, n_files = jdoc ? 5 : 4;
    for (size_t i = 0; i < 4 && status != GA_EXIT_INTERNAL; i++) {
        int st = ga_atomic_open(&af[i], &err, csv_paths[i]);
        if (st == GA_OK) {
            n_open++;
            const ga_table *tab = &sum;
            if (i == 1)
                st = ga_worked_table(&t, &err, &wr), tab = &t;
            else if (i == 2)
                st = ga_worked_claims_table(&t, &err, claims, n_claims), tab = &t;
            else if (i == 3)
                st = ga_audit_table(&t, &err, &ar), tab = &t;
            if (st == GA_OK && ga_table_fprint_csv(af[i].f, tab) != GA_OK)
                st = ga_fail(&err, GA_EIO, "writing %s failed", csv_paths[i]);
            if (i != 0 && tab == &t)
                ga_table_free(&t);
        }
        if (st != GA_OK) {
            fprintf(stderr, "gradaudit audit: %s\n", err.msg);
            status = GA_EXIT_INTERNAL;
        }
    }
    /* the JSON the fifth of the group: renamed with the CSVs or not at all */
    if (jdoc && status != GA_EXIT_INTERNAL) {
        int st = ga_atomic_open(&af[4], &err, json);
        if (st == GA_OK) {
            n_open++;
            st = ga_json_fwrite(&err, af[4].f, jdoc, NULL, 0, NULL, NULL);
        }
        if (st != GA_OK) {
            fprintf(stderr, "gradaudit audit: --json %s\n", err.msg);
            status = GA_EXIT_INTERNAL;
        }
    }
    json_decref(jdoc);
    if (status == GA_EXIT_INTERNAL) {
        for (size_t i = 0; i < n_open; i++)
            ga_atomic_abort(&af[i]);
    } else if (ga_atomic_commit_all(af, n_files, &err) != GA_OK) {
        fprintf(stderr, "gradaudit audit: %s\n", err.msg);
        status = GA_EXIT_INTERNAL;
    }
    if (status != GA_EXIT_USAGE && status != GA_EXIT_INTERNAL)
        fprintf(out, "wrote summary.csv, worked.csv, claims.csv, audit.csv to %s/\n", outdir);
    if (out != stdout)
        fclose(out);
    free(sink);
    ga_table_free(&sum);
    ga_audit_result_free(&ar);
    stored_refs_free(&stored);
    return status;
}
