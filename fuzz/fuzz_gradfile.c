/* fuzz_gradfile: libFuzzer target over ga_grad_read (core/ga_gradfile.h), the
 * reader of `gradaudit check --grad FILE`.
 *
 * Input: one byte of options (bits 0-1 the layout: auto, spec, transposed;
 * bit 2 --grad-dtype given, bit 3 float32), then the file's bytes, read for
 * the net 3 -> 2 -> 2 -> 1 of fixtures/gradfiles (column layout, 17 entries;
 * seeds: those files, each behind a 0 byte, fuzz/README.md). What counts as a
 * finding (the process aborts, libFuzzer keeps the input):
 *   - a crash, a leak or undefined behaviour (built with ASan and UBSan);
 *   - a refusal without a message, or a message of more than one line;
 *   - an accepted file that left an entry of the slab unwritten, or a float32
 *     gradient with a finite entry that is not a float32 number. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ga_gradfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_gradfile: %s: %s\n", what, msg);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ga_net *net;
    static char path[64];
    static FILE *f;
    if (!net) {
        static ga_layer_desc layers[3] = {{2, GA_ACT_SIGMOID, 0}, {2, GA_ACT_TANH, 0},
                                          {1, GA_ACT_IDENTITY, 0}};
        ga_net_desc d = {GA_LAYOUT_COLUMN, 3, 3, layers, {GA_LOSS_MSE, 1.0, GA_REDUCE_SUM, 0.0}};
        char tmp[] = "/tmp/fuzz_gradfile_XXXXXX";
        int fd = mkstemp(tmp);
        if (ga_net_alloc(&net, NULL, &d) != GA_OK || fd < 0 || !(f = fdopen(fd, "wb")))
            finding("setup", "no net or no temporary file");
        unlink(tmp); /* read through the descriptor: nothing is left behind */
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (size < 1)
        return 0;
    ga_gradfile_options opt = {(ga_gradfile_layout)(data[0] % 3), (data[0] >> 2) & 1,
                               (data[0] >> 3) & 1 ? GA_PREC_FLOAT32 : GA_PREC_FLOAT64, NULL};
    if (ftruncate(fileno(f), 0) != 0 || fseek(f, 0, SEEK_SET) != 0 ||
        fwrite(data + 1, 1, size - 1, f) != size - 1 || fflush(f) != 0)
        finding("setup", "cannot write the temporary file");
    /* an unwritten entry keeps this NaN's payload, which no input gives */
    const uint64_t sentinel = 0x7ff4000000dead01u;
    double grad[17];
    for (size_t i = 0; i < 17; i++)
        memcpy(&grad[i], &sentinel, sizeof sentinel);
    ga_precision prec;
    ga_error err = {{0}};
    if (ga_grad_read(grad, &prec, &err, net, path, &opt, (size_t)1 << 24) != GA_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n'))
            finding("a refusal's message is empty or not one line", err.msg);
        return 0;
    }
    for (size_t i = 0; i < 17; i++) {
        uint64_t bits;
        memcpy(&bits, &grad[i], sizeof bits);
        if (bits == sentinel)
            finding("accepted with an entry unwritten", path);
        if (prec == GA_PREC_FLOAT32 && grad[i] - grad[i] == 0 && (double)(float)grad[i] != grad[i])
            finding("a float32 gradient's entry is not a float32 number", path);
    }
    return 0;
}
