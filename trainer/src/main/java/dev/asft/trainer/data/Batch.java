package dev.asft.trainer.data;

import java.util.List;

/**
 * Examples padded to the longest in the batch: ids with the pad id, labels with
 * {@link Example#IGNORE}, and an attention mask (1 = real token). Row-major [batch x length].
 */
public record Batch(int batch, int length, int[] inputIds, int[] labels, int[] attentionMask) {
    public static Batch of(List<Example> examples, int padId) {
        if (examples.isEmpty()) throw new IllegalArgumentException("an empty batch");
        int len = examples.stream().mapToInt(Example::length).max().orElse(0);
        int b = examples.size();
        int[] ids = new int[b * len], labels = new int[b * len], mask = new int[b * len];
        java.util.Arrays.fill(ids, padId);
        java.util.Arrays.fill(labels, Example.IGNORE);
        for (int i = 0; i < b; i++) {
            Example e = examples.get(i);
            System.arraycopy(e.inputIds(), 0, ids, i * len, e.length());
            System.arraycopy(e.labels(), 0, labels, i * len, e.length());
            java.util.Arrays.fill(mask, i * len, i * len + e.length(), 1);
        }
        return new Batch(b, len, ids, labels, mask);
    }

    /** Supervised tokens: labels that are not ignored (the loss's token-mean denominator). */
    public int supervisedTokens() {
        int n = 0;
        for (int l : labels) if (l != Example.IGNORE) n++;
        return n;
    }
}
