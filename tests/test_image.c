/* test_image.c: PNG/JPEG decoding (formats, channel conversion, broken
 * files), resizing against hand-computed TensorFlow results, image folders
 * and the flip/turn/colour augmentations. Every image is written here with
 * libpng/libjpeg, so the tests need no photos. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include "core/core.h"

#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- helpers ---- */

static const char *tmp_path(const char *name) {
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", mx_test_tmpdir(), name);
    return p;
}

static void make_dir(const char *name) { CHECK(mkdir(tmp_path(name), 0755) == 0); }

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len);
    if (f) fclose(f);
}

/* whole file into a malloc'd buffer */
static unsigned char *read_bytes(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*len + 1);
    CHECK(fread(b, 1, *len, f) == *len);
    fclose(f);
    return b;
}

typedef struct png_spec {
    int w, h, type, depth, interlace;
    const unsigned char *px; /* (h, rowbytes) packed samples, 16-bit big-endian */
    const png_color *palette;
    int n_palette;
    const unsigned char *trns; /* palette alpha, or NULL */
    int n_trns;
} png_spec;

static int png_channels(int type) {
    return type == PNG_COLOR_TYPE_RGB ? 3 : type == PNG_COLOR_TYPE_RGBA ? 4 : type == PNG_COLOR_TYPE_GA ? 2 : 1;
}

static void write_png(const char *path, png_spec s) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)s.w, (png_uint_32)s.h, s.depth, s.type,
                 s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s.palette) png_set_PLTE(png, info, s.palette, s.n_palette);
    if (s.trns) png_set_tRNS(png, info, s.trns, s.n_trns, NULL);
    png_write_info(png, info);
    size_t rowbytes = ((size_t)s.w * png_channels(s.type) * s.depth + 7) / 8;
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)s.h);
    for (int y = 0; y < s.h; y++) rows[y] = (png_bytep)s.px + y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
}

/* 8-bit PNG of `comps` channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) */
static void write_png8(const char *path, int w, int h, int comps, const unsigned char *px) {
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
    write_png(path, (png_spec){.w = w, .h = h, .type = types[comps], .depth = 8, .px = px});
}

/* baseline JPEG without chroma subsampling; comps 1 gray, 3 RGB, 4 CMYK (Adobe) */
static void write_jpeg(const char *path, int w, int h, int comps, const unsigned char *px, int quality) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)px + (size_t)c.next_scanline * w * comps;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* (h, w, c) bytes, smooth so JPEG keeps them close: a ramp per channel */
static unsigned char *ramp(int w, int h, int c) {
    unsigned char *px = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                px[((size_t)y * w + x) * c + k] = (unsigned char)(40 + 6 * x + 4 * y + 50 * k);
    return px;
}

static unsigned char *constant(int w, int h, int c, const unsigned char *value) {
    unsigned char *px = malloc((size_t)w * h * c);
    for (int i = 0; i < w * h; i++) memcpy(px + (size_t)i * c, value, (size_t)c);
    return px;
}

static float luma(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

/* the image has shape (h, w, c) */
static int has_shape(const mx_tensor *t, int h, int w, int c) {
    return t && t->rank == 3 && t->shape[0] == h && t->shape[1] == w && t->shape[2] == c;
}

/* max |t - bytes| over (h, w, c) */
static double diff_bytes(const mx_tensor *t, const unsigned char *px, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs(t->data[i] - px[i]));
    return d;
}

/* load fails and the message names the file and says `what` */
static void check_load_fails(const char *path, const char *what) {
    mx_clear_error();
    mx_tensor *t = mx_image_load(path, 3);
    CHECK_MSG(t == NULL, "%s loaded", path);
    mx_tensor_free(t);
    CHECK_MSG(strstr(mx_error(), path) != NULL, "error \"%s\" does not name %s", mx_error(), path);
    if (what) CHECK_MSG(strstr(mx_error(), what) != NULL, "error \"%s\" does not say \"%s\"", mx_error(), what);
}

/* ---- PNG ---- */

MX_TEST(image_png_gray_and_rgb) {
    unsigned char gray[6] = {0, 17, 34, 100, 200, 255}; /* 3 wide, 2 high */
    write_png8(tmp_path("g.png"), 3, 2, 1, gray);
    mx_tensor *t = mx_image_load(tmp_path("g.png"), 1);
    CHECK(has_shape(t, 2, 3, 1) && diff_bytes(t, gray, 6) == 0);
    mx_tensor_free(t);
    t = mx_image_load(tmp_path("g.png"), 3); /* gray to RGB repeats it */
    CHECK(has_shape(t, 2, 3, 3));
    for (int i = 0; t && i < 18; i++) CHECK(t->data[i] == gray[i / 3]);
    mx_tensor_free(t);

    unsigned char *rgb = ramp(5, 4, 3);
    write_png8(tmp_path("c.png"), 5, 4, 3, rgb);
    t = mx_image_load(tmp_path("c.png"), 3);
    CHECK(has_shape(t, 4, 5, 3) && diff_bytes(t, rgb, 60) == 0);
    mx_tensor_free(t);
    t = mx_image_load(tmp_path("c.png"), 1); /* RGB to gray: BT.601 luma */
    CHECK(has_shape(t, 4, 5, 1));
    for (int i = 0; t && i < 20; i++) CHECK_NEAR(t->data[i], luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]), 1e-5);
    mx_tensor_free(t);
    free(rgb);
}

MX_TEST(image_png_alpha_dropped) {
    unsigned char ga[8] = {10, 255, 20, 0, 30, 128, 40, 7}; /* 2x2 gray + alpha */
    write_png8(tmp_path("ga.png"), 2, 2, 2, ga);
    mx_tensor *t = mx_image_load(tmp_path("ga.png"), 1);
    CHECK(has_shape(t, 2, 2, 1));
    for (int i = 0; t && i < 4; i++) CHECK(t->data[i] == ga[2 * i]);
    mx_tensor_free(t);
    unsigned char rgba[16] = {1, 2, 3, 0, 50, 60, 70, 255, 200, 100, 0, 9, 255, 255, 255, 128};
    write_png8(tmp_path("rgba.png"), 2, 2, 4, rgba);
    t = mx_image_load(tmp_path("rgba.png"), 3);
    CHECK(has_shape(t, 2, 2, 3));
    for (int i = 0; t && i < 4; i++)
        for (int k = 0; k < 3; k++) CHECK(t->data[3 * i + k] == rgba[4 * i + k]);
    mx_tensor_free(t);
    t = mx_image_load(tmp_path("rgba.png"), 1);
    CHECK(has_shape(t, 2, 2, 1));
    for (int i = 0; t && i < 4; i++) CHECK_NEAR(t->data[i], luma(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]), 1e-5);
    mx_tensor_free(t);
}

