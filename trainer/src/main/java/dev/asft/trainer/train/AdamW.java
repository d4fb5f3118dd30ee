package dev.asft.trainer.train;

import dev.asft.core.tensor.Tensor;
import java.util.List;

/**
 * AdamW with PyTorch's semantics (decoupled weight decay, bias correction) over f32 tensors: the
 * hyperparameters and the update count; each update is the backend's {@code adamW} op. The
 * moments live in tensors of the parameters' shapes.
 */
public final class AdamW {
    private final float beta1, beta2, eps, weightDecay;
    private long step;

    public AdamW(float beta1, float beta2, float eps, float weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    public long step() {
        return step;
    }

    /** Continues from a checkpoint: the next update is step + 1. */
    public void restoreStep(long step) {
        this.step = step;
    }

    /** One step at learning rate lr: params[i] updated from grads[i] with moments m[i], v[i], by the backend's op. */
    public void update(dev.asft.core.ops.TensorOps ops, List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, float lr) {
        step++;
        for (int t = 0; t < params.size(); t++)
            ops.adamW(params.get(t), grads.get(t), m.get(t), v.get(t), lr, beta1, beta2, eps, weightDecay, step);
    }
}
