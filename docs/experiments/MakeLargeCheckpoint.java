// Writes a random Llama checkpoint of a real model's shape (default: TinyLlama-1.1B, bf16,
// 1.1 B parameters, 2.2 GB) one tensor at a time, for the memory measurements in
// docs/PERFORMANCE.md. Run: java -cp trainer/target/asft.jar docs/experiments/MakeLargeCheckpoint.java OUT_DIR
import dev.asft.core.io.StreamingSafetensorsWriter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

public class MakeLargeCheckpoint {
    public static void main(String[] args) throws Exception {
        int hidden = 2048, layers = 22, heads = 32, kv = 4, inter = 5632, vocab = 32000, hd = hidden / heads;
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new long[] {vocab, hidden});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            shapes.put(p + "input_layernorm.weight", new long[] {hidden});
            shapes.put(p + "self_attn.q_proj.weight", new long[] {hidden, hidden});
            shapes.put(p + "self_attn.k_proj.weight", new long[] {kv * hd, hidden});
            shapes.put(p + "self_attn.v_proj.weight", new long[] {kv * hd, hidden});
            shapes.put(p + "self_attn.o_proj.weight", new long[] {hidden, hidden});
            shapes.put(p + "post_attention_layernorm.weight", new long[] {hidden});
            shapes.put(p + "mlp.gate_proj.weight", new long[] {inter, hidden});
            shapes.put(p + "mlp.up_proj.weight", new long[] {inter, hidden});
            shapes.put(p + "mlp.down_proj.weight", new long[] {hidden, inter});
        }
        shapes.put("model.norm.weight", new long[] {hidden});
        shapes.put("lm_head.weight", new long[] {vocab, hidden});
        Path out = Path.of(args[0]);
        Files.createDirectories(out);
        List<StreamingSafetensorsWriter.Spec> specs = new ArrayList<>();
        shapes.forEach((n, s) -> specs.add(new StreamingSafetensorsWriter.Spec(n, DType.BF16, s)));
        SplittableRandom rnd = new SplittableRandom(1);
        long params = 0;
        try (StreamingSafetensorsWriter w = new StreamingSafetensorsWriter(out.resolve("model.safetensors"), specs, 0)) {
            for (var e : shapes.entrySet()) {
                float[] v = new float[Math.toIntExact(Tensor.numel(e.getValue()))];
                boolean norm = e.getValue().length == 1;
                for (int i = 0; i < v.length; i++) v[i] = norm ? 1f : (float) (rnd.nextGaussian() * 0.02);
                params += v.length;
                try (Tensor t = Tensor.of(DType.BF16, v, e.getValue())) {
                    w.put(e.getKey(), t);
                }
            }
            w.finish(Map.of());
        }
        Files.writeString(out.resolve("config.json"), String.format("{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", "
                + "\"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d, "
                + "\"num_key_value_heads\": %d, \"vocab_size\": %d, \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, "
                + "\"max_position_embeddings\": 2048, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\"}%n",
                hidden, inter, layers, heads, kv, vocab));
        System.out.println("wrote " + params + " parameters to " + out);
    }
}
