package dev.asft.core.anchor;

import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import org.bytedeco.openblas.global.openblas;

/**
 * The top-k eigenpairs of a symmetric PSD matrix C (d x d) by randomized subspace iteration
 * with a Rayleigh-Ritz step: a few products C . Y with a d x (k + p) block, never a d x d
 * eigendecomposition. With k + p >= d the result is exact up to rounding.
 *
 * <p>The error is reported for whatever subspace the iteration found: with U the Ritz vectors
 * and Lambda the Ritz values, C_k = U Lambda U^T, E = C - C_k and e = ||E||_F >= ||E||_2
 * (computed from E itself), and for every X
 * | ||(I - C) X||^2 - ||(I - C_k) X||^2 | <= e (2 + 2 lambda_1 + e) ||X||_F^2
 * (the difference of the two quadratic forms is -2E + C E + E C_k with E = C - C_k,
 * ||E||_2 <= e, ||C||_2 <= lambda_1 + e).
 */
public final class TopEigen {
    private TopEigen() {}

    public record Result(Tensor u, double[] lambda, double frobeniusError, double penaltyBound) {}

    /**
     * The largest eigenvalue of a symmetric PSD matrix (a code-mode C: sigma_1(V)^2 / ||V||_F), by
     * randomized subspace iteration with oversampling; its Ritz value is accurate to rounding here.
     */
    public static double largest(Backend be, Tensor c) {
        int d = Math.toIntExact(c.dim(0));
        Result e = compute(be, c, 1, Math.min(8, d - 1), 8, 1234);
        e.u().close();
        return e.lambda()[0];
    }

    public static Result compute(Backend be, Tensor c, int k, int oversample, int iterations, long seed) {
        int d = Math.toIntExact(c.dim(0));
        if (c.rank() != 2 || c.dim(1) != d) throw new IllegalArgumentException("TopEigen needs a square matrix, got " + c);
        if (k <= 0 || k > d) throw new IllegalArgumentException("k must be in 1.." + d + ", got " + k);
        int l = Math.min(d, k + oversample);
        SplittableRandom rnd = new SplittableRandom(seed);
        Tensor y = Tensor.allocate(DType.F32, d, l);
        FloatBuffer yf = y.floats();
        for (int i = 0; i < yf.capacity(); i++) yf.put(i, (float) gaussian(rnd));
        try (Tensor z = Tensor.allocate(DType.F32, d, l)) {
            for (int it = 0; it <= iterations; it++) {
                be.gemm(false, false, 1f, c, y, 0f, z);
                copy(z, y);
                orthonormalize(y, d, l);
            }
            be.gemm(false, false, 1f, c, y, 0f, z); // C Y
            try (Tensor t = Tensor.allocate(DType.F32, l, l)) {
                be.gemm(true, false, 1f, y, z, 0f, t); // Y^T C Y
                double[] tm = new double[l * l];
                FloatBuffer tf = t.floats();
                for (int i = 0; i < l; i++)
                    for (int j = 0; j < l; j++) tm[i * l + j] = 0.5 * (tf.get(i * l + j) + tf.get(j * l + i));
                double[] w = new double[l];
                int info = openblas.LAPACKE_dsyev(openblas.LAPACK_ROW_MAJOR, (byte) 'V', (byte) 'U', l, tm, l, w);
                if (info != 0) throw new IllegalStateException("LAPACKE_dsyev failed with info " + info);
                // Eigenvalues ascend; take the top k, largest first. Eigenvectors are columns of tm.
                float[] wk = new float[l * k];
                double[] lambda = new double[k];
                for (int j = 0; j < k; j++) {
                    int src = l - 1 - j;
                    lambda[j] = Math.max(0, w[src]); // C is PSD: negative Ritz values are rounding
                    for (int i = 0; i < l; i++) wk[i * k + j] = (float) tm[i * l + src];
                }
                Tensor u = Tensor.allocate(DType.F32, d, k);
                try (Tensor wt = Tensor.of(DType.F32, wk, l, k)) {
                    be.gemm(false, false, 1f, y, wt, 0f, u);
                } finally {
                    y.close();
                }
                // e = ||C - U Lambda U^T||_F, formed directly: the shortcut sqrt(||C||^2 - sum lambda^2)
                // loses half the digits to cancellation when the residual is small.
                double e;
                try (Tensor res = c.to(DType.F32); Tensor ul = u.to(DType.F32)) {
                    FloatBuffer uf = ul.floats();
                    for (int i = 0; i < d; i++)
                        for (int j = 0; j < k; j++) uf.put(i * k + j, (float) (uf.get(i * k + j) * lambda[j]));
                    be.gemm(false, true, -1f, ul, u, 1f, res);
                    FloatBuffer rf = res.floats();
                    double ss = 0;
                    for (int i = 0; i < rf.capacity(); i++) ss += (double) rf.get(i) * rf.get(i);
                    e = Math.sqrt(ss);
                }
                double bound = e * (2 + 2 * (lambda.length > 0 ? lambda[0] : 0) + e);
                return new Result(u, lambda, e, bound);
            }
        }
    }

    private static double gaussian(SplittableRandom rnd) {
        double u1 = rnd.nextDouble(), u2 = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static void copy(Tensor from, Tensor to) {
        to.buffer().put(from.buffer());
    }

    /** Replaces the d x l matrix's columns by an orthonormal basis of their span (Householder QR). */
    public static void orthonormalize(Tensor y, int d, int l) {
        try (Tensor tau = Tensor.allocate(DType.F32, l)) {
            int info = openblas.LAPACKE_sgeqrf(openblas.LAPACK_ROW_MAJOR, d, l, y.floatPointer(), l, tau.floatPointer());
            if (info != 0) throw new IllegalStateException("LAPACKE_sgeqrf failed with info " + info);
            info = openblas.LAPACKE_sorgqr(openblas.LAPACK_ROW_MAJOR, d, l, l, y.floatPointer(), l, tau.floatPointer());
            if (info != 0) throw new IllegalStateException("LAPACKE_sorgqr failed with info " + info);
        }
    }
}
