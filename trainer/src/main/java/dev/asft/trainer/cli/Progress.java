package dev.asft.trainer.cli;

/**
 * Per-item progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise
 * (logs, CI), with the elapsed time.
 */
final class Progress {
    private final String what;
    private final int total;
    private final boolean terminal = System.console() != null;
    private final long start = System.nanoTime();
    private int done;

    Progress(String what, int total) {
        this.what = what;
        this.total = total;
    }

    void next(String item) {
        done++;
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
