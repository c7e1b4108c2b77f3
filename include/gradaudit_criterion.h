/* gradaudit_criterion.h: gradient checks as Criterion assertions.
 *
 *   #include <criterion/criterion.h>
 *   #include <gradaudit_criterion.h>
 *
 *   Test(mynet, backprop) {
 *       gradaudit_problem p = {.n = n, .theta = theta, .loss = my_loss, .grad = my_grad};
 *       cr_assert_gradient(&p, NULL);        // NULL: gradaudit_options_default
 *   }
 *
 * On failure the message gives the counts, the reference and tolerance model
 * and the worst entries (name, analytic, reference, why); when the check
 * cannot run, the status and the error message. It uses gradaudit.h's
 * public accessors only.
 *
 * cr_assert_gradient and cr_expect_gradient are named like Criterion's own
 * assertions, beside which they are written: the one exception to the
 * gradaudit_ prefix. Their helpers are gradaudit_cr_*.
 */
#ifndef GRADAUDIT_CRITERION_H
#define GRADAUDIT_CRITERION_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "gradaudit.h"

#define GRADAUDIT_CR_MSG_SIZE 4096

static inline void gradaudit_cr_append_(char *buf, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline void gradaudit_cr_append_(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

/* Runs the check; returns gradaudit_report_ok (every entry passed, and the
 * gradient followed options.grad_buffer when asked), else 0 with the failure
 * message in buf (size bytes). */
static inline int gradaudit_cr_check_(char *buf, size_t size, const gradaudit_problem *problem,
                                      const gradaudit_options *options)
{
    gradaudit_report *rep = NULL;
    gradaudit_error err;
    err.msg[0] = '\0';
    buf[0] = '\0';
    int st = gradaudit_check(&rep, &err, problem, options);
    if (st != GRADAUDIT_OK) {
        gradaudit_cr_append_(buf, size, "gradaudit_check could not run: %s (status %d: %s)", err.msg,
                             st, gradaudit_strerror(st));
        return 0;
    }
    const gradaudit_summary *r = gradaudit_report_summary(rep);
    int ok = gradaudit_report_ok(rep);
    if (!ok) {
        gradaudit_cr_append_(buf, size, "gradient check failed: %zu of %zu entries FAIL",
                             r->n_fail, r->n_entries);
        if (r->n_unjudgeable)
            gradaudit_cr_append_(buf, size, ", %zu not judgeable", r->n_unjudgeable);
        gradaudit_cr_append_(buf, size, " (seed %llu)\n%s\n", (unsigned long long)r->seed, r->model);
        if (!r->grad_buffer_ok)
            gradaudit_cr_append_(buf, size, "%s\n", r->grad_buffer_note);
        if (r->loss_nonfinite)
            gradaudit_cr_append_(buf, size, "the loss at theta is not finite: no entry judged\n");
        gradaudit_cr_append_(buf, size, "worst %zu entries:\n", r->n_top);
        for (size_t t = 0; t < r->n_top; t++) {
            const gradaudit_entry *e = gradaudit_report_top(rep, t);
            gradaudit_cr_append_(buf, size, "  %-4s %s: analytic %.17g, reference %.17g, %s\n",
                                 gradaudit_verdict_name(e->verdict), e->name, e->analytic, e->ref,
                                 e->reason);
        }
    }
    gradaudit_report_free(rep);
    return ok;
}

/* Fatal: the test stops at the first failing gradient. */
#define cr_assert_gradient(problem, options)                                                     \
    do {                                                                                         \
        char gradaudit_cr_msg_[GRADAUDIT_CR_MSG_SIZE];                                           \
        if (!gradaudit_cr_check_(gradaudit_cr_msg_, sizeof gradaudit_cr_msg_, (problem),         \
                                 (options)))                                                     \
            cr_assert_fail("%s", gradaudit_cr_msg_);                                             \
    } while (0)

/* Non-fatal: the test goes on and is marked failed. */
#define cr_expect_gradient(problem, options)                                                     \
    do {                                                                                         \
        char gradaudit_cr_msg_[GRADAUDIT_CR_MSG_SIZE];                                           \
        if (!gradaudit_cr_check_(gradaudit_cr_msg_, sizeof gradaudit_cr_msg_, (problem),         \
                                 (options)))                                                     \
            cr_expect_fail("%s", gradaudit_cr_msg_);                                             \
    } while (0)

#endif
