/* test_gradfile.c: gradients other programs saved, read into the slab
 * (core/ga_gradfile.h). The .npz, .npy and two of the CSV files were written
 * by NumPy (fixtures/gradfiles/make_gradfiles.py, which documents the two nets
 * and the values g(i) = (-1)^i (i + 1) / 4 at slab entry i); the malformed
 * CSVs are written here. Every accepted form lands every value at its slab
 * entry; every refusal is one message naming the file, the array or line,
 * and what was expected. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ga_gradfile.h"

#define FIX GA_SOURCE_ROOT "/fixtures/gradfiles/"

/* col: 3 -> 2 -> 2 -> 1 (17 entries); sq: 2 -> 2 (6 entries); column layout */
static ga_net *make_net(int square)
{
    static ga_layer_desc col[3] = {{2, GA_ACT_SIGMOID, 0}, {2, GA_ACT_TANH, 0}, {1, GA_ACT_IDENTITY, 0}};
    static ga_layer_desc sq[1] = {{2, GA_ACT_IDENTITY, 0}};
    ga_net_desc d = {GA_LAYOUT_COLUMN, square ? 2 : 3, square ? 1 : 3, square ? sq : col,
                     {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net = NULL;
    ga_error err;
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    return net;
}

static double g(size_t i)
{
    return (i % 2 ? -1.0 : 1.0) * (double)(i + 1) / 4;
}

/* Reads fixtures/gradfiles/FILE ("-": standard input), asserting it is
 * accepted; returns the precision read */
static ga_precision read_ok(double *grad, const ga_net *net, const char *file,
                            const ga_gradfile_options *opt)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", strcmp(file, "-") ? FIX : "", file);
    ga_precision prec = GA_PREC_FLOAT64 + GA_PREC_FLOAT32 + 1; /* neither */
    ga_error err = {{0}};
    cr_assert_eq(ga_grad_read(grad, &prec, &err, net, path, opt, 0), GA_OK, "%s: %s", file, err.msg);
    return prec;
}

/* An .npz's array `loss` (written by make_gradfiles.py as a Python float
 * beside float32 gradients) is the program's loss: read apart, its dtype not
 * the gradient's; a `loss` of two numbers is refused; a file without one
 * gives NaN. */
Test(gradfile, loss_array)
{
    ga_net *net = make_net(0);
    double grad[17], loss = 0;
    ga_gradfile_options opt = {GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, &loss};
    cr_expect_eq(read_ok(grad, net, "col_loss.npz", &opt), GA_PREC_FLOAT32);
    cr_expect_eq(loss, 0.125);
    for (size_t i = 0; i < 17; i++)
        cr_expect_eq(grad[i], g(i), "entry %zu", i);
    read_ok(grad, net, "col_spec.npz", &opt);
    cr_expect(isnan(loss), "no loss array: NaN, not %g", loss);
    ga_error err = {{0}};
    ga_precision prec;
    cr_expect_eq(ga_grad_read(grad, &prec, &err, net, FIX "col_badloss.npz", &opt, 0), GA_EINVAL);
    cr_expect(strstr(err.msg, "array 'loss' has 2 numbers (expected one") != NULL, "%s", err.msg);
    ga_net_free(net);
}

typedef struct {
    char file[40];
    ga_gradfile_layout layout;
    int square;
    ga_precision prec;   /* expected */
    int tenth;           /* the values are float32(g(i) * 0.1f) */
} accepted_case;

ParameterizedTestParameters(gradfile, accepted)
{
    static accepted_case cases[] = {
        {"col_spec.npz", GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, 0},
        {"col_spec.npz", GA_GRADFILE_LAYOUT_SPEC, 0, GA_PREC_FLOAT64, 0},
        {"col_transposed.npz", GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, 0},
        {"col_transposed.npz", GA_GRADFILE_LAYOUT_TRANSPOSED, 0, GA_PREC_FLOAT64, 0},
        {"col_f32.npz", GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT32, 0},
        {"col_bigendian.npz", GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, 0},
        {"col_flat.npy", GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, 0},
        {"col_flat_f32.npy", GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT32, 0},
        {"col_savetxt.csv", GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, 0},
        {"col_named.csv", GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, 0},
        {"sq.npz", GA_GRADFILE_LAYOUT_SPEC, 1, GA_PREC_FLOAT64, 0},
    };
    return cr_make_param_array(accepted_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(accepted_case *c, gradfile, accepted)
{
    ga_net *net = make_net(c->square);
    double grad[17];
    ga_gradfile_options opt = {c->layout, 0, GA_PREC_FLOAT64, NULL};
    ga_precision prec = read_ok(grad, net, c->file, &opt);
    cr_expect_eq(prec, c->prec, "%s: precision %d", c->file, (int)prec);
    for (size_t i = 0; i < net->n_params; i++)
        cr_expect_eq(grad[i], g(i), "%s: entry %zu = %.17g, expected %.17g", c->file, i, grad[i],
                     g(i));
    ga_net_free(net);
}

/* --grad-layout transposed on a square W: its values land transposed */
Test(gradfile, square_taken_as_told)
{
    ga_net *net = make_net(1);
    double grad[6];
    ga_gradfile_options opt = {GA_GRADFILE_LAYOUT_TRANSPOSED, 0, GA_PREC_FLOAT64, NULL};
    read_ok(grad, net, "sq.npz", &opt);
    static const size_t from[6] = {0, 2, 1, 3, 4, 5}; /* W1 (2, 2) transposed, b1 as it is */
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq(grad[i], g(from[i]), "entry %zu", i);
    ga_net_free(net);
}

/* --grad-dtype: a float32 CSV written with float32's shortest digits, and a
 * float64 .npz of float32 numbers said to be float32 */
Test(gradfile, dtype_given)
{
    ga_net *net = make_net(0);
    double grad[17];
    ga_gradfile_options opt = {GA_GRADFILE_LAYOUT_AUTO, 1, GA_PREC_FLOAT32, NULL};
    cr_expect_eq(read_ok(grad, net, "col_named_f32.csv", &opt), GA_PREC_FLOAT32);
    for (size_t i = 0; i < 17; i++) {
        float want = (float)g(i) * 0.1f;
        cr_expect_eq(grad[i], (double)want, "entry %zu = %.17g, expected %.9g", i, grad[i], want);
    }
    cr_expect_eq(read_ok(grad, net, "col_spec.npz", &opt), GA_PREC_FLOAT32,
                 "the dtype given, not the file's");
    /* the same CSV read as float64 takes the decimals as written */
    opt.dtype_given = 0;
    cr_expect_eq(read_ok(grad, net, "col_named_f32.csv", &opt), GA_PREC_FLOAT64);
    cr_expect_eq(grad[0], 0.025);
    ga_net_free(net);
}

typedef struct {
    char file[40];
    char text[80];         /* a CSV written here, or "": the fixture file (no pointers:
                              Criterion copies the parameters into its workers) */
    ga_gradfile_layout layout;
    int square;
    int f32;               /* --grad-dtype float32 */
    char msg[240];         /* the message holds this */
} refused_case;

ParameterizedTestParameters(gradfile, refused)
{
    static refused_case cases[] = {
        {"col_missing.npz", "", 0, 0, 0,
         "col_missing.npz: no array 'b3' (expected one array each named W1, b1, W2, b2, W3, b3)"},
        {"col_unknown.npz", "", 0, 0, 0, "col_unknown.npz: array 'lr' is not a tensor of the spec"},
        {"col_dnames.npz", "", 0, 0, 0, "col_dnames.npz: array 'dW1' is not a tensor of the spec "
         "(expected one array each named W1, b1, W2, b2, W3, b3: np.savez(path, W1=dW1, ...))"},
        {"col_mixed.npz", "", 0, 0, 0, "col_mixed.npz: W2 is float32 but W1 is float64: save every "
         "array in one dtype"},
        {"col_badshape.npz", "", 0, 0, 0, "col_badshape.npz: W1 has shape (3, 3): expected (2, 3), "
         "the spec's column layout, (out, in), or its transpose (3, 2)"},
        {"col_badbias.npz", "", 0, 0, 0, "col_badbias.npz: b1 has shape (2, 2): expected (2,), "
         "(1, 2) or (2, 1)"},
        {"col_transposed.npz", "", GA_GRADFILE_LAYOUT_SPEC, 0, 0, "col_transposed.npz: W1 has shape "
         "(3, 2): expected (2, 3), the spec's column layout, (out, in)"},
        {"col_spec.npz", "", GA_GRADFILE_LAYOUT_TRANSPOSED, 0, 0, "col_spec.npz: W1 has shape (2, 3): "
         "expected (3, 2), the transpose of the spec's column layout"},
        {"col_conflict.npz", "", 0, 0, 0, "col_conflict.npz: W2 is square, (2, 2), and no other W "
         "of the file shows whether it is held in the spec's layout or transposed"},
        {"sq.npz", "", 0, 1, 0, "sq.npz: W1 is square, (2, 2), and no other W"},
        {"col_tenth.npz", "", 0, 0, 1, "col_tenth.npz: b2 item 0 = 3.3500000000000001 is not a "
         "float32 number (the gradient is said to be float32)"},
        {"col_flat.npy", "", 0, 1, 0, "col_flat.npy: shape (17,): expected one flat vector (6,) "
         "of every entry in slab order, W1, b1 each flattened"},
        {"col_column.npy", "", 0, 0, 0, "col_column.npy: shape (17, 1): expected one flat vector "
         "(17,)"},
        {"col_short.npy", "", 0, 0, 0, "col_short.npy: shape (16,): expected one flat vector (17,)"},
        {"col_int.npy", "", 0, 0, 0, "col_int.npy: header: 'descr' is '<i8': expected '<f4', '>f4', "
         "'<f8' or '>f8'"},
        {"nothere.npz", "", 0, 0, 0, "nothere.npz"},
        /* CSVs written here (the sq net: W1 (2, 2), b1 (2, 1)) */
        {"short.csv", "1\n2\n3\n4\n5\n", 0, 1, 0, "short.csv: 5 values: expected 6, one a line in "
         "slab order (W1, b1, each flat in C order)"},
        {"long.csv", "1\n2\n3\n4\n5\n6\n7\n", 0, 1, 0, "long.csv: line 7: more than the 6 values"},
        {"word.csv", "1\n2\nabc\n4\n5\n6\n", 0, 1, 0, "word.csv: line 3: 'abc': not a number"},
        {"empty.csv", "1\n2\n\n4\n5\n6\n", 0, 1, 0, "empty.csv: line 3: '': no value"},
        {"two.csv", "1\n2,3\n", 0, 1, 0, "two.csv: line 2: 2 fields: expected one value a line (or "
         "the header name,index,value first)"},
        {"huge.csv", "1\n2\n1e999\n4\n5\n6\n", 0, 1, 0, "huge.csv: line 3: '1e999': beyond float64's "
         "range"},
        {"f64.csv", "1\n0.10000000000000001\n3\n4\n5\n6\n", 0, 1, 1, "f64.csv: line 2: "
         "'0.10000000000000001': not a float32 number"},
        {"f32range.csv", "1\n1e39\n3\n4\n5\n6\n", 0, 1, 1, "f32range.csv: line 2: '1e39': beyond "
         "float32's range"},
        {"badname.csv", "name,index,value\nW1,0,1\nW9,0,1\n", 0, 1, 0, "badname.csv: line 3: 'W9' is "
         "not a tensor of the spec (expected W1, b1)"},
        {"badindex.csv", "name,index,value\nW1,4,1\n", 0, 1, 0, "badindex.csv: line 2: index '4': "
         "expected an integer in 0..3 (W1 flat in C order)"},
        {"negindex.csv", "name,index,value\nW1,-1,1\n", 0, 1, 0, "negindex.csv: line 2: index '-1'"},
        {"twice.csv", "name,index,value\nW1,0,1\nW1,1,1\nW1,0,2\n", 0, 1, 0, "twice.csv: line 4: W1 "
         "index 0 given twice (first on line 2)"},
        {"fields.csv", "name,index,value\nW1,0\n", 0, 1, 0, "fields.csv: line 2: 2 fields: expected "
         "name,index,value"},
        {"norow.csv", "name,index,value\nW1,0,1\nW1,1,1\nW1,3,1\nb1,0,1\nb1,1,1\n", 0, 1, 0,
         "norow.csv: no row for W1 index 2 (every entry once)"},
        {"norowt.csv", "name,index,value\nW1,0,1\nW1,1,1\nW1,3,1\nb1,0,1\nb1,1,1\n",
         GA_GRADFILE_LAYOUT_TRANSPOSED, 1, 0, "norowt.csv: no row for W1 index 2 (every entry once)"},
        {"w0.csv", "name,index,value\nW0,0,1\n", 0, 1, 0, "w0.csv: line 2: 'W0' is not a tensor"},
        {"w01.csv", "name,index,value\nW01,0,1\n", 0, 1, 0, "w01.csv: line 2: 'W01' is not a tensor"},
        {"w2.csv", "name,index,value\nW2,0,1\n", 0, 1, 0, "w2.csv: line 2: 'W2' is not a tensor"},
        {"w1x.csv", "name,index,value\nW1x,0,1\n", 0, 1, 0, "w1x.csv: line 2: 'W1x' is not a tensor"},
        {"lower.csv", "name,index,value\nw1,0,1\n", 0, 1, 0, "lower.csv: line 2: 'w1' is not a tensor"},
        {"binary.csv", "\x01\x02", 0, 1, 0, ""}, /* replaced by a NUL below */
    };
    return cr_make_param_array(refused_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(refused_case *c, gradfile, refused)
{
    ga_net *net = make_net(c->square);
    double grad[17];
    ga_precision prec;
    ga_gradfile_options opt = {c->layout, c->f32, c->f32 ? GA_PREC_FLOAT32 : GA_PREC_FLOAT64, NULL};
    ga_error err = {{0}};
    char path[512], dir[] = "/tmp/ga_gradfile_XXXXXX";
    int binary = !strcmp(c->file, "binary.csv");
    if (c->text[0]) {
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/%s", dir, c->file);
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        fwrite(binary ? "1\0\n" : c->text, 1, binary ? 3 : strlen(c->text), f);
        fclose(f);
    } else {
        snprintf(path, sizeof path, FIX "%s", c->file);
    }
    int st = ga_grad_read(grad, &prec, &err, net, path, &opt, 0);
    cr_expect_neq(st, GA_OK, "%s accepted", c->file);
    const char *want = binary ? "binary.csv: neither an .npz, an .npy nor a text (CSV) file" : c->msg;
    cr_expect_not_null(strstr(err.msg, want), "%s:\n  got  %s\n  want %s", c->file, err.msg, want);
    cr_expect_null(strchr(err.msg, '\n'), "one line");
    if (c->text[0]) {
        unlink(path);
        rmdir(dir);
    }
    ga_net_free(net);
}

/* NaN and infinities are the program's gradient: read, not refused */
Test(gradfile, nonfinite_read_as_they_are)
{
    ga_net *net = make_net(1);
    char dir[] = "/tmp/ga_gradfile_XXXXXX", path[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/nan.csv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("# a comment\r\nnan\r\ninf\r\n-inf\r\n 1.5 \r\n0x1p-3\r\n-0\r\n", f);
    fclose(f);
    double grad[6];
    ga_precision prec;
    ga_error err;
    cr_assert_eq(ga_grad_read(grad, &prec, &err, net, path, NULL, 0), GA_OK, "%s", err.msg);
    cr_expect(isnan(grad[0]));
    cr_expect(isinf(grad[1]) && grad[1] > 0);
    cr_expect(isinf(grad[2]) && grad[2] < 0);
    cr_expect_eq(grad[3], 1.5);
    cr_expect_eq(grad[4], 0.125);
    cr_expect(grad[5] == 0 && signbit(grad[5]));
    unlink(path);
    rmdir(dir);
    ga_net_free(net);
}

/* a deep net's messages list its names as W1, b1, ..., WL, bL */
Test(gradfile, deep_net_names_abbreviated)
{
    ga_layer_desc layers[6];
    for (int l = 0; l < 6; l++)
        layers[l] = (ga_layer_desc){1, GA_ACT_IDENTITY, 0};
    ga_net_desc d = {GA_LAYOUT_ROW, 1, 6, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net = NULL;
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    double grad[17];
    ga_precision prec;
    cr_expect_neq(ga_grad_read(grad, &prec, &err, net, FIX "col_flat.npy", NULL, 0), GA_OK);
    cr_expect_not_null(strstr(err.msg, "col_flat.npy: shape (17,): expected one flat vector (12,) "
                              "of every entry in slab order, W1, b1, ..., W6, b6 each flattened"),
                       "%s", err.msg);
    ga_net_free(net);
}

/* "-": standard input, a CSV or an .npy; an .npz needs a file libzip can seek in */
Test(gradfile, standard_input)
{
    ga_net *net = make_net(0);
    double grad[17];
    ga_precision prec;
    ga_error err = {{0}};
    cr_assert_not_null(freopen(FIX "col_savetxt.csv", "r", stdin));
    read_ok(grad, net, "-", NULL);
    cr_expect_eq(grad[16], g(16));
    cr_assert_not_null(freopen(FIX "col_spec.npz", "rb", stdin));
    cr_expect_neq(ga_grad_read(grad, &prec, &err, net, "-", NULL, 0), GA_OK);
    cr_expect_str_eq(err.msg, "-: an .npz on standard input: name the file instead");
    ga_net_free(net);
}

/* A net with a layer norm and a residual add (make_gradfiles.py's ln): the
 * .npz names its tensors as the spec does (gamma2, beta2; the add has none);
 * every entry lands in its slab place, and an array named after a tensor
 * the net does not have is refused by name. */
Test(gradfile, layer_types_by_name)
{
    ga_layer_desc L[4] = {{2, GA_ACT_TANH, 0}, {0}, {0}, {1, GA_ACT_IDENTITY, 0}};
    L[1].kind = GA_LAYER_LAYERNORM;
    L[1].n_out = 2;
    L[1].eps = 1e-5;
    L[2].kind = GA_LAYER_RESIDUAL;
    L[2].n_out = 2;
    L[2].from = 1;
    ga_net_desc d = {GA_LAYOUT_COLUMN, 3, 4, L, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
    ga_net *net = NULL;
    ga_error err = {{0}};
    cr_assert_eq(ga_net_alloc(&net, &err, &d), GA_OK, "%s", err.msg);
    cr_assert_eq(net->n_params, 15);
    double grad[15];
    ga_gradfile_options opt = {GA_GRADFILE_LAYOUT_AUTO, 0, GA_PREC_FLOAT64, NULL};
    read_ok(grad, net, "ln_spec.npz", &opt);
    for (size_t i = 0; i < 15; i++)
        cr_expect_eq(grad[i], g(i), "entry %zu", i);
    ga_precision prec;
    cr_expect_eq(ga_grad_read(grad, &prec, &err, net, FIX "col_spec.npz", &opt, 0), GA_EINVAL);
    cr_expect(strstr(err.msg, "'W2' is not a tensor of the spec (expected one array each named W1, "
                              "b1, gamma2, beta2, W4, b4") != NULL, "%s", err.msg);
    ga_net_free(net);
}
