/* ga_ops.c: the op graph of a net's description (ga_ops.h). */
#include <stdlib.h>
#include <string.h>

#include "ga_ops.h"

static const char *const op_names[GA_OP_KIND_COUNT] = {"dense", "act", "softmax", "loss", "decay",
                                                        "layernorm", "rmsnorm", "affine", "add",
                                                        "concat", "mask", "embed", "conv", "maxpool", "avgpool",
                                                        "shift", "attn", "batchnorm", "rnn"};

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
    return ga_graph_from_desc(out, err, &net->desc);
}

int ga_graph_from_desc(ga_graph **out, ga_error *err, const ga_net_desc *d)
{
    *out = NULL;
    size_t n_params;
    int status = ga_net_desc_validate(&n_params, err, d, SIZE_MAX);
    if (status)
        return status;
    size_t L = d->n_layers;
    /* values: x, then per layer z and (unless identity) a, or a norm's xh,
     * r and output: at most 1 + 3L; ops: per layer two (dense and an
     * activation, a norm and its affine map, an add), loss, decay */
    size_t max_values = 1 + 3 * L, max_ops = 2 * L + 2;
    ga_graph *g = calloc(1, sizeof *g);
    void *buf = calloc(1, max_ops * sizeof(ga_op) + (3 * max_values + 1) * sizeof(size_t) +
                              (L + 1) * sizeof(size_t));
    if (!g || !buf) {
        free(g);
        free(buf);
        return ga_fail(err, GA_ENOMEM, "out of memory for the op graph");
    }
    g->buf = buf;
    g->ops = buf;
    g->width = (size_t *)(g->ops + max_ops);
    g->voff = g->width + max_values;
    g->last_use = g->voff + max_values + 1;
    g->stage_op = g->last_use + max_values;
    g->n_stages = L;
    g->decay_op = GA_OP_NONE;
    g->chain = ga_net_desc_is_chain(d);

    size_t v_in = 0;
    size_t *layer_out = malloc(L * sizeof *layer_out); /* each layer's output value */
    if (!layer_out) {
        ga_graph_free(g);
        return ga_fail(err, GA_ENOMEM, "out of memory for the op graph");
    }
    g->width[0] = d->n_in;
    g->n_values = 1;
    for (size_t l = 0; l < L; l++) {
        const ga_layer_desc *Ld = &d->layers[l];
        g->stage_op[l] = g->n_ops;
        if (Ld->kind != GA_LAYER_DENSE && Ld->kind != GA_LAYER_CONV) {
            ga_op *op = &g->ops[g->n_ops++];
            op->stage = l;
            op->n_inputs = 1;
            op->input[0] = v_in;
            op->output2 = GA_OP_NONE;
            if (Ld->kind == GA_LAYER_RNN) {
                op->kind = GA_OP_RNN;
                op->tokens = ga_layer_tokens(Ld);
                op->act = Ld->act;
                op->act_param = Ld->act_param;
                op->n_params = 2;
                op->param[0] = 2 * l;
                op->param[1] = 2 * l + 1;
                op->output = g->n_values;
                g->width[g->n_values++] = Ld->n_out;
                op->output2 = g->n_values; /* the pre-activations z, kept for the backward */
                g->width[g->n_values++] = Ld->n_out;
                v_in = layer_out[l] = op->output;
                continue;
            }
            if (Ld->kind == GA_LAYER_ATTENTION) {
                op->kind = GA_OP_ATTN;
                op->tokens = ga_layer_tokens(Ld);
                op->heads = Ld->heads;
                op->act_param = Ld->act_param;
                op->output = g->n_values;
                g->width[g->n_values++] = Ld->n_out;
                op->output2 = g->n_values; /* the attention weights p, kept for the backward */
                g->width[g->n_values++] = Ld->heads * op->tokens * op->tokens;
                v_in = layer_out[l] = op->output;
                continue;
            } else if (Ld->kind == GA_LAYER_BIAS) {
                op->kind = GA_OP_SHIFT;
                op->n_params = 1;
                op->param[0] = 2 * l + 1;
                op->output = g->n_values;
                g->width[g->n_values++] = Ld->n_out;
            } else if (Ld->kind == GA_LAYER_MAXPOOL || Ld->kind == GA_LAYER_AVGPOOL) {
                op->kind = Ld->kind == GA_LAYER_MAXPOOL ? GA_OP_MAXPOOL : GA_OP_AVGPOOL;
                op->geom = Ld->geom;
                op->output = g->n_values;
                g->width[g->n_values++] = Ld->n_out;
            } else if (Ld->kind == GA_LAYER_DROPOUT || Ld->kind == GA_LAYER_EMBEDDING) {
                op->kind = Ld->kind == GA_LAYER_DROPOUT ? GA_OP_MASK : GA_OP_EMBED;
                op->seed = Ld->seed;
                op->p = Ld->p;
                op->act_param = Ld->act_param;
                op->dim = Ld->dim;
                op->n_params = Ld->kind == GA_LAYER_EMBEDDING;
                op->param[0] = 2 * l;
                op->output = g->n_values;
                g->width[g->n_values++] = Ld->n_out;
            } else if (Ld->kind == GA_LAYER_CONCAT) {
                op->kind = GA_OP_CONCAT;
                op->n_inputs = 2;
                op->input[1] = Ld->from == 0 ? 0 : layer_out[Ld->from - 1];
                op->output = g->n_values;
                g->width[g->n_values++] = Ld->n_out;
            } else if (Ld->kind == GA_LAYER_RESIDUAL) {
                op->kind = GA_OP_ADD;
                op->n_inputs = 2;
                op->input[1] = Ld->from == 0 ? 0 : layer_out[Ld->from - 1];
                op->output = g->n_values;
                g->width[g->n_values++] = Ld->n_out;
            } else {
                int bn = Ld->kind == GA_LAYER_BATCHNORM;
                op->kind = bn ? GA_OP_BATCHNORM : Ld->kind == GA_LAYER_LAYERNORM ? GA_OP_LAYERNORM
                                                                                 : GA_OP_RMSNORM;
                op->eps = Ld->eps;
                op->tokens = bn ? 1 : ga_layer_tokens(Ld);
                op->output = g->n_values;
                g->width[g->n_values++] = Ld->n_out;
                op->output2 = g->n_values;
                g->width[g->n_values++] = bn ? Ld->n_out : op->tokens; /* r per feature, per token */
                ga_op *af = &g->ops[g->n_ops++];
                af->kind = GA_OP_AFFINE;
                af->stage = l;
                af->n_inputs = 1;
                af->input[0] = op->output;
                af->output = g->n_values;
                af->output2 = GA_OP_NONE;
                g->width[g->n_values++] = Ld->n_out;
                af->n_params = Ld->kind == GA_LAYER_RMSNORM ? 1 : 2;
                af->tokens = op->tokens;
                af->param[0] = 2 * l;
                af->param[1] = 2 * l + 1;
            }
            v_in = layer_out[l] = g->n_values - 1;
            continue;
        }
        ga_op *op = &g->ops[g->n_ops++];
        op->output2 = GA_OP_NONE;
        op->kind = Ld->kind == GA_LAYER_CONV ? GA_OP_CONV : GA_OP_DENSE;
        op->geom = Ld->geom;
        op->tokens = ga_layer_tokens(Ld);
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
            f->output2 = GA_OP_NONE;
            g->width[g->n_values++] = Ld->n_out;
            f->act = Ld->act;
            f->act_param = Ld->act_param;
            f->tokens = 1; /* elementwise */
        }
        g->z_last = z;
        g->a_last = a;
        g->loss_tokens = op->tokens;
        v_in = layer_out[l] = a;
    }
    free(layer_out);
    g->stage_op[L] = g->n_ops;
    ga_op *lo = &g->ops[g->n_ops++];
    lo->kind = GA_OP_LOSS;
    lo->stage = L;
    lo->n_inputs = 2;
    lo->input[0] = g->z_last;
    lo->input[1] = g->a_last;
    lo->output = lo->output2 = GA_OP_NONE;
    lo->loss = d->loss;
    if (d->loss.weight_decay != 0.0) {
        g->decay_op = g->n_ops;
        ga_op *dc = &g->ops[g->n_ops++];
        dc->kind = GA_OP_DECAY;
        dc->stage = L;
        dc->output = dc->output2 = GA_OP_NONE;
        dc->loss = d->loss;
        /* every weight tensor: views 0, 2, 4, ... (ga_op lists at most
         * GA_OP_MAX_PARAMS, so the decay op covers "every W" by its kind) */
        dc->n_params = 0;
    }
    g->voff[0] = 0;
    for (size_t v = 0; v < g->n_values; v++) {
        g->voff[v + 1] = g->voff[v] + g->width[v];
        g->last_use[v] = GA_OP_NONE;
    }
    for (size_t i = 0; i < g->n_ops; i++)
        for (size_t k = 0; k < g->ops[i].n_inputs; k++)
            g->last_use[g->ops[i].input[k]] = i;
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

int ga_desc_pass_sizes(ga_pass_sizes *s, const ga_net_desc *d, size_t B)
{
    ga_graph *g;
    ga_error err;
    int status = ga_graph_from_desc(&g, &err, d);
    if (status)
        return status;
    status = ga_graph_pass_sizes(s, g, B) ? GA_OK : GA_ERANGE;
    ga_graph_free(g);
    return status;
}

int ga_graph_pass_sizes(ga_pass_sizes *s, const ga_graph *g, size_t B)
{
    s->maxw = 0;
    for (size_t v = 0; v < g->n_values; v++)
        s->maxw = g->width[v] > s->maxw ? g->width[v] : s->maxw;
    size_t rows = 2 * s->maxw;
    if (!g->chain && !ga_size_add(&rows, rows, g->voff[g->n_values]))
        return 0;
    return ga_size_mul(&s->n_vals, B, g->width[0] + ga_graph_value_elems(g)) &&
           ga_size_mul(&s->n_delta, B, rows);
}