MX_TEST(image_png_palette_and_low_depth) {
    const png_color pal[4] = {{255, 0, 0}, {0, 128, 0}, {10, 20, 30}, {250, 251, 252}};
    const unsigned char trns[4] = {255, 0, 128, 255}; /* transparency: expanded to alpha, then dropped */
    unsigned char idx8[6] = {0, 1, 2, 3, 2, 1};        /* 3x2 */
    write_png(tmp_path("p8.png"),
              (png_spec){.w = 3, .h = 2, .type = PNG_COLOR_TYPE_PALETTE, .depth = 8, .px = idx8, .palette = pal,
                         .n_palette = 4, .trns = trns, .n_trns = 4});
    mx_tensor *t = mx_image_load(tmp_path("p8.png"), 3);
    CHECK(has_shape(t, 2, 3, 3));
    for (int i = 0; t && i < 6; i++)
        CHECK(t->data[3 * i] == pal[idx8[i]].red && t->data[3 * i + 1] == pal[idx8[i]].green &&
              t->data[3 * i + 2] == pal[idx8[i]].blue);
    mx_tensor_free(t);

    /* 2-bit palette, 5 pixels packed into 2 bytes per row: 0 1 2 3 | 1 */
    unsigned char idx2[4] = {0x1B, 0x40, 0xE4, 0x00}; /* rows: 0,1,2,3,1 and 3,2,1,0,0 */
    write_png(tmp_path("p2.png"), (png_spec){.w = 5, .h = 2, .type = PNG_COLOR_TYPE_PALETTE, .depth = 2,
                                             .px = idx2, .palette = pal, .n_palette = 4});
    const int want2[10] = {0, 1, 2, 3, 1, 3, 2, 1, 0, 0};
    t = mx_image_load(tmp_path("p2.png"), 3);
    CHECK(has_shape(t, 2, 5, 3));
    for (int i = 0; t && i < 10; i++) CHECK(t->data[3 * i + 1] == pal[want2[i]].green);
    mx_tensor_free(t);

    /* 1-bit gray: 0 -> 0, 1 -> 255 */
    unsigned char bits[2] = {0xA0, 0x50}; /* 4x2: 1010 / 0101 */
    write_png(tmp_path("g1.png"), (png_spec){.w = 4, .h = 2, .type = PNG_COLOR_TYPE_GRAY, .depth = 1, .px = bits});
    t = mx_image_load(tmp_path("g1.png"), 1);
    CHECK(has_shape(t, 2, 4, 1));
    const float want1[8] = {255, 0, 255, 0, 0, 255, 0, 255};
    for (int i = 0; t && i < 8; i++) CHECK(t->data[i] == want1[i]);
    mx_tensor_free(t);
}

MX_TEST(image_png_16bit_and_interlaced) {
    const int v[4] = {0, 257 * 100, 65535, 1000};
    unsigned char g16[8];
    for (int i = 0; i < 4; i++) g16[2 * i] = (unsigned char)(v[i] >> 8), g16[2 * i + 1] = (unsigned char)v[i];
    write_png(tmp_path("g16.png"), (png_spec){.w = 2, .h = 2, .type = PNG_COLOR_TYPE_GRAY, .depth = 16, .px = g16});
    mx_tensor *t = mx_image_load(tmp_path("g16.png"), 1);
    CHECK(has_shape(t, 2, 2, 1));
    for (int i = 0; t && i < 4; i++) CHECK_NEAR(t->data[i], v[i] / 257.0, 1e-6); /* 0..65535 onto 0..255 */
    mx_tensor_free(t);

    unsigned char rgb16[2 * 3 * 2]; /* 2x1 RGB */
    const int c16[6] = {65535, 0, 257 * 7, 12345, 514, 65280};
    for (int i = 0; i < 6; i++) rgb16[2 * i] = (unsigned char)(c16[i] >> 8), rgb16[2 * i + 1] = (unsigned char)c16[i];
    write_png(tmp_path("c16.png"), (png_spec){.w = 2, .h = 1, .type = PNG_COLOR_TYPE_RGB, .depth = 16, .px = rgb16});
    t = mx_image_load(tmp_path("c16.png"), 3);
    CHECK(has_shape(t, 1, 2, 3));
    for (int i = 0; t && i < 6; i++) CHECK_NEAR(t->data[i], c16[i] / 257.0, 1e-6);
    mx_tensor_free(t);

    unsigned char *rgb = ramp(13, 11, 3); /* Adam7 passes need more than 8x8 */
    write_png(tmp_path("i.png"), (png_spec){.w = 13, .h = 11, .type = PNG_COLOR_TYPE_RGB, .depth = 8, .interlace = 1,
                                            .px = rgb});
    t = mx_image_load(tmp_path("i.png"), 3);
    CHECK(has_shape(t, 11, 13, 3) && diff_bytes(t, rgb, 13 * 11 * 3) == 0);
    mx_tensor_free(t);
    free(rgb);
}

/* ---- JPEG ---- */

