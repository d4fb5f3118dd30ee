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

    /**
     * The Alpaca prompts exactly as Stanford Alpaca's train.py (PROMPT_DICT) writes them: the
     * prompt ends with "### Response:" and the output follows it directly, then the EOS.
     */
    static final String ALPACA_WITH_INPUT = "Below is an instruction that describes a task, paired with an input that provides "
            + "further context. Write a response that appropriately completes the request.\n\n"
            + "### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:";
    static final String ALPACA_NO_INPUT = "Below is an instruction that describes a task. Write a response that "
            + "appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:";

    private final Tokenizer tokenizer;
    private boolean trainOnInputs;
    private int maxLen = Integer.MAX_VALUE;
    private int vocabSize = Integer.MAX_VALUE; // the model's vocab_size, when known
    private int truncated, supervisionCut;

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

    /** Refuses token ids and labels outside [0, vocabSize) (config.json's vocab_size), naming the record. */
    public DatasetReader vocabSize(int vocabSize) {
        this.vocabSize = vocabSize;
        return this;
    }

    /** The model folder's vocab_size (config.json), or no limit when the folder has no config. */
    public static int vocabSizeOf(Path modelDir) {
        return Files.exists(modelDir.resolve("config.json")) ? dev.asft.core.io.LlamaConfig.read(modelDir).vocabSize() : Integer.MAX_VALUE;
    }

    /** How many examples the last read truncated to maxLen. */
    public int truncated() {
        return truncated;
    }

    /** How many of those lost every supervised token to the truncation (they still train on nothing). */
    public int supervisionCut() {
        return supervisionCut;
    }

    /**
     * Refuses a data file with no supervised token (prompts only, all labels -100, or every
     * supervised token past --max-len): its loss is undefined, and training on it does nothing.
     */
    public static void requireSupervised(Path file, List<Example> examples, int maxLen, int supervisionCut) {
        for (Example e : examples) if (e.supervised() > 0) return;
        throw new IllegalArgumentException(file + ": no supervised token in its " + examples.size() + " records"
                + (supervisionCut > 0 ? " (" + supervisionCut + " lost theirs to --max-len " + maxLen + ")" : "")
                + ": every label is -100 or every token is prompt; `asft data` shows what is supervised");
    }

    /** The line commands print about truncation, or null when nothing was truncated. */
    public String truncationReport() {
        if (truncated == 0) return null;
        return truncated + " sequences truncated to --max-len " + maxLen
                + (supervisionCut > 0 ? "; " + supervisionCut + " of them had every supervised token past it and train on nothing" : "");
    }

    /** A data file as train and loss read it, and the padding id of the model's tokenizer (null without one). */
    public record Loaded(List<Example> examples, Integer padId) {}

    /**
     * Reads {@code data} for a command on the model in {@code modelDir}: with its tokenizer when
     * the folder has one (pre-tokenized files need none), reporting truncation on stderr, and
     * refusing a file with no supervised token.
     */
    public static Loaded load(Path modelDir, Path data, boolean trainOnInputs, int maxLen, String command) {
        Tokenizer tok = Tokenizer.openIfPresent(modelDir);
        try {
            DatasetReader r = new DatasetReader(tok).trainOnInputs(trainOnInputs).maxLen(maxLen).vocabSize(vocabSizeOf(modelDir));
            List<Example> examples = r.read(data);
            if (r.truncationReport() != null) System.err.println(command + ": " + r.truncationReport());
            requireSupervised(data, examples, maxLen, r.supervisionCut());
            return new Loaded(examples, tok == null ? null : tok.padId());
        } finally {
            if (tok != null) tok.close();
        }
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
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException(file + ":" + firstNonUtf8Line(file) + ": not UTF-8 text (data files are UTF-8 JSON)");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        if (out.isEmpty()) throw new IllegalArgumentException(file + ": no records");
        return out;
    }

    /** The line (1-based) holding the first byte sequence that is not UTF-8. */
    private static long firstNonUtf8Line(Path file) {
        try {
            java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(Files.readAllBytes(file));
            java.nio.CharBuffer out = java.nio.CharBuffer.allocate(1 << 16);
            java.nio.charset.CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder();
            while (true) {
                java.nio.charset.CoderResult cr = dec.decode(in, out, true);
                if (cr.isError()) break;
                if (cr.isUnderflow()) return 0;
                out.clear();
            }
            long line = 1;
            for (int i = 0; i < in.position(); i++) if (in.get(i) == '\n') line++;
            return line;
        } catch (IOException e) {
            return 0;
        }
    }

    public List<Example> read(Path file) {
        truncated = 0;
        supervisionCut = 0;
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
            // Stanford Alpaca: the no-input prompt only for an empty input (a space is an input)
            String prompt = input.isEmpty() ? String.format(ALPACA_NO_INPUT, instruction)
                    : String.format(ALPACA_WITH_INPUT, instruction, input);
            e = promptCompletion(prompt, text(n, "output", where));
        } else if (n.has("prompt") && (n.has("completion") || n.has("response"))) {
            e = promptCompletion(text(n, "prompt", where), text(n, n.has("completion") ? "completion" : "response", where));
        } else {
            throw new IllegalArgumentException(where + ": unrecognized record (fields " + fields(n) + "): expected input_ids, "
                    + "prompt + completion/response, instruction + output, or messages");
        }
        checkVocabulary(e, where);
        if (e.length() > maxLen) {
            truncated++;
            boolean had = e.supervised() > 0;
            e = e.truncate(maxLen);
            if (had && e.supervised() == 0) supervisionCut++;
        }
        return e;
    }

    private void checkVocabulary(Example e, String where) {
        int[] ids = e.inputIds(), labels = e.labels();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize)
                throw new IllegalArgumentException(where + ": token id " + ids[i] + " (position " + i + ") is outside the model's vocabulary "
                        + "(vocab_size " + vocabSize + " in config.json)");
            if (labels[i] != Example.IGNORE && (labels[i] < 0 || labels[i] >= vocabSize))
                throw new IllegalArgumentException(where + ": label " + labels[i] + " (position " + i + ") is neither -100 nor inside the "
                        + "model's vocabulary (vocab_size " + vocabSize + " in config.json)");
        }
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
            if (!arr.get(i).isIntegralNumber() || !arr.get(i).canConvertToInt())
                throw new IllegalArgumentException(where + ": " + field + "[" + i + "] is not an integer, got " + arr.get(i));
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
     * [BOS] prompt completion EOS, as TRL's prompt-completion format builds it: the EOS text is
     * appended to the completion unless it already ends with it, and the text is tokenized whole,
     * prompt + completion as one string, with what the tokenizer adds around a text (a BOS where
     * tokenizer_config.json's add_bos_token or tokenizer.json's post-processor says). The prompt's
     * tokens are those it shares with the prompt tokenized alone (masked unless trainOnInputs).
     * Tokenized apart, a SentencePiece tokenizer (Llama 2, Mistral) would start the completion
     * with a word-initial piece ("▁Sure" where the whole text has "Sure" after the prompt's
     * newline), teaching the model a token it never produces there. Where prompt and completion
     * merge into one token, that token holds completion text and is supervised (TRL counts it
     * as prompt).
     */
    Example promptCompletion(String prompt, String completion) {
        String eos = tokenizer.eosToken();
        if (eos != null && tokenizer.eosId() != null && !completion.endsWith(eos)) completion += eos;
        int[] whole = tokenizer.encode(prompt + completion), p = tokenizer.encode(prompt);
        int shared = 0;
        while (shared < p.length && shared < whole.length && p[shared] == whole[shared]) shared++;
        int[] pre = tokenizer.specialPrefix(), post = tokenizer.specialSuffix();
        if (post.length == 1 && whole.length > 0 && whole[whole.length - 1] == post[0]) post = new int[0]; // one EOS, not two
        int[] ids = new int[pre.length + whole.length + post.length], labels = new int[ids.length];
        System.arraycopy(pre, 0, ids, 0, pre.length);
        System.arraycopy(whole, 0, ids, pre.length, whole.length);
        System.arraycopy(post, 0, ids, pre.length + whole.length, post.length);
        int promptEnd = pre.length + shared;
        for (int i = 0; i < ids.length; i++) labels[i] = (trainOnInputs || i >= promptEnd) ? ids[i] : Example.IGNORE;
        return new Example(ids, labels);
    }

    /**
     * Renders the conversation once with the chat template (no BOS added: the template writes
     * its own), tokenizes it once, and supervises the assistant turns {@link ChatMasking} finds.
     * Every message field goes to the template (reasoning_content, tool_calls, name ...), as
     * transformers passes them; content must be a string. Template errors name the record.
     */
    Example chat(JsonNode n, String where) {
        JsonNode msgs = n.get("messages");
        if (!msgs.isArray() || msgs.isEmpty()) throw new IllegalArgumentException(where + ": messages must be a non-empty array");
        List<Map<String, Object>> messages = new ArrayList<>();
        for (JsonNode m : msgs) {
            if (!m.isObject() || !m.has("role") || !m.has("content"))
                throw new IllegalArgumentException(where + ": every message needs role and content");
            if (!m.get("role").isTextual())
                throw new IllegalArgumentException(where + ": a message's role must be a string, got " + kind(m.get("role")));
            if (!m.get("content").isTextual()) // a list of content parts would render as its Python repr
                throw new IllegalArgumentException(where + ": a message's content must be a string, got " + kind(m.get("content")));
            messages.add(JSON.convertValue(m, new com.fasterxml.jackson.core.type.TypeReference<LinkedHashMap<String, Object>>() {}));
        }
        if (!tokenizer.hasChatTemplate())
            throw new IllegalArgumentException(where + ": a chat record needs the model's chat template (chat_template.jinja, or chat_template in tokenizer_config.json)");
        ChatTemplate tpl = tokenizer.chat();
        dev.asft.trainer.data.jinja.JinjaTemplate.Rendered full;
        try {
            full = tpl.render(messages, false);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage());
        }
        Tokenizer.Encoded enc = tokenizer.encodeWithOffsets(full.text());
        if (trainOnInputs) return new Example(enc.ids(), enc.ids().clone());
        return new Example(enc.ids(), ChatMasking.labels(enc, ChatMasking.assistantSpans(tpl, tokenizer, messages, full, where)));
    }

    private static String kind(JsonNode v) {
        return v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    }
}
