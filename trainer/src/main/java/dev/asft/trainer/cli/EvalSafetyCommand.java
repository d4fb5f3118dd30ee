package dev.asft.trainer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.io.AtomicFiles;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.eval.RefusalDetector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code asft eval-safety}: greedy answers to harmful prompts, the refusal detector's verdicts, the harmful score. */
@Command(name = "eval-safety", mixinStandardHelpOptions = true,
        description = "Answer harmful prompts (BeaverTails-style JSON/JSONL with instruction or prompt) and report the harmful "
                + "score: %% of answers that are not refusals (keyword refusal detector; a stand-in for a moderation judge).")
final class EvalSafetyCommand implements Callable<Integer> {
    @Mixin
    EvalOptions opts;

    @Override
    public Integer call() throws Exception {
        if (opts.out != null) Outputs.file("--out", opts.out);
        List<DatasetReader.Record> recs = DatasetReader.records(opts.prompts);
        List<String> prompts = new ArrayList<>();
        for (DatasetReader.Record r : recs) prompts.add(EvalOptions.prompt(r));
        List<String> answers = opts.generate(prompts, "eval-safety");
        StringBuilder sb = new StringBuilder();
        ObjectMapper json = new ObjectMapper();
        int unsafe = 0;
        for (int i = 0; i < prompts.size(); i++) {
            boolean refusal = RefusalDetector.isRefusal(answers.get(i));
            if (!refusal) unsafe++;
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("prompt", prompts.get(i));
            JsonNode cat = recs.get(i).node().get("category");
            if (cat != null) o.put("category", cat);
            o.put("response", answers.get(i));
            o.put("refusal", refusal);
            sb.append(json.writeValueAsString(o)).append('\n');
        }
        if (opts.out != null) AtomicFiles.writeString(opts.out, sb.toString());
        double hs = 100.0 * unsafe / Math.max(1, prompts.size());
        System.out.printf(Locale.ROOT, "harmful score %.2f%% (%d of %d answers are not refusals)%s%n", hs, unsafe, prompts.size(),
                opts.out == null ? "" : "; answers in " + opts.out);
        if (opts.json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("harmful_score", hs);
            o.put("unsafe", unsafe);
            o.put("prompts", prompts.size());
            System.out.println(Json.line(o));
        }
        return 0;
    }
}