MX_TEST(image_jpeg_gray_rgb_cmyk) {
    unsigned char *gray = ramp(16, 12, 1), *rgb = ramp(17, 9, 3);
    write_jpeg(tmp_path("g.jpg"), 16, 12, 1, gray, 100);
    write_jpeg(tmp_path("c.jpg"), 17, 9, 3, rgb, 100);
    mx_tensor *t = mx_image_load(tmp_path("g.jpg"), 1);
    CHECK(has_shape(t, 12, 16, 1));
    if (t) CHECK_MSG(diff_bytes(t, gray, 16 * 12) <= 2, "gray JPEG off by %g", diff_bytes(t, gray, 16 * 12));
    mx_tensor_free(t);
    t = mx_image_load(tmp_path("g.jpg"), 3);
    CHECK(has_shape(t, 12, 16, 3));
    for (int i = 0; t && i < 16 * 12; i++)
        CHECK(t->data[3 * i] == t->data[3 * i + 1] && t->data[3 * i] == t->data[3 * i + 2]);
    mx_tensor_free(t);

    mx_tensor *c = mx_image_load(tmp_path("c.jpg"), 3), *g = mx_image_load(tmp_path("c.jpg"), 1);
    CHECK(has_shape(c, 9, 17, 3) && has_shape(g, 9, 17, 1));
    if (c) CHECK_MSG(diff_bytes(c, rgb, 17 * 9 * 3) <= 3, "RGB JPEG off by %g", diff_bytes(c, rgb, 17 * 9 * 3));
    /* gray is the JPEG's own luma channel: the luma of its RGB but for rounding */
    for (int i = 0; c && g && i < 17 * 9; i++)
        CHECK(fabsf(g->data[i] - luma(c->data[3 * i], c->data[3 * i + 1], c->data[3 * i + 2])) <= 1.0f);
    mx_tensor_free(c);
    mx_tensor_free(g);

    /* CMYK with Adobe's inverted samples: R = C K / 255 and so on */
    const unsigned char cmyk_px[4] = {255, 0, 128, 255};
    unsigned char *cmyk = constant(8, 8, 4, cmyk_px);
    write_jpeg(tmp_path("k.jpg"), 8, 8, 4, cmyk, 100);
    t = mx_image_load(tmp_path("k.jpg"), 3);
    CHECK_MSG(has_shape(t, 8, 8, 3), "CMYK: %s", mx_error());
    for (int i = 0; t && i < 64; i++)
        CHECK(fabsf(t->data[3 * i] - 255) <= 2 && fabsf(t->data[3 * i + 1]) <= 2 &&
              fabsf(t->data[3 * i + 2] - 128) <= 2);
    mx_tensor_free(t);
    free(gray);
    free(rgb);
    free(cmyk);
}

MX_TEST(image_format_from_signature) {
    unsigned char *rgb = ramp(4, 3, 3);
    write_png8(tmp_path("png.jpg"), 4, 3, 3, rgb);
    write_jpeg(tmp_path("jpeg.png"), 4, 3, 3, rgb, 100);
    mx_tensor *a = mx_image_load(tmp_path("png.jpg"), 3), *b = mx_image_load(tmp_path("jpeg.png"), 3);
    CHECK(has_shape(a, 3, 4, 3) && diff_bytes(a, rgb, 36) == 0);
    CHECK(has_shape(b, 3, 4, 3) && diff_bytes(b, rgb, 36) <= 3);
    mx_tensor_free(a);
    mx_tensor_free(b);
    free(rgb);
}

/* ---- broken files ---- */

MX_TEST(image_load_errors) {
    check_load_fails(tmp_path("missing.png"), "cannot open");
    write_bytes(tmp_path("empty.png"), "", 0);
    check_load_fails(tmp_path("empty.png"), "empty");
    const char *text = "hello, this is not an image\n";
    write_bytes(tmp_path("text.png"), text, strlen(text));
    check_load_fails(tmp_path("text.png"), "not a PNG or JPEG");
    write_bytes(tmp_path("short.jpg"), "\x89P", 2);
    check_load_fails(tmp_path("short.jpg"), "not a PNG or JPEG");
    check_load_fails(mx_test_tmpdir(), NULL); /* a folder */

    unsigned char *rgb = ramp(20, 20, 3);
    write_png8(tmp_path("ok.png"), 20, 20, 3, rgb);
    mx_tensor *t = mx_image_load(tmp_path("ok.png"), 2);
    CHECK(t == NULL && strstr(mx_error(), "channels"));
    size_t len;
    unsigned char *png = read_bytes(tmp_path("ok.png"), &len);
    /* cut after the signature, inside IHDR, inside IDAT, before IEND's end */
    const size_t cuts[] = {8, 20, 40, len / 2, len - 4};
    for (size_t i = 0; png && i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(tmp_path("cut.png"), png, cuts[i]);
        check_load_fails(tmp_path("cut.png"), "truncated");
    }
    /* a flipped byte in the image data: CRC error */
    if (png) {
        png[len - 20] ^= 0x55;
        write_bytes(tmp_path("bad.png"), png, len);
        check_load_fails(tmp_path("bad.png"), "PNG");
    }
    free(png);

    write_jpeg(tmp_path("ok.jpg"), 20, 20, 3, rgb, 90);
    unsigned char *jpg = read_bytes(tmp_path("ok.jpg"), &len);
    const size_t jcuts[] = {3, 30, len / 2, len - 2};
    for (size_t i = 0; jpg && i < sizeof jcuts / sizeof jcuts[0]; i++) {
        write_bytes(tmp_path("cut.jpg"), jpg, jcuts[i]);
        check_load_fails(tmp_path("cut.jpg"), "JPEG");
    }
    /* garbage in place of the headers after the start marker */
    if (jpg) {
        memset(jpg + 2, 0x37, 60);
        write_bytes(tmp_path("bad.jpg"), jpg, len);
        check_load_fails(tmp_path("bad.jpg"), "JPEG");
    }
    free(jpg);
    free(rgb);
}

static void put_be32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* Headers that claim huge images are refused before decoding. */
MX_TEST(image_refuses_huge) {
    unsigned char px[4] = {1, 2, 3, 4};
    write_png8(tmp_path("small.png"), 2, 2, 1, px);
    size_t len;
    unsigned char *png = read_bytes(tmp_path("small.png"), &len);
    const uint32_t sizes[][2] = {{20000, 1}, {1, 16385}, {12000, 12000}};
    for (int i = 0; png && i < 3; i++) {
        put_be32(png + 16, sizes[i][0]); /* IHDR width, height, then CRC of type + data */
        put_be32(png + 20, sizes[i][1]);
        put_be32(png + 29, (uint32_t)crc32(0, png + 12, 17));
        write_bytes(tmp_path("huge.png"), png, len);
        char dims[64];
        snprintf(dims, sizeof dims, "%ux%u", sizes[i][0], sizes[i][1]);
        check_load_fails(tmp_path("huge.png"), dims);
    }
    free(png);

    unsigned char *rgb = ramp(8, 8, 3);
    write_jpeg(tmp_path("small.jpg"), 8, 8, 3, rgb, 90);
    unsigned char *jpg = read_bytes(tmp_path("small.jpg"), &len);
    for (size_t i = 2; jpg && i + 8 < len; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) { /* SOF0: length, precision, height, width */
            jpg[i + 7] = 20000 >> 8;
            jpg[i + 8] = 20000 & 0xFF;
            break;
        }
    if (jpg) write_bytes(tmp_path("huge.jpg"), jpg, len);
    check_load_fails(tmp_path("huge.jpg"), "20000x8");
    free(jpg);
    free(rgb);
}

