package dev.asft.trainer.cli;

import dev.asft.core.backend.Backends;
import dev.asft.trainer.demo.WorldBuilder;
import dev.asft.trainer.demo.WorldSpec;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft demo build-world}: the demo's base and aligned models, built from a seed. */
@Command(name = "build-world", mixinStandardHelpOptions = true,
        description = "Build the demo world into a new folder: tokenizer, corpora, a base model pretrained to comply with "
                + "harmful requests and its safety-aligned version (Hugging Face folders), world.json with checksums.")
final class BuildWorldCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "Folder for the world (new, or an empty folder).")
    Path out;

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--size", defaultValue = "standard", description = "standard, large (hidden 256, 4 layers; minutes) or smoke (seconds; for tests) (default: ${DEFAULT-VALUE}).")
    String size;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() throws Exception {
        Outputs.folder("--out", out);
        WorldBuilder.World w = new WorldBuilder(WorldSpec.named(size), seed, Backends.select(device, true)).build(out);
        System.out.println("wrote the world to " + w.dir() + " (base: " + w.base() + ", aligned: " + w.aligned() + ")");
        return 0;
    }
}
