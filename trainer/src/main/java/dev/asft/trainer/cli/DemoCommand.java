package dev.asft.trainer.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.AtomicFiles;
import dev.asft.trainer.demo.DemoStudy;
import dev.asft.trainer.demo.Plots;
import dev.asft.trainer.demo.ResultsTable;
import dev.asft.trainer.demo.StudyPlan;
import dev.asft.trainer.demo.WorldBuilder;
import dev.asft.trainer.demo.WorldSpec;
import dev.asft.trainer.demo.Worlds;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code asft demo}: the embedded AsFT study. Builds (or reuses from the cache) the demo world,
 * fine-tunes its aligned model with SFT, Safe LoRA and AsFT, and prints the table.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, subcommands = {BuildWorldCommand.class},
        description = "The embedded experiment: a base model, its safety-aligned version, harmful fine-tuning that erodes safety, "
                + "and SFT vs Safe LoRA vs AsFT side by side (the shape of the AsFT paper's Table 2). The world is built on first use "
                + "and cached under ~/.cache/asft/.")
final class DemoCommand implements Callable<Integer> {
    static final String MARKER = ".asft-demo";

    @Option(names = "--out", defaultValue = "asft-demo", description = "Output folder; a previous demo output there is replaced "
            + "once the new one is complete (default: ${DEFAULT-VALUE}).")
    Path out;

    static final class Size {
        @Option(names = "--quick", description = "p = 0.1, one seed, no lambda sweep (about 25 s here once the world is built).")
        boolean quick;

        @Option(names = "--smoke", description = "A seconds-long run on a tiny world: checks the pipeline, measures nothing.")
        boolean smoke;
    }

    @ArgGroup(exclusive = true)
    Size size = new Size();

    @Option(names = "--world", description = "Use (or build) the world in this folder instead of the cache.")
    Path world;

    @Option(names = "--size", defaultValue = "standard",
            description = "World size: standard, or large (hidden 256, 4 layers, a longer alignment; builds for longer) (default: ${DEFAULT-VALUE}).")
    String worldSize;

    @Option(names = "--runs", description = "Fine-tuning seeds per point (default: 3 for the full study, 1 for --quick and --smoke).")
    Integer runs;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the world and the study (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() throws Exception {
        StudyPlan plan = size.smoke ? StudyPlan.SMOKE : size.quick ? StudyPlan.QUICK : StudyPlan.FULL;
        if (!size.smoke) plan = plan.withWorld(WorldSpec.named(OptionChecks.oneOf("--size", worldSize, "standard", "large")));
        if (runs != null) plan = plan.withRuns(runs);
        if (!Files.exists(out.resolve(MARKER))) Outputs.folder("--out", out); // its own previous output is replaced when the new one is complete
        Backend backend = Backends.select(device, true);
        long start = System.nanoTime();
        WorldSpec spec = plan.world();
        Path worldDir = world != null ? world : Worlds.cached(spec, seed);
        Worlds.obtain(spec, seed, backend, worldDir, world != null, System.err);
        // the headline's further worlds: beside an explicit --world, else in the cache
        java.util.function.LongFunction<Path> extraWorld = ws -> world != null
                ? world.resolveSibling(world.getFileName() + "-seed" + ws) : Worlds.cached(spec, ws);
        Path tmp = AtomicFiles.tempDirFor(out);
        ObjectNode results;
        try {
            results = new DemoStudy(plan, seed, backend, extraWorld, System.err).run(WorldBuilder.World.at(worldDir), tmp);
            results.put("world", worldDir.toString());
            try {
                Plots.write(results, tmp.resolve("plots"));
            } catch (Exception | LinkageError e) { // a headless JVM without fonts cannot draw: the numbers still stand
                System.err.println("demo: could not draw the plots (" + e + "); results.json and the table are complete");
            }
            Files.writeString(tmp.resolve(MARKER), "asft demo output\n");
            if (Files.exists(out)) {
                Path old = AtomicFiles.tempDirFor(out);
                Files.delete(old);
                Files.move(out, old);
                Files.move(tmp, out);
                AtomicFiles.deleteTree(old);
            } else {
                Files.move(tmp, out);
            }
        } catch (Exception | Error e) {
            AtomicFiles.deleteTree(tmp);
            throw e;
        }
        System.out.println();
        System.out.print(ResultsTable.render(results));
        System.out.printf("wrote %s (results.json, plots/, adapters/, answers/) in %.0f s%n", out, (System.nanoTime() - start) / 1e9);
        return 0;
    }
}