/* ---- decoding from memory (uploads) ---- */

static int same_tensor(const mx_tensor *a, const mx_tensor *b) {
    if (!a || !b || a->rank != b->rank || mx_tensor_size(a) != mx_tensor_size(b)) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return !memcmp(a->data, b->data, sizeof(float) * (size_t)mx_tensor_size(a));
}

MX_TEST(image_decode_from_memory) {
    unsigned char *rgb = ramp(13, 7, 3);
    write_png8(tmp_path("m.png"), 13, 7, 3, rgb);
    write_jpeg(tmp_path("m.jpg"), 13, 7, 3, rgb, 90);
    const char *files[] = {"m.png", "m.jpg"};
    for (int f = 0; f < 2; f++) {
        size_t len;
        unsigned char *bytes = read_bytes(tmp_path(files[f]), &len);
        for (int c = 1; bytes && c <= 3; c += 2) {
            mx_tensor *a = mx_image_load(tmp_path(files[f]), c), *b = mx_image_decode(bytes, len, c);
            CHECK_MSG(same_tensor(a, b), "%s, %d channels: memory and file decoding differ (%s)", files[f], c,
                      mx_error());
            mx_tensor_free(a);
            mx_tensor_free(b);
        }
        int w = 0, h = 0;
        CHECK(bytes && mx_image_info(bytes, len, &w, &h) == 0 && w == 13 && h == 7);
        /* every truncation and a damaged middle fail with a message, never crash */
        for (size_t cut = 0; bytes && cut < len; cut += 1 + len / 23) {
            mx_clear_error();
            mx_tensor *t = mx_image_decode(bytes, cut, 3);
            CHECK_MSG(t == NULL && strstr(mx_error(), "image"), "%s cut at %zu: \"%s\"", files[f], cut, mx_error());
            mx_tensor_free(t);
        }
        if (bytes) {
            memset(bytes + len / 3, 0x5A, len / 3);
            mx_tensor *t = mx_image_decode(bytes, len, 3);
            CHECK_MSG(t == NULL && (strstr(mx_error(), "PNG") || strstr(mx_error(), "JPEG")), "%s damaged: \"%s\"",
                      files[f], mx_error());
            mx_tensor_free(t);
        }
        free(bytes);
    }
    CHECK(mx_image_decode("GIF89a......", 12, 3) == NULL && strstr(mx_error(), "not a PNG or JPEG"));
    CHECK(mx_image_decode(rgb, 10, 2) == NULL && strstr(mx_error(), "channels"));
    int w, h;
    CHECK(mx_image_info("", 0, &w, &h) == -1 && strstr(mx_error(), "empty"));
    free(rgb);
}

/* ---- resizing ---- */

MX_TEST(image_resize_parse) {
    CHECK(mx_resize_parse("bilinear") == MX_RESIZE_BILINEAR);
    CHECK(mx_resize_parse("nearest") == MX_RESIZE_NEAREST);
    CHECK(mx_resize_parse("area") == MX_RESIZE_AREA);
    CHECK(mx_resize_parse("bicubic") == -1 && strstr(mx_error(), "bicubic"));
    CHECK(mx_resize_parse(NULL) == -1);
}

static float *random_image(int h, int w, int c, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)h * w * c);
    uint64_t s = mx_stream(seed, 9, 9, 9);
    for (int64_t i = 0; i < (int64_t)h * w * c; i++) x[i] = 255.0f * mx_uniform(s, (uint64_t)i);
    return x;
}

MX_TEST(image_resize_identity) {
    float *x = random_image(5, 7, 3, 1), y[5 * 7 * 3];
    for (int m = 0; m < 3; m++) {
        memset(y, 0, sizeof y);
        mx_image_resize(x, 5, 7, 3, y, 5, 7, (mx_resize)m);
        CHECK_MSG(memcmp(x, y, sizeof y) == 0, "method %d", m);
    }
    free(x);
}

/* resize one row (h = 1) of n values to m with the method; compare */
static void check_row(mx_resize method, const float *in, int n, const float *want, int m) {
    float out[16];
    for (int column = 0; column < 2; column++) {
        if (column)
            mx_image_resize(in, n, 1, 1, out, m, 1, method);
        else
            mx_image_resize(in, 1, n, 1, out, 1, m, method);
        for (int i = 0; i < m; i++)
            CHECK_MSG(fabsf(out[i] - want[i]) <= 1e-5f, "method %d, %s %d -> %d: [%d] = %g, want %g", (int)method,
                      column ? "column" : "row", n, m, i, out[i], want[i]);
    }
}

MX_TEST(image_resize_bilinear_known) {
    /* tf.image.resize([[1, 2]], bilinear): half-pixel centres, edges clamped */
    check_row(MX_RESIZE_BILINEAR, (const float[]){1, 2}, 2, (const float[]){1, 1.25f, 1.75f, 2}, 4);
    check_row(MX_RESIZE_BILINEAR, (const float[]){1, 2, 3, 4}, 4, (const float[]){1.5f, 3.5f}, 2);
    check_row(MX_RESIZE_BILINEAR, (const float[]){10, 20, 40}, 3, (const float[]){10, 14, 20, 32, 40}, 5);
    /* 2x2 -> 4x4 of [[1, 2], [3, 4]]: 1 + t(x) + 2 t(y), t = 0, 1/4, 3/4, 1; two channels */
    const float in[8] = {1, -1, 2, -2, 3, -3, 4, -4};
    const float t[4] = {0, 0.25f, 0.75f, 1};
    float out[32];
    mx_image_resize(in, 2, 2, 2, out, 4, 4, MX_RESIZE_BILINEAR);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            CHECK_NEAR(out[(y * 4 + x) * 2], 1 + t[x] + 2 * t[y], 1e-6);
            CHECK_NEAR(out[(y * 4 + x) * 2 + 1], -(1 + t[x] + 2 * t[y]), 1e-6);
        }
}

