/* mx.h: the public interface of the mlexp engine.
 *
 * Conventions
 * - Every public name starts with mx_ (types, functions) or MX_ (macros).
 * - Tensors are float32, row-major, NHWC for images (Keras channels_last).
 * - Functions that can fail return 0 on success and -1 on failure, or NULL;
 *   mx_error() then gives a one-line message naming the file, layer or field.
 *   The library never aborts or exits on bad input.
 */
#ifndef MX_H
#define MX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MX_VERSION "0.1.0"
#define MX_MAX_RANK 8
#define MX_NAME_MAX 128

/* ---- errors ------------------------------------------------------------ */

/* Message of the last failure on this thread ("" if none). */
const char *mx_error(void);
void mx_clear_error(void);

/* ---- threads ----------------------------------------------------------- */

/* Size the worker pool (0: one per online core). Call outside of any step;
 * results are bit-identical for a given seed and thread count. */
int mx_set_threads(int n);
int mx_threads(void);

/* ---- tensors ----------------------------------------------------------- */

typedef struct mx_tensor {
    int rank;
    int64_t shape[MX_MAX_RANK];
    float *data; /* prod(shape) floats, contiguous */
} mx_tensor;

/* Owning tensor, zero-filled; free with mx_tensor_free. */
mx_tensor *mx_tensor_new(int rank, const int64_t *shape);
void mx_tensor_free(mx_tensor *t);
int64_t mx_tensor_size(const mx_tensor *t);
/* "(2, 28, 28, 1)" into buf; returns buf. */
char *mx_shape_str(int rank, const int64_t *shape, char *buf, size_t n);

/* numpy .npy (version 1-3, little-endian float32 or float64/uint8/int32 converted
 * to float32 on load). Saved arrays are float32 C-order. */
mx_tensor *mx_npy_load(const char *path);
int mx_npy_save(const char *path, const mx_tensor *t);

/* ---- datasets ---------------------------------------------------------- */

typedef struct mx_dataset {
    int64_t n;                    /* samples */
    int rank;                     /* rank of one sample, e.g. 3 for (28, 28, 1) */
    int64_t shape[MX_MAX_RANK];   /* sample shape */
    float *x;                     /* (n, shape...) */
    int32_t *y;                   /* (n, y_steps) class indices, or NULL */
    int n_classes;
    char **class_names;           /* n_classes strings, or NULL */
    int y_steps;                  /* labels per sample: one per step of a sequence output; 0 reads as 1 */
} mx_dataset;

int64_t mx_dataset_sample_size(const mx_dataset *d);
/* labels per sample (y_steps, at least 1) */
int mx_dataset_label_steps(const mx_dataset *d);
void mx_dataset_free(mx_dataset *d);
/* First `count` samples starting at `start` as a new dataset (copies). */
mx_dataset *mx_dataset_slice(const mx_dataset *d, int64_t start, int64_t count);

/* Gzipped (or plain) IDX files: images (n, rows, cols) become (n, rows, cols, 1)
 * floats with raw pixel values 0..255; labels become int32. */
mx_dataset *mx_idx_load(const char *images_path, const char *labels_path);

/* Named datasets. `dir` is the user's --data directory or NULL for defaults.
 * split is "train" or "test". Pixel values are raw (0..255). Names:
 *   fashion_mnist  - Debian dataset-fashion-mnist (or the 4 IDX files in dir)
 *   mnist          - the 4 standard MNIST IDX files in dir
 *   opencv_digits  - digits.png of opencv-doc, 20x20 padded to 28x28,
 *                    last grid row of each digit is the test split */
mx_dataset *mx_dataset_load(const char *name, const char *split, const char *dir);

/* Generated datasets, n samples drawn from seed:
 *   numbers_summation - "a+b" with a, b from 1 to 99, spaces after to 7
 *                       characters, one-hot over the 12 symbols of
 *                       MX_SUMMATION_ALPHABET: x (7, 12); labels: the sum as
 *                       3 characters (spaces after), y_steps 3, classes = symbols */
#define MX_SUMMATION_ALPHABET "0123456789+ "
mx_dataset *mx_dataset_generate(const char *name, int64_t n, uint64_t seed);
/* Whether name is a generated dataset. */
int mx_dataset_is_generated(const char *name);

/* text as one-hot rows over the symbols of alphabet: out (length, strlen(alphabet)),
 * padded with pad characters after the text. Fails on a symbol outside the
 * alphabet or a text longer than length, naming it. */
