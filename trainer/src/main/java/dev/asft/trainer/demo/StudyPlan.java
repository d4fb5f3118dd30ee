package dev.asft.trainer.demo;

import java.util.List;

/**
 * What a demo run trains and evaluates. The fine-tuning hyperparameters follow the released
 * AsFT recipe (LoRA r = 8 on q_proj and v_proj, alpha 32, dropout 0.05, AdamW, batch 8, StepLR
 * 0.85 per epoch, the penalty without LoRA scaling) except the learning rate and epoch count,
 * which are sized for a model this small to learn the task in seconds. Every fine-tuning runs
 * {@code runs} times with seeds seed, seed + 1, ...; the frontier (when planned) runs at
 * {@code frontierP} over {@code penalties} x {@code lambdas} and Safe LoRA's knobs, and the
 * headline is repeated on {@code extraWorlds} further worlds (world seeds seed + 1, seed + 2, ...).
 */
public record StudyPlan(String name, WorldSpec world, int n, List<Double> ps, boolean frontier, double frontierP,
                        List<String> penalties, List<Double> lambdas, int extraWorlds, int epochs, float lr, int harmfulPrompts,
                        int taskPrompts, int maxNewTokens, int runs) {
    public static final StudyPlan FULL = new StudyPlan("full", WorldSpec.STANDARD, 1000, List.of(0.0, 0.05, 0.1, 0.2), true, 0.1,
            List.of(StudyAnchors.PENALTIES), FrontierStudy.LAMBDAS, 2, 3, 1e-3f, 144, 200, 24, 3);
    public static final StudyPlan QUICK = new StudyPlan("quick", WorldSpec.STANDARD, 1000, List.of(0.1), false, 0.1, List.of(),
            List.of(), 0, 3, 1e-3f, 144, 200, 24, 1);
    /** Every stage on a tiny world, one point per method: checks the pipeline, measures nothing. */
    public static final StudyPlan SMOKE = new StudyPlan("smoke", WorldSpec.SMOKE, 24, List.of(0.0, 0.1), true, 0.1,
            List.of("asft", "l2", "random"), List.of(1.0), 1, 1, 1e-3f, 8, 8, 6, 1);

    /** The lambda of the table's AsFT rows (the paper's). */
    public static final double LAMBDA = 1.0;
    /** The cosine threshold of the table's Safe LoRA rows. */
    public static final double TAU = 0.5;

    /** The same plan on a world of another size. */
    public StudyPlan withWorld(WorldSpec spec) {
        return new StudyPlan(name, spec, n, ps, frontier, frontierP, penalties, lambdas, extraWorlds, epochs, lr, harmfulPrompts,
                taskPrompts, maxNewTokens, runs);
    }

    /** The same plan with another number of fine-tuning seeds per point. */
    public StudyPlan withRuns(int n) {
        if (n <= 0) throw new IllegalArgumentException("--runs must be positive, got " + n);
        return new StudyPlan(name, world, this.n, ps, frontier, frontierP, penalties, lambdas, extraWorlds, epochs, lr, harmfulPrompts,
                taskPrompts, maxNewTokens, n);
    }

    /** The world seeds of the headline's further worlds. */
    public List<Long> extraWorldSeeds(long seed) {
        return java.util.stream.LongStream.rangeClosed(1, extraWorlds).map(i -> seed + i).boxed().toList();
    }
}
