package dev.asft.trainer.train;

import java.util.Locale;

/**
 * Learning-rate schedules: {@code constant}, {@code step:GAMMA} (multiply by gamma every epoch:
 * the AsFT default, StepLR with gamma 0.85), {@code cosine} and {@code linear} decay to zero over
 * the run; any of them after {@code warmup} steps of linear warm-up from zero.
 */
public record Schedule(Kind kind, double gamma, long warmup) {
    public enum Kind { CONSTANT, STEP, COSINE, LINEAR }

    public static Schedule parse(String s, long warmup) {
        if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.startsWith("step:")) {
            double g;
            try {
                g = Double.parseDouble(t.substring(5));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--schedule step:GAMMA needs a number, got '" + s + "'");
            }
            if (g <= 0 || g > 1) throw new IllegalArgumentException("--schedule step:GAMMA needs 0 < GAMMA <= 1, got " + g);
            return new Schedule(Kind.STEP, g, warmup);
        }
        switch (t) {
            case "constant": return new Schedule(Kind.CONSTANT, 1, warmup);
            case "cosine": return new Schedule(Kind.COSINE, 1, warmup);
            case "linear": return new Schedule(Kind.LINEAR, 1, warmup);
            default: throw new IllegalArgumentException("unknown --schedule '" + s + "': expected constant, step:GAMMA, cosine or linear");
        }
    }

    /** The learning rate of optimizer step {@code step} (1-based) in {@code epoch} (0-based) of {@code total} steps. */
    public double lr(double base, long step, int epoch, long total) {
        double f = warmup > 0 && step <= warmup ? (double) step / warmup : 1.0;
        double progress = total > warmup ? Math.min(1.0, (double) (step - Math.min(step, warmup)) / (total - warmup)) : 0;
        switch (kind) {
            case STEP: return base * f * Math.pow(gamma, epoch);
            case COSINE: return base * f * 0.5 * (1 + Math.cos(Math.PI * progress));
            case LINEAR: return base * f * (1 - progress);
            default: return base * f;
        }
    }
}
