/* fit.c: the training loop (Keras fit), evaluate and predict.
 * Shuffling uses a permutation drawn from (seed, epoch) and dropout a
 * stream keyed by the optimizer step, so a resumed run repeats exactly what
 * an uninterrupted one would have done. */
#include "train/train.h"

#include <math.h>
#include <string.h>

mx_fit_options mx_fit_defaults(void) {
    mx_fit_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch_size = 32;
    o.seed = 1;
    o.shuffle = 1;
    o.scale = 1;
    return o;
}

void mx_history_free(mx_history *h) {
    if (!h) return;
    mx_free(h->epochs);
    h->epochs = NULL;
    h->n = 0;
}

void mx_eval_result_free(mx_eval_result *r) {
    if (!r) return;
    mx_free(r->confusion);
    mx_free(r->predicted);
    mx_free(r->confidence);
    memset(r, 0, sizeof *r);
}

/* The dataset must fit input 0 and, for classification, output 0. */
static int check_data(const mx_model *m, const mx_dataset *d, const char *what) {
    const mx_value *in = m->inputs[0];
    int same = d->rank == in->rank;
    for (int i = 0; same && i < d->rank; i++) same = d->shape[i] == in->dims[i];
    if (!same) {
        char a[128], b[128];
        return mx_fail("%s: samples are %s but the model's input is %s", what, mx_shape_str(d->rank, d->shape, a, sizeof a),
                       mx_shape_str(in->rank, in->dims, b, sizeof b));
    }
    if (d->n <= 0) return mx_fail("%s: no samples", what);
    if (!d->y) return mx_fail("%s: no labels", what);
    const mx_value *out = m->outputs[0];
    int64_t classes = out->rank ? out->dims[out->rank - 1] : 1;
    const int steps = mx_dataset_label_steps(d);
    if (out->size / classes != steps) /* one label per row of the last axis (per time step) */
        return mx_fail("%s: %d label%s per sample, but the model's output %s has %lld rows of %lld classes", what, steps,
                       steps > 1 ? "s" : "", mx_shape_str(out->rank, out->dims, (char[128]){0}, 128),
                       (long long)(out->size / classes), (long long)classes);
    if (classes == 1) classes = 2; /* one sigmoid unit: labels 0 and 1 */
    for (int64_t i = 0; i < d->n * steps; i++)
        if (d->y[i] < 0 || d->y[i] >= classes)
            return mx_fail("%s: label %d of sample %lld is outside the model's %lld classes", what, (int)d->y[i],
                           (long long)(i / steps), (long long)classes);
    return 0;
}

typedef struct aug_job {
    const mx_augment *aug;
    const float *src;
    float *dst;
    const int64_t *idx;
    const mx_dataset *d;
    uint64_t seed;
} aug_job;

/* each sample's distortion is keyed by (epoch seed, its dataset index) */
static void aug_range(void *p, int64_t b, int64_t e) {
    const aug_job *j = p;
    int64_t ss = mx_dataset_sample_size(j->d);
    for (int64_t i = b; i < e; i++)
        mx_augment_images(j->aug, j->src + i * ss, j->dst + i * ss, 1, (int)j->d->shape[0], (int)j->d->shape[1],
                          (int)j->d->shape[2], j->seed, j->idx[i]);
}

/* Samples idx[0..count) into the input buffer (x * scale + offset) and
 * their labels into the targets. */
static void load_batch(mx_model *m, const mx_dataset *d, const int64_t *idx, int count, float scale, float offset,
                       const mx_augment *aug, float *staging, uint64_t seed, int64_t epoch) {
    int64_t ss = mx_dataset_sample_size(d);
    float *dst = m->inputs[0]->data;
    float *raw = aug ? staging : dst;
    for (int i = 0; i < count; i++) memcpy(raw + i * ss, d->x + idx[i] * ss, sizeof(float) * (size_t)ss);
    if (aug) {
        aug_job j = {aug, raw, dst, idx, d, mx_stream(seed, (uint64_t)epoch, 0xa9, 0)};
        mx_parallel_for(count, 1, aug_range, &j);
    }
    if (scale != 1 || offset != 0)
        for (int64_t k = 0; k < count * ss; k++) dst[k] = dst[k] * scale + offset;
    const mx_value *out = m->outputs[0];
    int64_t c = out->rank ? out->dims[out->rank - 1] : 1;
    float *t = m->targets; /* (count, steps) labels, or (count, steps, c) one-hot rows */
    const int steps = mx_dataset_label_steps(d);
    if (mx_loss_sparse(m->loss_kind) || c == 1) {
        for (int i = 0; i < count; i++)
            for (int k = 0; k < steps; k++) t[i * steps + k] = (float)d->y[idx[i] * steps + k];
    } else {
        memset(t, 0, sizeof(float) * (size_t)(count * steps * c));
        for (int i = 0; i < count; i++)
            for (int k = 0; k < steps; k++) t[(i * steps + k) * c + d->y[idx[i] * steps + k]] = 1.0f;
    }
}


