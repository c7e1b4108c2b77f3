/* ga_testsupport.h: what the test suites of every folder share: reading a
 * whole file, and running a program with its output captured. Errors are
 * returned, never asserted, so that each suite reports them its own way. */
#ifndef GA_TESTSUPPORT_H
#define GA_TESTSUPPORT_H

#include <stddef.h>

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

#endif
