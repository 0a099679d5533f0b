/* gan.c: training a generative adversarial network: two models, two losses
 * (the TensorFlow DCGAN tutorial's train_step).
 *
 *   fake = G(z)                         generator in training mode (batch statistics)
 *   L_G  = BCE(1, D(fake))              the generator wants its images taken for real
 *   L_D  = BCE(1, D(real)) + BCE(0, D(fake))
 *
 * Both gradients are taken at the weights of before the step, then both
 * optimizers step, as the tutorial does with its two tapes. The
 * discriminator runs once on 2n samples, [fake (n); real (n)], so its
 * values hold both calls at once; its backward pass runs twice over them:
 *   1. seeded with dL_D/dlogits on all 2n rows: D's weight gradients;
 *   2. seeded with dL_G/dlogits on the fake rows only (batch n), with D's
 *      weight gradients switched off: only input gradients flow (layers
 *      compute those from their weights and output gradients, not from
 *      what pass 1 may have reused: a convolution's column buffer), down
 *      to D's input, whose fake rows seed G's backward pass.
 * So the generator's loss never reaches D's weights or optimizer state.
 * That the two calls share one batch needs a discriminator whose samples
 * do not meet (no BatchNormalization in training mode), as upstream's. */
#include "train/train.h"

#include <math.h>
#include <string.h>

static double softplus(double x) { return fmax(x, 0) + log1p(exp(-fabs(x))); }
static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

int mx_gan_compile(mx_model *g, mx_model *d, const mx_optimizer_config *g_opt, const mx_optimizer_config *d_opt) {
    char a[128], b[128];
    if (g->n_inputs != 1 || g->n_outputs != 1) return mx_fail("GAN: the generator must have one input and one output");
    if (d->n_inputs != 1 || d->n_outputs != 1) return mx_fail("GAN: the discriminator must have one input and one output");
    const mx_value *go = g->outputs[0], *di = d->inputs[0], *dout = d->outputs[0];
    int same = go->rank == di->rank;
    for (int i = 0; same && i < go->rank; i++) same = go->dims[i] == di->dims[i];
    if (!same)
        return mx_fail("GAN: the generator makes %s samples but the discriminator takes %s", mx_shape_str(go->rank, go->dims, a, sizeof a),
                       mx_shape_str(di->rank, di->dims, b, sizeof b));
    if (dout->size != 1)
        return mx_fail("GAN: the discriminator must output one logit per sample, not %s",
                       mx_shape_str(dout->rank, dout->dims, a, sizeof a));
    if (dout->producer->layer->act.kind != MX_ACT_LINEAR)
        return mx_fail("GAN: the discriminator's last layer '%s' must output a logit (no activation)",
                       dout->producer->layer->name);
    const mx_layer_type *bn = mx_layer_type_find("BatchNormalization");
    for (int i = 0; i < d->n_layers; i++)
        if (d->layers[i]->type == bn && d->layers[i]->trainable && !d->layers[i]->inference)
            return mx_fail("GAN: the discriminator's layer '%s' is a BatchNormalization in training mode: the real and "
                           "generated samples share one batch here, so its statistics would mix them",
                           d->layers[i]->name);
    if (mx_model_compile(d, MX_LOSS_BINARY_CE, 1, d_opt)) return mx_fail_context("GAN discriminator: ");
    /* the generator's loss is computed here, not by compile's: MSE only
     * stands for "no fusion with the output activation" */
    if (mx_model_compile(g, MX_LOSS_MSE, 0, g_opt)) return mx_fail_context("GAN generator: ");
    d->grad_inputs = 1; /* its input gradient feeds the generator's backward pass */
    return 0;
}

/* Switch the weight gradients of a planned model off (the layers then
 * skip them) or back on, to the storage mx_graph_plan gave them. */
static void weight_grads(mx_model *m, int on) {
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        p->grad = on && p->trainable && p->layer->trainable ? p->grad_slot : NULL;
    }
}

