package dev.asft.trainer.eval;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TaskScorerTest {
    private static final List<String> AGNEWS = List.of("World", "Sports", "Business", "Sci/Tech");

    @Test
    void labelScorerWantsTheGoldLabelAndNoOther() {
        TaskScorer s = new TaskScorer(TaskScorer.Kind.LABEL, AGNEWS);
        assertTrue(s.correct("Sports", "Sports"));
        assertTrue(s.correct("sports", "Sports"), "case does not matter");
        assertTrue(s.correct("The topic is SPORTS.", "Sports"));
        assertTrue(s.correct("Sci/Tech", "Sci/Tech"), "labels with punctuation match literally");
        assertFalse(s.correct("Sports or Business", "Sports"), "several labels in one answer are wrong");
        assertFalse(s.correct("World Sports Business Sci/Tech", "World"), "listing every label is wrong");
        assertFalse(s.correct("Worldwide news", "World"), "a label inside a longer word does not count");
        assertFalse(s.correct("", "World"));
        assertFalse(s.correct(null, "World"));
    }

    @Test
    void lenientScorerIsThePapersRule() {
        TaskScorer s = new TaskScorer(TaskScorer.Kind.LABEL_LENIENT, AGNEWS);
        assertTrue(s.correct("Sports or Business", "Sports"));
        assertTrue(s.correct("BUSINESS", "Business"));
        assertFalse(s.correct("World", "Business"));
    }

    @Test
    void exactAndNumberScorers() {
        TaskScorer e = new TaskScorer(TaskScorer.Kind.EXACT, List.of());
        assertTrue(e.correct("  Positive. ", "positive"));
        assertFalse(e.correct("positive review", "positive"));
        TaskScorer n = new TaskScorer(TaskScorer.Kind.NUMBER, List.of());
        assertTrue(n.correct("First 3 + 4 = 7, so the answer is 1,250", "1250"));
        assertTrue(n.correct("#### 72.0", "72"));
        assertTrue(n.correct("It is -5", "-5"));
        assertFalse(n.correct("The answer is 12, not 13", "12"), "the last number counts");
        assertFalse(n.correct("no number here", "3"));
    }

    @Test
    void badScorerNamesAndMissingLabelsAreClearErrors() {
        assertThrows(IllegalArgumentException.class, () -> TaskScorer.Kind.parse("fuzzy"));
        assertThrows(IllegalArgumentException.class, () -> new TaskScorer(TaskScorer.Kind.LABEL, List.of()));
    }
}
