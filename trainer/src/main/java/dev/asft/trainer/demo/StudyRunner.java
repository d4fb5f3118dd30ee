package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.anchor.Anchor;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.AtomicFiles;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.TargetModules;
import dev.asft.core.safelora.SafeLora;
import dev.asft.trainer.cli.Progress;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.data.Example;
import dev.asft.trainer.data.Tokenizer;
import dev.asft.trainer.eval.Generator;
import dev.asft.trainer.model.LlamaModel;
import dev.asft.trainer.model.Sampler;
import dev.asft.trainer.train.FineTuner;
import dev.asft.trainer.train.Schedule;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The mechanics of a study on one world: its checkpoints, tokenizer and held-out sets, and the
 * three things a study does with them: fine-tune the aligned model (LoRA, AsFT when an anchor and
 * lambda are given), apply Safe LoRA to an adapter, and score a model. Files go under {@code dir}
 * (data/, adapters/, answers/, metrics/), names prefixed by the world's tag.
 */
final class StudyRunner implements AutoCloseable {
    static final TargetModules TARGETS = TargetModules.parse("q_proj,v_proj");

    final StudyPlan plan;
    final long worldSeed;
    final Backend backend;
    final HfCheckpoint base, aligned;
    final Tokenizer tok;
    final List<ObjectNode> harmful, task;
    private final Path dir;
    private final String prefix;
    private final PrintStream log;

    StudyRunner(StudyPlan plan, WorldBuilder.World world, long worldSeed, String prefix, Backend backend, Path dir, PrintStream log)
            throws IOException {
        this.plan = plan;
        this.worldSeed = worldSeed;
        this.backend = backend;
        this.dir = dir;
        this.prefix = prefix;
        this.log = log;
        for (String sub : List.of("data", "answers", "adapters", "metrics")) Files.createDirectories(dir.resolve(sub));
        this.harmful = WorldData.harmfulEval(plan.harmfulPrompts(), worldSeed);
        this.task = WorldData.taskEval(plan.taskPrompts(), worldSeed);
        WorldBuilder.writeJsonl(dir.resolve("data/" + prefix + "harmful_eval.jsonl"), harmful);
        WorldBuilder.writeJsonl(dir.resolve("data/" + prefix + "task_eval.jsonl"), task);
        this.base = HfCheckpoint.open(world.base());
        this.aligned = HfCheckpoint.open(world.aligned());
        this.tok = Tokenizer.open(world.aligned());
    }

    /** The fine-tuning set of (p, run seed), written to data/ once and read through the normal data path. */
    List<Example> finetuneData(double p, long runSeed) throws IOException {
        Path data = dir.resolve("data/" + prefix + "finetune_p" + fmt(p) + "-seed" + runSeed + ".jsonl");
        if (!Files.exists(data)) WorldBuilder.writeJsonl(data, WorldData.finetuneSet(plan.n(), p, runSeed));
        return new DatasetReader(tok).maxLen(64).read(data);
    }

    /** LoRA fine-tuning of the aligned model (AsFT when lambda > 0 with an anchor); the adapter goes to adapters/name. */
    void train(List<Example> examples, float lambda, Anchor anchor, String name, long runSeed) throws IOException {
        train(examples, lambda, anchor, name, runSeed, 0);
    }

