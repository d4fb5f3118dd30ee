package dev.asft.core.backend;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.Arrays;

/** Input checks of the anchor builder, shared by the backends. */
final class AnchorChecks {
    private AnchorChecks() {}

    static void checkPair(Tensor aligned, Tensor base, DType storage) {
        if (aligned.rank() != 2)
            throw new IllegalArgumentException("anchor weights must be 2-D matrices, got " + aligned);
        if (!Arrays.equals(aligned.shape(), base.shape()))
            throw new IllegalArgumentException("aligned " + aligned.describe() + " and base " + base.describe()
                    + " differ in shape");
        if (aligned.dtype() != base.dtype())
            throw new IllegalArgumentException("aligned " + aligned.describe() + " and base " + base.describe()
                    + " differ in dtype");
        if (!aligned.dtype().isKernelStorage())
            throw new IllegalArgumentException("anchor weights must be f32, bf16 or f16, got " + aligned.describe());
        if (storage != DType.F32 && storage != DType.BF16)
            throw new IllegalArgumentException("anchors are stored as f32 or bf16, not " + storage);
    }
}
