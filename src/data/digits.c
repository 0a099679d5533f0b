/* digits.c: OpenCV's handwritten digits, digits.png from opencv-doc: a
 * 2000x1000 grayscale image, a grid of 100 columns x 50 rows of 20x20 cells;
 * grid rows 5c..5c+4 hold digit c. Read with libpng; other PNG colour
 * types and depths are converted to 8-bit gray with png_set_* transforms and
 * no gamma handling, so an 8-bit gray file gives its raw values. */
#include "data/data.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

#define DIGITS_W 2000
#define DIGITS_H 1000
#define CELL 20
#define GRID_COLS (DIGITS_W / CELL) /* 100 */
#define ROWS_PER_DIGIT 5
#define SIDE 28
#define BORDER ((SIDE - CELL) / 2) /* 4: MNIST framing */

/* libpng reports errors here; the path rides in the error pointer. */
static void on_png_error(png_structp png, png_const_charp msg) {
    mx_fail("%s: PNG error: %s", (const char *)png_get_error_ptr(png), msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    MX_UNUSED(png);
    MX_UNUSED(msg);
}

/* The whole image as 8-bit gray into pix (DIGITS_H, DIGITS_W). */
static int read_gray(const char *path, unsigned char *pix) {
    FILE *f = fopen(path, "rb");
    if (!f) return mx_fail("%s: cannot open (%s)", path, strerror(errno));
    unsigned char sig[8];
    if (fread(sig, 1, sizeof sig, f) != sizeof sig || png_sig_cmp(sig, 0, sizeof sig)) {
        fclose(f);
        return mx_fail("%s: not a PNG file", path);
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, (png_voidp)path, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        fclose(f);
        return mx_fail("%s: out of memory for the PNG reader", path);
    }
    png_bytep rows[DIGITS_H];
    for (int y = 0; y < DIGITS_H; y++) rows[y] = pix + (size_t)y * DIGITS_W;
    /* nothing below setjmp changes a local that is used after a longjmp */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, sizeof sig);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (w != DIGITS_W || h != DIGITS_H) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return mx_fail("%s: image is %ux%u, expected %dx%d (OpenCV digits.png: 100x50 cells of 20x20)", path,
                       (unsigned)w, (unsigned)h, DIGITS_W, DIGITS_H);
    }
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if (type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (type & PNG_COLOR_MASK_COLOR) png_set_rgb_to_gray_fixed(png, 1, -1, -1);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != DIGITS_W) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return mx_fail("%s: cannot convert the PNG to 8-bit gray", path);
    }
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return 0;
}

mx_dataset *mx_digits_load(const char *png_path, int test) {
    unsigned char *pix = mx_alloc((size_t)DIGITS_W * DIGITS_H); /* (1000, 2000) */
    if (!pix) return NULL;
    if (read_gray(png_path, pix)) {
        mx_free(pix);
        return NULL;
    }
    /* grid rows of digit c used by this split: 5c+4 for test, 5c..5c+3 for train */
    int first = test ? ROWS_PER_DIGIT - 1 : 0, count = test ? 1 : ROWS_PER_DIGIT - 1;
    int64_t per_digit = (int64_t)count * GRID_COLS;
    mx_dataset *d = mx_dataset_new(10 * per_digit, 3, (const int64_t[]){SIDE, SIDE, 1}, 1);
    if (!d) {
        mx_free(pix);
        return NULL;
    }
    int64_t k = 0;
    for (int c = 0; c < 10; c++)
        for (int r = 0; r < count; r++)
            for (int col = 0; col < GRID_COLS; col++, k++) {
                int grid_row = c * ROWS_PER_DIGIT + first + r;
                const unsigned char *cell = pix + (size_t)(grid_row * CELL) * DIGITS_W + col * CELL; /* (20, 20) */
                float *x = d->x + k * SIDE * SIDE; /* (28, 28, 1), border already zero */
                for (int y = 0; y < CELL; y++)
                    for (int xx = 0; xx < CELL; xx++)
                        x[(y + BORDER) * SIDE + xx + BORDER] = (float)cell[(size_t)y * DIGITS_W + xx];
                d->y[k] = c;
            }
    d->n_classes = 10;
    mx_free(pix);
    return d;
}
