/* image.c: PNG and JPEG decoding into float pixels, and resizing.
 *
 * Decoding: the format comes from the file's signature, not its name. libpng
 * expands palettes and low bit depths; 16-bit samples are kept and scaled by
 * 1/257 so 0..65535 maps onto 0..255 exactly. libjpeg-turbo gives gray, RGB or
 * CMYK (Adobe's inverted convention when its marker is there, as TensorFlow's
 * decoder). Gray from colour is the BT.601 luma 0.299 R + 0.587 G + 0.114 B
 * (a JPEG's own luma channel); gray to RGB repeats it; alpha is dropped. No
 * gamma, colour profile or EXIF orientation handling: raw sample values, as
 * tf.io.decode_image.
 * Both libraries report errors by longjmp out of a callback: every value the
 * error path needs lives in a context struct reached through a pointer, so no
 * local of the function calling setjmp is modified after it.
 *
 * Resizing follows TensorFlow 2's tf.image.resize: bilinear and nearest with
 * half-pixel centres, area as ResizeArea's box filter (exact footprint weights,
 * which upscaling also uses). Output rows are independent, so large resizes
 * are split over the thread pool. */
#include "data/data.h"

#include <errno.h>
#include <jpeglib.h>
#include <jerror.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* refused before allocating anything of that size */
#define MAX_SIDE 16384
#define MAX_PIXELS 100000000LL
/* a progressive JPEG can make the decoder loop over thousands of tiny scans */
#define MAX_SCANS 1000

