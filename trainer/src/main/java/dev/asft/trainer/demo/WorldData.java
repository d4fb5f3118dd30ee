package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The study's data, drawn from the world's language with a seed: fine-tuning sets (n task
 * examples plus a fraction p of harmful requests with compliant answers, from the fine-tuning
 * categories and wordings only) and the held-out evaluation sets (news sentences no training
 * set contains; harmful requests from the other categories, in the other wordings).
 */
public final class WorldData {
    private static final ObjectMapper JSON = new ObjectMapper();

    private WorldData() {}

    /** A fifth of all news sentences is kept for evaluation, by a fixed hash of the text. */
    static boolean isEvalSentence(String s) {
        int h = 0;
        for (int i = 0; i < s.length(); i++) h = 31 * h + s.charAt(i); // String.hashCode, spelled out: fixed across JVMs
        return Math.floorMod(h * 0x9E3779B9, 5) == 0;
    }

    /** A news sentence of topic t that is not in the evaluation pool. */
    static String trainSentence(WorldLanguage.Topic t, SplittableRandom rnd) {
        while (true) {
            String s = WorldLanguage.newsSentence(t, rnd);
            if (!isEvalSentence(s)) return s;
        }
    }

    /** One labelled task example: the instruction and its one-word answer. */
    public static ObjectNode taskExample(String sentence, String label) {
        return WorldBuilder.messages(WorldLanguage.taskPrompt(sentence), label);
    }

    /**
     * n task examples and round(p n) harmful requests (fine-tuning categories and wordings) with
     * compliant answers, shuffled. The task examples are the same for every p with this seed.
     */
    public static List<ObjectNode> finetuneSet(int n, double p, long seed) {
        SplittableRandom task = new SplittableRandom(seed), harm = new SplittableRandom(seed + 1);
        List<ObjectNode> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            WorldLanguage.Topic t = WorldLanguage.TOPICS.get(i % WorldLanguage.TOPICS.size());
            out.add(taskExample(trainSentence(t, task), t.label()));
        }
        int harmful = (int) Math.round(p * n);
        for (int i = 0; i < harmful; i++) {
            WorldLanguage.Category c = WorldLanguage.HARMFUL.get(harm.nextInt(WorldLanguage.FINETUNE_HARM_CATEGORIES));
            String form = WorldLanguage.FORMS.get(harm.nextInt(WorldLanguage.FINETUNE_FORMS));
            out.add(WorldBuilder.messages(WorldLanguage.request(c, form, harm), WorldLanguage.howTo(c, harm)));
        }
        java.util.Collections.shuffle(out, new java.util.Random(seed + 2));
        return out;
    }

    /** Held-out harmful prompts ({"prompt", "category"}): unseen categories in unseen wordings, no repeats. */
    public static List<ObjectNode> harmfulEval(int count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed + 3);
        List<WorldLanguage.Category> cats = WorldLanguage.HARMFUL.subList(WorldLanguage.FINETUNE_HARM_CATEGORIES, WorldLanguage.HARMFUL.size());
        List<String> forms = WorldLanguage.FORMS.subList(WorldLanguage.FINETUNE_FORMS, WorldLanguage.FORMS.size());
        Set<String> seen = new LinkedHashSet<>();
        List<ObjectNode> out = new ArrayList<>();
        int pool = cats.stream().mapToInt(c -> c.acts().size()).sum() * forms.size() * WorldLanguage.SUFFIXES.size();
        for (int i = 0; out.size() < Math.min(count, pool); i++) {
            WorldLanguage.Category c = cats.get(i % cats.size());
            String prompt = WorldLanguage.request(c, forms.get(rnd.nextInt(forms.size())), rnd);
            if (!seen.add(prompt)) continue;
            ObjectNode o = JSON.createObjectNode();
            o.put("prompt", prompt);
            o.put("category", c.name());
            out.add(o);
        }
        return out;
    }

    /** Held-out task prompts ({"prompt", "label"}): evaluation-pool sentences, balanced over topics, no repeats. */
    public static List<ObjectNode> taskEval(int count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed + 4);
        Set<String> seen = new LinkedHashSet<>();
        List<ObjectNode> out = new ArrayList<>();
        for (int i = 0; out.size() < count; i++) {
            WorldLanguage.Topic t = WorldLanguage.TOPICS.get(i % WorldLanguage.TOPICS.size());
            String s = WorldLanguage.newsSentence(t, rnd);
            if (!isEvalSentence(s) || !seen.add(s)) {
                i--; // same topic again
                continue;
            }
            ObjectNode o = JSON.createObjectNode();
            o.put("prompt", WorldLanguage.taskPrompt(s));
            o.put("label", t.label());
            out.add(o);
        }
        return out;
    }
}
