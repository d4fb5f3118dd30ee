package dev.asft.trainer.demo;

import java.util.List;

/**
 * What a demo run trains and evaluates. The fine-tuning hyperparameters follow the released
 * AsFT recipe (LoRA r = 8 on q_proj and v_proj, alpha 32, dropout 0.05, AdamW, batch 8, StepLR
 * 0.85 per epoch, the penalty without LoRA scaling) except the learning rate and epoch count,
 * which are sized for a model this small to learn the task in seconds. The full study repeats
 * every fine-tuning {@code runs} times with different seeds and reports the mean and spread.
 */
public record StudyPlan(String name, WorldSpec world, int n, List<Double> ps, List<Double> lambdaSweep, double sweepP,
                        int epochs, float lr, int harmfulPrompts, int taskPrompts, int maxNewTokens, int runs) {
    public static final StudyPlan FULL = new StudyPlan("full", WorldSpec.STANDARD, 1000, List.of(0.0, 0.05, 0.1, 0.2),
            List.of(0.01, 0.1, 1.0, 10.0, 100.0), 0.1, 3, 1e-3f, 144, 200, 24, 3);
    public static final StudyPlan QUICK = new StudyPlan("quick", WorldSpec.STANDARD, 1000, List.of(0.1), List.of(), 0.1, 3, 1e-3f,
            144, 200, 24, 1);
    public static final StudyPlan SMOKE = new StudyPlan("smoke", WorldSpec.SMOKE, 24, List.of(0.1), List.of(1.0), 0.1, 1, 1e-3f,
            8, 8, 6, 1);

    /** The lambda of the main AsFT rows (the paper's). */
    public static final double LAMBDA = 1.0;
}