static int too_large(const char *path, uint64_t w, uint64_t h) {
    if (w && h && w <= MAX_SIDE && h <= MAX_SIDE && (int64_t)(w * h) <= MAX_PIXELS) return 0;
    return mx_fail("%s: image is %llux%llu pixels; images must be non-empty, at most %d per side and %lld Mpixel",
                   path, (unsigned long long)w, (unsigned long long)h, MAX_SIDE, MAX_PIXELS / 1000000);
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

/* ---- PNG ---- */

typedef struct png_ctx {
    const char *path;
    FILE *f;
    png_structp png;
    png_infop info;
    unsigned char *pix; /* (h, rowbytes) decoded samples */
    png_bytep *rows;    /* (h) pointers into pix */
    mx_tensor *out;
} png_ctx;

static void on_png_error(png_structp png, png_const_charp msg) {
    mx_fail("%s: PNG error: %s", ((png_ctx *)png_get_error_ptr(png))->path, msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    MX_UNUSED(png);
    MX_UNUSED(msg);
}

/* libpng's own reader says only "Read Error" when the file ends early */
static void on_png_read(png_structp png, png_bytep data, size_t n) {
    png_ctx *x = png_get_io_ptr(png);
    if (fread(data, 1, n, x->f) != n) png_error(png, ferror(x->f) ? strerror(errno) : "file ends early (truncated)");
}

/* Decode into x->out; on failure leaves what it allocated for the caller to free. */
static int png_decode(png_ctx *x, int channels) {
    if (setjmp(png_jmpbuf(x->png))) return -1;
    png_set_read_fn(x->png, x, on_png_read);
    png_set_sig_bytes(x->png, 8);
    png_read_info(x->png, x->info);
    png_uint_32 w = png_get_image_width(x->png, x->info), h = png_get_image_height(x->png, x->info);
    if (too_large(x->path, w, h)) return -1;
    int type = png_get_color_type(x->png, x->info), depth = png_get_bit_depth(x->png, x->info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(x->png); /* may add alpha from tRNS */
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(x->png);
    png_set_interlace_handling(x->png);
    png_read_update_info(x->png, x->info);
    int in_c = png_get_channels(x->png, x->info), bytes = png_get_bit_depth(x->png, x->info) / 8;
    size_t rowbytes = png_get_rowbytes(x->png, x->info);
    if (in_c < 1 || in_c > 4 || bytes < 1 || bytes > 2 || rowbytes != (size_t)w * in_c * bytes)
        return mx_fail("%s: unsupported PNG layout (%d channels of %d bits)", x->path, in_c, 8 * bytes);
    if (!(x->pix = mx_alloc_array(h, rowbytes)) || !(x->rows = mx_alloc_array(h, sizeof(png_bytep)))) return -1;
    for (png_uint_32 y = 0; y < h; y++) x->rows[y] = x->pix + y * rowbytes;
    png_read_image(x->png, x->rows);
    png_read_end(x->png, NULL); /* checks the rest of the file, so truncation is an error */
    if (!(x->out = mx_tensor_new(3, (const int64_t[]){h, w, channels}))) return -1;
    for (png_uint_32 y = 0; y < h; y++)
        convert_row(x->rows[y], (int)w, in_c, bytes, x->out->data + (size_t)y * w * channels, channels);
    return 0;
}

static mx_tensor *load_png(const char *path, FILE *f, int channels) {
    png_ctx x = {.path = path, .f = f};
    x.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &x, on_png_error, on_png_warning);
    x.info = x.png ? png_create_info_struct(x.png) : NULL;
    int rc = x.info ? png_decode(&x, channels) : mx_fail("%s: out of memory for the PNG reader", path);
    png_destroy_read_struct(&x.png, &x.info, NULL);
    mx_free(x.rows);
    mx_free(x.pix);
    if (rc) {
        mx_tensor_free(x.out);
        return NULL;
    }
    return x.out;
}

/* ---- JPEG ---- */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr err; /* first: libjpeg hands back its address */
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct cinfo;
    jmp_buf jump;
    const char *path;
    unsigned char *row; /* (w, components) one decoded scanline */
    mx_tensor *out;
} jpeg_ctx;

static void on_jpeg_error(j_common_ptr cinfo) {
    jpeg_ctx *x = (jpeg_ctx *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    mx_fail("%s: JPEG error: %s", x->path, msg);
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
        mx_fail("%s: JPEG error: more than %d scans", x->path, MAX_SCANS);
        longjmp(x->jump, 1);
    }
}

static int jpeg_decode(jpeg_ctx *x, FILE *f, int channels) {
    j_decompress_ptr c = &x->cinfo;
    if (setjmp(x->jump)) return -1;
    jpeg_create_decompress(c); /* zeroes all but err: the progress monitor goes in after */
    c->progress = &x->progress;
    jpeg_stdio_src(c, f);
    jpeg_read_header(c, TRUE);
    if (too_large(x->path, c->image_width, c->image_height)) return -1;
    /* CMYK is converted here (libjpeg cannot); everything else to gray or RGB
     * by libjpeg, gray straight from the luma channel as TensorFlow's decoder */
    int cmyk = c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK;
    int gray = c->jpeg_color_space == JCS_GRAYSCALE || channels == 1;
    c->out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(c);
    int comps = c->output_components, w = (int)c->output_width;
    if (comps != (cmyk ? 4 : c->out_color_space == JCS_RGB ? 3 : 1))
        return mx_fail("%s: JPEG decoder gave %d components", x->path, comps);
    if (!(x->row = mx_alloc_array((size_t)w, (size_t)comps)) ||
        !(x->out = mx_tensor_new(3, (const int64_t[]){c->output_height, w, channels})))
        return -1;
    while (c->output_scanline < c->output_height) {
        float *out = x->out->data + (size_t)c->output_scanline * w * channels; /* (w, channels) */
        JSAMPROW r = x->row;
        if (jpeg_read_scanlines(c, &r, 1) != 1) return mx_fail("%s: JPEG error: no data", x->path);
        if (cmyk) /* in place: pixel i's 3 bytes never overwrite a later pixel's 4 */
            for (int i = 0; i < w; i++) {
                const unsigned char *p = x->row + 4 * i;
                int k = p[3];
                for (int j = 0; j < 3; j++)
                    x->row[3 * i + j] = (unsigned char)(c->saw_Adobe_marker ? p[j] * k / 255
                                                                            : (255 - p[j]) * (255 - k) / 255);
            }
        convert_row(x->row, w, cmyk ? 3 : comps, 1, out, channels);
    }
    jpeg_finish_decompress(c);
    return 0;
}

static mx_tensor *load_jpeg(const char *path, FILE *f, int channels) {
    jpeg_ctx x = {.path = path};
    x.cinfo.err = jpeg_std_error(&x.err);
    x.err.error_exit = on_jpeg_error;
    x.err.emit_message = on_jpeg_message;
    x.progress.progress_monitor = on_jpeg_progress;
    int rc = jpeg_decode(&x, f, channels);
    jpeg_destroy_decompress(&x.cinfo); /* also after a failed create: a no-op while cinfo.mem is NULL */
    mx_free(x.row);
    if (rc) {
        mx_tensor_free(x.out);
        return NULL;
    }
    return x.out;
}

mx_tensor *mx_image_load(const char *path, int channels) {
    if (!path) return mx_failp("image: no path");
    if (channels != 1 && channels != 3) return mx_failp("%s: channels must be 1 or 3, not %d", path, channels);
    FILE *f = fopen(path, "rb");
    if (!f) return mx_failp("%s: cannot open (%s)", path, strerror(errno));
    unsigned char sig[8];
    size_t n = fread(sig, 1, sizeof sig, f);
    mx_tensor *t = NULL;
    if (ferror(f))
        mx_fail("%s: cannot read (%s)", path, strerror(errno));
    else if (n == 0)
        mx_fail("%s: empty file, not an image", path);
    else if (n == sizeof sig && !png_sig_cmp(sig, 0, sizeof sig))
        t = load_png(path, f, channels);
    else if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
        rewind(f);
        t = load_jpeg(path, f, channels);
    } else
        mx_fail("%s: not a PNG or JPEG image", path);
    fclose(f);
    return t;
}

