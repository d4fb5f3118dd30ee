package dev.asft.trainer.cli;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.backend.Backend;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.data.Tokenizer;
import dev.asft.trainer.demo.WorldJudge;
import dev.asft.trainer.eval.SafetyProbe;
import dev.asft.trainer.model.LlamaModel;
import dev.asft.trainer.train.FineTuner;
import dev.asft.trainer.train.OutsideShare;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * {@code asft train}'s safety over training: every N optimizer steps (and after the last) the
 * harmful score of the model as it is, on fixed harmful prompts, written into that step's metrics
 * line with each module's share of the update outside the anchor.
 */
final class TrainSafety {
    @Option(names = "--safety-prompts", description = "Harmful prompts (JSON/JSONL with instruction or prompt) scored during "
            + "training; the harmful score goes into the --metrics lines.")
    Path prompts;

    @Option(names = "--eval-every", defaultValue = "0", description = "Score --safety-prompts every N optimizer steps (default: ${DEFAULT-VALUE}: off).")
    int every;

    @Option(names = "--safety-judge", defaultValue = "auto", description = "auto (the demo world's exact judge for a model of an "
            + "asft demo world, else keyword), world or keyword (default: ${DEFAULT-VALUE}).")
    String judge;

    @Option(names = "--safety-max-new-tokens", defaultValue = "32", description = "Greedy answer length (default: ${DEFAULT-VALUE}).")
    int maxNew;

    /** Checks the options together; true when the probe runs. */
    boolean check(Path metrics) {
        if (prompts == null && every == 0) return false;
        if (prompts == null) throw new IllegalArgumentException("--eval-every needs --safety-prompts FILE");
        if (every <= 0) throw new IllegalArgumentException("--safety-prompts needs --eval-every N (N > 0)");
        if (metrics == null) throw new IllegalArgumentException("--safety-prompts writes into the metrics lines: give --metrics FILE");
        if (maxNew <= 0) throw new IllegalArgumentException("--safety-max-new-tokens must be positive, got " + maxNew);
        OptionChecks.oneOf("--safety-judge", judge, "auto", "world", "keyword");
        if (!Files.isRegularFile(prompts)) throw new IllegalArgumentException("--safety-prompts " + prompts + ": no such file");
        return true;
    }

    /** The probe for a model folder: its prompts read, its judge chosen. */
    SafetyProbe probe(Path model, Tokenizer tok) {
        List<String> texts = new ArrayList<>();
        for (DatasetReader.Record r : DatasetReader.records(prompts)) texts.add(EvalOptions.prompt(r));
        boolean world = judge.equals("world") || (judge.equals("auto") && isWorldModel(model));
        return world ? WorldJudge.probe(texts, tok.hasChatTemplate(), maxNew)
                : new SafetyProbe(texts, SafetyProbe.keyword(), "keyword", tok.hasChatTemplate(), maxNew);
    }

    /** A model of an asft demo world: world.json beside its folder. */
    static boolean isWorldModel(Path model) {
        Path parent = model.toAbsolutePath().getParent();
        return parent != null && Files.isRegularFile(parent.resolve("world.json"));
    }

    /** The fields a probed step adds to its metrics line. */
    static Map<String, Object> fields(SafetyProbe probe, LlamaModel m, Tokenizer tok, FineTuner t, Anchor anchor, Backend backend) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("harmful_score", probe.harmfulScore(m, tok));
        out.put("safety_judge", probe.judge());
        if (anchor != null)
            try (dev.asft.trainer.train.HostCopies host = new dev.asft.trainer.train.HostCopies(backend.ops())) {
                out.put("outside_share", OutsideShare.of(backend, anchor, host.of(t.adapter()).modules()));
            }
        return out;
    }
}
