package dev.asft.trainer.model;

import dev.asft.core.ops.TensorOps;
import dev.asft.core.ops.Workspace;
import dev.asft.core.tensor.Tensor;

/**
 * The output head and the token cross-entropy of a training step, with the gradient at the
 * head's input. When the head is frozen (LoRA) only supervised rows get logits: a prompt-masked
 * batch, the default for instruction data, computes none for its prompt tokens (with AGNEWS-style
 * data, whose answers are a word or two, that is most of the head's work). The logits are then
 * made a chunk of rows at a time, so their memory stays bounded: with Qwen2's 151,936-token
 * vocabulary one row's logits take 0.6 MB, and their gradient as much again.
 *
 * <p>When the head trains (full fine-tuning) every row goes through one product, as before:
 * the weight gradient dW += dlogits^T x then sums over the same rows in the same order.
 */
final class HeadLoss {
    /** Logits per chunk: 64 MiB of them, and as much for their gradient ... */
    static final long CHUNK_FLOATS = 16L << 20;
    /**
     * ... but at least this many rows: each product packs the whole head weight (OpenBLAS, per
     * call), and at 512 rows that is a few percent of the product's own time even for a 152k
     * vocabulary (there a chunk's logits take 311 MB); at 110 rows it would be most of it.
     */
    static final int MIN_CHUNK_ROWS = 512;

    private HeadLoss() {}

    /**
     * dx [rows x hidden] at the head's input (null when no row is supervised; rows without a
     * target get 0), the summed row losses and how many rows were counted.
     */
    record Result(Tensor dx, double lossSum, long count) {}

    /** Rows per chunk: CHUNK_FLOATS logits, but at least MIN_CHUNK_ROWS rows. */
    static int chunkRows(int vocab) {
        return (int) Math.max(MIN_CHUNK_ROWS, CHUNK_FLOATS / vocab);
    }

    /**
     * xf [rows x hidden] (the final norm's output); targets[r]: the token row r learns to
     * predict, or -1. The gradient is that of (summed row losses) / denominator; with headGrad
     * (full fine-tuning) the head's weight gradient is added to it too.
     */
    static Result lossAndDx(TensorOps ops, Lane lane, Linear head, Tensor xf, int[] targets, long denominator, Tensor headGrad) {
        return lossAndDx(ops, lane, head, xf, targets, denominator, headGrad, chunkRows(head.out()));
    }

    /** As above with chunks of the given number of rows (when the head is frozen). */
    static Result lossAndDx(TensorOps ops, Lane lane, Linear head, Tensor xf, int[] targets, long denominator, Tensor headGrad,
                            int chunkRows) {
        int[] rows = supervisedRows(targets);
        if (rows.length == 0) return new Result(null, 0, 0);
        if (headGrad != null) return rowsAtOnce(ops, lane, head, xf, targets, denominator, headGrad);
        return overChunks(ops, lane, head, xf, targets, rows, denominator, chunkRows, true);
    }

    /** The summed row losses and their count without any gradient (evaluation), a chunk of rows at a time. */
    static double[] lossOnly(TensorOps ops, Lane lane, Linear head, Tensor xf, int[] targets) {
        Result r = overChunks(ops, lane, head, xf, targets, supervisedRows(targets), 1, chunkRows(head.out()), false);
        return new double[] {r.lossSum(), r.count()};
    }

    /** The given rows of xf, packed a chunk at a time; with grad, dx scattered back to them (other rows 0). */
    private static Result overChunks(TensorOps ops, Lane lane, Linear head, Tensor xf, int[] targets, int[] rows, long denominator,
                                     int chunkRows, boolean grad) {
        Workspace ws = lane.ws;
        int hidden = (int) xf.dim(1);
        int chunk = Math.max(1, Math.min(rows.length, chunkRows));
        Tensor dx = grad ? ws.zeros(targets.length, hidden) : null; // rows without a target pass no gradient down
        double lossSum = 0;
        long count = 0;
        for (int s = 0; s < rows.length; s += chunk) {
            int c = Math.min(chunk, rows.length - s);
            int[] part = java.util.Arrays.copyOfRange(rows, s, s + c), ts = new int[c];
            for (int i = 0; i < c; i++) ts[i] = targets[part[i]];
            Tensor xs = ws.take(c, hidden);
            ops.gatherRows(xf, part, xs);
            Result r = grad ? rowsAtOnce(ops, lane, head, xs, ts, denominator, null) : lossOfRows(ops, lane, head, xs, ts);
            if (grad) {
                ops.scatterRows(r.dx(), part, dx);
                ws.give(r.dx());
            }
            ws.give(xs);
            lossSum += r.lossSum();
            count += r.count();
        }
        return new Result(dx, lossSum, count);
    }

    /** The loss of the rows of x, no gradient. */
    private static Result lossOfRows(TensorOps ops, Lane lane, Linear head, Tensor x, int[] targets) {
        Workspace ws = lane.ws;
        Tensor logits = head.apply(ops, lane, x);
        Tensor unused = ws.take(logits.shape()); // the op writes the gradient too
        double[] sumCount = ops.crossEntropy(logits, targets, 1, unused);
        ws.give(logits, unused);
        return new Result(null, sumCount[0], (long) sumCount[1]);
    }

    /** Logits of all rows of x in one product, the loss and its gradient, then dx = dlogits W. */
    static Result rowsAtOnce(TensorOps ops, Lane lane, Linear head, Tensor x, int[] targets, long denominator, Tensor headGrad) {
        Workspace ws = lane.ws;
        Tensor logits = head.apply(ops, lane, x);
        Tensor dlogits = ws.take(logits.shape());
        // The loss and d loss / d logits = (softmax - onehot) / denominator in one pass, one exp per logit.
        double[] sumCount = ops.crossEntropy(logits, targets, denominator, dlogits);
        ws.give(logits);
        Tensor dx = head.backward(ops, lane, x, dlogits, new Linear.Grads(null, null, headGrad, null), true);
        ws.give(dlogits);
        return new Result(dx, sumCount[0], (long) sumCount[1]);
    }

    private static int[] supervisedRows(int[] targets) {
        int m = 0;
        for (int t : targets) if (t >= 0) m++;
        int[] rows = new int[m];
        for (int r = 0, i = 0; r < targets.length; r++) if (targets[r] >= 0) rows[i++] = r;
        return rows;
    }
}
