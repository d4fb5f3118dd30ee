package dev.asft.core.tensor;

import java.util.Locale;

/**
 * Element types, named as safetensors names them. Tensors compute in f32; F32, BF16 and F16
 * are the storage types the kernels read directly, the rest are carried for IO.
 */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), U16(2), U32(4), U64(8), BOOL(1),
    F8_E4M3(1), F8_E5M2(1);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    public boolean isFloat() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /** True for the storage types the native kernels read: f32, bf16, f16. */
    public boolean isKernelStorage() {
        return this == F32 || this == BF16 || this == F16;
    }

    /** The dtype code of the C ABI (asft.h's ASFT_DTYPE_*, mirrored once in AsftNative and checked against the header). */
    public int nativeCode() {
        switch (this) {
            case F32: return dev.asft.core.nativeapi.AsftNative.ASFT_DTYPE_F32;
            case BF16: return dev.asft.core.nativeapi.AsftNative.ASFT_DTYPE_BF16;
            case F16: return dev.asft.core.nativeapi.AsftNative.ASFT_DTYPE_F16;
            default: throw new IllegalArgumentException("dtype " + this + " has no native kernel code");
        }
    }

    /** Parses a safetensors dtype string ("F32", "BF16", ...); also accepts lower case ("bf16"). */
    public static DType parse(String s) {
        try {
            return DType.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown dtype '" + s + "'");
        }
    }

    public String safetensorsName() {
        return name();
    }
}
