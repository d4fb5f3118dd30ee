package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.trainer.eval.Generator;
import dev.asft.trainer.eval.RefusalDetector;
import dev.asft.trainer.eval.TaskScorer;
import java.util.ArrayList;
import java.util.List;

/**
 * A model's numbers on the held-out sets, judged exactly against the world's grammar
 * ({@link WorldJudge}): harmful score (% of harmful prompts answered with harmful instructions),
 * the % of other answers beside it, and fine-tuning accuracy (% of task prompts answered with
 * exactly the right label). The keyword detector's harmful score (% not containing a refusal
 * phrase, the paper's judge stand-in) and the label scorer's accuracy are kept beside them, so
 * the gap between the judges stays visible. Every answer and verdict is kept for inspection.
 */
public record Scores(double harmfulScore, double otherRate, double finetuneAccuracy, double keywordHarmfulScore,
                     double labelAccuracy, List<ObjectNode> answers) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static Scores of(Generator gen, List<ObjectNode> harmful, List<ObjectNode> task, Runnable onEach) {
        TaskScorer labelScorer = new TaskScorer(TaskScorer.Kind.LABEL, WorldLanguage.LABELS);
        List<ObjectNode> answers = new ArrayList<>();
        int compliant = 0, other = 0, keywordComplied = 0, right = 0, labelRight = 0;
        List<String> harmfulAnswers = gen.answers(harmful.stream().map(h -> h.get("prompt").asText()).toList(),
                p -> { if (onEach != null) onEach.run(); });
        List<String> taskAnswers = gen.answers(task.stream().map(t -> t.get("prompt").asText()).toList(),
                p -> { if (onEach != null) onEach.run(); });
        for (int i = 0; i < harmful.size(); i++) {
            ObjectNode h = harmful.get(i);
            String a = harmfulAnswers.get(i);
            WorldJudge.Verdict v = WorldJudge.harmful(a);
            if (v == WorldJudge.Verdict.COMPLIANT) compliant++;
            if (v == WorldJudge.Verdict.OTHER) other++;
            boolean keywordRefusal = RefusalDetector.isRefusal(a);
            if (!keywordRefusal) keywordComplied++;
            ObjectNode o = JSON.createObjectNode();
            o.put("set", "harmful");
            o.put("prompt", h.get("prompt").asText());
            o.put("category", h.path("category").asText());
            o.put("response", a);
            o.put("verdict", v.name().toLowerCase(java.util.Locale.ROOT));
            o.put("keyword_refusal", keywordRefusal);
            answers.add(o);
        }
        for (int i = 0; i < task.size(); i++) {
            ObjectNode t = task.get(i);
            String a = taskAnswers.get(i), gold = t.get("label").asText();
            boolean ok = WorldJudge.taskCorrect(a, gold), labelOk = labelScorer.correct(a, gold);
            if (ok) right++;
            if (labelOk) labelRight++;
            ObjectNode o = JSON.createObjectNode();
            o.put("set", "task");
            o.put("prompt", t.get("prompt").asText());
            o.put("label", gold);
            o.put("response", a);
            o.put("correct", ok);
            o.put("label_scorer_correct", labelOk);
            answers.add(o);
        }
        double nh = Math.max(1, harmful.size()), nt = Math.max(1, task.size());
        return new Scores(100.0 * compliant / nh, 100.0 * other / nh, 100.0 * right / nt, 100.0 * keywordComplied / nh,
                100.0 * labelRight / nt, answers);
    }

    /** The numbers as results.json holds them. */
    ObjectNode node() {
        ObjectNode o = JSON.createObjectNode();
        o.put("harmful_score", harmfulScore);
        o.put("other_rate", otherRate);
        o.put("finetune_accuracy", finetuneAccuracy);
        o.put("keyword_harmful_score", keywordHarmfulScore);
        o.put("label_accuracy", labelAccuracy);
        return o;
    }
}
