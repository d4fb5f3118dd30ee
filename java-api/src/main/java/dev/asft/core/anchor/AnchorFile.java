package dev.asft.core.anchor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.SafetensorsException;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.io.StreamingSafetensorsWriter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Anchor files: safetensors holding, per module, {@code <module>.c} (code mode: C),
 * {@code <module>.u} and {@code <module>.lambda} (subspace/compressed: U and its eigenvalues),
 * or {@code <module>.v} (direction: V), with metadata: {@code asft.format_version},
 * {@code asft.mode}, {@code asft.dtype}, {@code asft.targets}, the fingerprints of both
 * checkpoints, and {@code asft.modules} (per module: shape, ||V||_F, top eigenvalues, error
 * bound, bytes). Written one module at a time; a crash leaves no file under the final name.
 */
public final class AnchorFile {
    public static final String FORMAT_VERSION = "1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private AnchorFile() {}

    /**
     * Summary of one module, as the file's metadata and {@code asft anchor --json} report it;
     * {@code fileTensors} is what {@link ModuleAnchor#fileTensors} gave for writing it.
     */
    public static ObjectNode summary(ModuleAnchor m, DType storage, Map<String, Tensor> fileTensors) {
        ObjectNode n = JSON.createObjectNode();
        n.putArray("shape").add(m.dOut()).add(m.dIn());
        n.put("norm_v", m.normV());
        long bytes = 0; // as stored in the file (eigenvalues aside)
        for (Map.Entry<String, Tensor> t : fileTensors.entrySet())
            if (!t.getKey().equals("lambda")) bytes += t.getValue().numel() * storage.bytes();
        n.put("anchor_bytes", bytes);
        if (m instanceof LowRankAnchor lr) {
            n.put("k", lr.k());
            ArrayNode top = n.putArray("top_eigenvalues");
            ArrayNode sv = n.putArray("top_singular_values"); // of V: sigma = sqrt(lambda ||V||_F) in code mode
            for (int i = 0; i < Math.min(8, lr.k()); i++) {
                top.add(lr.lambda()[i]);
                if (lr.mode().kind() == AnchorMode.Kind.COMPRESSED) sv.add(Math.sqrt(lr.lambda()[i] * m.normV()));
            }
            if (!Double.isNaN(lr.errorBound())) n.put("error_bound", lr.errorBound());
        }
        return n;
    }

    /** The tensors (name, dtype, shape) the file holds for a module of shape [dOut x dIn]. */
    static List<StreamingSafetensorsWriter.Spec> specs(String module, long dOut, long dIn, AnchorMode mode, DType storage) {
        List<StreamingSafetensorsWriter.Spec> out = new ArrayList<>();
        switch (mode.kind()) {
            case CODE:
            case CODE_UNIT: out.add(new StreamingSafetensorsWriter.Spec(module + ".c", storage, new long[] {dOut, dOut})); break;
            case DIRECTION: out.add(new StreamingSafetensorsWriter.Spec(module + ".v", storage, new long[] {dOut, dIn})); break;
            default: {
                int k = mode.clampedK(Math.min(dOut, dIn));
                out.add(new StreamingSafetensorsWriter.Spec(module + ".u", storage, new long[] {dOut, k}));
                out.add(new StreamingSafetensorsWriter.Spec(module + ".lambda", DType.F64, new long[] {k}));
            }
        }
        return out;
    }

    /**
     * Builds the anchor of every target module and writes it to {@code file}, one module at a
     * time (peak memory: one module's anchor). Returns the per-module summaries.
     */
    public static ObjectNode build(AnchorBuilder builder, HfCheckpoint base, HfCheckpoint aligned, Path file,
                                   Consumer<String> progress) throws IOException {
        Anchor.Info info = builder.info(base, aligned);
        List<String> modules = AnchorBuilder.targetModules(aligned, builder.targets());
        return writeModules(builder, base, aligned, modules, info, file, progress);
    }

