package dev.asft.trainer.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads fine-tuning data, one record per JSONL line (or a JSON array file, as the AsFT datasets
 * ship), detecting each record's form:
 * <ul>
 *   <li>pre-tokenized {@code {"input_ids": [...], "labels": [...]}}: used exactly as given, no
 *       BOS/EOS added; labels optional (then every token is supervised), -100 = ignored;</li>
 *   <li>{@code {"prompt", "completion"}} or {@code {"prompt", "response"}};</li>
 *   <li>Alpaca {@code {"instruction", "input", "output"}} (the Alpaca prompt template);</li>
 *   <li>chat {@code {"messages": [{"role", "content"}, ...]}} rendered with the model's chat
 *       template; only assistant turns are supervised.</li>
 * </ul>
 * Prompt tokens are masked unless {@code trainOnInputs}; BOS/EOS as the tokenizer config says;
 * sequences longer than {@code maxLen} are truncated (and counted).
 */
public final class DatasetReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The Alpaca prompt (Stanford Alpaca, as the AsFT code formats its data). */
    static final String ALPACA_WITH_INPUT = "Below is an instruction that describes a task, paired with an input that provides "
            + "further context. Write a response that appropriately completes the request.\n\n"
            + "### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n";
    static final String ALPACA_NO_INPUT = "Below is an instruction that describes a task. Write a response that "
            + "appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:\n";

    private final Tokenizer tokenizer;
    private boolean trainOnInputs;
    private int maxLen = Integer.MAX_VALUE;
    private int truncated;

    /** tokenizer may be null when every record is pre-tokenized. */
    public DatasetReader(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    public DatasetReader trainOnInputs(boolean on) {
        this.trainOnInputs = on;
        return this;
    }

    public DatasetReader maxLen(int maxLen) {
        if (maxLen <= 0) throw new IllegalArgumentException("--max-len must be positive, got " + maxLen);
        this.maxLen = maxLen;
        return this;
    }

    /** How many examples the last read truncated to maxLen. */
    public int truncated() {
        return truncated;
    }

    /** A record of a data file and where it came from ("data.jsonl:12", "data.json record 3"). */
    public record Record(String where, JsonNode node) {}

    /**
     * The records of a JSONL file (blank lines skipped) or of a JSON array file; a line that is
     * not JSON is an error naming the file and line. Shared by every command that reads records.
     */
    public static List<Record> records(Path file) {
        List<Record> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            r.mark(1 << 16);
            int c;
            do {
                c = r.read();
            } while (c != -1 && Character.isWhitespace(c));
            r.reset();
            if (c == '[') { // a JSON array of records
                JsonNode arr;
                try {
                    arr = JSON.readTree(r);
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(file + ":" + e.getLocation().getLineNr() + ": not valid JSON: " + e.getOriginalMessage());
                }
                for (int i = 0; i < arr.size(); i++) out.add(new Record(file + " record " + (i + 1), arr.get(i)));
            } else {
                String line;
                int n = 0;
                while ((line = r.readLine()) != null) {
                    n++;
                    if (line.isBlank()) continue;
                    try {
                        out.add(new Record(file + ":" + n, JSON.readTree(line)));
                    } catch (JsonProcessingException e) {
                        throw new IllegalArgumentException(file + ":" + n + ": not valid JSON: " + e.getOriginalMessage());
                    }
                }
            }
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": not found");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        if (out.isEmpty()) throw new IllegalArgumentException(file + ": no records");
        return out;
    }

    public List<Example> read(Path file) {
        truncated = 0;
        List<Example> out = new ArrayList<>();
        for (Record rec : records(file)) out.add(record(rec.node(), rec.where()));
        return out;
    }

    /** One record; {@code where} names it in errors ("data.jsonl:12"). */
    public Example record(JsonNode n, String where) {
        if (n == null || !n.isObject()) throw new IllegalArgumentException(where + ": a record must be a JSON object");
        Example e;
        if (!n.has("input_ids") && tokenizer == null)
            throw new IllegalArgumentException(where + ": this record needs a tokenizer (the model folder has no tokenizer.json); "
                    + "pre-tokenized records ({\"input_ids\": [...]}) do not");
        if (n.has("input_ids")) e = pretokenized(n, where);
        else if (n.has("messages")) e = chat(n, where);
        else if (n.has("instruction") && n.has("output")) {
            String input = n.hasNonNull("input") ? text(n, "input", where) : "";
            String instruction = text(n, "instruction", where);
            String prompt = input.isBlank() ? String.format(ALPACA_NO_INPUT, instruction)
                    : String.format(ALPACA_WITH_INPUT, instruction, input);
            e = promptCompletion(prompt, text(n, "output", where));
        } else if (n.has("prompt") && (n.has("completion") || n.has("response"))) {
            e = promptCompletion(text(n, "prompt", where), text(n, n.has("completion") ? "completion" : "response", where));
        } else {
            throw new IllegalArgumentException(where + ": unrecognized record (fields " + fields(n) + "): expected input_ids, "
                    + "prompt + completion/response, instruction + output, or messages");
        }
        if (e.length() > maxLen) {
            truncated++;
            e = e.truncate(maxLen);
        }
        return e;
    }

    private static String fields(JsonNode n) {
        List<String> f = new ArrayList<>();
        n.fieldNames().forEachRemaining(f::add);
        return f.toString();
    }

    /** A text field: a JSON string (Jackson's asText() would make null "null" and an array ""). */
    private static String text(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual())
            throw new IllegalArgumentException(where + ": " + field + " must be a string, got "
                    + (v == null ? "nothing" : v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)));
        return v.asText();
    }

    private static int[] ints(JsonNode arr, String where, String field) {
        if (!arr.isArray()) throw new IllegalArgumentException(where + ": " + field + " must be an array of integers");
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) {
            if (!arr.get(i).canConvertToInt()) throw new IllegalArgumentException(where + ": " + field + "[" + i + "] is not an integer");
            out[i] = arr.get(i).asInt();
        }
        return out;
    }

    private Example pretokenized(JsonNode n, String where) {
        int[] ids = ints(n.get("input_ids"), where, "input_ids");
        int[] labels = n.has("labels") ? ints(n.get("labels"), where, "labels") : ids.clone();
        if (labels.length != ids.length)
            throw new IllegalArgumentException(where + ": " + ids.length + " input_ids but " + labels.length + " labels");
        return new Example(ids, labels);
    }

    /**
     * [BOS] prompt completion [EOS]; prompt (and BOS) masked unless trainOnInputs. As Hugging
     * Face's SFT code does it (Stanford Alpaca's train.py, TRL's prompt-completion format), the
     * text is tokenized whole, prompt + completion as one string, and the prompt's tokens are
     * those it shares with the prompt tokenized alone. Tokenized apart, a SentencePiece
     * tokenizer (Llama 2, Mistral) would start the completion with a word-initial piece
     * ("▁Sure" where the whole text has "Sure" after the prompt's newline), teaching the model
     * a token it never produces there. Where prompt and completion merge into one token, that
     * token holds completion text and is supervised.
     */
    Example promptCompletion(String prompt, String completion) {
        int[] whole = tokenizer.encode(prompt + completion), p = tokenizer.encode(prompt);
        int shared = 0;
        while (shared < p.length && shared < whole.length && p[shared] == whole[shared]) shared++;
        int bos = tokenizer.addBos() ? 1 : 0, eos = tokenizer.eosId() != null ? 1 : 0; // EOS ends every completion
        int[] ids = new int[bos + whole.length + eos], labels = new int[ids.length];
        int k = 0;
        if (bos == 1) ids[k++] = tokenizer.bosId();
        System.arraycopy(whole, 0, ids, k, whole.length);
        int promptEnd = k + shared;
        k += whole.length;
        if (eos == 1) ids[k] = tokenizer.eosId();
        for (int i = 0; i < ids.length; i++) labels[i] = (trainOnInputs || i >= promptEnd) ? ids[i] : Example.IGNORE;
        return new Example(ids, labels);
    }

    /**
     * Renders the conversation with the chat template and supervises each assistant turn: the
     * tokens between the rendering of the turns before it (with the generation prompt) and the
     * rendering that includes it.
     */
    Example chat(JsonNode n, String where) {
        JsonNode msgs = n.get("messages");
        if (!msgs.isArray() || msgs.isEmpty()) throw new IllegalArgumentException(where + ": messages must be a non-empty array");
        List<Map<String, Object>> messages = new ArrayList<>();
        for (JsonNode m : msgs) {
            if (!m.has("role") || !m.has("content"))
                throw new IllegalArgumentException(where + ": every message needs role and content");
            if (!m.get("content").isTextual()) // asText() would turn a list of content parts into "" unnoticed
                throw new IllegalArgumentException(where + ": a message's content must be a string, got "
                        + m.get("content").getNodeType().toString().toLowerCase(java.util.Locale.ROOT));
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("role", m.get("role").asText());
            mm.put("content", m.get("content").asText());
            messages.add(mm);
        }
        if (!tokenizer.hasChatTemplate())
            throw new IllegalArgumentException(where + ": a chat record needs the model's chat template (chat_template.jinja, or chat_template in tokenizer_config.json)");
        int[] ids = tokenizer.encode(tokenizer.renderChat(messages, false));
        int[] labels = new int[ids.length];
        Arrays.fill(labels, trainOnInputs ? 0 : Example.IGNORE);
        if (trainOnInputs) System.arraycopy(ids, 0, labels, 0, ids.length);
        for (int i = 0; i < messages.size() && !trainOnInputs; i++) {
            if (!"assistant".equals(messages.get(i).get("role"))) continue;
            int start = tokenizer.encode(tokenizer.renderChat(messages.subList(0, i), true)).length;
            int end = Math.min(ids.length, tokenizer.encode(tokenizer.renderChat(messages.subList(0, i + 1), false)).length);
            for (int t = start; t < end; t++) labels[t] = ids[t];
        }
        return new Example(ids, labels);
    }
}
