package dev.asft.trainer;

import static dev.asft.trainer.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorFile;
import dev.asft.core.anchor.DenseAnchor;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsException;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.example.ExampleModels;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Anchor files, Safe LoRA and merge through the CLI, on the example checkpoints. */
class AnchorCliTest {
    @TempDir
    Path dir;

    ExampleModels.Paths p;
    final ObjectMapper json = new ObjectMapper();

    @BeforeEach
    void example() throws IOException {
        ExampleModels em = new ExampleModels();
        em.seed = System.nanoTime();
        p = em.write(dir.resolve("ex"));
    }

    private double total(CliTest.Run r) throws IOException {
        assertEquals(0, r.code(), r.out() + r.err());
        return json.readTree(r.lastLine()).get("total").asDouble();
    }

    private Path anchor(String mode, String dtype) {
        Path f = dir.resolve(mode.replace(':', '_') + "-" + dtype + ".safetensors");
        CliTest.Run r = run("anchor", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--adapter",
                p.adapter().toString(), "--mode", mode, "--dtype", dtype, "--out", f.toString(), "--json");
        assertEquals(0, r.code(), r.out() + r.err());
        return f;
    }

    @ParameterizedTest
    @ValueSource(strings = {"code", "compressed:64", "compressed:1000"})
    void anchorFileGivesTheSamePenaltyAsBuildingOnTheFly(String mode) throws IOException {
        double direct = total(run("regularizer", "--base", p.base().toString(), "--aligned", p.aligned().toString(),
                "--adapter", p.adapter().toString(), "--json"));
        Path f = anchor(mode, "f32");
        double fromFile = total(run("regularizer", "--anchor", f.toString(), "--adapter", p.adapter().toString(), "--json"));
        // compressed:k with k >= every module's rank is code mode up to rounding
        assertEquals(direct, fromFile, 1e-5 * direct, mode);
    }

    /** code-unit: stored like code mode (its C already scaled), and read back to the same penalty as built in memory. */
    @Test
    void codeUnitAnchorFileGivesTheSamePenaltyAsBuildingInMemory() throws IOException {
        double code = total(run("regularizer", "--base", p.base().toString(), "--aligned", p.aligned().toString(),
                "--adapter", p.adapter().toString(), "--json"));
        Path f = anchor("code-unit", "f32");
        double fromFile = total(run("regularizer", "--anchor", f.toString(), "--adapter", p.adapter().toString(), "--json"));
        double direct = 0;
        dev.asft.core.backend.Backend be = new dev.asft.core.backend.CpuBackend();
        try (dev.asft.core.io.HfCheckpoint base = dev.asft.core.io.HfCheckpoint.open(p.base());
             dev.asft.core.io.HfCheckpoint aligned = dev.asft.core.io.HfCheckpoint.open(p.aligned());
             dev.asft.core.io.PeftAdapter ad = dev.asft.core.io.PeftAdapter.read(p.adapter())) {
            dev.asft.core.anchor.AnchorBuilder builder = new dev.asft.core.anchor.AnchorBuilder(be)
                    .mode(dev.asft.core.anchor.AnchorMode.parse("code-unit"));
            for (var e : ad.modules().entrySet())
                try (dev.asft.core.anchor.ModuleAnchor m = builder.buildModule(base, aligned, e.getKey())) {
                    direct += m.regularize(be, e.getValue().a(), e.getValue().b(), null, null, 0f);
                }
        }
        assertEquals(direct, fromFile, 1e-5 * direct, "code-unit from its file");
        assertTrue(Math.abs(direct - code) > 1e-3 * code, "code-unit is not code mode: " + direct + " vs " + code);
    }