    static ObjectNode writeModules(AnchorBuilder builder, HfCheckpoint base, HfCheckpoint aligned, List<String> modules,
                                   Anchor.Info info, Path file, Consumer<String> progress) throws IOException {
        if (modules.isEmpty()) throw new IllegalArgumentException(aligned.dir() + ": no 2-D weight matches the target modules "
                + String.join(",", info.targets()));
        List<StreamingSafetensorsWriter.Spec> specs = new ArrayList<>();
        for (String m : modules) {
            long[] shape = aligned.entry(m + ".weight").shape();
            specs.addAll(specs(m, shape[0], shape[1], info.mode(), info.storage()));
        }
        ObjectNode summaries = JSON.createObjectNode();
        AnchorForm callersForm = builder.form(); // files store C; the caller's builder is left as it was
        builder.form(AnchorForm.C);
        try (StreamingSafetensorsWriter w = new StreamingSafetensorsWriter(file, specs, 512 * modules.size() + 4096)) {
            for (String m : modules) {
                if (progress != null) progress.accept(m);
                try (ModuleAnchor a = builder.buildModule(base, aligned, m)) {
                    Map<String, Tensor> tensors = a.fileTensors();
                    try {
                        for (Map.Entry<String, Tensor> t : tensors.entrySet()) {
                            String name = m + "." + t.getKey();
                            Tensor stored = toStored(t.getKey(), t.getValue(), info.storage());
                            try {
                                w.put(name, stored);
                            } finally {
                                if (stored != t.getValue()) stored.close();
                            }
                        }
                        summaries.set(m, summary(a, info.storage(), tensors));
                    } finally {
                        tensors.values().forEach(Tensor::close);
                    }
                }
            }
            w.finish(metadata(info, summaries));
        } finally {
            builder.form(callersForm);
        }
        return summaries;
    }

    private static Tensor toStored(String kind, Tensor t, DType storage) {
        if (kind.equals("lambda")) { // eigenvalues in f64
            Tensor d = Tensor.allocate(DType.F64, t.shape());
            for (long i = 0; i < t.numel(); i++) d.setFloat(i, t.getFloat(i));
            return d;
        }
        return t.dtype() == storage ? t : t.to(storage);
    }

