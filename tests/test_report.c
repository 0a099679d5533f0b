/* test_report.c: report.html from a small fake run: its contents, escaping,
 * embedded PNGs that decode back to the pixels given, no external
 * references, and a clean failure on a path that cannot be written. */
#include "test.h"

#include "cli/report.h"
#include "core/core.h"

#include <png.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { H = 4, W = 4, MAXC = 3 };

/* A run of 3 epochs (the first without validation), 3 classes and two
 * misclassified 4x4 images; the report points into the fixture. */
typedef struct fixture {
    mx_epoch_stats epochs[3];
    mx_history history;
    char *names[3];
    int64_t confusion[9];
    float images[2][H * W * MAXC];
    mx_report_example examples[2];
    mx_report report;
    char path[600];
} fixture;

/* Pixel i of an image: the first four probe clamping and rounding. */
static float pixel_value(int i, int image) {
    static const float special[4] = {-5.f, 300.f, 127.4f, 127.6f};
    return i < 4 ? special[i] : (float)((i * 13 + image * 50) % 256);
}

static unsigned char pixel_byte(int i, int image) {
    static const unsigned char special[4] = {0, 255, 127, 128};
    return i < 4 ? special[i] : (unsigned char)((i * 13 + image * 50) % 256);
}

static void fixture_init(fixture *x, int channels) {
    memset(x, 0, sizeof *x);
    x->epochs[0] = (mx_epoch_stats){1, 1.0986, 0.41, NAN, NAN, 2.5, 6400};
    x->epochs[1] = (mx_epoch_stats){2, 0.7512, 0.66, 0.8123, 0.625, 2.25, 7100};
    x->epochs[2] = (mx_epoch_stats){3, 0.5521, 0.79, 0.7011, 0.6875, 2.0, 8000};
    x->history = (mx_history){3, x->epochs, 3, 0};
    x->names[0] = "cat";
    x->names[1] = "dog";
    x->names[2] = "bird";
    static const int64_t cm[9] = {5, 1, 0, 0, 4, 2, 1, 0, 3}; /* 12 of 16 right */
    memcpy(x->confusion, cm, sizeof cm);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < H * W * channels; i++) x->images[k][i] = pixel_value(i, k);
    x->examples[0] = (mx_report_example){x->images[0], 0, 1, 0.875f};
    x->examples[1] = (mx_report_example){x->images[1], 1, 2, 0.5f};
    x->report = (mx_report){
        .title = "Pets CNN",
        .experiment = "pets_cnn",
        .description = "Three classes, sixteen test images.",
        .command = "mlexp train pets_cnn --epochs 3",
        .summary = "Model: \"sequential\"\nTotal params: 1,234\n",
        .settings = "optimizer: adam, learning rate 0.001\nbatch size: 32\n",
        .history = &x->history,
        .n_classes = 3,
        .class_names = x->names,
        .confusion = x->confusion,
        .test_loss = 0.6931,
        .test_accuracy = 0.75,
        .n_test = 16,
        .examples = x->examples,
        .n_examples = 2,
        .h = H,
        .w = W,
        .c = channels,
        .train_seconds = 6.75,
        .eval_seconds = 0.125,
        .threads = 4,
    };
    snprintf(x->path, sizeof x->path, "%s/report.html", mx_test_tmpdir());
}

/* Write the report and read it back; NULL (test failed) when either fails. */
static char *write_read(fixture *x) {
    int rc = mx_report_write(x->path, &x->report);
    CHECK_MSG(rc == 0, "mx_report_write: %s", mx_error());
    if (rc != 0) return NULL;
    char *html = mx_read_file(x->path, NULL, (size_t)64 << 20);
    CHECK_MSG(html != NULL, "read back: %s", mx_error());
    return html;
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* Decode base64 up to the first character outside the alphabet; the number
 * of bytes, or -1 on malformed input. */
static long unbase64(const char *s, unsigned char *out, size_t cap) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        const char *c = strchr(T, *s);
        if (!c) break;
        v = v << 6 | (unsigned)(c - T);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap) return -1;
            out[n++] = (unsigned char)(v >> bits);
        }
    }
    return (long)n;
}

MX_TEST(report_contents) {
    fixture x;
    fixture_init(&x, 1);
    char *html = write_read(&x);
    if (!html) return;
    CHECK(strncmp(html, "<!doctype html>", 15) == 0);
    CHECK(count(html, "<svg") == 2); /* loss and accuracy */
    CHECK(strstr(html, "Pets CNN") && strstr(html, "pets_cnn"));
    CHECK(strstr(html, "Three classes, sixteen test images."));
    CHECK(strstr(html, "mlexp train pets_cnn --epochs 3"));
    CHECK(strstr(html, ">cat<") && strstr(html, ">dog<") && strstr(html, ">bird<"));
    CHECK(strstr(html, "75.00%"));  /* test accuracy */
    CHECK(strstr(html, "0.6931"));  /* test loss */
    CHECK(strstr(html, ">16<"));    /* test samples */
    CHECK(strstr(html, "83.3%"));   /* recall of cat: 5 of 6 */
    CHECK(strstr(html, "60.0%"));   /* precision of bird: 3 of 5 */
    CHECK(strstr(html, "0.8123"));  /* a validation loss in the epoch table */
    CHECK(strstr(html, "Total params: 1,234"));
    CHECK(strstr(html, "learning rate 0.001"));
    CHECK(strstr(html, "cat -&gt; <span class=\"p\">dog</span>") && strstr(html, "(87.5%)"));
    CHECK(strstr(html, "stopped early") == NULL); /* not stopped early; best epoch 3 */
    CHECK(strstr(html, "epoch 3, the best"));
    CHECK(strstr(html, "image-rendering:pixelated"));
    CHECK(strstr(html, "prefers-color-scheme:dark"));
    CHECK(strstr(html, "(null)") == NULL);
    CHECK(strstr(html, "nan") == NULL && strstr(html, "inf<") == NULL);
    mx_free(html);
    char tmp[640];
    snprintf(tmp, sizeof tmp, "%s.tmp", x.path);
    CHECK(access(tmp, F_OK) != 0);
}

