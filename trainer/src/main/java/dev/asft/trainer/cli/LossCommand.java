package dev.asft.trainer.cli;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.trainer.data.Batch;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.data.Example;
import dev.asft.trainer.model.LlamaModel;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft loss}: the token-mean masked loss of a model (with or without an adapter) over a data file. */
@Command(name = "loss", mixinStandardHelpOptions = true,
        description = "The token-mean masked cross-entropy over every supervised token of a data file (the loss "
                + "training minimizes), for a model and optionally a PEFT adapter applied without merging.")
final class LossCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A Hugging Face model folder (config, safetensors, tokenizer).")
    Path model;

    @Option(names = "--adapter", description = "A PEFT LoRA adapter to apply.")
    Path adapter;

    @Option(names = "--data", required = true, description = "JSONL (or a JSON array): input_ids, prompt/completion, instruction/output or messages.")
    Path data;

    @Option(names = "--max-len", defaultValue = "2048", description = "Truncate longer sequences (default: ${DEFAULT-VALUE}).")
    int maxLen;

    @Option(names = "--batch-size", defaultValue = "8", description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--train-on-inputs", description = "Count prompt tokens too (default: completion tokens only).")
    boolean trainOnInputs;

    @picocli.CommandLine.Mixin
    WeightsOption weights = new WeightsOption();

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--json", description = "Print {\"loss\": x, \"tokens\": n} as the last line of stdout.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (batchSize <= 0) throw new IllegalArgumentException("--batch-size must be positive, got " + batchSize);
        Backend backend = Backends.select(device, true);
        try (HfCheckpoint ck = HfCheckpoint.open(model); LlamaModel m = new LlamaModel(ck, backend, weights.mode());
             PeftAdapter ad = adapter == null ? null : PeftAdapter.read(adapter)) {
            if (ad != null) m.applyAdapter(ad);
            List<Example> examples = DatasetReader.load(model, data, trainOnInputs, maxLen, "loss").examples();
            double sum = 0;
            long tokens = 0;
            Progress progress = new Progress("loss", (examples.size() + batchSize - 1) / batchSize);
            for (int i = 0; i < examples.size(); i += batchSize) {
                Batch b = Batch.of(examples.subList(i, Math.min(examples.size(), i + batchSize)), 0);
                double[] l = m.lossSum(b.inputIds(), b.attentionMask(), b.labels(), b.batch(), b.length());
                sum += l[0];
                tokens += (long) l[1];
                progress.next("batch " + (i / batchSize + 1));
            }
            double loss = tokens == 0 ? Double.NaN : sum / tokens;
            System.out.printf("loss %.6f over %d supervised tokens (%d sequences)%n", loss, tokens, examples.size());
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("loss", loss);
                o.put("tokens", tokens);
                System.out.println(Json.line(o));
            }
        }
        return 0;
    }

}
