package dev.asft.trainer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.data.Tokenizer;
import dev.asft.trainer.eval.Generator;
import dev.asft.trainer.model.LlamaModel;
import dev.asft.trainer.model.Sampler;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** What eval-safety and eval-task share: the model, the prompts, greedy generation and the outputs. */
final class EvalOptions {
    @Option(names = "--model", required = true, description = "Model folder (Hugging Face).")
    Path model;

    @Option(names = "--adapter", description = "A PEFT LoRA adapter to apply.")
    Path adapter;

    @Option(names = "--prompts", required = true, description = "JSON array or JSONL with instruction or prompt fields.")
    Path prompts;

    @Option(names = "--out", description = "Write every answer and its verdict here (JSONL).")
    Path out;

    @Option(names = "--max-new-tokens", defaultValue = "128", description = "Default: ${DEFAULT-VALUE}.")
    int maxNew;

    @Option(names = "--chat", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Render prompts with the model's chat template (default; --no-chat: plain text after BOS).")
    boolean chat;

    @Option(names = "--limit", description = "Evaluate only the first N prompts.")
    Integer limit;

    @Option(names = "--json", description = "Print the summary as JSON on the last line of stdout.")
    boolean json;

    @Option(names = "--batch-size", defaultValue = "16", description = "Prompts decoded together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @picocli.CommandLine.Mixin
    WeightsOption weights = new WeightsOption();

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    /** The prompt of a BeaverTails/Alpaca-style record: instruction (+ input) or prompt. */
    static String prompt(DatasetReader.Record r) {
        JsonNode n = r.node();
        if (n.hasNonNull("instruction")) {
            String input = n.path("input").asText("");
            return input.isBlank() ? n.get("instruction").asText() : n.get("instruction").asText() + "\n" + input;
        }
        if (n.hasNonNull("prompt")) return n.get("prompt").asText();
        throw new IllegalArgumentException(r.where() + ": needs an instruction or prompt field");
    }

    /** Greedy answers to the prompts (the first --limit of them). */
    List<String> generate(List<String> ps, String what) {
        if (limit != null) {
            if (limit <= 0) throw new IllegalArgumentException("--limit must be positive");
            ps.subList(Math.min(limit, ps.size()), ps.size()).clear();
        }
        Backend backend = Backends.select(device, true);
        try (HfCheckpoint ck = HfCheckpoint.open(model); LlamaModel m = new LlamaModel(ck, backend, weights.mode());
             PeftAdapter ad = adapter == null ? null : PeftAdapter.read(adapter); Tokenizer tok = Tokenizer.open(model)) {
            if (ad != null) m.applyAdapter(ad);
            Generator gen = new Generator(m, tok, chat, maxNew, new Sampler(0, 1, 0)).batchSize(batchSize);
            Progress progress = new Progress(what, ps.size());
            return gen.answers(ps, p -> progress.next(p.length() > 40 ? p.substring(0, 40) + "..." : p));
        }
    }
}
