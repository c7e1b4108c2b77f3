/* ga_testsupport.c: file reading and program runs for the test suites. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ga_testsupport.h"

extern char **environ;

char *ga_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *nb = realloc(buf, 2 * cap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb, cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

int ga_test_run_program(ga_test_run *r, char *const *argv)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    char dir[] = "/tmp/ga_run_XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char out_path[64], err_path[64];
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int ws = 0;
    if (rc == 0 && waitpid(pid, &ws, 0) != pid)
        rc = -1;
    if (rc == 0) {
        r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
        r->signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
        r->out = ga_test_slurp(out_path, &r->out_len);
        r->err = ga_test_slurp(err_path, &r->err_len);
    }
    unlink(out_path);
    unlink(err_path);
    rmdir(dir);
    if (rc != 0 || !r->out || !r->err) {
        ga_test_run_free(r);
        return -1;
    }
    return 0;
}

void ga_test_run_free(ga_test_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
