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
        private Tensor nativeProbs;
        private float[][] javaProbs;

        @Override
        public void close() {
            if (nativeProbs != null) nativeProbs.close();
            nativeProbs = null;
            javaProbs = null;
        }
    }

    /** Attention output; keeps the probabilities in {@code kept} when it is given and they fit. */
    static float[] forward(Backend be, float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads,
                           int dim, Kept kept) {
        boolean keep = kept != null && 4L * batch * heads * len * len <= GemmAttention.KEEP_PROBS_BYTES;
        if (!StepOps.usesNative(be)) {
            float[][] probs = keep ? new float[batch * heads][] : null;
            if (keep) kept.javaProbs = probs;
            return GemmAttention.forward(be, q, k, v, mask, batch, len, heads, kvHeads, dim, probs);
        }
        float[] out = new float[q.length];
        Tensor probs = keep ? Tensor.allocate(DType.F32, (long) batch * heads * len, len) : null;
        if (keep) kept.nativeProbs = probs;
        NativeKernels.attentionForward(q, k, v, mask, batch, len, heads, kvHeads, dim, out, probs);
        return out;
    }

    /** {dq, dk, dv}; uses (and then frees) what the forward kept, or recomputes the probabilities. */
    static float[][] backward(Backend be, float[] q, float[] k, float[] v, float[] dout, int[] mask, int batch, int len, int heads,
                              int kvHeads, int dim, Kept kept) {
        try {
            if (!StepOps.usesNative(be))
                return GemmAttention.backward(be, q, k, v, dout, mask, batch, len, heads, kvHeads, dim,
                        kept == null ? null : kept.javaProbs);
            float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
            NativeKernels.attentionBackward(q, k, v, dout, mask, batch, len, heads, kvHeads, dim,
                    kept == null ? null : kept.nativeProbs, dq, dk, dv);
            return new float[][] {dq, dk, dv};
        } finally {
            if (kept != null) kept.close();
        }
    }
}
