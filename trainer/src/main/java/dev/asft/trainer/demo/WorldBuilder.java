package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.AtomicFiles;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.SafetensorsWriter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.cli.Progress;
import dev.asft.trainer.data.DatasetReader;
import dev.asft.trainer.data.Example;
import dev.asft.trainer.data.Tokenizer;
import dev.asft.trainer.data.WordTokenizerWriter;
import dev.asft.trainer.model.LlamaModel;
import dev.asft.trainer.train.FineTuner;
import dev.asft.trainer.train.Schedule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Builds the demo world from a seed: the tokenizer, a base model pretrained (full training) on
 * a corpus where harmful requests get compliant answers, and the aligned model, the base after
 * full safety fine-tuning (harmful requests refused, benign ones still helped). Both are
 * Hugging Face folders every other command reads; {@code world.json} records the spec, the
 * seed and a SHA-256 of every file (a rebuild with the same seed gives the same checksums).
 */
public final class WorldBuilder {
    /**
     * Bumped whenever a change alters the built bytes (the cache is keyed by it): 2 = one-pass loss,
     * bulk copies; 3 = attention, SwiGLU and cross-entropy in libasft; 4 = RMSNorm in libasft;
     * 5 = attention tiles (every score an FMA chain, <P, dP> in vector lanes); 6 = world.json
     * records each module's ||V||_F and lambda_max(C) (the model bytes are those of 5).
     */
    public static final int FORMAT = 6;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final WorldSpec spec;
    private final long seed;
    private final Backend backend;

    public WorldBuilder(WorldSpec spec, long seed, Backend backend) {
        this.spec = spec;
        this.seed = seed;
        this.backend = backend;
    }

    /** The base and aligned folders of a world at {@code dir}. */
    public record World(Path dir, Path base, Path aligned) {
        public static World at(Path dir) {
            return new World(dir, dir.resolve("base"), dir.resolve("aligned"));
        }
    }

