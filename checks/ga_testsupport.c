/* ga_testsupport.c: file reading and program runs for the test suites. */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zip.h>

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

int ga_test_vrun_gradaudit(ga_test_run *r, const char *cmd, const char *a1, va_list ap)
{
    const char *prog = getenv("GRADAUDIT"), *argv[32] = {prog};
    size_t n = 1;
    if (!prog || !*prog) {
        memset(r, 0, sizeof *r);
        r->status = -1;
        return -1;
    }
    if (cmd)
        argv[n++] = cmd;
    for (const char *a = a1; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = a;
    argv[n] = NULL;
    return ga_test_run_program(r, (char *const *)argv);
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

size_t ga_test_npy_image(unsigned char *out, size_t cap, int major, const char *dict,
                         const void *data, size_t data_len)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hlen = dl + 1;
    while ((pre + hlen) % 64)
        hlen++;
    if (pre + hlen + data_len > cap)
        return 0;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        out[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', hlen - dl - 1);
    out[pre + hlen - 1] = '\n';
    memcpy(out + pre + hlen, data, data_len);
    return pre + hlen + data_len;
}

int ga_test_zip(const char *path, size_t n, const char *const *names,
                unsigned char *const *bufs, const size_t *lens)
{
    int e;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &e);
    if (!z)
        return -1;
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(z, bufs[i], lens[i], 0);
        if (!s || zip_file_add(z, names[i], s, 0) < 0) {
            zip_source_free(s);
            zip_discard(z);
            return -1;
        }
    }
    return zip_close(z) == 0 ? 0 : -1;
}

int ga_test_csv_parse(ga_test_csv *c, char *text, size_t *bad_row)
{
    memset(c, 0, sizeof *c);
    c->text = text;
    size_t cap = 0, n = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (bad_row)
            *bad_row = c->rows;
        if (!nl)
            return -1;
        *nl = 0;
        size_t k = 0;
        for (char *f = line;; k++) {
            if (n == cap) {
                cap = 2 * cap + 256;
                char **v = realloc(c->cells, cap * sizeof *v);
                if (!v)
                    return -1;
                c->cells = v;
            }
            c->cells[n++] = f;
            char *comma = strchr(f, ',');
            if (!comma)
                break;
            *comma = 0;
            f = comma + 1;
        }
        if (c->rows == 0)
            c->cols = k + 1;
        if (k + 1 != c->cols)
            return -1;
        c->rows++;
        line = nl + 1;
    }
    return 0;
}

const char *ga_test_csv_cell(const ga_test_csv *c, size_t r, const char *col)
{
    if (r >= c->rows)
        return NULL;
    for (size_t k = 0; k < c->cols; k++)
        if (!strcmp(c->cells[k], col))
            return c->cells[r * c->cols + k];
    return NULL;
}

void ga_test_csv_free(ga_test_csv *c)
{
    free(c->cells);
    free(c->text);
    memset(c, 0, sizeof *c);
}

int ga_test_stderr_on_pty(char **seen, int (*main_fn)(int, char **), const char *const *args)
{
    *seen = NULL;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        if (master >= 0)
            close(master);
        return -1;
    }
    char *slave = ptsname(master);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(master);
        return -1;
    }
    if (pid == 0) {
        int fs = open(slave, O_RDWR);
        dup2(fs, 2);
        char *argv[64];
        int argc = 0;
        for (; args[argc] && argc < 63; argc++)
            argv[argc] = strdup(args[argc]);
        argv[argc] = NULL;
        _exit(main_fn(argc, argv));
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && len + 1 == cap) {
            char *b = realloc(buf, 2 * cap);
            if (!b)
                break;
            buf = b, cap *= 2;
        }
        ssize_t r = buf ? read(master, buf + len, cap - 1 - len) : -1;
        if (r <= 0)
            break; /* EIO once the child has closed the slave */
        len += (size_t)r;
    }
    int status;
    waitpid(pid, &status, 0);
    close(master);
    if (buf)
        buf[len] = 0;
    *seen = buf;
    return buf && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double ga_test_half_ulp(double v)
{
    double a = fabs(v);
    if (!isfinite(a))
        return NAN;
    double up = nextafter(a, INFINITY);
    return isfinite(up) ? 0.5 * (up - a) : 0.5 * (a - nextafter(a, 0));
}
