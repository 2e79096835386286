"""Cadenza's thread pool for C kernels, as C source: ``RUNTIME`` (the pool, built once into its
own library by ``cbuild.runtime()``) and ``POOL_HEADER`` (what every kernel library includes:
``cz_for(task, ctx, n)`` runs tasks t < n over the pool, or in order on the calling thread
while ``cz_pool`` is NULL). ``cbuild.build`` points each library's ``cz_pool`` at the runtime.
Generated kernels (codegen/render_c.py, render_rows.py), the eager C kernels (ckernels.py) and
the GEMM batches (codegen/blas.py) share it. Plain strings, no imports: ckernels imports this at
start-up without loading the builder.
"""

# Every library built here declares this (through POOL_HEADER): kernels split their loops into
# tasks and hand them to Cadenza's one thread pool (RUNTIME below) through ``cz_pool``, which
# build() points at the runtime's ``cz_run``; while it is NULL (no runtime) tasks run in order on
# the calling thread. Tasks write disjoint outputs, so results do not depend on the thread count.
POOL_HEADER = r"""
#include <stdint.h>
typedef void (*cz_task_t)(void *ctx, int64_t t);
/* set by cadenza.backend.cbuild.build: the pool's cz_run (NULL: tasks on the calling thread) */
void (*cz_pool)(cz_task_t, void *, int64_t, int) = 0;
static inline void cz_for(cz_task_t fn, void *ctx, int64_t n) {
    if (cz_pool && n > 1) cz_pool(fn, ctx, n, 0);
    else for (int64_t t = 0; t < n; t++) fn(ctx, t);
}
"""

