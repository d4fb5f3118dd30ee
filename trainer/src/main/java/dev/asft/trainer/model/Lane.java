package dev.asft.trainer.model;

import dev.asft.core.ops.TensorOps;
import dev.asft.core.ops.Workspace;
import dev.asft.core.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * What one thread of a training step owns: the step's activations (a {@link Workspace} of the
 * backend's memory), the attention probabilities each layer keeps for the backward, the LoRA
 * dropout masks of the forward, and the buffer mapped weights are widened into. A model has one
 * lane for whole steps, inference and losses, and one more per extra core for steps run in
 * shards ({@link Shards}), so that shards on different threads share nothing they write.
 */
final class Lane implements AutoCloseable {
    final Workspace ws;
    final Attention.ProbBuffers probs;
    final Linear.Scratch scratch;
    private final Map<Linear, Tensor> dropoutMasks = new IdentityHashMap<>();

    Lane(TensorOps ops) {
        this.ws = ops.newWorkspace();
        this.probs = new Attention.ProbBuffers(ops);
        this.scratch = new Linear.Scratch(ops);
    }

    /** Records the dropout mask a projection's forward drew (null: none), for its backward. */
    void setMask(Linear lin, Tensor mask) {
        if (mask == null) dropoutMasks.remove(lin);
        else dropoutMasks.put(lin, mask);
    }

    /** The mask the projection's last forward on this lane drew, or null. */
    Tensor mask(Linear lin) {
        return dropoutMasks.get(lin);
    }

    /** Starts a step on this lane (see {@link Workspace#begin}); masks of an earlier step are dropped. */
    void begin() {
        dropoutMasks.clear();
        ws.begin();
    }

    /** Ends the step: every tensor it took is free again. */
    void end() {
        dropoutMasks.clear();
        ws.end();
    }

    @Override
    public void close() {
        ws.close();
        probs.close();
        scratch.close();
    }
}
