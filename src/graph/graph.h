/* graph.h: the model graph.
 *
 * A model is a DAG of nodes. Each node is one call of a layer (a layer used
 * twice shares its parameters between two nodes). Nodes read and write
 * values: (batch, dims...) float buffers with an optional gradient buffer.
 * Every buffer is planned once per (batch size, training) in one arena, so a
 * step never allocates; every value stays readable after a step, which is
 * what traces and tests inspect.
 *
 * A layer with a fused `activation` writes its core result to value z and
 * the activation to out[0]; without activation z == out[0].
 */
#ifndef MX_GRAPH_H
#define MX_GRAPH_H

#include "core/core.h"
#include "kernels/activation.h"
#include "kernels/conv.h"

#define MX_MAX_INPUTS 16
#define MX_MAX_OUTPUTS 8 /* Bidirectional LSTM, merge_mode None, return_state: 2 + 4 */
#define MX_MAX_PARAMS 8

typedef struct mx_layer mx_layer;
typedef struct mx_node mx_node;
typedef struct mx_model mx_model;

/* ---- initializers and regularizers (Keras semantics) ---- */

typedef enum mx_init_kind {
    MX_INIT_ZEROS,
    MX_INIT_ONES,
    MX_INIT_CONSTANT,
    MX_INIT_RANDOM_NORMAL,
    MX_INIT_RANDOM_UNIFORM,
    MX_INIT_TRUNCATED_NORMAL,
    MX_INIT_VARIANCE_SCALING, /* Glorot*, He*, Lecun* are VarianceScaling */
    MX_INIT_ORTHOGONAL,       /* gain (in scale) times an orthogonal matrix (rows: all axes but the last) */
} mx_init_kind;

typedef enum mx_fan_mode { MX_FAN_IN, MX_FAN_OUT, MX_FAN_AVG } mx_fan_mode;
typedef enum mx_distribution { MX_DIST_TRUNCATED_NORMAL, MX_DIST_UNTRUNCATED_NORMAL, MX_DIST_UNIFORM } mx_distribution;

typedef struct mx_init {
    mx_init_kind kind;
    char class_name[32]; /* as written in the config, kept for saving */
    float a, b;          /* constant: value; normal: mean, stddev; uniform: minval, maxval */
    float scale;         /* VarianceScaling; Orthogonal: gain */
    mx_fan_mode mode;
    mx_distribution distribution;
    int has_seed;
    int64_t seed;
} mx_init;

typedef struct mx_reg {
    float l1, l2; /* loss += l1 * sum|w| + l2 * sum w^2 */
} mx_reg;

/* ---- values ---- */

typedef struct mx_value {
    char name[MX_NAME_MAX + 24]; /* layer name ("name:1" for a second call), "<name>/z" pre-activation */
    int index;              /* in model->values */
    int rank;               /* without batch */
    int64_t dims[MX_MAX_RANK];
    int64_t size;           /* elements per sample */
    mx_node *producer;      /* NULL never: inputs come from InputLayer nodes */
    int n_consumers;
    int needs_grad;         /* planned: a gradient flows here in training */
    int zero_grad;          /* planned: nobody writes its gradient; zero it each step */
    float *data;            /* (batch, dims...) */
    float *grad;            /* (batch, dims...) or NULL */
} mx_value;

/* ---- parameters ---- */

typedef struct mx_param {
    char name[2 * MX_NAME_MAX + 32]; /* "dense/kernel", "bidirectional/forward_lstm/kernel" */
    int rank;
    int64_t dims[4];
    int64_t size;
    int trainable;          /* kind of weight (moving statistics are not) */
    mx_init init;
    mx_reg reg;
    int64_t fan_in, fan_out;
    float *data;
    float *grad;            /* planned: grad_slot when training and trainable, else NULL */
    float *grad_slot;       /* gradient storage of a trainable kind of weight */
    float *opt_state;       /* optimizer slots, opt_slots * size floats */
    mx_layer *layer;        /* the layer that declared (and owns) it */
} mx_param;

/* ---- layer types: one file per type in src/layers/ ---- */

typedef struct mx_exec {
    int batch;         /* samples in this step (<= planned batch) */
    int training;      /* dropout on, batch statistics */
    uint64_t seed;     /* with step and node index: the node's random stream */
    int64_t step;
} mx_exec;

struct mx_field;

