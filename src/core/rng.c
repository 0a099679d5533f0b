/* rng.c: random numbers. Counter-based draws (mx_uniform) give every element
 * its own value independent of threads and batching; xoshiro256** serves the
 * sequential uses (shuffles, initialisers). */
#include "core.h"

#include <math.h>

/* splitmix64 finaliser: a bijective 64-bit mixer. */
uint64_t mx_hash64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t mx_stream(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t h = mx_hash64(seed);
    h = mx_hash64(h ^ a);
    h = mx_hash64(h ^ (b * 0xd6e8feb86659fd93ull));
    return mx_hash64(h ^ (c * 0xa0761d6478bd642full));
}

float mx_uniform(uint64_t stream, uint64_t i) {
    /* 24 random bits: exactly representable, strictly below 1 */
    return (float)(mx_hash64(stream + i * 0x9e3779b97f4a7c15ull) >> 40) * (1.0f / 16777216.0f);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mx_rng_seed(mx_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x = mx_hash64(x);
        r->s[i] = x;
    }
}

uint64_t mx_rng_u64(mx_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mx_rng_uniform(mx_rng *r) { return (double)(mx_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

double mx_rng_normal(mx_rng *r) {
    /* Box-Muller; u1 in (0, 1] avoids log(0) */
    double u1 = 1.0 - mx_rng_uniform(r), u2 = mx_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t mx_rng_below(mx_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = mx_rng_u64(r);
    while (x >= limit);
    return x % n;
}
