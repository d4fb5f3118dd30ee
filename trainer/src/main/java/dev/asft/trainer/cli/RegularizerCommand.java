package dev.asft.trainer.cli;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorBuilder;
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
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft regularizer}: ||(I - C) B A||_F^2 per module of an adapter, and their sum. */
@Command(name = "regularizer", mixinStandardHelpOptions = true,
        description = "Print the AsFT penalty ||(I - C)·B·A||_F^2 of each adapter module (no LoRA scaling, as the "
                + "released code) and their sum; C is the code-mode anchor of the (aligned, base) pair.")
final class RegularizerCommand implements Callable<Integer> {
    @Option(names = "--base", required = true, description = "The unaligned base model (Hugging Face folder).")
    Path base;

    @Option(names = "--aligned", required = true, description = "The aligned model (Hugging Face folder).")
    Path aligned;

    @Option(names = "--adapter", required = true, description = "A PEFT LoRA adapter folder.")
    Path adapter;

    @Option(names = "--targets", description = "Comma-separated module suffixes (default: the adapter's target_modules).")
    String targets;

    @Option(names = "--dtype", defaultValue = "f32", description = "Anchor storage: f32 or bf16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--json", description = "Print a JSON summary as the last line of stdout.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        DType storage = DType.parse(dtype);
        Backend backend = Backends.select(device, true);
        try (HfCheckpoint b = HfCheckpoint.open(base); HfCheckpoint a = HfCheckpoint.open(aligned);
             PeftAdapter ad = PeftAdapter.read(adapter)) {
            TargetModules t = targets != null ? TargetModules.parse(targets) : ad.targetModules();
            // Every adapter module must exist in the model and be a target.
            for (String m : ad.modules().keySet()) {
                if (!a.has(m + ".weight"))
                    throw new IllegalArgumentException("adapter module " + m + " is not in the model: " + aligned
                            + " has no tensor " + m + ".weight");
                if (!t.matches(m))
                    throw new IllegalArgumentException("adapter module " + m + " is not among the target modules " + t);
            }
            AnchorBuilder builder = new AnchorBuilder(backend).storage(storage).form(AnchorForm.Q).targets(t);
            Map<String, Double> values = new LinkedHashMap<>();
            double total = 0;
            try (Anchor anchor = new Anchor()) {
                AsftRegularizer reg = new AsftRegularizer(anchor, backend);
                int i = 0;
                for (Map.Entry<String, PeftAdapter.Lora> e : ad.modules().entrySet()) {
                    // One module at a time: peak memory is one anchor, not the model's.
                    System.err.printf("[%d/%d] %s%n", ++i, ad.modules().size(), e.getKey());
                    anchor.put(builder.buildModule(b, a, e.getKey()));
                    double v = reg.accumulate(e.getKey(), e.getValue().a(), e.getValue().b(), null, null, 0f);
                    anchor.get(e.getKey()).close();
                    values.put(e.getKey(), v);
                    total += v;
                }
            }
            int width = values.keySet().stream().mapToInt(String::length).max().orElse(6);
            for (Map.Entry<String, Double> e : values.entrySet())
                System.out.printf("%-" + width + "s  %.6e%n", e.getKey(), e.getValue());
            System.out.printf("%-" + width + "s  %.6e%n", "total", total);
            if (json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("modules", values);
                out.put("total", total);
                System.out.println(Json.line(out));
            }
        }
        return 0;
    }
}
