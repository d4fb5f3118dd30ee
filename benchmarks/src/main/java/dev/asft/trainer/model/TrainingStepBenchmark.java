package dev.asft.trainer.model;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.example.ExampleModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One LoRA step's forward and backward (no optimizer, no AsFT term) at the shape of
 * {@code asft bench train} (hidden 512, 8 layers, 8 heads, intermediate 1376, vocab 8000,
 * 4 x 256 tokens, r 8 on q and v), in shards beside the whole step, same run:
 * {@code shardTokens = 512} is the default (two shards, at once on two cores), a large value
 * keeps the step whole (every GEMM and kernel on all threads). Run it as the launcher runs the
 * trainer: {@code OPENBLAS_THREAD_TIMEOUT=4 GOMP_SPINCOUNT=10000 java -jar
 * benchmarks/target/benchmarks.jar TrainingStepBenchmark}. In this package to reach
 * {@code LlamaModel.shardTokens}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class TrainingStepBenchmark {
    @Param({"512", "1048576"})
    int shardTokens;

    static final int BATCH = 4, LEN = 256;

    Path dir;
    HfCheckpoint ck;
    LlamaModel model;
    PeftAdapter adapter;
    final Map<String, Tensor[]> grads = new LinkedHashMap<>();
    int[] ids, mask, labels;

    @Setup
    public void setup() throws Exception {
        ExampleModels em = new ExampleModels();
        em.layers = 8;
        em.hidden = 512;
        em.heads = 8;
        em.kvHeads = 8;
        em.intermediate = 1376;
        em.vocab = 8000;
        em.rank = 8;
        dir = Files.createTempDirectory("asft-jmh-step");
        ExampleModels.Paths p = em.write(dir);
        ck = HfCheckpoint.open(p.aligned());
        model = new LlamaModel(ck, new CpuBackend());
        model.shardTokens(shardTokens);
        adapter = PeftAdapter.read(p.adapter());
        model.applyAdapter(adapter);
        for (var e : adapter.modules().entrySet())
            grads.put(e.getKey(), new Tensor[] {Tensor.zeros(DType.F32, e.getValue().a().shape()), Tensor.zeros(DType.F32, e.getValue().b().shape())});
        SplittableRandom rnd = new SplittableRandom(1);
        ids = new int[BATCH * LEN];
        mask = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 4 + rnd.nextInt(em.vocab - 4);
            mask[i] = 1;
        }
        labels = ids.clone();
    }

    @Benchmark
    public double step() {
        return model.lossAndLoraGrads(ids, mask, labels, BATCH, LEN, grads); // gradients accumulate: timing only
    }

    @TearDown
    public void tearDown() throws Exception {
        for (Tensor[] t : grads.values())
            for (Tensor x : t) x.close();
        model.close();
        adapter.close();
        ck.close();
        dev.asft.core.io.AtomicFiles.deleteTree(dir);
    }
}
