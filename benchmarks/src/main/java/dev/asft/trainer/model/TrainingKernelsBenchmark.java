package dev.asft.trainer.model;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.benchmarks.BenchInputs;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The model kernels of one training step at the shape of {@code asft bench train} (4 x 256
 * tokens, 8 heads of 64, intermediate 1376, vocab 8000), each beside the formulation it
 * replaced in the same run: attention as per-head OpenBLAS GEMMs with a Java softmax
 * ({@link GemmAttention}), SwiGLU and the cross-entropy as Java loops (the java backend's path).
 * In this package (on the benchmarks' classpath) to reach the model's package-private classes.
 * {@code SgemmBenchmark.sgemm} gives the machine's GEMM rate for the fractions. Run it as the
 * {@code asft} launcher runs the trainer, with {@code OPENBLAS_THREAD_TIMEOUT=4} in the
 * environment (the forked JVM inherits it).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class TrainingKernelsBenchmark {
    @Param({"4"})
    int batch;

    @Param({"256"})
    int len;

    static final int HEADS = 8, KV = 8, DIM = 64, INTERMEDIATE = 1376, VOCAB = 8000;

    final CpuBackend cpu = new CpuBackend();
    final JavaBackend plain = new JavaBackend();
    float[] q, k, v, dout, g, u, dact, logits;
    int[] mask, targets;

    @Setup
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(7);
        int tokens = batch * len;
        q = BenchInputs.random(rnd, tokens * HEADS * DIM);
        k = BenchInputs.random(rnd, tokens * KV * DIM);
        v = BenchInputs.random(rnd, k.length);
        dout = BenchInputs.random(rnd, q.length);
        mask = new int[tokens];
        java.util.Arrays.fill(mask, 1);
        g = BenchInputs.random(rnd, tokens * INTERMEDIATE);
        u = BenchInputs.random(rnd, g.length);
        dact = BenchInputs.random(rnd, g.length);
        logits = BenchInputs.random(rnd, tokens * VOCAB);
        targets = new int[tokens];
        for (int t = 0; t < tokens; t++) targets[t] = rnd.nextInt(VOCAB);
    }

    @Benchmark
    public float[] attentionForwardNative() {
        return Attention.forward(cpu, q, k, v, mask, batch, len, HEADS, KV, DIM, null, new float[q.length]);
    }

    @Benchmark
    public float[] attentionForwardGemm() {
        return GemmAttention.forward(cpu, q, k, v, mask, batch, len, HEADS, KV, DIM);
    }

    @Benchmark
    public float[][] attentionBackwardNative() {
        return Attention.backward(cpu, q, k, v, dout, mask, batch, len, HEADS, KV, DIM, null,
                new float[q.length], new float[k.length], new float[v.length]);
    }

    @Benchmark
    public float[][] attentionBackwardGemm() {
        return GemmAttention.backward(cpu, q, k, v, dout, mask, batch, len, HEADS, KV, DIM);
    }

    @Benchmark
    public float[][] swigluForwardBackwardNative() {
        StepOps.swiglu(cpu, g, u);
        return StepOps.swigluBackward(cpu, g, u, dact, new float[dact.length], new float[dact.length]);
    }

    @Benchmark
    public float[][] swigluForwardBackwardJava() {
        StepOps.swiglu(plain, g, u);
        return StepOps.swigluBackward(plain, g, u, dact, new float[dact.length], new float[dact.length]);
    }

    @Benchmark
    public double[] crossEntropyNative() {
        return StepOps.crossEntropy(cpu, logits, targets, VOCAB, targets.length, new float[logits.length]);
    }

    @Benchmark
    public double[] crossEntropyJava() {
        return StepOps.crossEntropy(plain, logits, targets, VOCAB, targets.length, new float[logits.length]);
    }
}
