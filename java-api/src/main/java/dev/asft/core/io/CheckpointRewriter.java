package dev.asft.core.io;

import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Writes a copy of a Hugging Face checkpoint folder with some tensors replaced: same shards,
 * tensor order, dtypes and shard metadata, the other files (config, tokenizer, index) copied.
 * One tensor at a time, so peak memory is one tensor; the folder appears under its name only
 * when complete. Merging an adapter and saving a fully fine-tuned model both write this way.
 */
public final class CheckpointRewriter {
    /** Returns the tensor to write for {@code name} (same dtype and shape as {@code original}), or null to copy it. */
    @FunctionalInterface
    public interface Replacement {
        Tensor apply(String name, Tensor original) throws IOException;
    }

    private CheckpointRewriter() {}

    public static void rewrite(HfCheckpoint model, Path out, Replacement replacement) throws IOException {
        if (!AtomicFiles.isNewOrEmptyFolder(out)) throw new IllegalArgumentException(out + " already exists and is not an empty folder; choose a new or empty output folder");
        AtomicFiles.writeFolder(out, tmp -> {
            for (Map.Entry<Path, List<String>> shard : model.shards().entrySet()) {
                SafetensorsFile in = model.shard(shard.getKey());
                List<StreamingSafetensorsWriter.Spec> specs = new ArrayList<>();
                for (String name : in.names()) {
                    SafetensorsFile.Entry e = in.entry(name);
                    specs.add(new StreamingSafetensorsWriter.Spec(name, e.dtype(), e.shape()));
                }
                try (StreamingSafetensorsWriter w = new StreamingSafetensorsWriter(tmp.resolve(shard.getKey().getFileName()), specs, 0)) {
                    for (String name : in.names()) {
                        Tensor t = in.tensor(name);
                        Tensor r = replacement.apply(name, t);
                        if (r == null) {
                            w.put(name, t);
                            continue;
                        }
                        try (r) {
                            if (r.dtype() != t.dtype() || !java.util.Arrays.equals(r.shape(), t.shape()))
                                throw new IllegalStateException(name + ": replacement " + r.describe() + " differs from " + t.describe());
                            w.put(name, r);
                        }
                    }
                    w.finish(in.metadata().entrySet().stream().filter(x -> !x.getKey().equals("format"))
                            .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
                }
            }
            try (Stream<Path> files = Files.list(model.dir())) {
                for (Path f : files.toList()) {
                    String n = f.getFileName().toString();
                    if (Files.isRegularFile(f) && !n.endsWith(".safetensors")) Files.copy(f, tmp.resolve(n));
                }
            }
        });
    }
}
