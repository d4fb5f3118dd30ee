package dev.asft.trainer.cli;

/**
 * Numeric options checked before any work: NaN, infinities and values outside an option's range
 * are refused with one line naming the option (a NaN learning rate used to train NaN steps and
 * write an all-NaN adapter with exit 0; NaN passes every {@code <} and {@code >} test).
 */
final class OptionChecks {
    private OptionChecks() {}

    /** v when it is one of the allowed values, else a one-line error naming the option. */
    static String oneOf(String option, String v, String... allowed) {
        for (String a : allowed) if (a.equals(v)) return v;
        throw new IllegalArgumentException(option + " must be one of " + String.join(", ", allowed) + ", got '" + v + "'");
    }

    static double finite(String option, double v) {
        if (!Double.isFinite(v)) throw new IllegalArgumentException(option + " must be a finite number, got " + v);
        return v;
    }

    static double nonNegative(String option, double v) {
        if (finite(option, v) < 0) throw new IllegalArgumentException(option + " must be >= 0, got " + v);
        return v;
    }

    /** A float option, reported as typed (1e-4, not its double widening 9.99999974e-5). */
    static double nonNegative(String option, float v) {
        return nonNegative(option, Double.parseDouble(Float.toString(v)));
    }

    static double range(String option, float v, double lo, double hi, boolean hiIncluded) {
        return range(option, Double.parseDouble(Float.toString(v)), lo, hi, hiIncluded);
    }

    static double positive(String option, double v) {
        if (finite(option, v) <= 0) throw new IllegalArgumentException(option + " must be > 0, got " + v);
        return v;
    }

    /** lo <= v < hi, or lo <= v <= hi when {@code hiIncluded}. */
    static double range(String option, double v, double lo, double hi, boolean hiIncluded) {
        finite(option, v);
        if (v < lo || v > hi || (!hiIncluded && v == hi))
            throw new IllegalArgumentException(option + " must be in [" + lo + ", " + hi + (hiIncluded ? "]" : ")") + ", got " + v);
        return v;
    }
}
