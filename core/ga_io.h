/* ga_io.h: files read with a cap and written whole or not at all.
 *
 * Reading: only regular files (or "-", standard input) are read, never past
 * a cap. A FIFO, a device or a directory given as input is refused at once,
 * before a byte is read: opened with O_NONBLOCK and judged by fstat, so a
 * FIFO without a writer cannot block the program.
 *
 * Writing: every file gradaudit writes goes through ga_atomic_open/commit.
 * A regular file (new or existing) is written to a short temporary name in
 * its directory (".gradaudit-XXXXXX"), flushed and synced, and only then
 * renamed over the destination: an error or an interrupt leaves the previous
 * file or the complete new one, never a torn one. A symlink is followed and
 * its target replaced (the link stays a link); an existing file keeps its
 * permission bits; a read-only file is refused. A character device or a
 * FIFO (/dev/stdout, /dev/null, a named pipe) is written directly, and "-"
 * means standard output. Temporary names are registered so that SIGINT and
 * SIGTERM remove them (ga_io_signals_install). */
#ifndef GA_IO_H
#define GA_IO_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "ga_core.h"

/* Reads the whole of path ("-": standard input) into a NUL-terminated
 * buffer the caller frees, *len its length (not counting the NUL). Refuses,
 * with a message naming path: a directory ("is a directory"), anything but a
 * regular file (a FIFO, a device, a socket), and a file of more than cap
 * bytes (GA_ENOMEM, before reading when its size is known). GA_EIO for the
 * rest. */
int ga_read_file(char **out, size_t *len, ga_error *err, const char *path, size_t cap);

typedef struct {
    FILE *f;      /* write here */
    char *tmp;    /* the temporary file's name; NULL when writing directly */
    char *path;   /* the destination, symlinks resolved */
    int direct;   /* f is the destination itself: stdout, a device, a pipe */
} ga_atomic_file;

/* Prepares path for writing, as described above. On failure nothing is
 * left behind and err names path and the reason: a directory, a read-only
 * file, a block device, a missing directory, a FIFO without a reader. */
int ga_atomic_open(ga_atomic_file *af, ga_error *err, const char *path);
/* Flushes, checks for write errors, syncs, closes and renames; on any
 * failure removes the temporary file. Releases af in every case. A write
 * that fails here (disk full, I/O error) returns GA_EIO. */
int ga_atomic_commit(ga_atomic_file *af, ga_error *err);
/* Several files as one: every temporary flushed, synced and closed first,
 * and only when all of them are complete are they renamed, one after the
 * other; any failure before the renames removes them all, so the
 * destinations are all new or all old. Releases every af. */
int ga_atomic_commit_all(ga_atomic_file *afs, size_t n, ga_error *err);
/* Closes and removes the temporary file; releases af. */
void ga_atomic_abort(ga_atomic_file *af);

/* len bytes of data to path, atomically. */
int ga_atomic_write(ga_error *err, const char *path, const char *data, size_t len);
/* GA_OK when path can be written as ga_atomic_open would: lets a command
 * refuse an unwritable output before working. */
int ga_path_writable(ga_error *err, const char *path);
/* 1 when path is written directly rather than replaced: "-", or (symlinks
 * followed) a character device, a FIFO or a socket. A command that rewrites
 * its output as it goes (scan's checkpoints) writes such a path once. */
int ga_path_is_direct(const char *path);
/* GA_EINVAL when the output path names the same file (device and inode,
 * symlinks followed) as one of the n inputs: a command must not replace its
 * own input. Paths that do not exist (and "-") never clash. */
int ga_path_distinct(ga_error *err, const char *output, const char *const *inputs, size_t n);

/* SIGINT and SIGTERM handlers that remove the registered temporary files and
 * end the process with status 128 + the signal's number (130, 143), the
 * shell's convention. A command with its own handler (scan) installs it over
 * these and puts them back when it is done. */
void ga_io_signals_install(void);
/* drawn 1: a line is on the terminal unfinished (a progress line,
 * ga_progress.h), so those handlers erase it ("\r", erase to the end of the
 * line) before their message, which then starts at column 0; 0 when it is
 * erased. */
void ga_io_signals_line(int drawn);
/* Another temporary file (name must live until it is unregistered) for those
 * handlers to remove: a command's scratch files, such as scan's for gnuplot. */
void ga_io_temp_register(char *name);
void ga_io_temp_unregister(const char *name);

#endif
