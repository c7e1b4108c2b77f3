/* test_op_support.h: what lib/test_op.c and lib/test_op_bf16.c share: the
 * ops' deterministic inputs and the check that must run. Include after
 * <criterion/criterion.h> and "gradaudit.h". */
#ifndef TEST_OP_SUPPORT_H
#define TEST_OP_SUPPORT_H

#include <math.h>

/* the layer's input, deterministic and spread over a few units */
static double fill(size_t i, double scale, double phase)
{
    return scale * sin(0.7 * (double)i + phase) + 0.1 * cos(1.3 * (double)i);
}

/* the check of op, which must run (whatever its verdicts) */
static gradaudit_op_result run(const gradaudit_op *op, gradaudit_op_backward_fn fn, void *user)
{
    gradaudit_op_result r;
    gradaudit_error err;
    cr_assert_eq(gradaudit_check_op(&r, &err, op, fn, user), GRADAUDIT_OK, "%s", err.msg);
    return r;
}

#endif
