package dev.asft.trainer.cli;

import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.tensor.DType;
import dev.asft.trainer.bench.RegularizerBench;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft bench ...}: quick benchmarks of the hot paths (JMH in benchmarks/ is the reference). */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks of the hot paths.",
        subcommands = {BenchCommand.Regularizer.class, BenchCommand.Train.class})
final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "regularizer", mixinStandardHelpOptions = true,
            description = "Regularizer value+gradients for one module on random data: median time, anchor bytes "
                    + "streamed per second vs a plain read of the same bytes, and the dense formulation's time.")
    static final class Regularizer implements Callable<Integer> {
        @Option(names = "--d-out", defaultValue = "4096", description = "Rows of the module weight (default: ${DEFAULT-VALUE}).")
        int dOut;

        @Option(names = "--d-in", defaultValue = "4096", description = "Columns of the module weight (default: ${DEFAULT-VALUE}).")
        int dIn;

        @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r (default: ${DEFAULT-VALUE}).")
        int rank;

        @Option(names = "--modules", defaultValue = "4", description = "Anchors to rotate over (default: ${DEFAULT-VALUE}).")
        int modules;

        @Option(names = "--dtype", defaultValue = "f32", description = "Anchor storage: f32 or bf16 (default: ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--form", defaultValue = "Q", description = "Anchor form: Q (one pass) or C (two passes) (default: ${DEFAULT-VALUE}).")
        String form;

        @Option(names = "--mode", defaultValue = "code", description = "Anchor mode: code (dense), compressed:k or subspace:k (default: ${DEFAULT-VALUE}).")
        String mode;

        @Option(names = "--device", defaultValue = "cpu", description = "cpu or java (default: ${DEFAULT-VALUE}).")
        String device;

        @Option(names = "--seconds", defaultValue = "2", description = "Minimum timed seconds per measurement (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Option(names = "--json", description = "Print a JSON summary as the last line of stdout.")
        boolean json;

        @Override
        public Integer call() {
            if (dOut <= 0 || dIn <= 0) throw new IllegalArgumentException("--d-out and --d-in must be positive");
            if (rank <= 0) throw new IllegalArgumentException("--rank must be positive, got " + rank);
            if (modules <= 0) throw new IllegalArgumentException("--modules must be positive, got " + modules);
            RegularizerBench b = new RegularizerBench();
            b.dOut = dOut;
            b.dIn = dIn;
            b.rank = rank;
            b.modules = modules;
            b.dtype = DType.parse(dtype);
            if (b.dtype != DType.F32 && b.dtype != DType.BF16) throw new IllegalArgumentException("--dtype must be f32 or bf16");
            try {
                b.form = AnchorForm.valueOf(form.toUpperCase());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--form must be Q or C, got '" + form + "'");
            }
            b.minSeconds = seconds;
            b.mode = dev.asft.core.anchor.AnchorMode.parse(mode);
            if (b.mode.kind() == dev.asft.core.anchor.AnchorMode.Kind.DIRECTION)
                throw new IllegalArgumentException("--mode direction is not benchmarked; use code, compressed:k or subspace:k");
            Backend backend = Backends.select(device, false);
            if (backend.name().equals("java")) b.literalMaxMacs = 512.0 * 512 * 512;
            Map<String, Object> r = b.run(backend);
            System.out.printf("%s  d_out=%d d_in=%d r=%d anchor=%s %s%n", backend.describe(), dOut, dIn, rank, dtype,
                    b.mode.kind() == dev.asft.core.anchor.AnchorMode.Kind.CODE ? "form=" + b.form : "mode=" + b.mode);
            System.out.printf("regularizer   %10.3f ms/module   %7.2f GB/s anchor   (%.0f%% of the %.2f GB/s plain read, %.1f GFLOP/s)%n",
                    (Double) r.get("ms_per_module"), (Double) r.get("anchor_gb_per_s"),
                    100 * (Double) r.get("fraction_of_stream"), (Double) r.get("stream_gb_per_s"), (Double) r.get("gflop_per_s"));
            if (r.get("sgemm_gflop_per_s") != null)
                System.out.printf("FMA limit     OpenBLAS sgemm 2048^3 runs at %.1f GFLOP/s here: the regularizer reaches %.0f%% of it%n",
                        (Double) r.get("sgemm_gflop_per_s"), 100 * (Double) r.get("fraction_of_sgemm_peak"));
            if (r.get("literal_ms_per_module") != null)
                System.out.printf("dense formula %10.3f ms/module   (ours is %.0fx faster)%n",
                        (Double) r.get("literal_ms_per_module"), (Double) r.get("speedup_vs_literal"));
            else
                System.out.println("dense formula skipped at this size (too slow on this backend)");
            if (r.get("speedup_vs_code") != null)
                System.out.printf("vs code mode  %10.3f ms/module against %.3f, alternating in this run: %.1fx faster (%d rounds: %.1f-%.1fx)%n",
                        (Double) r.get("lowrank_ms_per_module_alternating"), (Double) r.get("code_ms_per_module"),
                        (Double) r.get("speedup_vs_code"), (Integer) r.get("speedup_vs_code_rounds"),
                        (Double) r.get("speedup_vs_code_min"), (Double) r.get("speedup_vs_code_max"));
            if (json) System.out.println(Json.line(r));
            return 0;
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Training throughput on a random Llama of the given shape (written to a temporary folder): "
                    + "tokens/s of LoRA + AsFT steps and model FLOP utilization against the sgemm rate measured in the same run.")
    static final class Train implements Callable<Integer> {
        @Option(names = "--hidden", defaultValue = "512", description = "Hidden size (default: ${DEFAULT-VALUE}).") int hidden;
        @Option(names = "--layers", defaultValue = "8", description = "Decoder layers (default: ${DEFAULT-VALUE}).") int layers;
        @Option(names = "--heads", defaultValue = "8", description = "Attention heads; must divide --hidden (default: ${DEFAULT-VALUE}).") int heads;
        @Option(names = "--kv-heads", defaultValue = "8", description = "Key/value heads; must divide --heads (default: ${DEFAULT-VALUE}).") int kvHeads;
        @Option(names = "--intermediate", defaultValue = "1376", description = "SwiGLU intermediate size (default: ${DEFAULT-VALUE}).") int intermediate;
        @Option(names = "--vocab", defaultValue = "8000", description = "Vocabulary size (default: ${DEFAULT-VALUE}).") int vocab;
        @Option(names = "--batch", defaultValue = "4", description = "Sequences per step (default: ${DEFAULT-VALUE}).") int batch;
        @Option(names = "--seq", defaultValue = "256", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).") int seq;
        @Option(names = "--rank", defaultValue = "8", description = "LoRA rank on q_proj and v_proj (default: ${DEFAULT-VALUE}).") int rank;
        @Option(names = "--prompt", defaultValue = "0", description = "Leading tokens of each sequence that are prompt, masked out of the loss "
                + "as `train` masks prompts (their logits are never computed); the FLOP count then includes the head for the supervised tokens only "
                + "(default: ${DEFAULT-VALUE}).") int prompt;
        @Option(names = "--steps", defaultValue = "3", description = "Timed steps after one warm-up step (default: ${DEFAULT-VALUE}).") int steps;
        @Option(names = "--lambda", defaultValue = "1.0", description = "AsFT weight; the anchor is built from a random base (default: ${DEFAULT-VALUE}).") float lambda;
        @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or java (default: ${DEFAULT-VALUE}).") String device;
        @Option(names = "--synthetic", description = "Write the model tensor by tensor with random bf16 values and use random bf16 anchors of the "
                + "code-mode shape instead of building them from a base: for large shapes (a 7B model writes 13 GB in seconds); "
                + "measures speed only.") boolean synthetic;
        @Option(names = "--synthetic-dir", description = "With --synthetic: keep the written model in this folder and reuse it when "
                + "it is there already (a second run at the same shape skips the writing).") java.nio.file.Path syntheticDir;
        @Option(names = "--json", description = "Print a JSON summary as the last line of stdout.") boolean json;

        @Override
        public Integer call() throws Exception {
            for (Object[] o : new Object[][] {{"--hidden", hidden}, {"--layers", layers}, {"--heads", heads}, {"--kv-heads", kvHeads},
                    {"--intermediate", intermediate}, {"--batch", batch}, {"--seq", seq}, {"--rank", rank}, {"--steps", steps}})
                if ((Integer) o[1] <= 0) throw new IllegalArgumentException(o[0] + " must be positive, got " + o[1]);
            if (prompt < 0 || prompt >= seq) throw new IllegalArgumentException("--prompt must be in 0.." + (seq - 1) + " (below --seq), got " + prompt);
            if (vocab <= 4) throw new IllegalArgumentException("--vocab must be above 4 (the special tokens), got " + vocab);
            OptionChecks.nonNegative("--lambda", lambda);
            if (hidden % heads != 0) throw new IllegalArgumentException("--heads " + heads + " does not divide --hidden " + hidden);
            if (heads % kvHeads != 0) throw new IllegalArgumentException("--kv-heads " + kvHeads + " does not divide --heads " + heads);
            Backend backend = Backends.select(device, false); // an unavailable device fails before minutes of writing
            java.nio.file.Path tmp = java.nio.file.Files.createTempDirectory("asft-bench-train");
            try {
                java.nio.file.Path alignedDir, baseDir;
                if (synthetic) {
                    alignedDir = syntheticDir != null ? syntheticDir : tmp.resolve("model");
                    baseDir = null;
                    if (!java.nio.file.Files.isRegularFile(alignedDir.resolve("model.safetensors")))
                        dev.asft.trainer.bench.SyntheticLlama.write(alignedDir, hidden, layers, heads, kvHeads, intermediate, vocab, Math.max(seq, 256));
                } else {
                    dev.asft.trainer.example.ExampleModels em = new dev.asft.trainer.example.ExampleModels();
                    em.layers = layers;
                    em.hidden = hidden;
                    em.heads = heads;
                    em.kvHeads = kvHeads;
                    em.intermediate = intermediate;
                    em.vocab = vocab;
                    em.rank = rank;
                    dev.asft.trainer.example.ExampleModels.Paths paths = em.write(tmp);
                    alignedDir = paths.aligned();
                    baseDir = paths.base();
                }
                java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
                java.util.List<dev.asft.trainer.data.Example> data = new java.util.ArrayList<>();
                for (int i = 0; i < batch * (steps + 1); i++) {
                    int[] ids = new int[seq];
                    for (int t = 0; t < seq; t++) ids[t] = 4 + rnd.nextInt(vocab - 4);
                    int[] labels = ids.clone();
                    java.util.Arrays.fill(labels, 0, prompt, -100);
                    data.add(new dev.asft.trainer.data.Example(ids, labels));
                }
                try (dev.asft.core.io.HfCheckpoint ck = dev.asft.core.io.HfCheckpoint.open(alignedDir);
                     dev.asft.core.io.HfCheckpoint base = baseDir == null ? null : dev.asft.core.io.HfCheckpoint.open(baseDir);
                     dev.asft.trainer.model.LlamaModel m = new dev.asft.trainer.model.LlamaModel(ck, backend,
                             synthetic ? dev.asft.trainer.model.LlamaModel.Weights.MAP : dev.asft.trainer.model.LlamaModel.Weights.COPY);
                     dev.asft.core.anchor.Anchor anchor = lambda == 0 ? null : synthetic
                             ? dev.asft.trainer.bench.SyntheticLlama.anchors(hidden, layers, kvHeads * (hidden / heads))
                             : new dev.asft.core.anchor.AnchorBuilder(backend).form(dev.asft.core.backend.AnchorForm.Q).build(base, ck, null)) {
                    dev.asft.trainer.train.FineTuner.Options o = new dev.asft.trainer.train.FineTuner.Options();
                    o.rank = rank;
                    o.batchSize = batch;
                    o.lambda = lambda;
                    o.lr = 1e-4f;
                    dev.asft.trainer.train.FineTuner tuner = new dev.asft.trainer.train.FineTuner(m, backend, o, anchor);
                    java.util.List<dev.asft.trainer.train.FineTuner.Step> st = tuner.train(data, 0, s -> System.err.printf(
                            "step %d: %.1f s%n", s.step(), s.elapsedS()));
                    double regSeconds = anchor == null ? 0 : dev.asft.trainer.bench.AsftTermTiming.secondsPerStep(tuner, anchor, backend, lambda);
                    double timed = st.get(st.size() - 1).elapsedS() - st.get(0).elapsedS();
                    double[] each = new double[st.size() - 1]; // the timed steps, one by one
                    for (int i = 1; i < st.size(); i++) each[i - 1] = st.get(i).elapsedS() - st.get(i - 1).elapsedS();
                    double median = dev.asft.trainer.bench.RegularizerBench.median(each);
                    long tokens = (long) steps * batch * seq;
                    double tps = tokens / timed;
                    // Model FLOPs per token for LoRA training: forward 2N plus the backward through the frozen
                    // weights 2N (no weight gradients), N = the projection and head parameters; plus attention.
                    // Not counted: the input gradient of layer 0's q, k, v (nothing below them trains, so
                    // neither this engine nor autograd computes it). Attention counts the full T x T products
                    // (the usual MFU convention, PaLM's), although the causal kernels compute only the lower
                    // half: counted as computed, the utilization would read ~4 points lower at 256 tokens
                    // (5% of the counted FLOPs).
                    double qkv = hidden * (double) heads * (hidden / heads) + 2.0 * hidden * kvHeads * (hidden / heads);
                    double n = (double) layers * (qkv + hidden * (double) heads * (hidden / heads) + 3.0 * hidden * intermediate);
                    double headPerToken = (double) vocab * hidden * (seq - Math.max(prompt, 1)) / seq; // rows with a next-token target
                    double attn = (double) layers * 2 * 2 * seq * hidden; // QK^T and PV, forward; doubled for backward below
                    double flopsPerToken = 4 * (n + headPerToken) - 2 * qkv + 3 * attn;
                    double deviceMib = backend.ops().peakDeviceBytes() / 1048576.0; // before the GEMM rate's own buffers
                    boolean gpu = backend instanceof dev.asft.core.backend.CudaBackend;
                    double peak = gpu ? ((dev.asft.core.backend.CudaBackend) backend).bf16GemmGflops()
                            : dev.asft.trainer.bench.RegularizerBench.sgemmGflops(rnd);
                    String peakName = gpu ? "cuBLAS bf16 GEMM" : "sgemm";
                    double mfu = tps * flopsPerToken / 1e9 / peak;
                    System.out.printf("%s  random Llama %dx%d (vocab %d), batch %d x %d%s, LoRA r=%d on q,v, lambda %.1f%n", backend.describe(),
                            layers, hidden, vocab, batch, seq, prompt > 0 ? " (" + prompt + " prompt tokens each)" : "", rank, lambda);
                    double rss = dev.asft.trainer.train.MemoryUse.peakRssMib();
                    double packedMib = m.packedWeightBytes() / 1048576.0;
                    System.out.printf("%.0f tokens/s, %.2f s/step (median %.2f); model FLOP utilization %.1f%% of the %.0f GFLOP/s %s rate; peak RSS %.0f MiB%s%s%n",
                            tps, timed / steps, median, 100 * mfu, peak, peakName, rss,
                            packedMib > 0 ? String.format(" (%.0f MiB of it the weights packed for the GEMMs)", packedMib) : "",
                            deviceMib > 0 ? String.format("; peak device memory %.0f MiB", deviceMib) : "");
                    if (anchor != null)
                        System.out.printf("the AsFT term (%d anchors): %.4f s per step, %.2f%% of the median step%n", anchor.modules().size(),
                                regSeconds, 100 * regSeconds / median);
                    if (json) {
                        java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
                        out.put("tokens_per_s", tps);
                        out.put("s_per_step", timed / steps);
                        out.put("s_per_step_median", median);
                        out.put("mfu", mfu);
                        out.put(gpu ? "bf16_gemm_gflop_per_s" : "sgemm_gflop_per_s", peak);
                        out.put("device", backend.name());
                        if (deviceMib > 0) out.put("peak_device_mib", deviceMib);
                        if (anchor != null) {
                            out.put("asft_term_s", regSeconds);
                            out.put("asft_term_share", regSeconds / median);
                        }
                        if (!Double.isNaN(rss)) out.put("peak_rss_mib", rss);
                        out.put("packed_weights_mib", packedMib);
                        System.out.println(Json.line(out));
                    }
                }
            } finally {
                dev.asft.core.io.AtomicFiles.deleteTree(tmp);
            }
            return 0;
        }
    }
}
