/* encode.c: writing PNG images with libpng (report images, GAN sample
 * grids). Decoding is in decode.c. */
#include "core/core.h"
#include "mx.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>

static void png_put(png_structp png, png_bytep data, size_t n) {
    if (fwrite(data, 1, n, png_get_io_ptr(png)) != n) png_error(png, "cannot write");
}

static void png_flush_none(png_structp png) { MX_UNUSED(png); }

static void png_fail(png_structp png, png_const_charp msg) {
    mx_fail("PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) {
    MX_UNUSED(png);
    MX_UNUSED(msg);
}

int mx_png_encode(FILE *out, const unsigned char *px, int h, int w, int c) {
    if (h <= 0 || w <= 0 || (c != 1 && c != 3)) return mx_fail("PNG: cannot encode %dx%d images of %d channels", h, w, c);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return mx_fail("PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, out, png_put, png_flush_none);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_bytep)(px + (size_t)y * (size_t)w * (size_t)c));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int mx_png_save(const char *path, const float *img, int h, int w, int c) {
    int64_t n = 0;
    if (h <= 0 || w <= 0 || !mx_mul_ok(h, w, &n) || !mx_mul_ok(n, c, &n)) return mx_fail("%s: bad image size", path);
    unsigned char *px = mx_alloc((size_t)n);
    if (!px) return -1;
    for (int64_t i = 0; i < n; i++) px[i] = (unsigned char)(fminf(fmaxf(img[i], 0.f), 255.f) + 0.5f); /* NaN: 0 */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = m ? mx_png_encode(m, px, h, w, c) : mx_fail("PNG: out of memory");
    if (m && fclose(m) != 0 && rc == 0) rc = mx_fail("PNG: out of memory");
    if (rc == 0) rc = mx_write_file(path, buf, len); /* atomically */
    if (rc) mx_fail_context("%s: ", path);
    free(buf);
    mx_free(px);
    return rc;
}
