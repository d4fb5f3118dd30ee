package dev.asft.trainer.bench;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.regularizer.AsftRegularizer;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.train.FineTuner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The AsFT term of a step alone: value and gradients of every trained module's regularizer, as
 * the training loop runs them (on the step's tensors, in the backend's memory), timed over a few
 * rounds after one warm-up. What `bench train` reports as the term's share of the step.
 */
public final class AsftTermTiming {
    private AsftTermTiming() {}

    /** Median seconds of one round over every module of the tuner's adapter. */
    public static double secondsPerStep(FineTuner tuner, Anchor anchor, Backend backend, float lambda) {
        AsftRegularizer reg = new AsftRegularizer(anchor, backend);
        List<Tensor> grads = new ArrayList<>();
        try {
            Map<String, PeftAdapter.Lora> lora = tuner.adapter().modules();
            Map<String, Tensor[]> g = new java.util.LinkedHashMap<>();
            for (Map.Entry<String, PeftAdapter.Lora> e : lora.entrySet()) {
                Tensor ga = backend.ops().zeros(e.getValue().a().shape()), gb = backend.ops().zeros(e.getValue().b().shape());
                grads.add(ga);
                grads.add(gb);
                g.put(e.getKey(), new Tensor[] {ga, gb});
            }
            double[] rounds = new double[4];
            for (int r = 0; r < rounds.length; r++) {
                long t0 = System.nanoTime();
                reg.accumulateAll(lora, g, lambda); // as the step runs it; returns the value, so a device has finished
                rounds[r] = (System.nanoTime() - t0) / 1e9;
            }
            return RegularizerBench.median(java.util.Arrays.copyOfRange(rounds, 1, rounds.length));
        } finally {
            for (Tensor t : grads) t.close();
        }
    }
}
