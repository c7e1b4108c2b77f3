/* ga_cli_json.h: the --json summaries of check, eval and audit (docs/json.md).
 *
 * Numbers are JSON numbers that read back to the same double: jansson's
 * json_real written with JSON_REAL_PRECISION(17), i.e. %.17g. JSON has no
 * NaN or infinity: such a value is written as null, and a string field
 * "<key>_nonfinite" beside it says which ("NaN", "Infinity", "-Infinity").
 * A document is one object; its one long array (check's and eval's entries)
 * is streamed one element a line, so that a 100k-entry net needs no tree of
 * 100k objects in memory. */
#ifndef GA_CLI_JSON_H
#define GA_CLI_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ga_core.h"

/* The version of the documents' layout, "schema" in every document. */
#define GA_JSON_SCHEMA 1

/* obj[key] = v, or null and obj[key "_nonfinite"] = "NaN"/"Infinity"/"-Infinity".
 * 0, or -1 when out of memory. */
int ga_json_set_num(json_t *obj, const char *key, double v);
/* obj[key] = v as a JSON integer when v <= 2^63 - 1 (jansson's json_int_t);
 * above, the nearest double, and obj[key "_exact"] = its decimal string. */
int ga_json_set_uint(json_t *obj, const char *key, uint64_t v);
/* obj[key] = the string s; bytes that are not UTF-8 become '?'. */
int ga_json_set_str(json_t *obj, const char *key, const char *s);

/* An object with "gradaudit": command, "schema" and "version": every
 * document's first three keys. NULL when out of memory. */
json_t *ga_json_document(const char *command);

/* Element i of the streamed array (a new reference the writer releases);
 * NULL when out of memory. */
typedef json_t *(*ga_json_item_fn)(void *ctx, size_t i);

/* Writes head, followed (when array_key is not NULL) by array_key: the n
 * items item(ctx, 0..n-1), to the open file f. GA_OK, GA_ENOMEM or GA_EIO. */
int ga_json_fwrite(ga_error *err, FILE *f, const json_t *head, const char *array_key, size_t n,
                   ga_json_item_fn item, void *ctx);
/* The same to path through core/ga_io.h's writer: "-" is standard output,
 * a regular file is replaced whole or not at all. */
int ga_json_write(ga_error *err, const char *path, const json_t *head, const char *array_key,
                  size_t n, ga_json_item_fn item, void *ctx);

#endif
