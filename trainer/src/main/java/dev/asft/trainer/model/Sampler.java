package dev.asft.trainer.model;

import java.util.Arrays;
import java.util.Random;

/** Picks the next token: greedy at temperature 0, else softmax(logits / t) within top-p. */
public final class Sampler {
    private final double temperature, topP;
    private final Random rnd;

    public Sampler(double temperature, double topP, long seed) {
        if (temperature < 0) throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
        if (topP <= 0 || topP > 1) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
        this.temperature = temperature;
        this.topP = topP;
        this.rnd = new Random(seed);
    }

    public int next(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        if (temperature == 0) return best;
        double[] p = new double[logits.length];
        double z = 0;
        for (int i = 0; i < p.length; i++) z += (p[i] = Math.exp((logits[i] - logits[best]) / temperature));
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        double mass = 0;
        int keep = 0;
        while (keep < order.length && mass < topP * z) mass += p[order[keep++]];
        double u = rnd.nextDouble() * mass;
        for (int i = 0; i < keep; i++) {
            u -= p[order[i]];
            if (u <= 0) return order[i];
        }
        return order[keep - 1];
    }
}