int mx_text_one_hot(const char *text, const char *alphabet, int length, char pad, float *out);

/* ---- character-level text ------------------------------------------------ */

/* A text as characters: the index of each code point in the vocabulary. */
typedef struct mx_chars {
    int64_t n;          /* characters */
    int32_t *ids;       /* (n) vocabulary indices */
    int vocab_size;
    uint32_t *vocab;    /* (vocab_size) code points, ascending */
} mx_chars;

/* A UTF-8 file; the vocabulary is its distinct code points in ascending
 * order. Invalid UTF-8 is an error naming the file and the byte offset. */
mx_chars *mx_chars_load(const char *path);
/* n bytes of UTF-8; with vocab (sorted code points) every character must be
 * one of them, else the file's own vocabulary. origin names it in errors. */
mx_chars *mx_chars_decode(const char *bytes, size_t n, const char *origin, const uint32_t *vocab, int vocab_size);
void mx_chars_free(mx_chars *c);
/* Index of code point cp in c's vocabulary, or -1. */
int mx_chars_index(const mx_chars *c, uint32_t cp);
/* The UTF-8 bytes of code point cp into out (room for 4); returns their count. */
int mx_utf8_put(uint32_t cp, char *out);

/* ids[0..n) as `streams` parallel streams for stateful training (truncated
 * backpropagation through time): stream b is the b-th of `streams` equal
 * slices of the text, read `seq` characters at a time. Sample w * streams + b
 * is window w of stream b, so batch w of size `streams` (in order, not
 * shuffled) continues every stream of batch w - 1. x (seq) holds the
 * characters' indices as floats (an Embedding's input), y (seq) the next
 * character of each step (y_steps = seq); n_classes = vocab_size. */
mx_dataset *mx_chars_streams(const int32_t *ids, int64_t n, int vocab_size, int streams, int seq);

/* A class drawn from n scores at a temperature, with u uniform in [0, 1):
 * p_k proportional to exp(logit_k / temperature) (from_logits), or to
 * prob_k^(1 / temperature). A temperature below 1e-3 (0 included) takes the
 * most likely class, the limit of either. */
int mx_sample_class(const float *scores, int n, int from_logits, float temperature, double u);

/* Random distortions of images (NHWC samples, raw 0..255), off when all
 * zero: small affine maps (as for digits) and the flips, quarter turns and
 * colour jitter of the upstream rock-paper-scissors pipeline. */
typedef struct mx_augment {
    float shift;      /* max shift as a fraction of width/height */
    float rotation;   /* max rotation in degrees */
    float zoom;       /* max relative scale change */
    int flip_horizontal, flip_vertical; /* each with probability 1/2 */
    int rotate90;     /* a random number of quarter turns (square images) */
    float brightness; /* max added delta, as a fraction of 255 (tf.image.random_brightness) */
    float contrast;   /* factor drawn from [1 - contrast, 1 + contrast] about each channel's mean */
    float hue;        /* max hue shift as a fraction of the colour wheel, RGB only (tf.image.random_hue) */
} mx_augment;

/* Whether any distortion is switched on. */
int mx_augment_active(const mx_augment *a);

/* Distort `n` images of shape (h, w, c) from src into dst. Sample i uses a
 * random stream derived from (seed, first + i), so results do not depend on
 * batching or threads. */
void mx_augment_images(const mx_augment *a, const float *src, float *dst, int64_t n,
                       int h, int w, int c, uint64_t seed, int64_t first);

/* ---- images ------------------------------------------------------------ */

/* Decode a PNG or JPEG file into (h, w, channels) floats 0..255; channels is
 * 1 (gray) or 3 (RGB), converted as needed (alpha dropped). */
mx_tensor *mx_image_load(const char *path, int channels);
/* The same from n bytes in memory (an upload); the format is sniffed from
 * the PNG or JPEG signature. Corrupt or truncated data is an error. */
mx_tensor *mx_image_decode(const void *bytes, size_t n, int channels);
/* Width and height from the header alone, before paying for decoding. */
int mx_image_info(const void *bytes, size_t n, int *width, int *height);

/* 8-bit gray (c 1) or RGB (c 3) rows (h, w, c) as PNG bytes on out. */
int mx_png_encode(FILE *out, const unsigned char *px, int h, int w, int c);
/* An image (h, w, c) of values 0..255 (clamped, rounded) as a PNG file,
 * written atomically. */
