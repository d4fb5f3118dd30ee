package dev.asft.core.nativeapi;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/** Shape and dtype checks shared by every backend, so that each one rejects the same inputs. */
public final class Shapes {
    private Shapes() {}

    private static void open(Tensor t, String what) {
        if (t == null) throw new IllegalArgumentException(what + " is null");
        if (t.isClosed()) throw new IllegalArgumentException(what + " is closed");
    }

    /** m [d_out x d_in], x [d_in x r] f32, out [d_out x r] f32. */
    public static void checkSkinny(Tensor m, Tensor x, Tensor out) {
        open(m, "m");
        open(x, "x");
        open(out, "out");
        if (m.rank() != 2 || x.rank() != 2 || out.rank() != 2)
            throw new IllegalArgumentException("skinny product needs 2-D tensors, got " + m + ", " + x + ", " + out);
        x.requireDType(DType.F32);
        out.requireDType(DType.F32);
        if (x.dim(0) != m.dim(1))
            throw new IllegalArgumentException("inner dimensions differ: m " + m + " and x " + x);
        if (out.dim(0) != m.dim(0) || out.dim(1) != x.dim(1))
            throw new IllegalArgumentException("out " + out + " must be [" + m.dim(0) + ", " + x.dim(1) + "]");
    }

    /**
     * anchor [d_out x d_out], a = lora_A [r x d_in], b = lora_B [d_out x r], gradients of the
     * same shapes as a and b (or null), all f32 except the anchor.
     */
    public static void checkRegularizer(Tensor anchor, Tensor a, Tensor b, Tensor gradA, Tensor gradB) {
        open(anchor, "anchor");
        checkFactors(a, b);
        if (anchor.rank() != 2 || anchor.dim(0) != anchor.dim(1) || anchor.dim(0) != b.dim(0))
            throw new IllegalArgumentException("anchor " + anchor + " must be [d_out, d_out] with d_out = "
                    + b.dim(0) + " (rows of lora_B)");
        checkGrads(a, b, gradA, gradB);
    }

    /** A low-rank anchor's U [d_out x k] (f32 or bf16) and weights w [k] (f32) for lora_A / lora_B. */
    public static void checkLowRank(Tensor u, Tensor w, Tensor a, Tensor b, Tensor gradA, Tensor gradB) {
        checkLora(b.dim(0), a.dim(1), a, b, gradA, gradB);
        open(u, "low-rank anchor U");
        if (u.dtype() != DType.F32 && u.dtype() != DType.BF16)
            throw new IllegalArgumentException("low-rank anchor: U " + u + " must be f32 or bf16");
        w.requireDType(DType.F32);
        if (u.rank() != 2 || u.dim(0) != b.dim(0) || w.rank() != 1 || w.dim(0) != u.dim(1))
            throw new IllegalArgumentException("low-rank anchor: U " + u + " must be [" + b.dim(0) + " x k]"
                    + " for lora_B " + b + ", with k weights, got " + w);
    }

    /** LoRA factors (and gradients) of a module whose weight is [dOut x dIn]. */
    public static void checkLora(long dOut, long dIn, Tensor a, Tensor b, Tensor gradA, Tensor gradB) {
        checkFactors(a, b);
        if (a.dim(1) != dIn || b.dim(0) != dOut)
            throw new IllegalArgumentException("lora_A " + a + " and lora_B " + b + " do not fit a [" + dOut + ", " + dIn
                    + "] weight");
        checkGrads(a, b, gradA, gradB);
    }

    /** lora_A [r x d_in] and lora_B [d_out x r]: open, 2-D, f32, the same positive r. */
    private static void checkFactors(Tensor a, Tensor b) {
        open(a, "lora_A");
        open(b, "lora_B");
        if (a.rank() != 2 || b.rank() != 2)
            throw new IllegalArgumentException("lora_A and lora_B must be 2-D, got " + a + " and " + b);
        a.requireDType(DType.F32);
        b.requireDType(DType.F32);
        if (a.dim(0) != b.dim(1))
            throw new IllegalArgumentException("rank mismatch: lora_A " + a + " has r = " + a.dim(0)
                    + " but lora_B " + b + " has r = " + b.dim(1));
        if (a.dim(0) <= 0) throw new IllegalArgumentException("LoRA rank must be positive, got " + a);
    }

    private static void checkGrads(Tensor a, Tensor b, Tensor gradA, Tensor gradB) {
        if (gradA != null) {
            open(gradA, "grad of lora_A");
            gradA.requireDType(DType.F32);
            if (gradA.rank() != 2 || gradA.dim(0) != a.dim(0) || gradA.dim(1) != a.dim(1))
                throw new IllegalArgumentException("grad of lora_A " + gradA + " must match " + a);
        }
        if (gradB != null) {
            open(gradB, "grad of lora_B");
            gradB.requireDType(DType.F32);
            if (gradB.rank() != 2 || gradB.dim(0) != b.dim(0) || gradB.dim(1) != b.dim(1))
                throw new IllegalArgumentException("grad of lora_B " + gradB + " must match " + b);
        }
    }
}