# The pool. Not OpenMP: an OpenMP region waits at its end for every thread it woke, and on 2
# cores the second core is often held by OpenBLAS's worker spinning after a matmul (or the
# machine is loaded): the kernel then waits for a timeslice (measured 2x slower softmax,
# halved W1 throughput). Here the caller posts a job (tasks t < n), works through the tasks
# itself, and waits only for tasks a woken worker has claimed (a claim is (job generation << 32
# | task), taken with compare-and-swap, so a worker that wakes after its job ended claims
# nothing); workers spin for ``cz_spin_ns`` after a job (the next kernel usually follows at
# once), then sleep on a condition variable. One job at a time: a caller that finds the pool
# busy (another Python thread, a task that calls a kernel) runs its tasks itself.
RUNTIME = r"""/* cadenza's kernel thread pool (cadenza.backend.cbuild.RUNTIME) */
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#define CZ_RELAX() __builtin_ia32_pause()
#else
#define CZ_RELAX() ((void)0)
#endif
typedef int64_t I;
typedef void (*task_t)(void *ctx, I t);
int cz_threads = 1;           /* threads of a job (the caller included); set by cbuild */
I cz_spin_ns = 0;             /* how long an idle worker polls for the next job */
/* jobs shared, back-offs, seconds waited, seconds worked (by the caller), tasks run by workers,
   jobs offered (calls with more than one task, shared or not: which kernels use the pool),
   tasks of the shared jobs (with [4]: the share the workers took) */
double cz_stats[7];
static pthread_mutex_t cz_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cz_cv = PTHREAD_COND_INITIALIZER;
static task_t cz_fn;
static void *cz_ctx;
static I cz_n;
static _Atomic uint64_t cz_gen;
static _Atomic uint64_t cz_next;
static _Atomic I cz_done;
static int cz_workers;
static _Atomic I cz_by_workers;
static pthread_mutex_t cz_job_mu = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
/* jobs left to run on the calling thread alone: set when the caller waited longer for a
   worker's claimed task than it worked itself (a woken worker finishing a small job's last
   task, or one that lost its core mid-task: the machine is oversubscribed); then the pool is
   tried again. A long job (a product's blocks, threads < 0 in cz_run) skips this back-off
   and keeps only the one set when the wait was also longer than cz_backoff_wait seconds
   (cz_backoff_long: a worker that lost its core): small jobs' back-offs left W3's compiled
   step's products on one thread, where decoding steps (W2) need them for their tiny jobs. */
static int cz_backoff, cz_backoff_long;
double cz_backoff_wait = 2e-4;    /* set by cbuild (CADENZA_POOL_BACKOFF_US) */

static double cz_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static I cz_work(uint64_t gen, task_t fn, void *ctx, I n) {
    I did = 0;
    for (;;) {
        uint64_t v = atomic_load(&cz_next);
        if ((v >> 32) != (gen & 0xffffffffu) || (I)(v & 0xffffffffu) >= n) return did;
        if (!atomic_compare_exchange_weak(&cz_next, &v, v + 1)) continue;
        fn(ctx, (I)(v & 0xffffffffu));
        atomic_fetch_add(&cz_done, 1);
        did++;
    }
}

static void *cz_worker(void *arg) {
    (void)arg;
    uint64_t seen = atomic_load(&cz_gen);
    for (;;) {
        if (cz_spin_ns > 0) {
            double end = cz_now() + 1e-9 * cz_spin_ns;
            while (atomic_load(&cz_gen) == seen && cz_now() < end)
                CZ_RELAX();
        }
        pthread_mutex_lock(&cz_mu);
        while (atomic_load(&cz_gen) == seen) pthread_cond_wait(&cz_cv, &cz_mu);
        seen = atomic_load(&cz_gen);
        task_t fn = cz_fn;
        void *ctx = cz_ctx;
        I n = cz_n;
        pthread_mutex_unlock(&cz_mu);
        I did = cz_work(seen, fn, ctx, n);
        if (did) atomic_fetch_add(&cz_by_workers, did);
    }
    return 0;
}

static void cz_after_fork(void) {   /* the child has no workers; locks start free */
    pthread_mutex_init(&cz_mu, 0);
    pthread_mutex_init(&cz_job_mu, 0);
    pthread_cond_init(&cz_cv, 0);
    cz_workers = 0;
}

/* runs fn(ctx, t) for every t < n on up to `threads` threads (0: cz_threads; < 0: -threads,
   a long job that skips the short back-off) */
void cz_run(task_t fn, void *ctx, I n, int threads) {
    static int forked;
    int long_job = threads < 0;
    if (n > 1) cz_stats[5] += 1;
    if (long_job) threads = -threads;
    if (threads == 0) threads = cz_threads;
    if (cz_backoff_long > 0) {
        cz_backoff_long--;
        threads = 1;
    }
    if (!long_job && cz_backoff > 0) {
        cz_backoff--;
        threads = 1;
    }
    /* never block here: a worker that just woke holds cz_mu and may have lost its core */
    if (threads > 1 && n > 1 && pthread_mutex_trylock(&cz_job_mu) == 0 &&
            (pthread_mutex_trylock(&cz_mu) == 0 || (pthread_mutex_unlock(&cz_job_mu), 0))) {
        double t0 = cz_now();
        if (!forked) { pthread_atfork(0, 0, cz_after_fork); forked = 1; }
        while (cz_workers < threads - 1) {
            pthread_t th;
            if (pthread_create(&th, 0, cz_worker, 0)) break;
            pthread_detach(th);
            cz_workers++;
        }
        uint64_t gen = atomic_load(&cz_gen) + 1;
        cz_fn = fn; cz_ctx = ctx; cz_n = n;
        atomic_store(&cz_done, 0);
        atomic_store(&cz_next, (gen & 0xffffffffu) << 32);
        atomic_store(&cz_gen, gen);
        pthread_cond_broadcast(&cz_cv);
        pthread_mutex_unlock(&cz_mu);
        cz_work(gen, fn, ctx, n);
        double t1 = cz_now();
        while (atomic_load(&cz_done) < n) sched_yield();
        double t2 = cz_now();
        cz_stats[0] += 1; cz_stats[2] += t2 - t1; cz_stats[3] += t1 - t0;
        cz_stats[4] = atomic_load(&cz_by_workers);
        cz_stats[6] += n;
        if (t2 - t1 > t1 - t0) {
            cz_backoff = 64;
            if (t2 - t1 > cz_backoff_wait) cz_backoff_long = 64;
            cz_stats[1] += 1;
        }
        pthread_mutex_unlock(&cz_job_mu);
    } else {   /* one thread, or another thread's job is running: on this thread */
        for (I t = 0; t < n; t++) fn(ctx, t);
    }
}
"""
