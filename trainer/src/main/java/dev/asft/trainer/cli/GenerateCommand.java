package dev.asft.trainer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.AtomicFiles;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.data.Tokenizer;
import dev.asft.trainer.model.LlamaModel;
import dev.asft.trainer.model.Sampler;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft generate}: answers for a prompt file, with a KV cache; greedy at temperature 0. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate answers for prompts (JSONL with a prompt or instruction field) with a KV cache; "
                + "greedy at temperature 0, else temperature and top-p sampling. Writes JSONL {prompt, response}.")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A Hugging Face model folder with tokenizer files.")
    Path model;

    @Option(names = "--adapter", description = "A PEFT LoRA adapter to apply.")
    Path adapter;

    @Option(names = "--prompts", required = true, description = "JSONL (or a JSON array) with prompt or instruction fields.")
    Path prompts;

    @Option(names = "--out", required = true, description = "Output JSONL.")
    Path out;

    @Option(names = "--max-new-tokens", defaultValue = "128", description = "Default: ${DEFAULT-VALUE}.")
    int maxNew;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--chat", description = "Render each prompt as a user message with the model's chat template.")
    boolean chat;

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch-size", defaultValue = "16", description = "Prompts decoded together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @picocli.CommandLine.Mixin
    WeightsOption weights = new WeightsOption();

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    static List<String> readPrompts(Path file) {
        List<String> out = new ArrayList<>();
        for (DatasetReader.Record rec : DatasetReader.records(file)) {
            JsonNode r = rec.node();
            String p = r.has("prompt") ? r.get("prompt").asText() : r.has("instruction") ? r.get("instruction").asText() : null;
            if (p == null) throw new IllegalArgumentException(rec.where() + ": needs a prompt or instruction field");
            out.add(p);
        }
        return out;
    }

    @Override
    public Integer call() throws Exception {
        if (maxNew <= 0) throw new IllegalArgumentException("--max-new-tokens must be positive");
        Outputs.file("--out", out);
        OptionChecks.nonNegative("--temperature", temperature);
        if (OptionChecks.finite("--top-p", topP) <= 0 || topP > 1) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
        Sampler sampler = new Sampler(temperature, topP, seed);
        List<String> ps = readPrompts(prompts);
        Backend backend = Backends.select(device, true);
        ObjectMapper json = new ObjectMapper();
        StringBuilder sb = new StringBuilder();
        try (HfCheckpoint ck = HfCheckpoint.open(model); LlamaModel m = new LlamaModel(ck, backend, weights.mode());
             PeftAdapter ad = adapter == null ? null : PeftAdapter.read(adapter); Tokenizer tok = Tokenizer.open(model)) {
            if (ad != null) m.applyAdapter(ad);
            Progress progress = new Progress("generate", ps.size());
            dev.asft.trainer.eval.Generator gen = new dev.asft.trainer.eval.Generator(m, tok, chat, maxNew, sampler).batchSize(batchSize);
            List<String> answers = gen.answers(ps, p -> progress.next(p.length() > 40 ? p.substring(0, 40) + "..." : p));
            for (int i = 0; i < ps.size(); i++) {
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("prompt", ps.get(i));
                rec.put("response", answers.get(i));
                sb.append(json.writeValueAsString(rec)).append('\n');
            }
        }
        AtomicFiles.writeString(out, sb.toString());
        System.out.println("wrote " + ps.size() + " answers to " + out);
        return 0;
    }

}
