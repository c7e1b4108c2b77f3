/* test_npy.c: the strict .npy parser and the .npz reader (core/ga_npy.h).
 *
 * The valid images are written byte by byte as numpy/lib/format.py writes
 * them (ga_test_npy_image: magic, version, little-endian header length, the
 * dict padded to a multiple of 64 and ended by '\n'); the expected values are
 * the ones put in. Every malformed header is refused with GA_EINVAL and a message
 * naming the field; each case below pins its message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <zip.h>

#include "ga_npy.h"
#include "ga_testsupport.h"

static size_t make_npy(unsigned char *out, size_t cap, int major, const char *dict,
                       const void *data, size_t data_len)
{
    size_t n = ga_test_npy_image(out, cap, major, dict, data, data_len);
    cr_assert_gt(n, 0, "the image does not fit");
    return n;
}

static unsigned char img[4096];

Test(npy, c_order_f8)
{
    double v[6] = {1, -2.5, 3e300, -0.0, 5e-320, 6};
    size_t n = make_npy(img, sizeof img, 1,
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", v, sizeof v);
    ga_npy_array a;
    ga_error err;
    cr_assert_eq(ga_npy_parse(&a, &err, img, n, "t", 0), GA_OK, "%s", err.msg);
    cr_expect_eq(a.ndim, 2);
    cr_expect_eq(a.shape[0], 2);
    cr_expect_eq(a.shape[1], 3);
    cr_expect_eq(a.size, 6);
    cr_expect_eq(memcmp(a.data, v, sizeof v), 0, "the bits as stored");
    ga_npy_array_free(&a);
}

Test(npy, big_endian_and_float32_and_version2)
{
    double v[3] = {1.5, -0.1, 1e-310};
    unsigned char be[24];
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < 8; b++)
            be[i * 8 + b] = ((unsigned char *)&v[i])[7 - b];
    size_t n = make_npy(img, sizeof img, 2,
                        "{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", be, 24);
    ga_npy_array a;
    ga_error err;
    cr_assert_eq(ga_npy_parse(&a, &err, img, n, "t", 0), GA_OK, "%s", err.msg);
    cr_expect_eq(memcmp(a.data, v, sizeof v), 0);
    ga_npy_array_free(&a);

    float f[4] = {0.1f, -3.0f, 1e-40f, 3.4e38f};
    n = make_npy(img, sizeof img, 1, "{\"descr\": \"<f4\", \"shape\": (4,), \"fortran_order\": False}",
                 f, sizeof f);
    cr_assert_eq(ga_npy_parse(&a, &err, img, n, "t", 0), GA_OK, "%s", err.msg);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(a.data[i], (double)f[i], "float32 widened exactly: %d", i);
    ga_npy_array_free(&a);
}

Test(npy, scalar_and_fortran_order)
{
    double s = 0.25;
    size_t n = make_npy(img, sizeof img, 1,
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &s, 8);
    ga_npy_array a;
    ga_error err;
    cr_assert_eq(ga_npy_parse(&a, &err, img, n, "t", 0), GA_OK, "%s", err.msg);
    cr_expect_eq(a.ndim, 0);
    cr_expect_eq(a.size, 1);
    cr_expect_eq(a.data[0], 0.25);
    ga_npy_array_free(&a);

    /* (2, 3, 4) in Fortran order: item (i, j, k) stored at i + 2 j + 6 k, with
     * value 100 i + 10 j + k; C order wants it at 12 i + 4 j + k */
    double fv[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                fv[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
    n = make_npy(img, sizeof img, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 4), }",
                 fv, sizeof fv);
    cr_assert_eq(ga_npy_parse(&a, &err, img, n, "t", 0), GA_OK, "%s", err.msg);
    cr_expect_eq(a.fortran_order, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                cr_expect_eq(a.data[12 * i + 4 * j + k], 100 * i + 10 * j + k, "(%d,%d,%d)", i,
                             j, k);
    ga_npy_array_free(&a);
}

/* Criterion copies parameters into a fresh process: text held in arrays */
typedef struct {
    char what[32];
    char dict[160];
    int data_bytes;   /* -1: exactly what the shape needs (48 for (2, 3) of <f8) */
    int major;
    int mangle;       /* 1: no magic, 2: version 1.1, 3: header length past the end,
                       * 4: no final newline, 5: a non-ASCII byte in the header */
    int status;
    char msg[120];
} bad_npy;

