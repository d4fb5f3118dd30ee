package dev.asft.trainer.model;

import dev.asft.core.ops.TensorOps;
import dev.asft.core.ops.Workspace;
import dev.asft.core.backend.PackedWeight;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * y = x W^T (+ b) (+ s (x A^T) B^T with a LoRA adapter) for x [n x in], W [out x in] (PyTorch's
 * nn.Linear layout), A [r x in], B [out x r] (PEFT's), as GEMMs of the backend's ops. W is an f32
 * tensor, or a memory-mapped bf16/f16 view of the checkpoint that each GEMM widens into the
 * calling lane's scratch buffer (no f32 copy of the model is ever held).
 */
final class Linear implements AutoCloseable {
    /** One growing f32 buffer for widening mapped weights, shared by a model's layers (one per lane: single-threaded use). */
    static final class Scratch implements AutoCloseable {
        private final TensorOps ops;
        private Tensor buf;

        Scratch(TensorOps ops) {
            this.ops = ops;
        }

        /** w widened to f32 in this scratch (valid until the next call). */
        Tensor f32(Tensor w) {
            if (buf == null || buf.numel() < w.numel()) {
                if (buf != null) buf.close();
                buf = ops.allocate(w.numel());
            }
            ops.widen(w, buf);
            return buf.view(0, w.shape());
        }

        @Override
        public void close() {
            if (buf != null) buf.close();
        }
    }

    private final String name;
    private final Tensor weight, bias;
    private Tensor loraA, loraB; // views of the adapter's tensors (not owned)
    private float loraScale;
    // The weight packed for the backend's GEMMs (forward y = x W^T, backward dx = dy W), or null.
    private PackedWeight packedForward, packedBackward;

    /**
     * The weight may be f32, or a mapped bf16/f16 view that each GEMM widens into the calling
     * lane's scratch. Per-call state (outputs, temporaries, dropout masks) lives in the lane, so
     * one projection serves several lanes at once.
     */
    Linear(String name, Tensor weight, Tensor bias) {
        if (weight.dtype() != DType.F32 && weight.dtype() != DType.BF16 && weight.dtype() != DType.F16)
            throw new IllegalArgumentException(name + ": a " + weight.dtype() + " weight cannot be a projection");
        this.name = name;
        this.weight = weight;
        this.bias = bias;
    }

    /**
     * Packs an f32 weight for the backend's forward GEMMs (y = x W^T) and, with {@code backward},
     * its input-gradient GEMMs (dx = dy W), once each (the GEMMs then skip packing it on every
     * call; same results bit for bit); returns the bytes the new packed copies take (0: none).
     */
    long pack(TensorOps ops, boolean backward) {
        if (weight.dtype() != DType.F32) return 0;
        long bytes = 0;
        if (packedForward == null) {
            packedForward = ops.packWeight(true, weight);
            if (packedForward == null) return 0; // the backend has no packed GEMMs
            bytes += 4 * packedForward.data().numel();
        }
        if (backward && packedBackward == null) {
            packedBackward = ops.packWeight(false, weight);
            if (packedBackward != null) bytes += 4 * packedBackward.data().numel();
        }
        return bytes;
    }

    /** Closes the packed copies, if any (the weight is about to change, or is closed). */
    void unpack() {
        if (packedForward != null) packedForward.close();
        if (packedBackward != null) packedBackward.close();
        packedForward = packedBackward = null;
    }

    /** The bytes {@link #pack} would add: an f32 copy of an f32 weight per direction not packed yet. */
    long packBytes(boolean backward) {
        if (weight.dtype() != DType.F32) return 0;
        return 4 * weight.numel() * ((packedForward == null ? 1 : 0) + (backward && packedBackward == null ? 1 : 0));
    }

    /** The weight for one GEMM: as stored where the ops' GEMMs read its dtype, else widened into the lane's scratch. */
    private Tensor w32(TensorOps ops, Lane lane) {
        return ops.gemmReadsStored(weight.dtype()) ? weight : lane.scratch.f32(weight);
    }

    String name() {
        return name;
    }

    Tensor weight() {
        return weight;
    }

    Tensor bias() {
        return bias;
    }

    int out() {
        return (int) weight.dim(0);
    }

    int in() {
        return (int) weight.dim(1);
    }

    void setLora(Tensor a, Tensor b, float scale) {
        if (a.dim(1) != weight.dim(1) || b.dim(0) != weight.dim(0) || a.dim(0) != b.dim(1))
            throw new IllegalArgumentException(name + ": LoRA factors " + a.describe() + ", " + b.describe()
                    + " do not fit weight " + weight.describe());
        this.loraA = a;
        this.loraB = b;
        this.loraScale = scale;
    }

    /** y = x W^T (+ b) (+ s (x A^T) B^T) for x [n x in], into a tensor of the lane's workspace. */
    Tensor apply(TensorOps ops, Lane lane, Tensor x) {
        return apply(ops, lane, x, 0f, null);
    }

    /**
     * As {@link #apply(TensorOps, Lane, Tensor)}, with LoRA dropout on the adapter's input (PEFT's
     * lora_dropout: y = x W^T + s (dropout(x) A^T) B^T) when p > 0 and rnd is given; the mask is
     * kept in the lane for the backward pass.
     */
    Tensor apply(TensorOps ops, Lane lane, Tensor x, float p, java.util.SplittableRandom rnd) {
        int out = out(), in = in();
        if (x.rank() != 2 || x.dim(1) != in) throw new IllegalArgumentException(name + ": input " + x.describe() + ", expected [n x " + in + "]");
        int n = (int) x.dim(0);
        Workspace ws = lane.ws;
        lane.setMask(this, null);
        Tensor r = ws.take(n, out);
        if (packedForward != null) ops.gemmPacked(true, packedForward, weight, 1f, x, 0f, r);
        else ops.gemm(false, true, 1f, x, w32(ops, lane), 0f, r); // y = x W^T
        if (loraA != null) {
            Tensor xl = x;
            if (p > 0 && rnd != null) {
                Tensor mask = ws.take(n, in);
                ops.dropoutMask(mask, p, rnd);
                xl = ws.take(n, in);
                ops.multiply(x, mask, xl);
                lane.setMask(this, mask);
            }
            Tensor xa = ws.take(n, loraA.dim(0));
            ops.gemm(false, true, 1f, xl, loraA, 0f, xa); // x_l A^T
            ops.gemm(false, true, loraScale, xa, loraB, 1f, r); // y += s (x_l A^T) B^T
            ws.give(xa);
            if (xl != x) ws.give(xl);
        }
        if (bias != null) ops.addBias(r, bias);
        return r;
    }

    boolean hasLora() {
        return loraA != null;
    }

    /**
     * Backward through y = x W^T (+ b) (+ s (x A^T) B^T): returns dx = dy W (+ s (dy B) A) and, with
     * LoRA, adds dA += s (dy B)^T x and dB += s dy^T (x A^T) to gradA / gradB (W and b frozen);
     * for full fine-tuning also adds dW += dy^T x to gradW and db += sum_t dy_t to
     * gradBias when they are given (x is the layer's input, before any LoRA dropout). Without
     * needDx (nothing below the layer trains) only the parameter gradients are made: returns null.
     */
    Tensor backward(TensorOps ops, Lane lane, Tensor x, Tensor dy, Grads g, boolean needDx) {
        return backward(ops, lane, x, dy, g, needDx, null);
    }

    /**
     * As above, with dx added to {@code addTo} (n x in, returned) instead of a new tensor when it
     * is given: projections that read the same input (q, k, v; gate, up) sum their input
     * gradients in the GEMM itself (beta = 1), without a zeroed output and an addition pass each.
     */
    Tensor backward(TensorOps ops, Lane lane, Tensor x, Tensor dy, Grads g, boolean needDx, Tensor addTo) {
        Workspace ws = lane.ws;
        int out = out(), in = in(), n = (int) x.dim(0);
        Tensor loraMask = loraA == null ? null : lane.mask(this);
        if (g.weight() != null) ops.gemm(true, false, 1f, dy, x, 1f, g.weight()); // dW += dy^T x
        if (g.bias() != null) ops.addColumnSums(dy, g.bias());
        Tensor xl = x;
        if (loraA != null && loraMask != null) { // the input the LoRA path saw in the forward
            xl = ws.take(n, in);
            ops.multiply(x, loraMask, xl);
        }
        if (!needDx && loraA == null) return null; // a frozen projection with nothing to pass down
        Tensor dx = null;
        if (needDx) {
            if (addTo != null && (addTo.dim(0) != n || addTo.dim(1) != in))
                throw new IllegalArgumentException(name + ": input gradient " + addTo.describe() + ", expected [" + n + " x " + in + "]");
            dx = addTo != null ? addTo : ws.take(n, in);
            float beta = addTo != null ? 1f : 0f; // dx (+)= dy W
            if (packedBackward != null) ops.gemmPacked(false, packedBackward, weight, 1f, dy, beta, dx);
            else ops.gemm(false, false, 1f, dy, w32(ops, lane), beta, dx);
        }
        if (loraA != null) {
            int r = (int) loraA.dim(0);
            Tensor dyb = ws.take(n, r);
            ops.gemm(false, false, 1f, dy, loraB, 0f, dyb); // dy B
            if (needDx && loraMask == null) {
                ops.gemm(false, false, loraScale, dyb, loraA, 1f, dx); // dx += s (dy B) A
            } else if (needDx) { // w.r.t. the LoRA input: through the dropout mask
                Tensor d = ws.take(n, in);
                ops.gemm(false, false, loraScale, dyb, loraA, 0f, d); // s (dy B) A
                ops.multiply(d, loraMask, d);
                ops.add(dx, d);
                ws.give(d);
            }
            if (g.a() != null) ops.gemm(true, false, loraScale, dyb, xl, 1f, g.a()); // s (dy B)^T x_l
            if (g.b() != null) {
                Tensor xa = ws.take(n, r);
                ops.gemm(false, true, 1f, xl, loraA, 0f, xa); // x_l A^T
                ops.gemm(true, false, loraScale, dy, xa, 1f, g.b()); // s dy^T (x_l A^T)
                ws.give(xa);
            }
            ws.give(dyb);
            if (xl != x) ws.give(xl);
        }
        return dx;
    }

    /**
     * The gradient buffers one projection's backward adds to (null where not trained): the LoRA
     * factors' (a, b), or for full fine-tuning the weight's and bias's.
     */
    record Grads(Tensor a, Tensor b, Tensor weight, Tensor bias) {
        static final Grads NONE = new Grads(null, null, null, null);
    }

    @Override
    public void close() {
        weight.close();
        if (bias != null) bias.close();
        unpack();
    }
}