int mx_png_save(const char *path, const float *img, int h, int w, int c);

typedef enum mx_resize { MX_RESIZE_BILINEAR, MX_RESIZE_NEAREST, MX_RESIZE_AREA } mx_resize;
/* Parse "bilinear", "nearest" or "area"; -1 if unknown. */
int mx_resize_parse(const char *name);
/* (h, w, c) to (oh, ow, c). Bilinear and nearest sample at pixel centres
 * (TensorFlow 2's tf.image.resize); area averages each output pixel's
 * footprint, the right choice for shrinking photos. */
void mx_image_resize(const float *src, int h, int w, int c, float *dst, int oh, int ow, mx_resize method);

/* An image folder: dir/<class>/<files> (.png, .jpg, .jpeg, any case). Classes
 * are the subfolder names in sorted order (as Keras's
 * image_dataset_from_directory); every image is resized to (h, w) with
 * `channels` channels, raw 0..255. Files in sorted order within a class. */
mx_dataset *mx_image_folder_load(const char *dir, int h, int w, int channels, mx_resize method);

/* ---- models ------------------------------------------------------------ */

typedef struct mx_model mx_model;

/* Build a model from a Keras model config (the `modelTopology` of a TF.js
 * model.json, or a Sequential/Model config object). `origin` names the file
 * for error messages. Weights are initialised from `seed`. */
mx_model *mx_model_from_json(const char *json_text, const char *origin, uint64_t seed);
/* Load a TF.js layers model: a directory holding model.json, or the path of
 * the model.json itself; weight shards are read next to it. */
mx_model *mx_model_load(const char *path);
/* A weight shard held in memory: the name model.json's weightsManifest paths
 * give it ("group1-shard1of1.bin") and its bytes. */
typedef struct mx_shard {
    const char *name;
    const void *data;
    size_t size;
} mx_shard;
/* mx_model_load from memory (what a web page fetched): the text of
 * model.json and its shards. `origin` names the model in error messages. */
mx_model *mx_model_load_memory(const char *json_text, const char *origin, const mx_shard *shards, int n_shards);
/* Load the weights of another model (a directory or model.json) into the
 * parameters with the same names and shapes, e.g. a base model's into a
 * model built on it; *loaded (may be NULL) receives how many were found. */
int mx_model_load_weights(mx_model *m, const char *path, int *loaded);
/* Write model.json and weight shards into dir (created if needed), atomically
 * per file. */
int mx_model_save(mx_model *m, const char *dir);
void mx_model_free(mx_model *m);

typedef struct mx_param_counts {
    int64_t trainable, non_trainable;
} mx_param_counts;
mx_param_counts mx_model_param_counts(const mx_model *m);
/* Keras-style summary table. */
void mx_model_summary(const mx_model *m, FILE *out);
/* For each layer call: how its parameter count follows from its config and
 * its output shape from its input's, with the numbers filled in
 * ("(5*5*1 + 1) * 8 = 208", "floor((28 + 2*0 - 5) / 1) + 1 = 24"). */
void mx_model_explain_counts(const mx_model *m, FILE *out);
const char *mx_model_name(const mx_model *m);

/* All weights as one flat array, in the model's weight order. */
int64_t mx_model_weights_size(const mx_model *m);
void mx_model_weights_get(const mx_model *m, float *dst);
void mx_model_weights_set(mx_model *m, const float *src);

/* The states that stateful recurrent layers carry from one batch to the
 * next (Keras's stateful=True: h, and c for LSTM, per sample of the fixed
 * batch). Reset to zeros, as model.reset_states(); or read and written as
 * one flat array, layer by layer in graph order, each (states, batch, units). */
int mx_model_reset_states(mx_model *m);
int64_t mx_model_states_size(const mx_model *m);
void mx_model_states_get(const mx_model *m, float *dst);
void mx_model_states_set(mx_model *m, const float *src);

/* Shape of input/output i without the batch dimension. */
int mx_model_n_inputs(const mx_model *m);
int mx_model_n_outputs(const mx_model *m);
int mx_model_input_shape(const mx_model *m, int i, int64_t *shape);  /* returns rank */
int mx_model_output_shape(const mx_model *m, int i, int64_t *shape); /* returns rank */

/* ---- training configuration --------------------------------------------- */

