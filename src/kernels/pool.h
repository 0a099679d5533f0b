/* pool.h: pooling kernels shared by the pooling layers and the
 * convolutions that pool their own output in inference. */
#ifndef MX_POOL_KERNEL_H
#define MX_POOL_KERNEL_H

#include <stdint.h>

/* y (h/2, w/2, c) = max over 2x2 windows, stride 2, of x (h, w, c) (one image,
 * padding valid: an odd last row or column is dropped). */
void mx_maxpool_2x2(const float *x, int64_t h, int64_t w, int64_t c, float *y);

#endif
