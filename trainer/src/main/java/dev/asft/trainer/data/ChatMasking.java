package dev.asft.trainer.data;

import dev.asft.trainer.data.jinja.JinjaTemplate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which tokens of a rendered conversation are the assistant's. The conversation is rendered
 * once and tokenized once; each assistant turn's span is then located in that text:
 * <ul>
 *   <li>where the template marks turns with transformers' {@code {% generation %}} blocks, the
 *       spans are those blocks (TRL's assistant_only_loss mask);</li>
 *   <li>elsewhere a turn starts where the rendering of the messages before it, with the
 *       generation prompt, ends (the prompt the model answers at inference), which must be a
 *       prefix of the whole rendering (else the record is refused, never guessed), and ends
 *       with the first end-of-turn token (the tokenizer's EOS or the model's eos_token_id)
 *       after the turn's content: what the model generates before it stops.</li>
 * </ul>
 * The content's end is found by rendering once more with a marker after it (and one before the
 * next message, to check the end-of-turn token lies between them); a template that transforms
 * the marked text (trims the content, say) falls back to searching from the turn's start.
 * Rendering a prefix and comparing lengths instead, as before, supervised the next user header
 * under templates that always append an assistant header (Llama 3's first release) or render
 * the last turn differently (Qwen3's think block).
 */
final class ChatMasking {
    // private-use code points: no template or data has them
    private static final String END_MARK = "\uE000asft-end\uE001", NEXT_MARK = "\uE000asft-next\uE001";

    private ChatMasking() {}

    /** Character spans [start, end) of the assistant turns in the full rendering {@code full}. */
    static List<int[]> assistantSpans(ChatTemplate tpl, Tokenizer tok, List<Map<String, Object>> messages,
                                      JinjaTemplate.Rendered full, String where) {
        if (!full.generation().isEmpty()) return full.generation();
        String text = full.text();
        List<String> stops = stopTexts(tok);
        List<int[]> spans = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (!"assistant".equals(messages.get(i).get("role"))) continue;
            String turn = "assistant message " + (i + 1) + " (of " + messages.size() + ")";
            String prompt;
            try {
                prompt = tpl.render(messages.subList(0, i), true).text();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": cannot render the conversation before " + turn + ": " + e.getMessage());
            }
            if (!text.startsWith(prompt)) {
                int d = firstDifference(prompt, text);
                throw new IllegalArgumentException(where + ": " + tpl.source() + ": the chat template renders the messages before "
                        + turn + " (with the generation prompt) as text that does not start the whole conversation's rendering "
                        + "(they differ at character " + d + ": " + snippet(prompt, d) + " vs " + snippet(text, d) + "), so which "
                        + "tokens are this turn's is unknown; a template with {% generation %} blocks around the assistant's text avoids this");
            }
            int start = prompt.length();
            int[] bounds = probe(tpl, messages, i, text);
            int from = bounds == null ? start : Math.max(start, bounds[0]);
            int stopAt = -1;
            String stop = null;
            for (String st : stops) { // longest first: at one place the longer text wins
                int at = text.indexOf(st, from);
                if (at >= 0 && (stopAt < 0 || at < stopAt)) {
                    stopAt = at;
                    stop = st;
                }
            }
            int end = stopAt < 0 ? -1 : stopAt + stop.length();
            if (end < 0 || (bounds != null && bounds[1] >= 0 && end > bounds[1]))
                throw new IllegalArgumentException(where + ": " + turn + " has no end-of-turn token (" + String.join(", ", stops)
                        + ") after its text in the chat template's rendering" + (end < 0 ? "" : " before the next message")
                        + ": the model would never learn to stop; add the token the template ends turns with to "
                        + "generation_config.json's eos_token_id");
            spans.add(new int[] {start, end});
        }
        return spans;
    }

    /**
     * Renders with a marker after message i's content and before message i+1's; where removing
     * the markers gives the same text back, returns {content end, next message start (or -1)},
     * both in the unmarked text; else null.
     */
    private static int[] probe(ChatTemplate tpl, List<Map<String, Object>> messages, int i, String text) {
        List<Map<String, Object>> marked = new ArrayList<>(messages);
        if (!(messages.get(i).get("content") instanceof String c)) return null;
        marked.set(i, with(messages.get(i), c + END_MARK));
        boolean next = i + 1 < messages.size() && messages.get(i + 1).get("content") instanceof String;
        if (next) marked.set(i + 1, with(messages.get(i + 1), NEXT_MARK + messages.get(i + 1).get("content")));
        String r;
        try {
            r = tpl.render(marked, false).text();
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (!r.replace(END_MARK, "").replace(NEXT_MARK, "").equals(text)) return null;
        int end = r.indexOf(END_MARK), nextAt = r.indexOf(NEXT_MARK);
        if (end < 0 || end != r.lastIndexOf(END_MARK) || (next && (nextAt < 0 || nextAt != r.lastIndexOf(NEXT_MARK)))) return null;
        // positions in the unmarked text
        int endPos = end - (next && nextAt < end ? NEXT_MARK.length() : 0);
        int nextPos = !next ? -1 : nextAt - (end < nextAt ? END_MARK.length() : 0);
        return new int[] {endPos, nextPos};
    }

    private static Map<String, Object> with(Map<String, Object> message, String content) {
        Map<String, Object> m = new LinkedHashMap<>(message);
        m.put("content", content);
        return m;
    }

    /** The texts of the tokens that end a turn, longest first. */
    static List<String> stopTexts(Tokenizer tok) {
        List<String> out = new ArrayList<>();
        for (int id : tok.stopIds()) {
            String s = tok.decode(new int[] {id}, false);
            if (!s.isEmpty() && !out.contains(s)) out.add(s);
        }
        out.sort((a, b) -> b.length() - a.length());
        return out;
    }

    /** Labels for a rendered conversation: tokens overlapping an assistant span keep their id, the rest IGNORE. */
    static int[] labels(Tokenizer.Encoded enc, List<int[]> spans) {
        int[] labels = new int[enc.ids().length];
        Arrays.fill(labels, Example.IGNORE);
        for (int t = 0; t < labels.length; t++)
            for (int[] s : spans)
                if (enc.ends()[t] > s[0] && enc.starts()[t] < s[1]) {
                    labels[t] = enc.ids()[t];
                    break;
                }
        return labels;
    }

    private static int firstDifference(String a, String b) {
        int i = 0;
        while (i < a.length() && i < b.length() && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }

    private static String snippet(String s, int at) {
        int from = Math.max(0, at - 20), to = Math.min(s.length(), at + 20);
        return com.fasterxml.jackson.databind.node.TextNode.valueOf((from > 0 ? "…" : "") + s.substring(from, to) + (to < s.length() ? "…" : "")).toString();
    }
}
