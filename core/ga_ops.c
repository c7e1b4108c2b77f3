/* ga_ops.c: the op graph of a net's description (ga_ops.h). */
#include <stdlib.h>
#include <string.h>

#include "ga_ops.h"

static const char *const op_names[GA_OP_KIND_COUNT] = {"dense", "act", "softmax", "loss", "decay"};

const char *ga_op_kind_name(ga_op_kind k)
{
    return (unsigned)k < GA_OP_KIND_COUNT ? op_names[k] : "?";
}

void ga_graph_free(ga_graph *g)
{
    if (!g)
        return;
    free(g->buf);
    free(g);
}

int ga_graph_from_net(ga_graph **out, ga_error *err, const ga_net *net)
{
    *out = NULL;
    if (!net)
        return ga_fail(err, GA_EINVAL, "ga_graph_from_net: no net");
    const ga_net_desc *d = &net->desc;
    size_t n_params;
    int status = ga_net_desc_validate(&n_params, err, d, SIZE_MAX);
    if (status)
        return status;
    size_t L = d->n_layers;
    /* values: x, then per layer z and (unless identity) a: at most 1 + 2L;
     * ops: per layer dense and (unless identity) an activation, loss, decay */
    size_t max_values = 1 + 2 * L, max_ops = 2 * L + 2;
    ga_graph *g = calloc(1, sizeof *g);
    void *buf = calloc(1, max_values * sizeof(size_t) + max_ops * sizeof(ga_op) +
                              (L + 1) * sizeof(size_t));
    if (!g || !buf) {
        free(g);
        free(buf);
        return ga_fail(err, GA_ENOMEM, "out of memory for the op graph");
    }
    g->buf = buf;
    g->ops = buf;
    g->width = (size_t *)(g->ops + max_ops);
    g->stage_op = g->width + max_values;
    g->n_stages = L;
    g->decay_op = GA_OP_NONE;

    size_t v_in = 0;
    g->width[0] = d->n_in;
    g->n_values = 1;
    for (size_t l = 0; l < L; l++) {
        const ga_layer_desc *Ld = &d->layers[l];
        g->stage_op[l] = g->n_ops;
        ga_op *op = &g->ops[g->n_ops++];
        op->kind = GA_OP_DENSE;
        op->stage = l;
        op->n_inputs = 1;
        op->input[0] = v_in;
        op->output = g->n_values;
        g->width[g->n_values++] = Ld->n_out;
        op->n_params = 2;
        op->param[0] = 2 * l;
        op->param[1] = 2 * l + 1;
        size_t z = op->output, a = z;
        if (Ld->act != GA_ACT_IDENTITY) {
            ga_op *f = &g->ops[g->n_ops++];
            f->kind = Ld->act == GA_ACT_SOFTMAX ? GA_OP_SOFTMAX : GA_OP_ACT;
            f->stage = l;
            f->n_inputs = 1;
            f->input[0] = z;
            f->output = a = g->n_values;
            g->width[g->n_values++] = Ld->n_out;
            f->act = Ld->act;
            f->act_param = Ld->act_param;
        }
        g->z_last = z;
        g->a_last = a;
        v_in = a;
    }
    g->stage_op[L] = g->n_ops;
    ga_op *lo = &g->ops[g->n_ops++];
    lo->kind = GA_OP_LOSS;
    lo->stage = L;
    lo->n_inputs = 2;
    lo->input[0] = g->z_last;
    lo->input[1] = g->a_last;
    lo->output = GA_OP_NONE;
    lo->loss = d->loss;
    if (d->loss.weight_decay != 0.0) {
        g->decay_op = g->n_ops;
        ga_op *dc = &g->ops[g->n_ops++];
        dc->kind = GA_OP_DECAY;
        dc->stage = L;
        dc->output = GA_OP_NONE;
        dc->loss = d->loss;
        /* every weight tensor: views 0, 2, 4, ... (ga_op lists at most
         * GA_OP_MAX_PARAMS, so the decay op covers "every W" by its kind) */
        dc->n_params = 0;
    }
    *out = g;
    return GA_OK;
}

size_t ga_graph_value_elems(const ga_graph *g)
{
    size_t s = 0;
    for (size_t v = 1; v < g->n_values; v++)
        s += g->width[v];
    return s;
}

int ga_graph_pass_sizes(ga_pass_sizes *s, const ga_graph *g, size_t B)
{
    s->maxw = 0;
    for (size_t v = 0; v < g->n_values; v++)
        s->maxw = g->width[v] > s->maxw ? g->width[v] : s->maxw;
    return ga_size_mul(&s->n_vals, B, g->width[0] + ga_graph_value_elems(g)) &&
           ga_size_mul(&s->n_delta, B, 2 * s->maxw);
}
