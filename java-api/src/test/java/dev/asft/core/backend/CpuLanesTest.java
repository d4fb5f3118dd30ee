package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.nativeapi.NativeKernels;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The cpu backend's lanes: tasks at once, each on a thread of its own with one-threaded kernels and BLAS. */
class CpuLanesTest {
    @AfterEach
    void defaults() {
        NativeKernels.setNumThreads(0);
    }

    @Test
    void tasksRunAtOnceEachSingleThreadedAndTheSettingsComeBack() throws Exception {
        NativeKernels.setNumThreads(2);
        CpuBackend cpu = new CpuBackend();
        assertEquals(2, cpu.lanes());
        int blasDefault = NativeKernels.blasThreads(2); // OpenBLAS's own count, not the preset's cached one
        assertEquals(2, NativeKernels.blasThreads(0), "blasThreads(n) sets, blasThreads(0) reads");
        try {
            runTwoOverlappingTasks(cpu, 2);
        } finally {
            NativeKernels.blasThreads(blasDefault);
        }
    }

    private static void runTwoOverlappingTasks(CpuBackend cpu, int blasBefore) throws Exception {
        Thread caller = Thread.currentThread();
        Thread[] ran = new Thread[2];
        int[] kernelThreads = new int[2], blasThreads = new int[2], lanesInside = new int[2];
        CountDownLatch both = new CountDownLatch(2); // each task waits for the other: they must overlap
        boolean[] met = new boolean[2];
        Runnable[] tasks = new Runnable[2];
        for (int i = 0; i < 2; i++) {
            int k = i;
            tasks[i] = () -> {
                ran[k] = Thread.currentThread();
                kernelThreads[k] = NativeKernels.numThreads();
                blasThreads[k] = NativeKernels.blasThreads(0);
                lanesInside[k] = cpu.lanes();
                both.countDown();
                try {
                    met[k] = both.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            };
        }
        cpu.runInLanes(List.of(tasks));
        for (int i = 0; i < 2; i++) {
            assertTrue(met[i], "task " + i + " ran while the other ran");
            assertNotSame(caller, ran[i]);
            assertEquals(1, kernelThreads[i], "libasft capped at one thread in a lane");
            assertEquals(1, blasThreads[i], "OpenBLAS single-threaded while lanes run");
            assertEquals(1, lanesInside[i], "no lanes inside a lane (a nested runInLanes would wait for itself)");
        }
        assertNotSame(ran[0], ran[1]);
        assertEquals(blasBefore, NativeKernels.blasThreads(0), "OpenBLAS's thread count restored");
        assertEquals(2, NativeKernels.numThreads(), "the caller's kernels are not capped");
    }

    @Test
    void aFailureIsRethrownAfterTheOtherTasksFinished() {
        NativeKernels.setNumThreads(2);
        CpuBackend cpu = new CpuBackend();
        IllegalStateException boom = new IllegalStateException("boom");
        AtomicBoolean otherDone = new AtomicBoolean();
        IllegalStateException got = assertThrows(IllegalStateException.class, () -> cpu.runInLanes(List.of(() -> {
            throw boom;
        }, () -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            otherDone.set(true);
        })));
        assertSame(boom, got);
        assertTrue(otherDone.get(), "runInLanes returned only after every task finished");
    }

    @Test
    void moreTasksThanLanesIsAnError() {
        NativeKernels.setNumThreads(2);
        CpuBackend cpu = new CpuBackend();
        Runnable nothing = () -> {};
        assertThrows(IllegalArgumentException.class, () -> cpu.runInLanes(List.of(nothing, nothing, nothing)));
    }
}
