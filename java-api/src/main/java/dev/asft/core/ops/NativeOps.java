package dev.asft.core.ops;

import dev.asft.core.backend.GemmShapes;
import dev.asft.core.backend.PackedWeight;
import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.nativeapi.StepKernels;
import dev.asft.core.tensor.Tensor;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.Pointer;

/**
 * The cpu backend's ops: libasft's vectorized, threaded kernels (the ISA path chosen at load) and
 * OpenBLAS's GEMMs through libasft (its skinny kernel for the LoRA products). Ops without a
 * native kernel run {@link ReferenceOps}' loops on the same host memory.
 */
public final class NativeOps extends ReferenceOps {
    public NativeOps() {
        Throwable t = NativeKernels.tryLoad();
        if (t != null) throw new IllegalStateException("cpu ops unavailable: libasft did not load: " + t, t);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        sameSize(src, dst, "copy");
        Pointer.memcpy(dst.pointer(), src.pointer(), src.byteSize());
    }

    @Override
    public void widen(Tensor src, Tensor dst) {
        dst.requireDType(dev.asft.core.tensor.DType.F32);
        if (dst.numel() < src.numel()) throw new IllegalArgumentException("widen: " + dst.describe() + " is smaller than " + src.describe());
        try (Tensor head = dst.view(0, src.numel())) {
            if (src.dtype() == dev.asft.core.tensor.DType.F32) copy(src, head);
            else NativeKernels.convertToF32(src, head);
        }
    }

    @Override
    public void fill(Tensor x, float v) {
        if (v == 0f && Float.floatToRawIntBits(v) == 0) Pointer.memset(x.pointer(), 0, x.byteSize());
        else super.fill(x, v);
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int[] d = GemmShapes.check(transA, transB, a, b, c);
        StepKernels.sgemm(transA, transB, d[0], d[1], d[2], alpha, a, b, beta, c);
    }

    /** OpenBLAS's own layout and kernels (libasft's packed GEMM), where its probe passed. */
    @Override
    public PackedWeight packWeight(boolean forward, Tensor w) {
        Tensor data = NativeKernels.packedGemmAvailable() ? NativeKernels.packWeight(forward, w) : null;
        return data == null ? null : new PackedWeight(forward, w.dim(0), w.dim(1), data);
    }

    @Override
    public void gemmPacked(boolean forward, PackedWeight packed, Tensor w, float alpha, Tensor x, float beta, Tensor c) {
        if (packed != null && !packed.fits(forward, w))
            throw new IllegalArgumentException("gemmPacked: " + packed + " is not the packed " + (forward ? "forward" : "backward")
                    + " copy of " + w.describe());
        GemmShapes.check(false, forward, x, w, c);
        StepKernels.sgemmPacked(forward, packed == null ? null : packed.data(), w, alpha, x, beta, c);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor w, float eps, Tensor y) {
        int dim = Math.toIntExact(w.numel()), rows = OpChecks.rmsNorm(x, w, y, "rmsnorm");
        StepKernels.rmsNorm(x, w, rows, dim, eps, y);
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor w, Tensor dy, float eps, Tensor dx, boolean accumulate, Tensor dw) {
        int dim = Math.toIntExact(w.numel()), rows = OpChecks.rmsNorm(x, w, dx, "rmsnorm backward");
        need(dy, x.numel(), "rmsnorm backward: dy");
        double[] inv = dw == null ? null : new double[rows];
        StepKernels.rmsNormBackward(x, w, dy, rows, dim, eps, dx, inv, accumulate);
        if (dw != null) addRmsNormWeightGrad(x, dy, inv, dw);
    }

    @Override
    public void rope(Tensor x, int len, int heads, Tensor cos, Tensor sin, int start, boolean inverse) {
        int tokens = OpChecks.rope(x, len, heads, cos, sin, start), half = Math.toIntExact(cos.dim(cos.rank() - 1));
        long positions = cos.numel() / half - start;
        if (tokens == 0) return;
        try (Tensor c = cos.view((long) start * half, positions * half); Tensor s = sin.view((long) start * half, positions * half)) {
            StepKernels.rope(x, tokens, len, heads, 2L * half, c, s, positions, inverse);
        }
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, int[] mask, int batch, int len, int heads, int kvHeads, Tensor out, Tensor probs) {
        int dim = OpChecks.attention(q, k, v, mask, batch, len, heads, kvHeads, out, probs);
        StepKernels.attention(q, k, v, mask, batch, len, heads, kvHeads, dim, out, probs);
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor dout, int[] mask, int batch, int len, int heads, int kvHeads,
                                  Tensor probs, Tensor dq, Tensor dk, Tensor dv) {
        int dim = OpChecks.attentionBackward(q, k, v, dout, mask, batch, len, heads, kvHeads, probs, dq, dk, dv);
        StepKernels.attentionBackward(q, k, v, dout, mask, batch, len, heads, kvHeads, dim, probs, dq, dk, dv);
    }

    @Override
    public void swiglu(Tensor g, Tensor u, Tensor act) {
        OpChecks.sameSizes("swiglu", g, u, act);
        StepKernels.swiglu(g, u, act);
    }

    @Override
    public void swigluBackward(Tensor g, Tensor u, Tensor dact, Tensor dg, Tensor du) {
        OpChecks.sameSizes("swiglu backward", g, u, dact, dg, du);
        StepKernels.swigluBackward(g, u, dact, dg, du);
    }

    @Override
    public double[] crossEntropy(Tensor logits, int[] targets, double denominator, Tensor dlogits) {
        int vocab = OpChecks.crossEntropy(logits, targets, denominator, dlogits);
        return StepKernels.crossEntropy(logits, targets, vocab, denominator, dlogits);
    }
}
