package dev.asft.core;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.Random;

/** Fresh random inputs for tests: a new seed per run, printed in failure messages. */
public final class TestData {
    public static final long SEED = System.nanoTime();
    private static final Random RND = new Random(SEED);

    private TestData() {}

    public static Random rnd() {
        return RND;
    }

    public static String seedInfo() {
        return " (seed " + SEED + ")";
    }

    public static Tensor randn(DType dtype, double scale, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (RND.nextGaussian() * scale);
        return Tensor.of(dtype, v, shape);
    }

    /** A random symmetric matrix, as anchors are. */
    public static Tensor randSym(DType dtype, double scale, int d) {
        float[] v = new float[d * d];
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) v[i * d + j] = v[j * d + i] = (float) (RND.nextGaussian() * scale);
        return Tensor.of(dtype, v, d, d);
    }

    /**
     * A random symmetric positive definite matrix shaped like a real Q = (I - C)^2: the identity
     * plus symmetric noise small enough (eigenvalues within 1 +- 0.2) that R stays well away from
     * cancellation, so that f32 and double results are comparable at tight tolerances.
     */
    public static Tensor randAnchorLike(DType dtype, int d) {
        float[] v = new float[d * d];
        double s = 0.1 / Math.sqrt(d);
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) v[i * d + j] = v[j * d + i] = (float) ((i == j ? 1 : 0) + RND.nextGaussian() * s);
        return Tensor.of(dtype, v, d, d);
    }

    public static Tensor poisoned(long... shape) {
        return Tensor.allocate(DType.F32, shape).fill(Float.NaN);
    }

    public static double relErr(float[] got, float[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(got[i])) return Double.POSITIVE_INFINITY;
            num += (got[i] - (double) ref[i]) * (got[i] - (double) ref[i]);
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }
}