    @Test
    void anchorMetadataAndSummary() throws IOException {
        Path f = dir.resolve("a.safetensors");
        CliTest.Run r = run("anchor", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--targets",
                "q_proj,v_proj", "--mode", "compressed:8", "--dtype", "bf16", "--out", f.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode s = json.readTree(r.lastLine());
        JsonNode q0 = s.get("modules").get("model.layers.0.self_attn.q_proj");
        assertEquals(8, q0.get("k").asInt());
        assertEquals(64L * 8 * 2, q0.get("anchor_bytes").asLong(), "bf16 U is d_out x k x 2 bytes");
        assertTrue(q0.get("norm_v").asDouble() > 0);
        assertTrue(q0.get("error_bound").asDouble() > 0, "a bf16 compressed anchor records its bound (rounding included)");
        try (dev.asft.core.anchor.Anchor a = dev.asft.core.anchor.AnchorFile.read(f, new dev.asft.core.backend.CpuBackend(),
                dev.asft.core.backend.AnchorForm.Q)) {
            var lr = (dev.asft.core.anchor.LowRankAnchor) a.modules().get("model.layers.0.self_attn.q_proj");
            assertEquals(DType.BF16, lr.u().dtype(), "read back as stored, not widened");
            assertEquals(q0.get("error_bound").asDouble(), lr.errorBound());
        }
        try (dev.asft.core.io.SafetensorsFile sf = dev.asft.core.io.SafetensorsFile.open(f)) {
            Map<String, String> m = sf.metadata();
            assertEquals("compressed:8", m.get("asft.mode"));
            assertEquals("bf16", m.get("asft.dtype"));
            assertEquals("q_proj,v_proj", m.get("asft.targets"));
            assertTrue(m.get("asft.aligned_fingerprint").startsWith("sha256:"));
            assertEquals(DType.BF16, sf.entry("model.layers.0.self_attn.q_proj.u").dtype());
            assertEquals(DType.F64, sf.entry("model.layers.0.self_attn.q_proj.lambda").dtype());
        }
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            assertTrue(files.noneMatch(x -> x.getFileName().toString().endsWith(".tmp")), "no temporary file left");
        }
    }

    @Test
    void codeAnchorReadAsQEqualsReadAsC() throws IOException {
        Path f = anchor("code", "f32");
        CpuBackend cpu = new CpuBackend();
        try (Anchor c = AnchorFile.read(f, cpu, AnchorForm.C); Anchor q = AnchorFile.read(f, cpu, AnchorForm.Q);
             PeftAdapter ad = PeftAdapter.read(p.adapter())) {
            for (Map.Entry<String, PeftAdapter.Lora> e : ad.modules().entrySet()) {
                double vc = c.get(e.getKey()).regularize(cpu, e.getValue().a(), e.getValue().b(), null, null, 0f);
                double vq = q.get(e.getKey()).regularize(cpu, e.getValue().a(), e.getValue().b(), null, null, 0f);
                assertEquals(vc, vq, 1e-5 * vc);
                assertEquals(AnchorForm.Q, ((DenseAnchor) q.get(e.getKey())).form());
            }
        }
    }