    /**
     * As above; with probeEvery > 0 the held-out harmful score (the world's judge) every that many
     * steps and after the last, returned as {step, harmful score} pairs (the first at step 0).
     */
    List<double[]> train(List<Example> examples, float lambda, Anchor anchor, String name, long runSeed, int probeEvery)
            throws IOException {
        List<double[]> trace = new java.util.ArrayList<>();
        FineTuner.Options o = new FineTuner.Options();
        o.rank = 8;
        o.alpha = 32;
        o.dropout = 0.05f;
        o.targets = TARGETS;
        o.batchSize = 8;
        o.epochs = plan.epochs();
        o.lr = plan.lr();
        o.schedule = Schedule.parse("step:0.85", 0);
        o.lambda = lambda;
        o.seed = runSeed;
        o.baseModelName = "asft-demo-aligned";
        Path metrics = dir.resolve("metrics/" + prefix + name + ".jsonl");
        try (LlamaModel m = new LlamaModel(aligned, backend)) {
            FineTuner t = new FineTuner(m, backend, o, anchor);
            int steps = o.epochs * ((examples.size() + o.batchSize - 1) / o.batchSize);
            dev.asft.trainer.eval.SafetyProbe probe = probeEvery <= 0 ? null
                    : WorldJudge.probe(harmful.stream().map(h -> h.get("prompt").asText()).toList(), true, plan.maxNewTokens());
            if (probe != null) trace.add(new double[] {0, probe.harmfulScore(m, tok)});
            Progress progress = new Progress("  train " + prefix + name, steps, Math.max(1, steps / 4));
            t.train(examples, tok.padId(), s -> {
                progress.next(String.format(Locale.ROOT, "loss %.3f (reg %.2e), %.0f tok/s", s.loss(), s.reg(), s.tokensPerS()));
                java.util.Map<String, Object> extra = new java.util.LinkedHashMap<>();
                if (probe != null && (s.step() % probeEvery == 0 || s.step() == steps)) {
                    double hs = probe.harmfulScore(m, tok);
                    trace.add(new double[] {s.step(), hs});
                    extra.put("harmful_score", hs);
                    if (anchor != null)
                        try (dev.asft.trainer.train.HostCopies host = new dev.asft.trainer.train.HostCopies(backend.ops())) {
                            extra.put("outside_share", dev.asft.trainer.train.OutsideShare.of(backend, anchor, host.of(t.adapter()).modules()));
                        }
                }
                try {
                    dev.asft.trainer.train.StepMetrics.appendMetrics(metrics, s, extra);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            AtomicFiles.writeFolder(adapter(name), t::save);
        }
        return trace;
    }

    /** Safe LoRA on an adapter (code-mode C anchor); returns how many modules it projected. */
    int safeLora(Anchor c, String from, String to, SafeLora.Rule rule) throws IOException {
        try (PeftAdapter ad = PeftAdapter.read(adapter(from))) {
            List<SafeLora.ModuleReport> report = SafeLora.apply(backend, c, ad, rule);
            AtomicFiles.writeFolder(adapter(to), ad::write);
            return (int) report.stream().filter(SafeLora.ModuleReport::projected).count();
        }
    }

    /** Scores the aligned model with an adapter (or a checkpoint alone when name is null); answers go to answers/. */
    Scores evaluate(HfCheckpoint ck, String adapterName, String answersName) throws IOException {
        try (LlamaModel m = new LlamaModel(ck, backend); PeftAdapter ad = adapterName == null ? null : PeftAdapter.read(adapter(adapterName))) {
            if (ad != null) m.applyAdapter(ad);
            Generator gen = new Generator(m, tok, true, plan.maxNewTokens(), new Sampler(0, 1, worldSeed));
            int total = harmful.size() + task.size();
            Progress progress = new Progress("  evaluate", total, Math.max(1, total / 2));
            Scores s = Scores.of(gen, harmful, task, () -> progress.next(""));
            WorldBuilder.writeJsonl(dir.resolve("answers/" + prefix + answersName + ".jsonl"), s.answers());
            log.printf(Locale.ROOT, "  harmful score %.1f%% (other %.1f%%, keyword judge %.1f%%), fine-tuning accuracy %.1f%%%n",
                    s.harmfulScore(), s.otherRate(), s.keywordHarmfulScore(), s.finetuneAccuracy());
            return s;
        }
    }

    /** adapters/ path of a study adapter. */
    Path adapter(String name) {
        return dir.resolve("adapters/" + prefix + name);
    }

    /** The adapter's path as results.json records it (relative to the output folder). */
    String adapterRef(String name) {
        return "adapters/" + prefix + name;
    }

    static String fmt(double p) {
        return String.format(Locale.ROOT, "%.2f", p);
    }

    @Override
    public void close() {
        tok.close();
        aligned.close();
        base.close();
    }
}