/* Plan both models for n generated (and n real) samples; 0 when they fit. */
static int gan_plan(mx_model *g, mx_model *d, int n) {
    if (!g->compiled || !d->compiled || !d->grad_inputs)
        return mx_fail("GAN: compile the generator and discriminator with mx_gan_compile first");
    if (n <= 0) return mx_fail("GAN: batch size must be positive, got %d", n);
    if (mx_graph_plan(g, n, 1) || mx_graph_plan(d, 2 * n, 1)) return -1;
    return 0;
}

/* One step on the noise in G's input and the real samples in rows n..2n of
 * D's input (already there). */
static int gan_step(mx_model *g, mx_model *d, int n, uint64_t seed, mx_gan_losses *out) {
    const int64_t ss = d->inputs[0]->size;
    mx_exec eg = {n, 1, seed, g->iterations}, ed = {2 * n, 1, seed ^ 0xd15c, d->iterations}, ef = ed;
    ef.batch = n; /* the fake rows only */
    mx_opt_begin(g);
    mx_opt_begin(d);
    mx_graph_forward(g, &eg);
    if (g->step_error[0]) return mx_fail("generator: %s", g->step_error);
    memcpy(d->inputs[0]->data, g->outputs[0]->data, sizeof(float) * (size_t)(n * ss)); /* (n, sample) */
    mx_graph_forward(d, &ed);
    if (d->step_error[0]) return mx_fail("discriminator: %s", d->step_error);
    const float *v = d->outputs[0]->data; /* (2n) logits: fake, then real */
    float *dv = d->outputs[0]->grad;      /* (2n) */

    /* 1. the discriminator's loss: fake rows towards 0, real rows towards 1 */
    double lg = 0, lf = 0, lr = 0, pf = 0, pr = 0;
    for (int i = 0; i < 2 * n; i++) {
        float p = sigmoidf(v[i]);
        if (i < n) {
            lf += softplus(v[i]);
            pf += p;
            dv[i] = p / (float)n;
        } else {
            lr += softplus(-v[i]);
            pr += p;
            dv[i] = (p - 1) / (float)n;
        }
    }
    mx_graph_backward(d, &ed);
    double rd = mx_regularization(d, 1);

    /* 2. the generator's loss, through D (weights frozen) into G */
    for (int i = 0; i < n; i++) {
        lg += softplus(-v[i]);
        dv[i] = (sigmoidf(v[i]) - 1) / (float)n;
    }
    weight_grads(d, 0);
    mx_graph_backward(d, &ef);
    weight_grads(d, 1);
    memcpy(g->outputs[0]->grad, d->inputs[0]->grad, sizeof(float) * (size_t)(n * ss));
    mx_graph_backward(g, &eg);
    double rg = mx_regularization(g, 1);

    mx_opt_step(d);
    mx_opt_step(g);
    if (out) {
        out->g_loss = lg / n + rg;
        out->d_loss = (lf + lr) / n + rd;
        out->d_real = pr / n;
        out->d_fake = pf / n;
    }
    return 0;
}

int mx_gan_train_batch(mx_model *g, mx_model *d, const float *real, const float *noise, int n, mx_gan_losses *out) {
    if (!real || !noise) return mx_fail("GAN train batch: no real samples or no noise");
    if (gan_plan(g, d, n)) return -1;
    memcpy(g->inputs[0]->data, noise, sizeof(float) * (size_t)(n * g->inputs[0]->size));
    memcpy(d->inputs[0]->data + n * d->inputs[0]->size, real, sizeof(float) * (size_t)(n * d->inputs[0]->size));
    return gan_step(g, d, n, g->seed, out);
}

void mx_gan_noise(float *z, int64_t count, uint64_t seed) {
    mx_rng r;
    mx_rng_seed(&r, seed);
    for (int64_t i = 0; i < count; i++) z[i] = (float)mx_rng_normal(&r);
}

mx_gan_options mx_gan_defaults(void) {
    mx_gan_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch_size = 256;
    o.seed = 1;
    o.shuffle = 1;
    o.scale = 1;
    return o;
}

