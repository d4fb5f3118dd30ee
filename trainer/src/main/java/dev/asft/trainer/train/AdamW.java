package dev.asft.trainer.train;

import dev.asft.core.tensor.Tensor;
import java.util.List;

/**
 * AdamW with PyTorch's semantics (decoupled weight decay, bias correction) over f32 tensors,
 * on the host. The moments live in tensors of the parameters' shapes.
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

    /** One step at learning rate lr: params[i] updated from grads[i] with moments m[i], v[i]. */
    public void update(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, float lr) {
        step++;
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        for (int t = 0; t < params.size(); t++) {
            java.nio.FloatBuffer p = params.get(t).floats(), g = grads.get(t).floats(), mm = m.get(t).floats(), vv = v.get(t).floats();
            for (int i = 0; i < p.capacity(); i++) {
                float gi = g.get(i);
                float w = p.get(i) * (1f - lr * weightDecay);
                float mi = beta1 * mm.get(i) + (1 - beta1) * gi, vi = beta2 * vv.get(i) + (1 - beta2) * gi * gi;
                mm.put(i, mi);
                vv.put(i, vi);
                p.put(i, (float) (w - lr * (mi / bc1) / (Math.sqrt(vi / bc2) + eps)));
            }
        }
    }
}