/* mean loss and accuracy over a dataset in inference mode */
static int run_eval(mx_model *m, const mx_dataset *d, float scale, float offset, int batch, double *loss, double *acc,
                    mx_eval_result *res) {
    if (mx_graph_plan(m, batch, 0)) return -1;
    int64_t *idx = mx_alloc_array((size_t)batch, sizeof(int64_t));
    if (!idx) return -1;
    double sum = 0;
    int64_t correct = 0, total = 0;
    const mx_value *out = m->outputs[0];
    int64_t c = out->rank ? out->dims[out->rank - 1] : 1, exact = 0;
    const int steps = mx_dataset_label_steps(d);
    for (int64_t b = 0; b < d->n; b += batch) {
        int count = (int)MX_MIN((int64_t)batch, d->n - b);
        for (int i = 0; i < count; i++) idx[i] = b + i;
        load_batch(m, d, idx, count, scale, offset, NULL, NULL, 0, 0);
        mx_exec ex = {count, 0, 0, 0};
        mx_graph_forward(m, &ex);
        if (m->step_error[0]) {
            mx_free(idx);
            return mx_fail("%s", m->step_error);
        }
        sum += mx_loss_step(m, count, 0, &correct, &total) * count;
        if (!res) continue;
        for (int64_t r = 0; r < (int64_t)count * steps; r++) { /* one row of c scores per label */
            const float *y = out->data + r * c;
            const int64_t at = b * steps + r;
            int pred;
            float conf;
            if (c == 1) {
                float p = m->from_logits ? 1.0f / (1.0f + expf(-y[0])) : y[0];
                pred = p > 0.5f;
                conf = pred ? p : 1 - p;
            } else {
                pred = 0;
                for (int k = 1; k < c; k++)
                    if (y[k] > y[pred]) pred = k;
                conf = y[pred];
                if (m->from_logits) { /* probability of the top class from logits */
                    double s = 0;
                    for (int k = 0; k < c; k++) s += exp((double)(y[k] - y[pred]));
                    conf = (float)(1.0 / s);
                }
            }
            res->predicted[at] = pred;
            res->confidence[at] = conf;
            res->confusion[(int64_t)d->y[at] * res->n_classes + pred]++;
        }
        for (int i = 0; i < count; i++) { /* every step of the sample right */
            int all = 1;
            for (int k = 0; k < steps; k++) all &= res->predicted[(b + i) * steps + k] == d->y[(b + i) * steps + k];
            exact += all;
        }
    }
    mx_free(idx);
    *loss = sum / (double)d->n + mx_regularization(m, 0);
    *acc = total ? (double)correct / (double)total : NAN;
    if (res) res->exact_match = (double)exact / (double)d->n;
    return 0;
}

/* Inference runs in chunks whose activations stay within a few tens of MiB
 * (L2/L3 rather than DRAM): Fashion CNN at batch 256 ran 1.6x faster in
 * chunks of 64. Outputs do not depend on the chunking. */
#define INFER_BYTES ((int64_t)32 << 20)

static int infer_chunk(const mx_model *m, int batch) {
    int64_t per_sample = 0;
    for (int i = 0; i < m->n_values; i++) per_sample += m->values[i]->size;
    for (int i = 0; i < m->n_nodes; i++) per_sample += m->nodes[i]->ws_per_sample;
    int64_t chunk = INFER_BYTES / (4 * MX_MAX(per_sample, 1));
    for (int i = 0; i < m->n_nodes; i++) /* stateful layers: row r of every batch continues row r of the last */
        if (m->nodes[i]->fixed_batch > 0) return MX_MIN(batch, m->nodes[i]->fixed_batch);
    return (int)MX_MAX(1, MX_MIN((int64_t)batch, chunk));
}