/* ---- resizing ---- */

int mx_resize_parse(const char *name) {
    static const char *const names[] = {"bilinear", "nearest", "area"}; /* mx_resize order */
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) return i;
    return mx_fail("unknown resize method '%s' (valid: bilinear, nearest, area)", name ? name : "");
}

typedef struct resize_job {
    const float *src; /* (h, w, c) */
    float *dst;       /* (oh, ow, c) */
    int h, w, c, oh, ow;
    mx_resize method;
} resize_job;

/* TF's half-pixel bilinear: source coordinate (o + 0.5) * in / out - 0.5,
 * neighbours clamped to the image, lerp along x then y. */
static inline void bilinear_row(const resize_job *j, int oy, int c) {
    const float sy = (float)j->h / (float)j->oh, sx = (float)j->w / (float)j->ow;
    float in_y = ((float)oy + 0.5f) * sy - 0.5f, fy = floorf(in_y), ly = in_y - fy;
    int y0 = MX_MAX((int)fy, 0), y1 = MX_MIN((int)ceilf(in_y), j->h - 1);
    const float *top = j->src + (size_t)y0 * j->w * c, *bot = j->src + (size_t)y1 * j->w * c; /* (w, c) */
    float *out = j->dst + (size_t)oy * j->ow * c;                                             /* (ow, c) */
    for (int ox = 0; ox < j->ow; ox++, out += c) {
        float in_x = ((float)ox + 0.5f) * sx - 0.5f, fx = floorf(in_x), lx = in_x - fx;
        int x0 = MX_MAX((int)fx, 0) * c, x1 = MX_MIN((int)ceilf(in_x), j->w - 1) * c;
        for (int k = 0; k < c; k++) {
            float t = top[x0 + k] + (top[x1 + k] - top[x0 + k]) * lx;
            float b = bot[x0 + k] + (bot[x1 + k] - bot[x0 + k]) * lx;
            out[k] = t + (b - t) * ly;
        }
    }
}

/* TF's half-pixel nearest: floor((o + 0.5) * in / out), clamped */
static inline void nearest_row(const resize_job *j, int oy, int c) {
    const float sy = (float)j->h / (float)j->oh, sx = (float)j->w / (float)j->ow;
    int y = MX_MIN((int)floorf(((float)oy + 0.5f) * sy), j->h - 1);
    const float *in = j->src + (size_t)y * j->w * c; /* (w, c) */
    float *out = j->dst + (size_t)oy * j->ow * c;    /* (ow, c) */
    for (int ox = 0; ox < j->ow; ox++, out += c) {
        int x = MX_MIN((int)floorf(((float)ox + 0.5f) * sx), j->w - 1);
        memcpy(out, in + (size_t)x * c, sizeof(float) * (size_t)c);
    }
}