typedef enum mx_loss_kind {
    MX_LOSS_SPARSE_CATEGORICAL_CE,
    MX_LOSS_CATEGORICAL_CE,
    MX_LOSS_BINARY_CE,
    MX_LOSS_MSE,              /* Keras: mean over samples and outputs of (y - t)^2 */
    /* textbook losses Keras lacks (our names, docs/explain.md); N samples:
     *   half_squared_error: L = 1/N sum_n 1/2 sum_k (y - t)^2  (1/2 ||y - t||^2 per sample)
     *   sum_squared_error:  L = sum_n sum_k (y - t)^2          (MSE with reduction "sum") */
    MX_LOSS_HALF_SQUARED_ERROR,
    MX_LOSS_SUM_SQUARED_ERROR,
} mx_loss_kind;

typedef enum mx_opt_kind { MX_OPT_SGD, MX_OPT_ADAM, MX_OPT_RMSPROP } mx_opt_kind;

typedef enum mx_lr_schedule { MX_LR_CONSTANT, MX_LR_EXPONENTIAL_DECAY, MX_LR_COSINE_DECAY } mx_lr_schedule;

/* Which book an optimizer's update rule follows (config key "form", ours),
 * where they differ; g is the gradient, lr the rate of the step:
 *   keras (default): Keras 3 and TF.js.
 *     SGD      v = momentum v - lr g;  w += v   (nesterov: w += momentum v - lr g)
 *     RMSprop  s = rho s + (1 - rho) g^2;  d = lr g / sqrt(s + eps);
 *              w -= d  (momentum: u = momentum u + d;  w -= u)
 *     Adam     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *              w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)   ("epsilon hat")
 *   textbook: SGD as Sutskever et al. (2013): momentum as Keras; Nesterov
 *     takes the gradient at the look-ahead point w + momentum v, then
 *     v = momentum v - lr g;  w += v.  RMSprop as Goodfellow et al.,
 *     Algorithm 8.5 (the same as Keras).  Adam as Kingma & Ba, Algorithm 1:
 *     w -= lr m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).
 *   pytorch: SGD  b = momentum b + g;  w -= lr b  (nesterov: w -= lr (g + momentum b));
 *     RMSprop with eps outside the root: d = sqrt(s) + eps;  w -= lr g / d
 *     (momentum: b = momentum b + g / d;  w -= lr b);  Adam as textbook. */
typedef enum mx_opt_form { MX_OPT_FORM_KERAS, MX_OPT_FORM_TEXTBOOK, MX_OPT_FORM_PYTORCH } mx_opt_form;

typedef struct mx_optimizer_config {
    mx_opt_kind kind;
    float learning_rate;  /* the initial rate when a schedule is set */
    /* Keras learning-rate schedules, by optimizer step t:
     *   ExponentialDecay: lr * decay_rate ^ (t / decay_steps), floored when staircase
     *   CosineDecay: lr * ((1 - alpha) * (1 + cos(pi * min(t, decay_steps) / decay_steps)) / 2 + alpha) */
    mx_lr_schedule schedule;
    int64_t decay_steps;
    float decay_rate;
    int staircase;
    float alpha;
    float momentum;       /* SGD momentum; RMSprop momentum */
    int nesterov;         /* SGD */
    float beta_1, beta_2; /* Adam */
    float rho;            /* RMSprop */
    float epsilon;        /* Adam, RMSprop */
    float clipnorm;        /* per-tensor norm clip, 0 = off */
    float global_clipnorm; /* clip of the global norm, 0 = off */
    float clipvalue;       /* each gradient value clipped to [-clipvalue, clipvalue] after the norms, 0 = off */
    mx_opt_form form;      /* update rule: Keras's unless set */
} mx_optimizer_config;

/* Keras defaults for the kind (SGD lr 0.01; Adam lr 1e-3, betas 0.9/0.999,
 * epsilon 1e-7; RMSprop lr 1e-3, rho 0.9, epsilon 1e-7). */
mx_optimizer_config mx_optimizer_defaults(mx_opt_kind kind);
/* The learning rate of optimizer step t (0-based). */
float mx_learning_rate(const mx_optimizer_config *o, int64_t t);
/* Parse a Keras optimizer config: "adam" or {"class_name": "Adam", "config": {...}};
 * learning_rate may be a number or a schedule {"class_name": "CosineDecay", ...}. */