ParameterizedTestParameters(npy, malformed_refused)
{
    static bad_npy cases[] = {
        {"no magic", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", -1, 1, 1,
         GA_EINVAL, "t: not a .npy file (no \\x93NUMPY magic)"},
        {"version 1.1", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", -1, 1, 2,
         GA_EINVAL, "t: .npy format version 1.1: expected 1.0, 2.0 or 3.0"},
        {"header length", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", -1, 1, 3,
         GA_EINVAL, "t: header length 65535 runs past the end of the file"},
        {"no newline", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", -1, 1, 4,
         GA_EINVAL, "t: header does not end with a newline"},
        {"non-ascii", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", -1, 1, 5,
         GA_EINVAL, "t: header byte 3 is not printable ASCII (0xe9)"},
        {"not a dict", "['descr', '<f8']", -1, 1, 0, GA_EINVAL, "t: header is not a dict (no '{')"},
        {"unquoted key", "{descr: '<f8'}", -1, 1, 0, GA_EINVAL,
         "t: header: expected a quoted key or '}' at byte 1"},
        {"no colon", "{'descr' '<f8'}", -1, 1, 0, GA_EINVAL, "t: header: no ':' after key 'descr'"},
        {"int64", "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", -1, 1, 0,
         GA_EINVAL, "t: header: 'descr' is '<i8': expected '<f4', '>f4', '<f8' or '>f8' "
                    "(float32 or float64)"},
        {"descr unquoted", "{'descr': f8, 'fortran_order': False, 'shape': (2, 3), }", -1, 1, 0,
         GA_EINVAL, "t: header: 'descr' is not a quoted dtype string like '<f8'"},
        {"fortran maybe", "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3), }", -1, 1, 0,
         GA_EINVAL, "t: header: 'fortran_order' is not True or False"},
        {"shape int", "{'descr': '<f8', 'fortran_order': False, 'shape': (6), }", -1, 1, 0,
         GA_EINVAL, "t: header: 'shape' is an integer in parentheses, not a tuple"},
        {"shape negative", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3), }", -1, 1,
         0, GA_EINVAL, "t: header: 'shape' is not a tuple of non-negative integers"},
        {"shape list", "{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3], }", -1, 1, 0,
         GA_EINVAL, "t: header: 'shape' is not a tuple of integers like (3, 4)"},
        {"shape open", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3 }", -1, 1, 0,
         GA_EINVAL, "t: header: 'shape' is not a tuple of non-negative integers"},
        {"shape 33 dims", "{'descr': '<f8', 'fortran_order': False, 'shape': "
                          "(1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }",
         8, 1, 0, GA_EINVAL, "t: header: 'shape' has more than 32 dimensions"},
        {"unknown key", "{'descr': '<f8', 'order': 'C', 'shape': (2, 3), }", -1, 1, 0, GA_EINVAL,
         "t: header: unknown key 'order' (expected 'descr', 'fortran_order' and 'shape')"},
        {"key twice", "{'descr': '<f8', 'descr': '<f8', 'shape': (2, 3), }", -1, 1, 0, GA_EINVAL,
         "t: header: key 'descr' given twice"},
        {"missing shape", "{'descr': '<f8', 'fortran_order': False}", -1, 1, 0, GA_EINVAL,
         "t: header: missing key 'shape'"},
        {"missing descr", "{'fortran_order': False, 'shape': (2, 3)}", -1, 1, 0, GA_EINVAL,
         "t: header: missing key 'descr'"},
        {"no separator", "{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3)}", -1, 1, 0,
         GA_EINVAL, "t: header: expected ',' or '}' after the value of 'descr'"},
        {"text after", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} x", -1, 1, 0,
         GA_EINVAL, "t: header: text after the closing '}'"},
        {"truncated", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 40, 1, 0,
         GA_EINVAL, "t: data truncated: 40 bytes for shape (2,3) of '<f8' (48 expected)"},
        {"trailing", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 56, 1, 0,
         GA_EINVAL, "t: 8 bytes after the data of shape (2,3) of '<f8'"},
        {"over the cap", "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }",
         0, 1, 0, GA_ENOMEM, "t: shape (100000,100000) needs 80000000000 bytes, over the memory "
                             "cap of"},
        {"size overflow", "{'descr': '<f8', 'fortran_order': False, 'shape': "
                          "(4294967296, 4294967296), }", 0, 1, 0, GA_ERANGE,
         "t: shape's size overflows"},
    };
    return cr_make_param_array(bad_npy, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_npy *c, npy, malformed_refused)
{
    static double data[16];
    size_t dl = c->data_bytes < 0 ? 48 : (size_t)c->data_bytes;
    size_t n = make_npy(img, sizeof img, c->major, c->dict, data, dl);
    switch (c->mangle) {
    case 1: img[0] = 'X'; break;
    case 2: img[7] = 1; break;
    case 3: img[8] = img[9] = 0xff; break;
    case 4: img[9 + (size_t)img[8] + 256 * img[9]] = ' '; break;
    case 5: img[13] = 0xe9; break;
    default: break;
    }
    ga_npy_array a;
    ga_error err = {{0}};
    int st = ga_npy_parse(&a, &err, img, n, "t", (size_t)1 << 30);
    cr_expect_eq(st, c->status, "%s: status %d: %s", c->what, st, err.msg);
    cr_expect(!strncmp(err.msg, c->msg, strlen(c->msg)), "%s: message\n  '%s'\nexpected\n  '%s'",
              c->what, err.msg, c->msg);
    cr_expect_null(a.data, "%s: nothing allocated on failure", c->what);
}

