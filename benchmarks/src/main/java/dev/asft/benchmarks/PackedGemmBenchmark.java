package dev.asft.benchmarks;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.PackedWeight;
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
 * One projection's GEMMs for one shard of a training step, on one core as a lane runs them:
 * y = x W^T (forward) and dx = dy W (backward) for W [out x in] and `tokens` rows, with the weight
 * packed once for OpenBLAS's kernels (libasft's asft_sgemm_packed) beside the plain OpenBLAS call
 * on the same arrays, which packs W every time; same bits. 2 tokens out in flops each (512 x 512
 * x 512: 268 MFLOP; 512 x 1376 x 512: 721).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class PackedGemmBenchmark {
    @Param({"512"})
    int tokens;

    @Param({"512", "1376"})
    int out;

    @Param({"512"})
    int in;

    CpuBackend cpu;
    Tensor x, dy, y, dx, w;
    PackedWeight forward, backward;
    BenchInputs.OneCore oneCore;

    @Setup(Level.Trial)
    public void setup() {
        cpu = new CpuBackend();
        SplittableRandom rnd = new SplittableRandom(5);
        x = Tensor.of(DType.F32, BenchInputs.random(rnd, tokens * in), tokens, in);
        dy = Tensor.of(DType.F32, BenchInputs.random(rnd, tokens * out), tokens, out);
        y = Tensor.allocate(DType.F32, tokens, out);
        dx = Tensor.allocate(DType.F32, tokens, in);
        w = Tensor.of(DType.F32, BenchInputs.random(rnd, out * in), out, in);
        forward = cpu.ops().packWeight(true, w);
        backward = cpu.ops().packWeight(false, w);
        if (forward == null || backward == null) throw new IllegalStateException("packed GEMMs unavailable with this OpenBLAS");
        oneCore = new BenchInputs.OneCore();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        oneCore.close();
        forward.close();
        backward.close();
        for (Tensor t : new Tensor[] {w, x, dy, y, dx}) t.close();
    }

    /** y = x W^T with W packed once. */
    @Benchmark
    public Tensor forwardPacked() {
        cpu.ops().gemmPacked(true, forward, w, 1f, x, 0f, y);
        return y;
    }

    /** The same, OpenBLAS packing W on the call. */
    @Benchmark
    public Tensor forwardPlain() {
        cpu.ops().gemm(false, true, 1f, x, w, 0f, y);
        return y;
    }

    /** dx = dy W with W packed once. */
    @Benchmark
    public Tensor backwardPacked() {
        cpu.ops().gemmPacked(false, backward, w, 1f, dy, 0f, dx);
        return dx;
    }

    /** The same, OpenBLAS packing W on the call. */
    @Benchmark
    public Tensor backwardPlain() {
        cpu.ops().gemm(false, false, 1f, dy, w, 0f, dx);
        return dx;
    }
}
