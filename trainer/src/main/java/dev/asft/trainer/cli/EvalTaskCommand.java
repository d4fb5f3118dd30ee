package dev.asft.trainer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.io.AtomicFiles;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.eval.TaskScorer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code asft eval-task}: greedy answers to task prompts scored against gold answers (fine-tuning accuracy). */
@Command(name = "eval-task", mixinStandardHelpOptions = true,
        description = "Answer task prompts (JSON/JSONL with instruction or prompt, and the gold answer in --answer-field) "
                + "and report the accuracy: label tasks (AGNEWS, SST-2), exact answers, or final numbers (GSM8K).")
final class EvalTaskCommand implements Callable<Integer> {
    @Mixin
    EvalOptions opts;

    @Option(names = "--scorer", defaultValue = "label",
            description = "label (gold label present, no other label), label-lenient (the paper's: gold label present), exact or number "
                    + "(default: ${DEFAULT-VALUE}).")
    String scorer;

    @Option(names = "--labels", split = ",", description = "The label set for the label scorers (default: every gold answer in the file).")
    List<String> labels;

    @Option(names = "--answer-field", defaultValue = "label",
            description = "The field with the gold answer; output and answer are tried when it is missing (default: ${DEFAULT-VALUE}).")
    String answerField;

    @Override
    public Integer call() throws Exception {
        TaskScorer.Kind kind = TaskScorer.Kind.parse(scorer);
        if (opts.out != null) Outputs.file("--out", opts.out);
        List<DatasetReader.Record> recs = DatasetReader.records(opts.prompts);
        List<String> prompts = new ArrayList<>(), gold = new ArrayList<>();
        for (DatasetReader.Record r : recs) {
            prompts.add(EvalOptions.prompt(r));
            JsonNode g = r.node().has(answerField) ? r.node().get(answerField)
                    : r.node().has("output") ? r.node().get("output") : r.node().get("answer");
            if (g == null || g.isNull()) throw new IllegalArgumentException(r.where() + ": no gold answer (field " + answerField + ")");
            gold.add(g.asText());
        }
        List<String> labelSet = labels != null ? labels : new ArrayList<>(new LinkedHashSet<>(gold));
        if ((kind == TaskScorer.Kind.LABEL || kind == TaskScorer.Kind.LABEL_LENIENT) && labels == null && labelSet.size() > 20)
            throw new IllegalArgumentException(opts.prompts + ": " + labelSet.size() + " distinct gold answers; for a label task give "
                    + "--labels, or use --scorer exact or number");
        TaskScorer s = new TaskScorer(kind, labelSet);
        List<String> answers = opts.generate(prompts, "eval-task");
        StringBuilder sb = new StringBuilder();
        ObjectMapper json = new ObjectMapper();
        int right = 0;
        for (int i = 0; i < prompts.size(); i++) {
            boolean ok = s.correct(answers.get(i), gold.get(i));
            if (ok) right++;
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("prompt", prompts.get(i));
            o.put("gold", gold.get(i));
            o.put("response", answers.get(i));
            o.put("correct", ok);
            sb.append(json.writeValueAsString(o)).append('\n');
        }
        if (opts.out != null) AtomicFiles.writeString(opts.out, sb.toString());
        double acc = 100.0 * right / Math.max(1, prompts.size());
        System.out.printf(Locale.ROOT, "accuracy %.2f%% (%d of %d, scorer %s%s)%s%n", acc, right, prompts.size(), scorer,
                kind == TaskScorer.Kind.LABEL || kind == TaskScorer.Kind.LABEL_LENIENT ? ", labels " + labelSet : "",
                opts.out == null ? "" : "; answers in " + opts.out);
        if (opts.json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("accuracy", acc);
            o.put("correct", right);
            o.put("prompts", prompts.size());
            System.out.println(Json.line(o));
        }
        return 0;
    }
}
