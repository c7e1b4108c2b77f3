/* hardnet_dump: writes ga_hardnet's cases as spec files, for tools outside C
 * (fixtures/verdicts/compare_mpmath.py) and for reproducing by hand.
 *   hardnet_dump DIR FIRST_SEED COUNT
 * writes DIR/hardnet_SEED.json for SEED = FIRST_SEED .. FIRST_SEED + COUNT - 1
 * and prints one line per file: "SEED REGIMES PATH". Exit 0, 2 on bad usage,
 * 1 when a file cannot be written. */
#include <stdio.h>
#include <stdlib.h>

#include "ga_hardnet.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: hardnet_dump DIR FIRST_SEED COUNT\n");
        return 2;
    }
    char *end1, *end2;
    unsigned long first = strtoul(argv[2], &end1, 10), count = strtoul(argv[3], &end2, 10);
    if (*end1 || *end2 || first > 0xffffffffUL) {
        fprintf(stderr, "hardnet_dump: FIRST_SEED and COUNT are integers (seed < 2^32)\n");
        return 2;
    }
    for (unsigned long k = 0; k < count; k++) {
        uint32_t seed = (uint32_t)(first + k);
        ga_hardnet h;
        ga_error err;
        char path[4096], list[160];
        if (ga_hardnet_make(&h, &err, seed) != GA_OK) {
            fprintf(stderr, "hardnet_dump: seed %u: %s\n", seed, err.msg);
            return 1;
        }
        snprintf(path, sizeof path, "%s/hardnet_%u.json", argv[1], seed);
        int st = ga_hardnet_save(&err, &h, path);
        ga_hardnet_regime_list(list, sizeof list, h.regimes);
        ga_hardnet_clear(&h);
        if (st != GA_OK) {
            fprintf(stderr, "hardnet_dump: %s\n", err.msg);
            return 1;
        }
        printf("%u %s %s\n", seed, list, path);
    }
    return 0;
}
