package dev.asft.trainer.demo;

import dev.asft.core.backend.Backend;
import dev.asft.core.io.AtomicFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where demo worlds live (a cache under ~/.cache/asft/worlds, keyed by size, seed and format) and how one is obtained. */
public final class Worlds {
    private Worlds() {}

    /** The cache folder of a world. */
    public static Path cached(WorldSpec spec, long seed) {
        return Path.of(System.getProperty("user.home"), ".cache", "asft", "worlds", spec.name() + "-seed" + seed + "-f" + WorldBuilder.FORMAT);
    }

    /**
     * The world of this size and seed in dir, built there first unless a complete one is there;
     * explicit: dir was given by the user (a stale world there is an error, not replaced).
     */
    public static WorldBuilder.World obtain(WorldSpec spec, long seed, Backend backend, Path dir, boolean explicit, PrintStream log)
            throws IOException {
        WorldBuilder builder = new WorldBuilder(spec, seed, backend);
        if (builder.isBuilt(dir)) {
            log.println("demo: using the world in " + dir);
            return WorldBuilder.World.at(dir);
        }
        if (Files.exists(dir)) {
            if (explicit) throw new IllegalArgumentException(dir + " exists but is not a complete world of this size and seed");
            log.println("demo: the cached world in " + dir + " is stale or incomplete; rebuilding it");
            AtomicFiles.deleteTree(dir);
        }
        log.println("demo: building the world (" + spec.name() + ", seed " + seed + ") into " + dir);
        return builder.build(dir);
    }
}
