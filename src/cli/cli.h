/* cli.h: shared pieces of the mlexp command line. */
#ifndef MX_CLI_H
#define MX_CLI_H

#include "core/core.h" /* errors and allocation, as in the engine */
#include "mx.h"

#include <jansson.h>

/* ---- options ---- */

typedef struct cli_opt {
    const char *name;    /* "--epochs" */
    const char *metavar; /* "N", or NULL for a flag */
    const char *help;
    const char **value;  /* receives the argument */
    int *flag;           /* set to 1 for a flag */
} cli_opt;

typedef struct cli_cmd {
    const char *name, *args, *summary, *details;
    const cli_opt *opts;
} cli_cmd;

/* Parse argv (after the command name). Positionals fill pos[0..npos). Returns
 * 0 to run, 1 after printing --help, -1 on a usage error (message set). */
int cli_parse(const cli_cmd *c, int argc, char **argv, const char **pos, int npos, int min_pos);
void cli_usage(const cli_cmd *c, FILE *f);
int cli_int(const char *s, const char *what, long min, long max, int *out);
int cli_u64(const char *s, const char *what, uint64_t *out);

/* ---- places ---- */

/* The repository (or install) root holding experiments/ and data/. */
const char *cli_root(void);
/* experiments/<name>.json, or a path to a .json file */
int cli_experiment_path(const char *name_or_path, char *out, size_t n);

/* ---- experiment files (experiments/NAME.json) ---- */

/* Where a dataset comes from: a named one (mx_dataset_load), or an image
 * folder (DIR/<class>/<files>, or DIR/train and DIR/test holding those). */
typedef struct cli_data {
    const char *name;         /* "fashion_mnist", ..., "image_folder", or a generated one */
    const char *path;         /* image folder: its directory */
    int height, width, channels;
    mx_resize resize;
    int64_t train_size, test_size; /* generated datasets: samples of each split */
    uint64_t seed;            /* generated datasets: train draws from seed, test from seed + 1, fresh from seed + 2 */
    int seq_length;           /* text: characters per window (the model's timesteps) */
    double test_split;        /* text: the last fraction of the text, held out for validation */
} cli_data;

/* The split ("train" or "test"; "fresh" too for generated datasets) of a
 * dataset; dir (--data) overrides the path. An image folder without train/
 * and test/ keeps every fifth image of each class for the test split. */
mx_dataset *cli_dataset_load(const cli_data *d, const char *split, const char *dir);

/* How a text model reads and writes characters (numbers_summation):
 * one-hot rows over alphabet, length of them, padded with pad. */
typedef struct cli_text {
    const char *alphabet;
    int in_length, out_length;
    char pad;
} cli_text;
/* The text encoding of a dataset, or 0 when it is not text. */
int cli_text_of(const char *dataset, const mx_dataset *d, cli_text *t);
/* metadata.json's "input" and "output" text entries into t; 0 when absent. */
int cli_text_from_metadata(json_t *meta, cli_text *t);
/* The classes of each step of the output row block y (steps, classes) as text,
 * pad characters at the end removed, into out. */
void cli_text_decode(const cli_text *t, const float *y, int steps, int classes, char *out, size_t n);

/* ---- character-level text (dataset "text", cli/chars.c) ---- */

int cli_is_text(const char *dataset);
/* The text file: override (--data FILE), or dataset.path as given or
 * under $MLEXP_DATA, ./data and the repository's data/. */
int cli_chars_path(const cli_data *d, const char *override, char *out, size_t n);
/* The file's characters, its first (1 - test_split) as `streams` training
 * streams and the rest as held-out streams (mx_chars_streams). */
int cli_chars_datasets(const cli_data *d, const char *file, int streams, mx_chars **chars, mx_dataset **train,
                       mx_dataset **test);
/* A copy of a Keras model config reading (batch, seq) with every recurrent
 * layer stateful, "vocabulary" in a layer's input_dim, output_dim or units
 * replaced by vocab_size, as JSON text; origin names it in errors. */
char *cli_chars_model(json_t *model, int batch, int seq, int vocab_size, const char *origin);
/* The vocabulary as a list of one-character strings, and back. */
json_t *cli_chars_vocab_json(const mx_chars *c);
int cli_chars_vocab_from_json(json_t *vocab, uint32_t **out, int *n);

/* Sample `length` characters from a trained text model (metadata "kind":
 * "text") after feeding `prime` once, the states carried from step to step;
 * each character goes to out (flushed) as it is drawn, or into *text
 * (malloc'd) when text is not NULL. Deterministic for a seed. */
typedef struct cli_gen_options {
    const char *prime;
    int length;
    float temperature;
    uint64_t seed;
} cli_gen_options;
int cli_generate_text_run(const char *model_dir, json_t *meta, const cli_gen_options *o, FILE *out, char **text);
int cli_generate_text(const char *model_dir, json_t *meta, int argc, char **argv);

