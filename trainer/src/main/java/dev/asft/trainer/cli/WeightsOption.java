package dev.asft.trainer.cli;

import dev.asft.trainer.model.LlamaModel;
import picocli.CommandLine.Option;

/** {@code --weights copy|map|auto}, shared by the commands that load a model. */
final class WeightsOption {
    @Option(names = "--weights", defaultValue = "auto",
            description = "Frozen weights: copy (f32 copy at load, fastest), map (memory-mapped in the checkpoint's dtype, widened per "
                    + "GEMM: no copy of the model; on cuda, uploaded as stored) or auto (map on cuda, or when the f32 copy would exceed half the RAM) "
                    + "(default: ${DEFAULT-VALUE}).")
    String weights;

    LlamaModel.Weights mode() {
        return LlamaModel.Weights.parse(weights);
    }
}
