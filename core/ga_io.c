/* ga_io.c: capped reads of regular files; atomic writes (temporary file +
 * rename) with symlinks followed and devices written directly; temporary
 * files removed on SIGINT/SIGTERM. See ga_io.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ga_io.h"

/* ---- reading ---------------------------------------------------------------- */

static const char *kind_of(mode_t m)
{
    return S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int ga_read_file(char **out, size_t *len, ga_error *err, const char *path, size_t cap)
{
    *out = NULL;
    *len = 0;
    if (cap > SIZE_MAX / 4)
        cap = SIZE_MAX / 4;
    int is_stdin = !strcmp(path, "-");
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return ga_fail(err, GA_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    int st = GA_OK;
    if (fstat(fd, &sb) != 0)
        st = ga_fail(err, GA_EIO, "%s: cannot read: %s", path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        st = ga_fail(err, GA_EIO, "%s: is a directory (expected a file)", path);
    else if (!is_stdin && !S_ISREG(sb.st_mode))
        st = ga_fail(err, GA_EIO, "%s: is %s, not a regular file: gradaudit reads only files "
                     "(or '-', standard input)", path, kind_of(sb.st_mode));
    else if (S_ISREG(sb.st_mode) && (uintmax_t)sb.st_size > cap)
        st = ga_fail(err, GA_ENOMEM, "%s: %jd bytes, over the cap of %zu bytes", path,
                     (intmax_t)sb.st_size, cap);
    if (st == GA_OK && !is_stdin) /* a regular file: O_NONBLOCK has no effect, but be plain */
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    size_t size = st == GA_OK && S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 1 : 65536;
    if (size > cap + 1)
        size = cap + 1;
    char *buf = st == GA_OK ? malloc(size + 1) : NULL;
    if (st == GA_OK && !buf)
        st = ga_fail(err, GA_ENOMEM, "%s: cannot allocate %zu bytes", path, size + 1);
    size_t n = 0;
    while (st == GA_OK) {
        if (n == size) { /* the file grew, or standard input: double up to cap + 1 */
            size_t ns = size > cap / 2 ? cap + 1 : 2 * size;
            char *nb = n > cap ? NULL : realloc(buf, ns + 1);
            if (n > cap)
                st = ga_fail(err, GA_ENOMEM, "%s: more than the cap of %zu bytes", path, cap);
            else if (!nb)
                st = ga_fail(err, GA_ENOMEM, "%s: cannot allocate %zu bytes", path, ns + 1);
            else
                buf = nb, size = ns;
            if (st != GA_OK)
                break;
        }
        ssize_t got = read(fd, buf + n, size - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            st = ga_fail(err, GA_EIO, "%s: cannot read: %s", path, strerror(errno));
        else if (got == 0)
            break;
        else
            n += (size_t)got;
    }
    if (!is_stdin)
        close(fd);
    if (st != GA_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return GA_OK;
}

/* ---- temporary files removed on a signal --------------------------------------- */

#define MAX_TEMPS 16
static char *volatile g_temps[MAX_TEMPS];
static volatile sig_atomic_t g_line_drawn; /* ga_io_signals_line */

static void block_signals(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigprocmask(SIG_BLOCK, &s, old);
}

static void register_temp(char *name)
{
    sigset_t old;
    block_signals(&old);
    for (int i = 0; i < MAX_TEMPS; i++)
        if (!g_temps[i]) {
            g_temps[i] = name;
            break;
        }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void unregister_temp(const char *name)
{
    sigset_t old;
    block_signals(&old);
    for (int i = 0; i < MAX_TEMPS; i++)
        if (g_temps[i] == name)
            g_temps[i] = NULL;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

void ga_io_temp_register(char *name)
{
    register_temp(name);
}

void ga_io_temp_unregister(const char *name)
{
    unregister_temp(name);
}

static void on_signal_cleanup(int sig)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (g_temps[i])
            unlink(g_temps[i]);
    static const char erase[] = "\r\033[K";
    if (g_line_drawn)
        (void)!write(STDERR_FILENO, erase, sizeof erase - 1);
    static const char m_int[] = "gradaudit: interrupted (SIGINT); no file was written\n";
    static const char m_term[] = "gradaudit: terminated (SIGTERM); no file was written\n";
    if (sig == SIGINT)
        (void)!write(STDERR_FILENO, m_int, sizeof m_int - 1);
    else
        (void)!write(STDERR_FILENO, m_term, sizeof m_term - 1);
    _exit(128 + sig);
}

void ga_io_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_cleanup;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void ga_io_signals_line(int drawn)
{
    g_line_drawn = drawn != 0;
}

/* Tests only: GRADAUDIT_TEST_HOLD=S makes a commit wait S seconds once its
 * temporary files are complete, before renaming them, so that a test can
 * signal the program at that moment deterministically. */
static void test_hold(void)
{
    const char *h = getenv("GRADAUDIT_TEST_HOLD");
    if (!h || !*h)
        return;
    struct timespec ts = {atoi(h), 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- writing ------------------------------------------------------------------ */

/* path with every symlink in its last component followed (relative targets
 * are relative to the link's directory); *sb and *exists describe the end. */
static char *follow_links(int *st, ga_error *err, const char *path, struct stat *sb, int *exists)
{
    *st = GA_EIO;
    char *p = strdup(path);
    for (int hops = 0; p; hops++) {
        if (lstat(p, sb) != 0) {
            if (errno == ENOENT) {
                *exists = 0;
                return p;
            }
            ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(errno));
            free(p);
            return NULL;
        }
        if (!S_ISLNK(sb->st_mode)) {
            *exists = 1;
            return p;
        }
        char link[4096];
        ssize_t n = hops < 40 ? readlink(p, link, sizeof link - 1) : -1;
        if (n < 0) {
            ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(hops < 40 ? errno : ELOOP));
            free(p);
            return NULL;
        }
        link[n] = '\0';
        const char *slash = strrchr(p, '/');
        size_t d = link[0] == '/' || !slash ? 0 : (size_t)(slash - p) + 1;
        char *next = malloc(d + (size_t)n + 1);
        if (next) {
            memcpy(next, p, d);
            memcpy(next + d, link, (size_t)n + 1);
        }
        free(p);
        p = next;
    }
    *st = ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
    return NULL;
}

/* "DIR/.gradaudit-XXXXXX" for mkstemp, in target's directory: short, so that
 * any file name that fits fits its temporary too */
static char *temp_template(const char *target)
{
    const char *slash = strrchr(target, '/');
    size_t d = slash ? (size_t)(slash - target) + 1 : 0;
    static const char name[] = ".gradaudit-XXXXXX";
    char *t = malloc(d + sizeof name);
    if (t) {
        memcpy(t, target, d);
        memcpy(t + d, name, sizeof name);
    }
    return t;
}

/* N when path names an open descriptor of this process (/dev/stdout,
 * /dev/stderr, /dev/fd/N, /proc/self/fd/N), else -1. Such a path is written
 * through the descriptor: following its link would replace the file the
 * shell opened (a redirection) instead of writing into it. */
static int fd_path(const char *path)
{
    if (!strcmp(path, "/dev/stdout"))
        return STDOUT_FILENO;
    if (!strcmp(path, "/dev/stderr"))
        return STDERR_FILENO;
    const char *p = !strncmp(path, "/dev/fd/", 8) ? path + 8
                  : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
    if (!p || *p < '0' || *p > '9')
        return -1;
    char *e;
    long n = strtol(p, &e, 10);
    return *e || n > 1 << 20 ? -1 : (int)n;
}

/* Judges path: GA_OK with *target (allocated) and *kind 0 for a regular or
 * new file (*mode its permission bits, or -1 for a new file), 1 for a
 * destination written directly (a character device, a FIFO, a socket). */
static int judge(ga_error *err, const char *path, char **target, int *kind, long *mode)
{
    struct stat sb;
    int exists = 0;
    *target = NULL;
    *kind = 0;
    *mode = -1;
    if (!path || !*path)
        return ga_fail(err, GA_EINVAL, "no output file name");
    int st;
    char *t = follow_links(&st, err, path, &sb, &exists);
    if (!t)
        return st;
    st = GA_OK;
    if (exists && S_ISDIR(sb.st_mode))
        st = ga_fail(err, GA_EIO, "cannot write %s: it is a directory", path);
    else if (exists && S_ISBLK(sb.st_mode))
        st = ga_fail(err, GA_EIO, "cannot write %s: it is a block device", path);
    else if (exists && !S_ISREG(sb.st_mode))
        *kind = 1;
    else if (exists && (!(sb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) || access(t, W_OK) != 0))
        st = ga_fail(err, GA_EIO, "cannot write %s: it is read-only", path);
    else if (exists)
        *mode = (long)(sb.st_mode & 07777);
    if (st == GA_OK && *kind == 1 && access(t, W_OK) != 0)
        st = ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(errno));
    if (st != GA_OK) {
        free(t);
        return st;
    }
    *target = t;
    return GA_OK;
}

/* af writes straight into fd (a descriptor's dup, an opened device or FIFO;
 * -1 with errno set when that failed, or af->path NULL for want of memory) */
static int open_direct(ga_atomic_file *af, ga_error *err, const char *path, int fd)
{
    int e = af->path ? errno : ENOMEM;
    af->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!af->f) {
        if (fd >= 0) {
            e = errno;
            close(fd);
        }
        ga_atomic_abort(af);
        return ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(e));
    }
    af->direct = 1;
    return GA_OK;
}

int ga_atomic_open(ga_atomic_file *af, ga_error *err, const char *path)
{
    memset(af, 0, sizeof *af);
    if (path && !strcmp(path, "-")) {
        af->path = strdup("standard output");
        if (!af->path)
            return ga_fail(err, GA_ENOMEM, "out of memory");
        af->f = stdout;
        af->direct = 1;
        return GA_OK;
    }
    int fdn = path ? fd_path(path) : -1;
    if (fdn >= 0) {
        af->path = strdup(path);
        return open_direct(af, err, path, af->path ? fcntl(fdn, F_DUPFD_CLOEXEC, 3) : -1);
    }
    char *target;
    int kind;
    long mode;
    int st = judge(err, path, &target, &kind, &mode);
    if (st != GA_OK)
        return st;
    af->path = target;
    if (kind == 1) /* blocking, as a shell's '>' would: a FIFO waits for its reader */
        return open_direct(af, err, path, open(target, O_WRONLY | O_NOCTTY | O_CLOEXEC));
    af->tmp = temp_template(target);
    if (!af->tmp) {
        ga_atomic_abort(af);
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
    }
    sigset_t old;
    block_signals(&old); /* no signal between the file's creation and its registration */
    int fd = mkstemp(af->tmp);
    int e = errno;
    if (fd >= 0)
        register_temp(af->tmp);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (fd < 0) {
        free(af->tmp);
        af->tmp = NULL;
        ga_atomic_abort(af);
        return ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(e));
    }
    if (mode < 0) { /* a new file: mkstemp makes 0600, a report is for sharing */
        mode_t mask = umask(0);
        umask(mask);
        mode = (long)(0666 & ~mask);
    }
    (void)fchmod(fd, (mode_t)mode);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        e = errno;
        close(fd);
        unlink(af->tmp);
        ga_atomic_abort(af);
        return ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return GA_OK;
}

void ga_atomic_abort(ga_atomic_file *af)
{
    if (af->f && af->f != stdout)
        fclose(af->f);
    if (af->tmp) {
        if (af->f)
            unlink(af->tmp);
        unregister_temp(af->tmp);
    }
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

/* Flushes, syncs (a regular file) and closes af->f; 0 or an errno. */
static int finish(ga_atomic_file *af)
{
    int e = 0;
    errno = 0;
    if (fflush(af->f) != 0 || ferror(af->f))
        e = errno ? errno : EIO;
    if (af->f == stdout) {
        af->f = NULL;
        return e;
    }
    if (!e && !af->direct && fsync(fileno(af->f)) != 0)
        e = errno;
    if (fclose(af->f) != 0 && !e)
        e = errno;
    af->f = NULL;
    return e;
}

static void release(ga_atomic_file *af)
{
    if (af->tmp)
        unregister_temp(af->tmp);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

int ga_atomic_commit_all(ga_atomic_file *afs, size_t n, ga_error *err)
{
    int e = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!afs[i].f) {
            if (!e)
                e = EINVAL, bad = i;
            continue;
        }
        int fe = finish(&afs[i]);
        if (fe && !e)
            e = fe, bad = i;
    }
    if (!e)
        test_hold();
    sigset_t old;
    block_signals(&old); /* all renamed, or (the signal handler) none */
    for (size_t i = 0; i < n && !e; i++)
        if (afs[i].tmp && rename(afs[i].tmp, afs[i].path) != 0)
            e = errno, bad = i;
    for (size_t i = 0; i < n; i++)
        if (e && afs[i].tmp)
            unlink(afs[i].tmp);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int status = GA_OK;
    if (e)
        status = ga_fail(err, GA_EIO, "writing %s failed: %s", afs[bad].path ? afs[bad].path : "?",
                         strerror(e));
    for (size_t i = 0; i < n; i++)
        release(&afs[i]);
    return status;
}

int ga_atomic_commit(ga_atomic_file *af, ga_error *err)
{
    return ga_atomic_commit_all(af, 1, err);
}

int ga_atomic_write(ga_error *err, const char *path, const char *data, size_t len)
{
    ga_atomic_file af;
    int status = ga_atomic_open(&af, err, path);
    if (status)
        return status;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;
        ga_atomic_abort(&af);
        return ga_fail(err, GA_EIO, "writing %s failed: %s", path, strerror(e));
    }
    return ga_atomic_commit(&af, err);
}

int ga_path_writable(ga_error *err, const char *path)
{
    if (path && (!strcmp(path, "-") || fd_path(path) >= 0)) {
        int fdn = !strcmp(path, "-") ? STDOUT_FILENO : fd_path(path);
        int fl = fcntl(fdn, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
            return ga_fail(err, GA_EIO, "cannot write %s: %s", path,
                           fl < 0 ? strerror(errno) : "not open for writing");
        return GA_OK;
    }
    char *target;
    int kind;
    long mode;
    int st = judge(err, path, &target, &kind, &mode);
    if (st != GA_OK || kind == 1) { /* a device or FIFO: opening it could consume a reader */
        free(target);
        return st;
    }
    char *tmp = temp_template(target);
    free(target);
    if (!tmp)
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(errno));
    } else {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    return st;
}

int ga_path_is_direct(const char *path)
{
    struct stat sb;
    if (!strcmp(path, "-") || fd_path(path) >= 0)
        return 1;
    return stat(path, &sb) == 0 && (S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode) ||
                                    S_ISSOCK(sb.st_mode));
}

int ga_path_distinct(ga_error *err, const char *output, const char *const *inputs, size_t n)
{
    struct stat so, si;
    if (!output || !strcmp(output, "-") || stat(output, &so) != 0)
        return GA_OK;
    for (size_t i = 0; i < n; i++)
        if (inputs[i] && strcmp(inputs[i], "-") && stat(inputs[i], &si) == 0 &&
            si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return ga_fail(err, GA_EINVAL, "%s: is the input %s: refusing to write over an input",
                           output, inputs[i]);
    return GA_OK;
}
