/* test_io.c: atomic writes leave the whole new file or the old one, and
 * never a temporary file, whatever fails. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ga_io.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/ga_io_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

/* number of entries in dir besides . and .. */
static int entries(void)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

Test(io, atomic_write_replaces_whole_file)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    ga_error err;
    cr_assert_eq(ga_atomic_write(&err, path, "old\r\n", 5), GA_OK, "%s", err.msg);
    cr_assert_str_eq(slurp(path), "old\r\n");
    cr_assert_eq(ga_atomic_write(&err, path, "a,b\r\n1,2\r\n", 10), GA_OK, "%s", err.msg);
    cr_assert_str_eq(slurp(path), "a,b\r\n1,2\r\n");
    cr_assert_eq(entries(), 1, "only the file itself: no temporary left");
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    mode_t mask = umask(0);
    umask(mask);
    cr_assert_eq(sb.st_mode & 0777, 0666 & ~mask, "mode as a plain fopen gives");
    unlink(path);
    rmdir(dir);
}

Test(io, abort_keeps_the_previous_file)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    ga_error err;
    cr_assert_eq(ga_atomic_write(&err, path, "previous", 8), GA_OK);
    ga_atomic_file af;
    cr_assert_eq(ga_atomic_open(&af, &err, path), GA_OK);
    fputs("half of a new fi", af.f);
    ga_atomic_abort(&af);
    cr_assert_str_eq(slurp(path), "previous");
    cr_assert_eq(entries(), 1);
    unlink(path);
    rmdir(dir);
}

Test(io, bad_paths_are_refused_with_a_message)
{
    make_dir();
    ga_error err;
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/out.csv", dir);
    cr_assert_eq(ga_atomic_write(&err, path, "x", 1), GA_EIO);
    cr_assert(strstr(err.msg, "cannot write") && strstr(err.msg, "no/such/dir/out.csv"), "%s", err.msg);
    cr_assert_eq(ga_path_writable(&err, path), GA_EIO);
    cr_assert_eq(ga_path_writable(&err, dir), GA_EIO, "a directory is not a file to write");
    cr_assert(strstr(err.msg, "it is a directory"), "%s", err.msg);
    cr_assert_eq(ga_atomic_write(&err, "", "x", 1), GA_EINVAL);
    snprintf(path, sizeof path, "%s/fine.csv", dir);
    cr_assert_eq(ga_path_writable(&err, path), GA_OK);
    cr_assert_eq(entries(), 0, "probing leaves nothing behind");
    /* a write error at commit time (a full device) is reported, not hidden */
    if (access("/dev/full", W_OK) == 0) {
        ga_atomic_file af = {0};
        af.f = fopen("/dev/full", "w");
        af.tmp = strdup("/dev/full-never-renamed");
        af.path = strdup(path);
        cr_assert_not_null(af.f);
        fputs("data", af.f);
        cr_assert_eq(ga_atomic_commit(&af, &err), GA_EIO);
        cr_assert(strstr(err.msg, "writing"), "%s", err.msg);
    }
    rmdir(dir);
}
