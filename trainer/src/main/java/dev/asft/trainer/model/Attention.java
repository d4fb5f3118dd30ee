package dev.asft.trainer.model;

import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.Tensor;

/**
 * The training attention of one layer: the backend's attention op, with the forward's
 * probabilities kept for the backward when they are small enough (the backward then skips
 * recomputing them).
 */
final class Attention {
    /** Attention probabilities kept per layer up to this many bytes; above it the backward recomputes them. */
    static final long KEEP_PROBS_BYTES = 64L << 20;

    private Attention() {}

    /**
     * One buffer per layer for the kept probabilities, grown as needed and reused from step to
     * step. Fresh 8 MiB buffers per layer and step went back to the OS at each step's end (glibc
     * trims the freed top of its heap) and were page-faulted in again by the next forward: ~2% of
     * a step in the kernel's page zeroing, plus TLB shootdowns.
     */
    static final class ProbBuffers implements AutoCloseable {
        private final TensorOps ops;
        private final java.util.List<Tensor> buffers = new java.util.ArrayList<>();

        ProbBuffers(TensorOps ops) {
            this.ops = ops;
        }

        /** A view of the first {@code floats} floats of the layer's buffer (valid until its next view or close). */
        Tensor view(int layer, long floats) {
            while (buffers.size() <= layer) buffers.add(null);
            Tensor b = buffers.get(layer);
            if (b == null || b.numel() < floats) {
                if (b != null) b.close();
                b = ops.allocate(floats);
                buffers.set(layer, b);
            }
            return b.view(0, floats);
        }

        @Override
        public void close() {
            for (Tensor b : buffers) if (b != null) b.close();
            buffers.clear();
        }
    }

    /**
     * Attention output into out (every element written); returns the layer's kept probabilities
     * (a view of the lane's buffer) when keep is asked and they fit, else null.
     */
    static Tensor forward(TensorOps ops, Lane lane, int layer, boolean keep, Tensor q, Tensor k, Tensor v, int[] mask, int batch,
                          int len, int heads, int kvHeads, Tensor out) {
        Tensor probs = keep && ops.keepsAttentionProbs() && 4L * batch * heads * len * len <= KEEP_PROBS_BYTES
                ? lane.probs.view(layer, (long) batch * heads * len * len) : null;
        ops.attention(q, k, v, mask, batch, len, heads, kvHeads, out, probs);
        return probs;
    }
}
