/* ga_sweep.h: scan sweeps (activation x init x sigma_w2 x sigma_b2 x depth x width x
 * batch x seed), their CSV, shards, merging and atomic files.
 *
 * Configurations are numbered 0..n-1 with the seed varying fastest, then batch,
 * width, depth, sigma_b2, sigma_w2, init, activation (outermost). sigma_w2 is an
 * axis only for the inits that read it (normal, orthogonal); the others contribute
 * their own implied value once. Shard K/N (1 <= K <= N) holds the configurations
 * i with i mod N = K - 1, so any N shards together hold each one exactly once.
 *
 * CSV (RFC 4180, CRLF-free "\n" line ends, '.' decimals, numbers %.17g; norms
 * outside the double range in MPFR's %.17Rg, e.g. 1.2345678901234567e-3010): one
 * header row, then one row per (configuration, layer). Columns in ga_sweep_header.
 */
#ifndef GA_SWEEP_H
#define GA_SWEEP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "ga_io.h"
#include "ga_scan.h"

#define GA_SWEEP_MAX_CONFIGS 10000000UL
/* A scan spec is a few settings: larger files are refused unread. */
#define GA_SWEEP_SPEC_CAP ((size_t)1 << 20)
/* merge holds its shards and their join: the shards together are capped at
 * half the memory cap. */
#define GA_SWEEP_MERGE_CAP ((size_t)GA_DEFAULT_MEMORY_CAP / 2)

typedef struct {
    size_t n_act;
    ga_activation *act;  /* (n_act) */
    double *act_param;   /* (n_act) */
    size_t n_init;
    int *init;           /* (n_init) */
    size_t n_sw2, n_sb2, n_depth, n_width, n_batch, n_seed;
    double *sw2, *sb2;   /* (n_sw2), (n_sb2) */
    size_t *depth, *width, *batch;
    uint32_t *seed;
    double vanish_below, explode_above; /* health thresholds on ||delta_l|| / ||delta_L|| */
} ga_sweep;

/* Defaults: act tanh, init normal, sigma_w2 1, sigma_b2 0, depth 10, width 64,
 * batch 32, seed 0, vanish_below 1e-4, explode_above 1e4. */
int ga_sweep_init(ga_sweep *s, ga_error *err);
void ga_sweep_free(ga_sweep *s);

/* Sets one axis from its command-line text. key is the option name without
 * dashes: act ("tanh,relu,leaky_relu:0.2"), init, sigma-w2, sigma-b2 (comma lists
 * of numbers), depth, width, batch, seeds (comma lists of integers and ranges
 * A-B or A-B:STEP), vanish-below, explode-above (one number). GA_EINVAL with a
 * message naming the option and the bad item. */
int ga_sweep_set(ga_sweep *s, ga_error *err, const char *key, const char *text);
/* Reads a scan spec: a JSON object whose keys are the option names above, each
 * a string in the command-line syntax, a number, or an array of those; each key
 * once, a regular file of at most GA_SWEEP_SPEC_CAP bytes. */
int ga_sweep_load(ga_sweep *s, ga_error *err, const char *path);

/* Number of configurations (GA_ERANGE over GA_SWEEP_MAX_CONFIGS). */
int ga_sweep_count(size_t *n, ga_error *err, const ga_sweep *s);
/* Configuration i (0 <= i < n). */
void ga_sweep_config(ga_scan_config *c, const ga_sweep *s, size_t i);

/* Parses "K/N"; GA_EINVAL unless 1 <= K <= N (decimal integers, nothing else). */
int ga_shard_parse(size_t *k, size_t *n, ga_error *err, const char *text);

/* A growable text buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} ga_buf;
int ga_buf_append(ga_buf *b, const char *text, size_t len);
void ga_buf_free(ga_buf *b);

/* The header row (with its "\n"). */
const char *ga_sweep_header(void);
/* Appends the rows of configuration index (of n_configs) with result r. */
int ga_sweep_rows(ga_buf *out, const ga_sweep *s, size_t index, size_t n_configs,
                  const ga_scan_config *c, const ga_scan_result *r);

/* Merges shard CSVs (each: the header, then whole configurations) into the bytes a
 * single run writes. Only regular files, GA_SWEEP_MERGE_CAP bytes in all (GA_ENOMEM
 * above, before reading the file that passes it). GA_EINVAL on a foreign header, a configuration present twice
 * or missing, or inconsistent configuration counts. */
int ga_sweep_merge(ga_buf *out, ga_error *err, const char *const *paths, size_t n_paths);
/* The sweep's id, the CSV's last column: FNV-1a (64 bits) of its axes and
 * thresholds, so merge can tell shards of one sweep from another's. */
uint64_t ga_sweep_id(const ga_sweep *s);

#endif