/* Each image is a PNG data URI that decodes to the clamped, rounded pixels. */
MX_TEST(report_images_decode) {
    for (int channels = 1; channels <= 3; channels += 2) {
        fixture x;
        fixture_init(&x, channels);
        char *html = write_read(&x);
        if (!html) return;
        const char *uri = "data:image/png;base64,";
        CHECK(count(html, uri) == 2);
        int k = 0;
        for (const char *p = strstr(html, uri); p && k < 2; p = strstr(p + 1, uri), k++) {
            unsigned char png[4096];
            long n = unbase64(p + strlen(uri), png, sizeof png);
            CHECK(n > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
            png_image img;
            memset(&img, 0, sizeof img);
            img.version = PNG_IMAGE_VERSION;
            CHECK(n > 8 && png_image_begin_read_from_memory(&img, png, (size_t)n));
            CHECK(img.width == W && img.height == H);
            img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
            unsigned char px[H * W * MAXC];
            CHECK(png_image_finish_read(&img, NULL, px, 0, NULL));
            for (int i = 0; i < H * W * channels; i++)
                CHECK_MSG(px[i] == pixel_byte(i, k), "c=%d image %d pixel %d: %d, expected %d", channels, k, i,
                          px[i], pixel_byte(i, k));
            png_image_free(&img);
        }
        mx_free(html);
    }
}

MX_TEST(report_escapes_text) {
    fixture x;
    fixture_init(&x, 1);
    x.report.title = "<script>alert(1)</script>";
    x.report.command = "mlexp train \"a & b\" 'c'";
    x.names[2] = "<b>bird</b>";
    char *html = write_read(&x);
    if (!html) return;
    CHECK(strstr(html, "<script") == NULL);
    CHECK(strstr(html, "<b>bird") == NULL);
    CHECK(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK(strstr(html, "&lt;b&gt;bird&lt;/b&gt;"));
    CHECK(strstr(html, "mlexp train &quot;a &amp; b&quot; &#39;c&#39;"));
    mx_free(html);
}

/* Works offline and from disk: the only URL is the SVG namespace. */
MX_TEST(report_no_external_references) {
    fixture x;
    fixture_init(&x, 3);
    char *html = write_read(&x);
    if (!html) return;
    const char *ns = "http://www.w3.org/2000/svg";
    for (const char *p = strstr(html, "http"); p; p = strstr(p + 1, "http"))
        if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0)
            CHECK_MSG(strncmp(p, ns, strlen(ns)) == 0, "external reference: %.60s", p);
    CHECK(strstr(html, "src=\"//") == NULL && strstr(html, "url(") == NULL && strstr(html, "@import") == NULL);
    mx_free(html);
}

/* One epoch without validation, no strings, no class names, no images. */
MX_TEST(report_minimal) {
    fixture x;
    fixture_init(&x, 1);
    x.history.n = 1;
    x.history.best_epoch = 0;
    x.history.stopped_early = 1;
    x.report = (mx_report){.history = &x.history, .n_classes = 3, .confusion = x.confusion,
                           .test_loss = NAN, .test_accuracy = 0.75, .n_test = 16};
    char *html = write_read(&x);
    if (!html) return;
    CHECK(count(html, "<svg") == 2);
    CHECK(strstr(html, ">validation<") == NULL); /* no series for values never measured */
    CHECK(strstr(html, "class=\"s1\"") && strstr(html, "class=\"s2\"") == NULL);
    CHECK(strstr(html, "Val loss") == NULL);
    CHECK(strstr(html, "stopped early after epoch 1"));
    CHECK(strstr(html, "75.00%"));
    CHECK(strstr(html, "(null)") == NULL && strstr(html, "nan") == NULL);
    CHECK(strstr(html, "data:image/png") == NULL);
    mx_free(html);
}

MX_TEST(report_unwritable_path) {
    fixture x;
    fixture_init(&x, 1);
    snprintf(x.path, sizeof x.path, "%s/missing/report.html", mx_test_tmpdir());
    mx_clear_error();
    CHECK(mx_report_write(x.path, &x.report) == -1);
    CHECK(strstr(mx_error(), "missing/report.html") != NULL);
    CHECK(access(x.path, F_OK) != 0);
    CHECK(mx_report_write(NULL, &x.report) == -1);

    /* the rename fails (a directory is in the way): nothing is left behind */
    snprintf(x.path, sizeof x.path, "%s/report.html", mx_test_tmpdir());
    CHECK(mkdir(x.path, 0755) == 0);
    CHECK(mx_report_write(x.path, &x.report) == -1);
    char tmp[640];
    snprintf(tmp, sizeof tmp, "%s.tmp", x.path);
    CHECK(access(tmp, F_OK) != 0);
}