typedef struct cli_experiment {
    json_t *root;             /* owns everything below */
    const char *name, *title, *description;
    const char *dataset;      /* mx_dataset_load name, or "image_folder" */
    cli_data data;
    const char *validation;   /* "none", "test" or "split" */
    float validation_split;
    float scale, offset;      /* preprocessing x * scale + offset */
    mx_augment augment;
    char *model_json;         /* Keras model config as text (NULL with a base) */
    /* transfer learning: a saved model, cut at a layer, with head layers on it */
    const char *base_model, *base_output, *base_trainable_from;
    json_t *head;             /* Keras layer configs; "units": "classes" = one per class */
    mx_optimizer_config opt;
    mx_loss_kind loss;
    int from_logits;
    int epochs, batch_size;
    uint64_t seed;
    int shuffle;
    int patience, restore_best;
    float min_delta;
} cli_experiment;

int cli_experiment_load(const char *path, cli_experiment *e);
/* an error naming where and the key when obj holds a key not in known (NULL-ended) */
int cli_check_keys(json_t *obj, const char *where, const char *const *known);
/* The Keras config of the base model (base_dir), cut at base_output, taking
 * (h, w, c) images, frozen (or trainable from base_trainable_from), called
 * with training=False, with the head on top. */
char *cli_transfer_model(const cli_experiment *e, const char *base_dir, int n_classes);
/* base_model as given, or under the repository root */
int cli_base_path(const cli_experiment *e, const char *override, char *out, size_t n);
void cli_experiment_free(cli_experiment *e);

/* A text experiment's model directory (cli/train_text.c): the model,
 * history, metadata.json with the vocabulary, samples and report.html. */
int cli_text_outputs(mx_model *m, const cli_experiment *e, const char *out, const mx_history *h, const mx_dataset *test,
                     const mx_chars *chars, const char *command, int threads, const char *text_file, uint64_t seed,
                     int batch_size);

/* ---- model directories ---- */

/* metadata.json of a trained model */
json_t *cli_metadata_load(const char *model_dir);

/* metadata.json's input preprocessing: scale 1, offset 0, bilinear resizing
 * and no classes where it says nothing (meta may be NULL). */
typedef struct cli_prep {
    float scale, offset;
    mx_resize resize;
    json_t *classes; /* borrowed from meta: class names, or NULL */
    int from_logits;
} cli_prep;
cli_prep cli_prep_of(json_t *meta);
/* An image (h0, w0, c) resized to (h, w, c) into dst, then x * scale + offset. */
void cli_image_input(const mx_tensor *img, int h, int w, const cli_prep *p, float *dst);
/* n class scores as probabilities, in place: kept when they already are
 * (softmax outputs), their softmax when they are logits. */
void cli_probabilities(float *p, int64_t n, int from_logits);
/* The Keras-style summary as text (malloc'd), as `mlexp info` prints it. */
char *cli_summary_text(const mx_model *m);
int cli_history_save(const char *path, const mx_history *h);
int cli_history_load(json_t *j, mx_history *h);
json_t *cli_history_json(const mx_history *h);

/* Checkpoints are written into OUT/checkpoint.tmp, then swapped with
 * OUT/checkpoint (the previous one passes through checkpoint.old), so an
 * interruption never leaves a broken checkpoint behind.
 * cli_checkpoint_begin clears checkpoint.tmp and .old and names tmp;
 * cli_checkpoint_commit swaps it in. */
int cli_checkpoint_begin(const char *out, char *tmp, size_t n);
int cli_checkpoint_commit(const char *out);

/* ---- progress ---- */

/* What the rate counts: "img" per sample unless set ("chars", 100 per sample). */
void cli_progress_unit(const char *unit, double per_sample);
void cli_progress_batch(const mx_fit_progress *p, void *user);
/* the same line with other names for its two running means (a GAN's losses) */
void cli_progress_line(const mx_fit_progress *p, const char *loss_name, const char *acc_name);
/* clear the live line on a terminal before a line of its own */
void cli_progress_end(void);
void cli_progress_epoch(const mx_epoch_stats *s, int epochs, int64_t steps);

/* ---- commands ---- */

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cli_generate(int argc, char **argv);

/* `mlexp train` of a GAN experiment (train_gan.c): kind "gan" in the
 * experiment file; the options as cmd_train parsed them (NULL: not given). */
typedef struct cli_train_args {
    const char *epochs, *batch_size, *seed, *threads, *data, *out, *limit, *dataset, *base;
    int resume;
    const char *command; /* the command line, for metadata and report */
} cli_train_args;
/* 1 when the experiment file says "kind": "gan", 0 when it has no kind, -1
 * (error set) for an unreadable file or another kind */
int cli_experiment_is_gan(const char *path);
int cli_train_gan(const char *path, const cli_train_args *a);

/* `mlexp generate MODEL_DIR ...` (generate.c) dispatches on metadata.json's
 * "kind"; argv after MODEL_DIR goes to the kind's command. */
int cli_generate(int argc, char **argv);
int cli_generate_gan(const char *model_dir, json_t *meta, int argc, char **argv);
/* rows x cols images of generator g from noise (rows * cols, noise size),
 * in inference mode, mapped back to pixels ((y - offset) / scale) and tiled
 * with 2-pixel gray gaps, as a PNG file */
int cli_gan_grid(mx_model *g, const float *noise, int rows, int cols, float scale, float offset, const char *path);
/* metadata.json's output.preprocessing (pixels * scale + offset = the generator's range) */
int cli_gan_output_range(json_t *meta, float *scale, float *offset);

/* print "mlexp CMD: error: MSG" and return 1 */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
