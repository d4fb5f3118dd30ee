package dev.asft.benchmarks;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.ops.TensorOps;
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
 * The step ops of one training step at the shape of {@code asft bench train} (4 x 256 tokens,
 * 8 heads of 64, intermediate 1376, vocab 8000), the cpu backend's (libasft) beside the java
 * backend's reference loops, in one run. {@code SgemmBenchmark.sgemm} gives the machine's GEMM
 * rate for the fractions. Run it as the {@code asft} launcher runs the trainer, with
 * {@code OPENBLAS_THREAD_TIMEOUT=4} in the environment (the forked JVM inherits it).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class StepOpsBenchmark {
    @Param({"4"})
    int batch;

    @Param({"256"})
    int len;

    static final int HEADS = 8, KV = 8, DIM = 64, INTERMEDIATE = 1376, VOCAB = 8000;

    final TensorOps cpu = new CpuBackend().ops(), plain = new JavaBackend().ops();
    Tensor q, k, v, dout, out, dq, dk, dv, g, u, dact, act, dg, du, logits, dlogits;
    int[] mask, targets;

    private static Tensor random(SplittableRandom rnd, long rows, long cols) {
        return Tensor.of(DType.F32, BenchInputs.random(rnd, (int) (rows * cols)), rows, cols);
    }

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(7);
        int tokens = batch * len;
        q = random(rnd, tokens, HEADS * DIM);
        k = random(rnd, tokens, KV * DIM);
        v = random(rnd, tokens, KV * DIM);
        dout = random(rnd, tokens, HEADS * DIM);
        out = Tensor.allocate(DType.F32, tokens, HEADS * DIM);
        dq = Tensor.allocate(DType.F32, tokens, HEADS * DIM);
        dk = Tensor.allocate(DType.F32, tokens, KV * DIM);
        dv = Tensor.allocate(DType.F32, tokens, KV * DIM);
        mask = new int[tokens];
        java.util.Arrays.fill(mask, 1);
        g = random(rnd, tokens, INTERMEDIATE);
        u = random(rnd, tokens, INTERMEDIATE);
        dact = random(rnd, tokens, INTERMEDIATE);
        act = Tensor.allocate(DType.F32, tokens, INTERMEDIATE);
        dg = Tensor.allocate(DType.F32, tokens, INTERMEDIATE);
        du = Tensor.allocate(DType.F32, tokens, INTERMEDIATE);
        logits = random(rnd, tokens, VOCAB);
        dlogits = Tensor.allocate(DType.F32, tokens, VOCAB);
        targets = new int[tokens];
        for (int t = 0; t < tokens; t++) targets[t] = rnd.nextInt(VOCAB);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {q, k, v, dout, out, dq, dk, dv, g, u, dact, act, dg, du, logits, dlogits}) t.close();
    }

    @Benchmark
    public Tensor attentionForwardNative() {
        cpu.attention(q, k, v, mask, batch, len, HEADS, KV, out, null);
        return out;
    }

    @Benchmark
    public Tensor attentionForwardReference() {
        plain.attention(q, k, v, mask, batch, len, HEADS, KV, out, null);
        return out;
    }

    @Benchmark
    public Tensor attentionBackwardNative() {
        cpu.attentionBackward(q, k, v, dout, mask, batch, len, HEADS, KV, null, dq, dk, dv);
        return dq;
    }

    @Benchmark
    public Tensor attentionBackwardReference() {
        plain.attentionBackward(q, k, v, dout, mask, batch, len, HEADS, KV, null, dq, dk, dv);
        return dq;
    }

    @Benchmark
    public Tensor swigluForwardBackwardNative() {
        cpu.swiglu(g, u, act);
        cpu.swigluBackward(g, u, dact, dg, du);
        return dg;
    }

    @Benchmark
    public Tensor swigluForwardBackwardReference() {
        plain.swiglu(g, u, act);
        plain.swigluBackward(g, u, dact, dg, du);
        return dg;
    }

    @Benchmark
    public double[] crossEntropyNative() {
        return cpu.crossEntropy(logits, targets, targets.length, dlogits);
    }

    @Benchmark
    public double[] crossEntropyReference() {
        return plain.crossEntropy(logits, targets, targets.length, dlogits);
    }
}
