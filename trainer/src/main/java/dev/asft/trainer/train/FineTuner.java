package dev.asft.trainer.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.anchor.Anchor;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.TargetModules;
import dev.asft.core.regularizer.AsftRegularizer;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.data.Batch;
import dev.asft.trainer.data.Example;
import dev.asft.trainer.model.LlamaModel;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * The LoRA + AsFT training loop: per optimizer step, the token-mean masked cross-entropy of the
 * batch plus lambda * sum over modules of ||(I - C) B A||_F^2 (no LoRA scaling, as the released
 * code), gradients for the LoRA factors only, gradient-norm clipping, AdamW, and a per-epoch
 * StepLR (gamma) or constant schedule. Deterministic for a seed (init, shuffle order). With
 * {@link Options#full} it trains every weight instead (plain full fine-tuning, no AsFT term).
 */
public final class FineTuner {
    /** Options, with the AsFT run's defaults where it has them (docs/METHOD.md §4). */
    public static final class Options {
        public int rank = 8;
        public double alpha = 32;
        public boolean rslora;
        public TargetModules targets = TargetModules.DEFAULT;
        public int epochs = 1, batchSize = 8;
        /** Micro-batches of batchSize per optimizer step. */
        public int gradAccum = 1;
        /** Batches of similar lengths, less padding ({@link LengthGroups}). */
        public boolean groupByLength;
        public long maxSteps = Long.MAX_VALUE;
        public float lr = 5e-5f, weightDecay = 0f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
        public Schedule schedule = new Schedule(Schedule.Kind.CONSTANT, 1, 0);
        public double clipNorm = 0; // 0 = off
        public float lambda = 0f;
        /** PEFT's lora_dropout on the adapters' inputs during training (AsFT's code: 0.05). */
        public float dropout = 0f;
        /** "adamw" or "sgd" (p -= lr (g + weight_decay p)). */
        public String optimizer = "adamw";
        /** Start from this adapter's factors (its rank, alpha and targets replace the options'). */
        public PeftAdapter initAdapter;
        public long seed = 42;
        public String baseModelName = "";
        /** SHA-256 of the training data file, recorded in checkpoints; a resume on other data is refused (null: not checked). */
        public String dataSha256;
        /** Save a checkpoint every this many optimizer steps (0 = never) under checkpointDir. */
        public long saveEvery = 0;
        public Path checkpointDir;
        /** Full fine-tuning: every weight of the model is trained (no LoRA, no AsFT term). */
        public boolean full;
    }

    /** What one optimizer step did (also one metrics line). */
    public record Step(long step, int epoch, double loss, double taskLoss, double reg, double lr, double gradNorm, long tokens,
                       double tokensPerS, double elapsedS, double peakRssMib, double nativeMib, double heapMib, double peakDeviceMib) {}

    private final LlamaModel model;
    private final Backend backend;
    private final Options o;
    private final Anchor anchor; // may be null: plain LoRA (SFT)
    private final Map<String, PeftAdapter.Lora> lora = new LinkedHashMap<>();
    private final Map<String, Tensor[]> grads = new LinkedHashMap<>();
    private final Map<String, Tensor> fullGrads = new LinkedHashMap<>(); // full fine-tuning: weight name -> gradient
    private final List<Tensor> params = new ArrayList<>(), gradList = new ArrayList<>(), m = new ArrayList<>(), v = new ArrayList<>();
    private final AdamW opt;
    private long resumeStep; // optimizer steps already done (from a checkpoint)

    public FineTuner(LlamaModel model, Backend backend, Options options, Anchor anchor) {
        this.model = model;
        this.backend = backend;
        this.o = options;
        this.anchor = anchor;
        Random rnd = new Random(options.seed);
        if (options.dropout < 0 || options.dropout >= 1) throw new IllegalArgumentException("--lora-dropout must be in [0, 1), got " + options.dropout);
        if (!options.optimizer.equals("adamw") && !options.optimizer.equals("sgd"))
            throw new IllegalArgumentException("unknown optimizer '" + options.optimizer + "': expected adamw or sgd");
        this.opt = new AdamW(options.beta1, options.beta2, options.eps, options.weightDecay);
        if (options.full) {
            if (options.initAdapter != null) throw new IllegalArgumentException("--full trains every weight; --init-adapter does not apply");
            if (anchor != null && options.lambda != 0)
                throw new IllegalArgumentException("the AsFT term penalizes LoRA updates; --full trains without it (use --lambda 0)");
            for (Map.Entry<String, Tensor> e : model.weights().entrySet()) {
                Tensor g = backend.ops().zeros(e.getValue().shape());
                fullGrads.put(e.getKey(), g);
                params.add(e.getValue());
                gradList.add(g);
                m.add(backend.ops().zeros(e.getValue().shape()));
                v.add(backend.ops().zeros(e.getValue().shape()));
            }
            return;
        }
        if (options.initAdapter != null) {
            if (!options.initAdapter.uniformScaling())
                throw new IllegalArgumentException("--init-adapter: its rank_pattern / alpha_pattern give modules different ranks"
                        + " or alphas; training continues adapters with one rank and alpha");
            com.fasterxml.jackson.databind.node.ObjectNode c = options.initAdapter.config();
            options.rank = c.path("r").asInt(options.rank);
            options.alpha = c.path("lora_alpha").asDouble(options.alpha);
            options.rslora = c.path("use_rslora").asBoolean(false);
            options.targets = options.initAdapter.targetModules();
        }
        for (LlamaModel.Target t : model.projections()) {
            if (options.initAdapter != null) {
                PeftAdapter.Lora init = options.initAdapter.modules().get(t.name());
                if (init == null) continue;
                Tensor ta = init.a().to(DType.F32), tb = init.b().to(DType.F32);
                if (ta.dim(1) != t.in() || tb.dim(0) != t.out())
                    throw new IllegalArgumentException("--init-adapter module " + t.name() + " does not fit the model's weight");
                addParam(t.name(), ta, tb);
                continue;
            }
            if (!options.targets.matches(t.name())) continue;
            // PEFT init: A Kaiming-uniform (a = sqrt 5): U(-1/sqrt(d_in), 1/sqrt(d_in)); B = 0.
            float[] a = new float[options.rank * t.in()];
            double bound = 1.0 / Math.sqrt(t.in());
            for (int i = 0; i < a.length; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
            Tensor ta = backend.ops().allocate(options.rank, t.in()), tb = backend.ops().zeros(t.out(), options.rank);
            backend.ops().copyIn(a, ta);
            addParam(t.name(), ta, tb);
        }
        if (lora.isEmpty()) throw new IllegalArgumentException("no projection of the model matches the target modules " + options.targets);
        if (anchor != null && options.lambda != 0)
            for (String name : lora.keySet())
                if (anchor.get(name) == null) throw new IllegalArgumentException("the anchor has no module " + name + " (a target of training)");
        model.applyAdapter(adapter());
    }

    private void addParam(String name, Tensor ta, Tensor tb) {
        lora.put(name, new PeftAdapter.Lora(ta, tb));
        Tensor ga = backend.ops().zeros(ta.shape()), gb = backend.ops().zeros(tb.shape());
        grads.put(name, new Tensor[] {ga, gb});
        params.add(ta);
        params.add(tb);
        gradList.add(ga);
        gradList.add(gb);
        m.add(backend.ops().zeros(ta.shape()));
        m.add(backend.ops().zeros(tb.shape()));
        v.add(backend.ops().zeros(ta.shape()));
        v.add(backend.ops().zeros(tb.shape()));
    }

    private double scaling() {
        return o.rslora ? o.alpha / Math.sqrt(o.rank) : o.alpha / o.rank;
    }

    /** The adapter being trained (its tensors are the live parameters). */
    public PeftAdapter adapter() {
        return new PeftAdapter(PeftAdapter.newConfig(o.rank, o.alpha, o.targets.asList(), o.rslora, o.dropout, o.baseModelName), lora);
    }

    /** Optimizer steps per epoch over this many examples. */
    public int stepsPerEpoch(int examples) {
        int micro = (examples + o.batchSize - 1) / o.batchSize;
        return (micro + o.gradAccum - 1) / o.gradAccum;
    }

    /** Optimizer steps a run over this many examples takes: the epochs', or maxSteps if fewer. */
    public long totalSteps(int examples) {
        return Math.min(o.maxSteps, (long) o.epochs * stepsPerEpoch(examples));
    }

    /** Trains over the examples; each step is reported to {@code onStep}. */
    public List<Step> train(List<Example> data, int padId, Consumer<Step> onStep) {
        if (data.isEmpty()) throw new IllegalArgumentException("no training examples");
        AsftRegularizer reg = anchor == null || o.full ? null : new AsftRegularizer(anchor, backend);
        Random shuffle = new Random(o.seed + 1);
        List<Step> steps = new ArrayList<>();
        long start = System.nanoTime(), tokens = 0, stepNo = 0;
        int microPerEpoch = (data.size() + o.batchSize - 1) / o.batchSize;
        int perEpoch = stepsPerEpoch(data.size());
        long totalSteps = totalSteps(data.size());
        for (int epoch = 0; epoch < o.epochs && stepNo < o.maxSteps; epoch++) {
            List<Example> order = new ArrayList<>(data);
            Collections.shuffle(order, shuffle); // replayed from the seed on resume: same order
            if (o.groupByLength) order = LengthGroups.order(order, o.batchSize);
            for (int g0 = 0; g0 < microPerEpoch && stepNo < o.maxSteps; g0 += o.gradAccum) {
                if (stepNo < resumeStep) { // done before the checkpoint
                    stepNo++;
                    continue;
                }
                double lr = o.schedule.lr(o.lr, stepNo + 1, epoch, totalSteps);
                List<Batch> micro = new ArrayList<>();
                long targets = 0;
                for (int k = g0; k < Math.min(microPerEpoch, g0 + o.gradAccum); k++) {
                    Batch b = Batch.of(order.subList(k * o.batchSize, Math.min(order.size(), (k + 1) * o.batchSize)), padId);
                    micro.add(b);
                    targets += LlamaModel.supervisedTargets(b.labels(), b.batch(), b.length());
                }
                for (Tensor g : gradList) backend.ops().fill(g, 0f);
                double task = Double.NaN;
                if (targets > 0) {
                    double sum = 0;
                    for (int k = 0; k < micro.size(); k++) {
                        Batch b = micro.get(k);
                        long n = LlamaModel.supervisedTargets(b.labels(), b.batch(), b.length());
                        if (n == 0) continue;
                        // Dropout masks from (seed, step, micro-batch): the same on a resumed run.
                        java.util.SplittableRandom drop = new java.util.SplittableRandom(o.seed * 1_000_003L + (stepNo + 1) * 131L + k);
                        double l = o.full
                                ? model.lossAndFullGrads(b.inputIds(), b.attentionMask(), b.labels(), b.batch(), b.length(), fullGrads, targets)
                                : model.lossAndLoraGrads(b.inputIds(), b.attentionMask(), b.labels(), b.batch(), b.length(), grads,
                                targets, o.dropout, drop);
                        sum += l * n;
                    }
                    task = sum / targets;
                    if (!Double.isFinite(task))
                        throw new IllegalStateException("the loss became " + task + " at step " + (stepNo + 1)
                                + "; stopped without updating (lower the learning rate?)"
                                + (o.saveEvery > 0 ? "; the last good checkpoint is in " + o.checkpointDir : ""));
                }
                double r = reg != null && o.lambda != 0 ? reg.accumulateAll(lora, grads, o.lambda) : 0; // one wait on a device
                double norm = Math.sqrt(backend.ops().sumSquares(gradList)); // one wait on a device
                if (o.clipNorm > 0 && norm > o.clipNorm) {
                    float c = (float) (o.clipNorm / (norm + 1e-6));
                    for (Tensor g : gradList) backend.ops().scale(g, c);
                }
                if (o.optimizer.equals("sgd")) sgd((float) lr);
                else opt.update(backend.ops(), params, gradList, m, v, (float) lr);
                stepNo++;
                tokens += targets;
                double el = (System.nanoTime() - start) / 1e9;
                double taskLoss = Double.isNaN(task) ? 0 : task;
                Step s = new Step(stepNo, epoch + 1, taskLoss + o.lambda * r, taskLoss, r, lr, norm, tokens, tokens / el, el,
                        MemoryUse.peakRssMib(), MemoryUse.nativeMib(), MemoryUse.heapMib(), backend.ops().peakDeviceBytes() / 1048576.0);
                steps.add(s);
                if (onStep != null) onStep.accept(s);
                if (o.saveEvery > 0 && stepNo % o.saveEvery == 0) {
                    try {
                        saveCheckpoint(o.checkpointDir.resolve("checkpoint-" + stepNo), stepNo, perEpoch);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            }
        }
        return steps;
    }

    private void sgd(float lr) {
        for (int t = 0; t < params.size(); t++) backend.ops().sgd(params.get(t), gradList.get(t), lr, o.weightDecay);
    }

    /**
     * A checkpoint folder: the adapter (PEFT), the optimizer moments (optimizer.safetensors) and
     * trainer_state.json; written under a temporary name and renamed.
     */
    void saveCheckpoint(Path dir, long step, int perEpoch) throws IOException {
        if (java.nio.file.Files.exists(dir)) throw new IllegalArgumentException(dir + " already exists");
        dev.asft.core.io.AtomicFiles.writeFolder(dir, tmp -> writeCheckpoint(tmp, step, perEpoch));
    }

    private void writeCheckpoint(Path tmp, long step, int perEpoch) throws IOException {
        try (HostCopies host = new HostCopies(backend.ops())) { // the backend's tensors, copied out for writing
            Map<String, Tensor> moments = new LinkedHashMap<>();
            int i = 0;
            if (o.full) { // every weight (f32) and its moments, by Hugging Face name
                dev.asft.core.io.SafetensorsWriter.write(tmp.resolve("model.safetensors"), host.of(model.weights()));
                for (String name : model.weights().keySet()) {
                    moments.put(name + ".exp_avg", host.of(m.get(i)));
                    moments.put(name + ".exp_avg_sq", host.of(v.get(i)));
                    i++;
                }
            } else {
                host.of(adapter()).write(tmp);
                for (String name : lora.keySet()) {
                    moments.put(name + ".lora_A.exp_avg", host.of(m.get(i)));
                    moments.put(name + ".lora_A.exp_avg_sq", host.of(v.get(i)));
                    moments.put(name + ".lora_B.exp_avg", host.of(m.get(i + 1)));
                    moments.put(name + ".lora_B.exp_avg_sq", host.of(v.get(i + 1)));
                    i += 2;
                }
            }
            dev.asft.core.io.SafetensorsWriter.write(tmp.resolve("optimizer.safetensors"), moments);
        }
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("step", step);
        state.put("epoch", step / Math.max(1, perEpoch));
        state.put("seed", o.seed);
        state.put("batch_size", o.batchSize);
        state.put("grad_accum", o.gradAccum);
        state.put("group_by_length", o.groupByLength);
        state.put("lr", o.lr);
        state.put("schedule", o.schedule.toString());
        state.put("lambda", o.lambda);
        state.put("full", o.full);
        if (o.dataSha256 != null) state.put("data_sha256", o.dataSha256);
        dev.asft.core.io.AtomicFiles.writeString(tmp.resolve("trainer_state.json"), new ObjectMapper().writeValueAsString(state));
    }

    /**
     * Continues from a checkpoint written by this trainer: parameters, optimizer moments and step.
     * With the same data, seed, batch size and grouping the run then continues exactly (the shuffle order
     * is replayed from the seed).
     */
    public void resume(Path dir) throws IOException {
        com.fasterxml.jackson.databind.JsonNode st = Checkpoints.readState(dir);
        if (o.dataSha256 != null && st.hasNonNull("data_sha256") && !st.get("data_sha256").asText().equals(o.dataSha256))
            throw new IllegalArgumentException(dir + ": checkpoint was trained on another data file (its SHA-256 differs); "
                    + "resume with the same --data to continue the run");
        if (st.path("seed").asLong() != o.seed || st.path("batch_size").asInt() != o.batchSize
                || st.path("grad_accum").asInt(1) != o.gradAccum)
            throw new IllegalArgumentException(dir + ": checkpoint was made with seed " + st.path("seed").asLong() + " and batch size "
                    + st.path("batch_size").asInt() + "; resume with the same to continue exactly");
        if (st.path("group_by_length").asBoolean(false) != o.groupByLength)
            throw new IllegalArgumentException(dir + ": checkpoint was made " + (o.groupByLength ? "without" : "with")
                    + " --group-by-length; resume the same way to continue exactly");
        if (st.path("full").asBoolean(false) != o.full)
            throw new IllegalArgumentException(dir + ": checkpoint of " + (o.full ? "LoRA" : "full") + " training; resume it the same way");
        if (o.full) {
            resumeFull(dir);
        } else {
            resumeLora(dir);
        }
        resumeStep = st.path("step").asLong();
        this.opt.restoreStep(resumeStep);
    }

    private void resumeFull(Path dir) throws IOException {
        try (dev.asft.core.io.SafetensorsFile w = dev.asft.core.io.SafetensorsFile.open(dir.resolve("model.safetensors"));
             dev.asft.core.io.SafetensorsFile opt = dev.asft.core.io.SafetensorsFile.open(dir.resolve("optimizer.safetensors"))) {
            int i = 0;
            for (Map.Entry<String, Tensor> e : model.weights().entrySet()) {
                Tensor saved = w.tensor(e.getKey());
                if (saved.dtype() != DType.F32 || !java.util.Arrays.equals(saved.shape(), e.getValue().shape()))
                    throw new IllegalArgumentException(dir + ": checkpoint does not hold weight " + e.getKey() + " as f32 " + e.getValue().describe());
                Checkpoints.restore(backend.ops(), saved, e.getValue());
                Checkpoints.restore(backend.ops(), opt, e.getKey() + ".exp_avg", m.get(i));
                Checkpoints.restore(backend.ops(), opt, e.getKey() + ".exp_avg_sq", v.get(i));
                i++;
            }
        }
    }

    private void resumeLora(Path dir) throws IOException {
        try (PeftAdapter saved = PeftAdapter.read(dir);
             dev.asft.core.io.SafetensorsFile opt = dev.asft.core.io.SafetensorsFile.open(dir.resolve("optimizer.safetensors"))) {
            int i = 0;
            for (Map.Entry<String, PeftAdapter.Lora> e : lora.entrySet()) {
                PeftAdapter.Lora s = saved.modules().get(e.getKey());
                if (s == null || !java.util.Arrays.equals(s.a().shape(), e.getValue().a().shape())
                        || !java.util.Arrays.equals(s.b().shape(), e.getValue().b().shape()))
                    throw new IllegalArgumentException(dir + ": checkpoint does not hold module " + e.getKey() + " with the same shapes");
                Checkpoints.restore(backend.ops(), s.a(), e.getValue().a());
                Checkpoints.restore(backend.ops(), s.b(), e.getValue().b());
                Checkpoints.restore(backend.ops(), opt, e.getKey() + ".lora_A.exp_avg", m.get(i));
                Checkpoints.restore(backend.ops(), opt, e.getKey() + ".lora_A.exp_avg_sq", v.get(i));
                Checkpoints.restore(backend.ops(), opt, e.getKey() + ".lora_B.exp_avg", m.get(i + 1));
                Checkpoints.restore(backend.ops(), opt, e.getKey() + ".lora_B.exp_avg_sq", v.get(i + 1));
                i += 2;
            }
        }
    }

    /** Writes the trained adapter's files into a folder (callers rename it into place: AtomicFiles.writeFolder). */
    public void save(Path out) throws IOException {
        if (o.full) throw new IllegalStateException("a fully fine-tuned model is saved with saveModel");
        try (HostCopies host = new HostCopies(backend.ops())) {
            host.of(adapter()).write(out);
        }
    }

    /**
     * Full fine-tuning: writes the trained model as a Hugging Face folder shaped like its source
     * checkpoint (same shards and dtypes; config and tokenizer files copied); appears when complete.
     */
    public void saveModel(dev.asft.core.io.HfCheckpoint source, Path out) throws IOException {
        if (!o.full) throw new IllegalStateException("only full fine-tuning trains the model's weights");
        Map<String, Tensor> w = model.weights();
        try (HostCopies host = new HostCopies(backend.ops())) {
            dev.asft.core.io.CheckpointRewriter.rewrite(source, out, (name, t) -> {
                Tensor trained = w.get(name);
                return trained == null ? null : host.of(trained).to(t.dtype());
            });
        }
    }
}
