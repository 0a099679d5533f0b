/* simd.h: one vector type for every kernel. GCC/Clang vector extensions
 * compile the same source to AVX-512, AVX2, SSE, NEON or WebAssembly SIMD;
 * with MX_NO_SIMD the vector is a plain float and the kernels run scalar. */
#ifndef MX_SIMD_H
#define MX_SIMD_H

#include <math.h>
#include <string.h>

#if defined(MX_NO_SIMD)
#define MX_VL 1
typedef float mx_vf;
#else
#if defined(__AVX512F__)
#define MX_VL 16
#elif defined(__AVX__)
#define MX_VL 8
#else /* SSE, NEON, wasm simd128, or a generic 128-bit lowering */
#define MX_VL 4
#endif
typedef float mx_vf __attribute__((vector_size(MX_VL * sizeof(float))));
#endif

/* Unaligned load/store; memcpy compiles to a single vector move. */
static inline mx_vf mx_vload(const float *p) {
    mx_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void mx_vstore(float *p, mx_vf v) { memcpy(p, &v, sizeof v); }
static inline mx_vf mx_vset1(float x) { return (mx_vf){0} + x; }
#if MX_VL == 1
static inline mx_vf mx_vmax(mx_vf a, mx_vf b) { return a > b ? a : b; }
static inline mx_vf mx_vmin(mx_vf a, mx_vf b) { return a < b ? a : b; }
#else
/* C vector comparisons give all-ones lanes; select through the bits */
typedef int mx_vi __attribute__((vector_size(MX_VL * sizeof(int))));
static inline mx_vf mx_vselect(mx_vi mask, mx_vf a, mx_vf b) {
    return (mx_vf)(((mx_vi)a & mask) | ((mx_vi)b & ~mask));
}
static inline mx_vf mx_vmax(mx_vf a, mx_vf b) { return mx_vselect(a > b, a, b); }
static inline mx_vf mx_vmin(mx_vf a, mx_vf b) { return mx_vselect(a < b, a, b); }
#endif
/* e^x, within 2 ulp (Cephes's range reduction and polynomial); x is
 * clamped to [-87.3, 88.3], where the result stays a normal float. */
static inline mx_vf mx_vexp(mx_vf x) {
#if MX_VL == 1
    return expf(x);
#else
    x = mx_vmin(mx_vmax(x, mx_vset1(-87.3f)), mx_vset1(88.3f));
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick; r = x - n ln 2 in two parts */
    const mx_vf n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    mx_vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    mx_vf p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    const mx_vi e = (__builtin_convertvector(n, mx_vi) + 127) << 23; /* 2^n */
    return p * (mx_vf)e;
#endif
}

static inline float mx_vsum(mx_vf v) {
#if MX_VL == 1
    return v;
#else
    float s = 0;
    for (int i = 0; i < MX_VL; i++) s += v[i];
    return s;
#endif
}

#endif