    static Map<String, String> metadata(Anchor.Info info, ObjectNode modules) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("asft.format_version", FORMAT_VERSION);
        m.put("asft.mode", info.mode().toString());
        m.put("asft.k", Integer.toString(info.mode().k()));
        m.put("asft.dtype", info.storage().name().toLowerCase());
        m.put("asft.targets", String.join(",", info.targets()));
        if (info.baseFingerprint() != null) m.put("asft.base_fingerprint", info.baseFingerprint());
        if (info.alignedFingerprint() != null) m.put("asft.aligned_fingerprint", info.alignedFingerprint());
        m.put("asft.modules", modules.toString());
        return m;
    }

    /**
     * Reads an anchor file. Code-mode anchors are returned in {@code form}: C as stored (two
     * passes per step) or Q = (I - C)^2 computed here once (one pass per step).
     */
    public static Anchor read(Path file, Backend backend, AnchorForm form) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, String> meta = f.metadata();
            String version = meta.get("asft.format_version");
            if (version == null) throw new SafetensorsException(file, null, "not an asft anchor file (no asft.format_version metadata)");
            if (!version.equals(FORMAT_VERSION))
                throw new SafetensorsException(file, null, "anchor format version " + version + " is not supported (this asft reads " + FORMAT_VERSION + ")");
            AnchorMode mode;
            DType storage;
            JsonNode modules;
            try {
                mode = AnchorMode.parse(meta.getOrDefault("asft.mode", "?"));
                storage = DType.parse(meta.getOrDefault("asft.dtype", "?"));
                modules = JSON.readTree(meta.getOrDefault("asft.modules", "{}"));
            } catch (IllegalArgumentException | IOException e) {
                throw new SafetensorsException(file, null, "bad anchor metadata: " + e.getMessage());
            }
            List<String> targets = Arrays.asList(meta.getOrDefault("asft.targets", "").split(","));
            Anchor anchor = new Anchor(new Anchor.Info(mode, storage, targets, meta.get("asft.base_fingerprint"),
                    meta.get("asft.aligned_fingerprint")));
            try {
                for (var it = modules.fields(); it.hasNext(); ) {
                    var e = it.next();
                    anchor.put(readModule(file, f, e.getKey(), e.getValue(), mode, backend, form));
                }
            } catch (RuntimeException e) {
                anchor.close();
                throw e;
            }
            if (anchor.modules().isEmpty()) throw new SafetensorsException(file, null, "anchor file lists no modules");
            return anchor;
        }
    }

    private static Tensor need(Path file, SafetensorsFile f, String name, long... shape) {
        if (!f.has(name)) throw new SafetensorsException(file, name, "missing from the anchor file");
        Tensor t = f.tensor(name);
        if (shape.length > 0 && !Arrays.equals(t.shape(), shape))
            throw new SafetensorsException(file, name, "has shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(shape));
        return t;
    }

    private static ModuleAnchor readModule(Path file, SafetensorsFile f, String module, JsonNode s, AnchorMode mode,
                                           Backend backend, AnchorForm form) {
        long dOut = s.path("shape").path(0).asLong(-1), dIn = s.path("shape").path(1).asLong(-1);
        if (dOut <= 0 || dIn <= 0) throw new SafetensorsException(file, module, "module metadata has no valid shape");
        double norm = s.path("norm_v").asDouble(Double.NaN);
        switch (mode.kind()) {
            case CODE:
            case CODE_UNIT: { // the stored C is the mode's (code-unit's already divided by its top eigenvalue)
                Tensor c = need(file, f, module + ".c", dOut, dOut);
                Tensor owned = c.to(c.dtype()); // out of the mapping
                if (form == AnchorForm.C) return new DenseAnchor(module, dOut, dIn, owned, AnchorForm.C, norm);
                try (Tensor c32 = owned.to(DType.F32)) {
                    DType storage = owned.dtype();
                    owned.close();
                    Tensor q = qFromC(backend, c32);
                    if (storage != DType.F32) {
                        Tensor h = q.to(storage);
                        q.close();
                        q = h;
                    }
                    return new DenseAnchor(module, dOut, dIn, q, AnchorForm.Q, norm);
                }
            }
            case DIRECTION:
                return DirectionAnchor.of(module, dOut, dIn, need(file, f, module + ".v", dOut, dIn).to(DType.F32), norm);
            default: {
                Tensor u = need(file, f, module + ".u");
                if (u.rank() != 2 || u.dim(0) != dOut) throw new SafetensorsException(file, module + ".u", "has shape " + u.describe() + ", expected [" + dOut + ", k]");
                int k = (int) u.dim(1);
                Tensor l = need(file, f, module + ".lambda", k);
                double[] lambda = new double[k];
                for (int i = 0; i < k; i++) lambda[i] = l.dtype() == DType.F64 ? l.buffer().getDouble(8 * i) : l.getFloat(i);
                double bound = s.has("error_bound") ? s.get("error_bound").asDouble() : Double.NaN;
                // bf16 stays bf16 (the regularizer reads it as stored); f16 and f32 are held as f32.
                Tensor held = u.to(u.dtype() == DType.BF16 ? DType.BF16 : DType.F32); // out of the mapping
                return LowRankAnchor.of(module, dOut, dIn, held, lambda, new AnchorMode(mode.kind(), k), norm, bound);
            }
        }
    }

    /** Q = (I - C)^T (I - C) for an f32 C. */
    public static Tensor qFromC(Backend backend, Tensor c) {
        int d = (int) c.dim(0);
        try (Tensor m = c.to(DType.F32)) {
            java.nio.FloatBuffer f = m.floats();
            for (int i = 0; i < f.capacity(); i++) f.put(i, -f.get(i));
            for (int i = 0; i < d; i++) f.put(i * d + i, f.get(i * d + i) + 1f);
            Tensor q = Tensor.allocate(DType.F32, d, d);
            backend.gemm(true, false, 1f, m, m, 0f, q);
            return q;
        }
    }

    /** Refuses an anchor whose aligned-model fingerprint differs from this checkpoint's. */
    public static void checkBelongsTo(Anchor anchor, Path anchorFile, HfCheckpoint aligned) {
        String want = anchor.info().alignedFingerprint();
        if (want == null) return;
        String have = Fingerprint.of(aligned);
        if (!want.equals(have))
            throw new IllegalArgumentException("anchor " + anchorFile + " was built for a different model (aligned fingerprint "
                    + want + "); " + aligned.dir() + " has fingerprint " + have);
    }
}
