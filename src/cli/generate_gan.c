/* generate_gan.c: `mlexp generate MODEL_DIR` for a GAN's generator: a grid
 * of images from noise drawn from a seed (the same seed, the same grid, on
 * any machine), and the sample grids `mlexp train` draws after each epoch. */
#include "cli/cli.h"

#include <string.h>

/* (y - offset) / scale: the generator's output range back to pixels */
static void to_pixels(float *y, int64_t n, float scale, float offset) {
    for (int64_t i = 0; i < n; i++) y[i] = (y[i] - offset) / scale;
}

int cli_gan_grid(mx_model *g, const float *noise, int rows, int cols, float scale, float offset, const char *path) {
    int64_t shape[MX_MAX_RANK + 1], zshape[MX_MAX_RANK + 1];
    int r = mx_model_output_shape(g, 0, shape + 1), zr = mx_model_input_shape(g, 0, zshape + 1);
    if (r != 3 || (shape[3] != 1 && shape[3] != 3))
        return mx_fail("the generator makes %s samples, not images (height, width, 1 or 3 channels)",
                       mx_shape_str(r, shape + 1, (char[128]){0}, 128));
    const int n = rows * cols, h = (int)shape[1], w = (int)shape[2], c = (int)shape[3], gap = 2;
    shape[0] = zshape[0] = n;
    mx_tensor *z = mx_tensor_new(zr + 1, zshape), *y = mx_tensor_new(r + 1, shape);
    const int gh = rows * h + (rows - 1) * gap, gw = cols * w + (cols - 1) * gap;
    int64_t gsize = (int64_t)gh * gw * c;
    float *grid = mx_alloc_array((size_t)gsize, sizeof(float));
    int rc = -1;
    if (z && y && grid) {
        memcpy(z->data, noise, sizeof(float) * (size_t)mx_tensor_size(z));
        rc = mx_predict(g, z, y, n);
    }
    if (!rc) {
        to_pixels(y->data, mx_tensor_size(y), scale, offset);
        for (int64_t i = 0; i < gsize; i++) grid[i] = 128; /* gray between the tiles */
        for (int k = 0; k < n; k++) {
            int top = k / cols * (h + gap), left = k % cols * (w + gap);
            for (int i = 0; i < h; i++)
                memcpy(grid + ((int64_t)(top + i) * gw + left) * c, y->data + ((int64_t)k * h + i) * w * c,
                       sizeof(float) * (size_t)(w * c));
        }
        rc = mx_png_save(path, grid, gh, gw, c);
    }
    mx_tensor_free(z);
    mx_tensor_free(y);
    mx_free(grid);
    return rc;
}

int cli_gan_output_range(json_t *meta, float *scale, float *offset) {
    json_t *pre = json_object_get(json_object_get(meta, "output"), "preprocessing");
    json_t *s = json_object_get(pre, "scale"), *o = json_object_get(pre, "offset");
    if (!json_is_number(s) || !json_is_number(o) || json_number_value(s) == 0)
        return mx_fail("metadata.json: output.preprocessing needs a non-zero 'scale' and an 'offset' (pixels * scale + "
                       "offset is the generator's range)");
    *scale = (float)json_number_value(s);
    *offset = (float)json_number_value(o);
    return 0;
}

int cli_generate_gan(const char *dir, json_t *meta, int argc, char **argv) {
    const char *seed_s = NULL, *out = NULL, *rows_s = NULL, *cols_s = NULL, *noise_out = NULL;
    const cli_opt opts[] = {
        {"--noise-seed", "S", "seed of the noise (default 0); the same seed gives the same images", &seed_s, NULL},
        {"--out", "PNG", "where the grid goes (required)", &out, NULL},
        {"--rows", "N", "rows of the grid (default 4)", &rows_s, NULL},
        {"--cols", "N", "columns of the grid (default 4)", &cols_s, NULL},
        {"--noise-out", "NPY", "also write the noise (rows * cols, noise size) as float32 .npy, in grid order", &noise_out,
         NULL},
        {0},
    };
    const cli_cmd c = {"generate", "MODEL_DIR --noise-seed S --out grid.png [options]",
                       "A grid of images made by a GAN's generator from standard normal noise drawn from S,\n"
                       "row by row; the generator runs in inference mode (moving statistics).",
                       "The noise of sample k is values k * Z .. (k + 1) * Z - 1 of mx_gan_noise(S): a larger\n"
                       "grid starts with the same images.", opts};
    int p = cli_parse(&c, argc, argv, NULL, 0, 0);
    if (p) return p > 0 ? 0 : 2;
    uint64_t seed = 0;
    int rows = 4, cols = 4;
    if ((seed_s && cli_u64(seed_s, "--noise-seed", &seed)) || (rows_s && cli_int(rows_s, "--rows", 1, 64, &rows)) ||
        (cols_s && cli_int(cols_s, "--cols", 1, 64, &cols))) {
        cli_error("generate", "%s", mx_error());
        return 2;
    }
    if (!out) {
        fprintf(stderr, "mlexp generate: error: --out PNG is required\n");
        return 2;
    }
    float scale, offset;
    if (cli_gan_output_range(meta, &scale, &offset)) return cli_error("generate", "%s/%s", dir, mx_error());
    mx_model *g = mx_model_load(dir);
    if (!g) return cli_error("generate", "%s", mx_error());
    int64_t zshape[MX_MAX_RANK + 1];
    int zr = mx_model_input_shape(g, 0, zshape + 1);
    zshape[0] = rows * cols;
    mx_tensor *z = mx_tensor_new(zr + 1, zshape);
    int rc = z ? 0 : -1;
    if (z) mx_gan_noise(z->data, mx_tensor_size(z), seed);
    if (!rc && noise_out) rc = mx_npy_save(noise_out, z);
    if (!rc) rc = cli_gan_grid(g, z->data, rows, cols, scale, offset, out);
    if (!rc) printf("%d images from noise seed %llu: %s\n", rows * cols, (unsigned long long)seed, out);
    mx_tensor_free(z);
    mx_model_free(g);
    return rc ? cli_error("generate", "%s", mx_error()) : 0;
}
