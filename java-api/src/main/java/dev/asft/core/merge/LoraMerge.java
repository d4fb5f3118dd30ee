package dev.asft.core.merge;

import dev.asft.core.backend.Backend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Merges a LoRA adapter into its model: W <- W + s B A (s = alpha / r per module, or alpha / sqrt(r) with
 * rsLoRA), written as a Hugging Face checkpoint in the input's dtype and sharding, with the
 * other files of the model folder (config, tokenizer, index) copied. One tensor at a time;
 * the output folder appears under its name only when complete.
 */
public final class LoraMerge {
    private LoraMerge() {}

    public static void merge(Backend be, HfCheckpoint model, PeftAdapter adapter, Path out, Consumer<String> progress)
            throws IOException {
        if (!dev.asft.core.io.AtomicFiles.isNewOrEmptyFolder(out)) throw new IllegalArgumentException(out + " already exists and is not an empty folder; choose a new or empty output folder");
        for (Map.Entry<String, PeftAdapter.Lora> e : adapter.modules().entrySet()) {
            String w = e.getKey() + ".weight";
            if (!model.has(w))
                throw new IllegalArgumentException("adapter module " + e.getKey() + " is not in the model: " + model.dir() + " has no tensor " + w);
            long[] shape = model.entry(w).shape();
            Tensor a = e.getValue().a(), b = e.getValue().b();
            if (shape.length != 2 || shape[0] != b.dim(0) || shape[1] != a.dim(1))
                throw new IllegalArgumentException("adapter module " + e.getKey() + ": lora_B " + b.describe() + " x lora_A "
                        + a.describe() + " does not fit weight " + Arrays.toString(shape));
        }
        dev.asft.core.io.CheckpointRewriter.rewrite(model, out, (name, t) -> {
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - 7) : null;
            PeftAdapter.Lora l = module == null ? null : adapter.modules().get(module);
            if (l == null) return null;
            if (progress != null) progress.accept(module);
            if (!t.dtype().isKernelStorage() && t.dtype() != DType.F64)
                throw new IllegalArgumentException(name + " has dtype " + t.dtype() + "; cannot merge LoRA into it");
            try (Tensor w32 = t.to(DType.F32)) {
                be.gemm(false, false, (float) adapter.scaling(module), l.b(), l.a(), 1f, w32);
                return w32.to(t.dtype());
            }
        });
    }
}
