package dev.asft.trainer.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.DenseAnchor;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.io.AtomicFiles;
import dev.asft.core.io.StreamingSafetensorsWriter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Half;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.example.ExampleModels;
import java.io.IOException;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * A random bf16 Llama of any size for throughput benchmarks (a 7B shape included): written
 * tensor by tensor (never the whole model in memory), values from a fast hash so that 6.7 billion
 * of them take seconds, and anchors that are random bf16 Q matrices of the code-mode shape (the
 * regularizer's cost does not depend on the values). Numbers from it measure speed, not learning.
 */
public final class SyntheticLlama {
    private SyntheticLlama() {}

    /** Writes config.json and model.safetensors into dir. */
    public static void write(Path dir, int hidden, int layers, int heads, int kvHeads, int intermediate, int vocab, int maxPositions)
            throws IOException {
        int headDim = hidden / heads, kvDim = kvHeads * headDim;
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new long[] {vocab, hidden});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            shapes.put(p + "input_layernorm.weight", new long[] {hidden});
            shapes.put(p + "self_attn.q_proj.weight", new long[] {hidden, hidden});
            shapes.put(p + "self_attn.k_proj.weight", new long[] {kvDim, hidden});
            shapes.put(p + "self_attn.v_proj.weight", new long[] {kvDim, hidden});
            shapes.put(p + "self_attn.o_proj.weight", new long[] {hidden, hidden});
            shapes.put(p + "post_attention_layernorm.weight", new long[] {hidden});
            shapes.put(p + "mlp.gate_proj.weight", new long[] {intermediate, hidden});
            shapes.put(p + "mlp.up_proj.weight", new long[] {intermediate, hidden});
            shapes.put(p + "mlp.down_proj.weight", new long[] {hidden, intermediate});
        }
        shapes.put("model.norm.weight", new long[] {hidden});
        shapes.put("lm_head.weight", new long[] {vocab, hidden});
        List<StreamingSafetensorsWriter.Spec> specs = new ArrayList<>();
        shapes.forEach((n, s) -> specs.add(new StreamingSafetensorsWriter.Spec(n, DType.BF16, s)));
        java.nio.file.Files.createDirectories(dir);
        try (StreamingSafetensorsWriter w = new StreamingSafetensorsWriter(dir.resolve("model.safetensors"), specs, 64)) {
            long salt = 1;
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                long[] s = e.getValue();
                try (Tensor t = s.length == 1 ? ones(s[0]) : random(salt++, 1.0 / Math.sqrt(s[1]), s)) {
                    w.put(e.getKey(), t);
                }
            }
            w.finish(Map.of("format", "pt"));
        }
        AtomicFiles.writeString(dir.resolve("config.json"), new ObjectMapper().writerWithDefaultPrettyPrinter()
                .writeValueAsString(ExampleModels.llamaConfig(hidden, intermediate, layers, heads, kvHeads, vocab, maxPositions, DType.BF16)) + "\n");
    }

    /** Code-mode-shaped anchors (bf16 Q, d_out x d_out) for q_proj and v_proj of every layer, random near the identity. */
    public static Anchor anchors(int hidden, int layers, int kvDim) {
        Anchor a = new Anchor();
        for (int l = 0; l < layers; l++)
            for (String m : new String[] {"q_proj", "v_proj"}) {
                int d = m.equals("q_proj") ? hidden : kvDim;
                Tensor q = random(1000 + 2L * l + (m.equals("q_proj") ? 0 : 1), 1e-3, d, d);
                ShortBuffer b = q.buffer().asShortBuffer();
                for (int i = 0; i < d; i++) b.put(i * d + i, Half.floatToBf16(1f));
                String name = "model.layers." + l + ".self_attn." + m;
                a.put(new DenseAnchor(name, d, hidden, q, AnchorForm.Q, 1.0));
            }
        return a;
    }

    private static Tensor ones(long n) {
        Tensor t = Tensor.allocate(DType.BF16, n);
        ShortBuffer b = t.buffer().asShortBuffer();
        for (int i = 0; i < n; i++) b.put(i, Half.floatToBf16(1f));
        return t;
    }

    /** Uniform values in (-scale, scale) from a hash of (salt, index), filled in parallel rows. */
    static Tensor random(long salt, double scale, long... shape) {
        Tensor t = Tensor.allocate(DType.BF16, shape);
        ShortBuffer b = t.buffer().asShortBuffer();
        int n = b.capacity(), chunk = 1 << 16;
        IntStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(c -> {
            ShortBuffer mine = b.duplicate();
            for (int i = c * chunk, end = Math.min(n, i + chunk); i < end; i++) {
                long z = (salt * 0x9E3779B97F4A7C15L) ^ (i * 0xBF58476D1CE4E5B9L);
                z = (z ^ (z >>> 31)) * 0x94D049BB133111EBL;
                double u = ((z >>> 11) * 0x1.0p-53) * 2 - 1;
                mine.put(i, Half.floatToBf16((float) (u * scale)));
            }
        });
        return t;
    }
}
