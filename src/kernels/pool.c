/* pool.c: pooling kernels. */
#include "kernels/pool.h"

#include "kernels/simd.h"

void mx_maxpool_2x2(const float *x, int64_t h, int64_t w, int64_t c, float *y) {
    const int64_t oh = h / 2, ow = w / 2;
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            const float *a = x + ((2 * oy) * w + 2 * ox) * c, *b = a + w * c;
            float *o = y + (oy * ow + ox) * c;
            int64_t ch = 0;
            for (; ch + MX_VL <= c; ch += MX_VL)
                mx_vstore(o + ch, mx_vmax(mx_vmax(mx_vload(a + ch), mx_vload(a + c + ch)),
                                          mx_vmax(mx_vload(b + ch), mx_vload(b + c + ch))));
            for (; ch < c; ch++) {
                float m = a[ch] > a[c + ch] ? a[ch] : a[c + ch], n = b[ch] > b[c + ch] ? b[ch] : b[c + ch];
                o[ch] = m > n ? m : n;
            }
        }
}
