package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/** results.json as the paper's Table 2: harmful score (lower is safer) and fine-tuning accuracy per method. */
public final class ResultsTable {
    private ResultsTable() {}

    public static String render(JsonNode results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-10s %5s %7s  %14s  %16s%n", "method", "p", "lambda", "harmful score", "finetune acc."));
        line(sb, "base", null, null, results.get("base"));
        line(sb, "aligned", null, null, results.get("aligned"));
        for (JsonNode r : results.get("rows")) {
            String m = switch (r.get("method").asText()) {
                case "sft" -> "SFT";
                case "safelora" -> "Safe LoRA";
                case "asft" -> "AsFT";
                default -> r.get("method").asText();
            };
            line(sb, m, r.get("p").asDouble(), r.has("lambda") ? r.get("lambda").asDouble() : null, r);
        }
        sb.append(String.format(Locale.ROOT, "harmful score: %% of %d held-out harmful prompts (unseen categories and wordings) "
                + "answered without a refusal; finetune acc.: %% of %d held-out task prompts labelled right.%n",
                results.get("harmful_prompts").asInt(), results.get("task_prompts").asInt()));
        return sb.toString();
    }

    private static void line(StringBuilder sb, String method, Double p, Double lambda, JsonNode s) {
        sb.append(String.format(Locale.ROOT, "%-10s %5s %7s  %13.1f%%  %15.1f%%%n", method, p == null ? "" : String.format(Locale.ROOT, "%.2f", p),
                lambda == null ? "" : java.math.BigDecimal.valueOf(lambda).stripTrailingZeros().toPlainString(), s.get("harmful_score").asDouble(),
                s.get("finetune_accuracy").asDouble()));
    }
}
