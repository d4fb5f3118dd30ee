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
 * OpenBLAS sgemm n x n x n (2 n^3 flops), for the machine's GEMM rate, and the code-mode
 * anchor build of one n x n module (two SYRKs, n^3 multiply-adds in all: the same flops).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class SgemmBenchmark {
    @Param({"2048", "4096"})
    int n;

    CpuBackend cpu;
    Tensor x, y, out, wa, wb;

    @Setup(Level.Trial)
    public void setup() {
        cpu = new CpuBackend();
        SplittableRandom rnd = new SplittableRandom(3);
        x = RegularizerBenchmark.random(rnd, 1, n, n);
        y = RegularizerBenchmark.random(rnd, 1, n, n);
        out = Tensor.allocate(DType.F32, n, n);
        try (Tensor a32 = RegularizerBenchmark.random(rnd, 0.02, n, n); Tensor b32 = RegularizerBenchmark.random(rnd, 0.02, n, n)) {
            wa = a32.to(DType.BF16);
            wb = b32.to(DType.BF16);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, y, out, wa, wb}) t.close();
    }

    @Benchmark
    public Tensor sgemm() {
        CpuBackend.sgemm(x, y, out);
        return out;
    }

    /** What `asft anchor --mode compressed:256` computes per module: C, then its top-256 eigenpairs. */
    @Benchmark
    public double anchorBuildCompressed256() {
        try (var m = new dev.asft.core.anchor.AnchorBuilder(cpu).mode(dev.asft.core.anchor.AnchorMode.parse("compressed:256"))
                .fromWeights("m", wa, wb)) {
            return m.normV();
        }
    }

    /** What `asft anchor --mode code` computes per module: V, then C = V V^T / ||V|| (one SYRK). */
    @Benchmark
    public double anchorBuildCodeC() {
        var m = cpu.codeAnchor(wa, wb, dev.asft.core.backend.AnchorForm.C, DType.F32);
        m.matrix().close();
        return m.normV();
    }

    /** V = aligned - base (bf16 in), C = V V^T / ||V||, Q = (I - C)^2, stored f32. */
    @Benchmark
    public double anchorBuild() {
        var m = cpu.codeAnchor(wa, wb, dev.asft.core.backend.AnchorForm.Q, DType.F32);
        m.matrix().close();
        return m.normV();
    }
}
