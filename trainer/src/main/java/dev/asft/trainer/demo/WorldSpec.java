package dev.asft.trainer.demo;

/**
 * The size of a demo world: the model's shape and how long base pretraining and safety
 * alignment train. {@link #STANDARD} is what {@code asft demo} builds ({@link #LARGE} with
 * {@code --size large}); {@link #SMOKE} is a
 * seconds-long world for tests and CI (it learns too little to mean anything).
 */
public record WorldSpec(String name, int hidden, int layers, int heads, int kvHeads, int intermediate, int pretrainDocs,
                        int pretrainSteps, float pretrainLr, int alignDocs, int alignSteps, float alignLr, int batch) {
    public static final WorldSpec STANDARD = new WorldSpec("standard", 64, 2, 4, 2, 176, 6000, 500, 3e-3f, 1600, 160, 1e-3f, 32);
    public static final WorldSpec SMOKE = new WorldSpec("smoke", 32, 1, 2, 1, 64, 400, 12, 3e-3f, 100, 6, 1e-3f, 16);
    /** Larger modules (hidden 256, 4 layers) and a longer alignment: does the anchor's scale change what it contributes? */
    public static final WorldSpec LARGE = new WorldSpec("large", 256, 4, 8, 4, 704, 6000, 500, 1e-3f, 1600, 320, 5e-4f, 32);

    public static WorldSpec named(String name) {
        return switch (name) {
            case "standard" -> STANDARD;
            case "smoke" -> SMOKE;
            case "large" -> LARGE;
            default -> throw new IllegalArgumentException("unknown world size '" + name + "': expected standard, large or smoke");
        };
    }
}
