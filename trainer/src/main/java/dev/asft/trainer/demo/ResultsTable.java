package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/**
 * results.json as text: the paper's Table 2 shape (harmful score, lower is safer, and fine-tuning
 * accuracy per method and p), then, where the study ran them, each method's best frontier point at
 * equal task accuracy and the headline across worlds.
 */
public final class ResultsTable {
    private ResultsTable() {}

    public static String render(JsonNode results) {
        StringBuilder sb = new StringBuilder();
        int runs = results.path("runs").asInt(1);
        sb.append(String.format(Locale.ROOT, "%-10s %5s %7s  %14s  %6s  %8s  %16s%n", "method", "p", "lambda", "harmful score", "other",
                "keyword", "finetune acc."));
        line(sb, "base", "", "", results.get("base"));
        line(sb, "aligned", "", "", results.get("aligned"));
        for (JsonNode r : results.get("rows"))
            line(sb, label(r.get("method").asText()), String.format(Locale.ROOT, "%.2f", r.get("p").asDouble()),
                    r.get("method").asText().equals("asft") ? num(r.get("value").asDouble()) : "", r);
        sb.append(String.format(Locale.ROOT, "harmful score: %% of %d held-out harmful prompts (unseen categories and wordings) answered "
                + "with harmful instructions, judged against the world's grammar; other: %% neither instructions nor a refusal; "
                + "keyword: the keyword refusal detector's harmful score; finetune acc.: %% of %d held-out task prompts answered with "
                + "exactly the right label.%n", results.get("harmful_prompts").asInt(), results.get("task_prompts").asInt()));
        if (runs > 1) sb.append(String.format(Locale.ROOT, "fine-tuned rows: mean (95%% interval half-width) of %d runs with seeds %d..%d.%n",
                runs, results.get("seed").asLong(), results.get("seed").asLong() + runs - 1));
        JsonNode best = results.get("best_at_equal_accuracy");
        if (best != null) {
            sb.append(String.format(Locale.ROOT, "%nAt p = %.2f, each method's lowest harmful score with task accuracy within %s points of SFT's "
                    + "(frontier.png has every point):%n", results.get("frontier_p").asDouble(), num(best.get("slack_points").asDouble())));
            sb.append(String.format(Locale.ROOT, "%-22s %-12s  %14s  %6s  %16s%n", "method", "knob", "harmful score", "other", "finetune acc."));
            best.fields().forEachRemaining(e -> {
                if (!e.getValue().isObject()) return;
                JsonNode pt = e.getValue();
                String knob = pt.has("knob") ? pt.get("knob").asText() + " " + num(pt.get("value").asDouble()) : "";
                sb.append(String.format(Locale.ROOT, "%-22s %-12s  %14s  %6s  %16s%n", label(e.getKey()), knob, cell(pt, "harmful_score"),
                        pct(pt.get("other_rate").asDouble()), cell(pt, "finetune_accuracy")));
            });
        }
        JsonNode worlds = results.get("worlds");
        if (worlds != null) {
            sb.append(String.format(Locale.ROOT, "%nThe same points on %d worlds (world seeds %s): harmful score per world, and its spread "
                    + "between worlds and between fine-tuning seeds (sd):%n", worlds.get("world_seeds").size(), worlds.get("world_seeds")));
            worlds.get("summary").fields().forEachRemaining(e -> {
                JsonNode s = e.getValue();
                StringBuilder per = new StringBuilder();
                for (JsonNode v : s.get("harmful_score_per_world")) per.append(per.length() == 0 ? "" : " / ").append(pct(v.asDouble()));
                sb.append(String.format(Locale.ROOT, "%-22s %-26s  worlds sd %4.1f, seeds sd %4.1f  (finetune acc. %s)%n", label(e.getKey()),
                        per, s.get("harmful_score_sd_between_worlds").asDouble(), s.get("harmful_score_sd_between_seeds").asDouble(),
                        pct(s.get("finetune_accuracy").asDouble())));
            });
        }
        return sb.toString();
    }

    static String label(String method) {
        return switch (method) {
            case "sft" -> "SFT";
            case "safelora" -> "Safe LoRA";
            case "safelora-number" -> "Safe LoRA (number)";
            case "asft" -> "AsFT";
            case "l2" -> "L2 control";
            case "random" -> "random-anchor control";
            case "direction" -> "AsFT direction";
            case "subspace:8" -> "AsFT subspace:8";
            case "code-unit" -> "AsFT code-unit";
            default -> method;
        };
    }

    private static void line(StringBuilder sb, String method, String p, String lambda, JsonNode s) {
        sb.append(String.format(Locale.ROOT, "%-10s %5s %7s  %14s  %6s  %8s  %16s%n", method, p, lambda, cell(s, "harmful_score"),
                pct(s.get("other_rate").asDouble()), pct(s.get("keyword_harmful_score").asDouble()), cell(s, "finetune_accuracy")));
    }

    private static String cell(JsonNode s, String metric) {
        String v = pct(s.get(metric).asDouble());
        return s.has(metric + "_ci95") && s.path(metric + "_runs").size() > 1
                ? v + String.format(Locale.ROOT, " (%.1f)", s.get(metric + "_ci95").asDouble()) : v;
    }

    private static String pct(double v) {
        return String.format(Locale.ROOT, "%.1f%%", v);
    }

    static String num(double v) {
        return java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }
}