int mx_gan_fit(mx_model *g, mx_model *d, const mx_dataset *real, const mx_gan_options *o) {
    const mx_value *din = d->inputs[0];
    int same = real->rank == din->rank;
    for (int i = 0; same && i < real->rank; i++) same = real->shape[i] == din->dims[i];
    if (!same) {
        char a[128], b[128];
        return mx_fail("GAN fit: samples are %s but the discriminator takes %s", mx_shape_str(real->rank, real->shape, a, sizeof a),
                       mx_shape_str(din->rank, din->dims, b, sizeof b));
    }
    if (real->n <= 0) return mx_fail("GAN fit: no samples");
    if (o->epochs < 0) return mx_fail("GAN fit: epochs must not be negative");
    if (gan_plan(g, d, o->batch_size)) return -1;
    int64_t *perm = mx_alloc_array((size_t)real->n, sizeof(int64_t));
    if (!perm) return -1;
    const int64_t ss = din->size, zs = g->inputs[0]->size, steps = (real->n + o->batch_size - 1) / o->batch_size;
    int rc = 0;
    for (int epoch = o->initial_epoch; epoch < o->epochs && !rc; epoch++) {
        for (int64_t i = 0; i < real->n; i++) perm[i] = i;
        if (o->shuffle) { /* as mx_fit: a permutation drawn from (seed, epoch) */
            mx_rng rng;
            mx_rng_seed(&rng, mx_stream(o->seed, (uint64_t)epoch, 0x5f, 0));
            for (int64_t i = real->n - 1; i > 0; i--) {
                int64_t j = (int64_t)mx_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        }
        double t0 = mx_now();
        mx_gan_progress pr = {epoch + 1, o->epochs, 0, steps, 0, 0, 0, 0, 0, 0};
        double sg = 0, sd = 0, sr = 0, sf = 0;
        for (int64_t s = 0; s < steps; s++) {
            int n = (int)MX_MIN((int64_t)o->batch_size, real->n - s * o->batch_size);
            /* real samples (scaled) into rows n..2n of D's input; noise
             * drawn from (seed, generator step) so a resumed run repeats it */
            float *dst = d->inputs[0]->data + n * ss;
            for (int i = 0; i < n; i++) {
                const float *src = real->x + perm[s * o->batch_size + i] * ss;
                for (int64_t k = 0; k < ss; k++) dst[i * ss + k] = src[k] * o->scale + o->offset;
            }
            mx_gan_noise(g->inputs[0]->data, n * zs, mx_stream(o->seed, (uint64_t)g->iterations, 0x6a, 0));
            mx_gan_losses l;
            if (gan_step(g, d, n, o->seed, &l)) {
                rc = mx_fail_context("epoch %d: ", epoch + 1);
                break;
            }
            sg += l.g_loss * n, sd += l.d_loss * n, sr += l.d_real * n, sf += l.d_fake * n;
            pr.step = s + 1;
            pr.samples += n;
            pr.g_loss = sg / (double)pr.samples;
            pr.d_loss = sd / (double)pr.samples;
            pr.d_real = sr / (double)pr.samples;
            pr.d_fake = sf / (double)pr.samples;
            pr.seconds = mx_now() - t0;
            if (o->on_batch) o->on_batch(&pr, o->user);
            if (o->interrupt && *o->interrupt) break;
        }
        if (rc) break;
        if (o->interrupt && *o->interrupt) {
            rc = mx_fail("training interrupted in epoch %d", epoch + 1);
            break;
        }
        if (!isfinite(pr.g_loss) || !isfinite(pr.d_loss)) {
            rc = mx_fail("epoch %d: the losses are not finite (generator %g, discriminator %g)", epoch + 1, pr.g_loss,
                         pr.d_loss);
            break;
        }
        mx_gan_epoch st = {epoch + 1, pr.g_loss, pr.d_loss, pr.d_real, pr.d_fake, mx_now() - t0, 0};
        st.samples_per_s = (double)real->n / st.seconds;
        if (o->on_epoch_end && o->on_epoch_end(g, d, &st, o->user)) break;
    }
    mx_free(perm);
    return rc;
}
