package dev.asft.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.io.SafetensorsWriter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Running out of memory inside the sharded step's worker threads ends the command with exit 3 and
 * one line, within seconds. It used to hang for good: the lane thread died of the error, the
 * JVM's handler could not print it (no memory), the step waited for the lane forever, and
 * SIGTERM could not be dispatched either. The activations are off-heap tensors (the step runs in
 * a 64 MiB heap), so the child JVM gets an off-heap limit (JavaCPP's maxBytes) below what the
 * step needs, with a small heap too.
 */
class OutOfMemoryTest {
    @TempDir
    Path dir;

    /** A weight of 0.01 everywhere (all-zero weights take other paths through the step: no heap exhaustion there). */
    private static Tensor filled(long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        java.util.Arrays.fill(v, 0.01f);
        return Tensor.of(DType.F32, v, shape);
    }

    @Test
    void heapExhaustedInTheLanesIsExitThreeWithinSeconds() throws Exception {
        Path model = dir.resolve("m");
        Files.createDirectories(model);
        int h = 1024, inter = 2816, vocab = 1000, kv = 256;
        Map<String, Tensor> w = new LinkedHashMap<>();
        w.put("model.embed_tokens.weight", filled(vocab, h));
        w.put("model.norm.weight", filled(h));
        w.put("lm_head.weight", filled(vocab, h));
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".";
            w.put(p + "input_layernorm.weight", filled(h));
            w.put(p + "post_attention_layernorm.weight", filled(h));
            w.put(p + "self_attn.q_proj.weight", filled(h, h));
            w.put(p + "self_attn.k_proj.weight", filled(kv, h));
            w.put(p + "self_attn.v_proj.weight", filled(kv, h));
            w.put(p + "self_attn.o_proj.weight", filled(h, h));
            w.put(p + "mlp.gate_proj.weight", filled(inter, h));
            w.put(p + "mlp.up_proj.weight", filled(inter, h));
            w.put(p + "mlp.down_proj.weight", filled(h, inter));
        }
        SafetensorsWriter.write(model.resolve("model.safetensors"), w);
        Files.writeString(model.resolve("config.json"), "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", "
                + "\"hidden_size\": 1024, \"intermediate_size\": 2816, \"num_hidden_layers\": 2, \"num_attention_heads\": 16, "
                + "\"num_key_value_heads\": 4, \"vocab_size\": 1000, \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, "
                + "\"max_position_embeddings\": 2048, \"hidden_act\": \"silu\", \"bos_token_id\": 1, \"eos_token_id\": 2}");
        StringBuilder data = new StringBuilder();
        for (int r = 0; r < 16; r++) {
            List<Integer> ids = new ArrayList<>();
            for (int j = 0; j < 256; j++) ids.add((j * 7 + r) % 60 + 4);
            data.append("{\"input_ids\": ").append(ids).append("}\n");
        }
        Files.writeString(dir.resolve("d.jsonl"), data.toString());
        // Off-heap limits well below where the step fits (the weights take ~100 MB); where the error
        // strikes (loading, the forward, the backward, a lane or the main thread) depends on the limit.
        for (String heap : System.getProperty("oomLimits", "150m,250m,400m").split(",")) {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            ProcessBuilder pb = new ProcessBuilder(java, "-Xmx96m", "-Dorg.bytedeco.javacpp.maxBytes=" + heap, "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0",
                    "-cp", System.getProperty("java.class.path"), "dev.asft.trainer.cli.AsftCli", "train", "--model", model.toString(),
                    "--data", dir.resolve("d.jsonl").toString(), "--batch-size", "16", "--lambda", "0", "--steps", "1",
                    "--out", dir.resolve("out-" + heap).toString());
            pb.redirectErrorStream(true);
            Process proc = pb.start();
            boolean ended = proc.waitFor(Long.getLong("oomWait", 60), TimeUnit.SECONDS);
            if (!ended) proc.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(ended, "off-heap limit " + heap + ": still running after 60 s\n" + out);
            assertEquals(3, proc.exitValue(), "off-heap limit " + heap + ":\n" + out);
            assertTrue(out.contains("asft train: error: out of memory"), out);
            assertTrue(out.lines().noneMatch(l -> l.startsWith("\tat ") || l.contains("Exception in thread")), "no stack trace:\n" + out);
            assertTrue(!Files.exists(dir.resolve("out-" + heap)), "nothing written");
        }
    }
}
