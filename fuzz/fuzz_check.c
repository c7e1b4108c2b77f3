/* fuzz_check: libFuzzer target over the spec parser and the whole check.
 *
 * Input: a spec (fixtures/specs/ seed the corpus); the sum of its bytes
 * picks the method and the seed.
 * What counts as a finding (the process aborts, libFuzzer keeps the input):
 *   - a crash, a leak or undefined behaviour (built with ASan and UBSan);
 *   - an error status without a message;
 *   - with the oracle method and a finite double loss, a FAIL on an entry
 *     whose analytic value is finite: the core's own gradient against the
 *     oracle, so either a core bug or a false alarm of the checker;
 *   - the oracle's two routes disagreeing on a cross-checked entry (the
 *     program's exit status 3).
 * Specs beyond 4,000 parameter-samples are parsed but not checked, to keep
 * an execution in milliseconds. See fuzz/README.md. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_check.h"
#include "ga_spec.h"
#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* With FUZZ_STATS set in the environment: how many inputs got past the
 * parser into the check, printed at exit. */
static unsigned long n_checked;

static void print_stats(void)
{
    fprintf(stderr, "%s: %lu specs checked\n", __FILE__, n_checked);
}

static void need_message(const ga_error *err, const char *what)
{
    if (!err->msg[0]) {
        fprintf(stderr, "fuzz_check: %s failed without a message\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size, print_stats);
    if (!text)
        return 0;
    unsigned pick = 0;
    for (size_t i = 0; i < size; i++)
        pick += data[i];
    ga_spec *spec;
    ga_error err;
    err.msg[0] = 0;
    if (ga_spec_parse(&spec, &err, text, "fuzz.json", 1 << 20) != GA_OK) {
        need_message(&err, "ga_spec_parse");
        free(text);
        return 0;
    }
    ga_net *net;
    err.msg[0] = 0;
    if (ga_spec_make_net(&net, &err, spec, 0, 0) != GA_OK) {
        need_message(&err, "ga_spec_make_net");
    } else {
        if (net->n_params * spec->batch <= 4000) {
            n_checked++;
            ga_check_options o;
            ga_check_options_default(&o);
            o.method = (ga_check_method)(pick % GA_CHECK_COUNT);
            o.seed = pick;
            o.top_k = 3;
            ga_check_report *r;
            err.msg[0] = 0;
            if (ga_check_run(&r, &err, net, net->params, spec->x, spec->y, spec->batch, &o) !=
                GA_OK) {
                need_message(&err, "ga_check_run");
            } else {
                FILE *f = fopen("/dev/null", "w");
                if (f) {
                    ga_check_report_print(f, r);
                    fclose(f);
                }
                if (r->cross_mismatches) {
                    fprintf(stderr, "fuzz_check: the oracle's routes disagree on %zu of %zu "
                            "entries\n", r->cross_mismatches, r->cross_checked);
                    abort();
                }
                if (o.method == GA_CHECK_ORACLE && isfinite(r->loss))
                    for (size_t i = 0; i < r->n_entries; i++) {
                        const ga_check_entry *e = &r->entries[i];
                        if (e->verdict == GA_VERDICT_FAIL && isfinite(e->analytic)) {
                            fprintf(stderr, "fuzz_check: %s FAILs: %s\n", e->name, e->reason);
                            abort();
                        }
                    }
                ga_check_report_free(r);
            }
        }
        ga_net_free(net);
    }
    ga_spec_free(spec);
    free(text);
    return 0;
}
