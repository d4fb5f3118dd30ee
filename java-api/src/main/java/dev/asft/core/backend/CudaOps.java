package dev.asft.core.backend;

import static dev.asft.core.nativeapi.AsftCudaNative.*;

import dev.asft.core.ops.OpChecks;
import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;

/**
 * The cuda backend's ops: every tensor in device memory ({@link CudaMemory}), every op a
 * libasft_cuda kernel or a cuBLAS GEMM ({@link CublasGemm}) enqueued on one stream. The host
 * waits for the device only where a value comes back: {@link #copyOut}, the cross-entropy's loss
 * and {@link #sumSquares} (once per step for a list of tensors). Index arrays go up per content
 * ({@link CudaMemory#indices}); dropout masks are drawn on the host (the same draws as every
 * backend) and copied in.
 *
 * <p>What differs from the cpu ops, by design: GEMMs with a bf16 weight round the other operand
 * to bf16 (tensor cores, f32 accumulation); the attention backward recomputes the probabilities
 * (the forward keeps none: {@link #keepsAttentionProbs}), in fused kernels or, with
 * -Dasft.cuda.attention=gemm (gemm-tf32: on the tensor cores), as batched cuBLAS products around
 * a masked softmax ({@link BatchedGemmAttention}).
 */
final class CudaOps implements TensorOps, AutoCloseable {
    private final CUstream_st stream;
    private final CudaMemory memory;
    private final CublasGemm blas;
    private final Tensor sums; // doubles: the sum-of-squares scratch, then one result
    private final BatchedGemmAttention gemmAttention; // null: the fused attention kernels
    private Tensor rowLoss, attentionStats, rmsInv; // scratch, grown as needed (a free would wait for the device)

    CudaOps(CUstream_st stream) {
        this.stream = stream;
        this.memory = new CudaMemory(stream);
        this.blas = new CublasGemm(stream, memory);
        this.sums = memory.allocate(DType.F64, asft_cuda_sum_squares_scratch() + 1);
        String shape = System.getProperty("asft.cuda.attention", "fused");
        if (!java.util.List.of("fused", "gemm", "gemm-tf32").contains(shape))
            throw new IllegalArgumentException("-Dasft.cuda.attention must be fused, gemm or gemm-tf32, got '" + shape + "'");
        blas.tf32Batched(shape.equals("gemm-tf32"));
        this.gemmAttention = shape.startsWith("gemm") ? BatchedGemmAttention.onDevice(blas, memory, stream) : null;
    }

    private void ok(int status, String call) {
        CudaRuntime.checkAsft(status, call);
    }

    /** Refuses host tensors (the backend's device paths check with this too). */
    static void device(Tensor... ts) {
        for (Tensor t : ts)
            if (t != null && !t.isDevice())
                throw new IllegalArgumentException("the cuda ops take device tensors (made by them, or resident); got host " + t.describe());
    }

    @Override
    public Tensor allocate(long... shape) {
        return memory.allocate(DType.F32, shape);
    }

    @Override
    public boolean holds(Tensor t) {
        return t.isDevice();
    }

    @Override
    public Tensor resident(Tensor host) {
        return host.isDevice() ? host : memory.upload(host);
    }

    @Override
    public void copyIn(float[] src, Tensor dst) {
        device(dst);
        memory.copyIn(src, dst);
    }

    @Override
    public float[] copyOut(Tensor src) {
        device(src);
        return memory.copyOut(src);
    }

    @Override
    public boolean gemmReadsStored(DType weight) {
        return weight == DType.BF16;
    }

    @Override
    public boolean keepsAttentionProbs() {
        return false;
    }

    @Override
    public boolean wholeSteps() {
        return true;
    }

    @Override
    public long peakDeviceBytes() {
        return memory.peak();
    }

    // ---- elementwise ----

    @Override
    public void copy(Tensor src, Tensor dst) {
        device(src, dst);
        OpChecks.sameSize(src, dst, "copy");
        CudaRuntime.check(cudart.cudaMemcpyAsync(dst.pointer(), src.pointer(), src.byteSize(), cudart.cudaMemcpyDeviceToDevice, stream),
                "cudaMemcpyAsync(device to device)");
    }

    @Override
    public void widen(Tensor src, Tensor dst) {
        device(src, dst);
        dst.requireDType(DType.F32);
        if (dst.numel() < src.numel()) throw new IllegalArgumentException("widen: " + dst.describe() + " is smaller than " + src.describe());
        ok(asft_cuda_convert(src.pointer(), src.dtype().nativeCode(), dst.pointer(), DType.F32.nativeCode(), src.numel(), stream),
                "asft_cuda_convert");
    }

