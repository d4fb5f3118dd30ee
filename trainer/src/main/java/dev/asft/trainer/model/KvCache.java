package dev.asft.trainer.model;

import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.Tensor;

/**
 * One sequence's keys and values for incremental decoding: per layer [capacity x kvHeads*D]
 * tensors of the backend's memory, positions [0, length) filled. Close it when the sequence is done.
 */
public final class KvCache implements AutoCloseable {
    final Tensor[] k, v;
    final int capacity;
    int length;

    KvCache(TensorOps ops, int layers, int capacity, int kvDim) {
        this.capacity = capacity;
        k = new Tensor[layers];
        v = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            k[l] = ops.allocate(capacity, kvDim);
            v[l] = ops.allocate(capacity, kvDim);
        }
    }

    /** Positions filled. */
    public int length() {
        return length;
    }

    @Override
    public void close() {
        for (Tensor t : k) t.close();
        for (Tensor t : v) t.close();
    }
}