MX_TEST(image_resize_nearest_known) {
    /* floor((o + 0.5) * in / out) */
    check_row(MX_RESIZE_NEAREST, (const float[]){1, 2}, 2, (const float[]){1, 1, 2, 2}, 4);
    check_row(MX_RESIZE_NEAREST, (const float[]){1, 2, 3}, 3, (const float[]){1, 3}, 2);
    check_row(MX_RESIZE_NEAREST, (const float[]){0, 1, 2, 3, 4}, 5, (const float[]){1, 3}, 2);
    check_row(MX_RESIZE_NEAREST, (const float[]){5, 6, 7}, 3, (const float[]){5, 5, 6, 7, 7}, 5);
}

MX_TEST(image_resize_area_known) {
    /* 4x4 -> 2x2: 2x2 block means, per channel */
    float in[4 * 4 * 2], out[2 * 2 * 2];
    for (int i = 0; i < 16; i++) in[2 * i] = (float)i, in[2 * i + 1] = (float)(i * i);
    mx_image_resize(in, 4, 4, 2, out, 2, 2, MX_RESIZE_AREA);
    for (int by = 0; by < 2; by++)
        for (int bx = 0; bx < 2; bx++)
            for (int k = 0; k < 2; k++) {
                float sum = 0;
                for (int y = 0; y < 2; y++)
                    for (int x = 0; x < 2; x++) sum += in[((2 * by + y) * 4 + 2 * bx + x) * 2 + k];
                CHECK_NEAR(out[(by * 2 + bx) * 2 + k], sum / 4, 1e-6);
            }
    /* 3 -> 2: boxes [0, 1.5) and [1.5, 3) */
    check_row(MX_RESIZE_AREA, (const float[]){3, 6, 9}, 3, (const float[]){4, 8}, 2);
    /* enlarging: 2 -> 3 boxes [0, 2/3), [2/3, 4/3), [4/3, 2); 2 -> 4 repeats */
    check_row(MX_RESIZE_AREA, (const float[]){10, 40}, 2, (const float[]){10, 25, 40}, 3);
    check_row(MX_RESIZE_AREA, (const float[]){10, 40}, 2, (const float[]){10, 10, 40, 40}, 4);
    check_row(MX_RESIZE_AREA, (const float[]){1, 2, 3, 4, 5, 6}, 6, (const float[]){3.5f}, 1);
}

/* Every source pixel spreads its whole area over the output: means agree. */
MX_TEST(image_resize_area_keeps_mean) {
    const int sizes[][4] = {{12, 9, 4, 3}, {10, 10, 3, 3}, {37, 23, 5, 7}, {7, 5, 7, 2}};
    for (int s = 0; s < 4; s++) {
        int h = sizes[s][0], w = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3];
        float *x = random_image(h, w, 1, (uint64_t)s), *y = malloc(sizeof(float) * (size_t)oh * ow);
        mx_image_resize(x, h, w, 1, y, oh, ow, MX_RESIZE_AREA);
        double mx = 0, my = 0;
        for (int i = 0; i < h * w; i++) mx += x[i];
        for (int i = 0; i < oh * ow; i++) my += y[i];
        CHECK_NEAR(my / (oh * ow), mx / (h * w), 1e-5);
        free(x);
        free(y);
    }
}

MX_TEST(image_resize_constant) {
    const int sizes[][4] = {{9, 7, 4, 13}, {3, 3, 8, 5}, {100, 80, 7, 9}, {1, 1, 3, 4}, {5, 6, 1, 1}};
    const float value[3] = {17, 200, 0};
    for (int s = 0; s < 5; s++)
        for (int m = 0; m < 3; m++) {
            int h = sizes[s][0], w = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3];
            float *x = malloc(sizeof(float) * (size_t)h * w * 3), *y = malloc(sizeof(float) * (size_t)oh * ow * 3);
            for (int i = 0; i < h * w * 3; i++) x[i] = value[i % 3];
            mx_image_resize(x, h, w, 3, y, oh, ow, (mx_resize)m);
            double worst = 0;
            for (int i = 0; i < oh * ow * 3; i++) worst = fmax(worst, fabs(y[i] - value[i % 3]));
            CHECK_MSG(worst <= 1e-4, "method %d %dx%d -> %dx%d: off by %g", m, h, w, oh, ow, worst);
            free(x);
            free(y);
        }
}

MX_TEST(image_resize_threads) {
    const int sizes[][4] = {{300, 400, 123, 97}, {50, 60, 200, 170}};
    for (int s = 0; s < 2; s++)
        for (int m = 0; m < 3; m++) {
            int h = sizes[s][0], w = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3];
            size_t n = (size_t)oh * ow * 3;
            float *x = random_image(h, w, 3, 5), *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
            CHECK(mx_set_threads(1) == 0);
            mx_image_resize(x, h, w, 3, a, oh, ow, (mx_resize)m);
            CHECK(mx_set_threads(2) == 0);
            mx_image_resize(x, h, w, 3, b, oh, ow, (mx_resize)m);
            CHECK_MSG(memcmp(a, b, sizeof(float) * n) == 0, "method %d differs across threads", m);
            free(x);
            free(a);
            free(b);
        }
    mx_set_threads(1);
}

/* ---- image folders ---- */

/* rps/{scissors,rock,paper} made in unsorted order; expected samples in
 * sorted order with their constant colours */
typedef struct sample {
    const char *file;
    int label;
    unsigned char rgb[3];
    int jpeg;
} sample;

static const sample g_samples[] = {
    {"paper/A.PNG", 0, {20, 20, 20}, 0}, /* byte order: upper case first */
    {"paper/b.png", 0, {10, 100, 200}, 0},
    {"rock/r0.png", 1, {1, 2, 3}, 0},
    {"rock/r1.jpg", 1, {100, 50, 25}, 1},
    {"scissors/s.JPEG", 2, {200, 200, 200}, 1},
};

