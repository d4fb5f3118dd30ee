package dev.asft.trainer.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What --resume reads, checked before anything is restored: the checkpoint folder (or the
 * checkpoint root, meaning its latest checkpoint-N), a trainer_state.json whose fields are the
 * types they must be, optimizer moments without NaN or infinities, and the data file the run
 * was trained on (by SHA-256), since resuming on other data would not continue the run.
 */
public final class Checkpoints {
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");

    private Checkpoints() {}

    /** A checkpoint folder, or the folder holding checkpoint-N folders (its latest). */
    public static Path resolve(Path resume) {
        if (!Files.isDirectory(resume)) throw new IllegalArgumentException("--resume " + resume + ": not a folder");
        if (Files.exists(resume.resolve("trainer_state.json"))) return resume;
        Path latest = null;
        long best = -1;
        try (Stream<Path> s = Files.list(resume)) {
            for (Path p : s.toList()) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches() && Files.exists(p.resolve("trainer_state.json")) && Long.parseLong(m.group(1)) > best) {
                    best = Long.parseLong(m.group(1));
                    latest = p;
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalArgumentException("--resume " + resume + ": cannot read: " + e.getMessage());
        }
        if (latest == null)
            throw new IllegalArgumentException("--resume " + resume + ": neither a checkpoint (no trainer_state.json) nor a folder of checkpoint-N folders");
        return latest;
    }

    /** The checkpoint's trainer_state.json, each field checked for its type and range. */
    public static JsonNode readState(Path dir) {
        Path f = dir.resolve("trainer_state.json");
        JsonNode st;
        try {
            st = new ObjectMapper().readTree(Files.readString(f));
        } catch (IOException e) {
            throw new IllegalArgumentException(f + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (st == null || !st.isObject()) throw new IllegalArgumentException(f + ": not a JSON object");
        for (String field : List.of("step", "seed", "batch_size")) {
            JsonNode v = st.get(field);
            if (v == null || !v.isIntegralNumber() || !v.canConvertToLong())
                throw new IllegalArgumentException(f + ": " + field + " must be an integer, got " + (v == null ? "nothing" : v.toString()));
        }
        if (st.get("step").asLong() < 0) throw new IllegalArgumentException(f + ": step must be >= 0, got " + st.get("step"));
        if (st.get("batch_size").asLong() <= 0) throw new IllegalArgumentException(f + ": batch_size must be positive, got " + st.get("batch_size"));
        JsonNode ga = st.get("grad_accum");
        if (ga != null && (!ga.isIntegralNumber() || ga.asLong() <= 0))
            throw new IllegalArgumentException(f + ": grad_accum must be a positive integer, got " + ga);
        for (String field : List.of("group_by_length", "full")) {
            JsonNode v = st.get(field);
            if (v != null && !v.isBoolean()) throw new IllegalArgumentException(f + ": " + field + " must be true or false, got " + v);
        }
        return st;
    }

    /** dst (the backend's) = an optimizer moment of the checkpoint, refused when it is not f32 of dst's shape or holds NaN or infinities. */
    static void restore(dev.asft.core.ops.TensorOps ops, dev.asft.core.io.SafetensorsFile opt, String name, Tensor dst) {
        Tensor saved = opt.tensor(name);
        if (saved.dtype() != dev.asft.core.tensor.DType.F32 || !java.util.Arrays.equals(saved.shape(), dst.shape()))
            throw new IllegalArgumentException(opt.path() + ": " + name + " is not an f32 " + dst.describe());
        requireFinite(opt.path(), name, saved);
        restore(ops, saved, dst);
    }

    /** dst (the backend's) = the saved host tensor's values (bytes straight across on the host: no heap array per weight). */
    static void restore(dev.asft.core.ops.TensorOps ops, Tensor saved, Tensor dst) {
        if (!dst.isDevice() && saved.dtype() == dev.asft.core.tensor.DType.F32) dst.buffer().put(saved.buffer());
        else ops.copyIn(saved.toFloatArray(), dst);
    }

    /** Refuses moments holding NaN or infinities (an optimizer restored from them would write NaN weights). */
    static void requireFinite(Path file, String name, Tensor t) {
        java.nio.FloatBuffer b = t.buffer().asFloatBuffer();
        for (int i = 0; i < b.limit(); i++)
            if (!Float.isFinite(b.get(i))) throw new IllegalArgumentException(file + ": " + name + " holds NaN or infinite values");
    }

    /** The SHA-256 of a data file, recorded in checkpoints and compared on resume. */
    public static String sha256(Path file) {
        try (var in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
    }
}