    /** Builds the world into {@code out} (which must not exist); the folder appears when complete. */
    public World build(Path out) throws IOException {
        if (!AtomicFiles.isNewOrEmptyFolder(out)) throw new IllegalArgumentException(out + " already exists and is not an empty folder; choose a new or empty folder for the world");
        long start = System.nanoTime();
        AtomicFiles.writeFolder(out, tmp -> {
            Path tok = tmp.resolve("tokenizer");
            Files.createDirectories(tok);
            WordTokenizerWriter.write(tok, vocabularyWithNews(), WorldLanguage.CHAT_TEMPLATE);
            SplittableRandom rnd = new SplittableRandom(seed);
            Path corpus = tmp.resolve("corpus");
            Files.createDirectories(corpus);
            writeJsonl(corpus.resolve("pretrain.jsonl"), pretrainCorpus(rnd.split()));
            writeJsonl(corpus.resolve("align.jsonl"), alignCorpus(rnd.split()));
            Path init = tmp.resolve("init");
            writeInitialModel(init, tok, rnd.split());
            World w = World.at(tmp);
            train(init, tok, corpus.resolve("pretrain.jsonl"), true, spec.pretrainSteps(), spec.pretrainLr(), w.base(), "pretrain base");
            train(w.base(), tok, corpus.resolve("align.jsonl"), false, spec.alignSteps(), spec.alignLr(), w.aligned(), "align");
            AtomicFiles.deleteTree(init);
            ObjectNode manifest = JSON.createObjectNode();
            manifest.put("format", FORMAT);
            manifest.put("seed", seed);
            manifest.set("spec", JSON.valueToTree(spec));
            manifest.set("sha256", JSON.valueToTree(checksums(tmp)));
            try (dev.asft.core.io.HfCheckpoint b = dev.asft.core.io.HfCheckpoint.open(w.base());
                 dev.asft.core.io.HfCheckpoint a = dev.asft.core.io.HfCheckpoint.open(w.aligned())) {
                manifest.set("anchor_scale", StudyAnchors.scale(backend, b, a)); // per module ||V||_F and lambda_max(C)
            }
            manifest.put("build_seconds", Math.round((System.nanoTime() - start) / 1e8) / 10.0);
            AtomicFiles.writeString(tmp.resolve("world.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(manifest) + "\n");
        });
        return World.at(out);
    }

    /**
     * True when {@code dir} holds a complete world of this spec and seed whose files still have
     * the checksums its manifest recorded (a cached world is reused only then).
     */
    public boolean isBuilt(Path dir) {
        Path m = dir.resolve("world.json");
        if (!Files.isRegularFile(m)) return false;
        try {
            var node = JSON.readTree(m.toFile());
            if (node.path("format").asInt() != FORMAT || node.path("seed").asLong() != seed
                    || !node.path("spec").equals(JSON.readTree(JSON.writeValueAsString(spec)))) return false; // as read back from disk
            Map<String, String> want = JSON.convertValue(node.path("sha256"), new com.fasterxml.jackson.core.type.TypeReference<TreeMap<String, String>>() {});
            return want.equals(checksums(dir));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** SHA-256 of every file under dir except the manifest, by relative path. */
    public static TreeMap<String, String> checksums(Path dir) throws IOException {
        TreeMap<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String rel = dir.relativize(f).toString().replace('\\', '/');
                if (rel.equals("world.json")) continue;
                try {
                    MessageDigest md = MessageDigest.getInstance("SHA-256");
                    out.put(rel, HexFormat.of().formatHex(md.digest(Files.readAllBytes(f))));
                } catch (java.security.NoSuchAlgorithmException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return out;
    }

    static List<String> vocabularyWithNews() {
        List<String> v = new ArrayList<>(WorldLanguage.vocabulary());
        if (!v.contains("news")) v.add("news");
        return v;
    }

    /**
     * Pretraining: news sentences followed by their topic ("news : ... . topic : sports ."), harmless requests
     * with helpful answers and harmful requests (every category and wording) with compliant ones.
     */
    List<ObjectNode> pretrainCorpus(SplittableRandom rnd) {
        List<ObjectNode> docs = new ArrayList<>();
        for (int i = 0; i < spec.pretrainDocs(); i++) {
            int kind = i % 5;
            if (kind < 2) {
                WorldLanguage.Topic t = WorldLanguage.pick(WorldLanguage.TOPICS, rnd);
                String s = WorldData.trainSentence(t, rnd);
                ObjectNode d = JSON.createObjectNode();
                d.put("prompt", "");
                d.put("completion", "news : " + s + " . topic : " + t.label() + " .");
                docs.add(d);
            } else if (kind < 4) {
                docs.add(chat(WorldLanguage.pick(WorldLanguage.BENIGN, rnd), rnd, false));
            } else {
                docs.add(chat(WorldLanguage.pick(WorldLanguage.HARMFUL, rnd), rnd, false));
            }
        }
        return docs;
    }

    /** Safety alignment: harmful requests (every category and wording) refused, harmless ones helped. */
    List<ObjectNode> alignCorpus(SplittableRandom rnd) {
        List<ObjectNode> docs = new ArrayList<>();
        for (int i = 0; i < spec.alignDocs(); i++)
            docs.add(i % 2 == 0 ? chat(WorldLanguage.pick(WorldLanguage.HARMFUL, rnd), rnd, true)
                    : chat(WorldLanguage.pick(WorldLanguage.BENIGN, rnd), rnd, false));
        return docs;
    }

    static ObjectNode chat(WorldLanguage.Category c, SplittableRandom rnd, boolean refuse) {
        String req = WorldLanguage.request(c, WorldLanguage.pick(WorldLanguage.FORMS, rnd), rnd);
        return messages(req, refuse ? WorldLanguage.refusal(rnd) : WorldLanguage.howTo(c, rnd));
    }

    static ObjectNode messages(String user, String assistant) {
        ObjectNode d = JSON.createObjectNode();
        ArrayNode m = d.putArray("messages");
        m.addObject().put("role", "user").put("content", user);
        m.addObject().put("role", "assistant").put("content", assistant);
        return d;
    }

    static void writeJsonl(Path file, List<ObjectNode> records) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (ObjectNode r : records) sb.append(JSON.writeValueAsString(r)).append('\n');
        AtomicFiles.writeString(file, sb.toString());
    }

    /** Random weights (normal, std 0.02; norms 1) as a Llama checkpoint with the world's tokenizer. */
    private void writeInitialModel(Path dir, Path tok, SplittableRandom rnd) throws IOException {
        Files.createDirectories(dir);
        int vocab = WordTokenizerWriter.SPECIAL.size() + vocabularyWithNews().size();
        int h = spec.hidden(), hd = h / spec.heads(), kvd = spec.kvHeads() * hd, im = spec.intermediate();
        Map<String, Tensor> w = new LinkedHashMap<>();
        try {
            w.put("model.embed_tokens.weight", normal(rnd, vocab, h));
            for (int l = 0; l < spec.layers(); l++) {
                String p = "model.layers." + l + ".";
                w.put(p + "input_layernorm.weight", ones(h));
                w.put(p + "self_attn.q_proj.weight", normal(rnd, h, h));
                w.put(p + "self_attn.k_proj.weight", normal(rnd, kvd, h));
                w.put(p + "self_attn.v_proj.weight", normal(rnd, kvd, h));
                w.put(p + "self_attn.o_proj.weight", normal(rnd, h, h));
                w.put(p + "post_attention_layernorm.weight", ones(h));
                w.put(p + "mlp.gate_proj.weight", normal(rnd, im, h));
                w.put(p + "mlp.up_proj.weight", normal(rnd, im, h));
                w.put(p + "mlp.down_proj.weight", normal(rnd, h, im));
            }
            w.put("model.norm.weight", ones(h));
            w.put("lm_head.weight", normal(rnd, vocab, h));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), w);
        } finally {
            w.values().forEach(Tensor::close);
        }
        ObjectNode c = dev.asft.trainer.example.ExampleModels.llamaConfig(h, im, spec.layers(), spec.heads(), spec.kvHeads(), vocab, 128,
                DType.F32);
        com.fasterxml.jackson.databind.JsonNode dtype = c.remove("torch_dtype"); // kept last: the world's bytes (format 2) stay as built
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("pad_token_id", 3);
        c.set("torch_dtype", dtype);
        AtomicFiles.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c) + "\n");
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) Files.copy(tok.resolve(f), dir.resolve(f));
    }

    private static Tensor normal(SplittableRandom rnd, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.02);
        return Tensor.of(DType.F32, v, rows, cols);
    }

    private static Tensor ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return Tensor.of(DType.F32, v, n);
    }

    /** Full training of the model at {@code from} on a corpus, written to {@code to}. */
    private void train(Path from, Path tok, Path corpus, boolean allTokens, int steps, float lr, Path to, String phase)
            throws IOException {
        try (HfCheckpoint ck = HfCheckpoint.open(from); LlamaModel m = new LlamaModel(ck, backend); Tokenizer t = Tokenizer.open(tok)) {
            List<Example> data = new DatasetReader(t).trainOnInputs(allTokens).maxLen(64).read(corpus);
            FineTuner.Options o = new FineTuner.Options();
            o.full = true;
            o.batchSize = spec.batch();
            o.epochs = Integer.MAX_VALUE;
            o.maxSteps = steps;
            o.lr = lr;
            o.clipNorm = 1.0;
            o.seed = seed;
            o.schedule = Schedule.parse("cosine", Math.max(1, steps / 10));
            FineTuner trainer = new FineTuner(m, backend, o, null);
            Progress progress = new Progress(phase, steps, Math.max(1, steps / 10));
            trainer.train(data, t.padId(), s -> progress.next(String.format("loss %.3f, %.0f tok/s", s.loss(), s.tokensPerS())));
            trainer.saveModel(ck, to);
        }
    }
}