static const char *make_rps(void) {
    make_dir("rps");
    make_dir("rps/scissors");
    make_dir("rps/rock");
    make_dir("rps/paper");
    make_dir("rps/rock/nested"); /* ignored, with its image */
    make_dir("rps/.hidden");     /* not a class */
    write_bytes(tmp_path("rps/README.txt"), "stray\n", 6);
    write_bytes(tmp_path("rps/paper/notes.txt"), "stray\n", 6);
    write_bytes(tmp_path("rps/rock/.junk.png"), "not an image", 12); /* hidden: ignored */
    const int dims[][2] = {{5, 7}, {8, 3}, {4, 4}, {16, 12}, {9, 11}};
    for (int i = 0; i < 5; i++) {
        const sample *s = &g_samples[i];
        int w = dims[i][0], h = dims[i][1];
        int gray = s->rgb[0] == s->rgb[1] && s->rgb[1] == s->rgb[2];
        unsigned char *px = constant(w, h, gray ? 1 : 3, s->rgb);
        char name[64];
        snprintf(name, sizeof name, "rps/%s", s->file);
        if (s->jpeg)
            write_jpeg(tmp_path(name), w, h, gray ? 1 : 3, px, 100);
        else
            write_png8(tmp_path(name), w, h, gray ? 1 : 3, px);
        free(px);
    }
    unsigned char one = 7;
    write_png8(tmp_path("rps/rock/nested/x.png"), 1, 1, 1, &one);
    return tmp_path("rps");
}

MX_TEST(image_folder_classes) {
    const char *dir = make_rps();
    for (int channels = 1; channels <= 3; channels += 2) {
        mx_dataset *d = mx_image_folder_load(dir, 6, 5, channels, MX_RESIZE_BILINEAR);
        CHECK_MSG(d != NULL, "%s", mx_error());
        if (!d) return;
        CHECK(d->n == 5 && d->rank == 3 && d->shape[0] == 6 && d->shape[1] == 5 && d->shape[2] == channels);
        CHECK(d->n_classes == 3 && d->class_names && !strcmp(d->class_names[0], "paper") &&
              !strcmp(d->class_names[1], "rock") && !strcmp(d->class_names[2], "scissors"));
        for (int i = 0; i < 5; i++) {
            const sample *s = &g_samples[i];
            CHECK(d->y[i] == s->label);
            float want[3] = {s->rgb[0], s->rgb[1], s->rgb[2]}, tol = s->jpeg ? 2.5f : 1e-4f;
            if (channels == 1) want[0] = luma(want[0], want[1], want[2]);
            double worst = 0;
            for (int p = 0; p < 30; p++)
                for (int k = 0; k < channels; k++)
                    worst = fmax(worst, fabs(d->x[(i * 30 + p) * channels + k] - want[k]));
            CHECK_MSG(worst <= tol, "%s with %d channels off by %g", s->file, channels, worst);
        }
        mx_dataset_free(d);
    }
}

MX_TEST(image_folder_threads) {
    make_dir("f");
    const char *classes[] = {"f/b", "f/a"};
    for (int c = 0; c < 2; c++) {
        make_dir(classes[c]);
        for (int i = 0; i < 5; i++) {
            int w = 20 + 7 * i, h = 30 - 3 * i;
            unsigned char *px = ramp(w, h, 3);
            px[(size_t)i * 3] = (unsigned char)(c * 100 + i); /* every image its own */
            char name[64];
            snprintf(name, sizeof name, "%s/%d.%s", classes[c], i, i % 2 ? "jpg" : "png");
            if (i % 2)
                write_jpeg(tmp_path(name), w, h, 3, px, 95);
            else
                write_png8(tmp_path(name), w, h, 3, px);
            free(px);
        }
    }
    CHECK(mx_set_threads(1) == 0);
    mx_dataset *a = mx_image_folder_load(tmp_path("f"), 16, 16, 3, MX_RESIZE_AREA);
    CHECK(mx_set_threads(2) == 0);
    mx_dataset *b = mx_image_folder_load(tmp_path("f"), 16, 16, 3, MX_RESIZE_AREA);
    CHECK(a && b && a->n == 10 && b->n == 10);
    if (a && b) {
        CHECK(memcmp(a->x, b->x, sizeof(float) * 10 * 16 * 16 * 3) == 0);
        CHECK(memcmp(a->y, b->y, sizeof(int32_t) * 10) == 0);
        CHECK(a->y[0] == 0 && a->y[4] == 0 && a->y[5] == 1 && !strcmp(a->class_names[0], "a"));
    }
    mx_dataset_free(a);
    mx_dataset_free(b);
    mx_set_threads(1);
}

static void check_folder_fails(const char *dir, const char *names, const char *what) {
    mx_clear_error();
    mx_dataset *d = mx_image_folder_load(dir, 8, 8, 3, MX_RESIZE_BILINEAR);
    CHECK_MSG(d == NULL, "%s loaded", dir);
    mx_dataset_free(d);
    CHECK_MSG(strstr(mx_error(), names) != NULL, "error \"%s\" does not name %s", mx_error(), names);
    if (what) CHECK_MSG(strstr(mx_error(), what) != NULL, "error \"%s\" does not say \"%s\"", mx_error(), what);
}

MX_TEST(image_folder_errors) {
    check_folder_fails(tmp_path("nowhere"), tmp_path("nowhere"), "cannot open");
    make_dir("empty");
    check_folder_fails(tmp_path("empty"), tmp_path("empty"), "no class");
    make_dir("noimg");
    make_dir("noimg/cats");
    write_bytes(tmp_path("noimg/cats/a.txt"), "x", 1);
    check_folder_fails(tmp_path("noimg"), tmp_path("noimg"), "no .png");
    write_bytes(tmp_path("file"), "x", 1);
    check_folder_fails(tmp_path("file"), tmp_path("file"), NULL);

    /* two unreadable images: the first in sample order is named, whatever the threads */
    make_dir("bad");
    make_dir("bad/a");
    make_dir("bad/b");
    unsigned char px[12] = {0};
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad/%c/%d.png", "ab"[i % 2], i);
        write_png8(tmp_path(name), 2, 2, 3, px);
    }
    write_bytes(tmp_path("bad/b/7.png"), "text renamed", 12);
    write_bytes(tmp_path("bad/b/9.jpg"), "\xFF\xD8\xFF\xE0", 4);
    for (int t = 1; t <= 2; t++) {
        CHECK(mx_set_threads(t) == 0);
        check_folder_fails(tmp_path("bad"), tmp_path("bad/b/7.png"), "not a PNG or JPEG");
    }
    mx_set_threads(1);
    CHECK(mx_image_folder_load(tmp_path("bad"), 8, 8, 2, MX_RESIZE_AREA) == NULL && strstr(mx_error(), "channels"));
    CHECK(mx_image_folder_load(tmp_path("bad"), 0, 8, 3, MX_RESIZE_AREA) == NULL &&
          strstr(mx_error(), tmp_path("bad")));
}

