package dev.asft.trainer.model;

/** Comparisons of float arrays for the model's tests. */
final class TestArrays {
    private TestArrays() {}

    /** ||got - want|| / ||want||, infinite where got holds a NaN. */
    static double relErr(float[] got, float[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(got[i])) return Double.POSITIVE_INFINITY;
            num += (got[i] - (double) want[i]) * (got[i] - (double) want[i]);
            den += (double) want[i] * want[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }
}