    @Override
    public void fill(Tensor x, float v) {
        device(x);
        ok(asft_cuda_fill(x.pointer(), x.numel(), v, stream), "asft_cuda_fill");
    }

    @Override
    public void add(Tensor x, Tensor y) {
        device(x, y);
        OpChecks.sameSize(x, y, "add");
        ok(asft_cuda_add(x.pointer(), y.pointer(), x.numel(), stream), "asft_cuda_add");
    }

    @Override
    public void scale(Tensor x, float s) {
        device(x);
        ok(asft_cuda_scale(x.pointer(), x.numel(), s, stream), "asft_cuda_scale");
    }

    @Override
    public void multiply(Tensor x, Tensor m, Tensor out) {
        device(x, m, out);
        OpChecks.sameSizes("multiply", x, m, out);
        ok(asft_cuda_multiply(x.pointer(), m.pointer(), out.pointer(), x.numel(), stream), "asft_cuda_multiply");
    }

    @Override
    public void dropoutMask(Tensor mask, float p, SplittableRandom rnd) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        float[] m = new float[Math.toIntExact(mask.numel())];
        float keep = 1f / (1f - p);
        for (int i = 0; i < m.length; i++) m[i] = rnd.nextDouble() < p ? 0f : keep; // the reference's draws, in order
        copyIn(m, mask);
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        device(y, bias);
        int n = Math.toIntExact(bias.numel()), rows = OpChecks.rows(y, n, "bias");
        ok(asft_cuda_add_bias(y.pointer(), bias.pointer(), rows, n, stream), "asft_cuda_add_bias");
    }

    @Override
    public void addColumnSums(Tensor dy, Tensor db) {
        device(dy, db);
        int n = Math.toIntExact(db.numel()), rows = OpChecks.rows(dy, n, "bias gradient");
        ok(asft_cuda_column_sums(dy.pointer(), rows, n, db.pointer(), stream), "asft_cuda_column_sums");
    }

    @Override
    public double sumSquares(Tensor x) {
        return sumSquares(List.of(x));
    }

    /** All of them into one device double, then one wait. */
    @Override
    public double sumSquares(List<Tensor> xs) {
        Pointer scratch = sums.pointer(), out = sums.view(asft_cuda_sum_squares_scratch(), 1).pointer();
        boolean first = true;
        for (Tensor x : xs) {
            device(x);
            ok(asft_cuda_sum_squares(x.pointer(), x.numel(), scratch, out, first ? 0 : 1, stream), "asft_cuda_sum_squares");
            first = false;
        }
        return first ? 0 : memory.doublesOut(out, 1)[0];
    }

    // ---- rows ----

    private static void checkIds(int[] ids, long limit, String what) {
        for (int id : ids)
            if (id < 0 || id >= limit) throw new IllegalArgumentException(what + " " + id + " outside 0 .. " + (limit - 1));
    }

    @Override
    public void embed(Tensor table, int[] ids, Tensor out) {
        device(table, out);
        if (table.rank() != 2) throw new IllegalArgumentException("embedding: the table must be 2-D, got " + table.describe());
        long vocab = table.dim(0), h = table.dim(1);
        OpChecks.need(out, ids.length * h, "embedding: out");
        checkIds(ids, vocab, "token id");
        if (ids.length == 0) return;
        ok(asft_cuda_embed(table.pointer(), table.dtype().nativeCode(), memory.indices(ids), ids.length, h, out.pointer(), stream),
                "asft_cuda_embed");
    }

    @Override
    public void embedBackward(Tensor dOut, int[] ids, Tensor dTable) {
        device(dOut, dTable);
        long h = dTable.dim(1);
        OpChecks.need(dOut, ids.length * h, "embedding backward: dOut");
        checkIds(ids, dTable.dim(0), "token id");
        if (ids.length == 0) return;
        ok(asft_cuda_embed_backward(dOut.pointer(), memory.indices(ids), ids.length, h, dTable.pointer(), stream), "asft_cuda_embed_backward");
    }

    @Override
    public void gatherRows(Tensor x, int[] rows, Tensor out) {
        device(x, out);
        if (rows.length == 0) return;
        long h = out.numel() / rows.length;
        OpChecks.need(out, rows.length * h, "gather: out");
        checkIds(rows, x.numel() / Math.max(1, h), "row");
        ok(asft_cuda_gather_rows(x.pointer(), memory.indices(rows), rows.length, h, out.pointer(), stream), "asft_cuda_gather_rows");
    }

    @Override
    public void scatterRows(Tensor src, int[] rows, Tensor dst) {
        device(src, dst);
        if (rows.length == 0) return;
        long h = src.numel() / rows.length;
        OpChecks.need(src, rows.length * h, "scatter: src");
        checkIds(rows, dst.numel() / Math.max(1, h), "row");
        ok(asft_cuda_scatter_rows(src.pointer(), memory.indices(rows), rows.length, h, dst.pointer(), stream), "asft_cuda_scatter_rows");
    }

    // ---- products ----

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        device(a, b, c);
        blas.gemm(transA, transB, alpha, a, b, beta, c, stream);
    }

    // ---- layers ----

    @Override
    public void rmsNorm(Tensor x, Tensor w, float eps, Tensor y) {
        device(x, w, y);
        int rows = OpChecks.rmsNorm(x, w, y, "rmsnorm");
        ok(asft_cuda_rmsnorm_forward(x.pointer(), w.pointer(), rows, w.numel(), eps, y.pointer(), stream), "asft_cuda_rmsnorm_forward");
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor w, Tensor dy, float eps, Tensor dx, boolean accumulate, Tensor dw) {
        device(x, w, dy, dx, dw);
        int rows = OpChecks.rmsNorm(x, w, dx, "rmsnorm backward");
        OpChecks.need(dy, x.numel(), "rmsnorm backward: dy");
        if (dw != null) { // full fine-tuning
            OpChecks.need(dw, w.numel(), "rmsnorm backward: dw");
            rmsInv = memory.grown(rmsInv, DType.F64, rows);
            ok(asft_cuda_rmsnorm_weight_grad(x.pointer(), dy.pointer(), rows, w.numel(), eps, rmsInv.pointer(), dw.pointer(), stream),
                    "asft_cuda_rmsnorm_weight_grad");
        }
        ok(asft_cuda_rmsnorm_backward(x.pointer(), w.pointer(), dy.pointer(), rows, w.numel(), eps, dx.pointer(), accumulate ? 1 : 0, stream),
                "asft_cuda_rmsnorm_backward");
    }

    @Override
    public void rope(Tensor x, int len, int heads, Tensor cos, Tensor sin, int start, boolean inverse) {
        device(x, cos, sin);
        int tokens = OpChecks.rope(x, len, heads, cos, sin, start), half = Math.toIntExact(cos.dim(cos.rank() - 1));
        long positions = cos.numel() / half - start;
        if (tokens == 0) return;
        Pointer c = cos.view((long) start * half, positions * half).pointer(), s = sin.view((long) start * half, positions * half).pointer();
        ok(asft_cuda_rope(x.pointer(), tokens, len, heads, 2L * half, c, s, positions, inverse ? 1 : 0, stream), "asft_cuda_rope");
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, int[] mask, int batch, int len, int heads, int kvHeads, Tensor out, Tensor probs) {
        device(q, k, v, out, probs);
        int dim = OpChecks.attention(q, k, v, mask, batch, len, heads, kvHeads, out, probs);
        if (gemmAttention != null) {
            gemmAttention.forward(q, k, v, memory.indices(mask), batch, len, heads, kvHeads, dim, out, probs);
            return;
        }
        ok(asft_cuda_attention_forward(q.pointer(), k.pointer(), v.pointer(), memory.indices(mask), batch, len, heads, kvHeads, dim,
                out.pointer(), probs == null ? null : probs.pointer(), stream), "asft_cuda_attention_forward");
    }

    /** Recomputes the probabilities (probs is not read): two passes without atomics. */
    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor dout, int[] mask, int batch, int len, int heads, int kvHeads,
                                  Tensor probs, Tensor dq, Tensor dk, Tensor dv) {
        device(q, k, v, dout, dq, dk, dv);
        int dim = OpChecks.attentionBackward(q, k, v, dout, mask, batch, len, heads, kvHeads, probs, dq, dk, dv);
        if (gemmAttention != null) {
            gemmAttention.backward(q, k, v, dout, memory.indices(mask), batch, len, heads, kvHeads, dim, dq, dk, dv);
            return;
        }
        attentionStats = memory.grown(attentionStats, DType.F32, asft_cuda_attention_stats_floats(batch, len, heads));
        ok(asft_cuda_attention_backward(q.pointer(), k.pointer(), v.pointer(), dout.pointer(), memory.indices(mask), batch, len, heads,
                kvHeads, dim, attentionStats.pointer(), dq.pointer(), dk.pointer(), dv.pointer(), stream), "asft_cuda_attention_backward");
    }

    @Override
    public void cachedAttention(Tensor q, Tensor kCache, Tensor vCache, int start, int heads, int kvHeads, Tensor out) {
        device(q, kCache, vCache, out);
        int kvd = Math.toIntExact(kCache.dim(1)), dim = kvd / kvHeads, n = OpChecks.rows(q, (long) heads * dim, "cached attention");
        if (kvd != kvHeads * dim || vCache.numel() != kCache.numel() || kCache.dim(0) < start + n)
            throw new IllegalArgumentException("cached attention: caches " + kCache.describe() + ", " + vCache.describe() + " for "
                    + n + " queries from position " + start);
        OpChecks.need(out, q.numel(), "cached attention: out");
        ok(asft_cuda_cached_attention(q.pointer(), kCache.pointer(), vCache.pointer(), n, start, kCache.dim(0), heads, kvHeads, dim,
                out.pointer(), stream), "asft_cuda_cached_attention");
    }

    @Override
    public void swiglu(Tensor g, Tensor u, Tensor act) {
        device(g, u, act);
        OpChecks.sameSizes("swiglu", g, u, act);
        ok(asft_cuda_swiglu_forward(g.pointer(), u.pointer(), act.pointer(), g.numel(), stream), "asft_cuda_swiglu_forward");
    }

    @Override
    public void swigluBackward(Tensor g, Tensor u, Tensor dact, Tensor dg, Tensor du) {
        device(g, u, dact, dg, du);
        OpChecks.sameSizes("swiglu backward", g, u, dact, dg, du);
        ok(asft_cuda_swiglu_backward(g.pointer(), u.pointer(), dact.pointer(), dg.pointer(), du.pointer(), g.numel(), stream),
                "asft_cuda_swiglu_backward");
    }

    /** Per-row losses on the device, summed on the host in row order: the step's one wait for its loss. */
    @Override
    public double[] crossEntropy(Tensor logits, int[] targets, double denominator, Tensor dlogits) {
        device(logits, dlogits);
        int vocab = OpChecks.crossEntropy(logits, targets, denominator, dlogits);
        rowLoss = memory.grown(rowLoss, DType.F64, targets.length);
        ok(asft_cuda_cross_entropy(logits.pointer(), memory.indices(targets), targets.length, vocab, denominator, dlogits.pointer(),
                rowLoss.pointer(), stream), "asft_cuda_cross_entropy");
        double[] rows = memory.doublesOut(rowLoss.pointer(), targets.length);
        double sum = 0;
        long count = 0;
        for (int r = 0; r < targets.length; r++)
            if (targets[r] >= 0) {
                sum += rows[r];
                count++;
            }
        return new double[] {sum, count};
    }

    // ---- optimizers ----

    @Override
    public void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps, float weightDecay,
                      long step) {
        device(param, grad, m, v);
        for (Tensor t : new Tensor[] {grad, m, v}) OpChecks.sameSize(param, t, "adamw");
        if (step < 1) throw new IllegalArgumentException("adamw: the update number starts at 1, got " + step);
        try (org.bytedeco.javacpp.LongPointer t = new org.bytedeco.javacpp.LongPointer(param.pointer().address(),
                grad.pointer().address(), m.pointer().address(), v.pointer().address(), param.numel())) {
            ok(asft_cuda_adamw_table(t, 1, lr, beta1, beta2, eps, weightDecay, step, stream), "asft_cuda_adamw_table");
        }
    }

    @Override
    public void sgd(Tensor param, Tensor grad, float lr, float weightDecay) {
        device(param, grad);
        OpChecks.sameSize(param, grad, "sgd");
        try (org.bytedeco.javacpp.LongPointer t = new org.bytedeco.javacpp.LongPointer(param.pointer().address(),
                grad.pointer().address(), 0L, 0L, param.numel())) {
            ok(asft_cuda_sgd_table(t, 1, lr, weightDecay, stream), "asft_cuda_sgd_table");
        }
    }

    /** The cuBLAS bf16 GEMM rate on this device (see {@link CublasGemm#bf16Gflops}). */
    double bf16GemmGflops() {
        return blas.bf16Gflops(8192, 20, stream);
    }

    @Override
    public void close() {
        if (rowLoss != null) rowLoss.close();
        if (attentionStats != null) attentionStats.close();
        if (rmsInv != null) rmsInv.close();
        if (gemmAttention != null) gemmAttention.close();
        sums.close();
        blas.close();
        memory.close();
    }
}
