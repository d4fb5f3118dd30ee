package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * A native workspace that cannot be had is an OutOfMemoryError naming the call, never a C++
 * exception crossing the C ABI (Java saw a RuntimeException "std::bad_alloc", which the CLI
 * reported as a stack trace with exit 1). A rank of 200,000 asks the regularizer for r x r
 * doubles (320 GB).
 */
class NativeOutOfMemoryTest {
    @Test
    void aWorkspaceTooLargeIsAnOutOfMemoryError() {
        int r = 200_000, d = 4;
        Tensor anchor = Tensor.zeros(DType.F32, d, d), a = Tensor.zeros(DType.F32, r, d), b = Tensor.zeros(DType.F32, d, r);
        OutOfMemoryError e = assertThrows(OutOfMemoryError.class, () -> NativeKernels.regularizerDense(anchor, true, a, b, null, null, 1f));
        assertTrue(e.getMessage().startsWith("asft_regularizer_dense: native workspace allocation failed"), e.getMessage());
    }
}
