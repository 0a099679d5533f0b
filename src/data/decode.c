/* decode.c: PNG and JPEG decoding into float pixels, from memory or a file.
 * The only file of the engine that needs libpng and libjpeg: a build without
 * them (WebAssembly) leaves it out and keeps resizing (image.c).
 *
 * The format comes from the bytes' signature, not a name. libpng expands
 * palettes and low bit depths; 16-bit samples are kept and scaled by 1/257 so
 * 0..65535 maps onto 0..255 exactly. libjpeg-turbo gives gray, RGB or CMYK
 * (Adobe's inverted convention when its marker is there, as TensorFlow's
 * decoder). Gray from colour is the BT.601 luma 0.299 R + 0.587 G + 0.114 B
 * (a JPEG's own luma channel); gray to RGB repeats it; alpha is dropped. No
 * gamma, colour profile or EXIF orientation handling: raw sample values, as
 * tf.io.decode_image.
 * Both libraries report errors by longjmp out of a callback: every value the
 * error path needs lives in a context struct reached through a pointer, so no
 * local of the function calling setjmp is modified after it. */
#include "data/data.h"

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* refused before allocating anything of that size */
#define MAX_SIDE 16384
#define MAX_PIXELS 100000000LL
/* a progressive JPEG can make the decoder loop over thousands of tiny scans */
#define MAX_SCANS 1000
/* image files are read whole before decoding */
#define MAX_FILE_BYTES ((size_t)1 << 30)

static int too_large(const char *name, uint64_t w, uint64_t h) {
    if (w && h && w <= MAX_SIDE && h <= MAX_SIDE && (int64_t)(w * h) <= MAX_PIXELS) return 0;
    return mx_fail("%s: image is %llux%llu pixels; images must be non-empty, at most %d per side and %lld Mpixel",
                   name, (unsigned long long)w, (unsigned long long)h, MAX_SIDE, MAX_PIXELS / 1000000);
}

/* One decoded row of `in_c` interleaved samples (1 gray, 2 gray+alpha, 3 RGB,
 * 4 RGBA), `bytes` bytes each (big-endian when 2), as `out_c` floats. */
static void convert_row(const unsigned char *in, int w, int in_c, int bytes, float *out, int out_c) {
    for (int x = 0; x < w; x++, in += in_c * bytes, out += out_c) {
        float v[3];
        int colour = in_c >= 3;
        for (int k = 0; k < (colour ? 3 : 1); k++)
            v[k] = bytes == 2 ? (float)((in[2 * k] << 8) | in[2 * k + 1]) / 257.0f : (float)in[k];
        if (out_c == 1)
            out[0] = colour ? 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2] : v[0];
        else
            for (int k = 0; k < 3; k++) out[k] = v[colour ? k : 0];
    }
}

/* What to decode, and what came out. channels 0: the header only (w, h). */
typedef struct job {
    const char *name; /* for messages: the file's path, or "image" */
    const unsigned char *bytes;
    size_t n;
    int channels;
    int w, h;
    mx_tensor *out;
} job;

/* ---- PNG ---- */

typedef struct png_ctx {
    job *j;
    size_t pos;         /* read position in j->bytes */
    png_structp png;
    png_infop info;
    unsigned char *pix; /* (h, rowbytes) decoded samples */
    png_bytep *rows;    /* (h) pointers into pix */
} png_ctx;

