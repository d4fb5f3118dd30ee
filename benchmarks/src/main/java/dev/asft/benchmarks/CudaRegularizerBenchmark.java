package dev.asft.benchmarks;

import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.CudaBackend;
import dev.asft.core.backend.CudaRuntime;
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
 * The regularizer on the cuda backend (one module per call, anchors resident on the device,
 * LoRA factors and gradients copied per call). Where the backend cannot run, setup prints why
 * and every call returns at once (the score is then meaningless and says ~0 ms).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class CudaRegularizerBenchmark {
    @Param({"4096"})
    int d;

    @Param({"8"})
    int r;

    @Param({"f32", "bf16"})
    String dtype;

    CudaBackend cuda;
    Tensor q, a, b, ga, gb;

    @Setup(Level.Trial)
    public void setup() {
        String why = CudaRuntime.unavailableReason();
        if (why != null) {
            System.err.println("CudaRegularizerBenchmark skipped: " + why);
            return;
        }
        cuda = new CudaBackend();
        SplittableRandom rnd = new SplittableRandom(5);
        q = RegularizerBenchmark.randomSymmetric(rnd, d, DType.parse(dtype));
        a = RegularizerBenchmark.random(rnd, 1.0 / Math.sqrt(d), r, d);
        b = RegularizerBenchmark.random(rnd, 1.0, d, r);
        ga = Tensor.zeros(DType.F32, r, d);
        gb = Tensor.zeros(DType.F32, d, r);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (cuda == null) return;
        cuda.close();
        for (Tensor t : new Tensor[] {q, a, b, ga, gb}) t.close();
    }

    @Benchmark
    public double fused() {
        return cuda == null ? 0 : cuda.regularizer(q, AnchorForm.Q, a, b, ga, gb, 1f);
    }
}
