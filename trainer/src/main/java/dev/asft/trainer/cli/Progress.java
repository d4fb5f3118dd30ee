package dev.asft.trainer.cli;

/**
 * Per-item progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise
 * (logs, CI), with the elapsed time.
 */
public final class Progress {
    private final String what;
    private final int total;
    private final boolean terminal = System.console() != null;
    private final long start = System.nanoTime();
    private final int plainEvery;
    private int done;

    public Progress(String what, int total) {
        this(what, total, 1);
    }

    /** As above; without a terminal only every plainEvery-th item (and the last) prints a line. */
    public Progress(String what, int total, int plainEvery) {
        this.what = what;
        this.total = total;
        this.plainEvery = Math.max(1, plainEvery);
    }

    public void next(String item) {
        done++;
        if (!terminal && done % plainEvery != 0 && done != total) return;
        double s = (System.nanoTime() - start) / 1e9;
        if (terminal) {
            int width = 30, filled = total == 0 ? width : done * width / total;
            System.err.printf("\r%s [%s%s] %d/%d %.1fs %s\033[K", what, "#".repeat(filled), ".".repeat(width - filled), done, total, s, item);
            if (done == total) System.err.println();
        } else {
            System.err.printf("%s %d/%d (%.1fs) %s%n", what, done, total, s, item);
        }
    }
}