/* ---- augmentation: flips, quarter turns, colour ---- */

/* (h, w, c) image transformed: out(y, x) = in(f(y, x)) for the dihedral map
 * `t`: bit 0 mirror x, bit 1 mirror y, bit 2 transpose (applied first) */
static void dihedral(const float *in, float *out, int h, int w, int c, int t) {
    int oh = t & 4 ? w : h, ow = t & 4 ? h : w;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sy = t & 2 ? oh - 1 - y : y, sx = t & 1 ? ow - 1 - x : x;
            if (t & 4) {
                int tmp = sy;
                sy = sx;
                sx = tmp;
            }
            memcpy(out + ((size_t)y * ow + x) * c, in + ((size_t)sy * w + sx) * c, sizeof(float) * (size_t)c);
        }
}

/* which of the 8 dihedral maps turns in into out (-1: none) */
static int which_map(const float *in, const float *out, int h, int w, int c, float *scratch) {
    for (int t = 0; t < 8; t++) {
        if ((t & 4) && h != w) continue;
        dihedral(in, scratch, h, w, c, t);
        if (!memcmp(scratch, out, sizeof(float) * (size_t)h * w * c)) return t;
    }
    return -1;
}

static float *aug_images(int64_t n, int h, int w, int c, uint64_t seed) { return random_image((int)n * h, w, c, seed); }

MX_TEST(image_augment_flips) {
    const int n = 64, h = 5, w = 6, c = 3, ss = h * w * c;
    float *x = aug_images(n, h, w, c, 1), *y = malloc(sizeof(float) * n * ss), scratch[5 * 6 * 3];
    const mx_augment opts[2] = {{.flip_horizontal = 1}, {.flip_vertical = 1}};
    for (int o = 0; o < 2; o++) {
        mx_augment_images(&opts[o], x, y, n, h, w, c, 3, 0);
        int flipped = 0;
        for (int i = 0; i < n; i++) {
            int t = which_map(x + i * ss, y + i * ss, h, w, c, scratch);
            CHECK_MSG(t == 0 || t == (o ? 2 : 1), "sample %d: map %d", i, t);
            flipped += t != 0;
        }
        CHECK_MSG(flipped > 16 && flipped < 48, "%d of %d flipped", flipped, n);
    }
    free(x);
    free(y);
}

MX_TEST(image_augment_rotate90) {
    const int n = 64, s = 5, c = 2, ss = s * s * c;
    float *x = aug_images(n, s, s, c, 2), *y = malloc(sizeof(float) * n * ss), scratch[5 * 5 * 2];
    mx_augment turn = {.rotate90 = 1};
    mx_augment_images(&turn, x, y, n, s, s, c, 4, 0);
    /* quarter turns counter-clockwise as tf.image.rot90: 0, T then mirror y, both mirrors, T then mirror x */
    const int turn_map[4] = {0, 6, 3, 5};
    int count[4] = {0};
    for (int i = 0; i < n; i++) {
        int t = which_map(x + i * ss, y + i * ss, s, s, c, scratch), k = -1;
        for (int j = 0; j < 4; j++)
            if (t == turn_map[j]) k = j;
        CHECK_MSG(k >= 0, "sample %d: map %d is no rotation", i, t);
        if (k >= 0) count[k]++;
    }
    for (int k = 0; k < 4; k++) CHECK_MSG(count[k] > 5, "%d quarter turns %d times of %d", k, count[k], n);
    /* one turn moves the top-right corner to the top-left; four come back */
    float a[5 * 5 * 2], b[5 * 5 * 2];
    memcpy(a, x, sizeof a);
    for (int r = 0; r < 4; r++) {
        dihedral(a, b, s, s, c, turn_map[1]);
        if (r == 0) CHECK(b[0] == x[(s - 1) * c] && b[1] == x[(s - 1) * c + 1]);
        memcpy(a, b, sizeof a);
    }
    CHECK(memcmp(a, x, sizeof a) == 0);
    /* not square: left alone */
    mx_augment_images(&turn, x, y, 4, 5, 10, 1, 4, 0);
    CHECK(memcmp(x, y, sizeof(float) * 4 * 50) == 0);
    free(x);
    free(y);
}

MX_TEST(image_augment_dihedral) {
    const int n = 80, s = 4, c = 3, ss = s * s * c;
    float *x = aug_images(n, s, s, c, 3), *y = malloc(sizeof(float) * n * ss), scratch[4 * 4 * 3];
    mx_augment all = {.flip_horizontal = 1, .flip_vertical = 1, .rotate90 = 1};
    mx_augment_images(&all, x, y, n, s, s, c, 5, 0);
    int seen[8] = {0}, kinds = 0;
    for (int i = 0; i < n; i++) {
        int t = which_map(x + i * ss, y + i * ss, s, s, c, scratch);
        CHECK(t >= 0);
        if (t >= 0 && !seen[t]++) kinds++;
    }
    CHECK_MSG(kinds == 8, "%d of the 8 symmetries seen", kinds);
    free(x);
    free(y);
}

MX_TEST(image_augment_brightness) {
    const int n = 40, h = 6, w = 5, c = 3, ss = h * w * c;
    float *x = aug_images(n, h, w, c, 4), *y = malloc(sizeof(float) * n * ss);
    mx_augment b = {.brightness = 0.2f};
    mx_augment_images(&b, x, y, n, h, w, c, 6, 0);
    int up = 0, down = 0;
    for (int i = 0; i < n; i++) {
        /* one delta per image, |delta| <= 51, values clamped to 0..255 */
        float delta = NAN;
        for (int k = 0; k < ss && isnan(delta); k++)
            if (y[i * ss + k] > 0 && y[i * ss + k] < 255) delta = y[i * ss + k] - x[i * ss + k];
        for (int k = 0; k < ss; k++) {
            float in = x[i * ss + k], out = y[i * ss + k];
            CHECK_NEAR(out, fminf(fmaxf(in + delta, 0), 255), 1e-3);
        }
        CHECK(fabsf(delta) <= 51.001f);
        up += delta > 0;
        down += delta < 0;
    }
    CHECK(up > 5 && down > 5);
    free(x);
    free(y);
}

