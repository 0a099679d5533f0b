/* report.h: the self-contained report.html written after training. */
#ifndef MX_REPORT_H
#define MX_REPORT_H

#include "mx.h"

typedef struct mx_report_example {
    const float *image;   /* (h, w, c) raw pixel values, 0..255 */
    int true_label, predicted;
    float confidence;     /* probability of the predicted class */
} mx_report_example;

typedef struct mx_report {
    const char *title;          /* "Fashion-MNIST CNN" */
    const char *experiment;     /* "fashion_cnn" */
    const char *description;    /* a sentence or two, may be NULL */
    const char *command;        /* the command line that trained the model */
    const char *summary;        /* Keras-style model summary text */
    const char *settings;       /* training settings as "key: value" lines */
    const mx_history *history;  /* per-epoch training/validation metrics */
    int n_classes;
    char **class_names;         /* may be NULL; labels outside them show as numbers */
    const int64_t *confusion;   /* n_classes x n_classes on the test set, rows = true */
    double test_loss, test_accuracy;
    int64_t n_test;
    const mx_report_example *examples; /* misclassified test images (a selection) */
    int n_examples;
    int64_t n_misclassified;    /* all of them, of which n_examples are shown */
    int h, w, c;                /* image shape of the examples; c is 1 (gray) or 3 (RGB) */
    double train_seconds, eval_seconds;
    int threads;
    int steps;                  /* labels per test sample; above 1 (sequences) the report leads with exact_match */
    double exact_match;         /* share of test samples with every step right */
    const char *text_mistakes;  /* text models: test samples it got wrong, a line each, or NULL */
    /* GANs, instead of the test metrics: both losses per epoch and the
     * sample grid drawn after each epoch */
    const mx_gan_epoch *gan_epochs; /* n_gan_epochs entries, or NULL */
    int n_gan_epochs;
    const char *const *grids;   /* per GAN epoch: a PNG file relative to the report's folder, or NULL */
    /* character-level language models: the loss is the cross-entropy per
     * character (nats), also shown in bits; samples generated after
     * training, one per temperature */
    int per_char;
    int n_samples;
    const char *sample_prime;
    const float *sample_temperatures; /* n_samples */
    char *const *samples;             /* n_samples UTF-8 texts */
} mx_report;

/* Write the HTML (inline CSS and SVG, images as PNG data URIs; no external
 * resources) to path atomically. */
int mx_report_write(const char *path, const mx_report *r);

#endif