/* What a recurrent call keeps of a step in its workspace, time-major and in
 * step order (reversed: step s reads time T-1-s), for `batch` samples: the
 * states h (T + 1, batch, units), h[0] the initial state; the sums before
 * the activations (T, batch, gates), which a backward pass overwrites with
 * their gradients (SimpleRNN: a_t, then dL/da_t). NULL before planning. */
typedef struct mx_unrolled {
    int64_t steps, inputs, units, gates;
    const float *states, *sums;
    mx_act act;                        /* SimpleRNN's activation (h_t = act(a_t)) */
    int reversed, return_sequences, return_state;
    int stateful;                      /* h[0] is kept from the previous batch */
    int dropout;                       /* input or recurrent dropout is configured */
} mx_unrolled;

typedef struct mx_layer_type {
    const char *class_name;            /* Keras class name */
    const struct mx_field *fields;     /* config schema, ends with {0} */
    size_t cfg_size;
    int min_inputs, max_inputs;
    int has_activation;                /* accepts the `activation` argument */
    int fuses_activation;              /* forward writes out[0] itself for elementwise activations */
    int folds;                         /* forward honours fold_bn/act_from (mx_fused_params) */
    /* Check input shapes, set output shapes, declare parameters (first call
     * for a layer) and workspace. Errors are reported without the layer name
     * (the caller adds it). */
    int (*build)(mx_node *n);
    void (*forward)(mx_node *n, const mx_exec *ex);
    /* Write gradients of inputs that have a grad buffer (overwrite, or add
     * when in_acc[i]) and of trainable parameters (overwrite, or add when
     * param_acc), from z->grad. */
    void (*backward)(mx_node *n, const mx_exec *ex);
    /* Optional: whether this call can do a following 2x2 max pooling in its
     * forward pass (inference); it then writes pool_into's output. */
    int (*can_pool)(const mx_node *n);
    /* Optional: adjust freshly initialised weights (LSTM's unit_forget_bias). */
    void (*after_init)(mx_layer *l);
    /* Optional: free what build put in n->state beyond one allocation
     * (a wrapper's inner nodes). */
    void (*free_state)(mx_node *n);
    /* Optional: the states a call keeps from one batch to the next
     * (stateful recurrent layers): buffer k of them, *count floats, or NULL
     * past the last. */
    float *(*persistent)(mx_node *n, int k, int64_t *count);
    /* Optional, for explanations (mlexp info, mlexp explain):
     * fills g with the sliding window of a convolution or pooling call and
     * returns 0 (a DepthwiseConv2D's g->f counts c * depth_multiplier); */
    int (*window)(const mx_node *n, mx_conv_geom *g);
    /* how the parameter count follows from the config, with the numbers
     * filled in ("(in + 1) * units = (784 + 1) * 128 = 100480"); */
    void (*explain_params)(const mx_node *n, mx_text *t);
    /* how the output shape follows from the input's, with numbers. */
    void (*explain_shape)(const mx_node *n, mx_text *t);
    /* the per-step buffers of a recurrent call (mlexp explain unrolls
     * SimpleRNN from them): returns 0 and fills u. */
    int (*unrolled)(const mx_node *n, int batch, struct mx_unrolled *u);
    /* A small use of the layer, for the tests that cover every type (the
     * gradient check of each): JSON {"input": [dims], "config": {...}},
     * with "inputs": 2 for merges and "batch": n where it matters. Every
     * type but InputLayer has one. */
    const char *example;
} mx_layer_type;

struct mx_layer {
    const mx_layer_type *type;
    char name[MX_NAME_MAX];
    int trainable;
    mx_act act;                        /* fused activation (linear if none) */
    void *cfg;                         /* type-specific config struct */
    int n_params;
    mx_param *params[MX_MAX_PARAMS];
    int n_nodes;                       /* calls of this layer in the graph */
    mx_model *model;
    int index;                         /* in model->layers */
    mx_layer *scope;                   /* the nested model (or wrapper) it belongs to, NULL at the top */
    int inference;                     /* runs in inference mode (a nested model called with training=False) */
    /* Where its weights are named: its name, or for the layer inside a
     * wrapper what TF.js uses ("bidirectional/forward_lstm", or the
     * TimeDistributed layer's name). Its weights join the wrapper's. */
    char weight_scope[2 * MX_NAME_MAX];
};

/* A model used as a layer inside another (Keras nesting). Its layers join
 * the enclosing graph (scope pointing here); this pseudo-layer keeps what
 * is needed to write the nesting back: its own inputs stand for the values
 * it was called on. Single call only. */
