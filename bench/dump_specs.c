/* dump_specs: writes the nets the gate checks and a sample of the hard-net
 * generator's as spec files, so that two builds can be compared on the same
 * inputs byte for byte (bench/compare_outputs.sh, issue 13's "behaviour stays
 * exactly as it is").
 *
 *   dump_specs DIR [N_HARD]
 *
 * DIR/gate_SEED.json: every case of checks/test_gate.c's oracle_zero_failures
 * (its table, GA_RANDNET_GATE_TABLE of checks/ga_randnet.h); DIR/hard_SEED.json: ga_hardnet cases 1 .. N_HARD (default 100). */
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
    static const ga_randnet_table gate = GA_RANDNET_GATE_TABLE;
    static ga_randnet_case cases[GA_RANDNET_TABLE_MAX(1)];
    size_t n_gate = ga_randnet_table_cases(cases, &gate);
    ga_error err;
    char path[4096];
    size_t written = 0;
    for (size_t i = 0; i < n_gate; i++) {
        ga_randnet p;
        if (ga_randnet_make_case(&p, &err, &cases[i])) {
            fprintf(stderr, "dump_specs: gate seed %u: %s\n", cases[i].seed, err.msg);
            return 3;
        }
        snprintf(path, sizeof path, "%s/gate_%u.json", dir, cases[i].seed);
        int st = save_randnet(&p, path, &err);
        ga_randnet_clear(&p);
        if (st) {
            fprintf(stderr, "dump_specs: %s\n", err.msg);
            return 3;
        }
        written++;
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
