package dev.asft.trainer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ScheduleTest {
    @Test
    void shapes() {
        Schedule step = Schedule.parse("step:0.85", 0);
        assertEquals(1.0, step.lr(1, 1, 0, 100), 1e-12);
        assertEquals(0.85 * 0.85, step.lr(1, 50, 2, 100), 1e-12);
        Schedule cos = Schedule.parse("cosine", 10);
        assertEquals(0.5, cos.lr(1, 5, 0, 110), 1e-12, "half-way through warm-up");
        assertEquals(1.0, cos.lr(1, 10, 0, 110), 1e-12, "end of warm-up");
        assertEquals(0.5, cos.lr(1, 60, 0, 110), 1e-12, "half-way through the decay");
        assertEquals(0.0, cos.lr(1, 110, 0, 110), 1e-12);
        Schedule lin = Schedule.parse("linear", 0);
        assertEquals(0.75, lin.lr(2, 25, 0, 100) / 2, 1e-12);
        assertEquals(3e-4, Schedule.parse("constant", 0).lr(3e-4, 77, 5, 100), 0);
    }

    @Test
    void badSchedulesAreClearErrors() {
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("step:x", 0));
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("step:1.5", 0));
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("exp", 0));
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("cosine", -1));
    }
}