typedef struct mx_submodel {
    char class_name[16];               /* "Functional", "Model" or "Sequential" */
    int n_inputs, n_outputs;
    mx_layer *input_layers[MX_MAX_INPUTS]; /* its InputLayers (never called) */
    mx_value *bound[MX_MAX_INPUTS];    /* the values they stand for */
    mx_value *outputs[MX_MAX_OUTPUTS];
    int called;                        /* its inbound node has been read */
} mx_submodel;

extern const mx_layer_type mx_layer_submodel;
/* the innermost enclosing layer of l that sits in scope (l itself or a
 * nested model containing it), or NULL */
mx_layer *mx_layer_in_scope(mx_layer *l, const mx_layer *scope);

struct mx_node {
    mx_layer *layer;
    int index;                         /* position in topological order */
    int call;                          /* this is the layer's call number `call` (Keras node_index) */
    int n_in;
    mx_value *in[MX_MAX_INPUTS];
    uint8_t in_acc[MX_MAX_INPUTS];     /* planned: add into in[i]->grad */
    int n_out;
    mx_value *out[MX_MAX_OUTPUTS];
    mx_value *z;                       /* core output (== out[0] when linear) */
    int param_acc;                     /* planned: add into param grads */
    int act_by_loss;                   /* the loss writes z->grad directly */
    int z_in_place;                    /* planned: z shares out[0]'s buffers (activation in place) */
    /* planned, where no gradient and no observer needs the steps between:
     * later nodes whose work this node does in its own pass */
    mx_node *fold_bn;                  /* a BatchNormalization folded into this node's weights */
    mx_node *act_from;                 /* an activation layer applied in this node's epilogue */
    mx_node *pool_into;                /* a 2x2 max pooling done here (inference) */
    mx_value *fused_out;               /* where the result goes when fold_bn or act_from is set */
    float *folded;                     /* planned: weights and bias with fold_bn folded in */
    uint64_t folded_version;           /* the weights_version folded is of (0: not yet) */
    int done_by_producer;              /* planned: an earlier node computes this node's output */
    int64_t ws_per_sample, ws_fixed;   /* workspace floats, declared by build */
    int fixed_batch;                   /* > 0: keeps state for this many samples, the most a step may run */
    float *ws;                         /* planned workspace, kept from forward to backward */
    uint64_t ws_version;               /* the weights_version + 1 of weights derived into ws and kept
                                        * between inference passes (Winograd's filters; 0: none) */
    void *state;                       /* per-node derived sizes (e.g. conv geometry), set by build */
    double seconds[2];                 /* time in forward and backward, when profiling */
};

/* ---- the model ---- */

struct mx_model {
    char name[MX_NAME_MAX];
    int sequential;                    /* written back as a Sequential config */
    uint64_t seed;
    int n_layers, cap_layers;
    mx_layer **layers;
    int n_nodes, cap_nodes;
    mx_node **nodes;                   /* topological order */
    int n_values, cap_values;
    mx_value **values;
    int n_inputs, n_outputs;
    mx_value *inputs[MX_MAX_INPUTS];
    mx_value *outputs[MX_MAX_OUTPUTS];
    mx_node *input_nodes[MX_MAX_INPUTS];
    int n_params;
    mx_param **params;
    float *param_mem;                  /* all parameter data */
    float *grad_mem;                   /* all trainable parameter gradients */
    /* plan */
    int grad_inputs;                   /* also compute gradients of the inputs (checks, traces) */
    int keep_preactivations;           /* store z apart even where the activation could run in place */
    int plan_batch, plan_training;
    float *plan_mem;
    float *targets;                    /* (batch, output size) targets of output 0 */
    /* compile */
    int compiled;
    int loss_kind, from_logits;
    struct mx_optimizer_config *opt;
    float *opt_mem;
    int64_t iterations;                /* optimizer steps taken */
    int opt_lookahead;                 /* the weights sit at textbook Nesterov's look-ahead point (optimizer.c) */
    uint64_t weights_version;          /* bumped whenever weights change (folded copies follow it) */
    int profile;                       /* time every node (mx_model_profile) */
    char step_error[256];              /* set by a node that met bad data in a step (mx_node_step_error) */
    mx_layer *scope;                   /* while reading a config: the nested model being read */
};

/* ---- building (graph/graph.c) ---- */

mx_model *mx_graph_new(const char *name, uint64_t seed);
/* A layer of the given class with default config; NULL for an unknown class. */
const mx_layer_type *mx_layer_type_find(const char *class_name);
/* Create a layer (name NULL: a fresh Keras-style name) with its config
 * struct zero-initialised; the caller fills cfg (normally from JSON). */
