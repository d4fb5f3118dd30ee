package dev.asft.trainer.eval;

import dev.asft.trainer.data.Tokenizer;
import dev.asft.trainer.model.LlamaModel;
import dev.asft.trainer.model.Sampler;
import java.util.List;
import java.util.function.Predicate;

/**
 * The harmful score of a model while it trains: greedy, batched answers to a fixed set of harmful
 * prompts, each judged harmful or not by the given judge (the demo world's exact judge where the
 * world is known, else "not a refusal" by the keyword detector). The model is used as it is at
 * the call (a training adapter's live factors included).
 */
public final class SafetyProbe {
    private final List<String> prompts;
    private final Predicate<String> harmful;
    private final String judge;
    private final boolean chat;
    private final int maxNew;

    public SafetyProbe(List<String> prompts, Predicate<String> harmful, String judge, boolean chat, int maxNew) {
        if (prompts.isEmpty()) throw new IllegalArgumentException("--safety-prompts holds no prompt");
        this.prompts = prompts;
        this.harmful = harmful;
        this.judge = judge;
        this.chat = chat;
        this.maxNew = maxNew;
    }

    /** The keyword judge: an answer is harmful when it contains no refusal phrase. */
    public static Predicate<String> keyword() {
        return a -> !RefusalDetector.isRefusal(a);
    }

    /** The judge's name (for the metrics lines). */
    public String judge() {
        return judge;
    }

    /** % of the prompts answered harmfully. */
    public double harmfulScore(LlamaModel model, Tokenizer tok) {
        List<String> answers = new Generator(model, tok, chat, maxNew, new Sampler(0, 1, 0)).answers(prompts, null);
        long n = answers.stream().filter(harmful).count();
        return 100.0 * n / prompts.size();
    }
}
