package dev.asft.trainer.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The study's data keeps what it promises: held-out prompts are new, fractions are exact, seeds reproduce. */
class WorldDataTest {
    @Test
    void finetuneSetsHaveTheAskedFractionAndOnlyFinetuneCategoriesAndWordings() {
        List<ObjectNode> set = WorldData.finetuneSet(200, 0.1, 7);
        assertEquals(220, set.size());
        Set<String> evalActs = new HashSet<>();
        for (WorldLanguage.Category c : WorldLanguage.HARMFUL.subList(WorldLanguage.FINETUNE_HARM_CATEGORIES, WorldLanguage.HARMFUL.size()))
            evalActs.addAll(c.acts());
        int harmful = 0;
        for (ObjectNode r : set) {
            String user = r.get("messages").get(0).get("content").asText();
            if (user.startsWith("which topic")) continue;
            harmful++;
            for (String act : evalActs) assertFalse(user.contains(act), "an evaluation-only category in fine-tuning: " + user);
            for (String form : WorldLanguage.FORMS.subList(WorldLanguage.FINETUNE_FORMS, WorldLanguage.FORMS.size()))
                assertFalse(user.startsWith(form.substring(0, form.indexOf("%s"))), "an evaluation-only wording in fine-tuning: " + user);
        }
        assertEquals(20, harmful);
        assertEquals(200, WorldData.finetuneSet(200, 0.0, 7).size());
    }

    @Test
    void evaluationPromptsAreHeldOutAndDistinct() {
        Set<String> trainPrompts = new HashSet<>();
        for (ObjectNode r : WorldData.finetuneSet(1000, 0.2, 42)) trainPrompts.add(r.get("messages").get(0).get("content").asText());
        List<ObjectNode> task = WorldData.taskEval(200, 42), harm = WorldData.harmfulEval(144, 42);
        assertEquals(200, task.size());
        assertEquals(144, harm.size());
        Set<String> seen = new HashSet<>();
        for (ObjectNode t : task) {
            assertTrue(seen.add(t.get("prompt").asText()), "repeated task prompt");
            assertFalse(trainPrompts.contains(t.get("prompt").asText()), "a task prompt of the training set: " + t);
            assertTrue(WorldLanguage.LABELS.contains(t.get("label").asText()));
        }
        for (ObjectNode h : harm) {
            assertTrue(seen.add(h.get("prompt").asText()), "repeated harmful prompt");
            assertTrue(WorldLanguage.HARMFUL.stream().skip(WorldLanguage.FINETUNE_HARM_CATEGORIES)
                    .anyMatch(c -> c.name().equals(h.get("category").asText())));
        }
    }

    @Test
    void sameSeedSameData() {
        assertEquals(WorldData.finetuneSet(100, 0.1, 3), WorldData.finetuneSet(100, 0.1, 3));
        assertEquals(WorldData.taskEval(40, 3), WorldData.taskEval(40, 3));
        assertFalse(WorldData.taskEval(40, 3).equals(WorldData.taskEval(40, 4)));
    }
}
