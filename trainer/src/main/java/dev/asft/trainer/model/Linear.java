package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.PackedWeight;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * y = x W^T (+ b) (+ s (x A^T) B^T with a LoRA adapter) for x [n x in], W [out x in] (PyTorch's
 * nn.Linear layout), A [r x in], B [out x r] (PEFT's), as GEMMs on the backend. W is an f32
 * tensor, or a memory-mapped bf16/f16 view of the checkpoint that each GEMM widens into the
 * calling lane's scratch buffer (no f32 copy of the model is ever held).
 */
final class Linear implements AutoCloseable {
    /** One growing f32 buffer for widening mapped weights, shared by a model's layers (one per lane: single-threaded use). */
    static final class Scratch implements AutoCloseable {
        private Tensor buf;

        Tensor f32(Tensor w) {
            if (buf == null || buf.numel() < w.numel()) {
                if (buf != null) buf.close();
                buf = Tensor.allocate(DType.F32, w.numel());
            }
            w.convertInto(buf);
            return Tensor.wrap(buf.buffer().slice(0, Math.toIntExact(w.numel() * 4)), DType.F32, w.shape());
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
    long pack(Backend backend, boolean backward) {
        if (weight.dtype() != DType.F32) return 0;
        long bytes = 0;
        if (packedForward == null) {
            packedForward = backend.packWeight(true, weight);
            if (packedForward == null) return 0; // the backend has no packed GEMMs
            bytes += 4 * packedForward.data().numel();
        }
        if (backward && packedBackward == null) {
            packedBackward = backend.packWeight(false, weight);
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

    /** The weight as an f32 tensor for one GEMM (widened into the lane's scratch when mapped). */
    private Tensor w32(Lane lane) {
        return weight.dtype() == DType.F32 ? weight : lane.scratch.f32(weight);
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

    void setLora(Tensor a, Tensor b, float scale) {
        if (a.dim(1) != weight.dim(1) || b.dim(0) != weight.dim(0) || a.dim(0) != b.dim(1))
            throw new IllegalArgumentException(name + ": LoRA factors " + a.describe() + ", " + b.describe()
                    + " do not fit weight " + weight.describe());
        this.loraA = a;
        this.loraB = b;
        this.loraScale = scale;
    }

    float[] apply(Backend backend, Lane lane, float[] x, int n) {
        return apply(backend, lane, x, n, 0f, null);
    }

    /**
     * As {@link #apply(Backend, Lane, float[], int)}, with LoRA dropout on the adapter's input
     * (PEFT's lora_dropout: y = x W^T + s (dropout(x) A^T) B^T) when p > 0 and rnd is given; the
     * mask is kept in the lane for the backward pass.
     */
    float[] apply(Backend backend, Lane lane, float[] x, int n, float p, java.util.SplittableRandom rnd) {
        int out = (int) weight.dim(0), in = (int) weight.dim(1);
        if (x.length != n * in) throw new IllegalArgumentException(name + ": input has " + x.length + " values, expected " + n + " x " + in);
        Workspace ws = lane.ws;
        lane.setMask(this, null);
        float[] r = ws.take(n * out);
        // y = x W^T on the Java arrays (no copies on the cpu backend)
        if (packedForward != null) backend.gemmPacked(true, packedForward, weight, 1f, x, n, 0f, r);
        else backend.gemm(true, 1f, x, n, in, w32(lane), 0f, r);
        if (loraA != null) {
            float[] xl = x;
            if (p > 0 && rnd != null) {
                float[] mask = ws.take(x.length);
                xl = ws.take(x.length);
                float keep = 1f / (1f - p);
                for (int i = 0; i < x.length; i++) {
                    mask[i] = rnd.nextDouble() < p ? 0f : keep;
                    xl[i] = x[i] * mask[i];
                }
                lane.setMask(this, mask);
            }
            int rank = (int) loraA.dim(0);
            float[] xa = ws.take(n * rank);
            backend.gemm(true, 1f, xl, n, in, loraA, 0f, xa); // x_l A^T
            backend.gemm(true, loraScale, xa, n, rank, loraB, 1f, r); // y += s (x_l A^T) B^T
            ws.give(xa);
            if (xl != x) ws.give(xl);
        }
        if (bias != null) {
            float[] b = bias.toFloatArray();
            for (int t = 0; t < n; t++)
                for (int j = 0; j < out; j++) r[t * out + j] += b[j];
        }
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
    float[] backward(Backend backend, Lane lane, float[] x, float[] dy, int n, Tensor gradA, Tensor gradB, Tensor gradW,
                     Tensor gradBias, boolean needDx) {
        return backward(backend, lane, x, dy, n, gradA, gradB, gradW, gradBias, needDx, null);
    }

    /**
     * As above, with dx added to {@code addTo} (n x in, returned) instead of a new array when it
     * is given: projections that read the same input (q, k, v; gate, up) sum their input
     * gradients in the GEMM itself (beta = 1), without a zeroed output and an addition pass each.
     */
    float[] backward(Backend backend, Lane lane, float[] x, float[] dy, int n, Tensor gradA, Tensor gradB, Tensor gradW,
                     Tensor gradBias, boolean needDx, float[] addTo) {
        Workspace ws = lane.ws;
        float[] loraMask = loraA == null ? null : lane.mask(this);
        if (gradW != null) backend.gemmTN(1f, dy, x, n, (int) weight.dim(0), (int) weight.dim(1), 1f, gradW); // dW += dy^T x
        if (gradBias != null) {
            int out = (int) weight.dim(0);
            java.nio.FloatBuffer gb = gradBias.floats();
            for (int j = 0; j < out; j++) {
                double s = 0;
                for (int t = 0; t < n; t++) s += dy[t * out + j];
                gb.put(j, (float) (gb.get(j) + s));
            }
        }
        int out = (int) weight.dim(0), in = (int) weight.dim(1);
        float[] xl = x;
        if (loraA != null && loraMask != null) { // the input the LoRA path saw in the forward
            xl = ws.take(x.length);
            for (int i = 0; i < x.length; i++) xl[i] = x[i] * loraMask[i];
        }
        if (!needDx && loraA == null) return null; // a frozen projection with nothing to pass down
        float[] dx = null;
        if (needDx) {
            if (addTo != null && addTo.length != n * in)
                throw new IllegalArgumentException(name + ": input gradient has " + addTo.length + " values, expected " + n + " x " + in);
            dx = addTo != null ? addTo : ws.take(n * in);
            float beta = addTo != null ? 1f : 0f; // dx (+)= dy W on the Java arrays
            if (packedBackward != null) backend.gemmPacked(false, packedBackward, weight, 1f, dy, n, beta, dx);
            else backend.gemm(false, 1f, dy, n, out, w32(lane), beta, dx);
        }
        if (loraA != null) {
            int r = (int) loraA.dim(0);
            float[] dyb = ws.take(n * r);
            backend.gemm(false, 1f, dy, n, out, loraB, 0f, dyb); // dy B
            if (needDx && loraMask == null) {
                backend.gemm(false, loraScale, dyb, n, r, loraA, 1f, dx); // dx += s (dy B) A
            } else if (needDx) { // w.r.t. the LoRA input: through the dropout mask
                float[] d = ws.take(n * in);
                backend.gemm(false, loraScale, dyb, n, r, loraA, 0f, d); // s (dy B) A
                for (int i = 0; i < dx.length; i++) dx[i] += d[i] * loraMask[i];
                ws.give(d);
            }
            if (gradA != null) backend.gemmTN(loraScale, dyb, xl, n, r, in, 1f, gradA); // s (dy B)^T x_l
            if (gradB != null) {
                float[] xa = ws.take(n * r);
                backend.gemm(true, 1f, xl, n, in, loraA, 0f, xa); // x_l A^T
                backend.gemmTN(loraScale, dy, xa, n, out, r, 1f, gradB); // s dy^T (x_l A^T)
                ws.give(xa);
            }
            ws.give(dyb);
            if (xl != x) ws.give(xl);
        }
        return dx;
    }

    @Override
    public void close() {
        weight.close();
        if (bias != null) bias.close();
        unpack();
    }
}