/* ---- .npz -------------------------------------------------------------------------- */
static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/ga_npz_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void make_zip(const char *path, size_t n, const char *const *names,
                     unsigned char *const *bufs, const size_t *lens)
{
    cr_assert_eq(ga_test_zip(path, n, names, bufs, lens), 0, "cannot write %s", path);
}

Test(npz, arrays_in_archive_order)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/step3.npz", dir);
    static unsigned char a1[256], a2[256], a3[256];
    double w[4] = {1, 2, 3, 4}, b[2] = {-1, 0.5}, loss = 0.75;
    size_t lens[3] = {
        make_npy(a1, sizeof a1, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                 w, sizeof w),
        make_npy(a2, sizeof a2, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                 b, sizeof b),
        make_npy(a3, sizeof a3, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                 &loss, 8)};
    const char *names[3] = {"dW1.npy", "db1.npy", "loss.npy"};
    unsigned char *bufs[3] = {a1, a2, a3};
    make_zip(path, 3, names, bufs, lens);
    ga_npz z;
    ga_error err;
    cr_assert_eq(ga_npz_read(&z, &err, path, 0), GA_OK, "%s", err.msg);
    cr_assert_eq(z.n, 3);
    cr_expect_str_eq(z.arrays[0].name, "dW1");
    cr_expect_str_eq(z.arrays[1].name, "db1");
    cr_expect_str_eq(z.arrays[2].name, "loss");
    cr_expect_eq(z.arrays[0].data[3], 4.0);
    cr_expect_eq(z.arrays[1].data[1], 0.5);
    cr_expect_eq(z.arrays[2].data[0], 0.75);
    ga_npz_free(&z);
}

Test(npz, bad_archives_refused)
{
    make_dir();
    char path[128];
    ga_npz z;
    ga_error err = {{0}};
    /* not a zip */
    snprintf(path, sizeof path, "%s/text.npz", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("step,loss\n", f);
    fclose(f);
    cr_expect_eq(ga_npz_read(&z, &err, path, 0), GA_EIO);
    cr_expect_not_null(strstr(err.msg, "text.npz: cannot read as a .npz (zip) archive: Not a zip "
                                       "archive"), "%s", err.msg);
    /* missing */
    snprintf(path, sizeof path, "%s/none.npz", dir);
    cr_expect_eq(ga_npz_read(&z, &err, path, 0), GA_EIO);
    cr_expect_not_null(strstr(err.msg, "none.npz: cannot read as a .npz (zip) archive: No such "
                                       "file"), "%s", err.msg);
    /* an empty archive: the end-of-central-directory record alone */
    snprintf(path, sizeof path, "%s/empty.npz", dir);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    static const unsigned char eocd[22] = {'P', 'K', 5, 6};
    fwrite(eocd, 1, sizeof eocd, f);
    fclose(f);
    cr_expect_eq(ga_npz_read(&z, &err, path, 0), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "empty.npz: the archive holds no arrays"), "%s", err.msg);
    /* an entry that is not NAME.npy, and a malformed array */
    static unsigned char good[256], bad[256];
    double w[2] = {1, 2};
    size_t lens[2] = {
        make_npy(good, sizeof good, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                 w, sizeof w),
        make_npy(bad, sizeof bad, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                 w, sizeof w)};
    unsigned char *bufs[2] = {good, bad};
    const char *n1[2] = {"W.npy", "notes.txt"};
    snprintf(path, sizeof path, "%s/txt.npz", dir);
    make_zip(path, 2, n1, bufs, lens);
    cr_expect_eq(ga_npz_read(&z, &err, path, 0), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "txt.npz:notes.txt: entry is not NAME.npy"), "%s", err.msg);
    cr_expect_eq(z.n, 0);
    cr_expect_null(z.arrays);
    const char *n2[2] = {"W.npy", "b.npy"};
    snprintf(path, sizeof path, "%s/int.npz", dir);
    make_zip(path, 2, n2, bufs, lens);
    cr_expect_eq(ga_npz_read(&z, &err, path, 0), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "int.npz:b.npy: header: 'descr' is '<i4'"), "%s", err.msg);
    /* an entry over the memory cap */
    cr_expect_eq(ga_npz_read(&z, &err, path, 100), GA_ENOMEM);
    cr_expect_not_null(strstr(err.msg, "int.npz:W.npy: 144 bytes, over the memory cap of 100"),
                       "%s", err.msg);
    /* a name with a control character: refused without echoing it (one-line messages) */
    const char *n3[2] = {"W.npy", "b\n.npy"};
    snprintf(path, sizeof path, "%s/ctl.npz", dir);
    make_zip(path, 2, n3, bufs, lens);
    cr_expect_eq(ga_npz_read(&z, &err, path, 0), GA_EINVAL);
    cr_expect_not_null(strstr(err.msg, "ctl.npz: entry 1: its name holds a control character "
                                       "(0x0a)"), "%s", err.msg);
    cr_expect_null(strchr(err.msg, '\n'), "%s", err.msg);
}
