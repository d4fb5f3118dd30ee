package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/** rope_scaling (linear, llama3) against transformers' formulas in torch f32 (golden/rope/make_rope_golden.py). */
class RopeScalingTest {
    @Test
    void invFreqMatchesTransformers() throws Exception {
        JsonNode cases;
        try (InputStream in = RopeScalingTest.class.getResourceAsStream("/golden/rope/rope_golden.json")) {
            cases = new ObjectMapper().readTree(in);
        }
        assertEquals(4, cases.size());
        for (JsonNode c : cases) {
            float[] got = Rope.invFreq(c.get("head_dim").asInt(), c.get("rope_theta").asDouble(), c.get("rope_scaling"));
            JsonNode want = c.get("inv_freq");
            assertEquals(want.size(), got.length);
            boolean scaledSomewhere = false;
            float[] plain = Rope.invFreq(c.get("head_dim").asInt(), c.get("rope_theta").asDouble(), null);
            for (int i = 0; i < got.length; i++) {
                double w = want.get(i).asDouble();
                assertEquals(w, got[i], Math.abs(w) * 2e-6, c.get("rope_scaling") + " inv_freq[" + i + "]");
                if (Math.abs(plain[i] - got[i]) > 1e-6 * plain[i]) scaledSomewhere = true;
            }
            assertEquals(!c.get("rope_scaling").isNull(), scaledSomewhere, "scaling changes the frequencies: " + c.get("rope_scaling"));
        }
    }

    @Test
    void unsupportedOrMalformedScalingIsAClearError() throws Exception {
        ObjectMapper json = new ObjectMapper();
        var e = assertThrows(UnsupportedOperationException.class,
                () -> Rope.invFreq(64, 1e4, json.readTree("{\"type\": \"yarn\", \"factor\": 4}")));
        assertTrue(e.getMessage().contains("yarn"), e.getMessage());
        var m = assertThrows(IllegalArgumentException.class, () -> Rope.invFreq(64, 1e4, json.readTree("{\"rope_type\": \"llama3\", \"factor\": 8}")));
        assertTrue(m.getMessage().contains("low_freq_factor"), m.getMessage());
    }
}
