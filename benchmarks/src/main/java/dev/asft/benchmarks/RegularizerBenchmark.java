package dev.asft.benchmarks;

import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The AsFT regularizer (value + gradients of one module) on the cpu backend, side by side in
 * one run with: the released code's dense formulation (f32 anchors only: it multiplies by C
 * in f32), a plain streaming read of the same anchor bytes (the memory limit), and OpenBLAS
 * sgemm (the FMA limit). Anchors rotate over four buffers so no call is served from cache.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar Regularizer -rf json -rff jmh.json}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class RegularizerBenchmark {
    static final int ANCHORS = 4;

    @Param({"1024", "2048", "4096"})
    int d;

    @Param({"8", "16"})
    int r;

    @Param({"f32", "bf16"})
    String dtype;

    CpuBackend cpu;
    Tensor[] anchors;
    Tensor c32, a, b, ga, gb;
    int next;

    @Setup(Level.Trial)
    public void setup() {
        cpu = new CpuBackend();
        SplittableRandom rnd = new SplittableRandom(7);
        DType dt = DType.parse(dtype);
        anchors = new Tensor[ANCHORS];
        for (int i = 0; i < ANCHORS; i++) anchors[i] = randomSymmetric(rnd, d, dt);
        c32 = anchors[0].to(DType.F32);
        a = random(rnd, 1.0 / Math.sqrt(d), r, d);
        b = random(rnd, 1.0, d, r);
        ga = Tensor.zeros(DType.F32, r, d);
        gb = Tensor.zeros(DType.F32, d, r);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : anchors) t.close();
        for (Tensor t : new Tensor[] {c32, a, b, ga, gb}) t.close();
    }

    private Tensor nextAnchor() {
        return anchors[next++ % ANCHORS];
    }

    /** Ours: one pass over Q = (I - C)^2, r x r algebra, gradients accumulated in place. */
    @Benchmark
    public double fused() {
        return cpu.regularizer(nextAnchor(), AnchorForm.Q, a, b, ga, gb, 1f);
    }

    /** Ours, two-pass form over C (no Q precompute): what storing C instead of Q costs. */
    @Benchmark
    public double fusedTwoPassC() {
        return cpu.regularizer(nextAnchor(), AnchorForm.C, a, b, ga, gb, 1f);
    }

    /** The plain read of the same bytes: the memory-bandwidth limit of fused(). */
    @Benchmark
    public double streamRead() {
        return cpu.streamRead(nextAnchor());
    }

    /** The released code: (I - C) @ (B @ A), squared norm, gradients through it (OpenBLAS sgemm). */
    @Benchmark
    public double dense() {
        if (!dtype.equals("f32")) return 0; // the dense formulation runs on f32 C only
        return cpu.literalRegularizer(c32, a, b, ga, gb, 1f);
    }

    static Tensor random(SplittableRandom rnd, double scale, long... shape) {
        Tensor t = Tensor.allocate(DType.F32, shape);
        float[] v = new float[Math.toIntExact(t.numel())];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return t.copyFrom(v);
    }

    static Tensor randomSymmetric(SplittableRandom rnd, int d, DType dt) {
        float[] v = new float[d * d];
        double s = 1.0 / Math.sqrt(d);
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) v[i * d + j] = v[j * d + i] = (float) ((rnd.nextDouble() * 2 - 1) * s);
        return Tensor.allocate(dt, d, d).copyFrom(v);
    }
}
