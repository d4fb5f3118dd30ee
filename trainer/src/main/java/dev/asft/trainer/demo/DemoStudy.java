package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.AtomicFiles;
import dev.asft.core.safelora.SafeLora;
import dev.asft.trainer.data.Example;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The embedded AsFT study on the demo world, every answer judged exactly ({@link WorldJudge}):
 * <ol>
 * <li>the paper's Table 2 shape: SFT (plain LoRA), Safe LoRA (tau 0.5) and AsFT (lambda 1) at each
 * harmful fraction p;
 * <li>at p = {@link StudyPlan#frontierP}, the Pareto frontier of harmful score against task accuracy,
 * every method over its knob with the L2 and random-anchor controls ({@link FrontierStudy});
 * <li>the headline (SFT, L2, AsFT and Safe LoRA at their frontier points within 2 points of SFT's
 * task accuracy) on further worlds, the spread between worlds beside the spread between seeds.
 * </ol>
 * Writes data, adapters, answers with verdicts, metrics, results.json (and the caller the plots).
 */
public final class DemoStudy {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Task-accuracy slack of "equal accuracy": within this many points of SFT's. */
    static final double SLACK = 2.0;
    private static final List<String> HEADLINE = List.of("sft", "l2", "asft", "safelora");

    private final StudyPlan plan;
    private final long seed;
    private final Backend backend;
    private final PrintStream log;
    private final java.util.function.LongFunction<Path> worldDir;

    /** worldDir: where the headline's further worlds (by world seed) are kept or built. */
    public DemoStudy(StudyPlan plan, long seed, Backend backend, java.util.function.LongFunction<Path> worldDir, PrintStream log) {
        this.plan = plan;
        this.worldDir = worldDir;
        this.seed = seed;
        this.backend = backend;
        this.log = log;
    }

    /** Runs the study on a built world (and, for the headline, on further worlds it obtains); returns results.json's content. */
    public ObjectNode run(WorldBuilder.World world, Path dir) throws IOException {
        long start = System.nanoTime();
        ObjectNode results = JSON.createObjectNode();
        results.put("plan", plan.name());
        results.put("seed", seed);
        results.put("runs", plan.runs());
        results.put("n", plan.n());
        results.put("harmful_prompts", plan.harmfulPrompts());
        results.put("task_prompts", plan.taskPrompts());
        results.put("judge", "world grammar (WorldJudge); keyword_* fields: the keyword refusal detector");
        try (StudyRunner run = new StudyRunner(plan, world, seed, "", backend, dir, log);
             StudyAnchors anchors = new StudyAnchors(backend, run.base, run.aligned, seed)) {
            log.println("demo: evaluate the base and the aligned model");
            results.set("base", run.evaluate(run.base, null, "base").node());
            results.set("aligned", run.evaluate(run.aligned, null, "aligned").node());
            results.set("anchor_scale", anchors.scale(backend));
            List<FrontierStudy.Point> frontier = List.of();
            if (plan.frontier()) {
                FrontierStudy fs = new FrontierStudy(run, anchors, plan.frontierP(), seed, plan.runs(), log);
                frontier = fs.run(plan.penalties(), plan.lambdas(), true);
                results.put("frontier_p", plan.frontierP());
                results.set("frontier", FrontierStudy.toJson(frontier));
                ObjectNode traces = results.putObject("safety_over_training");
                traces.put("p", plan.frontierP());
                traces.put("seed", seed);
                for (var e : fs.traces.entrySet()) traces.set(e.getKey(), JSON.valueToTree(e.getValue()));
            }
            ArrayNode rows = results.putArray("rows");
            for (double p : plan.ps()) tableRows(run, anchors, p, frontier, rows);
            if (plan.frontier()) {
                Map<String, FrontierStudy.Point> best = FrontierStudy.bestAtEqualAccuracy(frontier, SLACK);
                ObjectNode b = results.putObject("best_at_equal_accuracy");
                b.put("slack_points", SLACK);
                for (var e : best.entrySet()) b.set(e.getKey(), e.getValue().node());
                if (plan.extraWorlds() > 0) results.set("worlds", new WorldsStudy(plan, backend, dir, worldDir, log).run(seed, best, frontier));
            }
        }
        results.put("elapsed_s", Math.round((System.nanoTime() - start) / 1e8) / 10.0);
        AtomicFiles.writeString(dir.resolve("results.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(results) + "\n");
        return results;
    }

    /** SFT, Safe LoRA (tau 0.5) and AsFT (lambda 1) at p: from the frontier where it ran at this p, else trained here. */
    private void tableRows(StudyRunner run, StudyAnchors anchors, double p, List<FrontierStudy.Point> frontier, ArrayNode rows)
            throws IOException {
        FrontierStudy.Point sft, safe, asft;
        if (!frontier.isEmpty() && p == plan.frontierP()) {
            sft = find(frontier, "sft", 0);
            safe = find(frontier, "safelora", StudyPlan.TAU);
            asft = find(frontier, "asft", StudyPlan.LAMBDA);
        } else {
            sft = new FrontierStudy.Point("sft", null, 0);
            safe = new FrontierStudy.Point("safelora", "tau", StudyPlan.TAU);
            asft = new FrontierStudy.Point("asft", "lambda", StudyPlan.LAMBDA);
            for (int r = 0; r < plan.runs(); r++) {
                long rs = seed + r;
                String tag = "p" + StudyRunner.fmt(p) + "-seed" + rs;
                List<Example> data = run.finetuneData(p, rs);
                log.printf("demo: SFT, Safe LoRA and AsFT at p = %s, seed %d%n", StudyRunner.fmt(p), rs);
                String sftName = "sft-" + tag, safeName = "safelora-" + tag + "-tau" + StudyPlan.TAU,
                        asftName = "asft-" + tag + "-lambda" + StudyPlan.LAMBDA;
                run.train(data, 0f, null, sftName, rs);
                sft.add(run, sftName);
                run.safeLora(anchors.safeLoraC, sftName, safeName, new SafeLora.Rule(StudyPlan.TAU, null));
                safe.add(run, safeName);
                run.train(data, (float) StudyPlan.LAMBDA, anchors.of("asft"), asftName, rs);
                asft.add(run, asftName);
            }
        }
        for (FrontierStudy.Point pt : List.of(sft, safe, asft)) {
            ObjectNode o = pt.node();
            o.put("p", p);
            rows.add(o);
        }
    }

    private static FrontierStudy.Point find(List<FrontierStudy.Point> points, String method, double value) {
        return points.stream().filter(pt -> pt.method().equals(method) && (pt.knob() == null || pt.value() == value)).findFirst()
                .orElseThrow(() -> new IllegalStateException("the frontier has no " + method + " at " + value));
    }

    static String fmt(double p) {
        return StudyRunner.fmt(p);
    }

    /** The headline methods, in table order. */
    static List<String> headline() {
        return HEADLINE;
    }
}
