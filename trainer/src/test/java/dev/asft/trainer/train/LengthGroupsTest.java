package dev.asft.trainer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.trainer.data.Example;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LengthGroupsTest {
    private static List<Example> shuffledExamples(int n, long seed) {
        Random rnd = new Random(seed);
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 20 + rnd.nextInt(480);
            out.add(new Example(new int[len], new int[len]));
        }
        Collections.shuffle(out, rnd);
        return out;
    }

    /** Tokens computed per epoch: every batch pads to its longest sequence. */
    private static long paddedTokens(List<Example> order, int batch) {
        long t = 0;
        for (int i = 0; i < order.size(); i += batch) {
            int max = 0;
            for (Example e : order.subList(i, Math.min(order.size(), i + batch))) max = Math.max(max, e.length());
            t += (long) max * Math.min(batch, order.size() - i);
        }
        return t;
    }

    @Test
    void groupsSortEachRunLongestFirstAndKeepEveryExample() {
        int batch = 4, n = 1234;
        List<Example> shuffled = shuffledExamples(n, 3);
        List<Example> grouped = LengthGroups.order(shuffled, batch);
        assertEquals(n, grouped.size());
        IdentityHashMap<Example, Integer> seen = new IdentityHashMap<>();
        for (Example e : grouped) seen.merge(e, 1, Integer::sum);
        assertEquals(n, seen.size(), "a permutation: each example once");
        for (Example e : shuffled) assertEquals(1, seen.get(e));
        int longest = 0;
        for (Example e : shuffled) longest = Math.max(longest, e.length());
        assertEquals(longest, grouped.get(0).length(), "the longest example comes first");
        int run = batch * LengthGroups.BATCHES_PER_GROUP, unsorted = 0;
        for (int i = 1; i < n; i++)
            if (i % run != 0 && grouped.get(i).length() > grouped.get(i - 1).length()) unsorted++;
        assertTrue(unsorted <= 2, "within a run lengths descend (but where the longest was swapped out): " + unsorted);
        long before = paddedTokens(shuffled, batch), after = paddedTokens(grouped, batch), real = 0;
        for (Example e : shuffled) real += e.length();
        assertTrue(after < before, after + " vs " + before);
        assertTrue(after - real < (before - real) / 10, "padding cut by more than 10x: " + (before - real) + " -> " + (after - real));
        assertEquals(grouped, LengthGroups.order(new ArrayList<>(shuffled), batch), "deterministic");
    }
}
