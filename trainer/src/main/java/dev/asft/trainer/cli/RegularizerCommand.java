package dev.asft.trainer.cli;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorBuilder;
import dev.asft.core.anchor.AnchorFile;
import dev.asft.core.anchor.ModuleAnchor;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.TargetModules;
import dev.asft.core.regularizer.AsftRegularizer;
import dev.asft.core.tensor.DType;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft regularizer}: ||(I - C) B A||_F^2 per module of an adapter, and their sum. */
@Command(name = "regularizer", mixinStandardHelpOptions = true,
        description = "Print the AsFT penalty ||(I - C)·B·A||_F^2 of each adapter module (no LoRA scaling, as the "
                + "released code) and their sum; C comes from an anchor file (any mode) or is built in code mode from "
                + "the (aligned, base) pair.")
final class RegularizerCommand implements Callable<Integer> {
    static final class Source {
        @Option(names = "--anchor", required = true, description = "An anchor file written by `asft anchor`.")
        Path anchor;

        @ArgGroup(exclusive = false)
        Pair pair;
    }

    static final class Pair {
        @Option(names = "--base", required = true, description = "The unaligned base model (Hugging Face folder).")
        Path base;

        @Option(names = "--aligned", required = true, description = "The aligned model (Hugging Face folder).")
        Path aligned;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--adapter", required = true, description = "A PEFT LoRA adapter folder.")
    Path adapter;

    @Option(names = "--targets", description = "With --base/--aligned: comma-separated module suffixes (default: the adapter's target_modules).")
    String targets;

    @Option(names = "--dtype", defaultValue = "f32", description = "With --base/--aligned: anchor storage, f32 or bf16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--json", description = "Print a JSON summary as the last line of stdout.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Backend backend = Backends.select(device, true);
        Map<String, Double> values = new LinkedHashMap<>();
        try (PeftAdapter ad = PeftAdapter.read(adapter)) {
            if (source.anchor != null) {
                // One-shot evaluation: read C as stored (two passes) rather than precompute Q.
                try (Anchor anchor = AnchorFile.read(source.anchor, backend, AnchorForm.C)) {
                    AsftRegularizer reg = new AsftRegularizer(anchor, backend);
                    for (Map.Entry<String, PeftAdapter.Lora> e : ad.modules().entrySet()) {
                        if (anchor.get(e.getKey()) == null)
                            throw new IllegalArgumentException("adapter module " + e.getKey() + " has no anchor in " + source.anchor
                                    + " (it covers " + String.join(",", anchor.info().targets()) + ")");
                        try {
                            values.put(e.getKey(), reg.accumulate(e.getKey(), e.getValue().a(), e.getValue().b(), null, null, 0f));
                        } catch (IllegalArgumentException ex) { // an anchor built for another model: its shapes differ
                            throw new IllegalArgumentException(source.anchor + ": module " + e.getKey() + " does not fit adapter "
                                    + adapter + " (an anchor for another model?): " + ex.getMessage());
                        }
                    }
                }
            } else {
                fromPair(backend, ad, values);
            }
        }
        print(values);
        return 0;
    }

    private void fromPair(Backend backend, PeftAdapter ad, Map<String, Double> values) {
        DType storage = DType.parse(dtype);
        try (HfCheckpoint b = HfCheckpoint.open(source.pair.base); HfCheckpoint a = HfCheckpoint.open(source.pair.aligned)) {
            TargetModules t = targets != null ? TargetModules.parse(targets) : ad.targetModules();
            for (String m : ad.modules().keySet()) {
                if (!a.has(m + ".weight"))
                    throw new IllegalArgumentException("adapter module " + m + " is not in the model: " + source.pair.aligned
                            + " has no tensor " + m + ".weight");
                if (!t.matches(m)) throw new IllegalArgumentException("adapter module " + m + " is not among the target modules " + t);
            }
            AnchorBuilder builder = new AnchorBuilder(backend).storage(storage).form(AnchorForm.Q).targets(t);
            Progress progress = new Progress("regularizer", ad.modules().size());
            for (Map.Entry<String, PeftAdapter.Lora> e : ad.modules().entrySet()) {
                progress.next(e.getKey());
                // One module at a time: peak memory is one anchor, not the model's.
                try (ModuleAnchor m = builder.buildModule(b, a, e.getKey())) {
                    values.put(e.getKey(), m.regularize(backend, e.getValue().a(), e.getValue().b(), null, null, 0f));
                }
            }
        }
    }

    private void print(Map<String, Double> values) {
        double total = values.values().stream().mapToDouble(Double::doubleValue).sum();
        int width = Math.max(5, values.keySet().stream().mapToInt(String::length).max().orElse(5));
        for (Map.Entry<String, Double> e : values.entrySet()) System.out.printf("%-" + width + "s  %.6e%n", e.getKey(), e.getValue());
        System.out.printf("%-" + width + "s  %.6e%n", "total", total);
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("modules", values);
            out.put("total", total);
            System.out.println(Json.line(out));
        }
    }
}
