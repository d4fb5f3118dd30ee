package dev.asft.core.anchor;

import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.Tensor;
import java.util.Map;

/** The anchor of one module in one of the modes; knows how to compute its penalty. */
public sealed interface ModuleAnchor extends AutoCloseable permits DenseAnchor, LowRankAnchor, DirectionAnchor {
    /** The module name (the weight's name without ".weight"). */
    String module();

    /** Rows and columns of the module's weight. */
    long dOut();

    long dIn();

    /** ||V||_F of the weight difference this anchor came from. */
    double normV();

    /**
     * R = ||(I - C) B A||_F^2 for this anchor's C; adds scale * dR/dA and scale * dR/dB to
     * gradA and gradB (either may be null). a = lora_A [r x d_in], b = lora_B [d_out x r], f32.
     */
    double regularize(Backend backend, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale);

    /** out = C . b (d_out x r), for Safe LoRA's projection; only anchors that hold C support it. */
    void applyC(Backend backend, Tensor b, Tensor out);

    /**
     * The tensors that represent it in an anchor file, by suffix (e.g. "c" -> module + ".c"):
     * some are the anchor's own storage (closing them twice is harmless), some are made for the
     * file (a low-rank anchor's lambda). For writing the anchor out as its last use: the caller
     * closes every one of them, then the anchor.
     */
    Map<String, Tensor> fileTensors();

    /** Bytes of anchor data the regularizer reads per call. */
    long bytes();

    @Override
    void close();
}