int mx_optimizer_parse(const char *json_text, mx_optimizer_config *out);
/* Parse a Keras loss name ("sparse_categorical_crossentropy", ...) or
 * {"class_name": ..., "config": {"from_logits": ...}}. */
int mx_loss_parse(const char *json_text, mx_loss_kind *kind, int *from_logits);

/* Keras names: "sparse_categorical_crossentropy", ...; "Adam", "SGD", "RMSprop";
 * ours for the textbook losses: "half_squared_error", "sum_squared_error" */
const char *mx_loss_name(mx_loss_kind kind);
const char *mx_optimizer_name(mx_opt_kind kind);
/* "keras", "textbook", "pytorch"; parse returns -1 for anything else */
const char *mx_optimizer_form_name(mx_opt_form form);
int mx_optimizer_form_parse(const char *name);

/* Attach loss and optimizer (Keras model.compile). */
int mx_model_compile(mx_model *m, mx_loss_kind loss, int from_logits,
                     const mx_optimizer_config *opt);

/* ---- training, evaluation, prediction ------------------------------------ */

typedef struct mx_epoch_stats {
    int epoch;               /* 1-based */
    double loss, accuracy;   /* training, running mean over the epoch */
    double val_loss, val_accuracy; /* NAN when no validation data */
    double seconds;          /* training time of the epoch */
    double samples_per_s;
} mx_epoch_stats;

typedef struct mx_history {
    int n;                   /* epochs recorded */
    mx_epoch_stats *epochs;  /* n entries (owned) */
    int best_epoch;          /* epoch whose weights were restored, 0 if none */
    int stopped_early;
} mx_history;
void mx_history_free(mx_history *h);

typedef struct mx_fit_progress {
    int epoch, epochs;
    int64_t step, steps;     /* batches done / per epoch */
    int64_t first_step;      /* the step this epoch started at (after a resume mid-epoch, else 0) */
    int64_t samples;         /* samples done in this epoch */
    double loss, accuracy;   /* running means so far in this epoch */
    double seconds;          /* since the epoch started */
} mx_fit_progress;

typedef struct mx_fit_options {
    int epochs;
    int batch_size;
    uint64_t seed;              /* shuffling, dropout, augmentation */
    int shuffle;                /* default 1 */
    float validation_split;     /* last fraction of the training data, as Keras */
    const mx_dataset *validation_data; /* overrides validation_split */
    const mx_augment *augment;  /* NULL: none */
    float scale, offset;        /* input preprocessing x * scale + offset */
    /* early stopping on val_loss (or loss without validation) */
    int early_stopping_patience; /* 0: off */
    float early_stopping_min_delta;
    int restore_best_weights;
    int initial_epoch;          /* for resuming: epochs already done */
    int64_t initial_step;       /* for resuming mid-epoch: batches of epoch initial_epoch + 1 already done
                                   (its running loss then covers the rest only) */
    /* stateful recurrent layers: their states are reset at the start of
     * every epoch and before validation (Keras's usual callback); batches
     * then run in order, each continuing the last */
    int reset_states;
    double max_seconds;         /* > 0: end training once this much time has passed; the epoch under way
                                   ends early, is validated and recorded (history->stopped_early) */
    /* callbacks; a non-zero return from on_epoch_end stops training (saved state stays) */
    void (*on_batch)(const mx_fit_progress *p, void *user);
    int (*on_epoch_end)(mx_model *m, const mx_history *h, void *user);
    void *user;
    volatile int *interrupt;    /* set non-zero (e.g. by SIGINT) to stop after the step */
} mx_fit_options;

mx_fit_options mx_fit_defaults(void);

/* Train on `train`. `history` receives the epochs (appended to what it holds,
 * so a resumed run continues the same history). */
int mx_fit(mx_model *m, const mx_dataset *train, const mx_fit_options *o, mx_history *history);

typedef struct mx_eval_result {
    double loss, accuracy;  /* accuracy over every label (every step of a sequence) */
    int n_classes;
    int steps;              /* predictions per sample: 1, or one per step of a sequence output */
    double exact_match;     /* share of samples with every step right (all samples right when steps is 1) */
    int64_t *confusion;     /* n_classes x n_classes over every label, rows = true class; owned */
    int32_t *predicted;     /* (n, steps) predicted classes; owned */
    float *confidence;      /* (n, steps) probability of the predicted class; owned */
} mx_eval_result;
int mx_evaluate(mx_model *m, const mx_dataset *d, float scale, float offset, int batch_size,
                mx_eval_result *out);
