/* ga_testsupport.h: what the test suites of every folder share: reading a
 * whole file, and running a program with its output captured. Errors are
 * returned, never asserted, so that each suite reports them its own way. */
#ifndef GA_TESTSUPPORT_H
#define GA_TESTSUPPORT_H

#include <stdarg.h>
#include <stddef.h>

/* Half a unit in the last place of |v| (of the double below it at DBL_MAX;
 * 2^-1075 at 0): a bound on |exact - v| at most this says v is the exact
 * value correctly rounded. NaN for a v that is not finite. */
double ga_test_half_ulp(double v);

/* The whole file in a NUL-terminated buffer the caller frees; *len (may be
 * NULL) receives its length. NULL when the file cannot be read. */
char *ga_test_slurp(const char *path, size_t *len);

typedef struct {
    int status;     /* exit status; -1 when the program did not exit normally */
    int signal;     /* the signal that ended it, or 0 */
    char *out, *err; /* stdout and stderr, NUL-terminated */
    size_t out_len, err_len;
} ga_test_run;

/* Runs argv[0] (a path) with argv (NULL-terminated), stdout and stderr
 * captured through temporary files. 0, or -1 when it could not be run. */
int ga_test_run_program(ga_test_run *r, char *const *argv);
void ga_test_run_free(ga_test_run *r);
/* Runs $GRADAUDIT (the program meson names) with the words cmd (unless
 * NULL), a1 and those after it in ap (NULL-terminated; at most 28), as
 * ga_test_run_program. -1 also when GRADAUDIT is not set. */
int ga_test_vrun_gradaudit(ga_test_run *r, const char *cmd, const char *a1, va_list ap);

/* Runs main_fn(argc, argv) from args (NULL-terminated, argv[0] the command name)
 * in a child process whose stderr is a pseudo-terminal, so that isatty(2) holds;
 * *seen receives what it wrote there (NUL-terminated, the caller frees).
 * Returns the exit status, or -1 when it could not be run or did not exit. */
int ga_test_stderr_on_pty(char **seen, int (*main_fn)(int, char **), const char *const *args);

/* A .npy image as numpy/lib/format.py writes it: magic, version major.0, the
 * header length (little-endian), the dict text padded with spaces to a
 * multiple of 64 and ended by '\n', then data_len bytes of data. Returns the
 * image's length, 0 when it does not fit in cap. */
size_t ga_test_npy_image(unsigned char *out, size_t cap, int major, const char *dict,
                         const void *data, size_t data_len);
/* A zip archive at path of n entries (names[i], bufs[i] of lens[i] bytes),
 * written with libzip (stored or deflated as libzip chooses). 0, or -1. */
int ga_test_zip(const char *path, size_t n, const char *const *names,
                unsigned char *const *bufs, const size_t *lens);


/* A CSV without quoting, parsed in place (text is modified and kept).
 * cells[r * cols + k]; row 0 is the header. */
typedef struct {
    char *text;
    char **cells;
    size_t rows, cols;
} ga_test_csv;

/* 0; -1 when a row has another number of fields than the header, or the
 * text does not end with '\n' (*bad_row receives the row), or no memory. */
int ga_test_csv_parse(ga_test_csv *c, char *text, size_t *bad_row);
/* The cell of column `col` (by header name) in row r; NULL when no such column. */
const char *ga_test_csv_cell(const ga_test_csv *c, size_t r, const char *col);
void ga_test_csv_free(ga_test_csv *c); /* frees cells and text */

#endif