static void on_png_error(png_structp png, png_const_charp msg) {
    mx_fail("%s: PNG error: %s", ((png_ctx *)png_get_error_ptr(png))->j->name, msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    MX_UNUSED(png);
    MX_UNUSED(msg);
}

static void on_png_read(png_structp png, png_bytep data, size_t n) {
    png_ctx *x = png_get_io_ptr(png);
    if (n > x->j->n - x->pos) png_error(png, "the image ends early (truncated)");
    memcpy(data, x->j->bytes + x->pos, n);
    x->pos += n;
}

/* Decode into x->j; on failure leaves what it allocated for the caller to free. */
static int png_decode(png_ctx *x) {
    job *j = x->j;
    if (setjmp(png_jmpbuf(x->png))) return -1;
    png_set_read_fn(x->png, x, on_png_read);
    png_set_sig_bytes(x->png, 8);
    png_read_info(x->png, x->info);
    png_uint_32 w = png_get_image_width(x->png, x->info), h = png_get_image_height(x->png, x->info);
    if (too_large(j->name, w, h)) return -1;
    j->w = (int)w;
    j->h = (int)h;
    if (!j->channels) return 0;
    int type = png_get_color_type(x->png, x->info), depth = png_get_bit_depth(x->png, x->info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(x->png); /* may add alpha from tRNS */
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(x->png);
    png_set_interlace_handling(x->png);
    png_read_update_info(x->png, x->info);
    int in_c = png_get_channels(x->png, x->info), bytes = png_get_bit_depth(x->png, x->info) / 8;
    size_t rowbytes = png_get_rowbytes(x->png, x->info);
    if (in_c < 1 || in_c > 4 || bytes < 1 || bytes > 2 || rowbytes != (size_t)w * in_c * bytes)
        return mx_fail("%s: unsupported PNG layout (%d channels of %d bits)", j->name, in_c, 8 * bytes);
    if (!(x->pix = mx_alloc_array(h, rowbytes)) || !(x->rows = mx_alloc_array(h, sizeof(png_bytep)))) return -1;
    for (png_uint_32 y = 0; y < h; y++) x->rows[y] = x->pix + y * rowbytes;
    png_read_image(x->png, x->rows);
    png_read_end(x->png, NULL); /* checks the rest of the data, so truncation is an error */
    if (!(j->out = mx_tensor_new(3, (const int64_t[]){h, w, j->channels}))) return -1;
    for (png_uint_32 y = 0; y < h; y++)
        convert_row(x->rows[y], (int)w, in_c, bytes, j->out->data + (size_t)y * w * j->channels, j->channels);
    return 0;
}

static int decode_png(job *j) {
    png_ctx x = {.j = j, .pos = 8}; /* the signature is checked */
    x.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &x, on_png_error, on_png_warning);
    x.info = x.png ? png_create_info_struct(x.png) : NULL;
    int rc = x.info ? png_decode(&x) : mx_fail("%s: out of memory for the PNG reader", j->name);
    png_destroy_read_struct(&x.png, &x.info, NULL);
    mx_free(x.rows);
    mx_free(x.pix);
    return rc;
}

/* ---- JPEG ---- */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr err; /* first: libjpeg hands back its address */
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct cinfo;
    jmp_buf jump;
    job *j;
    unsigned char *row; /* (w, components) one decoded scanline */
} jpeg_ctx;

static void on_jpeg_error(j_common_ptr cinfo) {
    jpeg_ctx *x = (jpeg_ctx *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    mx_fail("%s: JPEG error: %s", x->j->name, msg);
    longjmp(x->jump, 1);
}

/* libjpeg only warns about damaged data and fills the rest with gray; a
 * training set should not silently hold such images. Harmless warnings
 * (stray bytes between markers, unknown JFIF versions) pass. */
static void on_jpeg_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return; /* trace messages */
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC: on_jpeg_error(cinfo); break;
    default: break;
    }
}

static void on_jpeg_progress(j_common_ptr cinfo) {
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
        jpeg_ctx *x = (jpeg_ctx *)cinfo->err;
        mx_fail("%s: JPEG error: more than %d scans", x->j->name, MAX_SCANS);
        longjmp(x->jump, 1);
    }
}

