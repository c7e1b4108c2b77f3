/* bench_layers: forward + backward (ga_loss_and_grad) of the layer types' nets
 * (issue 14): a LeNet-like CNN and a GPT-2-like block, read from spec files.
 *
 * usage: bench_layers SPEC.json... [REPS]   (default 20 repetitions)
 * The specs are the ones bench/bench_layers_torch.py writes (`write DIR`: cnn.json,
 * gpt.json), which its timing mode reads too. For each spec: one warm-up pass,
 * then REPS timed passes; prints the median and the best time and the loss.
 * The matrix products of the dense layers, the convolutions (each sample's
 * image lowered to a matrix) and the attention (per sample and head) go
 * through gsl_blas_dgemm (GSL's CBLAS, or OpenBLAS with -Dcblas=openblas: its
 * threads from OPENBLAS_NUM_THREADS); pooling, the activations and the norms
 * are the core's own loops, on one thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mlp.h"
#include "ga_core.h"
#include "ga_spec.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run(const char *path, int reps, double *times)
{
    ga_error err = {{0}};
    ga_spec *spec = NULL;
    ga_net *net = NULL;
    ga_workspace *ws = NULL;
    int st = ga_spec_load(&spec, &err, path, 0);
    if (st == GA_OK)
        st = ga_spec_make_net(&net, &err, spec, 0, 0);
    if (st == GA_OK)
        st = ga_workspace_alloc(&ws, &err, net, spec->batch);
    double loss = 0;
    if (st == GA_OK) /* warm-up */
        st = ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, spec->x, spec->y,
                              spec->batch);
    for (int r = 0; st == GA_OK && r < reps; r++) {
        double t0 = bench_now();
        st = ga_loss_and_grad(&loss, net->grads, NULL, ws, net, net->params, spec->x, spec->y,
                              spec->batch);
        times[r] = bench_now() - t0;
    }
    if (st != GA_OK) {
        fprintf(stderr, "bench_layers: %s\n", err.msg[0] ? err.msg : ga_strerror(st));
    } else {
        qsort(times, reps, sizeof *times, cmp);
        const char *base = strrchr(path, '/');
        printf("gradaudit core (%s): %s (%zu parameters, batch %zu): median %.3f ms, best %.3f ms, "
               "loss %.12g\n",
#ifdef GA_CBLAS_OPENBLAS
               "OpenBLAS",
#else
               "GSL CBLAS",
#endif
               base ? base + 1 : path, spec->n_params, spec->batch, 1e3 * times[reps / 2],
               1e3 * times[0], loss);
    }
    ga_workspace_free(ws);
    ga_net_free(net);
    ga_spec_free(spec);
    return st;
}

int main(int argc, char **argv)
{
    int reps = 20, nspec = 0;
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (n > 5 && !strcmp(argv[i] + n - 5, ".json"))
            nspec++;
        else
            reps = atoi(argv[i]);
    }
    if (!nspec || reps < 1 || reps > 100000) {
        fprintf(stderr, "usage: bench_layers SPEC.json... [REPS]\n"
                        "  (write the specs with: /usr/bin/python3 bench/bench_layers_torch.py write DIR)\n");
        return 2;
    }
    double *times = malloc(reps * sizeof *times);
    if (!times)
        return 3;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (n > 5 && !strcmp(argv[i] + n - 5, ".json") && run(argv[i], reps, times) != GA_OK)
            rc = 3;
    }
    free(times);
    return rc;
}
