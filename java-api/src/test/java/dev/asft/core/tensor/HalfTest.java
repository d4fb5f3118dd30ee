package dev.asft.core.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.nativeapi.NativeKernels;
import org.junit.jupiter.api.Test;

/** The Java f16/bf16 codecs against the native ones, on every f16 pattern and random floats. */
class HalfTest {
    @Test
    void everyF16PatternRoundTripsAndMatchesNative() {
        try (Tensor h = Tensor.allocate(DType.F16, 65536); Tensor f = Tensor.allocate(DType.F32, 65536)) {
            for (int i = 0; i < 65536; i++) h.buffer().putShort(2 * i, (short) i);
            NativeKernels.convertToF32(h, f);
            for (int i = 0; i < 65536; i++) {
                float j = Half.f16ToFloat((short) i);
                float n = f.getFloat(i);
                assertEquals(Float.floatToIntBits(j), Float.floatToIntBits(n), "pattern " + Integer.toHexString(i));
                if (!Float.isNaN(j)) assertEquals((short) i, Half.floatToF16(j), "round trip " + Integer.toHexString(i));
            }
        }
    }

    @Test
    void encodersMatchNativeOnRandomFloats() {
        int n = 100_000;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            // span subnormal, normal and overflow ranges of f16
            v[i] = (float) (TestData.rnd().nextGaussian() * Math.pow(2, TestData.rnd().nextInt(60) - 30));
        }
        try (Tensor src = Tensor.of(DType.F32, v, n); Tensor h = Tensor.allocate(DType.F16, n); Tensor b = Tensor.allocate(DType.BF16, n)) {
            NativeKernels.convertFromF32(src, h);
            NativeKernels.convertFromF32(src, b);
            for (int i = 0; i < n; i++) {
                assertEquals(Half.floatToF16(v[i]), h.buffer().getShort(2 * i), "f16 of " + v[i] + TestData.seedInfo());
                assertEquals(Half.floatToBf16(v[i]), b.buffer().getShort(2 * i), "bf16 of " + v[i] + TestData.seedInfo());
            }
        }
        assertEquals((short) 0x3f80, Half.floatToBf16(1.00390625f), "ties to even");
        assertEquals((short) 0x3f82, Half.floatToBf16(1.01171875f), "ties to even");
        assertTrue(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(Float.NaN))));
    }
}
