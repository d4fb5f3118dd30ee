package dev.asft.core.backend;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;
import static org.bytedeco.openblas.global.openblas.CblasUpper;

import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.nativeapi.Shapes;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.FloatBuffer;
import org.bytedeco.openblas.global.openblas;

/**
 * libasft's CPU kernels (AVX-512 / AVX2 / generic, chosen at load time; OpenMP threads) for
 * the streaming hot path, and OpenBLAS (org.bytedeco:openblas) for the large products of
 * anchor building and the dense reference formulation.
 */
public final class CpuBackend implements Backend {
    private static volatile dev.asft.core.ops.NativeOps sharedOps;
    private final dev.asft.core.ops.NativeOps OPS;

    public CpuBackend() {
        Throwable t = NativeKernels.tryLoad();
        if (t != null) throw new IllegalStateException("cpu backend unavailable: libasft did not load: " + t, t);
        if (sharedOps == null) sharedOps = new dev.asft.core.ops.NativeOps(); // stateless: one per process
        OPS = sharedOps;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String describe() {
        return "cpu: libasft " + NativeKernels.version() + " (" + NativeKernels.cpuIsa() + ", "
                + NativeKernels.numThreads() + " threads) + OpenBLAS " + openblas.OPENBLAS_VERSION.trim();
    }

    @Override
    public int lanes() {
        return CpuLanes.lanes();
    }

    @Override
    public void runInLanes(java.util.List<Runnable> tasks) {
        if (tasks.size() > lanes()) throw new IllegalArgumentException(tasks.size() + " tasks for " + lanes() + " lanes");
        CpuLanes.run(tasks);
    }

    @Override
    public void matmulSkinny(Tensor m, Tensor x, Tensor out) {
        NativeKernels.matmulSkinny(m, x, out);
    }

    @Override
    public double regularizer(Tensor anchor, AnchorForm form, Tensor a, Tensor b, Tensor gradA, Tensor gradB,
                              float gradScale) {
        return NativeKernels.regularizerDense(anchor, form == AnchorForm.C, a, b, gradA, gradB, gradScale);
    }

    @Override
    public double regularizerLowRank(Tensor u, Tensor w, Tensor a, Tensor b, Tensor gradA, Tensor gradB,
                                     float gradScale) {
        return NativeKernels.regularizerLowRank(u, w, a, b, gradA, gradB, gradScale);
    }

    @Override
    public double loraFinish(Tensor g, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale) {
        return NativeKernels.loraFinish(g, a, b, gradA, gradB, gradScale);
    }

    @Override
    public CodeAnchorMatrix codeAnchor(Tensor aligned, Tensor base, AnchorForm form, DType storage) {
        AnchorChecks.checkPair(aligned, base, storage);
        int dOut = Math.toIntExact(aligned.dim(0)), dIn = Math.toIntExact(aligned.dim(1));
        try (Tensor v = Tensor.allocate(DType.F32, dOut, dIn)) {
            double norm = Math.sqrt(NativeKernels.subToF32(aligned, base, v));
            Tensor c = Tensor.allocate(DType.F32, dOut, dOut);
            try {
                // C = V V^T / ||V||_F: a symmetric rank-k update, half the flops of a GEMM.
                float alpha = norm > 0 ? (float) (1.0 / norm) : 0f;
                openblas.cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, dOut, dIn, alpha, v.floatPointer(), dIn,
                        0f, c.floatPointer(), dOut);
                NativeKernels.symmetrizeUpper(c);
                Tensor out = c;
                if (form == AnchorForm.Q) {
                    // Q = (I - C)^T (I - C) = M M^T with M = I - C symmetric: another SYRK.
                    NativeKernels.identityMinus(c);
                    Tensor q = Tensor.allocate(DType.F32, dOut, dOut);
                    openblas.cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, dOut, dOut, 1f, c.floatPointer(),
                            dOut, 0f, q.floatPointer(), dOut);
                    NativeKernels.symmetrizeUpper(q);
                    c.close();
                    out = q;
                }
                if (storage != DType.F32) {
                    Tensor s = Tensor.allocate(storage, dOut, dOut);
                    NativeKernels.convertFromF32(out, s);
                    out.close();
                    out = s;
                }
                return new CodeAnchorMatrix(out, form, norm);
            } catch (RuntimeException | Error e) {
                c.close();
                throw e;
            }
        }
    }

    @Override
    public double literalRegularizer(Tensor c, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale) {
        Shapes.checkRegularizer(c, a, b, gradA, gradB);
        c.requireDType(DType.F32);
        int dOut = Math.toIntExact(b.dim(0)), dIn = Math.toIntExact(a.dim(1)), r = Math.toIntExact(a.dim(0));
        try (Tensor p = Tensor.allocate(DType.F32, dOut, dIn); Tensor d = Tensor.allocate(DType.F32, dOut, dIn)) {
            // P = B A - C (B A), as the released code computes (I - C) @ (B @ A).
            openblas.cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dOut, dIn, r, 1f, b.floatPointer(), r,
                    a.floatPointer(), dIn, 0f, p.floatPointer(), dIn);
            openblas.cblas_scopy(dOut * dIn, p.floatPointer(), 1, d.floatPointer(), 1);
            openblas.cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dOut, dIn, dOut, -1f, c.floatPointer(),
                    dOut, d.floatPointer(), dIn, 1f, p.floatPointer(), dIn);
            double value = 0;
            FloatBuffer pf = p.floats();
            for (int i = 0, n = dOut * dIn; i < n; i++) {
                double x = pf.get(i);
                value += x * x;
            }
            // D = 2 (I - C)^T P, then the chain rule through B A.
            openblas.cblas_scopy(dOut * dIn, p.floatPointer(), 1, d.floatPointer(), 1);
            openblas.cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dOut, dIn, dOut, -2f, c.floatPointer(),
                    dOut, p.floatPointer(), dIn, 2f, d.floatPointer(), dIn);
            if (gradB != null)
                openblas.cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, dOut, r, dIn, gradScale, d.floatPointer(),
                        dIn, a.floatPointer(), dIn, 1f, gradB.floatPointer(), r);
            if (gradA != null)
                openblas.cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, dIn, dOut, gradScale, b.floatPointer(),
                        r, d.floatPointer(), dIn, 1f, gradA.floatPointer(), dIn);
            return value;
        }
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int[] d = GemmShapes.check(transA, transB, a, b, c);
        if (d[0] == 0 || d[1] == 0) return;
        openblas.cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                d[0], d[1], d[2], alpha, a.floatPointer(), (int) a.dim(1), b.floatPointer(), (int) b.dim(1), beta,
                c.floatPointer(), (int) c.dim(1));
    }

    @Override
    public dev.asft.core.ops.TensorOps ops() {
        return OPS;
    }

    @Override
    public Tensor difference(Tensor aligned, Tensor base) {
        AnchorChecks.checkPair(aligned, base, DType.F32);
        Tensor v = Tensor.allocate(DType.F32, aligned.shape());
        NativeKernels.subToF32(aligned, base, v);
        return v;
    }

    @Override
    public double streamRead(Tensor t) {
        return NativeKernels.streamRead(t);
    }

    /** C = A . B with OpenBLAS (row-major, f32); used to measure the machine's GEMM rate. */
    public static void sgemm(Tensor a, Tensor b, Tensor c) {
        int m = Math.toIntExact(a.dim(0)), k = Math.toIntExact(a.dim(1)), n = Math.toIntExact(b.dim(1));
        if (b.dim(0) != k || c.dim(0) != m || c.dim(1) != n)
            throw new IllegalArgumentException("sgemm shapes: " + a + " x " + b + " -> " + c);
        openblas.cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1f, a.floatPointer(), k,
                b.floatPointer(), n, 0f, c.floatPointer(), n);
    }
}
