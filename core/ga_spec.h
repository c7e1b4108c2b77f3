/* ga_spec.h: the JSON network spec (format in docs/spec.md).
 *
 * A spec file describes one network (layout, input size, layers, loss), one
 * batch of data and the parameters: explicit values per tensor, or an
 * initialisation recipe (ga_init.h) with a seed. Parsing validates everything
 * and refuses sizes over the memory cap before allocating anything big; a bad
 * spec gives one message
 *     FILE: JSON.PATH: what was wrong (expected ...)
 * or, for a JSON syntax error,
 *     FILE:LINE:COLUMN: what was wrong
 * and status GA_ESPEC (GA_EIO when the file cannot be read, GA_ENOMEM when a
 * size exceeds the memory cap or an allocation fails, GA_ERANGE when a count
 * overflows).
 */
#ifndef GA_SPEC_H
#define GA_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ga_core.h"
#include "ga_init.h"

typedef struct {
    char *source;          /* name used in messages (the file path as given) */
    char *description;     /* the spec's "description", or NULL */
    ga_net_desc desc;      /* desc.layers (n_layers) owned by the spec */
    size_t n_params;       /* as ga_net_desc_validate counts them */
    size_t batch;          /* B >= 1 */
    double *x;             /* (B, n_in)  one row per sample, whatever the layout */
    double *y;             /* (B, n_out) one row per sample */
    int has_init;          /* 1: parameters from init, 0: from values */
    double *values;        /* (n_params) when !has_init: W1, b1, W2, b2, ... each
                              C order in its stored shape, back to back */
    ga_init_recipe init;   /* when has_init; init.seed is the spec's seed */
} ga_spec;

/* Reads and parses a spec file. memory_cap bounds params + grads + workspace
 * (ga_net_desc_validate) and, separately, the data and explicit values; 0
 * means GA_DEFAULT_MEMORY_CAP. Messages start with path. */
/* Any JSON file read as spec files are (core/ga_io.h's ga_read_file, at most
 * cap bytes; duplicate keys refused): FILE:LINE:COLUMN messages. The caller
 * json_decref()s *out. */
struct json_t;
int ga_json_load(struct json_t **out, ga_error *err, const char *path, size_t cap);
int ga_spec_load(ga_spec **out, ga_error *err, const char *path, size_t memory_cap);
/* Parses spec text (NUL-terminated); name_for_messages starts every message. */
int ga_spec_parse(ga_spec **out, ga_error *err, const char *text, const char *name_for_messages,
                  size_t memory_cap);
void ga_spec_free(ga_spec *spec);

/* One layer object (docs/spec.md, layers[i]) as JSON text, parsed by the
 * spec's own rules as the first layer of a net whose input is fan_in wide
 * and which goes on after it (so a norm, a conv or an embedding may be
 * given): the op of the library's op-level check (gradaudit_check_op).
 * Messages read "NAME: layer.KEY: what ..." (NAME: name_for_messages), a
 * JSON syntax error "NAME:LINE:COLUMN: ...". Two forms beside the spec's:
 * an object with "activation" (and "slope" or "alpha") but neither "type"
 * nor "size" is an activation alone (*act_only = 1, d->act and act_param
 * set, d->n_out = fan_in, the rest zero); a residual or a concat, which read
 * a second layer, is refused. GA_ESPEC, GA_ENOMEM. */
int ga_spec_parse_layer(ga_layer_desc *d, int *act_only, ga_error *err, const char *text,
                        const char *name_for_messages, size_t fan_in);

/* Allocates a net for spec->desc and fills its params: the explicit values,
 * or the init recipe seeded with spec->init.seed, or with seed_override when
 * use_override is nonzero (GA_EINVAL if the spec has explicit values). */
int ga_spec_make_net(ga_net **out, ga_error *err, const ga_spec *spec, uint32_t seed_override,
                     int use_override);

/* Writes spec as a JSON spec whose parameters are net's current values
 * (explicit "values", a snapshot that no longer needs the init recipe), data
 * with samples in rows, numbers with %.17g so that reading the file back
 * gives the same doubles bit for bit (a negative zero is written -0.0).
 * net must have been made from spec. Every number is checked finite before
 * the first byte is written: GA_ENONFINITE names the first offending entry
 * and f is untouched; GA_EIO if a write fails. */
int ga_spec_write(FILE *f, ga_error *err, const ga_spec *spec, const ga_net *net);

/* Shape in which tensor v (W1 = 0, b1 = 1, W2 = 2, ...) is stored:
 * column layout W (out, in), b (out, 1); row layout W (in, out), b (1, out). */
void ga_spec_tensor_shape(size_t *rows, size_t *cols, const ga_net_desc *desc, size_t v);

#endif