int mx_evaluate(mx_model *m, const mx_dataset *d, float scale, float offset, int batch_size, mx_eval_result *out) {
    batch_size = infer_chunk(m, batch_size > 0 ? batch_size : 32);
    memset(out, 0, sizeof *out);
    if (!m->compiled) return mx_fail("evaluate: the model has no loss (compile it first)");
    if (check_data(m, d, "evaluate")) return -1;
    const mx_value *o = m->outputs[0];
    int64_t c = o->rank ? o->dims[o->rank - 1] : 1;
    out->n_classes = (int)(c == 1 ? 2 : c);
    out->steps = mx_dataset_label_steps(d);
    out->confusion = mx_alloc_array((size_t)(out->n_classes * out->n_classes), sizeof(int64_t));
    out->predicted = mx_alloc_array((size_t)(d->n * out->steps), sizeof(int32_t));
    out->confidence = mx_alloc_array((size_t)(d->n * out->steps), sizeof(float));
    if (!out->confusion || !out->predicted || !out->confidence ||
        run_eval(m, d, scale, offset, batch_size, &out->loss, &out->accuracy, out)) {
        mx_eval_result_free(out);
        return -1;
    }
    return 0;
}

int mx_predict(mx_model *m, const mx_tensor *x, mx_tensor *y, int batch_size) {
    const mx_value *in = m->inputs[0], *out = m->outputs[0];
    char a[128], b[128];
    int ok = x->rank == in->rank + 1;
    for (int i = 0; ok && i < in->rank; i++) ok = x->shape[i + 1] == in->dims[i];
    if (!ok)
        return mx_fail("input is %s but the model expects (N, %s)", mx_shape_str(x->rank, x->shape, a, sizeof a),
                       mx_shape_str(in->rank, in->dims, b, sizeof b) + 1);
    ok = y->rank == out->rank + 1 && y->shape[0] == x->shape[0];
    for (int i = 0; ok && i < out->rank; i++) ok = y->shape[i + 1] == out->dims[i];
    if (!ok) return mx_fail("output tensor is %s, expected (%lld, %s", mx_shape_str(y->rank, y->shape, a, sizeof a),
                            (long long)x->shape[0], mx_shape_str(out->rank, out->dims, b, sizeof b) + 1);
    if (batch_size <= 0) batch_size = 32;
    batch_size = infer_chunk(m, batch_size);
    if (mx_graph_plan(m, batch_size, 0)) return -1;
    int64_t n = x->shape[0];
    for (int64_t s = 0; s < n; s += batch_size) {
        int count = (int)MX_MIN((int64_t)batch_size, n - s);
        memcpy(m->inputs[0]->data, x->data + s * in->size, sizeof(float) * (size_t)(count * in->size));
        mx_exec ex = {count, 0, 0, 0};
        mx_graph_forward(m, &ex);
        if (m->step_error[0]) return mx_fail("%s", m->step_error);
        memcpy(y->data + s * m->outputs[0]->size, m->outputs[0]->data,
               sizeof(float) * (size_t)(count * m->outputs[0]->size));
    }
    return 0;
}

/* Checks what mx_train_batch and mx_test_batch take, plans memory for
 * `batch` samples and copies x and y into the input and target buffers. */