mx_layer *mx_graph_add_layer(mx_model *m, const mx_layer_type *t, const char *name);
/* Call a layer on values: builds the node (shape checks, params). */
mx_node *mx_graph_call(mx_model *m, mx_layer *l, mx_value **in, int n_in);
/* After all nodes: allocate parameters and initialise them from m->seed. */
int mx_graph_finish(mx_model *m);
mx_layer *mx_graph_find_layer(const mx_model *m, const char *name);

/* For layer build functions. */
mx_param *mx_layer_param(mx_node *n, const char *short_name, int rank, const int64_t *dims,
                         const mx_init *init, const mx_reg *reg, int trainable, int64_t fan_in,
                         int64_t fan_out);
int mx_node_set_output(mx_node *n, int i, int rank, const int64_t *dims);
/* Give node n (in build) outputs 1 .. count-1 besides out[0], named
 * "<name>/<i>" (values given in n->out already are kept: a wrapper's inner
 * node); their shapes are set with mx_node_set_output. */
int mx_node_add_outputs(mx_node *n, int count);
/* The batch size fixed by the InputLayer that input 0 comes from
 * (batch_input_shape [B, ...]), or 0 when it is not fixed. */
int mx_node_input_batch(const mx_node *n);
/* A layer inside wrapper w (the layer of Bidirectional or TimeDistributed),
 * not called in the graph itself: its config is read by the caller; w's
 * build runs it on inner nodes and takes its weights (mx_wrap_params). */
mx_layer *mx_graph_add_inner_layer(mx_layer *w, const mx_layer_type *t, const char *name);
/* A copy of inner layer src (same type and config) named `name` in the same wrapper. */
mx_layer *mx_graph_clone_inner_layer(const mx_layer *src, const char *name);
/* The weights of inner layer `inner` become weights of wrapper w too, in order. */
int mx_wrap_params(mx_layer *w, const mx_layer *inner);
/* Bad data met in a step (e.g. an index out of range): the first message
 * is kept in m->step_error; the step's caller reports it. */
void mx_node_step_error(mx_node *n, const char *fmt, ...) MX_PRINTF(2, 3);

/* Initialise one parameter with its initializer from a seeded generator;
 * cols is its last axis (Orthogonal). */
int mx_init_fill(const mx_init *init, float *w, int64_t size, int64_t cols, int64_t fan_in, int64_t fan_out,
                 mx_rng *rng);
mx_init mx_init_variance_scaling(const char *class_name, float scale, mx_fan_mode mode,
                                 mx_distribution d);

/* ---- planning and running (graph/plan.c, graph/exec.c) ---- */

/* A max pooling of 2x2 windows, stride 2, padding valid (pool2d.c). */
int mx_pool_is_2x2(const mx_node *n);
/* BatchNormalization in inference: y = x * a + b per channel (batchnorm.c). */
void mx_bn_inference_affine(const mx_node *bn, float *a, float *b);
/* An activation layer (Activation, ReLU, LeakyReLU) with an elementwise function. */
int mx_is_activation_layer(const mx_node *n);

/* What a conv-like forward pass (kernel's last axis = its f output
 * channels) computes with, after the plan's fusions: weights and bias with a
 * BatchNormalization folded in, the activation of a fused activation layer,
 * and the buffers of the last fused node. */
typedef struct mx_fused {
    const float *w, *bias;
    mx_act act;
    float *z, *out; /* out: act(z), NULL without an activation (out may be z) */
} mx_fused;
mx_fused mx_fused_params(mx_node *n, const float *w, int64_t wsize, const float *bias, int64_t f);
/* Weights were written outside training and loading (tests, tools): folded
 * copies must be made again. */
void mx_model_weights_changed(mx_model *m);

/* Plan buffers for `batch` samples; training adds gradients. Keeps the
 * current plan when it already fits. */
int mx_graph_plan(mx_model *m, int batch, int training);
void mx_graph_forward(mx_model *m, const mx_exec *ex);
/* The node's forward applies its (elementwise) activation in its epilogue. */
int mx_act_fused(const mx_node *n);
void mx_graph_backward(mx_model *m, const mx_exec *ex);
/* One node: its layer's pass and its activation (a wrapper runs its inner
 * nodes with these). */
void mx_node_forward(mx_node *n, const mx_exec *ex);
void mx_node_backward(mx_node *n, const mx_exec *ex);

#endif
