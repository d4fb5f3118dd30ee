package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.nativeapi.NativeKernels;

/**
 * The elementwise and per-row steps between the GEMMs: RMSNorm, SwiGLU and the token cross-entropy.
 * libasft's vectorized, threaded kernels on native backends; on the plain-Java backend these
 * loops (exp in double), which the tests use as the reference.
 */
final class StepOps {
    private StepOps() {}

    /** Whether the model's step kernels run in libasft for this backend (every backend but java). */
    static boolean usesNative(Backend be) {
        return !be.name().equals("java") && NativeKernels.available();
    }

    /** act = silu(g) * u. */
    static float[] swiglu(Backend be, float[] g, float[] u) {
        return swiglu(be, g, u, new float[g.length]);
    }

    /** act = silu(g) * u into act (every element written). */
    static float[] swiglu(Backend be, float[] g, float[] u, float[] act) {
        if (usesNative(be)) {
            NativeKernels.swigluForward(g, u, act);
            return act;
        }
        for (int i = 0; i < g.length; i++) act[i] = Ops.silu(g[i]) * u[i];
        return act;
    }

    /** {dg, du} of act = silu(g) * u given dact, into dg and du (every element written). */
    static float[][] swigluBackward(Backend be, float[] g, float[] u, float[] dact, float[] dg, float[] du) {
        if (usesNative(be)) {
            NativeKernels.swigluBackward(g, u, dact, dg, du);
            return new float[][] {dg, du};
        }
        for (int i = 0; i < dact.length; i++) { // one exp: silu(g) = g s, silu'(g) = s (1 + g (1 - s)), s = sigmoid(g)
            double sg = 1.0 / (1.0 + Math.exp(-g[i]));
            du[i] = (float) (dact[i] * g[i] * sg);
            dg[i] = (float) (dact[i] * u[i] * sg * (1 + g[i] * (1 - sg)));
        }
        return new float[][] {dg, du};
    }

    /**
     * Cross-entropy over rows of logits [rows x vocab] with targets (-1: not supervised): fills
     * dlogits = (softmax - onehot) / denominator, returns {sum of row losses, rows counted}.
     */
    static double[] crossEntropy(Backend be, float[] logits, int[] targets, int vocab, long denominator, float[] dlogits) {
        if (usesNative(be)) return NativeKernels.crossEntropy(logits, targets, vocab, denominator, dlogits);
        double lossSum = 0;
        long count = 0;
        for (int r = 0; r < targets.length; r++) {
            int target = targets[r];
            int off = r * vocab;
            if (target < 0) { // every element of dlogits is written, as by the native kernel
                java.util.Arrays.fill(dlogits, off, off + vocab, 0f);
                continue;
            }
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int j = 0; j < vocab; j++) max = Math.max(max, logits[off + j]);
            for (int j = 0; j < vocab; j++) { // exp once per logit, kept in dlogits until z is known
                double e = Math.exp(logits[off + j] - max);
                dlogits[off + j] = (float) e;
                z += e;
            }
            double scale = 1.0 / (z * denominator);
            for (int j = 0; j < vocab; j++) dlogits[off + j] = (float) (dlogits[off + j] * scale);
            dlogits[off + target] = (float) ((Math.exp(logits[off + target] - max) / z - 1) / denominator); // no cancellation in f32
            lossSum += Math.log(z) + max - logits[off + target];
            count++;
        }
        return new double[] {lossSum, count};
    }

    /** RMSNorm of every row of x [rows x dim]. */
    static float[] rmsNorm(Backend be, float[] x, float[] w, int dim, float eps) {
        return rmsNorm(be, x, w, dim, eps, new float[x.length]);
    }

    /** As above into y (every element written). */
    static float[] rmsNorm(Backend be, float[] x, float[] w, int dim, float eps, float[] y) {
        if (!usesNative(be)) System.arraycopy(Ops.rmsNorm(x, w, dim, eps), 0, y, 0, y.length);
        else NativeKernels.rmsNormForward(x, w, dim, eps, y);
        return y;
    }

    /**
     * Its backward: dx (every element written), and dw_i += sum_t dy_ti x_ti / rms_t (in row
     * order) when dw is given.
     */
    static float[] rmsNormBackward(Backend be, float[] x, float[] w, float[] dy, int dim, float eps, java.nio.FloatBuffer dw,
                                   float[] dx) {
        return rmsNormBackward(be, x, w, dy, dim, eps, dw, dx, false);
    }

    /**
     * The same with the input gradient added to dx when accumulate (a residual stream's
     * gradient: the same sums as adding it afterwards, without the extra array and pass).
     */
    static float[] rmsNormBackward(Backend be, float[] x, float[] w, float[] dy, int dim, float eps, java.nio.FloatBuffer dw,
                                   float[] dx, boolean accumulate) {
        if (!usesNative(be)) {
            float[] g = Ops.rmsNormBackward(x, w, dy, dim, eps, dw);
            if (accumulate) Ops.addInPlace(dx, g);
            else System.arraycopy(g, 0, dx, 0, dx.length);
            return dx;
        }
        double[] inv = dw == null ? null : new double[x.length / dim];
        NativeKernels.rmsNormBackward(x, w, dy, dim, eps, dx, inv, accumulate);
        if (dw != null) Ops.addRmsNormWeightGrad(x, dy, inv, dim, dw);
        return dx;
    }
}
