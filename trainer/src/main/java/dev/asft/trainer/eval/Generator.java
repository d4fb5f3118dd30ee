package dev.asft.trainer.eval;

import dev.asft.trainer.data.Tokenizer;
import dev.asft.trainer.model.LlamaModel;
import dev.asft.trainer.model.Sampler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Answers prompts with a model: each prompt rendered as a user message with the model's chat
 * template (or as plain text after BOS), decoded with a KV cache until a stop token ({@link #stopIds})
 * or maxNew tokens.
 */
public final class Generator {
    private final LlamaModel model;
    private final Tokenizer tok;
    private final boolean chat;
    private final int maxNew;
    private final Sampler sampler;
    private int batchSize = 16;

    public Generator(LlamaModel model, Tokenizer tok, boolean chat, int maxNew, Sampler sampler) {
        if (maxNew <= 0) throw new IllegalArgumentException("--max-new-tokens must be positive");
        if (chat && !tok.hasChatTemplate()) throw new IllegalArgumentException("--chat needs the model's chat template (chat_template.jinja, or chat_template in tokenizer_config.json)");
        this.model = model;
        this.tok = tok;
        this.chat = chat;
        this.maxNew = maxNew;
        this.sampler = sampler;
    }

    /** Where an answer ends: the tokenizer's EOS and the model's eos_token_id(s) (config and generation config). */
    public java.util.Set<Integer> stopIds() {
        java.util.Set<Integer> stop = new java.util.TreeSet<>(model.stopTokenIds());
        stop.addAll(tok.stopIds());
        return stop;
    }

    /** Prompts decoded together by {@link #answers} (default 16). */
    public Generator batchSize(int n) {
        if (n <= 0) throw new IllegalArgumentException("--batch-size must be positive");
        this.batchSize = n;
        return this;
    }

    /** The prompt's token ids as the model sees them. */
    public int[] promptIds(String prompt) {
        if (chat) {
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("role", "user");
            msg.put("content", prompt);
            return tok.encode(tok.renderChat(List.of(msg), true));
        }
        // what the tokenizer puts before a text (a BOS, or nothing), never an EOS after the prompt
        int[] body = tok.encode(prompt), pre = tok.specialPrefix();
        int[] out = java.util.Arrays.copyOf(pre, pre.length + body.length);
        System.arraycopy(body, 0, out, pre.length, body.length);
        return out;
    }

    /**
     * Answers in prompt order, decoded in batches of {@link #batchSize}; onEach (may be null)
     * hears each prompt when its answer is done.
     */
    public List<String> answers(List<String> prompts, Consumer<String> onEach) {
        List<String> out = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i += batchSize) {
            List<String> chunk = prompts.subList(i, Math.min(prompts.size(), i + batchSize));
            List<int[]> ids = new ArrayList<>();
            for (String p : chunk) ids.add(promptIds(p));
            List<int[]> gen = model.generateBatch(ids, maxNew, sampler, stopIds());
            for (int j = 0; j < chunk.size(); j++) {
                out.add(tok.decode(gen.get(j), true));
                if (onEach != null) onEach.accept(chunk.get(j));
            }
        }
        return out;
    }
}
