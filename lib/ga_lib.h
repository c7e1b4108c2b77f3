/* ga_lib.h: what lib/'s files share behind gradaudit.h: the public status
 * codes and verdicts are the internal ones (checked here at compile time),
 * and a ga_error's message is handed to the caller's gradaudit_error. */
#ifndef GA_LIB_H
#define GA_LIB_H

#include <string.h>

#include "ga_check.h"
#include "ga_core.h"
#include "gradaudit.h"

#define GA_LIB_SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(GA_LIB_SAME(GRADAUDIT_OK, GA_OK) && GA_LIB_SAME(GRADAUDIT_EINVAL, GA_EINVAL) &&
                   GA_LIB_SAME(GRADAUDIT_ENOMEM, GA_ENOMEM) &&
                   GA_LIB_SAME(GRADAUDIT_ERANGE, GA_ERANGE) && GA_LIB_SAME(GRADAUDIT_EIO, GA_EIO) &&
                   GA_LIB_SAME(GRADAUDIT_ENONFINITE, GA_ENONFINITE) &&
                   GA_LIB_SAME(GRADAUDIT_ECALLBACK, GA_ECALLBACK) &&
                   GA_LIB_SAME(GRADAUDIT_EINTERNAL, GA_EFAIL) &&
                   GA_LIB_SAME(GRADAUDIT_EMPFRLOSS, GA_EMPFRLOSS),
               "gradaudit.h's status codes are core's");
_Static_assert(GA_LIB_SAME(GRADAUDIT_VERDICT_PASS, GA_VERDICT_PASS) &&
                   GA_LIB_SAME(GRADAUDIT_VERDICT_FAIL, GA_VERDICT_FAIL) &&
                   GA_LIB_SAME(GRADAUDIT_VERDICT_KINK, GA_VERDICT_KINK) &&
                   GA_LIB_SAME(GRADAUDIT_VERDICT_UNJUDGEABLE, GA_VERDICT_UNJUDGEABLE),
               "gradaudit.h's verdicts are the checker's");
_Static_assert(sizeof(((gradaudit_error *)0)->msg) == sizeof(((ga_error *)0)->msg),
               "gradaudit_error holds a whole ga_error message");

/* The directed rounding modes (fenv.h) the noise model reruns the user's
 * code in, ended by -1 (lib/ga_problem.c). */
extern const int ga_lib_directed_modes[];

/* Copies e's message to err (may be NULL) when status is an error; returns
 * status. e->msg must be a string (set it to "" before the call that may fail). */
static inline int ga_lib_pass_error(gradaudit_error *err, const ga_error *e, int status)
{
    if (status != GA_OK && err)
        memcpy(err->msg, e->msg, sizeof err->msg);
    return status;
}

#endif
