package dev.asft.core.backend;

import dev.asft.core.nativeapi.AsftCudaNative;
import dev.asft.core.nativeapi.Shapes;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.LongPointer;

/**
 * libasft_cuda's kernels for the streaming hot path (the skinny product and the fused
 * regularizer). Anchors are uploaded once and kept on the device (they never change); LoRA
 * factors and gradients, which are small, travel per call. The one-time and small ops (anchor
 * building, r x r algebra, the dense reference) run on the CPU backend.
 *
 * <p>The matrix operand of {@link #matmulSkinny} and the anchor of {@link #regularizer} are
 * treated as immutable: each Tensor object is uploaded once and its device copy reused. A
 * caller that changes such a tensor's contents must call {@link #evict} first.
 * Device memory is owned by this object: {@link #close()} frees every cached copy.
 */
public final class CudaBackend implements Backend, AutoCloseable {
    private final CpuBackend cpu = new CpuBackend();
    private final Map<Tensor, Tensor> resident = new IdentityHashMap<>(); // host anchor -> its device copy (the ops' memory)
    private final CUstream_st stream = new CUstream_st();
    private final CudaOps ops;
    private Tensor regValue; // the fused regularizer's value on the device

    public CudaBackend() {
        String why = CudaRuntime.unavailableReason();
        if (why != null) throw new UnsupportedOperationException("cuda backend unavailable: " + why);
        CudaRuntime.check(cudart.cudaStreamCreate(stream), "cudaStreamCreate");
        this.ops = new CudaOps(stream);
    }

