package dev.asft.core.anchor;

import dev.asft.core.backend.AnchorForm;
import dev.asft.core.tensor.Tensor;

/**
 * The anchor of one module: the d_out x d_out matrix the regularizer streams (Q or C, see
 * {@link AnchorForm}), the shape of the weight it came from, and ||V||_F.
 */
public record ModuleAnchor(String module, long dOut, long dIn, Tensor matrix, AnchorForm form, double normV)
        implements AutoCloseable {
    @Override
    public void close() {
        matrix.close();
    }
}