static int batch_in(mx_model *m, const float *x, const float *y, int batch, int training, const char *what) {
    if (!m->compiled) return mx_fail("%s: the model has no loss%s (compile it first)", what, training ? " and optimizer" : "");
    if (m->n_inputs != 1) return mx_fail("%s: the model has %d inputs, only one is supported", what, m->n_inputs);
    if (batch <= 0) return mx_fail("%s: batch size must be positive, got %d", what, batch);
    if (!x || !y) return mx_fail("%s: no inputs or no targets", what);
    if (mx_graph_plan(m, batch, training)) return -1;
    const mx_value *in = m->inputs[0], *out = m->outputs[0];
    int64_t c = out->rank ? out->dims[out->rank - 1] : 1;
    int sparse = mx_loss_sparse(m->loss_kind);
    int64_t nt = sparse ? batch * out->size / c : batch * out->size; /* m->targets' layout */
    if (sparse)
        for (int64_t i = 0; i < nt; i++)
            if (!(y[i] >= 0 && y[i] < (float)c && y[i] == floorf(y[i])))
                return mx_fail("%s: target %lld is %g, not a class index in 0..%lld", what, (long long)i, (double)y[i],
                               (long long)c - 1);
    memcpy(m->inputs[0]->data, x, sizeof(float) * (size_t)(batch * in->size));
    memcpy(m->targets, y, sizeof(float) * (size_t)nt);
    return 0;
}

int mx_train_batch(mx_model *m, const float *x, const float *y, int batch, double *loss) {
    if (batch_in(m, x, y, batch, 1, "train batch")) return -1;
    int64_t correct = 0, total = 0;
    double l = mx_train_step(m, batch, m->seed, &correct, &total);
    if (loss) *loss = l;
    return 0;
}

int mx_test_batch(mx_model *m, const float *x, const float *y, int batch, double *loss, int64_t *correct) {
    if (batch_in(m, x, y, batch, 0, "test batch")) return -1;
    mx_exec ex = {batch, 0, 0, 0};
    mx_graph_forward(m, &ex);
    int64_t right = 0, total = 0;
    double l = mx_loss_step(m, batch, 0, &right, &total) + mx_regularization(m, 0);
    if (loss) *loss = l;
    if (correct) *correct = right;
    return 0;
}

/* Early stopping state recomputed from the history, so resuming continues it. */
static void best_so_far(const mx_history *h, int use_val, double *best, int *best_epoch) {
    *best = INFINITY;
    *best_epoch = 0;
    for (int i = 0; i < h->n; i++) {
        double v = use_val ? h->epochs[i].val_loss : h->epochs[i].loss;
        if (v < *best) {
            *best = v;
            *best_epoch = h->epochs[i].epoch;
        }
    }
}

