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

/* ---- reads with a cap, and what the writer does with odd destinations ------ */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(io, read_file_regular_files_only_and_capped)
{
    make_dir();
    char path[128], fifo[128];
    snprintf(path, sizeof path, "%s/in.json", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    write_text(path, "0123456789");
    ga_error err;
    char *buf;
    size_t len;
    cr_assert_eq(ga_read_file(&buf, &len, &err, path, 10), GA_OK, "%s", err.msg);
    cr_expect_eq(len, 10);
    cr_expect_str_eq(buf, "0123456789", "NUL-terminated");
    free(buf);
    cr_assert_eq(ga_read_file(&buf, &len, &err, path, 9), GA_ENOMEM, "one byte over the cap");
    cr_expect(strstr(err.msg, "in.json: 10 bytes, over the cap of 9 bytes"), "%s", err.msg);
    cr_expect_null(buf);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(ga_read_file(&buf, &len, &err, fifo, 100), GA_EIO, "a FIFO without a writer: refused, not waited for");
    cr_expect(strstr(err.msg, "fifo: is a FIFO, not a regular file"), "%s", err.msg);
    cr_assert_eq(ga_read_file(&buf, &len, &err, dir, 100), GA_EIO);
    cr_expect(strstr(err.msg, ": is a directory"), "%s", err.msg);
    cr_assert_eq(ga_read_file(&buf, &len, &err, "/dev/zero", 1 << 20), GA_EIO);
    cr_expect(strstr(err.msg, "/dev/zero: is a character device"), "%s", err.msg);
    unlink(fifo);
    unlink(path);
    rmdir(dir);
}

Test(io, writer_follows_symlinks_and_keeps_the_mode)
{
    make_dir();
    char target[128], link1[128], link2[128];
    snprintf(target, sizeof target, "%s/target.csv", dir);
    snprintf(link1, sizeof link1, "%s/l1", dir);
    snprintf(link2, sizeof link2, "%s/l2", dir);
    write_text(target, "old");
    cr_assert_eq(chmod(target, 0640), 0);
    cr_assert_eq(symlink("target.csv", link1), 0); /* relative to its directory */
    cr_assert_eq(symlink(link1, link2), 0);        /* a chain */
    ga_error err;
    cr_assert_eq(ga_atomic_write(&err, link2, "new", 3), GA_OK, "%s", err.msg);
    cr_expect_str_eq(slurp(target), "new");
    struct stat sb;
    cr_assert_eq(lstat(link1, &sb), 0);
    cr_expect(S_ISLNK(sb.st_mode), "the links stay links");
    cr_assert_eq(lstat(link2, &sb), 0);
    cr_expect(S_ISLNK(sb.st_mode), "the links stay links");
    cr_assert_eq(stat(target, &sb), 0);
    cr_expect_eq(sb.st_mode & 07777, 0640, "the replaced file keeps its mode: %o", sb.st_mode & 07777);
    cr_expect_eq(entries(), 3, "no temporary left");
    /* a loop of links is an error, not a hang */
    unlink(link1);
    cr_assert_eq(symlink("l2", link1), 0);
    cr_assert_eq(ga_atomic_write(&err, link1, "x", 1), GA_EIO);
    cr_expect(strstr(err.msg, "Too many levels of symbolic links"), "%s", err.msg);
    unlink(link1);
    unlink(link2);
    unlink(target);
    rmdir(dir);
}

/* several files as one: a failure in any of them before the renames leaves
 * every destination as it was, and no temporary */
Test(io, commit_all_is_all_or_nothing)
{
    make_dir();
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/a.csv", dir);
    snprintf(b, sizeof b, "%s/b.csv", dir);
    write_text(a, "old a");
    write_text(b, "old b");
    ga_error err;
    ga_atomic_file af[2];
    cr_assert_eq(ga_atomic_open(&af[0], &err, a), GA_OK);
    cr_assert_eq(ga_atomic_open(&af[1], &err, b), GA_OK);
    fputs("new a", af[0].f);
    fputs("new b", af[1].f);
    cr_expect_eq(entries(), 4, "two temporaries beside the two files");
    /* the second file's stream fails as a full disk would */
    fclose(af[1].f);
    af[1].f = fopen("/dev/full", "w");
    cr_assert_not_null(af[1].f);
    fputs("new b", af[1].f);
    char *tmp_b = strdup(af[1].tmp);
    cr_assert_not_null(tmp_b);
    cr_assert_eq(ga_atomic_commit_all(af, 2, &err), GA_EIO);
    cr_expect(strstr(err.msg, "b.csv failed: No space left on device"), "%s", err.msg);
    cr_expect_str_eq(slurp(a), "old a", "a replaced although b failed");
    cr_expect_str_eq(slurp(b), "old b");
    cr_expect_eq(access(tmp_b, F_OK), -1, "b's temporary left");
    cr_expect_eq(entries(), 2, "a temporary was left");
    free(tmp_b);
    cr_assert_eq(ga_atomic_open(&af[0], &err, a), GA_OK);
    cr_assert_eq(ga_atomic_open(&af[1], &err, b), GA_OK);
    fputs("new a", af[0].f);
    fputs("new b", af[1].f);
    cr_assert_eq(ga_atomic_commit_all(af, 2, &err), GA_OK, "%s", err.msg);
    cr_expect_str_eq(slurp(a), "new a");
    cr_expect_str_eq(slurp(b), "new b");
    cr_expect_eq(entries(), 2);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

Test(io, path_distinct_compares_files_not_names)
{
    make_dir();
    char in[128], alias[128], other[128];
    snprintf(in, sizeof in, "%s/spec.json", dir);
    snprintf(alias, sizeof alias, "%s/./alias.json", dir);
    snprintf(other, sizeof other, "%s/other.csv", dir);
    write_text(in, "{}");
    cr_assert_eq(link(in, alias), 0); /* a hard link: another name, the same file */
    ga_error err;
    const char *inputs[] = {in};
    cr_expect_eq(ga_path_distinct(&err, alias, inputs, 1), GA_EINVAL);
    cr_expect(strstr(err.msg, "alias.json: is the input"), "%s", err.msg);
    cr_expect_eq(ga_path_distinct(&err, other, inputs, 1), GA_OK, "a new file clashes with nothing");
    write_text(other, "x");
    cr_expect_eq(ga_path_distinct(&err, other, inputs, 1), GA_OK);
    cr_expect_eq(ga_path_distinct(&err, "-", inputs, 1), GA_OK);
    unlink(in);
    unlink(alias);
    unlink(other);
    rmdir(dir);
}