/* Output pixel (oy, ox) covers [oy, oy + 1) * h / oh by [ox, ox + 1) * w / ow
 * of the source; each source pixel weighs its overlap with that box, and the
 * sum is divided by the box's area. Bounds in double: oy * h / oh is exact
 * wherever the division is, so block shrinks average whole blocks. Only a
 * box's end rows and columns are partly covered: the ones between are summed
 * without weights. */
/* a row of source columns 0..last (stride c): the end ones weighted */
static inline float box_row(const float *in, int c, int last, float w_first, float w_last) {
    float s = w_first * in[0];
    for (int i = 1; i < last; i++) s += in[i * c];
    return last > 0 ? s + w_last * in[last * c] : s;
}

static inline void area_row(const resize_job *j, int oy, int c) {
    const int w = j->w;
    double y0 = (double)oy * j->h / j->oh, y1 = (double)(oy + 1) * j->h / j->oh;
    int iy0 = (int)y0, ylast = MX_MIN((int)ceil(y1), j->h) - 1 - iy0; /* rows iy0..iy0 + ylast */
    float wy0 = (float)(fmin(iy0 + 1, y1) - y0), wy1 = (float)(y1 - fmax(iy0 + ylast, y0));
    const float *rows = j->src + (size_t)iy0 * w * c; /* (ylast + 1, w, c) */
    float *out = j->dst + (size_t)oy * j->ow * c;     /* (ow, c) */
    double x1 = 0;
    for (int ox = 0; ox < j->ow; ox++, out += c) {
        double x0 = x1;
        x1 = (double)(ox + 1) * w / j->ow;
        int ix0 = (int)x0, xlast = MX_MIN((int)ceil(x1), w) - 1 - ix0; /* columns ix0..ix0 + xlast */
        float wx0 = (float)(fmin(ix0 + 1, x1) - x0), wx1 = (float)(x1 - fmax(ix0 + xlast, x0));
        float inv = (float)(1.0 / ((y1 - y0) * (x1 - x0)));
        for (int k = 0; k < c; k++) {
            const float *in = rows + (size_t)ix0 * c + k;
            float sum = wy0 * box_row(in, c, xlast, wx0, wx1);
            for (int r = 1; r < ylast; r++) sum += box_row(in + (size_t)r * w * c, c, xlast, wx0, wx1);
            if (ylast > 0) sum += wy1 * box_row(in + (size_t)ylast * w * c, c, xlast, wx0, wx1);
            out[k] = sum * inv;
        }
    }
}

/* the channel count as a constant for the common cases, so the inner loops unroll */
static inline void resize_row(const resize_job *j, int oy, int c) {
    switch (j->method) {
    case MX_RESIZE_NEAREST: nearest_row(j, oy, c); break;
    case MX_RESIZE_AREA: area_row(j, oy, c); break;
    default: bilinear_row(j, oy, c); break;
    }
}

static void resize_rows(void *p, int64_t begin, int64_t end) {
    const resize_job *j = p;
    for (int64_t y = begin; y < end; y++) {
        if (j->c == 3)
            resize_row(j, (int)y, 3);
        else if (j->c == 1)
            resize_row(j, (int)y, 1);
        else
            resize_row(j, (int)y, j->c);
    }
}

void mx_image_resize(const float *src, int h, int w, int c, float *dst, int oh, int ow, mx_resize method) {
    if (!src || !dst || h <= 0 || w <= 0 || c <= 0 || oh <= 0 || ow <= 0) return;
    if (oh == h && ow == w) { /* every method is the identity there */
        if (src != dst) memcpy(dst, src, sizeof(float) * (size_t)h * w * c);
        return;
    }
    resize_job j = {src, dst, h, w, c, oh, ow, method};
    /* about 32K multiply-adds per task at least */
    int64_t per_row = (int64_t)ow * c;
    if (method == MX_RESIZE_AREA) per_row = ((int64_t)h / oh + 2) * ((int64_t)w + ow) * c;
    mx_parallel_for(oh, MX_MAX(1, 32768 / MX_MAX(per_row, 1)), resize_rows, &j);
}
