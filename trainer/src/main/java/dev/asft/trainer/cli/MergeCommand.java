package dev.asft.trainer.cli;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.merge.LoraMerge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft merge}: fold an adapter into its model. */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Merge a PEFT LoRA adapter into its model: W <- W + s·B·A (s = alpha/r, or alpha/sqrt(r) with "
                + "rsLoRA), written as a Hugging Face checkpoint in the input's dtype and sharding, other files copied.")
final class MergeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "The model the adapter was trained on (Hugging Face folder).")
    Path model;

    @Option(names = "--adapter", required = true, description = "A PEFT LoRA adapter folder.")
    Path adapter;

    @Option(names = "--out", required = true, description = "The output model folder (new, or an empty folder).")
    Path out;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() throws Exception {
        Outputs.folder("--out", out);
        Backend backend = Backends.select(device, true);
        try (HfCheckpoint m = HfCheckpoint.open(model); PeftAdapter ad = PeftAdapter.read(adapter)) {
            Progress progress = new Progress("merge", ad.modules().size());
            LoraMerge.merge(backend, m, ad, out, progress::next);
            String scaling = ad.uniformScaling() ? String.format("scaling %.4g", ad.scaling(ad.modules().keySet().iterator().next()))
                    : "per-module scaling from rank_pattern / alpha_pattern";
            System.out.printf("merged %d modules (%s) into %s%n", ad.modules().size(), scaling, out);
        }
        return 0;
    }
}