int mx_fit(mx_model *m, const mx_dataset *train, const mx_fit_options *o, mx_history *history) {
    if (!m->compiled) return mx_fail("fit: the model has no loss and optimizer (compile it first)");
    if (o->batch_size <= 0) return mx_fail("fit: batch size must be positive, got %d", o->batch_size);
    if (o->epochs < 0) return mx_fail("fit: epochs must not be negative");
    if (check_data(m, train, "training data")) return -1;
    if (mx_augment_active(o->augment) && train->rank != 3) return mx_fail("fit: augmentation needs (height, width, channels) images");

    /* Keras's validation_split takes the last samples, before shuffling */
    mx_dataset tr = *train, val_split;
    const mx_dataset *val = o->validation_data;
    if (!val && o->validation_split > 0) {
        if (o->validation_split >= 1) return mx_fail("fit: validation_split must be below 1");
        int64_t n_train = (int64_t)((double)train->n * (1.0 - o->validation_split));
        if (n_train < 1 || n_train >= train->n) return mx_fail("fit: validation_split leaves no training or no validation data");
        val_split = *train;
        val_split.n = train->n - n_train;
        val_split.x = train->x + n_train * mx_dataset_sample_size(train);
        val_split.y = train->y + n_train * mx_dataset_label_steps(train);
        tr.n = n_train;
        val = &val_split;
    }
    if (val && check_data(m, val, "validation data")) return -1;
    if (mx_graph_plan(m, o->batch_size, 1)) return -1;

    int64_t ss = mx_dataset_sample_size(&tr);
    int64_t *perm = mx_alloc_array((size_t)tr.n, sizeof(int64_t));
    float *staging = mx_augment_active(o->augment) ? mx_alloc_array((size_t)(o->batch_size * ss), sizeof(float)) : NULL;
    int64_t nw = mx_model_weights_size(m);
    float *best_w = o->restore_best_weights ? mx_alloc_array((size_t)MX_MAX(nw, 1), sizeof(float)) : NULL;
    mx_epoch_stats *grown = mx_alloc_array((size_t)(history->n + o->epochs + 1), sizeof(mx_epoch_stats));
    if (!perm || (mx_augment_active(o->augment) && !staging) || (o->restore_best_weights && !best_w) || !grown) {
        mx_free(perm);
        mx_free(staging);
        mx_free(best_w);
        mx_free(grown);
        return -1;
    }
    if (history->n) memcpy(grown, history->epochs, sizeof(mx_epoch_stats) * (size_t)history->n);
    mx_free(history->epochs);
    history->epochs = grown;

    double best;
    int best_epoch;
    best_so_far(history, val != NULL, &best, &best_epoch);
    int64_t steps = (tr.n + o->batch_size - 1) / o->batch_size;
    int rc = 0;
    const double started = mx_now();
    for (int epoch = o->initial_epoch; epoch < o->epochs; epoch++) {
        const int64_t first = epoch == o->initial_epoch ? MX_MAX(0, MX_MIN(o->initial_step, steps)) : 0;
        if (o->reset_states && first == 0) mx_model_reset_states(m); /* a resumed epoch goes on with its states */
        int out_of_time = 0;
        for (int64_t i = 0; i < tr.n; i++) perm[i] = i;
        if (o->shuffle) {
            mx_rng rng;
            mx_rng_seed(&rng, mx_stream(o->seed, (uint64_t)epoch, 0x5f, 0));
            for (int64_t i = tr.n - 1; i > 0; i--) {
                int64_t j = (int64_t)mx_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        }
        double t0 = mx_now(), loss_sum = 0;
        int64_t correct = 0, total = 0, seen = 0;
        mx_fit_progress pr = {epoch + 1, o->epochs, first, steps, first, 0, 0, 0, 0};
        for (int64_t s = first; s < steps; s++) {
            int count = (int)MX_MIN((int64_t)o->batch_size, tr.n - s * o->batch_size);
            load_batch(m, &tr, perm + s * o->batch_size, count, o->scale, o->offset,
                       mx_augment_active(o->augment) ? o->augment : NULL, staging, o->seed, epoch);
            loss_sum += mx_train_step(m, count, o->seed, &correct, &total) * count;
            if (m->step_error[0]) break;
            seen += count;
            pr.step = s + 1;
            pr.samples = seen;
            pr.loss = loss_sum / (double)seen;
            pr.accuracy = total ? (double)correct / (double)total : NAN;
            pr.seconds = mx_now() - t0;
            if (o->on_batch) o->on_batch(&pr, o->user);
            if (o->interrupt && *o->interrupt) break;
            if (o->max_seconds > 0 && mx_now() - started >= o->max_seconds) {
                out_of_time = 1;
                break;
            }
        }
        if (m->step_error[0]) {
            rc = mx_fail("epoch %d: %s", epoch + 1, m->step_error);
            break;
        }
        if (o->interrupt && *o->interrupt) {
            rc = mx_fail("training interrupted in epoch %d", epoch + 1);
            break;
        }
        mx_epoch_stats st = {epoch + 1, pr.loss, pr.accuracy, NAN, NAN, mx_now() - t0, 0};
        st.samples_per_s = (double)seen / st.seconds;
        if (val && o->reset_states) mx_model_reset_states(m);
        if (val && run_eval(m, val, o->scale, o->offset, o->batch_size, &st.val_loss, &st.val_accuracy, NULL)) {
            rc = -1;
            break;
        }
        history->epochs[history->n++] = st;
        double monitored = val ? st.val_loss : st.loss;
        if (monitored < best - o->early_stopping_min_delta) {
            best = monitored;
            best_epoch = st.epoch;
            if (best_w) mx_model_weights_get(m, best_w);
        }
        int stop = o->early_stopping_patience > 0 && st.epoch - best_epoch >= o->early_stopping_patience;
        if (out_of_time) history->stopped_early = 1;
        if (stop) {
            history->stopped_early = 1;
            if (best_w && best_epoch > o->initial_epoch) { /* best weights of this run are in memory */
                mx_model_weights_set(m, best_w);
                history->best_epoch = best_epoch;
            }
        }
        if (o->on_epoch_end && o->on_epoch_end(m, history, o->user)) break;
        if (stop || out_of_time) break;
    }
    mx_free(perm);
    mx_free(staging);
    mx_free(best_w);
    return rc;
}
