/* test_normlog_api: the gradient-norm log through the public header and the
 * shared library only. core/'s ga_normlog is tested in checks/test_normlog.c;
 * what is tested here is the public copy of its types: every field reaches
 * core and comes back, and every error keeps its status and message. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <gradaudit.h>

#include "ga_testsupport.h" /* test helpers only: the API comes from gradaudit.h alone */

static char path[64];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/ga_lib_normlog_%d.csv", (int)getpid());
}

static void teardown(void)
{
    unlink(path);
}

TestSuite(normlog_api, .init = setup, .fini = teardown);

/* W (2, 2) and b (2): two steps, with parameters, clipping and non-default
 * options; the last step's statistics by hand (3-4-5 triangles). */
Test(normlog_api, two_steps_options_and_last_step)
{
    gradaudit_normlog_tensor t[2] = {{"W", 2, {2, 2}}, {"b", 1, {2}}};
    gradaudit_normlog_options opt;
    gradaudit_normlog_options_default(&opt);
    cr_expect_eq(opt.vanish_below, 1e-4);
    cr_expect_eq(opt.explode_above, 1e4);
    cr_expect_eq(opt.ref_tensor, -1);
    opt.lightning_names = 1;
    opt.ref_tensor = 1;
    gradaudit_normlog *log;
    gradaudit_error err;
    cr_assert_eq(gradaudit_normlog_open(&log, &err, path, t, 2, &opt), GRADAUDIT_OK, "%s", err.msg);
    double W[4] = {1, 2, 3, 4}, b[2] = {0, 1};
    double dW[4] = {3, 0, 0, 4}, db[2] = {0, NAN};
    const double *g[2] = {dW, db}, *p[2] = {W, b};
    gradaudit_normlog_last last;
    cr_expect_eq(gradaudit_normlog_last_step(&last, log), GRADAUDIT_EINVAL, "no step yet");
    gradaudit_normlog_clip clip = {1.0, 1e-6};
    cr_assert_eq(gradaudit_normlog_step(log, &err, 0, 0.5, g, p, &clip), GRADAUDIT_OK, "%s",
                 err.msg);
    db[1] = 12;
    cr_assert_eq(gradaudit_normlog_step(log, &err, 1, 0.25, g, NULL, NULL), GRADAUDIT_OK, "%s",
                 err.msg);
    cr_assert_eq(gradaudit_normlog_last_step(&last, log), GRADAUDIT_OK);
    cr_expect_eq(last.step, 1);
    cr_expect_eq(last.tensors[0].norm, 5.0);
    cr_expect_eq(last.tensors[0].max_abs, 4.0);
    cr_expect_eq(last.tensors[1].norm, 12.0);
    cr_expect_eq(last.tensors[1].nan, 0);
    cr_expect_eq(last.global_norm, 13.0);
    cr_expect_eq(last.norm_ratio[0], 5.0 / 12.0, "ref_tensor 1 reached core");
    cr_expect(isnan(last.update_ratio[0]), "no params this step");
    cr_expect_eq(last.clipped, 0);
    cr_expect_eq(gradaudit_normlog_close(log, &err), GRADAUDIT_OK, "%s", err.msg);
    char *csv = ga_test_slurp(path, NULL);
    cr_assert_not_null(csv);
    cr_expect(strstr(csv, "grad_2.0_norm/W") != NULL, "lightning_names reached core: %.200s", csv);
    cr_expect(strstr(csv, "grad_2.0_norm_total") != NULL, "%.200s", csv);
    free(csv);
}

Test(normlog_api, open_fd_and_repair)
{
    gradaudit_normlog_tensor t[1] = {{"x", 0, {0}}};
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    gradaudit_normlog *log;
    gradaudit_error err;
    cr_assert_eq(gradaudit_normlog_open_fd(&log, &err, fd, "mine", t, 1, NULL), GRADAUDIT_OK, "%s",
                 err.msg);
    double x = -2;
    const double *g[1] = {&x};
    cr_assert_eq(gradaudit_normlog_step(log, &err, 3, 1.0, g, NULL, NULL), GRADAUDIT_OK, "%s",
                 err.msg);
    cr_expect_eq(gradaudit_normlog_close(log, &err), GRADAUDIT_OK, "%s", err.msg);
    cr_expect_eq(write(fd, "3,frag", 6), 6, "the fd stayed open: it is the caller's");
    close(fd);
    size_t cut = 0;
    cr_expect_eq(gradaudit_normlog_repair(&err, path, &cut), GRADAUDIT_OK, "%s", err.msg);
    cr_expect_eq(cut, 6);
}

