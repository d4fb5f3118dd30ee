package dev.asft.trainer.data;

/**
 * One training sequence: token ids and their labels (the next-token targets are labels shifted
 * by one inside the loss, as in Hugging Face; {@link #IGNORE} marks tokens not supervised).
 */
public record Example(int[] inputIds, int[] labels) {
    public static final int IGNORE = -100;

    public Example {
        if (inputIds.length != labels.length)
            throw new IllegalArgumentException(inputIds.length + " input ids but " + labels.length + " labels");
    }

    public int length() {
        return inputIds.length;
    }

    /** Number of supervised tokens. */
    public int supervised() {
        int n = 0;
        for (int l : labels) if (l != IGNORE) n++;
        return n;
    }

    /** The first maxLen tokens (or this example when it is short enough). */
    public Example truncate(int maxLen) {
        if (inputIds.length <= maxLen) return this;
        return new Example(java.util.Arrays.copyOf(inputIds, maxLen), java.util.Arrays.copyOf(labels, maxLen));
    }
}
