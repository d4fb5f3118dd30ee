package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.backend.Backend;
import dev.asft.core.safelora.SafeLora;
import dev.asft.trainer.data.Example;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The headline comparison on further worlds (other world seeds: other pretraining, alignment and
 * evaluation prompts): each headline method at the knob its frontier point on the first world
 * chose, fine-tuned with the same seeds. Reports every world's mean per method, the spread between
 * worlds (sd of the world means) and the spread between fine-tuning seeds within a world (pooled sd).
 */
final class WorldsStudy {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final StudyPlan plan;
    private final Backend backend;
    private final Path dir;
    private final PrintStream log;
    private final java.util.function.LongFunction<Path> worldDir;

    WorldsStudy(StudyPlan plan, Backend backend, Path dir, java.util.function.LongFunction<Path> worldDir, PrintStream log) {
        this.plan = plan;
        this.worldDir = worldDir;
        this.backend = backend;
        this.dir = dir;
        this.log = log;
    }

    ObjectNode run(long seed, Map<String, FrontierStudy.Point> best, List<FrontierStudy.Point> frontier) throws IOException {
        Map<String, List<FrontierStudy.Point>> perMethod = new LinkedHashMap<>();
        List<String> methods = DemoStudy.headline().stream().filter(best::containsKey).toList();
        for (String m : methods) perMethod.computeIfAbsent(m, k -> new ArrayList<>()).add(best.get(m)); // the first world
        ObjectNode out = JSON.createObjectNode();
        ArrayNode worlds = out.putArray("world_seeds");
        worlds.add(seed);
        for (long ws : plan.extraWorldSeeds(seed)) {
            worlds.add(ws);
            WorldBuilder.World world = Worlds.obtain(plan.world(), ws, backend, worldDir.apply(ws), false, log);
            try (StudyRunner run = new StudyRunner(plan, world, ws, "world" + ws + "-", backend, dir, log);
                 StudyAnchors anchors = new StudyAnchors(backend, run.base, run.aligned, ws)) {
                Map<String, FrontierStudy.Point> here = new LinkedHashMap<>();
                for (String m : methods) {
                    FrontierStudy.Point b = best.get(m);
                    here.put(m, new FrontierStudy.Point(m, b.knob(), b.value()));
                }
                for (int r = 0; r < plan.runs(); r++) {
                    long rs = seed + r;
                    String tag = "p" + StudyRunner.fmt(plan.frontierP()) + "-seed" + rs;
                    List<Example> data = run.finetuneData(plan.frontierP(), rs);
                    String sftName = "sft-" + tag;
                    log.printf("demo worlds: world %d, seed %d%n", ws, rs);
                    run.train(data, 0f, null, sftName, rs);
                    for (String m : methods) {
                        FrontierStudy.Point pt = here.get(m);
                        String name = switch (m) {
                            case "sft" -> sftName;
                            case "safelora" -> {
                                String n = "safelora-" + tag + "-tau" + pt.value();
                                run.safeLora(anchors.safeLoraC, sftName, n, new SafeLora.Rule(pt.value(), null));
                                yield n;
                            }
                            default -> {
                                String n = m + "-" + tag + "-lambda" + pt.value();
                                run.train(data, (float) pt.value(), anchors.of(m), n, rs);
                                yield n;
                            }
                        };
                        pt.add(run, name);
                    }
                }
                ObjectNode w = out.putObject("world_" + ws);
                w.set("anchor_scale", anchors.scale(backend));
                for (String m : methods) {
                    w.set(m, here.get(m).node());
                    perMethod.get(m).add(here.get(m));
                }
            }
        }
        ObjectNode summary = out.putObject("summary");
        for (var e : perMethod.entrySet()) {
            List<Double> means = new ArrayList<>(), acc = new ArrayList<>();
            double var = 0;
            for (FrontierStudy.Point pt : e.getValue()) {
                means.add(Stats.mean(pt.harmful()));
                acc.add(Stats.mean(pt.accuracy()));
                var += Math.pow(Stats.sd(pt.harmful()), 2);
            }
            ObjectNode o = summary.putObject(e.getKey());
            FrontierStudy.Point first = e.getValue().get(0);
            if (first.knob() != null) {
                o.put("knob", first.knob());
                o.put("value", first.value());
            }
            o.set("harmful_score_per_world", JSON.valueToTree(means));
            o.set("finetune_accuracy_per_world", JSON.valueToTree(acc));
            o.put("harmful_score", Stats.mean(means));
            o.put("finetune_accuracy", Stats.mean(acc));
            o.put("harmful_score_sd_between_worlds", Stats.sd(means));
            o.put("harmful_score_sd_between_seeds", Math.sqrt(var / e.getValue().size()));
        }
        return out;
    }
}
