package dev.asft.trainer.cli;

import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.data.Example;
import dev.asft.trainer.data.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code asft data}: what training will see in a data file, before paying for a run. Records go
 * through the same reader as {@code train} and {@code loss} (same template, masking, BOS/EOS,
 * --max-len, --train-on-inputs).
 */
@Command(name = "data", mixinStandardHelpOptions = true,
        description = {"Shows what `train` and `loss` will see in a data file: for each record the text of its tokens with "
                + "the supervised ones between \u27e6 and \u27e7 (control characters escaped as \\n, \\r, \\t), and the counts "
                + "over the whole file: records, tokens, supervised tokens, records with nothing supervised, truncation.",
                "With --tokens, one line per token: position, id, S for supervised, and its text."})
final class DataCommand implements Callable<Integer> {
    static final String OPEN = "\u27e6", CLOSE = "\u27e7";

    @Option(names = "--model", required = true, description = "The model folder whose tokenizer and chat template `train` would use.")
    Path model;

    @Option(names = "--data", required = true, description = "JSONL (or a JSON array): input_ids, prompt/completion, instruction/output or messages.")
    Path data;

    @Option(names = "--limit", defaultValue = "5", description = "Records to show (default: ${DEFAULT-VALUE}; the counts cover every record).")
    int limit;

    @Option(names = "--max-len", defaultValue = "2048", description = "As `train`'s --max-len (default: ${DEFAULT-VALUE}).")
    int maxLen;

    @Option(names = "--train-on-inputs", description = "As `train`'s --train-on-inputs.")
    boolean trainOnInputs;

    @Option(names = "--tokens", description = "One line per token instead of the marked text.")
    boolean tokens;

    @Option(names = "--json", description = "One JSON line per shown record ({where, tokens, supervised, input_ids, labels}) and a summary line.")
    boolean json;

    @Override
    public Integer call() {
        if (limit < 0) throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
        Tokenizer tok = Tokenizer.openIfPresent(model);
        try {
            DatasetReader reader = new DatasetReader(tok).trainOnInputs(trainOnInputs).maxLen(maxLen)
                    .vocabSize(DatasetReader.vocabSizeOf(model));
            List<DatasetReader.Record> records = DatasetReader.records(data);
            long tokenCount = 0, supervised = 0;
            int empty = 0;
            List<Example> all = new ArrayList<>();
            for (int i = 0; i < records.size(); i++) {
                DatasetReader.Record rec = records.get(i);
                Example e = reader.record(rec.node(), rec.where());
                all.add(e);
                tokenCount += e.length();
                supervised += e.supervised();
                if (e.supervised() == 0) empty++;
                if (i < limit) show(rec.where(), e, tok);
            }
            String truncation = reader.truncationReport();
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("records", records.size());
                o.put("tokens", tokenCount);
                o.put("supervised", supervised);
                o.put("unsupervised_records", empty);
                o.put("truncated", reader.truncated());
                o.put("supervision_cut", reader.supervisionCut());
                System.out.println(Json.line(o));
            } else {
                System.out.printf("%d records: %d tokens, %d supervised (%.1f%%); %d records with nothing supervised%s%n",
                        records.size(), tokenCount, supervised, tokenCount == 0 ? 0.0 : 100.0 * supervised / tokenCount, empty,
                        truncation == null ? "" : "; " + truncation);
            }
            DatasetReader.requireSupervised(data, all, maxLen, reader.supervisionCut());
        } finally {
            if (tok != null) tok.close();
        }
        return 0;
    }

    private void show(String where, Example e, Tokenizer tok) {
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("where", where);
            o.put("tokens", e.length());
            o.put("supervised", e.supervised());
            o.put("input_ids", e.inputIds());
            o.put("labels", e.labels());
            System.out.println(Json.line(o));
            return;
        }
        System.out.printf("%s  %d tokens, %d supervised%s%n", where, e.length(), e.supervised(), e.supervised() == 0 ? " (nothing supervised)" : "");
        int[] ids = e.inputIds(), labels = e.labels();
        if (tokens) {
            for (int i = 0; i < ids.length; i++)
                System.out.printf("  %5d %8d %s %s%n", i, ids[i], labels[i] == Example.IGNORE ? " " : "S", text(tok, ids, i, i + 1));
            return;
        }
        StringBuilder b = new StringBuilder("  ");
        for (int i = 0; i < ids.length; ) {
            boolean on = labels[i] != Example.IGNORE;
            int j = i;
            while (j < ids.length && (labels[j] != Example.IGNORE) == on) j++;
            b.append(on ? OPEN : "").append(text(tok, ids, i, j)).append(on ? CLOSE : "");
            i = j;
        }
        System.out.println(b);
    }

    /** Tokens [from, to) decoded together (a character split across tokens stays whole), control characters escaped. */
    private static String text(Tokenizer tok, int[] ids, int from, int to) {
        int[] run = Arrays.copyOfRange(ids, from, to);
        String s = tok == null ? Arrays.toString(run) : tok.decode(run, false);
        return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
    }
}
