package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The native skinny product vs the Java reference, on every CPU path this machine has. */
class SkinnyMatmulTest {
    static List<String> isas() {
        List<String> out = new ArrayList<>();
        for (String isa : new String[] {"generic", "avx2", "avx512"}) {
            try {
                NativeKernels.setCpuIsa(isa);
                out.add(isa);
            } catch (UnsupportedOperationException e) {
                // this CPU lacks the ISA: the path cannot run here
            }
        }
        return out;
    }

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        long[][] shapes = {{64, 64}, {96, 256}, {256, 96}, {344, 128}, {37, 53}, {1, 1}, {130, 7}};
        int[] ranks = {1, 2, 3, 4, 5, 7, 8, 16, 33, 64};
        for (String isa : isas())
            for (DType dt : new DType[] {DType.F32, DType.BF16})
                for (long[] s : shapes)
                    for (int r : ranks)
                        if (s[0] * s[1] * r <= 2_000_000) out.add(Arguments.of(isa, dt, s[0], s[1], r));
        return out;
    }

    @AfterEach
    void restore() {
        NativeKernels.setCpuIsa(isas().get(isas().size() - 1));
        NativeKernels.setNumThreads(0);
    }

    @ParameterizedTest(name = "{0} {1} {2}x{3} r={4}")
    @MethodSource("cases")
    void matchesJavaReference(String isa, DType dtype, long dOut, long dIn, int r) {
        NativeKernels.setCpuIsa(isa);
        NativeKernels.setNumThreads(1 + TestData.rnd().nextInt(3)); // 1..3 threads, uneven splits
        try (Tensor m = TestData.randn(dtype, 1, dOut, dIn); Tensor x = TestData.randn(DType.F32, 1, dIn, r);
             Tensor got = TestData.poisoned(dOut, r); Tensor ref = TestData.poisoned(dOut, r)) {
            new CpuBackend().matmulSkinny(m, x, got);
            new JavaBackend().matmulSkinny(m, x, ref);
            double err = TestData.relErr(got.toFloatArray(), ref.toFloatArray());
            // f32 accumulation over d_in terms vs a double reference of the same (bf16-rounded) inputs.
            assertTrue(err < 2e-6, isa + " " + dtype + " rel err " + err + TestData.seedInfo());
        }
    }

    @ParameterizedTest(name = "bad shapes {0}")
    @MethodSource("backends")
    void rejectsBadShapes(Backend backend) {
        try (Tensor m = Tensor.zeros(DType.F32, 8, 6); Tensor x = Tensor.zeros(DType.F32, 5, 2);
             Tensor out = Tensor.zeros(DType.F32, 8, 2); Tensor xi = Tensor.zeros(DType.I32, 6, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend.matmulSkinny(m, x, out));
            assertTrue(e.getMessage().contains("inner dimensions"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> backend.matmulSkinny(m, xi, out));
        }
    }

    static List<Backend> backends() {
        return List.of(new JavaBackend(), new CpuBackend());
    }
}
