package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/** y = x W^T (+ b) for x [n x in], W [out x in] (PyTorch's nn.Linear layout), as one GEMM. */
record Linear(String name, Tensor weight, Tensor bias) implements AutoCloseable {
    float[] apply(Backend backend, float[] x, int n) {
        int out = (int) weight.dim(0), in = (int) weight.dim(1);
        if (x.length != n * in) throw new IllegalArgumentException(name + ": input has " + x.length + " values, expected " + n + " x " + in);
        try (Tensor xt = Tensor.of(DType.F32, x, n, in); Tensor y = Tensor.allocate(DType.F32, n, out)) {
            backend.gemm(false, true, 1f, xt, weight, 0f, y);
            float[] r = y.toFloatArray();
            if (bias != null) {
                float[] b = bias.toFloatArray();
                for (int t = 0; t < n; t++)
                    for (int j = 0; j < out; j++) r[t * out + j] += b[j];
            }
            return r;
        }
    }

    @Override
    public void close() {
        weight.close();
        if (bias != null) bias.close();
    }
}