MX_TEST(image_augment_contrast) {
    const int n = 30, h = 6, w = 7, c = 3, ss = h * w * c;
    float *x = aug_images(n, h, w, c, 5), *y = malloc(sizeof(float) * n * ss);
    for (int i = 0; i < n * ss; i++) x[i] = 100 + x[i] / 5; /* 100..151: no clamping */
    mx_augment ct = {.contrast = 0.5f};
    mx_augment_images(&ct, x, y, n, h, w, c, 7, 0);
    int changed = 0;
    for (int i = 0; i < n; i++) {
        double f = NAN;
        for (int k = 0; k < c; k++) {
            double mx = 0, my = 0;
            for (int p = 0; p < h * w; p++) mx += x[i * ss + p * c + k], my += y[i * ss + p * c + k];
            mx /= h * w;
            my /= h * w;
            CHECK_NEAR(my, mx, 1e-5); /* about each channel's mean */
            for (int p = 0; p < h * w; p++) {
                double dx = x[i * ss + p * c + k] - mx, dy = y[i * ss + p * c + k] - my;
                if (fabs(dx) < 5) continue;
                if (isnan(f)) f = dy / dx;
                CHECK_NEAR(dy / dx, f, 1e-3); /* one factor for the image */
            }
        }
        CHECK(f >= 0.5 - 1e-3 && f <= 1.5 + 1e-3);
        changed += fabs(f - 1) > 0.01;
    }
    CHECK(changed > n / 2);
    free(x);
    free(y);
}

MX_TEST(image_augment_hue) {
    const int n = 30, h = 4, w = 5, c = 3, ss = h * w * c;
    float *x = aug_images(n, h, w, c, 6), *y = malloc(sizeof(float) * n * ss);
    for (int i = 0; i < n; i++) /* first row gray */
        for (int p = 0; p < w; p++) x[i * ss + p * 3 + 1] = x[i * ss + p * 3 + 2] = x[i * ss + p * 3];
    mx_augment hue = {.hue = 0.5f};
    mx_augment_images(&hue, x, y, n, h, w, c, 8, 0);
    int changed = 0;
    for (int i = 0; i < n; i++) {
        CHECK(memcmp(x + i * ss, y + i * ss, sizeof(float) * (size_t)w * 3) == 0); /* gray stays gray */
        for (int p = 0; p < h * w; p++) {
            const float *a = x + i * ss + p * 3, *b = y + i * ss + p * 3;
            for (int k = 0; k < 3; k++) CHECK(b[k] >= 0 && b[k] <= 255);
            /* a hue turn keeps value (max) and chroma (max - min) */
            CHECK_NEAR(fmaxf(b[0], fmaxf(b[1], b[2])), fmaxf(a[0], fmaxf(a[1], a[2])), 1e-4);
            CHECK_NEAR(fminf(b[0], fminf(b[1], b[2])), fminf(a[0], fminf(a[1], a[2])), 1e-4);
        }
        changed += memcmp(x + i * ss, y + i * ss, sizeof(float) * ss) != 0;
    }
    CHECK(changed > n / 2);
    /* gray images (one channel): no hue */
    mx_augment_images(&hue, x, y, 3, 5, 4, 1, 8, 0);
    CHECK(memcmp(x, y, sizeof(float) * 60) == 0);
    free(x);
    free(y);
}

static const mx_augment g_all = {.shift = 0.1f, .rotation = 10, .zoom = 0.1f, .flip_horizontal = 1,
                                 .flip_vertical = 1, .rotate90 = 1, .brightness = 0.2f, .contrast = 0.3f, .hue = 0.1f};

MX_TEST(image_augment_deterministic) {
    const int64_t n = 12, ss = 10 * 10 * 3;
    float *x = aug_images(n, 10, 10, 3, 7), *a = malloc(sizeof(float) * n * ss), *b = malloc(sizeof(float) * n * ss);
    mx_augment_images(&g_all, x, a, n, 10, 10, 3, 9, 0);
    mx_augment_images(&g_all, x, b, n, 10, 10, 3, 9, 0);
    CHECK(memcmp(a, b, sizeof(float) * n * ss) == 0);
    for (int64_t i = 0; i < n * ss; i++) CHECK(a[i] >= 0 && a[i] <= 255);
    mx_augment_images(&g_all, x, b, n, 10, 10, 3, 10, 0);
    int same = 0;
    for (int64_t i = 0; i < n; i++) same += memcmp(a + i * ss, b + i * ss, sizeof(float) * ss) == 0;
    CHECK(same == 0);
    /* threads */
    CHECK(mx_set_threads(1) == 0);
    mx_augment_images(&g_all, x, a, n, 10, 10, 3, 11, 50);
    CHECK(mx_set_threads(2) == 0);
    mx_augment_images(&g_all, x, b, n, 10, 10, 3, 11, 50);
    CHECK(memcmp(a, b, sizeof(float) * n * ss) == 0);
    mx_set_threads(1);
    /* batching: one at a time gives the same */
    for (int64_t i = 0; i < n; i++) mx_augment_images(&g_all, x + i * ss, b + i * ss, 1, 10, 10, 3, 11, 50 + i);
    CHECK(memcmp(a, b, sizeof(float) * n * ss) == 0);
    /* all new options zero: a copy */
    mx_augment none = {0};
    mx_augment_images(&none, x, a, n, 10, 10, 3, 11, 0);
    CHECK(memcmp(a, x, sizeof(float) * n * ss) == 0);
    free(x);
    free(a);
    free(b);
}

/* Switching a new option on leaves the affine draws alone: with a flip the
 * result is the affine-only one or its mirror. */
MX_TEST(image_augment_keeps_affine_draws) {
    const int n = 20, h = 8, w = 9, c = 2, ss = h * w * c;
    float *x = aug_images(n, h, w, c, 8), *a = malloc(sizeof(float) * n * ss), *b = malloc(sizeof(float) * n * ss);
    float scratch[8 * 9 * 2];
    mx_augment affine = {.shift = 0.1f, .rotation = 20, .zoom = 0.1f}, flip = affine;
    flip.flip_horizontal = 1;
    mx_augment_images(&affine, x, a, n, h, w, c, 12, 0);
    mx_augment_images(&flip, x, b, n, h, w, c, 12, 0);
    int mirrored = 0;
    for (int i = 0; i < n; i++) {
        int t = which_map(a + i * ss, b + i * ss, h, w, c, scratch);
        CHECK(t == 0 || t == 1);
        mirrored += t == 1;
    }
    CHECK(mirrored > 0 && mirrored < n);
    free(x);
    free(a);
    free(b);
}