Test(normlog_api, errors_keep_status_and_message)
{
    gradaudit_normlog_tensor t[2] = {{"W", 2, {2, 2}}, {"bad name!", 1, {2}}};
    gradaudit_normlog *log = (gradaudit_normlog *)&log;
    gradaudit_error err;
    cr_expect_eq(gradaudit_normlog_open(&log, &err, path, t, 2, NULL), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "tensor 1") != NULL, "%s", err.msg);
    cr_expect_null(log);
    cr_expect_eq(gradaudit_normlog_open(&log, NULL, path, t, 2, NULL), GRADAUDIT_EINVAL,
                 "err may be NULL");
    /* refused before tensors is read */
    cr_expect_eq(gradaudit_normlog_open(&log, &err, path, t, (size_t)-1 / 2, NULL), GRADAUDIT_ENOMEM);
    cr_expect(strstr(err.msg, "memory cap") != NULL, "%s", err.msg);
    cr_expect_eq(gradaudit_normlog_open(NULL, &err, path, t, 1, NULL), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "out is NULL") != NULL, "%s", err.msg);
    cr_expect_eq(gradaudit_normlog_open(&log, &err, "/no/such/dir/n.csv", t, 1, NULL), GRADAUDIT_EIO);
    cr_expect(strstr(err.msg, "/no/such/dir/n.csv") != NULL, "%s", err.msg);
    cr_expect_eq(gradaudit_normlog_open(&log, &err, path, NULL, 1, NULL), GRADAUDIT_EINVAL);
    cr_expect_eq(gradaudit_normlog_open_fd(&log, &err, -1, "neg", t, 1, NULL), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "invalid file descriptor -1") != NULL, "%s", err.msg);
    gradaudit_normlog_options opt;
    gradaudit_normlog_options_default(&opt);
    opt.explode_above = -1;
    cr_expect_eq(gradaudit_normlog_open(&log, &err, path, t, 1, &opt), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "explode_above -1") != NULL, "options reached core: %s", err.msg);

    cr_assert_eq(gradaudit_normlog_open(&log, &err, path, t, 1, NULL), GRADAUDIT_OK, "%s", err.msg);
    double w[4] = {1, 2, 3, 4};
    const double *g[1] = {w};
    cr_expect_eq(gradaudit_normlog_step(NULL, &err, 0, 1.0, g, NULL, NULL), GRADAUDIT_EINVAL);
    gradaudit_normlog_clip clip = {-1, 0};
    cr_expect_eq(gradaudit_normlog_step(log, &err, 0, 1.0, g, NULL, &clip), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "clip") != NULL, "clip reached core: %s", err.msg);
    cr_expect_eq(gradaudit_normlog_step(log, &err, 5, 1.0, g, NULL, NULL), GRADAUDIT_OK, "%s",
                 err.msg);
    cr_expect_eq(gradaudit_normlog_step(log, &err, 5, 1.0, g, NULL, NULL), GRADAUDIT_EINVAL);
    cr_expect(strstr(err.msg, "step") != NULL, "%s", err.msg);
    cr_expect_eq(gradaudit_normlog_last_step(NULL, log), GRADAUDIT_EINVAL);
    cr_expect_eq(gradaudit_normlog_close(log, &err), GRADAUDIT_OK, "%s", err.msg);
    cr_expect_eq(gradaudit_normlog_close(NULL, &err), GRADAUDIT_OK);
    cr_expect_eq(gradaudit_normlog_repair(&err, "/no/such/file.csv", NULL), GRADAUDIT_EIO);
    cr_expect(strstr(err.msg, "/no/such/file.csv") != NULL, "%s", err.msg);
}

Test(normlog_api, norm_and_stats)
{
    double x[3] = {3, -4, 12};
    cr_expect_eq(gradaudit_norm2(x, 3), 13.0);
    double y[4] = {1, NAN, -INFINITY, 2};
    gradaudit_tensor_stats s;
    gradaudit_tensor_stats_compute(&s, y, 4);
    cr_expect_eq(s.nan, 1);
    cr_expect_eq(s.inf, 1);
    cr_expect(isnan(s.norm));
    gradaudit_tensor_stats_compute(&s, x, 3);
    cr_expect_eq(s.norm, 13.0);
    cr_expect_eq(s.max_abs, 12.0);
}
