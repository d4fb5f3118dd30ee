package dev.asft.trainer.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.anchor.AnchorBuilder;
import dev.asft.core.anchor.AnchorFile;
import dev.asft.core.anchor.AnchorMode;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.TargetModules;
import dev.asft.core.tensor.DType;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft anchor}: compute an anchor file once per (aligned, base) pair. */
@Command(name = "anchor", mixinStandardHelpOptions = true,
        description = "Compute the anchor of every target module from an aligned model and its base, and write it "
                + "as a safetensors anchor file (one module at a time; checkpoints may exceed RAM).")
final class AnchorCommand implements Callable<Integer> {
    @Option(names = "--base", required = true, description = "The unaligned base model (Hugging Face folder).")
    Path base;

    @Option(names = "--aligned", required = true, description = "The aligned model (Hugging Face folder).")
    Path aligned;

    static final class Targets {
        @Option(names = "--targets", description = "Comma-separated module suffixes, e.g. q_proj,v_proj.")
        String list;

        @Option(names = "--adapter", description = "Take the target modules from this PEFT adapter's config.")
        Path adapter;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Targets targets;

    @Option(names = "--mode", defaultValue = "code",
            description = "code (default), code-unit (code divided by its top eigenvalue: scale-free, beyond the paper), subspace:k, direction or compressed:k (k is clamped to each module's rank).")
    String mode;

    @Option(names = "--dtype", defaultValue = "f32", description = "Storage: f32 or bf16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--out", required = true, description = "The anchor file to write (.safetensors).")
    Path out;

    @Option(names = "--json", description = "Print a JSON summary as the last line of stdout.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        AnchorMode m = AnchorMode.parse(mode);
        DType storage = DType.parse(dtype);
        if (storage != DType.F32 && storage != DType.BF16) throw new IllegalArgumentException("--dtype must be f32 or bf16, got " + dtype);
        Outputs.file("--out", out);
        TargetModules t;
        if (targets.adapter != null) {
            try (PeftAdapter ad = PeftAdapter.read(targets.adapter)) {
                t = ad.targetModules();
            }
        } else {
            t = TargetModules.parse(targets.list);
        }
        Backend backend = Backends.select(device, true);
        long start = System.nanoTime();
        try (HfCheckpoint b = HfCheckpoint.open(base); HfCheckpoint a = HfCheckpoint.open(aligned)) {
            AnchorBuilder builder = new AnchorBuilder(backend).mode(m).storage(storage).targets(t);
            int n = AnchorBuilder.targetModules(a, t).size();
            Progress progress = new Progress("anchor", n);
            ObjectNode modules = AnchorFile.build(builder, b, a, out, progress::next);
            double seconds = (System.nanoTime() - start) / 1e9;
            long bytes = 0;
            for (var it = modules.elements(); it.hasNext(); ) bytes += it.next().get("anchor_bytes").asLong();
            System.out.printf("wrote %s: %d modules, mode %s, %s, %.1f MB of anchors in %.1f s%n", out, modules.size(), m,
                    storage.name().toLowerCase(), bytes / 1e6, seconds);
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("file", out.toString());
                o.put("mode", m.toString());
                o.put("dtype", storage.name().toLowerCase());
                o.put("seconds", seconds);
                o.put("modules", modules);
                System.out.println(Json.line(o));
            }
        }
        return 0;
    }
}