void mx_eval_result_free(mx_eval_result *r);

/* One optimizer step on one batch (Keras train_on_batch) of a compiled
 * model: x is (batch, input shape...), y the targets of output 0: class
 * indices for sparse_categorical_crossentropy (one per row of the last
 * axis: (batch) for a classifier), else (batch, output shape...). *loss (may
 * be NULL) receives the batch's loss with regularization. Memory is planned
 * on the first call (and again for a larger batch); later steps do not
 * allocate. Dropout draws from the model's seed and step count. */
int mx_train_batch(mx_model *m, const float *x, const float *y, int batch, double *loss);

/* The loss and accuracy of one batch without training on it (Keras
 * test_on_batch): x and y as mx_train_batch takes them, the forward pass in
 * inference mode (no dropout, batch norm's moving statistics), no update.
 * *loss (may be NULL) receives the compiled loss with regularization: for a
 * model without dropout or batch norm, the number mx_train_batch reports
 * for the same batch before its update. *correct (may be NULL) receives the
 * right predictions as the loss counts them: one per sample for one
 * prediction per sample (argmax of a vector; above 0.5, or a logit above 0,
 * for one unit), one per row of the last axis or per output otherwise.
 * Memory is planned as for mx_predict (a plan for at least `batch` samples,
 * training or not, serves); later calls do not allocate. */
int mx_test_batch(mx_model *m, const float *x, const float *y, int batch, double *loss, int64_t *correct);

/* Forward pass in inference mode: x is (N, input shape...), y receives
 * (N, output shape...) and must be allocated by the caller. */
int mx_predict(mx_model *m, const mx_tensor *x, mx_tensor *y, int batch_size);

/* Time every layer's forward and backward pass (on: 1 resets the counters)
 * and print the table: where a step spends its time. */
void mx_model_profile(mx_model *m, int on);
void mx_model_profile_report(const mx_model *m, FILE *out);

/* ---- generative adversarial networks (train/gan.c) ------------------------ */

/* A generator G (noise -> sample) and a discriminator D (sample -> one
 * logit), trained as the TensorFlow DCGAN tutorial does: per step
 *   L_G = BCE(1, D(G(z))),  L_D = BCE(1, D(x)) + BCE(0, D(G(z)))
 * from logits, both gradients at the weights of before the step, then each
 * model's own optimizer steps. L_G's gradient flows through D into G; D's
 * weights and optimizer state see L_D only. G runs in training mode (batch
 * statistics); D runs on the generated and real samples as one batch, so
 * it must not hold a BatchNormalization in training mode. */
typedef struct mx_gan_losses {
    double g_loss, d_loss;   /* as above, with regularization */
    double d_real, d_fake;   /* D's mean probability that real / generated samples are real */
} mx_gan_losses;

/* Compile both models for GAN training (after this they train only through
 * mx_gan_*). */
int mx_gan_compile(mx_model *generator, mx_model *discriminator, const mx_optimizer_config *g_opt,
                   const mx_optimizer_config *d_opt);
/* One step: real is (n, sample shape...), noise (n, noise shape...).
 * Memory is planned on the first call (again for a larger n); later steps
 * do not allocate. out may be NULL. */
int mx_gan_train_batch(mx_model *generator, mx_model *discriminator, const float *real, const float *noise, int n,
                       mx_gan_losses *out);
/* count standard normal values drawn from seed: the same noise for the same
 * seed everywhere (training, sample grids, mlexp generate). */
void mx_gan_noise(float *z, int64_t count, uint64_t seed);

typedef struct mx_gan_progress {
    int epoch, epochs;
    int64_t step, steps, samples;        /* in this epoch */
    double g_loss, d_loss, d_real, d_fake; /* running means over the epoch */
    double seconds;
} mx_gan_progress;

typedef struct mx_gan_epoch {
    int epoch;                           /* 1-based */
    double g_loss, d_loss, d_real, d_fake; /* means over the epoch */
    double seconds, samples_per_s;
} mx_gan_epoch;

typedef struct mx_gan_options {
    int epochs, batch_size;
    uint64_t seed;              /* shuffling, noise, dropout */
    int shuffle;                /* default 1 */
    float scale, offset;        /* real samples x * scale + offset (to G's output range) */
    int initial_epoch;          /* for resuming: epochs already done */
    void (*on_batch)(const mx_gan_progress *p, void *user);
    /* a non-zero return stops training */
    int (*on_epoch_end)(mx_model *generator, mx_model *discriminator, const mx_gan_epoch *e, void *user);
    void *user;
    volatile int *interrupt;    /* set non-zero to stop after the step (returns -1) */
} mx_gan_options;

