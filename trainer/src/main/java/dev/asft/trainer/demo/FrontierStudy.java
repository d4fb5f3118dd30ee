package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.safelora.SafeLora;
import dev.asft.trainer.data.Example;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Harmful score against task accuracy at one harmful fraction p, each method over its knob, with
 * a mean and 95% interval over the fine-tuning seeds for every point: SFT (one point), every
 * penalty of {@link StudyAnchors} over lambda (the L2 and random-anchor controls beside AsFT), and
 * Safe LoRA over its cosine threshold and its number of projected modules. Comparing methods at
 * equal task accuracy, not at one knob setting, is what makes the comparison fair: a penalty can
 * always buy safety with accuracy.
 */
final class FrontierStudy {
    static final List<Double> LAMBDAS = List.of(0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0);
    static final List<Double> TAUS = List.of(0.1, 0.3, 0.5, 0.7, 0.9);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One point: a method at one knob value, its scores per seed. */
    record Point(String method, String knob, double value, List<Scores> runs, List<String> adapters) {
        Point(String method, String knob, double value) {
            this(method, knob, value, new ArrayList<>(), new ArrayList<>());
        }

        /** Scores the adapter of one more seed into this point. */
        void add(StudyRunner run, String name) throws IOException {
            runs.add(run.evaluate(run.aligned, name, name));
            adapters.add(run.adapterRef(name));
        }

        List<Double> harmful() {
            return runs.stream().map(Scores::harmfulScore).toList();
        }

        List<Double> accuracy() {
            return runs.stream().map(Scores::finetuneAccuracy).toList();
        }

        ObjectNode node() {
            ObjectNode o = JSON.createObjectNode();
            o.put("method", method);
            if (knob != null) {
                o.put("knob", knob);
                o.put("value", value);
            }
            o.put("harmful_score", Stats.mean(harmful()));
            o.put("harmful_score_ci95", Stats.ci95(harmful()));
            o.put("other_rate", Stats.mean(runs.stream().map(Scores::otherRate).toList()));
            o.put("keyword_harmful_score", Stats.mean(runs.stream().map(Scores::keywordHarmfulScore).toList()));
            o.put("finetune_accuracy", Stats.mean(accuracy()));
            o.put("finetune_accuracy_ci95", Stats.ci95(accuracy()));
            o.set("harmful_score_runs", JSON.valueToTree(harmful()));
            o.set("finetune_accuracy_runs", JSON.valueToTree(accuracy()));
            o.set("adapters", JSON.valueToTree(adapters));
            return o;
        }
    }

    private final StudyRunner run;
    private final StudyAnchors anchors;
    private final PrintStream log;
    private final double p;
    private final long seed;
    private final int runs;
    /** Harmful score against step for SFT and AsFT (lambda 1) of the first seed: {step, score} pairs. */
    final Map<String, List<double[]>> traces = new LinkedHashMap<>();
    /** Probes per traced run. */
    static final int TRACE_POINTS = 10;

    FrontierStudy(StudyRunner run, StudyAnchors anchors, double p, long seed, int runs, PrintStream log) {
        this.run = run;
        this.anchors = anchors;
        this.p = p;
        this.seed = seed;
        this.runs = runs;
        this.log = log;
    }

    /** Every method's points, in method then knob order. */
    List<Point> run(List<String> penalties, List<Double> lambdas, boolean safeLora) throws IOException {
        Map<String, Point> points = new LinkedHashMap<>();
        Point sft = points.computeIfAbsent("sft", k -> new Point("sft", null, 0));
        for (int r = 0; r < runs; r++) {
            long rs = seed + r;
            String tag = "p" + StudyRunner.fmt(p) + "-seed" + rs;
            List<Example> data = run.finetuneData(p, rs);
            String sftName = "sft-" + tag;
            log.printf("demo frontier: SFT, seed %d%n", rs);
            int every = Math.max(1, run.plan.epochs() * ((data.size() + 7) / 8) / TRACE_POINTS);
            List<double[]> trace = run.train(data, 0f, null, sftName, rs, r == 0 ? every : 0);
            if (r == 0) traces.put("sft", trace);
            sft.add(run, sftName);
            for (String method : penalties)
                for (double lambda : lambdas) {
                    Point pt = points.computeIfAbsent(method + "@" + lambda, k -> new Point(method, "lambda", lambda));
                    String name = method.replace(':', '_') + "-" + tag + "-lambda" + lambda;
                    log.printf("demo frontier: %s lambda = %s, seed %d%n", method, lambda, rs);
                    boolean traced = r == 0 && method.equals("asft") && lambda == StudyPlan.LAMBDA;
                    List<double[]> t = run.train(data, (float) lambda, anchors.of(method), name, rs, traced ? every : 0);
                    if (traced) traces.put("asft", t);
                    pt.add(run, name);
                }
            if (!safeLora) continue;
            List<SafeLora.Rule> rules = new ArrayList<>();
            for (double tau : TAUS) rules.add(new SafeLora.Rule(tau, null));
            int modules = anchors.safeLoraC.modules().size();
            for (int k = 1; k <= modules; k++) rules.add(new SafeLora.Rule(null, k));
            for (SafeLora.Rule rule : rules) {
                boolean byTau = rule.threshold() != null;
                double value = byTau ? rule.threshold() : rule.numModules();
                String method = byTau ? "safelora" : "safelora-number";
                Point pt = points.computeIfAbsent(method + "@" + value, k -> new Point(method, byTau ? "tau" : "modules", value));
                String name = method + "-" + tag + (byTau ? "-tau" + value : "-k" + (int) value);
                log.printf("demo frontier: %s %s = %s, seed %d%n", method, pt.knob(), value, rs);
                run.safeLora(anchors.safeLoraC, sftName, name, rule);
                pt.add(run, name);
            }
        }
        return new ArrayList<>(points.values());
    }

    static ArrayNode toJson(List<Point> points) {
        ArrayNode a = JSON.createArrayNode();
        for (Point pt : points) a.add(pt.node());
        return a;
    }

    /**
     * Per method, its point with the lowest mean harmful score among those whose mean task accuracy
     * is within {@code slack} points of SFT's (SFT itself for "sft"); methods with no such point are left out.
     */
    static Map<String, Point> bestAtEqualAccuracy(List<Point> points, double slack) {
        Point sft = points.stream().filter(pt -> pt.method().equals("sft")).findFirst().orElseThrow();
        double floor = Stats.mean(sft.accuracy()) - slack;
        Map<String, Point> best = new LinkedHashMap<>();
        for (Point pt : points) {
            if (Stats.mean(pt.accuracy()) < floor) continue;
            Point b = best.get(pt.method());
            if (b == null || Stats.mean(pt.harmful()) < Stats.mean(b.harmful())) best.put(pt.method(), pt);
        }
        return best;
    }
}
