package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.CpuBackend;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The GEMM attention against the plain loops of Ops (GQA, padding, forward and backward). */
class GemmAttentionTest {
    static double relErr(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (double) (a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    @Test
    void matchesThePlainLoops() {
        Random rnd = new Random();
        int batch = 3, len = 13, heads = 6, kv = 2, dim = 8;
        float[] q = new float[batch * len * heads * dim], k = new float[batch * len * kv * dim], v = new float[k.length], dout = new float[q.length];
        for (float[] a : new float[][] {q, k, v, dout})
            for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        int[] mask = new int[batch * len];
        java.util.Arrays.fill(mask, 1);
        for (int t = 9; t < len; t++) mask[len + t] = 0; // a padded second sequence
        CpuBackend cpu = new CpuBackend();
        float[] want = Ops.attention(q, k, v, mask, batch, len, heads, kv, dim);
        float[] got = GemmAttention.forward(cpu, q, k, v, mask, batch, len, heads, kv, dim);
        assertTrue(relErr(got, want) < 1e-5, "forward " + relErr(got, want));
        float[][] wb = Ops.attentionBackward(q, k, v, dout, mask, batch, len, heads, kv, dim);
        float[][] gb = GemmAttention.backward(cpu, q, k, v, dout, mask, batch, len, heads, kv, dim);
        for (int i = 0; i < 3; i++) assertTrue(relErr(gb[i], wb[i]) < 1e-5, "backward " + i + ": " + relErr(gb[i], wb[i]));
        // with the forward's probabilities kept: the same forward, and a backward identical to recomputing them
        float[][] probs = new float[batch * heads][];
        float[] kept = GemmAttention.forward(cpu, q, k, v, mask, batch, len, heads, kv, dim, probs);
        org.junit.jupiter.api.Assertions.assertArrayEquals(got, kept);
        for (float[] p : probs) assertTrue(p != null && p.length == len * len, "every (sequence, head) kept");
        float[][] kb = GemmAttention.backward(cpu, q, k, v, dout, mask, batch, len, heads, kv, dim, probs);
        for (int i = 0; i < 3; i++) org.junit.jupiter.api.Assertions.assertArrayEquals(gb[i], kb[i], "backward " + i);
    }
}