    @Test
    void anchorForAnotherModelIsRefused() throws IOException {
        Path f = anchor("code", "f32");
        ExampleModels other = new ExampleModels();
        other.layers = 3;
        ExampleModels.Paths o = other.write(dir.resolve("other"));
        try (Anchor a = AnchorFile.read(f, new JavaBackend(), AnchorForm.C); HfCheckpoint mine = HfCheckpoint.open(p.aligned());
             HfCheckpoint theirs = HfCheckpoint.open(o.aligned())) {
            AnchorFile.checkBelongsTo(a, f, mine); // fine
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> AnchorFile.checkBelongsTo(a, f, theirs));
            assertTrue(e.getMessage().contains("different model"), e.getMessage());
        }
    }

    @Test
    void truncatedAndForeignAnchorFilesAreClearErrors() throws IOException {
        Path f = anchor("code", "bf16");
        Path cut = dir.resolve("cut.safetensors");
        Files.copy(f, cut);
        try (FileChannel ch = FileChannel.open(cut, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 100);
        }
        CliTest.Run r = run("regularizer", "--anchor", cut.toString(), "--adapter", p.adapter().toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("cut.safetensors") && r.err().contains("truncated"), r.err());
        CliTest.Run foreign = run("regularizer", "--anchor", p.base().resolve("model.safetensors").toString(), "--adapter", p.adapter().toString());
        assertEquals(2, foreign.code());
        assertTrue(foreign.err().contains("not an asft anchor file"), foreign.err());
        CliTest.Run badK = run("anchor", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--targets", "q_proj",
                "--mode", "subspace:0", "--out", dir.resolve("x.safetensors").toString());
        assertEquals(2, badK.code());
        assertTrue(badK.err().contains("k > 0"), badK.err());
    }

    /** Safe LoRA by the book, in double: cos(vec(C B A), vec(B A)) with dense C. */
    private Map<String, Double> referenceCosines() {
        Map<String, Double> out = new LinkedHashMap<>();
        JavaBackend java = new JavaBackend();
        try (HfCheckpoint b = HfCheckpoint.open(p.base()); HfCheckpoint a = HfCheckpoint.open(p.aligned());
             PeftAdapter ad = PeftAdapter.read(p.adapter())) {
            for (Map.Entry<String, PeftAdapter.Lora> e : ad.modules().entrySet()) {
                try (Tensor c = java.codeAnchor(a.tensor(e.getKey() + ".weight"), b.tensor(e.getKey() + ".weight"), AnchorForm.C, DType.F32).matrix()) {
                    float[] cv = c.toFloatArray(), av = e.getValue().a().toFloatArray(), bv = e.getValue().b().toFloatArray();
                    int dOut = (int) e.getValue().b().dim(0), dIn = (int) e.getValue().a().dim(1), r = (int) e.getValue().a().dim(0);
                    double[] ba = new double[dOut * dIn];
                    for (int i = 0; i < dOut; i++)
                        for (int k = 0; k < r; k++)
                            for (int j = 0; j < dIn; j++) ba[i * dIn + j] += (double) bv[i * r + k] * av[k * dIn + j];
                    double num = 0, n1 = 0, n2 = 0;
                    for (int i = 0; i < dOut; i++)
                        for (int j = 0; j < dIn; j++) {
                            double cba = 0;
                            for (int k = 0; k < dOut; k++) cba += cv[i * dOut + k] * ba[k * dIn + j];
                            num += cba * ba[i * dIn + j];
                            n1 += cba * cba;
                            n2 += ba[i * dIn + j] * ba[i * dIn + j];
                        }
                    out.put(e.getKey(), num / Math.sqrt(n1 * n2));
                }
            }
        }
        return out;
    }

    @Test
    void safeLoraThresholdAndNumberModesFollowTheRule() throws IOException {
        Map<String, Double> ref = referenceCosines();
        List<Double> sorted = new ArrayList<>(ref.values());
        sorted.sort(Comparator.naturalOrder());
        double tau = (sorted.get(1) + sorted.get(2)) / 2; // projects exactly the two lowest
        Path f = anchor("code", "f32");
        Path outT = dir.resolve("safe-t"), outN = dir.resolve("safe-n");
        CliTest.Run rt = run("safelora", "--anchor", f.toString(), "--adapter", p.adapter().toString(), "--out", outT.toString(),
                "--threshold", Double.toString(tau), "--json");
        CliTest.Run rn = run("safelora", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--adapter",
                p.adapter().toString(), "--out", outN.toString(), "--num-modules", "2", "--json");
        for (CliTest.Run r : List.of(rt, rn)) {
            assertEquals(0, r.code(), r.out() + r.err());
            JsonNode j = json.readTree(r.lastLine());
            assertEquals(2, j.get("projected").asInt());
            for (JsonNode m : j.get("modules")) {
                double want = ref.get(m.get("module").asText());
                assertEquals(want, m.get("cosine").asDouble(), 1e-4, m.toString());
                assertEquals(want <= tau, m.get("projected").asBoolean(), m.toString());
            }
        }
        // The output adapter loads back: A unchanged, B = C B where projected, config copied.
        try (PeftAdapter in = PeftAdapter.read(p.adapter()); PeftAdapter outAd = PeftAdapter.read(outT)) {
            assertEquals(in.config(), outAd.config());
            for (String m : in.modules().keySet()) {
                assertArrayEquals(in.modules().get(m).a().toFloatArray(), outAd.modules().get(m).a().toFloatArray(), m);
                boolean projected = ref.get(m) <= tau;
                boolean same = java.util.Arrays.equals(in.modules().get(m).b().toFloatArray(), outAd.modules().get(m).b().toFloatArray());
                assertEquals(!projected, same, m);
            }
        }
        CliTest.Run again = run("safelora", "--anchor", f.toString(), "--adapter", p.adapter().toString(), "--out", outT.toString());
        assertEquals(2, again.code());
        assertTrue(again.err().contains("--out " + outT + ": exists and is not empty"), again.err());
    }

    @Test
    void mergeAddsScaledBAInTheInputDtypeAndSharding() throws IOException {
        // Re-shard the aligned model into two files to check that sharding is kept.
        Path sharded = dir.resolve("sharded");
        Files.createDirectories(sharded);
        Map<String, String> weightMap = new LinkedHashMap<>();
        try (HfCheckpoint a = HfCheckpoint.open(p.aligned())) {
            List<String> names = a.names();
            Map<String, Tensor> s1 = new LinkedHashMap<>(), s2 = new LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++) {
                String shard = i % 2 == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
                (i % 2 == 0 ? s1 : s2).put(names.get(i), a.tensor(names.get(i)));
                weightMap.put(names.get(i), shard);
            }
            dev.asft.core.io.SafetensorsWriter.write(sharded.resolve("model-00001-of-00002.safetensors"), s1);
            dev.asft.core.io.SafetensorsWriter.write(sharded.resolve("model-00002-of-00002.safetensors"), s2);
        }
        Files.writeString(sharded.resolve("model.safetensors.index.json"),
                json.writeValueAsString(Map.of("metadata", Map.of(), "weight_map", weightMap)));
        Files.copy(p.aligned().resolve("config.json"), sharded.resolve("config.json"));
        Files.writeString(sharded.resolve("tokenizer_config.json"), "{}");
        // An alpha_pattern gives v_proj its own scaling (16 / 8 against q_proj's 32 / 8), as PEFT applies it.
        Path adapter = dir.resolve("adapter-with-pattern");
        Files.createDirectories(adapter);
        Files.copy(p.adapter().resolve("adapter_model.safetensors"), adapter.resolve("adapter_model.safetensors"));
        com.fasterxml.jackson.databind.node.ObjectNode cfg =
                (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(Files.readString(p.adapter().resolve("adapter_config.json")));
        cfg.putObject("alpha_pattern").put("v_proj", 16);
        Files.writeString(adapter.resolve("adapter_config.json"), json.writeValueAsString(cfg));
        Path out = dir.resolve("merged");
        CliTest.Run r = run("merge", "--model", sharded.toString(), "--adapter", adapter.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(Files.exists(out.resolve("tokenizer_config.json")));
        assertTrue(Files.exists(out.resolve("model-00002-of-00002.safetensors")));
        assertFalse(Files.exists(out.resolve("model.safetensors")));
        try (HfCheckpoint in = HfCheckpoint.open(sharded); HfCheckpoint merged = HfCheckpoint.open(out);
             PeftAdapter ad = PeftAdapter.read(adapter)) {
            assertEquals(32.0 / 8, ad.scaling("model.layers.0.self_attn.q_proj"));
            assertEquals(16.0 / 8, ad.scaling("model.layers.0.self_attn.v_proj"));
            for (String name : in.names()) {
                Tensor w = in.tensor(name), m = merged.tensor(name);
                assertEquals(w.dtype(), m.dtype(), name);
                String module = name.substring(0, name.length() - ".weight".length());
                PeftAdapter.Lora l = ad.modules().get(module);
                float[] wv = w.toFloatArray(), mv = m.toFloatArray();
                if (l == null) {
                    assertArrayEquals(wv, mv, name + " unchanged");
                    continue;
                }
                double s = ad.scaling(module);
                float[] av = l.a().toFloatArray(), bv = l.b().toFloatArray();
                int dIn = (int) l.a().dim(1), rank = (int) l.a().dim(0);
                for (int i = 0; i < wv.length; i++) {
                    int row = i / dIn, col = i % dIn;
                    double ba = 0;
                    for (int k = 0; k < rank; k++) ba += (double) bv[row * rank + k] * av[k * dIn + col];
                    double want = wv[i] + s * ba;
                    // stored in bf16: within half a bf16 ulp of the sum, plus the f32 rounding of
                    // the terms (which matters where W and s B A nearly cancel)
                    double tol = Math.abs(want) * 0x1p-8 + 1e-6 * (Math.abs(wv[i]) + Math.abs(s * ba));
                    assertEquals(want, mv[i], tol, name + "[" + i + "]");
                }
            }
        }
    }
}