    public static boolean available() {
        return CudaRuntime.available();
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String describe() {
        org.bytedeco.cuda.cudart.cudaDeviceProp p = new org.bytedeco.cuda.cudart.cudaDeviceProp();
        CudaRuntime.check(cudart.cudaGetDeviceProperties(p, 0), "cudaGetDeviceProperties");
        return "cuda: " + p.name().getString() + " (sm_" + p.major() + p.minor() + ", "
                + (p.totalGlobalMem() >> 20) + " MiB), libasft_cuda; small ops on " + cpu.describe();
    }

    /** The device copy of an anchor, uploaded on first use. */
    private synchronized Tensor resident(Tensor t) {
        Tensor d = resident.get(t);
        if (d == null) {
            d = ops.resident(t); // counted in the ops' peak device memory
            resident.put(t, d);
        }
        return d;
    }

    @Override
    public void matmulSkinny(Tensor m, Tensor x, Tensor out) {
        Shapes.checkSkinny(m, x, out);
        if (m.dtype() != DType.F32 && m.dtype() != DType.BF16)
            throw new IllegalArgumentException("the CUDA skinny product reads f32 or bf16 matrices, got " + m);
        Tensor dm = resident(m);
        if (x.isDevice() || out.isDevice()) { // the step's tensors: already here, same stream, no wait
            CudaOps.device(x, out);
            try (LongPointer table = new LongPointer(dm.pointer().address(), x.pointer().address(), out.pointer().address(), m.dim(0), m.dim(1),
                    x.dim(1), m.dtype().nativeCode())) {
                CudaRuntime.checkAsft(AsftCudaNative.asft_cuda_skinny_table(table, 1, stream), "asft_cuda_skinny_table");
            }
            return;
        }
        try (DeviceBuffer dx = new DeviceBuffer(x.byteSize()); DeviceBuffer dout = new DeviceBuffer(out.byteSize());
             LongPointer table = new LongPointer(dm.pointer().address(), dx.address(), dout.address(), m.dim(0), m.dim(1), x.dim(1),
                     m.dtype().nativeCode())) {
            dx.uploadAsync(x, stream);
            CudaRuntime.checkAsft(AsftCudaNative.asft_cuda_skinny_table(table, 1, stream), "asft_cuda_skinny_table");
            dout.downloadAsync(out, stream);
            CudaRuntime.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize after asft_cuda_skinny_table");
        }
    }

    @Override
    public double regularizer(Tensor anchor, AnchorForm form, Tensor a, Tensor b, Tensor gradA, Tensor gradB,
                              float gradScale) {
        checkRegularizer(anchor, a, b, gradA, gradB);
        if (form == AnchorForm.C)
            return onHost(new Tensor[] {a, b, gradA, gradB}, h -> regularizerTwoPass(anchor, h[0], h[1], h[2], h[3], gradScale));
        if (a.isDevice() || b.isDevice()) { // the step's tensors: the one-module case of the batch
            CudaOps.device(a, b, gradA, gradB);
            return regularizerBatch(java.util.List.of(new RegularizerModule(anchor, form, a, b, gradA, gradB)), gradScale);
        }
        Tensor dq = resident(anchor);
        try (DeviceBuffer da = new DeviceBuffer(a.byteSize()); DeviceBuffer db = new DeviceBuffer(b.byteSize());
             DeviceBuffer dga = gradA == null ? null : new DeviceBuffer(gradA.byteSize());
             DeviceBuffer dgb = gradB == null ? null : new DeviceBuffer(gradB.byteSize());
             DeviceBuffer total = new DeviceBuffer(8);
             LongPointer table = new LongPointer(dq.pointer().address(), da.address(), db.address(), dga == null ? 0 : dga.address(),
                     dgb == null ? 0 : dgb.address(), b.dim(0), a.dim(1), a.dim(0), anchor.dtype().nativeCode());
             DoublePointer value = new DoublePointer(1)) {
            // Everything on one stream: copies in, the fused kernels, copies out; one synchronization.
            da.uploadAsync(a, stream);
            db.uploadAsync(b, stream);
            if (dga != null) dga.uploadAsync(gradA, stream);
            if (dgb != null) dgb.uploadAsync(gradB, stream);
            CudaRuntime.checkAsft(AsftCudaNative.asft_cuda_regularizer_table(table, 1, gradScale, null,
                    new DoublePointer(total.pointer()), stream), "asft_cuda_regularizer_table");
            CudaRuntime.check(cudart.cudaMemcpyAsync(value, total.pointer(), 8, cudart.cudaMemcpyDeviceToHost, stream),
                    "cudaMemcpyAsync(value)");
            if (dga != null) dga.downloadAsync(gradA, stream);
            if (dgb != null) dgb.downloadAsync(gradB, stream);
            CudaRuntime.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize after asft_cuda_regularizer_table");
            return value.get();
        }
    }

    /**
     * Every module's fused regularizer in one launch (libasft_cuda's grouped kernels), gradients
     * added in place on the ops' stream, one wait for the total: what a step on the GPU runs. Host
     * tensors or C-form anchors take the per-module path.
     */
    @Override
    public double regularizerBatch(java.util.List<RegularizerModule> modules, float gradScale) {
        boolean fused = !modules.isEmpty();
        for (RegularizerModule m : modules) fused &= m.form() == AnchorForm.Q && m.a().isDevice() && m.b().isDevice();
        if (!fused) return Backend.super.regularizerBatch(modules, gradScale);
        long[] rows = new long[9 * modules.size()];
        for (int i = 0; i < modules.size(); i++) {
            RegularizerModule m = modules.get(i);
            checkRegularizer(m.anchor(), m.a(), m.b(), m.gradA(), m.gradB());
            CudaOps.device(m.gradA(), m.gradB());
            long[] row = {resident(m.anchor()).pointer().address(), m.a().pointer().address(), m.b().pointer().address(),
                    m.gradA() == null ? 0 : m.gradA().pointer().address(), m.gradB() == null ? 0 : m.gradB().pointer().address(),
                    m.b().dim(0), m.a().dim(1), m.a().dim(0), m.anchor().dtype().nativeCode()};
            System.arraycopy(row, 0, rows, 9 * i, 9);
        }
        if (regValue == null) regValue = ops.allocate(2); // 8 bytes: one double
        try (LongPointer table = new LongPointer(rows); DoublePointer host = new DoublePointer(1)) {
            CudaRuntime.checkAsft(AsftCudaNative.asft_cuda_regularizer_table(table, modules.size(), gradScale, null,
                    new DoublePointer(regValue.pointer()), stream), "asft_cuda_regularizer_table");
            CudaRuntime.check(cudart.cudaMemcpyAsync(host, regValue.pointer(), 8, cudart.cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(total)");
            CudaRuntime.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize after asft_cuda_regularizer_table");
            return host.get();
        }
    }

    /** Shapes, and an anchor stored as f32 or bf16 (what the fused kernels read). */
    private static void checkRegularizer(Tensor anchor, Tensor a, Tensor b, Tensor gradA, Tensor gradB) {
        Shapes.checkRegularizer(anchor, a, b, gradA, gradB);
        if (anchor.dtype() != DType.F32 && anchor.dtype() != DType.BF16)
            throw new IllegalArgumentException("anchors are stored as f32 or bf16, got " + anchor);
    }

    /**
     * A host computation on device tensors (the paths without a device kernel: C-form and
     * low-rank anchors, the r x r tail, small GEMMs): host copies in, the computation, every copy
     * back (inputs come back unchanged). The step's anchors (code mode, Q form) never come here.
     */
    private <T> T onHost(Tensor[] ts, java.util.function.Function<Tensor[], T> body) {
        boolean any = false;
        for (Tensor t : ts) any |= t != null && t.isDevice();
        if (!any) return body.apply(ts);
        Tensor[] h = new Tensor[ts.length];
        try {
            for (int i = 0; i < ts.length; i++)
                h[i] = ts[i] == null || !ts[i].isDevice() ? ts[i] : Tensor.of(DType.F32, ops.copyOut(ts[i]), ts[i].shape());
            T r = body.apply(h);
            for (int i = 0; i < ts.length; i++) if (ts[i] != null && ts[i].isDevice()) ops.copyIn(h[i].toFloatArray(), ts[i]);
            return r;
        } finally {
            for (int i = 0; i < ts.length; i++) if (h[i] != null && h[i] != ts[i]) h[i].close();
        }
    }

    /** C form: P = B - C B, G = P - C P with two device products, the r x r tail on the CPU. */
    private double regularizerTwoPass(Tensor c, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale) {
        try (Tensor cb = Tensor.allocate(DType.F32, b.shape()); Tensor p = Tensor.allocate(DType.F32, b.shape());
             Tensor g = Tensor.allocate(DType.F32, b.shape())) {
            matmulSkinny(c, b, cb);
            java.nio.FloatBuffer bf = b.floats(), cbf = cb.floats(), pf = p.floats(), gf = g.floats();
            for (int i = 0; i < pf.capacity(); i++) pf.put(i, bf.get(i) - cbf.get(i));
            matmulSkinny(c, p, cb);
            for (int i = 0; i < gf.capacity(); i++) gf.put(i, pf.get(i) - cbf.get(i));
            return cpu.loraFinish(g, a, b, gradA, gradB, scale);
        }
    }

    @Override
    public double loraFinish(Tensor g, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale) {
        return onHost(new Tensor[] {g, a, b, gradA, gradB}, h -> cpu.loraFinish(h[0], h[1], h[2], h[3], h[4], gradScale));
    }

    @Override
    public CodeAnchorMatrix codeAnchor(Tensor aligned, Tensor base, AnchorForm form, DType storage) {
        return cpu.codeAnchor(aligned, base, form, storage);
    }

    @Override
    public double literalRegularizer(Tensor c, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale) {
        return cpu.literalRegularizer(c, a, b, gradA, gradB, gradScale);
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        onHost(new Tensor[] {a, b, c}, h -> {
            cpu.gemm(transA, transB, alpha, h[0], h[1], beta, h[2]);
            return null;
        });
    }

    @Override
    public Tensor difference(Tensor aligned, Tensor base) {
        return cpu.difference(aligned, base);
    }

    // What has no device kernel runs exactly as on the cpu backend, not through Backend's
    // defaults: those copy Java arrays through tensors, compose the low-rank regularizer from two
    // GEMMs, run one lane and pack nothing. A training step on a GPU machine (`--device auto`
    // picks cuda there) ran whole on two threads instead of in lanes (1.16-1.22 against
    // 0.97-1.04 s per benchmark step, docs/PERFORMANCE.md) and without packed weights;
    // CudaBackendTest checks that nothing is left to a default.

    @Override
    public double regularizerLowRank(Tensor u, Tensor w, Tensor a, Tensor b, Tensor gradA, Tensor gradB,
                                     float gradScale) {
        return onHost(new Tensor[] {a, b, gradA, gradB}, h -> cpu.regularizerLowRank(u, w, h[0], h[1], h[2], h[3], gradScale));
    }

    /** The training step's ops: libasft_cuda's kernels and cuBLAS on this backend's stream, tensors in device memory. */
    @Override
    public dev.asft.core.ops.TensorOps ops() {
        return ops;
    }

    /**
     * GFLOP/s of cuBLAS's bf16 GEMM (8192^3, f32 accumulation) on this device, measured now: the
     * denominator of `bench train`'s model FLOP utilization.
     */
    public double bf16GemmGflops() {
        return ops.bf16GemmGflops();
    }

    /** One lane: the GPU runs a step whole, one kernel after another on one stream. */
    @Override
    public int lanes() {
        return 1;
    }

    @Override
    public void runInLanes(java.util.List<Runnable> tasks) {
        for (Runnable t : tasks) t.run();
    }

    /** A device-to-device copy of the tensor's resident copy: the device's streaming rate. */
    @Override
    public double streamRead(Tensor t) {
        Tensor src = resident(t);
        try (DeviceBuffer dst = new DeviceBuffer(src.byteSize())) {
            CudaRuntime.check(cudart.cudaMemcpy(dst.pointer(), src.pointer(), src.byteSize(), cudart.cudaMemcpyDeviceToDevice),
                    "cudaMemcpy(device to device)");
            return src.byteSize();
        }
    }

    /** Drops (and frees) the device copy of t, if any: call after changing t's contents. */
    public synchronized void evict(Tensor t) {
        Tensor d = resident.remove(t);
        if (d != null) d.close();
    }

    /** Frees every resident anchor and the stream. */
    @Override
    public synchronized void close() {
        resident.values().forEach(Tensor::close);
        resident.clear();
        if (regValue != null) regValue.close();
        ops.close();
        if (!stream.isNull()) {
            CudaRuntime.check(cudart.cudaStreamDestroy(stream), "cudaStreamDestroy");
            stream.setNull();
        }
    }
}
