package dev.asft.benchmarks;

import dev.asft.core.anchor.AnchorMode;
import dev.asft.core.anchor.LowRankAnchor;
import dev.asft.core.anchor.TopEigen;
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
 * The regularizer with a compressed:k anchor (U [d x k], eigenvalues), value + gradients of
 * one module, to set beside {@code RegularizerBenchmark.fused} (code mode) at the same d, r and
 * anchor dtype (U held in f32 or, as a bf16 anchor file stores it, in bf16).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class LowRankBenchmark {
    static final int ANCHORS = 4;

    @Param({"4096"})
    int d;

    @Param({"64", "256"})
    int k;

    @Param({"8"})
    int r;

    @Param({"f32", "bf16"})
    String dtype;

    CpuBackend cpu;
    LowRankAnchor[] anchors;
    Tensor a, b, ga, gb;
    int next;

    @Setup(Level.Trial)
    public void setup() {
        cpu = new CpuBackend();
        SplittableRandom rnd = new SplittableRandom(11);
        anchors = new LowRankAnchor[ANCHORS];
        for (int i = 0; i < ANCHORS; i++) {
            Tensor u = RegularizerBenchmark.random(rnd, 1, d, k);
            TopEigen.orthonormalize(u, d, k);
            if (!dtype.equals("f32")) {
                Tensor h = u.to(DType.parse(dtype));
                u.close();
                u = h;
            }
            double[] lambda = new double[k];
            for (int j = 0; j < k; j++) lambda[j] = 2.0 * Math.pow(0.98, j);
            anchors[i] = LowRankAnchor.of("m", d, d, u, lambda, AnchorMode.parse("compressed:" + k), 1, Double.NaN); // owns u
        }
        a = RegularizerBenchmark.random(rnd, 1.0 / Math.sqrt(d), r, d);
        b = RegularizerBenchmark.random(rnd, 1.0, d, r);
        ga = Tensor.zeros(DType.F32, r, d);
        gb = Tensor.zeros(DType.F32, d, r);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (LowRankAnchor m : anchors) m.close();
        for (Tensor t : new Tensor[] {a, b, ga, gb}) t.close();
    }

    @Benchmark
    public double compressed() {
        return anchors[next++ % ANCHORS].regularize(cpu, a, b, ga, gb, 1f);
    }
}