mx_gan_options mx_gan_defaults(void);
/* Train on the real samples of `real` (labels are not used); the noise of
 * each step is drawn from (seed, generator step), so a resumed run goes on
 * exactly as an uninterrupted one. */
int mx_gan_fit(mx_model *generator, mx_model *discriminator, const mx_dataset *real, const mx_gan_options *o);

/* ---- gradient checks ----------------------------------------------------- */

/* Analytic gradients of every trainable weight tensor and of the input
 * against central finite differences (float32, two step sizes: entries
 * where they disagree sit at a kink such as ReLU's 0 and are skipped). Up to
 * per_tensor entries of each tensor one by one, and larger tensors also
 * along one random direction. An entry passes when
 *   |analytic - numeric| / max(|analytic| + |numeric|, floor) <= tol. */
typedef struct mx_gradcheck_options {
    int per_tensor;       /* entries checked one by one per tensor; 0: 24 */
    double eps;           /* difference step; 0: 1e-3 */
    double tol;           /* 0: 1e-2 */
    double floor;         /* 0: 0.1 (float32 differences carry ~1e-4 of noise) */
    uint64_t seed;        /* entries, direction, projection */
    /* with a compiled model: the model's loss (and regularizers) against
     * these targets, as the loss reads them; NULL: L = sum(c * y) over the
     * output with a fixed random c */
    const float *targets;
} mx_gradcheck_options;

typedef struct mx_gradcheck_tensor {
    char name[2 * MX_NAME_MAX + 32];  /* "dense/kernel", or "input" */
    int rank;
    int64_t shape[MX_MAX_RANK];
    int64_t size;
    int checked, skipped;             /* entries compared; entries at a kink */
    double max_abs_err;               /* max |analytic - numeric| */
    double max_rel_err;               /* max |analytic - numeric| / max(|analytic|, |numeric|) */
    double max_err;                   /* the judged error (above) */
    int directional;                  /* also checked along a random direction */
    double dir_analytic, dir_numeric, dir_err;
    int dir_skipped;
    int pass;
} mx_gradcheck_tensor;

typedef struct mx_gradcheck_report {
    int n;
    mx_gradcheck_tensor *tensors;     /* n: the weights, then the input (owned) */
    int pass, checked, skipped, uses_loss;
    double max_err, tol, eps, floor;
    char worst[2 * MX_NAME_MAX + 32]; /* the tensor with the largest error */
} mx_gradcheck_report;

/* x: (batch, input shape...). Weights are as before afterwards. */
int mx_model_gradcheck(mx_model *m, const mx_tensor *x, const mx_gradcheck_options *o, mx_gradcheck_report *r);
void mx_gradcheck_report_free(mx_gradcheck_report *r);

/* ---- explanations (docs/explain.md) -------------------------------------- */

/* A network description (JSON: inputs, layers with every weight, loss,
 * targets, optimizer, steps) run through the engine's training step, and
 * every number of each step recorded: the forward pass, the loss, the
 * backward pass with its chain-rule factors, the optimizer's update, each
 * written out as formulas with the numbers filled in and checked against
 * the engine. Returns the trace as JSON text (free with free()), or NULL. */
typedef struct mx_explain_options {
    int steps;     /* 0: as the description says */
    int precision; /* significant digits in the written-out formulas; 0: 6 */
} mx_explain_options;
char *mx_explain(const char *text, const char *origin, const mx_explain_options *o);
/* The description's model (compiled with its loss and optimizer, its
 * weights set), its inputs (batch, input shape) and its targets as the loss
 * reads them (flat); for gradient checks. With initial states (h0) the
 * model has several inputs: x is (batch, their sizes together), every
 * input's batch in turn, as mx_model_gradcheck reads it. */
mx_model *mx_explain_load(const char *text, const char *origin, mx_tensor **x, mx_tensor **targets);

/* ---- checkpoints --------------------------------------------------------- */

/* Training state beyond the weights: optimizer moments and step count. */
int mx_optimizer_state_save(const mx_model *m, const char *path);
int mx_optimizer_state_load(mx_model *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* MX_H */
