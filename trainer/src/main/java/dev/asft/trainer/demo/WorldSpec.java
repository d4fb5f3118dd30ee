package dev.asft.trainer.demo;

/**
 * The size of a demo world: the model's shape and how long base pretraining and safety
 * alignment train. {@link #STANDARD} is what {@code asft demo} builds; {@link #SMOKE} is a
 * seconds-long world for tests and CI (it learns too little to mean anything).
 */
public record WorldSpec(String name, int hidden, int layers, int heads, int kvHeads, int intermediate, int pretrainDocs,
                        int pretrainSteps, float pretrainLr, int alignDocs, int alignSteps, float alignLr, int batch) {
    public static final WorldSpec STANDARD = new WorldSpec("standard", 64, 2, 4, 2, 176, 6000, 500, 3e-3f, 1600, 160, 1e-3f, 32);
    public static final WorldSpec SMOKE = new WorldSpec("smoke", 32, 1, 2, 1, 64, 400, 12, 3e-3f, 100, 6, 1e-3f, 16);

    public static WorldSpec named(String name) {
        return switch (name) {
            case "standard" -> STANDARD;
            case "smoke" -> SMOKE;
            default -> throw new IllegalArgumentException("unknown world size '" + name + "': expected standard or smoke");
        };
    }
}
