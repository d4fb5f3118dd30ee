package dev.asft.trainer.data.jinja;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every chat template in src/test/resources/chat/templates (as model families ship them: Llama 2,
 * 3, 3.1, 3.2, Qwen2/2.5/3, Mistral, Gemma 2, Phi-3, DeepSeek-R1, SmolLM2/3, Zephyr and more)
 * rendered over conversations with template syntax in the content, Unicode spaces, CRLF,
 * think traces and empty turns, with and without the generation prompt, must give exactly the
 * text Python's Jinja2 gave when set up as transformers sets it up (make_chat_golden.py), the
 * same {% generation %} spans, and fail where Python failed.
 */
class ChatTemplateGoldenTest {
    private static final Path DIR = Path.of("src/test/resources/chat");
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void rendersEveryTemplateAsTransformersDoes() throws Exception {
        JsonNode golden = JSON.readTree(DIR.resolve("golden.json").toFile());
        JsonNode conversations = JSON.readTree(DIR.resolve("conversations.json").toFile());
        Map<String, Object> byName = new HashMap<>();
        for (JsonNode c : conversations) byName.put(c.get("name").asText(), JSON.convertValue(c.get("messages"), List.class));
        LocalDateTime now = LocalDateTime.parse(golden.get("now").asText());
        List<String> failures = new ArrayList<>();
        int renders = 0;
        var fields = golden.get("templates").fields();
        while (fields.hasNext()) {
            var entry = fields.next();
            String name = entry.getKey();
            JsonNode t = entry.getValue();
            JinjaTemplate tpl;
            try {
                tpl = JinjaTemplate.parse(Files.readString(DIR.resolve("templates").resolve(name)))
                        .withClock(() -> now.atZone(ZoneOffset.UTC));
            } catch (TemplateError e) {
                failures.add(name + ": does not parse: " + e.getMessage());
                continue;
            }
            for (JsonNode r : t.get("renders")) {
                renders++;
                Map<String, Object> vars = new HashMap<>();
                vars.put("messages", byName.get(r.get("conversation").asText()));
                vars.put("tools", null);
                vars.put("documents", null);
                vars.put("add_generation_prompt", r.get("add_generation_prompt").asBoolean());
                if (!t.get("bos_token").isNull()) vars.put("bos_token", t.get("bos_token").asText());
                if (!t.get("eos_token").isNull()) vars.put("eos_token", t.get("eos_token").asText());
                String what = name + " / " + r.get("conversation").asText() + (r.get("add_generation_prompt").asBoolean() ? " +gen" : "");
                JinjaTemplate.Rendered got;
                try {
                    got = tpl.render(vars);
                } catch (TemplateError e) {
                    if (!r.has("error")) failures.add(what + ": failed: " + e.getMessage());
                    continue;
                }
                if (r.has("error")) {
                    failures.add(what + ": rendered, where Python failed with " + r.get("error").asText());
                    continue;
                }
                String want = r.get("text").asText();
                if (!want.equals(got.text())) failures.add(what + ": text differs at " + firstDifference(want, got.text())
                        + "\n  python: " + JSON.writeValueAsString(want) + "\n  asft:   " + JSON.writeValueAsString(got.text()));
                List<List<Integer>> spans = new ArrayList<>();
                for (int[] s : got.generation()) spans.add(List.of(s[0], s[1]));
                List<List<Integer>> wantSpans = r.has("generation") ? JSON.convertValue(r.get("generation"), List.class) : List.of();
                if (!wantSpans.equals(spans)) failures.add(what + ": generation spans " + spans + ", python " + wantSpans);
            }
        }
        assertTrue(renders > 1000, "renders: " + renders);
        assertEquals(0, failures.size(), failures.size() + " of " + renders + " renders differ:\n" + String.join("\n", failures));
    }

    /** One construct per snippet (str methods, slices, arithmetic, scoping, filters, tests, macros, errors), as Python renders it. */
    @Test
    void rendersEverySnippetAsPythonsJinja2() throws Exception {
        JsonNode golden = JSON.readTree(DIR.resolve("golden.json").toFile());
        JsonNode conversations = JSON.readTree(DIR.resolve("conversations.json").toFile());
        LocalDateTime now = LocalDateTime.parse(golden.get("now").asText());
        List<String> failures = new ArrayList<>();
        for (JsonNode r : golden.get("snippets")) {
            String source = r.get("source").asText();
            Map<String, Object> vars = new HashMap<>();
            vars.put("messages", JSON.convertValue(conversations.get(1).get("messages"), List.class));
            vars.put("tools", null);
            vars.put("documents", null);
            vars.put("add_generation_prompt", false);
            vars.put("bos_token", "<s>");
            vars.put("eos_token", "</s>");
            try {
                String got = JinjaTemplate.parse(source).withClock(() -> now.atZone(ZoneOffset.UTC)).render(vars).text();
                if (r.has("error")) failures.add(JSON.writeValueAsString(source) + ": rendered " + JSON.writeValueAsString(got)
                        + ", Python failed with " + r.get("error").asText());
                else if (!got.equals(r.get("text").asText())) failures.add(JSON.writeValueAsString(source) + "\n  python: "
                        + JSON.writeValueAsString(r.get("text").asText()) + "\n  asft:   " + JSON.writeValueAsString(got));
            } catch (TemplateError e) {
                if (!r.has("error")) failures.add(JSON.writeValueAsString(source) + ": failed: " + e.getMessage());
            }
        }
        assertEquals(0, failures.size(), String.join("\n", failures));
    }

    private static int firstDifference(String a, String b) {
        int i = 0;
        while (i < a.length() && i < b.length() && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }
}
