package dev.asft.benchmarks;

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
 * The LoRA gradients of one projection for one shard of a training step (tokens x d, rank r),
 * on one core as a lane runs them: dA += s (dy B)^T x (r rows of output) and dB += s dy^T
 * (x A^T) (r columns), through the cpu backend's ops (libasft's tn_skinny) beside the same
 * product as one plain OpenBLAS call on tensors (the backend's own gemm), in one run. Each
 * is 2 tokens d r flops: at 512 x 512 x 8, 4.2 MFLOP.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class LoraGradientBenchmark {
    @Param({"512"})
    int tokens;

    @Param({"512"})
    int d;

    @Param({"8"})
    int r;

    CpuBackend cpu;
    Tensor xt, dyt, dybt, xat, gradA, gradB;
    BenchInputs.OneCore oneCore;

    @Setup(Level.Trial)
    public void setup() {
        cpu = new CpuBackend();
        SplittableRandom rnd = new SplittableRandom(5);
        xt = Tensor.of(DType.F32, BenchInputs.random(rnd, tokens * d), tokens, d);
        dyt = Tensor.of(DType.F32, BenchInputs.random(rnd, tokens * d), tokens, d);
        dybt = Tensor.of(DType.F32, BenchInputs.random(rnd, tokens * r), tokens, r);
        xat = Tensor.of(DType.F32, BenchInputs.random(rnd, tokens * r), tokens, r);
        gradA = Tensor.zeros(DType.F32, r, d);
        gradB = Tensor.zeros(DType.F32, d, r);
        oneCore = new BenchInputs.OneCore();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        oneCore.close();
        for (Tensor t : new Tensor[] {xt, dyt, dybt, xat, gradA, gradB}) t.close();
    }

    /** dA += s (dy B)^T x: r x d output, tn_skinny. */
    @Benchmark
    public Tensor gradA() {
        cpu.ops().gemm(true, false, 0.5f, dybt, xt, 1f, gradA);
        return gradA;
    }

    /** The same as one OpenBLAS sgemm (A transposed) on tensors. */
    @Benchmark
    public Tensor gradAOpenBlas() {
        cpu.gemm(true, false, 0.5f, dybt, xt, 1f, gradA);
        return gradA;
    }

    /** dB += s dy^T (x A^T): d x r output, tn_skinny. */
    @Benchmark
    public Tensor gradB() {
        cpu.ops().gemm(true, false, 0.5f, dyt, xat, 1f, gradB);
        return gradB;
    }

    /** The same as one OpenBLAS sgemm (A transposed) on tensors. */
    @Benchmark
    public Tensor gradBOpenBlas() {
        cpu.gemm(true, false, 0.5f, dyt, xat, 1f, gradB);
        return gradB;
    }
}
