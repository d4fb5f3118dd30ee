package dev.asft.trainer.example;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.io.AtomicFiles;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsWriter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A tiny (base, aligned, adapter) triple with Llama tensor names, written as real Hugging Face
 * and PEFT folders: the example that {@code asft example} and the tests run the normal loading
 * path on. The aligned model is the base plus a low-rank "alignment" update in the attention
 * projections, as safety tuning leaves it.
 */
public final class ExampleModels {
    public int layers = 2, hidden = 64, heads = 4, kvHeads = 2, intermediate = 128, vocab = 96, rank = 8;
    public DType dtype = DType.BF16;
    public long seed = 42;

    public record Paths(Path base, Path aligned, Path adapter) {}

    public Paths write(Path dir) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        int headDim = hidden / heads, kvDim = kvHeads * headDim;
        Map<String, float[]> base = new LinkedHashMap<>(), aligned = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        put(base, shapes, "model.embed_tokens.weight", rnd, 0.02, vocab, hidden);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            put(base, shapes, p + "input_layernorm.weight", null, 1, hidden);
            put(base, shapes, p + "self_attn.q_proj.weight", rnd, 0.05, hidden, hidden);
            put(base, shapes, p + "self_attn.k_proj.weight", rnd, 0.05, kvDim, hidden);
            put(base, shapes, p + "self_attn.v_proj.weight", rnd, 0.05, kvDim, hidden);
            put(base, shapes, p + "self_attn.o_proj.weight", rnd, 0.05, hidden, hidden);
            put(base, shapes, p + "post_attention_layernorm.weight", null, 1, hidden);
            put(base, shapes, p + "mlp.gate_proj.weight", rnd, 0.05, intermediate, hidden);
            put(base, shapes, p + "mlp.up_proj.weight", rnd, 0.05, intermediate, hidden);
            put(base, shapes, p + "mlp.down_proj.weight", rnd, 0.05, hidden, intermediate);
        }
        put(base, shapes, "model.norm.weight", null, 1, hidden);
        put(base, shapes, "lm_head.weight", rnd, 0.02, vocab, hidden);
        for (Map.Entry<String, float[]> e : base.entrySet()) {
            float[] w = e.getValue().clone();
            long[] s = shapes.get(e.getKey());
            if (e.getKey().contains("self_attn.")) addLowRank(w, (int) s[0], (int) s[1], 4, 0.02, rnd);
            aligned.put(e.getKey(), w);
        }
        Paths paths = new Paths(dir.resolve("base"), dir.resolve("aligned"), dir.resolve("adapter"));
        writeModel(paths.base(), base, shapes);
        writeModel(paths.aligned(), aligned, shapes);
        writeAdapter(paths.adapter(), shapes, rnd);
        return paths;
    }

    private static void put(Map<String, float[]> m, Map<String, long[]> shapes, String name, SplittableRandom rnd,
                            double scale, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = rnd == null ? (float) scale : (float) ((rnd.nextDouble() * 2 - 1) * scale);
        m.put(name, v);
        shapes.put(name, shape);
    }

    private static void addLowRank(float[] w, int rows, int cols, int k, double scale, SplittableRandom rnd) {
        for (int t = 0; t < k; t++) {
            double[] u = new double[rows], v = new double[cols];
            for (int i = 0; i < rows; i++) u[i] = rnd.nextGaussian();
            for (int j = 0; j < cols; j++) v[j] = rnd.nextGaussian();
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) w[i * cols + j] += (float) (scale * u[i] * v[j] / Math.sqrt(rows));
        }
    }

    private void writeModel(Path dir, Map<String, float[]> weights, Map<String, long[]> shapes) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, float[]> e : weights.entrySet())
                tensors.put(e.getKey(), Tensor.of(dtype, e.getValue(), shapes.get(e.getKey())));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        ObjectNode c = llamaConfig(hidden, intermediate, layers, heads, kvHeads, vocab, 256, dtype);
        AtomicFiles.writeString(dir.resolve("config.json"), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(c) + "\n");
    }

    /** A Llama config.json (untied head, rms_norm_eps 1e-5, rope_theta 1e4) for the synthetic models this project writes. */
    public static ObjectNode llamaConfig(int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab, int maxPositions,
                                         DType dtype) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", hidden);
        c.put("intermediate_size", intermediate);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        c.put("vocab_size", vocab);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("max_position_embeddings", maxPositions);
        c.put("tie_word_embeddings", false);
        c.put("torch_dtype", dtype == DType.BF16 ? "bfloat16" : dtype == DType.F16 ? "float16" : "float32");
        return c;
    }

    private void writeAdapter(Path dir, Map<String, long[]> shapes, SplittableRandom rnd) throws IOException {
        Map<String, PeftAdapter.Lora> modules = new LinkedHashMap<>();
        List<String> targets = List.of("q_proj", "v_proj");
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String module = e.getKey().substring(0, e.getKey().length() - ".weight".length());
            if (!module.endsWith(".q_proj") && !module.endsWith(".v_proj")) continue;
            long dOut = e.getValue()[0], dIn = e.getValue()[1];
            float[] a = new float[Math.toIntExact(rank * dIn)], b = new float[Math.toIntExact(dOut * rank)];
            double bound = 1.0 / Math.sqrt(dIn); // PEFT's Kaiming-uniform(a = sqrt 5) bound
            for (int i = 0; i < a.length; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
            for (int i = 0; i < b.length; i++) b[i] = (float) ((rnd.nextDouble() * 2 - 1) * 0.05); // a trained B is non-zero
            modules.put(module, new PeftAdapter.Lora(Tensor.of(DType.F32, a, rank, dIn), Tensor.of(DType.F32, b, dOut, rank)));
        }
        try (PeftAdapter ad = new PeftAdapter(PeftAdapter.newConfig(rank, 32, new ArrayList<>(targets), false, 0.05,
                "asft-example-aligned"), modules)) {
            ad.write(dir);
        }
    }
}
