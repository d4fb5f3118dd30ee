package dev.asft.core.backend;

import dev.asft.core.tensor.Tensor;

/**
 * A frozen weight [rows x cols] packed once for one direction of a backend's GEMMs (forward:
 * y = x W^T, backward: dx = dy W), so that each call skips packing it ({@link dev.asft.core.ops.TensorOps#packWeight},
 * {@link dev.asft.core.ops.TensorOps#gemmPacked}). Holds off-heap memory: close it.
 */
public record PackedWeight(boolean forward, long rows, long cols, Tensor data) implements AutoCloseable {
    /** Whether this is the packed copy of a weight of w's shape for the given direction. */
    public boolean fits(boolean forward, Tensor w) {
        return this.forward == forward && w.rank() == 2 && w.dim(0) == rows && w.dim(1) == cols;
    }

    @Override
    public void close() {
        data.close();
    }
}
