package dev.asft.trainer.eval;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Scores task answers against gold answers.
 * <ul>
 * <li>{@code label}: classification with a fixed label set (AGNEWS, SST-2). The paper's scorer
 * counts an answer right when the gold label word appears in it; that also credits an answer
 * that lists every label, so by default an answer is right only when the gold label appears
 * (a whole word, any case) and no other label does. {@code label-lenient} is the paper's rule.
 * <li>{@code exact}: the answer, trimmed, case-folded and without trailing punctuation, equals
 * the gold answer so normalized.
 * <li>{@code number}: the last number in the answer equals the gold number (GSM8K's final
 * answer; commas in numbers ignored).
 * </ul>
 */
public final class TaskScorer {
    public enum Kind { LABEL, LABEL_LENIENT, EXACT, NUMBER;
        public static Kind parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "label" -> LABEL;
                case "label-lenient" -> LABEL_LENIENT;
                case "exact" -> EXACT;
                case "number" -> NUMBER;
                default -> throw new IllegalArgumentException("unknown scorer '" + s + "': expected label, label-lenient, exact or number");
            };
        }
    }

    private static final Pattern NUMBER = Pattern.compile("-?\\d[\\d,]*(\\.\\d+)?");
    private final Kind kind;
    private final List<String> labels;

    /** labels: the label set (for the label scorers; others may pass an empty list). */
    public TaskScorer(Kind kind, List<String> labels) {
        this.kind = kind;
        this.labels = labels.stream().map(l -> l.toLowerCase(Locale.ROOT)).toList();
        if ((kind == Kind.LABEL || kind == Kind.LABEL_LENIENT) && labels.isEmpty())
            throw new IllegalArgumentException("the label scorer needs the label set");
    }

    public boolean correct(String answer, String gold) {
        String a = answer == null ? "" : answer.toLowerCase(Locale.ROOT);
        String g = gold.toLowerCase(Locale.ROOT).trim();
        return switch (kind) {
            case LABEL_LENIENT -> hasWord(a, g);
            case LABEL -> {
                if (!hasWord(a, g)) yield false;
                for (String l : labels) if (!l.equals(g) && hasWord(a, l)) yield false;
                yield true;
            }
            case EXACT -> strip(a).equals(strip(g));
            case NUMBER -> {
                String last = null;
                Matcher m = NUMBER.matcher(a);
                while (m.find()) last = m.group();
                yield last != null && sameNumber(last, g);
            }
        };
    }

    private static boolean hasWord(String text, String word) {
        return Pattern.compile("(?<![\\p{L}\\p{N}])" + Pattern.quote(word) + "(?![\\p{L}\\p{N}])").matcher(text).find();
    }

    private static String strip(String s) {
        return s.trim().replaceAll("[\\s.!?,;:]+$", "").trim();
    }

    private static boolean sameNumber(String a, String b) {
        try {
            return new java.math.BigDecimal(a.replace(",", "")).compareTo(new java.math.BigDecimal(b.replace(",", "").trim())) == 0;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
