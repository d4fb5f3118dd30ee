package dev.asft.core.tensor;

/** IEEE half (f16) and bfloat16 bit conversions; round to nearest even, NaN stays NaN. */
public final class Half {
    private Half() {}

    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    public static short floatToBf16(float f) {
        int w = Float.floatToRawIntBits(f);
        if ((w & 0x7fffffff) > 0x7f800000) return (short) ((w >>> 16) | 0x0040);
        w += 0x7fff + ((w >>> 16) & 1);
        return (short) (w >>> 16);
    }

    public static float f16ToFloat(short hs) {
        int h = hs & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int man = h & 0x3ff;
        if (exp == 0) {
            float f = man * 0x1p-24f;
            return sign != 0 ? -f : f;
        }
        if (exp == 31) return Float.intBitsToFloat(sign | 0x7f800000 | (man << 13));
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (man << 13));
    }

    public static short floatToF16(float f) {
        int w = Float.floatToRawIntBits(f);
        int sign = (w >>> 16) & 0x8000;
        int aw = w & 0x7fffffff;
        if (aw > 0x7f800000) return (short) (sign | 0x7e00);
        if (aw >= 0x477ff000) return (short) (sign | 0x7c00);
        if (aw < 0x38800000) {
            float scaled = Float.intBitsToFloat(aw) * 16777216.0f;
            return (short) (sign | (int) Math.rint(scaled));
        }
        int v = aw - (112 << 23);
        v += 0xfff + ((v >>> 13) & 1);
        return (short) (sign | (v >>> 13));
    }
}
