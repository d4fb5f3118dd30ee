package dev.asft.trainer.model;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The float arrays of a training step (activations, their gradients, temporaries), reused
 * instead of allocated: within the step (the backward takes what the forward's layers no
 * longer need) and from one step to the next when the batch shape repeats.
 *
 * <p>Why: a step of the 33M-parameter benchmark model allocates ~0.7 GB of arrays of 2–33 MB.
 * Each is zeroed by the JVM, most are humongous for G1, and the heap they churn through was
 * grown and shrunk by G1 step after step, each growth page-faulting fresh (kernel-zeroed)
 * memory: ~12% of the step, measured against a pre-touched fixed heap.
 *
 * <p>Contract: between {@link #begin} and {@link #end}, {@link #take} returns an array of
 * exactly the asked length with <em>unspecified contents</em> (callers overwrite every
 * element), and {@link #give} returns an array the caller will not touch again; {@link #end}
 * takes back every array handed out in the step, so nothing taken may outlive it. Outside a
 * step, {@code take} is {@code new float[n]} and {@code give} does nothing (inference paths).
 * Only lengths the last step used stay pooled, so varying batch shapes do not pile up arrays.
 * With {@code -Dasft.workspace.poison=true} (the test suite sets it) every taken or given
 * array is filled with NaN: a read before a write, or a use after a give, poisons the result.
 */
final class Workspace {
    private static final boolean POISON = Boolean.getBoolean("asft.workspace.poison");

    private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();
    private final Set<float[]> lent = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Integer> lengthsUsed = new HashSet<>();
    private boolean open;

    /** Starts a step: arrays taken from now on come back at {@link #end}. */
    void begin() {
        if (open) throw new IllegalStateException("a workspace step is already open");
        open = true;
    }

    /** Ends the step: every array it took is free again; lengths it did not use are dropped. */
    void end() {
        for (float[] a : lent) release(a);
        lent.clear();
        free.keySet().retainAll(lengthsUsed);
        lengthsUsed.clear();
        open = false;
    }

    /** An array of length n; in a step its contents are unspecified (the caller writes it all). */
    float[] take(int n) {
        if (!open) return new float[n];
        lengthsUsed.add(n);
        ArrayDeque<float[]> q = free.get(n);
        float[] a = q == null || q.isEmpty() ? new float[n] : q.pop();
        if (POISON) Arrays.fill(a, Float.NaN);
        lent.add(a);
        return a;
    }

    /** An array of length n filled with zeros. */
    float[] zeros(int n) {
        float[] a = take(n);
        if (open) Arrays.fill(a, 0f);
        return a;
    }

    /** A copy of src in a taken array. */
    float[] copyOf(float[] src) {
        float[] a = take(src.length);
        System.arraycopy(src, 0, a, 0, src.length);
        return a;
    }

    /** Gives back arrays this step took and will not use again (others, and nulls, are ignored). */
    void give(float[]... arrays) {
        if (!open) return;
        for (float[] a : arrays)
            if (a != null && lent.remove(a)) release(a);
    }

    private void release(float[] a) {
        if (POISON) Arrays.fill(a, Float.NaN);
        free.computeIfAbsent(a.length, n -> new ArrayDeque<>()).push(a); // last in, first out: still in cache
    }

    /** Floats held for reuse (for tests and memory reports). */
    long pooledFloats() {
        long n = 0;
        for (Map.Entry<Integer, ArrayDeque<float[]>> e : free.entrySet()) n += (long) e.getKey() * e.getValue().size(); // keyed by length
        return n;
    }
}
