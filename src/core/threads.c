/* threads.c: a fixed pool of workers for data-parallel kernels.
 * Workers spin briefly on a generation counter before sleeping, since a
 * training step launches many short regions. Work is split by index ranges
 * (ith/nth) decided by the kernels, so there are no locks inside kernels. */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double mx_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void mx_split_range(int64_t n, int ith, int nth, int64_t *begin, int64_t *end) {
    int64_t q = n / nth, r = n % nth;
    *begin = ith * q + MX_MIN((int64_t)ith, r);
    *end = *begin + q + (ith < r);
}

typedef struct range_task {
    int64_t n;
    mx_range_fn fn;
    void *ctx;
} range_task;

static void range_run(void *p, int ith, int nth) {
    range_task *t = p;
    int64_t b, e;
    mx_split_range(t->n, ith, nth, &b, &e);
    if (b < e) t->fn(t->ctx, b, e);
}

void mx_parallel_for(int64_t n, int64_t grain, mx_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (n < 2 * grain) {
        fn(ctx, 0, n);
        return;
    }
    range_task t = {n, fn, ctx};
    mx_parallel(range_run, &t);
}

/* Denormal floats cost ~100 cycles per operation on x86. Adam's moments of
 * weights whose gradient stays zero (dead ReLU units) decay geometrically
 * and reach them after ~800 steps, which made the update 6x slower and a
 * Fashion CNN epoch 1.5x slower. Flush them to zero on every thread that
 * runs kernels, as TensorFlow does. */
#if defined(__SSE__)
#include <xmmintrin.h>
static void flush_denormals(void) { _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ | DAZ */ }
#else
static void flush_denormals(void) {}
#endif

static _Thread_local float *tl_scratch;
static float *g_main_scratch;

float *mx_scratch(void) {
    if (!tl_scratch) {
        /* caller thread without a pool: one buffer, made once */
        if (!g_main_scratch) g_main_scratch = mx_alloc_array(MX_SCRATCH_FLOATS, sizeof(float));
        tl_scratch = g_main_scratch;
    }
    return tl_scratch;
}

#ifdef MX_NO_THREADS

int mx_set_threads(int n) {
    MX_UNUSED(n);
    flush_denormals();
    return 0;
}
int mx_threads(void) { return 1; }
void mx_parallel(mx_task_fn fn, void *ctx) {
    flush_denormals();
    fn(ctx, 0, 1);
}
void mx_threads_shutdown(void) {}

#else

#include <pthread.h>
#include <stdatomic.h>

typedef struct pool {
    int n; /* threads including the caller */
    pthread_t tid[MX_MAX_THREADS];
    float *scratch[MX_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint_fast64_t generation;
    atomic_int pending; /* workers still running the current task */
    atomic_int quit;
    mx_task_fn fn;
    void *ctx;
} pool;

static pool g_pool;
static int g_started;
static _Thread_local int tl_in_region;

typedef struct worker_arg {
    int ith;
} worker_arg;
static worker_arg g_args[MX_MAX_THREADS];

/* Waking a sleeping thread costs 50-100 us here, far more than the serial
 * gaps between the regions of a training step: spin that long first. */
#define SPIN_SECONDS 300e-6

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *p) {
    int ith = ((worker_arg *)p)->ith;
    tl_scratch = g_pool.scratch[ith];
    flush_denormals();
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen;
        int spins = 0;
        double since = mx_now();
        while ((gen = atomic_load_explicit(&g_pool.generation, memory_order_acquire)) == seen) {
            cpu_relax();
            if (++spins % 1024 || mx_now() - since < SPIN_SECONDS) continue;
            pthread_mutex_lock(&g_pool.mu);
            while (atomic_load(&g_pool.generation) == seen && !atomic_load(&g_pool.quit))
                pthread_cond_wait(&g_pool.wake, &g_pool.mu);
            pthread_mutex_unlock(&g_pool.mu);
            since = mx_now();
            if (atomic_load(&g_pool.quit)) return NULL;
        }
        seen = gen;
        if (atomic_load(&g_pool.quit)) return NULL;
        tl_in_region = 1;
        g_pool.fn(g_pool.ctx, ith, g_pool.n);
        tl_in_region = 0;
        atomic_fetch_sub_explicit(&g_pool.pending, 1, memory_order_acq_rel);
    }
}

void mx_threads_shutdown(void) {
    if (!g_started) return;
    pthread_mutex_lock(&g_pool.mu);
    atomic_store(&g_pool.quit, 1);
    atomic_fetch_add(&g_pool.generation, 1);
    pthread_cond_broadcast(&g_pool.wake);
    pthread_mutex_unlock(&g_pool.mu);
    for (int i = 1; i < g_pool.n; i++) pthread_join(g_pool.tid[i], NULL);
    for (int i = 0; i < g_pool.n; i++) mx_free(g_pool.scratch[i]);
    pthread_mutex_destroy(&g_pool.mu);
    pthread_cond_destroy(&g_pool.wake);
    g_started = 0;
    tl_scratch = NULL;
}

int mx_set_threads(int n) {
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    if (n > MX_MAX_THREADS) n = MX_MAX_THREADS;
    if (g_started && g_pool.n == n) return 0;
    mx_threads_shutdown();
    memset(&g_pool, 0, sizeof g_pool);
    g_pool.n = n;
    for (int i = 0; i < n; i++) {
        g_pool.scratch[i] = mx_alloc_array(MX_SCRATCH_FLOATS, sizeof(float));
        if (!g_pool.scratch[i]) {
            for (int j = 0; j < i; j++) mx_free(g_pool.scratch[j]);
            return -1;
        }
    }
    pthread_mutex_init(&g_pool.mu, NULL);
    pthread_cond_init(&g_pool.wake, NULL);
    tl_scratch = g_pool.scratch[0];
    flush_denormals();
    for (int i = 1; i < n; i++) {
        g_args[i].ith = i;
        if (pthread_create(&g_pool.tid[i], NULL, worker, &g_args[i]) != 0) {
            g_pool.n = i; /* shut down those started */
            g_started = 1;
            mx_threads_shutdown();
            return mx_fail("cannot start worker thread %d", i);
        }
    }
    g_started = 1;
    return 0;
}

int mx_threads(void) { return g_started ? g_pool.n : 1; }

void mx_parallel(mx_task_fn fn, void *ctx) {
    flush_denormals(); /* whichever thread calls the kernels */
    if (!g_started || g_pool.n == 1 || tl_in_region) {
        fn(ctx, 0, 1);
        return;
    }
    g_pool.fn = fn;
    g_pool.ctx = ctx;
    atomic_store_explicit(&g_pool.pending, g_pool.n - 1, memory_order_release);
    pthread_mutex_lock(&g_pool.mu);
    atomic_fetch_add_explicit(&g_pool.generation, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&g_pool.wake);
    pthread_mutex_unlock(&g_pool.mu);
    tl_in_region = 1;
    fn(ctx, 0, g_pool.n);
    tl_in_region = 0;
    while (atomic_load_explicit(&g_pool.pending, memory_order_acquire) > 0) cpu_relax();
}

#endif
