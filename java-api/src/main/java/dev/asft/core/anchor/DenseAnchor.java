package dev.asft.core.anchor;

import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.Tensor;
import java.util.Map;

/**
 * A code-mode anchor held as a dense d_out x d_out matrix: C (as anchor files store it; two
 * passes per step, and what Safe LoRA needs) or Q = (I - C)^2 (one pass per step).
 */
public record DenseAnchor(String module, long dOut, long dIn, Tensor matrix, AnchorForm form, double normV)
        implements ModuleAnchor {
    @Override
    public double regularize(Backend backend, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale) {
        return backend.regularizer(matrix, form, a, b, gradA, gradB, scale);
    }

    @Override
    public void applyC(Backend backend, Tensor b, Tensor out) {
        if (form != AnchorForm.C)
            throw new UnsupportedOperationException("module " + module + ": this anchor holds Q = (I - C)^2, not C; "
                    + "Safe LoRA needs a code-mode anchor that stores C (an anchor file, or --base/--aligned)");
        backend.matmulSkinny(matrix, b, out);
    }

    @Override
    public Map<String, Tensor> fileTensors() {
        if (form != AnchorForm.C) throw new IllegalStateException("anchor files store C, not Q");
        return Map.of("c", matrix);
    }

    @Override
    public long bytes() {
        return matrix.byteSize();
    }

    @Override
    public void close() {
        matrix.close();
    }
}
