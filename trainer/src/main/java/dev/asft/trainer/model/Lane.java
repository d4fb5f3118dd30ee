package dev.asft.trainer.model;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * What one thread of a training step owns: the step's arrays ({@link Workspace}), the
 * attention probabilities each layer keeps for the backward, the LoRA dropout masks of the
 * forward, and the buffer mapped weights are widened into. A model has one lane for whole
 * steps, inference and losses, and one more per extra core for steps run in shards
 * ({@link Shards}), so that shards on different threads share nothing they write.
 */
final class Lane implements AutoCloseable {
    final Workspace ws = new Workspace();
    final Attention.ProbBuffers probs = new Attention.ProbBuffers();
    final Linear.Scratch scratch = new Linear.Scratch();
    private final Map<Linear, float[]> dropoutMasks = new IdentityHashMap<>();

    /** Records the dropout mask a projection's forward drew (null: none), for its backward. */
    void setMask(Linear lin, float[] mask) {
        if (mask == null) dropoutMasks.remove(lin);
        else dropoutMasks.put(lin, mask);
    }

    /** The mask the projection's last forward on this lane drew, or null. */
    float[] mask(Linear lin) {
        return dropoutMasks.get(lin);
    }

    /** Starts a step on this lane (see {@link Workspace#begin}); masks of an earlier step are dropped. */
    void begin() {
        dropoutMasks.clear();
        ws.begin();
    }

    /** Ends the step: every array it took is free again. */
    void end() {
        dropoutMasks.clear();
        ws.end();
    }

    @Override
    public void close() {
        probs.close();
        scratch.close();
    }
}
