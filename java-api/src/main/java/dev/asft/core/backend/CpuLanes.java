package dev.asft.core.backend;

import dev.asft.core.nativeapi.NativeKernels;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The cpu backend's lanes: independent tasks at once, one per core, each single-threaded.
 * libasft's kernels are capped at one thread on the lane threads (a thread-local cap set once
 * per thread); OpenBLAS's thread count is process-wide, so it is 1 while lanes run and restored
 * after. Why: on the 2-core dev VM two single-threaded halves of a training step ran in 0.97–1.04 s
 * against 1.16–1.22 s for the whole step on two threads (every GEMM and kernel forks and joins,
 * and small products split unevenly).
 */
final class CpuLanes {
    private static final AtomicInteger NEXT = new AtomicInteger();
    /** Set on lane threads: work running in a lane gets no lanes of its own (no nesting, no deadlock). */
    private static final ThreadLocal<Boolean> IN_LANE = ThreadLocal.withInitial(() -> false);
    private static ExecutorService pool;
    private static int poolSize;

    private CpuLanes() {}

    /** Lanes available: the kernels' thread count (one core each); 1 inside a lane. */
    static int lanes() {
        return IN_LANE.get() ? 1 : Math.max(1, NativeKernels.numThreads());
    }

    /** One lane thread per task (grown as needed, daemon threads, kept for the process). */
    private static synchronized ExecutorService pool(int n) {
        if (pool == null || poolSize < n) {
            if (pool != null) pool.shutdown();
            pool = Executors.newFixedThreadPool(n, r -> {
                Thread t = new Thread(() -> {
                    NativeKernels.setThreadCap(1);
                    IN_LANE.set(true);
                    r.run();
                }, "asft-lane-" + NEXT.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            poolSize = n;
        }
        return pool;
    }

    /** Serialized: OpenBLAS's thread count is one setting for the whole process. */
    static synchronized void run(List<Runnable> tasks) {
        if (tasks.size() <= 1) {
            for (Runnable t : tasks) t.run();
            return;
        }
        ExecutorService p = pool(tasks.size());
        int blasThreads = NativeKernels.blasThreads(1);
        try {
            // Each task reports into a slot allocated here and counts down whatever happens, so an
            // error in a lane, an OutOfMemoryError included (whose reporting could itself fail for
            // want of memory), can neither kill the lane unseen nor leave this thread waiting forever.
            Throwable[] errors = new Throwable[tasks.size()];
            CountDownLatch done = new CountDownLatch(tasks.size());
            for (int i = 0; i < tasks.size(); i++) {
                int slot = i;
                Runnable task = tasks.get(i);
                try {
                    p.execute(() -> {
                        try {
                            task.run();
                        } catch (Throwable t) {
                            errors[slot] = t;
                        } finally {
                            done.countDown();
                        }
                    });
                } catch (Throwable t) { // not started (no thread, no memory): the rest are not started either
                    for (int k = i; k < tasks.size(); k++) done.countDown();
                    errors[i] = t;
                    break;
                }
            }
            boolean interrupted = false;
            while (true) {
                try {
                    done.await(); // the lanes use arrays the caller owns: wait for them regardless
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            Throwable first = null;
            for (Throwable t : errors) if (first == null || (t instanceof OutOfMemoryError && !(first instanceof OutOfMemoryError))) first = t;
            if (first instanceof RuntimeException re) throw re;
            if (first instanceof Error err) throw err;
            if (first != null) throw new IllegalStateException(first);
        } finally {
            NativeKernels.blasThreads(blasThreads);
        }
    }
}
