package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The input gradient of a projection added to an existing array (q, k and v, or gate and up,
 * sum theirs in the GEMM itself) equals that array plus the gradient made on its own: frozen,
 * with LoRA, and with LoRA dropout.
 */
class LinearTest {
    @Test
    void inputGradientAddsToTheGivenArray() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int n = 37, in = 48, out = 40, r = 4;
        float[] x = gauss(rnd, n * in, 1), dy = gauss(rnd, n * out, 1), base = gauss(rnd, n * in, 3);
        for (Backend be : List.of(new JavaBackend(), new CpuBackend()))
            for (String variant : List.of("frozen", "lora", "lora+dropout"))
                try (Tensor w = Tensor.of(DType.F32, gauss(rnd, out * in, 0.2), out, in);
                     Tensor a = Tensor.of(DType.F32, gauss(rnd, r * in, 0.2), r, in);
                     Tensor b = Tensor.of(DType.F32, gauss(rnd, out * r, 0.2), out, r);
                     Lane lane = new Lane(be.ops()); Tensor xt = Tensor.of(DType.F32, x, n, in); Tensor dyt = Tensor.of(DType.F32, dy, n, out)) {
                    dev.asft.core.ops.TensorOps ops = be.ops();
                    Linear lin = new Linear("proj", w, null);
                    if (!variant.equals("frozen")) lin.setLora(a, b, 0.75f);
                    float p = variant.endsWith("dropout") ? 0.3f : 0f;
                    lane.begin();
                    try {
                        lin.apply(ops, lane, xt, p, new SplittableRandom(seed)); // keeps the dropout mask in the lane
                        float[] alone = lin.backward(ops, lane, xt, dyt, Linear.Grads.NONE, true).toFloatArray();
                        Tensor intoT = Tensor.of(DType.F32, base, n, in);
                        Tensor gotT = lin.backward(ops, lane, xt, dyt, Linear.Grads.NONE, true, intoT);
                        assertSame(intoT, gotT, "the given tensor is the result");
                        float[] into = gotT.toFloatArray(), got = into;
                        intoT.close();
                        String ctx = be.name() + ", " + variant + " (seed " + seed + ")";
                        double err = 0, norm = 0;
                        for (int i = 0; i < into.length; i++) {
                            double want = (double) base[i] + alone[i];
                            err += (got[i] - want) * (got[i] - want);
                            norm += want * want;
                        }
                        // the same terms, summed in another order: float rounding only
                        assertTrue(Math.sqrt(err / norm) < 1e-6, ctx + ": relative error " + Math.sqrt(err / norm));
                        assertTrue(differs(got, base), ctx + ": something was added");
                        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                                () -> lin.backward(ops, lane, xt, dyt, Linear.Grads.NONE, true, lane.ws.take(n - 1, in)));
                        assertTrue(e.getMessage().contains("proj"), e.getMessage());
                        assertEquals(null, lin.backward(ops, lane, xt, dyt, Linear.Grads.NONE, false, lane.ws.take(n, in)),
                                "no input gradient wanted: nothing returned");
                    } finally {
                        lane.end();
                    }
                }
    }

    private static float[] gauss(Random rnd, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (scale * rnd.nextGaussian());
        return v;
    }

    private static boolean differs(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) if (a[i] != b[i]) return true;
        return false;
    }
}
