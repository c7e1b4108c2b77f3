/* ga_io.h: files written whole or not at all.
 *
 * Every report gradaudit writes (CSV, transcripts, plots' data) goes to a
 * temporary file in the destination's directory, is flushed and synced, and
 * only then renamed over the destination: an error or an interrupt leaves
 * either the previous file or the complete new one, never a torn one. */
#ifndef GA_IO_H
#define GA_IO_H

#include <stddef.h>
#include <stdio.h>

#include "ga_core.h"

typedef struct {
    FILE *f;      /* write here */
    char *tmp;    /* the temporary file's name */
    char *path;   /* the destination */
} ga_atomic_file;

/* Creates the temporary file next to path (mode 0666 less the umask, as a
 * plain fopen would give). On failure nothing is left behind. */
int ga_atomic_open(ga_atomic_file *af, ga_error *err, const char *path);
/* Flushes, checks for write errors, syncs, closes and renames; on any
 * failure removes the temporary file. Releases af in every case. */
int ga_atomic_commit(ga_atomic_file *af, ga_error *err);
/* Closes and removes the temporary file; releases af. */
void ga_atomic_abort(ga_atomic_file *af);

/* len bytes of data to path, atomically. */
int ga_atomic_write(ga_error *err, const char *path, const char *data, size_t len);
/* GA_OK when a file can be created in path's directory and path is not a
 * directory: lets a command refuse an unwritable output before working. */
int ga_path_writable(ga_error *err, const char *path);

#endif
