package dev.asft.trainer.train;

import dev.asft.trainer.data.Example;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Batches of similar lengths (Hugging Face's {@code group_by_length}): the shuffled examples are
 * cut into runs of {@link #BATCHES_PER_GROUP} batches and each run is sorted by length, longest
 * first, so a batch pads its sequences to a length close to theirs. Batches pad to their
 * longest sequence: with lengths spread from 50 to 500 tokens a shuffled batch of 8 is mostly
 * padding, which costs as much to compute as real tokens. The order stays random between runs
 * and deterministic for a seed (the sort is stable over the shuffled order); the longest example
 * of all goes to the first batch, so running out of memory shows at the first step, not hours in.
 */
public final class LengthGroups {
    /** Batches per sorted run (Hugging Face's default mega-batch multiplier). */
    public static final int BATCHES_PER_GROUP = 50;

    private LengthGroups() {}

    /** The shuffled examples reordered as above for batches of batchSize. */
    public static List<Example> order(List<Example> shuffled, int batchSize) {
        int group = Math.max(1, batchSize) * BATCHES_PER_GROUP;
        List<Example> out = new ArrayList<>(shuffled.size());
        for (int g = 0; g < shuffled.size(); g += group) {
            List<Example> run = new ArrayList<>(shuffled.subList(g, Math.min(shuffled.size(), g + group)));
            run.sort(Comparator.comparingInt(Example::length).reversed()); // stable: ties keep the shuffled order
            out.addAll(run);
        }
        int longest = 0;
        for (int i = 1; i < out.size(); i++) if (out.get(i).length() > out.get(longest).length()) longest = i;
        if (longest != 0) out.set(longest, out.set(0, out.get(longest)));
        return out;
    }
}
