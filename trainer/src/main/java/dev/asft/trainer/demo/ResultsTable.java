package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/** results.json as the paper's Table 2: harmful score (lower is safer) and fine-tuning accuracy per method. */
public final class ResultsTable {
    private ResultsTable() {}

    public static String render(JsonNode results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-10s %5s %7s  %14s  %16s%n", "method", "p", "lambda", "harmful score", "finetune acc."));
        int runs = results.path("runs").asInt(1);
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
        if (runs > 1) sb.append(String.format(Locale.ROOT, "fine-tuned rows: mean (sample standard deviation) of %d runs with seeds %d..%d.%n",
                runs, results.get("seed").asLong(), results.get("seed").asLong() + runs - 1));
        return sb.toString();
    }

    private static void line(StringBuilder sb, String method, Double p, Double lambda, JsonNode s) {
        sb.append(String.format(Locale.ROOT, "%-10s %5s %7s  %14s  %16s%n", method, p == null ? "" : String.format(Locale.ROOT, "%.2f", p),
                lambda == null ? "" : java.math.BigDecimal.valueOf(lambda).stripTrailingZeros().toPlainString(),
                cell(s, "harmful_score"), cell(s, "finetune_accuracy")));
    }

    private static String cell(JsonNode s, String metric) {
        String v = String.format(Locale.ROOT, "%.1f%%", s.get(metric).asDouble());
        return s.has(metric + "_sd") ? v + String.format(Locale.ROOT, " (%.1f)", s.get(metric + "_sd").asDouble()) : v;
    }
}
