/* ga_io.c: atomic file writes (temporary file + rename). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ga_io.h"

/* "path.tmp.XXXXXX" for mkstemp, in the destination's directory */
static char *temp_template(const char *path)
{
    size_t n = strlen(path);
    char *t = malloc(n + 12);
    if (t) {
        memcpy(t, path, n);
        memcpy(t + n, ".tmp.XXXXXX", 12);
    }
    return t;
}

int ga_atomic_open(ga_atomic_file *af, ga_error *err, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path)
        return ga_fail(err, GA_EINVAL, "no output file name");
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return ga_fail(err, GA_EIO, "cannot write %s: it is a directory", path);
    af->tmp = temp_template(path);
    af->path = strdup(path);
    if (!af->tmp || !af->path) {
        ga_atomic_abort(af);
        return ga_fail(err, GA_ENOMEM, "%s: out of memory", path);
    }
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int e = errno;
        free(af->tmp), free(af->path);
        memset(af, 0, sizeof *af);
        return ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(e));
    }
    mode_t mask = umask(0); /* mkstemp makes 0600; a report is for sharing */
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        ga_atomic_abort(af);
        return ga_fail(err, GA_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return GA_OK;
}

void ga_atomic_abort(ga_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp && af->f)
        unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

int ga_atomic_commit(ga_atomic_file *af, ga_error *err)
{
    if (!af->f)
        return ga_fail(err, GA_EINVAL, "no file open");
    int e = 0;
    if (fflush(af->f) != 0 || ferror(af->f))
        e = errno ? errno : EIO;
    if (!e && fsync(fileno(af->f)) != 0)
        e = errno;
    if (fclose(af->f) != 0 && !e)
        e = errno;
    af->f = NULL;
    if (!e && rename(af->tmp, af->path) != 0)
        e = errno;
    int status = GA_OK;
    if (e) {
        unlink(af->tmp);
        status = ga_fail(err, GA_EIO, "writing %s failed: %s", af->path, strerror(e));
    }
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
    return status;
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
    ga_atomic_file af;
    int status = ga_atomic_open(&af, err, path);
    if (!status)
        ga_atomic_abort(&af);
    return status;
}
