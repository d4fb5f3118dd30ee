package dev.asft.trainer.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A model's RoPE cos and sin tables in the backend's memory, grown to the longest sequence or
 * cache seen (a position's row does not depend on the table's length). Tables outgrown stay open
 * until the model closes, so a lane still reading them is never left with freed memory.
 */
final class RopeTables implements AutoCloseable {
    private final TensorOps ops;
    private final int headDim;
    private final double theta;
    private final JsonNode scaling;
    private final List<Tensor> all = new ArrayList<>();
    private Tensor[] current;

    RopeTables(TensorOps ops, int headDim, double theta, JsonNode scaling) {
        this.ops = ops;
        this.headDim = headDim;
        this.theta = theta;
        this.scaling = scaling;
    }

    /** {cos, sin} [at least positions x D/2]. */
    synchronized Tensor[] get(int positions) {
        if (current == null || current[0].dim(0) < positions) {
            current = new Rope(headDim, theta, Math.max(positions, 64), scaling).tables(ops);
            all.add(current[0]);
            all.add(current[1]);
        }
        return current;
    }

    @Override
    public synchronized void close() {
        for (Tensor t : all) t.close();
        all.clear();
        current = null;
    }
}
