package dev.asft.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorBuilder;
import dev.asft.core.anchor.DenseAnchor;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsWriter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.cli.AsftCli;
import dev.asft.trainer.example.ExampleModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The asft CLI end to end on the tiny example checkpoints, including its error paths. */
public class CliTest {
    @TempDir
    Path dir;

    public record Run(int code, String out, String err) {
        public String lastLine() {
            String[] lines = out.strip().split("\n");
            return lines[lines.length - 1];
        }
    }

    public static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = AsftCli.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private ExampleModels.Paths example() throws IOException {
        ExampleModels em = new ExampleModels();
        em.seed = System.nanoTime();
        return em.write(dir.resolve("ex"));
    }

    @Test
    void regularizerJsonMatchesTheJavaReference() throws Exception {
        ExampleModels.Paths p = example();
        Run r = run("regularizer", "--base", p.base().toString(), "--aligned", p.aligned().toString(),
                "--adapter", p.adapter().toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.lastLine());
        assertEquals(4, j.get("modules").size());
        assertTrue(j.get("modules").has("model.layers.1.self_attn.v_proj"));
        // Independent path: C form, Java backend, dense formula.
        double total = 0;
        JavaBackend java = new JavaBackend();
        try (HfCheckpoint b = HfCheckpoint.open(p.base()); HfCheckpoint a = HfCheckpoint.open(p.aligned());
             PeftAdapter ad = PeftAdapter.read(p.adapter());
             Anchor c = new AnchorBuilder(java).form(AnchorForm.C).build(b, a, null)) {
            for (Map.Entry<String, PeftAdapter.Lora> e : ad.modules().entrySet()) {
                double v = java.literalRegularizer(((DenseAnchor) c.get(e.getKey())).matrix(), e.getValue().a(), e.getValue().b(), null, null, 0f);
                assertEquals(v, j.get("modules").get(e.getKey()).asDouble(), 1e-5 * v, e.getKey());
                total += v;
            }
        }
        assertEquals(total, j.get("total").asDouble(), 1e-5 * total);
        // The bf16 anchor and the java device give the same answer within bf16 precision.
        Run rb = run("regularizer", "--base", p.base().toString(), "--aligned", p.aligned().toString(),
                "--adapter", p.adapter().toString(), "--json", "--dtype", "bf16", "--device", "java");
        assertEquals(0, rb.code(), rb.err());
        assertEquals(total, new ObjectMapper().readTree(rb.lastLine()).get("total").asDouble(), 1e-2 * total);
    }

    /** A command that runs out of heap ends with one line saying what to do (exit 3), not a stack trace. */
    @Test
    void runningOutOfHeapIsOneClearLine() throws Exception {
        ExampleModels.Paths p = example();
        // One sequence of 8192 tokens: its attention scores alone (8192^2 floats per head) are far
        // beyond a 48 MiB heap. (A long batch would not do: a step runs it a shard at a time.)
        StringBuilder sb = new StringBuilder("{\"input_ids\": [");
        for (int t = 0; t < 8192; t++) sb.append(t == 0 ? "" : ",").append(4 + t % 90);
        sb.append("]}\n");
        Path data = dir.resolve("long.jsonl");
        Files.writeString(data, sb.toString());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process proc = new ProcessBuilder(java, "-Xmx48m", "-cp", System.getProperty("java.class.path"), AsftCli.class.getName(),
                "train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", dir.resolve("oom").toString(),
                "--batch-size", "1", "--max-len", "8192", "--steps", "1", "--lambda", "0", "--device", "java").redirectErrorStream(true).start();
        String output = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(3, proc.waitFor(), output);
        assertTrue(output.contains("asft train: error: out of memory") && output.contains("ASFT_JAVA_OPTS=-Xmx"), output);
        assertTrue(!output.contains("\tat "), "no stack trace: " + output);
        assertTrue(!Files.exists(dir.resolve("oom")), "no output folder");
    }

    @Test
    void exampleCommandAgreesWithTheDenseFormula() {
        Run r = run("example", "--out", dir.resolve("example").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("largest relative difference"), r.out());
    }

