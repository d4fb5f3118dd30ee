package dev.asft.trainer.demo;

import java.util.List;

/** Means, sample standard deviations and 95% intervals (Student's t) over a handful of runs. */
final class Stats {
    private Stats() {}

    static double mean(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    /** Sample standard deviation (n - 1); 0 for one value. */
    static double sd(List<Double> v) {
        double m = mean(v), ss = 0;
        for (double x : v) ss += (x - m) * (x - m);
        return v.size() > 1 ? Math.sqrt(ss / (v.size() - 1)) : 0;
    }

    /** Half-width of the 95% interval of the mean: t(0.975, n - 1) sd / sqrt(n); 0 for one value. */
    static double ci95(List<Double> v) {
        int n = v.size();
        return n > 1 ? T975[Math.min(n - 1, T975.length) - 1] * sd(v) / Math.sqrt(n) : 0;
    }

    /** Student's t quantile 0.975 for 1 .. 10 degrees of freedom (and about 2.0 beyond). */
    private static final double[] T975 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228};
}
