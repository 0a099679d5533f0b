/* train.h: losses, optimizers and the training step (internal). */
#ifndef MX_TRAIN_H
#define MX_TRAIN_H

#include "graph/graph.h"

/* Loss of output 0 against m->targets for `batch` samples: returns the mean
 * loss; with grad, seeds the output (or fused logits) gradient. Adds the
 * number of correct predictions and of predictions to *correct, *total. */
double mx_loss_step(mx_model *m, int batch, int grad, int64_t *correct, int64_t *total);
/* Whether targets are class indices (one float per sample). */
int mx_loss_sparse(int kind);

/* Regularization: returns the penalty; with grad adds its gradient. */
double mx_regularization(mx_model *m, int grad);
int mx_opt_slots(const mx_optimizer_config *o);
/* Before a step's forward pass: move the weights where the optimizer takes
 * its gradient (textbook Nesterov's look-ahead w + momentum v; nothing for
 * the other rules). */
void mx_opt_begin(mx_model *m);
/* Clip the gradients and apply one update (m->iterations counts steps);
 * weights at a look-ahead point go back first. */
void mx_opt_step(mx_model *m);

/* One training step on the batch already in the input and target buffers. */
double mx_train_step(mx_model *m, int batch, uint64_t seed, int64_t *correct, int64_t *total);

/* The same step, with a look at the model between the backward pass and
 * the update: every value, gradient and the weights the gradient was taken
 * at are readable then (traces). loss is the data loss, reg the
 * regularization penalty. */
typedef void (*mx_step_observer)(mx_model *m, double loss, double reg, void *user);
double mx_train_step_observed(mx_model *m, int batch, uint64_t seed, int64_t *correct, int64_t *total,
                              mx_step_observer observe, void *user);

/* ---- gradient checks (train/gradcheck.c) ----
 * The loss is L = sum(c * y) over output 0 with a fixed random c, so every
 * output element gets a gradient. Analytic gradients of every trainable
 * weight and of the input are compared with central differences on up to
 * `per_tensor` entries each, and along one random direction per tensor.
 * Differences that change with the step size (a kink such as ReLU at 0
 * inside the step) are skipped and counted. x holds every input of the
 * model, one after the other ((batch, input shape) each). Stateful layers
 * start every pass from the states they had (constants). */
typedef struct mx_gradcheck_result {
    double max_err;     /* max |analytic - numeric| / max(|analytic| + |numeric|, 0.1) */
    int checked, skipped;
    char worst[2 * MX_NAME_MAX + 32];/* where max_err occurred */
} mx_gradcheck_result;

int mx_gradcheck(mx_model *m, const float *x, int batch, uint64_t seed, int per_tensor, double eps,
                 mx_gradcheck_result *r);

#endif