static int jpeg_decode(jpeg_ctx *x) {
    job *j = x->j;
    j_decompress_ptr c = &x->cinfo;
    if (setjmp(x->jump)) return -1;
    jpeg_create_decompress(c); /* zeroes all but err: the progress monitor goes in after */
    c->progress = &x->progress;
    jpeg_mem_src(c, j->bytes, (unsigned long)j->n);
    jpeg_read_header(c, TRUE);
    if (too_large(j->name, c->image_width, c->image_height)) return -1;
    j->w = (int)c->image_width;
    j->h = (int)c->image_height;
    if (!j->channels) return 0;
    /* CMYK is converted here (libjpeg cannot); everything else to gray or RGB
     * by libjpeg, gray straight from the luma channel as TensorFlow's decoder */
    int cmyk = c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK;
    int gray = c->jpeg_color_space == JCS_GRAYSCALE || j->channels == 1;
    c->out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(c);
    int comps = c->output_components, w = (int)c->output_width, channels = j->channels;
    if (comps != (cmyk ? 4 : c->out_color_space == JCS_RGB ? 3 : 1))
        return mx_fail("%s: JPEG decoder gave %d components", j->name, comps);
    if (!(x->row = mx_alloc_array((size_t)w, (size_t)comps)) ||
        !(j->out = mx_tensor_new(3, (const int64_t[]){c->output_height, w, channels})))
        return -1;
    while (c->output_scanline < c->output_height) {
        float *out = j->out->data + (size_t)c->output_scanline * w * channels; /* (w, channels) */
        JSAMPROW r = x->row;
        if (jpeg_read_scanlines(c, &r, 1) != 1) return mx_fail("%s: JPEG error: no data", j->name);
        if (cmyk) /* in place: pixel i's 3 bytes never overwrite a later pixel's 4 */
            for (int i = 0; i < w; i++) {
                const unsigned char *p = x->row + 4 * i;
                int k = p[3];
                for (int q = 0; q < 3; q++)
                    x->row[3 * i + q] = (unsigned char)(c->saw_Adobe_marker ? p[q] * k / 255
                                                                            : (255 - p[q]) * (255 - k) / 255);
            }
        convert_row(x->row, w, cmyk ? 3 : comps, 1, out, channels);
    }
    jpeg_finish_decompress(c);
    return 0;
}

static int decode_jpeg(job *j) {
    jpeg_ctx x = {.j = j};
    x.cinfo.err = jpeg_std_error(&x.err);
    x.err.error_exit = on_jpeg_error;
    x.err.emit_message = on_jpeg_message;
    x.progress.progress_monitor = on_jpeg_progress;
    int rc = jpeg_decode(&x);
    jpeg_destroy_decompress(&x.cinfo); /* also after a failed create: a no-op while cinfo.mem is NULL */
    mx_free(x.row);
    return rc;
}

/* ---- entry points ---- */

/* Sniff the format and decode (or read the header when j->channels is 0). */
static int decode(job *j) {
    const unsigned char *b = j->bytes;
    int rc;
    if (j->n == 0)
        rc = mx_fail("%s: empty file, not an image", j->name);
    else if (j->n >= 8 && !png_sig_cmp(b, 0, 8))
        rc = decode_png(j);
    else if (j->n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        rc = decode_jpeg(j);
    else
        rc = mx_fail("%s: not a PNG or JPEG image", j->name);
    if (rc) {
        mx_tensor_free(j->out);
        j->out = NULL;
    }
    return rc;
}

static int channels_ok(const char *name, int channels) {
    return channels == 1 || channels == 3 ? 0 : mx_fail("%s: channels must be 1 or 3, not %d", name, channels);
}

mx_tensor *mx_image_decode(const void *bytes, size_t n, int channels) {
    if (!bytes && n) return mx_failp("image: no data");
    job j = {"image", bytes, n, channels, 0, 0, NULL};
    if (channels_ok(j.name, channels) || decode(&j)) return NULL;
    return j.out;
}

int mx_image_info(const void *bytes, size_t n, int *width, int *height) {
    if (!bytes && n) return mx_fail("image: no data");
    job j = {"image", bytes, n, 0, 0, 0, NULL};
    if (decode(&j)) return -1;
    *width = j.w;
    *height = j.h;
    return 0;
}

mx_tensor *mx_image_load(const char *path, int channels) {
    if (!path) return mx_failp("image: no path");
    if (channels_ok(path, channels)) return NULL;
    size_t n = 0;
    char *bytes = mx_read_file(path, &n, MAX_FILE_BYTES);
    if (!bytes) return NULL;
    job j = {path, (const unsigned char *)bytes, n, channels, 0, 0, NULL};
    decode(&j);
    mx_free(bytes);
    return j.out;
}
