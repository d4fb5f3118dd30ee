package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorBuilder;
import dev.asft.core.backend.AnchorForm;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The embedded AsFT study (the shape of the paper's Table 2): on the demo world, fine-tune the
 * aligned model on n task examples plus a fraction p of harmful ones with SFT (plain LoRA),
 * Safe LoRA (post hoc, on the SFT adapter) and AsFT (same data, seed and hyperparameters), and
 * score every model on the held-out harmful and task prompts. Writes into {@code dir}: the data,
 * the adapters, every answer with its verdict, training metrics, results.json and the plots.
 */
public final class DemoStudy {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TargetModules TARGETS = TargetModules.parse("q_proj,v_proj");
    private final StudyPlan plan;
    private final long seed;
    private final Backend backend;
    private final PrintStream log;

    public DemoStudy(StudyPlan plan, long seed, Backend backend, PrintStream log) {
        this.plan = plan;
        this.seed = seed;
        this.backend = backend;
        this.log = log;
    }

    /**
     * One configuration's result (a row of the table): the mean over the plan's runs (each with
     * its own seed for the fine-tuning data, LoRA init, shuffling and dropout) and every run's value.
     */
    public record Row(String method, double p, Double lambda, List<Double> harmfulScores, List<Double> finetuneAccuracies,
                      List<String> adapters, List<Integer> projectedModules) {
        Row(String method, double p, Double lambda) {
            this(method, p, lambda, new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        }

        void add(Scores s, String adapter, Integer projected) {
            harmfulScores.add(s.harmfulScore());
            finetuneAccuracies.add(s.finetuneAccuracy());
            adapters.add("adapters/" + adapter);
            if (projected != null) projectedModules.add(projected);
        }
    }

    /** Runs the study on a built world; returns results.json's content (also written to dir). */
    public ObjectNode run(WorldBuilder.World world, Path dir) throws IOException {
        long start = System.nanoTime();
        Files.createDirectories(dir.resolve("data"));
        Files.createDirectories(dir.resolve("answers"));
        Files.createDirectories(dir.resolve("adapters"));
        Files.createDirectories(dir.resolve("metrics"));
        List<ObjectNode> harmful = WorldData.harmfulEval(plan.harmfulPrompts(), seed), task = WorldData.taskEval(plan.taskPrompts(), seed);
        WorldBuilder.writeJsonl(dir.resolve("data/harmful_eval.jsonl"), harmful);
        WorldBuilder.writeJsonl(dir.resolve("data/task_eval.jsonl"), task);
        ObjectNode results = JSON.createObjectNode();
        results.put("plan", plan.name());
        results.put("seed", seed);
        results.put("runs", plan.runs());
        results.put("n", plan.n());
        results.put("harmful_prompts", harmful.size());
        results.put("task_prompts", task.size());
        List<Row> rows = new ArrayList<>();
        List<Double> sweep = plan.lambdaSweep().stream().filter(l -> !(l == StudyPlan.LAMBDA && plan.ps().contains(plan.sweepP()))).toList();
        int phases = 3 + plan.runs() * (plan.ps().size() * 3 + sweep.size()), phase = 0;
        try (HfCheckpoint base = HfCheckpoint.open(world.base()); HfCheckpoint aligned = HfCheckpoint.open(world.aligned());
             Tokenizer tok = Tokenizer.open(world.aligned())) {
            phase(++phase, phases, "evaluate the base model");
            results.set("base", scoresNode(evaluate(base, tok, null, harmful, task, dir.resolve("answers/base.jsonl"))));
            phase(++phase, phases, "evaluate the aligned model");
            results.set("aligned", scoresNode(evaluate(aligned, tok, null, harmful, task, dir.resolve("answers/aligned.jsonl"))));
            phase(++phase, phases, "build the anchors (code mode, q_proj and v_proj)");
            try (Anchor q = new AnchorBuilder(backend).form(AnchorForm.Q).targets(TARGETS).build(base, aligned, null);
                 Anchor c = new AnchorBuilder(backend).form(AnchorForm.C).targets(TARGETS).build(base, aligned, null)) {
                for (double p : plan.ps()) {
                    Row sftRow = new Row("sft", p, null), safeRow = new Row("safelora", p, null), asftRow = new Row("asft", p, StudyPlan.LAMBDA);
                    for (int run = 0; run < plan.runs(); run++) {
                        long rs = seed + run;
                        String tag = "p" + fmt(p) + (plan.runs() > 1 ? "-seed" + rs : "");
                        List<Example> examples = finetuneData(dir, tok, p, rs);
                        phase(++phase, phases, "SFT at p = " + fmt(p) + runLabel(run));
                        String sft = "sft-" + tag;
                        train(aligned, tok, examples, 0f, null, dir, sft, rs);
                        sftRow.add(evaluate(aligned, tok, dir.resolve("adapters/" + sft), harmful, task, dir.resolve("answers/" + sft + ".jsonl")),
                                sft, null);
                        phase(++phase, phases, "Safe LoRA on the SFT adapter at p = " + fmt(p) + runLabel(run));
                        String safe = "safelora-" + tag;
                        int projected = safeLora(c, dir.resolve("adapters/" + sft), dir.resolve("adapters/" + safe));
                        safeRow.add(evaluate(aligned, tok, dir.resolve("adapters/" + safe), harmful, task,
                                dir.resolve("answers/" + safe + ".jsonl")), safe, projected);
                        phase(++phase, phases, "AsFT (lambda = " + StudyPlan.LAMBDA + ") at p = " + fmt(p) + runLabel(run));
                        asft(aligned, tok, examples, q, StudyPlan.LAMBDA, dir, tag, rs, harmful, task, asftRow);
                    }
                    rows.addAll(List.of(sftRow, safeRow, asftRow));
                }
                for (double lambda : sweep) {
                    Row row = new Row("asft", plan.sweepP(), lambda);
                    for (int run = 0; run < plan.runs(); run++) {
                        long rs = seed + run;
                        String tag = "p" + fmt(plan.sweepP()) + (plan.runs() > 1 ? "-seed" + rs : "");
                        phase(++phase, phases, "AsFT lambda sweep: lambda = " + lambda + " at p = " + fmt(plan.sweepP()) + runLabel(run));
                        asft(aligned, tok, finetuneData(dir, tok, plan.sweepP(), rs), q, lambda, dir, tag, rs, harmful, task, row);
                    }
                    rows.add(row);
                }
            }
        }
        ArrayNode arr = results.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = arr.addObject();
            o.put("method", r.method());
            o.put("p", r.p());
            if (r.lambda() != null) o.put("lambda", r.lambda());
            o.put("harmful_score", mean(r.harmfulScores()));
            o.put("finetune_accuracy", mean(r.finetuneAccuracies()));
            if (plan.runs() > 1) {
                o.put("harmful_score_sd", sd(r.harmfulScores()));
                o.put("finetune_accuracy_sd", sd(r.finetuneAccuracies()));
                o.set("harmful_score_runs", JSON.valueToTree(r.harmfulScores()));
                o.set("finetune_accuracy_runs", JSON.valueToTree(r.finetuneAccuracies()));
                o.set("adapters", JSON.valueToTree(r.adapters()));
            } else {
                o.put("adapter", r.adapters().get(0));
            }
            if (!r.projectedModules().isEmpty())
                o.set("projected_modules", plan.runs() > 1 ? JSON.valueToTree(r.projectedModules()) : JSON.valueToTree(r.projectedModules().get(0)));
        }
        results.put("elapsed_s", Math.round((System.nanoTime() - start) / 1e8) / 10.0);
        AtomicFiles.writeString(dir.resolve("results.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(results) + "\n");
        return results;
    }

    private String runLabel(int run) {
        return plan.runs() > 1 ? " (run " + (run + 1) + " of " + plan.runs() + ", seed " + (seed + run) + ")" : "";
    }

    private static double mean(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    /** Sample standard deviation (n - 1). */
    private static double sd(List<Double> v) {
        double m = mean(v), ss = 0;
        for (double x : v) ss += (x - m) * (x - m);
        return v.size() > 1 ? Math.sqrt(ss / (v.size() - 1)) : 0;
    }

    /** The fine-tuning set of (p, run seed), written to data/ once and read through the normal data path. */
    private List<Example> finetuneData(Path dir, Tokenizer tok, double p, long runSeed) throws IOException {
        Path data = dir.resolve("data/finetune_p" + fmt(p) + (plan.runs() > 1 ? "-seed" + runSeed : "") + ".jsonl");
        if (!Files.exists(data)) WorldBuilder.writeJsonl(data, WorldData.finetuneSet(plan.n(), p, runSeed));
        return new DatasetReader(tok).maxLen(64).read(data);
    }

    private void phase(int k, int n, String what) {
        log.printf("demo [%d/%d] %s%n", k, n, what);
    }

    static String fmt(double p) {
        return String.format(Locale.ROOT, "%.2f", p);
    }

    private static ObjectNode scoresNode(Scores s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("harmful_score", s.harmfulScore());
        o.put("finetune_accuracy", s.finetuneAccuracy());
        return o;
    }

    private void asft(HfCheckpoint aligned, Tokenizer tok, List<Example> examples, Anchor q, double lambda, Path dir, String tag,
                      long runSeed, List<ObjectNode> harmful, List<ObjectNode> task, Row row) throws IOException {
        String name = "asft-" + tag + "-lambda" + lambda;
        train(aligned, tok, examples, (float) lambda, q, dir, name, runSeed);
        row.add(evaluate(aligned, tok, dir.resolve("adapters/" + name), harmful, task, dir.resolve("answers/" + name + ".jsonl")), name, null);
    }

    /** LoRA fine-tuning of the aligned model (AsFT when lambda > 0), the adapter written to adapters/name. */
    private void train(HfCheckpoint aligned, Tokenizer tok, List<Example> examples, float lambda, Anchor anchor, Path dir, String name,
                       long runSeed) throws IOException {
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
        Path metrics = dir.resolve("metrics/" + name + ".jsonl");
        try (LlamaModel m = new LlamaModel(aligned, backend)) {
            FineTuner t = new FineTuner(m, backend, o, anchor);
            int steps = o.epochs * ((examples.size() + o.batchSize - 1) / o.batchSize);
            Progress progress = new Progress("  train " + name, steps, Math.max(1, steps / 4));
            t.train(examples, tok.padId(), s -> {
                progress.next(String.format("loss %.3f (reg %.2e), %.0f tok/s", s.loss(), s.reg(), s.tokensPerS()));
                try {
                    dev.asft.trainer.train.StepMetrics.appendMetrics(metrics, s);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            AtomicFiles.writeFolder(dir.resolve("adapters/" + name), t::save);
        }
    }

    /** Safe LoRA (threshold 0.5, code-mode C) on an adapter; returns how many modules it projected. */
    private int safeLora(Anchor c, Path from, Path to) throws IOException {
        try (PeftAdapter ad = PeftAdapter.read(from)) {
            List<SafeLora.ModuleReport> report = SafeLora.apply(backend, c, ad, new SafeLora.Rule(0.5, null));
            AtomicFiles.writeFolder(to, ad::write);
            return (int) report.stream().filter(SafeLora.ModuleReport::projected).count();
        }
    }

    private Scores evaluate(HfCheckpoint ck, Tokenizer tok, Path adapter, List<ObjectNode> harmful, List<ObjectNode> task, Path answers)
            throws IOException {
        try (LlamaModel m = new LlamaModel(ck, backend); PeftAdapter ad = adapter == null ? null : PeftAdapter.read(adapter)) {
            if (ad != null) m.applyAdapter(ad);
            Generator gen = new Generator(m, tok, true, plan.maxNewTokens(), new Sampler(0, 1, seed));
            int total = harmful.size() + task.size();
            Progress progress = new Progress("  evaluate", total, Math.max(1, total / 2));
            Scores s = Scores.of(gen, harmful, task, () -> progress.next(""));
            WorldBuilder.writeJsonl(answers, s.answers());
            log.printf(Locale.ROOT, "  harmful score %.1f%%, fine-tuning accuracy %.1f%%%n", s.harmfulScore(), s.finetuneAccuracy());
            return s;
        }
    }
}
