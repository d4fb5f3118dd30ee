package dev.asft.trainer.cli;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorBuilder;
import dev.asft.core.anchor.AnchorFile;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.TargetModules;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.data.Example;
import dev.asft.trainer.model.LlamaModel;
import dev.asft.trainer.train.FineTuner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft train}: LoRA fine-tuning with the AsFT regularizer (or plain LoRA with --lambda 0). */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Fine-tune a Llama-family model with LoRA; with an anchor (--anchor FILE, or built from --base DIR) "
                + "and --lambda > 0 the loss adds lambda * sum ||(I - C) B A||_F^2 (AsFT). Writes a PEFT adapter.")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "The aligned model to fine-tune (Hugging Face folder).")
    Path model;

    @Option(names = "--data", required = true, description = "Training data (JSONL or a JSON array; see asft loss).")
    Path data;

    @Option(names = "--out", required = true, description = "Output PEFT adapter folder.")
    Path out;

    @Option(names = "--anchor", description = "An anchor file for this model (asft anchor).")
    Path anchorFile;

    @Option(names = "--base", description = "The unaligned base model: build the code-mode anchor on the fly.")
    Path base;

    @Option(names = "--lambda", defaultValue = "1.0", description = "AsFT weight (default: ${DEFAULT-VALUE}; 0 = plain LoRA).")
    float lambda;

    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--alpha", defaultValue = "32", description = "LoRA alpha (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--lora-dropout", defaultValue = "0", description = "Dropout on the adapters' inputs (AsFT's code: 0.05) (default: ${DEFAULT-VALUE}).")
    float loraDropout;

    @Option(names = "--rslora", description = "Scale by alpha / sqrt(r) instead of alpha / r.")
    boolean rslora;

    @Option(names = "--targets", defaultValue = "q_proj,v_proj", description = "Target module suffixes, or all-linear (default: ${DEFAULT-VALUE}).")
    String targets;

    @Option(names = "--epochs", description = "Passes over the data (default: 1, or as many as --steps needs).")
    Integer epochsOption;

    @Option(names = "--steps", description = "Optimizer steps: alone, exactly this many (the data cycled in fresh "
            + "shuffles, as Hugging Face's max_steps); with --epochs, whichever ends first.")
    Long steps;

    @Option(names = "--batch-size", defaultValue = "8", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per optimizer step (default: ${DEFAULT-VALUE}).")
    int gradAccum;

    @Option(names = "--lr", defaultValue = "5e-5", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
    float lr;

    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or sgd (default: ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--init-adapter", description = "Start from this PEFT adapter (its rank, alpha and targets are used).")
    Path initAdapter;

    @Option(names = "--weight-decay", defaultValue = "0", description = "AdamW weight decay (default: ${DEFAULT-VALUE}).")
    float weightDecay;

    @Option(names = "--schedule", defaultValue = "constant",
            description = "constant, step:GAMMA (per epoch; AsFT: step:0.85), cosine or linear (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--warmup", defaultValue = "0", description = "Linear warm-up steps (default: ${DEFAULT-VALUE}).")
    long warmup;

    @Option(names = "--clip", defaultValue = "0", description = "Clip the gradient norm to this (0 = off) (default: ${DEFAULT-VALUE}).")
    double clip;

    @Option(names = "--max-len", defaultValue = "512", description = "Truncate longer sequences (default: ${DEFAULT-VALUE}).")
    int maxLen;

    @Option(names = "--train-on-inputs", description = "Supervise prompt tokens too.")
    boolean trainOnInputs;

    @Option(names = "--group-by-length", description = "Batch examples of similar lengths: each run of 50 batches of the shuffled data "
            + "is sorted by length (less padding, as Hugging Face's group_by_length); the longest example goes first.")
    boolean groupByLength;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for init and shuffling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--metrics", description = "Append one JSON line per step to this file.")
    Path metrics;

    @picocli.CommandLine.Mixin
    TrainSafety safety;

    @Option(names = "--save-every", defaultValue = "0", description = "Save a checkpoint every N steps (0 = never) (default: ${DEFAULT-VALUE}).")
    long saveEvery;

    @Option(names = "--checkpoint-dir", description = "Where checkpoints go (default: OUT-checkpoints).")
    Path checkpointDir;

    @Option(names = "--resume", description = "Continue from a checkpoint folder, or the checkpoint root (its latest checkpoint-N) "
            + "(same data, seed, batch size and grouping).")
    Path resume;

    @Option(names = "--full", description = "Full fine-tuning: train every weight and write a Hugging Face model folder "
            + "(shards and dtype of --model) instead of an adapter; no AsFT term.")
    boolean full;

    @picocli.CommandLine.Mixin
    WeightsOption weights = new WeightsOption();

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() throws Exception {
        if (anchorFile != null && base != null) throw new IllegalArgumentException("give --anchor or --base, not both");
        OptionChecks.nonNegative("--lr", lr);
        OptionChecks.nonNegative("--weight-decay", weightDecay);
        OptionChecks.nonNegative("--lambda", lambda);
        OptionChecks.nonNegative("--clip", clip);
        OptionChecks.positive("--alpha", alpha);
        OptionChecks.range("--lora-dropout", loraDropout, 0, 1, false);
        Outputs.folder("--out", out);
        if (metrics != null) Outputs.file("--metrics", metrics);
        boolean probing = safety.check(metrics);
        FineTuner.Options o = new FineTuner.Options();
        o.rank = rank;
        o.alpha = alpha;
        o.rslora = rslora;
        o.dropout = loraDropout;
        o.targets = TargetModules.parse(targets);
        if (epochsOption != null && epochsOption <= 0) throw new IllegalArgumentException("--epochs must be positive, got " + epochsOption);
        if (steps != null && (steps <= 0 || steps > Integer.MAX_VALUE))
            throw new IllegalArgumentException("--steps must be in 1.." + Integer.MAX_VALUE + ", got " + steps);
        o.epochs = epochsOption != null ? epochsOption : steps != null ? Integer.MAX_VALUE : 1;
        o.maxSteps = steps == null ? Long.MAX_VALUE : steps;
        o.batchSize = batchSize;
        o.gradAccum = gradAccum;
        o.groupByLength = groupByLength;
        o.lr = lr;
        o.weightDecay = weightDecay;
        o.clipNorm = clip;
        o.lambda = lambda;
        o.seed = seed;
        o.baseModelName = model.toString();
        o.saveEvery = saveEvery;
        o.optimizer = optimizer.toLowerCase(java.util.Locale.ROOT);
        o.checkpointDir = checkpointDir != null ? checkpointDir : out.resolveSibling(out.getFileName() + "-checkpoints");
        if (saveEvery > 0 || checkpointDir != null) Outputs.folderToFill("--checkpoint-dir", o.checkpointDir);
        o.schedule = dev.asft.trainer.train.Schedule.parse(schedule, warmup);
        o.full = full;
        o.dataSha256 = dev.asft.trainer.train.Checkpoints.sha256(data);
        if (full && weights.mode() == LlamaModel.Weights.MAP) throw new IllegalArgumentException("--full trains f32 weights; --weights map does not apply");
        if (rank <= 0 || batchSize <= 0 || gradAccum <= 0)
            throw new IllegalArgumentException("--rank, --batch-size and --grad-accum must be positive");
        // An --init-adapter's target_modules are the training targets, so an anchor built on the fly covers them.
        dev.asft.core.io.PeftAdapter init = initAdapter == null ? null : dev.asft.core.io.PeftAdapter.read(initAdapter);
        if (init != null) o.targets = init.targetModules();
        Backend backend = Backends.select(device, true);
        try (HfCheckpoint ck = HfCheckpoint.open(model); LlamaModel m = new LlamaModel(ck, backend, full ? LlamaModel.Weights.COPY : weights.mode()); Anchor anchor = anchor(backend, ck, o)) {
            DatasetReader.Loaded loaded = DatasetReader.load(model, data, trainOnInputs, maxLen, "train");
            List<Example> examples = loaded.examples();
            Integer padId = loaded.padId();
            o.initAdapter = init;
            FineTuner t = new FineTuner(m, backend, o, anchor);
            if (init != null) init.close(); // its factors were copied
            if (resume != null) t.resume(dev.asft.trainer.train.Checkpoints.resolve(resume));
            long total = t.totalSteps(examples.size());
            Progress progress = new Progress("train", (int) Math.min(Integer.MAX_VALUE, total));
            dev.asft.trainer.data.Tokenizer tok = probing ? dev.asft.trainer.data.Tokenizer.open(model) : null;
            dev.asft.trainer.eval.SafetyProbe probe = probing ? safety.probe(model, tok) : null;
            t.train(examples, padId == null ? 0 : padId, s -> {
                progress.next(String.format("loss %.4f (task %.4f, reg %.3e) lr %.2e %.0f tok/s", s.loss(), s.taskLoss(), s.reg(), s.lr(),
                        s.tokensPerS()));
                if (metrics != null) {
                    try {
                        boolean probed = probe != null && (s.step() % safety.every == 0 || s.step() == total);
                        dev.asft.trainer.train.StepMetrics.appendMetrics(metrics, s,
                                probed ? TrainSafety.fields(probe, m, tok, t, anchor, backend) : java.util.Map.of());
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            });
            if (tok != null) tok.close();
            if (full) t.saveModel(ck, out);
            else dev.asft.core.io.AtomicFiles.writeFolder(out, t::save);
            System.out.println("wrote " + out);
        }
        return 0;
    }

    private Anchor anchor(Backend backend, HfCheckpoint aligned, FineTuner.Options o) {
        if (lambda == 0 || (full && anchorFile == null && base == null)) return null;
        if (anchorFile != null) {
            Anchor a = AnchorFile.read(anchorFile, backend, AnchorForm.Q);
            AnchorFile.checkBelongsTo(a, anchorFile, aligned);
            return a;
        }
        if (base != null) {
            try (HfCheckpoint b = HfCheckpoint.open(base)) {
                return new AnchorBuilder(backend).form(AnchorForm.Q).targets(o.targets).build(b, aligned, null);
            }
        }
        throw new IllegalArgumentException("--lambda " + lambda + " needs an anchor: --anchor FILE or --base DIR (or --lambda 0 for plain LoRA)");
    }
}
