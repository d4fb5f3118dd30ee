package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * The training attention (causal, grouped-query, padded keys excluded): libasft's row kernels
 * (half the work of T x T GEMMs, threads over heads) on every native backend; the
 * {@link GemmAttention} form on the plain-Java backend, which tests use as an independent path.
 * {@link Ops#attention} stays the plain reference of both.
 */
final class Attention {
    private Attention() {}

    /** The forward's probabilities, kept for the backward when they fit {@link GemmAttention#KEEP_PROBS_BYTES}. */
    static final class Kept implements AutoCloseable {
        private final ProbBuffers pool;
        private final int layer;
        private Tensor nativeProbs;
        private float[][] javaProbs;

        /** Probabilities in the pool's buffer for this layer (reused by the next step's forward). */
        Kept(ProbBuffers pool, int layer) {
            this.pool = pool;
            this.layer = layer;
        }

        private Tensor take(long floats) {
            nativeProbs = pool.view(layer, floats);
            return nativeProbs;
        }

        @Override
        public void close() {
            if (nativeProbs != null) nativeProbs.close(); // a view: frees nothing, the pool keeps the buffer
            nativeProbs = null;
            javaProbs = null;
        }
    }

    /**
     * One native buffer per layer for the kept probabilities, grown as needed and reused from
     * step to step. Fresh 8 MiB buffers per layer and step went back to the OS at each step's end
     * (glibc trims the freed top of its heap) and were page-faulted in again by the next forward:
     * ~2% of a step in the kernel's page zeroing, plus TLB shootdowns.
     */
    static final class ProbBuffers implements AutoCloseable {
        private final java.util.List<Tensor> buffers = new java.util.ArrayList<>();

        /** A view of the first {@code floats} floats of the layer's buffer (valid until its next view or close). */
        Tensor view(int layer, long floats) {
            while (buffers.size() <= layer) buffers.add(null);
            Tensor b = buffers.get(layer);
            if (b == null || b.numel() < floats) {
                if (b != null) b.close();
                b = Tensor.allocate(DType.F32, floats);
                buffers.set(layer, b);
            }
            return Tensor.wrap(b.buffer().slice(0, Math.toIntExact(4 * floats)), DType.F32, floats);
        }

        @Override
        public void close() {
            for (Tensor b : buffers) if (b != null) b.close();
            buffers.clear();
        }
    }

    /**
     * Attention output into out (every element written); keeps the probabilities in {@code kept}
     * when it is given and they fit.
     */
    static float[] forward(Backend be, float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads,
                           int dim, Kept kept, float[] out) {
        boolean keep = kept != null && 4L * batch * heads * len * len <= GemmAttention.KEEP_PROBS_BYTES;
        if (!StepOps.usesNative(be)) {
            float[][] probs = keep ? new float[batch * heads][] : null;
            if (keep) kept.javaProbs = probs;
            float[] o = GemmAttention.forward(be, q, k, v, mask, batch, len, heads, kvHeads, dim, probs);
            System.arraycopy(o, 0, out, 0, out.length);
            return out;
        }
        Tensor probs = keep ? kept.take((long) batch * heads * len * len) : null;
        NativeKernels.attentionForward(q, k, v, mask, batch, len, heads, kvHeads, dim, out, probs);
        return out;
    }

    /**
     * {dq, dk, dv} into the given arrays (every element written); uses (and then frees) what the
     * forward kept, or recomputes the probabilities.
     */
    static float[][] backward(Backend be, float[] q, float[] k, float[] v, float[] dout, int[] mask, int batch, int len, int heads,
                              int kvHeads, int dim, Kept kept, float[] dq, float[] dk, float[] dv) {
        try {
            if (!StepOps.usesNative(be)) {
                float[][] g = GemmAttention.backward(be, q, k, v, dout, mask, batch, len, heads, kvHeads, dim,
                        kept == null ? null : kept.javaProbs);
                System.arraycopy(g[0], 0, dq, 0, dq.length);
                System.arraycopy(g[1], 0, dk, 0, dk.length);
                System.arraycopy(g[2], 0, dv, 0, dv.length);
                return new float[][] {dq, dk, dv};
            }
            NativeKernels.attentionBackward(q, k, v, dout, mask, batch, len, heads, kvHeads, dim,
                    kept == null ? null : kept.nativeProbs, dq, dk, dv);
            return new float[][] {dq, dk, dv};
        } finally {
            if (kept != null) kept.close();
        }
    }
}