    @Test
    void adapterModuleMissingFromTheModelIsAClearError() throws Exception {
        ExampleModels.Paths p = example();
        Path bad = dir.resolve("bad-adapter");
        Files.createDirectories(bad);
        Files.copy(p.adapter().resolve("adapter_config.json"), bad.resolve("adapter_config.json"));
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight", Tensor.zeros(DType.F32, 8, 64));
        t.put("base_model.model.model.layers.7.self_attn.q_proj.lora_B.weight", Tensor.zeros(DType.F32, 64, 8));
        SafetensorsWriter.write(bad.resolve("adapter_model.safetensors"), t);
        Run r = run("regularizer", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--adapter", bad.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("model.layers.7.self_attn.q_proj is not in the model"), r.err());
    }

    @Test
    void baseAndAlignedShapeMismatchIsAClearError() throws Exception {
        ExampleModels.Paths p = example();
        ExampleModels other = new ExampleModels();
        other.hidden = 32;
        other.heads = 2;
        other.kvHeads = 1;
        ExampleModels.Paths q = other.write(dir.resolve("other"));
        Run r = run("regularizer", "--base", q.base().toString(), "--aligned", p.aligned().toString(),
                "--adapter", p.adapter().toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("differs from base shape"), r.err());
    }

    @Test
    void missingFolderAndBadOptionsAreClearErrors() throws Exception {
        ExampleModels.Paths p = example();
        Run r = run("regularizer", "--base", dir.resolve("nope").toString(), "--aligned", p.aligned().toString(),
                "--adapter", p.adapter().toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nope: not a folder"), r.err());
        Run d = run("regularizer", "--base", p.base().toString(), "--aligned", p.aligned().toString(),
                "--adapter", p.adapter().toString(), "--dtype", "f8");
        assertEquals(2, d.code());
        assertTrue(d.err().contains("unknown dtype"), d.err());
        Run c = run("bench", "regularizer", "--rank", "0");
        assertEquals(2, c.code());
        assertTrue(c.err().contains("--rank must be positive"), c.err());
        Run cuda = run("bench", "regularizer", "--device", "cuda", "--d-out", "8", "--d-in", "8", "--seconds", "0.01");
        // No GPU on CI machines: a clear reason, not a crash (on a GPU machine this runs).
        if (!dev.asft.core.backend.CudaBackend.available()) {
            assertEquals(2, cuda.code());
            assertTrue(cuda.err().contains("asft bench regularizer: error: cuda backend unavailable"), cuda.err());
        }
    }

    @Test
    void benchReportsEveryKey() throws Exception {
        for (String device : new String[] {"cpu", "java"}) {
            Run r = run("bench", "regularizer", "--d-out", "96", "--d-in", "64", "--rank", "4", "--modules", "2",
                    "--seconds", "0.05", "--device", device, "--json");
            assertEquals(0, r.code(), r.err());
            JsonNode j = new ObjectMapper().readTree(r.lastLine());
            for (String k : new String[] {"ms_per_module", "anchor_bytes", "anchor_gb_per_s", "stream_gb_per_s", "literal_ms_per_module"})
                assertTrue(j.has(k), k + " in " + j);
            assertEquals(96L * 96 * 4, j.get("anchor_bytes").asLong());
            assertTrue(j.get("ms_per_module").asDouble() > 0);
            assertTrue(j.get("literal_ms_per_module").isNumber());
        }
        Run big = run("bench", "regularizer", "--d-out", "1024", "--d-in", "1024", "--rank", "2", "--modules", "1",
                "--seconds", "0.01", "--device", "java", "--json");
        assertTrue(new ObjectMapper().readTree(big.lastLine()).get("literal_ms_per_module").isNull(), "too slow on java: null");
        // a low-rank mode is also timed against code mode in the same run
        Run low = run("bench", "regularizer", "--d-out", "96", "--d-in", "64", "--rank", "4", "--modules", "2",
                "--seconds", "0.05", "--mode", "compressed:8", "--json");
        assertEquals(0, low.code(), low.err());
        assertTrue(low.out().contains("vs code mode"), low.out());
        JsonNode lj = new ObjectMapper().readTree(low.lastLine());
        for (String k : new String[] {"code_ms_per_module", "lowrank_ms_per_module_alternating", "speedup_vs_code",
                "speedup_vs_code_min", "speedup_vs_code_max"})
            assertTrue(lj.has(k) && lj.get(k).asDouble() > 0, k + " in " + lj);
        assertTrue(lj.get("speedup_vs_code_min").asDouble() <= lj.get("speedup_vs_code").asDouble()
                && lj.get("speedup_vs_code").asDouble() <= lj.get("speedup_vs_code_max").asDouble(), lj.toString());
        Run code = run("bench", "regularizer", "--d-out", "96", "--d-in", "64", "--rank", "4", "--modules", "1", "--seconds", "0.01",
                "--json");
        assertEquals(0, code.code(), code.err());
        assertFalse(new ObjectMapper().readTree(code.lastLine()).has("speedup_vs_code"), "code mode: nothing to compare with");
    }

    @Test
    void benchTrainRunsATinyModelWithMaskedPrompts() throws Exception {
        Run r = run("bench", "train", "--hidden", "32", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--intermediate", "48",
                "--vocab", "50", "--batch", "2", "--seq", "16", "--prompt", "10", "--steps", "2", "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(10 prompt tokens each)"), r.out());
        JsonNode j = new ObjectMapper().readTree(r.lastLine());
        for (String k : new String[] {"tokens_per_s", "s_per_step", "s_per_step_median", "mfu", "sgemm_gflop_per_s"})
            assertTrue(j.has(k) && j.get(k).asDouble() > 0, k + " in " + j);
        Run bad = run("bench", "train", "--seq", "16", "--prompt", "16");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--prompt must be in 0..15"), bad.err());
    }

    @Test
    void helpAndVersion() {
        assertEquals(0, run("--version").code());
        Run h = run("--help");
        assertEquals(0, h.code());
        assertTrue(h.out().contains("regularizer") && h.out().contains("bench"));
        assertEquals(0, run("regularizer", "--help").code());
        assertEquals(0, run("bench", "regularizer", "--help").code());
    }
}
