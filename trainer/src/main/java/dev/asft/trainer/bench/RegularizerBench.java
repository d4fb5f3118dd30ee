package dev.asft.trainer.bench;

import dev.asft.core.anchor.AnchorMode;
import dev.asft.core.anchor.LowRankAnchor;
import dev.asft.core.anchor.ModuleAnchor;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times the regularizer (value + gradients of one module) on random data, next to a plain
 * streaming read of the same anchor bytes and the released code's dense formulation, all in
 * one run on one backend. Anchors rotate over {@code modules} buffers so that no timed call is
 * served from cache when the anchors together exceed it.
 */
public final class RegularizerBench {
    public int dOut = 4096, dIn = 4096, rank = 8, modules = 4;
    public DType dtype = DType.F32;
    public AnchorForm form = AnchorForm.Q;
    public double minSeconds = 2.0;
    public int minReps = 10;
    /** Above this many multiply-adds (d_out^2 d_in) the dense formulation is skipped (null). */
    public double literalMaxMacs = 4096.0 * 4096 * 4096;
    public long seed = 42;
    /** code (dense anchors) or compressed:k / subspace:k (low-rank anchors). */
    public AnchorMode mode = AnchorMode.CODE;

    public Map<String, Object> run(Backend backend) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Tensor> anchors = new ArrayList<>();
        try (Tensor a = random(rnd, DType.F32, 1.0 / Math.sqrt(dIn), rank, dIn);
             Tensor b = random(rnd, DType.F32, 1.0, dOut, rank);
             Tensor ga = Tensor.zeros(DType.F32, rank, dIn);
             Tensor gb = Tensor.zeros(DType.F32, dOut, rank)) {
            for (int i = 0; i < modules; i++) anchors.add(randomSymmetric(rnd, dOut, dtype));
            int[] k = {0};
            List<ModuleAnchor> lowRank = new ArrayList<>();
            if (mode.kind() != AnchorMode.Kind.CODE)
                for (int i = 0; i < modules; i++) lowRank.add(randomLowRank(rnd, backend));
            double msReg = medianMs(() -> {
                if (!lowRank.isEmpty()) {
                    lowRank.get(k[0]++ % modules).regularize(backend, a, b, ga, gb, 1f);
                    return;
                }
                Tensor m = anchors.get(k[0]++ % modules);
                backend.regularizer(m, form, a, b, ga, gb, 1f);
            });
            double msStreamLowRank = lowRank.isEmpty() ? 0 : medianMs(() -> {
                LowRankAnchor m = (LowRankAnchor) lowRank.get(k[0]++ % modules);
                backend.streamRead(m.u());
            });
            // A low-rank mode against code mode (the dense Q anchors above) in the same run, in
            // alternating blocks: both see the same neighbours, which on a shared machine move
            // each by more than the difference between two runs of one.
            double[] vsCode = null;
            if (!lowRank.isEmpty()) {
                double[] code = new double[COMPARE_ROUNDS], low = new double[COMPARE_ROUNDS], ratio = new double[COMPARE_ROUNDS];
                double block = Math.max(0.2, minSeconds / 4);
                for (int i = 0; i < COMPARE_ROUNDS; i++) {
                    code[i] = medianMs(() -> backend.regularizer(anchors.get(k[0]++ % modules), AnchorForm.Q, a, b, ga, gb, 1f), block);
                    low[i] = medianMs(() -> lowRank.get(k[0]++ % modules).regularize(backend, a, b, ga, gb, 1f), block);
                    ratio[i] = code[i] / low[i];
                }
                vsCode = new double[] {median(code), median(low), median(ratio), Arrays.stream(ratio).min().getAsDouble(),
                        Arrays.stream(ratio).max().getAsDouble()};
            }
            lowRank.forEach(ModuleAnchor::close);
            double msStream = !lowRank.isEmpty() ? msStreamLowRank : medianMs(() -> backend.streamRead(anchors.get(k[0]++ % modules)));
            Double msLiteral = null;
            double macs = (double) dOut * dOut * dIn;
            if (macs <= literalMaxMacs) {
                try (Tensor c = anchors.get(0).to(DType.F32)) {
                    int reps = Math.max(1, Math.min(5, (int) Math.ceil(1e10 / macs)));
                    backend.literalRegularizer(c, a, b, ga, gb, 1f); // warm-up
                    double[] t = new double[reps];
                    for (int i = 0; i < reps; i++) {
                        long s = System.nanoTime();
                        backend.literalRegularizer(c, a, b, ga, gb, 1f);
                        t[i] = (System.nanoTime() - s) / 1e6;
                    }
                    Arrays.sort(t);
                    msLiteral = t[reps / 2];
                }
            }
            // Low-rank anchors hold U [d_out x k] in the anchor dtype, read twice per call (the second
            // pass partly from cache): d_out k values from memory, 2 d_out k r multiply-adds.
            int kk = mode.clampedK(Math.min(dOut, dIn));
            long bytes = mode.kind() == AnchorMode.Kind.CODE ? anchors.get(0).byteSize() : (long) dtype.bytes() * dOut * kk;
            int passes = mode.kind() != AnchorMode.Kind.CODE || form == AnchorForm.Q ? 1 : 2;
            double flops = mode.kind() == AnchorMode.Kind.CODE ? passes * 2.0 * dOut * dOut * rank : 2.0 * 2.0 * dOut * kk * rank;
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("device", backend.name());
            out.put("backend", backend.describe());
            out.put("d_out", dOut);
            out.put("d_in", dIn);
            out.put("rank", rank);
            out.put("modules", modules);
            out.put("dtype", dtype.name().toLowerCase());
            out.put("form", form.name());
            out.put("mode", mode.toString());
            out.put("ms_per_module", msReg);
            out.put("anchor_bytes", bytes);
            out.put("anchor_gb_per_s", passes * bytes / (msReg * 1e6));
            out.put("stream_gb_per_s", bytes / (msStream * 1e6));
            out.put("fraction_of_stream", (passes * bytes / (msReg * 1e6)) / (bytes / (msStream * 1e6)));
            out.put("gflop_per_s", flops / (msReg * 1e6));
            Double peak = backend instanceof CpuBackend ? sgemmGflops(rnd) : null;
            out.put("sgemm_gflop_per_s", peak);
            out.put("fraction_of_sgemm_peak", peak == null ? null : flops / (msReg * 1e6) / peak);
            out.put("literal_ms_per_module", msLiteral);
            out.put("speedup_vs_literal", msLiteral == null ? null : msLiteral / msReg);
            if (vsCode != null) {
                out.put("code_ms_per_module", vsCode[0]);
                out.put("lowrank_ms_per_module_alternating", vsCode[1]);
                out.put("speedup_vs_code", vsCode[2]);
                out.put("speedup_vs_code_min", vsCode[3]);
                out.put("speedup_vs_code_max", vsCode[4]);
                out.put("speedup_vs_code_rounds", COMPARE_ROUNDS);
            }
            return out;
        } finally {
            anchors.forEach(Tensor::close);
        }
    }

    /** Alternating blocks of code mode and the low-rank mode (see run). */
    static final int COMPARE_ROUNDS = 8;

    /** The median of v (the mean of the middle two for an even count); v is not changed. */
    public static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int h = s.length / 2;
        return s.length % 2 == 1 ? s[h] : (s[h - 1] + s[h]) / 2;
    }

    private double medianMs(Runnable op) {
        return medianMs(op, minSeconds);
    }

    private double medianMs(Runnable op, double seconds) {
        for (int i = 0; i < Math.max(2, modules); i++) op.run(); // warm-up: JIT, first touch, thread pools
        List<Double> t = new ArrayList<>();
        long start = System.nanoTime();
        while (t.size() < minReps || (System.nanoTime() - start) / 1e9 < seconds) {
            long s = System.nanoTime();
            op.run();
            t.add((System.nanoTime() - s) / 1e6);
            if (t.size() >= 10_000) break;
        }
        t.sort(null);
        return t.get(t.size() / 2);
    }

    /** A compressed/subspace anchor with a random orthonormal U [d_out x k] and decaying eigenvalues. */
    private ModuleAnchor randomLowRank(SplittableRandom rnd, Backend backend) {
        int k = mode.clampedK(Math.min(dOut, dIn));
        Tensor u = random(rnd, DType.F32, 1, dOut, k);
        dev.asft.core.anchor.TopEigen.orthonormalize(u, dOut, k);
        double[] lambda = new double[k];
        for (int i = 0; i < k; i++) lambda[i] = mode.kind() == AnchorMode.Kind.SUBSPACE ? 1 : 2.0 * Math.pow(0.98, i);
        if (dtype != DType.F32) { // held as a bf16 anchor file's U is: read as stored
            Tensor h = u.to(dtype);
            u.close();
            u = h;
        }
        return LowRankAnchor.of("bench", dOut, dIn, u, lambda, mode, 1.0, Double.NaN); // the anchor owns u
    }

    /**
     * The machine's practical FMA limit: OpenBLAS sgemm at 2048^3, the fastest of 7, in the same
     * run. The fastest, not the median: a limit is what the machine can do, and on a shared VM
     * the median of 5 came out at 95 instead of ~150 GFLOP/s in one run, which put a training
     * step at "141% of the sgemm rate". Against the best rate a utilization errs low, never high.
     */
    public static double sgemmGflops(SplittableRandom rnd) {
        int n = 2048;
        try (Tensor a = random(rnd, DType.F32, 1, n, n); Tensor b = random(rnd, DType.F32, 1, n, n);
             Tensor c = Tensor.allocate(DType.F32, n, n)) {
            CpuBackend.sgemm(a, b, c);
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < 7; i++) {
                long s = System.nanoTime();
                CpuBackend.sgemm(a, b, c);
                best = Math.min(best, (System.nanoTime() - s) / 1e9);
            }
            return 2.0 * n * n * n / best / 1e9;
        }
    }

    static Tensor random(SplittableRandom rnd, DType dtype, double scale, long... shape) {
        Tensor t = Tensor.allocate(dtype, shape);
        float[] v = new float[Math.toIntExact(t.numel())];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return t.copyFrom(v);
    }

    /** A random symmetric matrix (anchors are symmetric); values need not form a real Q for timing. */
    static Tensor randomSymmetric(SplittableRandom rnd, int d, DType dtype) {
        float[] v = new float[Math.multiplyExact(d, d)];
        double scale = 1.0 / Math.sqrt(d);
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) v[i * d + j] = v[j * d + i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        Tensor t = Tensor.allocate(dtype, d, d);
        return t.copyFrom(v);
    }
}
