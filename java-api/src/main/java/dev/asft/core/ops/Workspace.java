package dev.asft.core.ops;

import dev.asft.core.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tensors of a training step (activations, their gradients, temporaries), allocated by the
 * backend's {@link TensorOps#allocate} and reused instead of allocated again: within the step (the
 * backward takes what the forward's layers no longer need) and from one step to the next while
 * the batch shape repeats, so the memory of a batch shape is allocated once.
 *
 * <p>Why pooled: a step of the 33M-parameter benchmark model uses ~0.7 GB of activations in
 * 2–33 MB pieces; fresh memory each step is page-faulted (kernel-zeroed) again every step, and on a
 * GPU an allocation per activation would synchronize the device.
 *
 * <p>Contract: between {@link #begin} and {@link #end}, {@link #take} returns a tensor of exactly
 * the asked shape with <em>unspecified contents</em> (callers overwrite every element), and
 * {@link #give} returns one the caller will not touch again; {@link #end} takes back every tensor
 * of the step, so nothing taken may outlive it. Outside a step, {@code take} allocates a tensor
 * the caller owns and closes. Only shapes the last step used stay pooled, so varying batch shapes
 * do not pile up. With {@code -Dasft.workspace.poison=true} (the test suite sets it) every taken
 * or given tensor is filled with NaN: a read before a write, or a use after a give, poisons the result.
 */
public final class Workspace implements AutoCloseable {
    private static final boolean POISON = Boolean.getBoolean("asft.workspace.poison");

    private final TensorOps ops;
    private final Map<List<Long>, ArrayDeque<Tensor>> free = new HashMap<>();
    private final Set<Tensor> lent = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<List<Long>> shapesUsed = new HashSet<>();
    private boolean open;

    Workspace(TensorOps ops) {
        this.ops = ops;
    }

    /** Starts a step: tensors taken from now on come back at {@link #end}. */
    public void begin() {
        if (open) throw new IllegalStateException("a workspace step is already open");
        open = true;
    }

    /** Ends the step: every tensor it took is free again; shapes it did not use are freed. */
    public void end() {
        for (Tensor t : lent) release(t);
        lent.clear();
        free.entrySet().removeIf(e -> {
            if (shapesUsed.contains(e.getKey())) return false;
            for (Tensor t : e.getValue()) t.close();
            return true;
        });
        shapesUsed.clear();
        open = false;
    }

    /** Whether a step is open. */
    public boolean open() {
        return open;
    }

    /** A tensor of the shape; in a step its contents are unspecified (the caller writes it all). */
    public Tensor take(long... shape) {
        if (!open) return ops.allocate(shape);
        List<Long> key = key(shape);
        shapesUsed.add(key);
        ArrayDeque<Tensor> q = free.get(key);
        Tensor t = q == null || q.isEmpty() ? ops.allocate(shape) : q.pop();
        if (POISON) ops.fill(t, Float.NaN);
        lent.add(t);
        return t;
    }

    /** A tensor of the shape filled with zeros. */
    public Tensor zeros(long... shape) {
        Tensor t = take(shape);
        ops.fill(t, 0f);
        return t;
    }

    /** Gives back tensors this step took and will not use again (others, and nulls, are ignored). */
    public void give(Tensor... tensors) {
        if (!open) return;
        for (Tensor t : tensors)
            if (t != null && lent.remove(t)) release(t);
    }

    private void release(Tensor t) {
        if (POISON) ops.fill(t, Float.NaN);
        free.computeIfAbsent(key(t.shape()), k -> new ArrayDeque<>()).push(t); // last in, first out: still in cache
    }

    private static List<Long> key(long[] shape) {
        Long[] k = new Long[shape.length];
        for (int i = 0; i < shape.length; i++) k[i] = shape[i];
        return Arrays.asList(k);
    }

    /** Floats held for reuse (tests and memory reports). */
    public long pooledFloats() {
        long n = 0;
        for (ArrayDeque<Tensor> q : free.values())
            for (Tensor t : q) n += t.numel();
        return n;
    }

    /** Frees every pooled tensor (a step must not be open). */
    @Override
    public void close() {
        if (open) end();
        for (ArrayDeque<Tensor> q : free.values())
            for (Tensor t : q) t.close();
        free.clear();
    }
}
