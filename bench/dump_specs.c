/* dump_specs: writes the nets the gate checks and a sample of the hard-net
 * generator's as spec files, so that two builds can be compared on the same
 * inputs byte for byte (bench/compare_outputs.sh, issue 13's "behaviour stays
 * exactly as it is").
 *
 *   dump_specs DIR [N_HARD]
 *
 * DIR/gate_SEED.json: every case of checks/test_gate.c's oracle_zero_failures
 * (the same activations, losses, batches, layouts, seeds, widths and weight
 * decay); DIR/hard_SEED.json: ga_hardnet cases 1 .. N_HARD (default 100). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_hardnet.h"
#include "ga_randnet.h"
#include "ga_spec.h"

static int save_randnet(const ga_randnet *p, const char *path, ga_error *err)
{
    char what[160];
    ga_randnet_describe(what, sizeof what, p);
    ga_spec s;
    memset(&s, 0, sizeof s);
    s.source = what;
    s.description = what;
    s.desc = p->net->desc;
    s.n_params = p->net->n_params;
    s.batch = p->batch;
    s.x = p->x;
    s.y = p->y;
    FILE *f = fopen(path, "w");
    if (!f)
        return ga_fail(err, GA_EIO, "%s: cannot write", path);
    int status = ga_spec_write(f, err, &s, p->net);
    if (fclose(f) != 0 && !status)
        status = ga_fail(err, GA_EIO, "%s: cannot write", path);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: dump_specs DIR [N_HARD]\n");
        return 2;
    }
    const char *dir = argv[1];
    long n_hard = argc == 3 ? strtol(argv[2], NULL, 10) : 100;
    static const size_t batches[4] = {1, 2, 7, 64};
    ga_error err;
    char path[4096];
    size_t n = 0, written = 0;
    /* the case table of test_gate.c, in its order (the seed is 20261122 + n) */
    for (int a = 0; a < GA_ACT_COUNT; a++)
        for (int l = 0; l < GA_LOSS_COUNT; l++) {
            ga_activation out = ga_randnet_output_activation((ga_loss_kind)l, (ga_activation)a);
            if (ga_loss_check_pair(NULL, (ga_loss_kind)l, out) != GA_OK)
                continue;
            for (size_t b = 0; b < 4; b++)
                for (int lay = 0; lay < 2; lay++, n++) {
                    uint32_t seed = (uint32_t)(20261122u + n);
                    ga_randnet p;
                    double wd = (seed % 2) ? 0.01 : 0.0;
                    if (ga_randnet_make(&p, &err, (ga_layout)lay, (ga_activation)a, (ga_loss_kind)l,
                                        (ga_reduction)(seed % 3), batches[b], 3, 3, wd, seed)) {
                        fprintf(stderr, "dump_specs: gate seed %u: %s\n", seed, err.msg);
                        return 3;
                    }
                    snprintf(path, sizeof path, "%s/gate_%u.json", dir, seed);
                    int st = save_randnet(&p, path, &err);
                    ga_randnet_clear(&p);
                    if (st) {
                        fprintf(stderr, "dump_specs: %s\n", err.msg);
                        return 3;
                    }
                    written++;
                }
        }
    for (long s = 1; s <= n_hard; s++) {
        ga_hardnet h;
        if (ga_hardnet_make(&h, &err, (uint32_t)s)) {
            fprintf(stderr, "dump_specs: hardnet seed %ld: %s\n", s, err.msg);
            return 3;
        }
        snprintf(path, sizeof path, "%s/hard_%ld.json", dir, s);
        int st = ga_hardnet_save(&err, &h, path);
        ga_hardnet_clear(&h);
        if (st) {
            fprintf(stderr, "dump_specs: %s\n", err.msg);
            return 3;
        }
        written++;
    }
    printf("%zu specs in %s\n", written, dir);
    return 0;
}
