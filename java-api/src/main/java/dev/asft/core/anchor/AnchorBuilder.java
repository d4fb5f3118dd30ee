package dev.asft.core.anchor;

import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.io.TargetModules;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Builds anchors for every target module of a checkpoint pair in any {@link AnchorMode}, one
 * module at a time: peak memory is a few module matrices, never the model. Weights are read
 * through memory-mapped views, so checkpoints larger than RAM are fine.
 */
public final class AnchorBuilder {
    private final Backend backend;
    private AnchorMode mode = AnchorMode.CODE;
    private AnchorForm denseForm = AnchorForm.Q;
    private DType storage = DType.F32;
    private TargetModules targets = TargetModules.DEFAULT;
    private int oversample = 16, powerIterations = 3;
    private long seed = 1234;

    public AnchorBuilder(Backend backend) {
        this.backend = backend;
    }

    public AnchorBuilder mode(AnchorMode mode) {
        this.mode = mode;
        return this;
    }

    /** For code mode: hold Q (one pass per step; the default for training) or C (files, Safe LoRA). */
    public AnchorBuilder form(AnchorForm form) {
        this.denseForm = form;
        return this;
    }

    public AnchorBuilder storage(DType storage) {
        if (storage != DType.F32 && storage != DType.BF16)
            throw new IllegalArgumentException("anchors are stored as f32 or bf16, not " + storage);
        this.storage = storage;
        return this;
    }

    public AnchorBuilder targets(TargetModules targets) {
        this.targets = targets;
        return this;
    }

    public AnchorForm form() {
        return denseForm;
    }

    public TargetModules targets() {
        return targets;
    }

    public AnchorMode mode() {
        return mode;
    }

    /** Randomized subspace iteration settings of the low-rank modes. */
    public AnchorBuilder subspaceIteration(int oversample, int powerIterations, long seed) {
        this.oversample = oversample;
        this.powerIterations = powerIterations;
        this.seed = seed;
        return this;
    }

    /** The module names (weight names without ".weight") of 2-D weights that the targets select. */
    public static List<String> targetModules(HfCheckpoint ck, TargetModules targets) {
        List<String> out = new ArrayList<>();
        for (String name : ck.names()) {
            if (!name.endsWith(".weight")) continue;
            String module = name.substring(0, name.length() - ".weight".length());
            if (targets.matches(module) && ck.entry(name).shape().length == 2) out.add(module);
        }
        return out;
    }

    public Anchor.Info info(HfCheckpoint base, HfCheckpoint aligned) {
        return new Anchor.Info(mode, storage, targets.asList(), Fingerprint.of(base), Fingerprint.of(aligned));
    }

    /** Builds every target module; {@code progress} gets each module name before it is built. */
    public Anchor build(HfCheckpoint base, HfCheckpoint aligned, Consumer<String> progress) {
        List<String> modules = targetModules(aligned, targets);
        if (modules.isEmpty())
            throw new IllegalArgumentException(aligned.dir() + ": no 2-D weight matches the target modules " + targets);
        Anchor anchor = new Anchor(info(base, aligned));
        try {
            for (String module : modules) {
                if (progress != null) progress.accept(module);
                anchor.put(buildModule(base, aligned, module));
            }
            return anchor;
        } catch (RuntimeException e) {
            anchor.close();
            throw e;
        }
    }

    public ModuleAnchor buildModule(HfCheckpoint base, HfCheckpoint aligned, String module) {
        String weight = module + ".weight";
        if (!aligned.has(weight))
            throw new IllegalArgumentException("module " + module + ": the aligned model " + aligned.dir() + " has no tensor " + weight);
        if (!base.has(weight))
            throw new IllegalArgumentException("module " + module + ": the base model " + base.dir() + " has no tensor " + weight);
        SafetensorsFile.Entry ea = aligned.entry(weight), eb = base.entry(weight);
        if (!Arrays.equals(ea.shape(), eb.shape()))
            throw new IllegalArgumentException("module " + module + ": aligned shape " + Arrays.toString(ea.shape())
                    + " (" + aligned.dir() + ") differs from base shape " + Arrays.toString(eb.shape()) + " (" + base.dir() + ")");
        if (ea.shape().length != 2)
            throw new IllegalArgumentException("module " + module + ": " + weight + " is not a matrix " + Arrays.toString(ea.shape()));
        Tensor wa = aligned.tensor(weight), wb = base.tensor(weight);
        if (wa.dtype() != wb.dtype()) { // mixed storage (an f16 base, a bf16 aligned model): compare in f32
            try (Tensor fa = wa.to(DType.F32); Tensor fb = wb.to(DType.F32)) {
                return fromWeights(module, fa, fb);
            }
        }
        return fromWeights(module, wa, wb);
    }

    /** The anchor of one module from its aligned and base weights [d_out x d_in]. */
    public ModuleAnchor fromWeights(String module, Tensor aligned, Tensor base) {
        long dOut = aligned.dim(0), dIn = aligned.dim(1);
        switch (mode.kind()) {
            case CODE: {
                Backend.CodeAnchorMatrix m = backend.codeAnchor(aligned, base, denseForm, storage);
                return new DenseAnchor(module, dOut, dIn, m.matrix(), m.form(), m.normV());
            }
            case CODE_UNIT: {
                Backend.CodeAnchorMatrix c = backend.codeAnchor(aligned, base, AnchorForm.C, DType.F32);
                Tensor m = c.matrix();
                try {
                    double top = TopEigen.largest(backend, m);
                    if (top > 0) { // V = 0 leaves C = 0: nothing to scale
                        java.nio.FloatBuffer f = m.floats();
                        for (int i = 0; i < f.capacity(); i++) f.put(i, (float) (f.get(i) / top));
                    }
                    if (denseForm == AnchorForm.Q) {
                        Tensor q = AnchorFile.qFromC(backend, m);
                        m.close();
                        m = q;
                    }
                    if (storage != DType.F32) {
                        Tensor h = m.to(storage);
                        m.close();
                        m = h;
                    }
                    return new DenseAnchor(module, dOut, dIn, m, denseForm, c.normV());
                } catch (RuntimeException | Error e) {
                    m.close();
                    throw e;
                }
            }
            case DIRECTION: {
                Tensor v = backend.difference(aligned, base);
                double norm = 0;
                java.nio.FloatBuffer f = v.floats();
                for (int i = 0; i < f.capacity(); i++) norm += (double) f.get(i) * f.get(i);
                return DirectionAnchor.of(module, dOut, dIn, roundTrip(v), Math.sqrt(norm));
            }
            default: { // SUBSPACE, COMPRESSED
                int k = mode.clampedK(Math.min(dOut, dIn));
                Backend.CodeAnchorMatrix c = backend.codeAnchor(aligned, base, AnchorForm.C, DType.F32);
                try (Tensor cm = c.matrix()) {
                    TopEigen.Result e = TopEigen.compute(backend, cm, k, oversample, powerIterations, seed);
                    Stored u = inStorage(e.u()); // the anchor takes u.u() over
                    if (mode.kind() == AnchorMode.Kind.SUBSPACE) {
                        double[] ones = new double[k];
                        Arrays.fill(ones, 1.0);
                        return LowRankAnchor.of(module, dOut, dIn, u.u(), ones, new AnchorMode(mode.kind(), k), c.normV(), Double.NaN);
                    }
                    double bound = e.penaltyBound() + roundingBound(e.lambda(), u.rounding());
                    return LowRankAnchor.of(module, dOut, dIn, u.u(), e.lambda(), new AnchorMode(mode.kind(), k), c.normV(), bound);
                }
            }
        }
    }

    /** U as an anchor holds it, and rounding = ||u - U||_F, how far it is from the computed U. */
    private record Stored(Tensor u, double rounding) {}

    /**
     * U as the anchor holds it: f32 as computed (rounding 0), or rounded once to the storage
     * dtype (bf16, read as stored). Takes u32 over.
     */
    private Stored inStorage(Tensor u32) {
        if (storage == DType.F32) return new Stored(u32, 0);
        try (u32) {
            Tensor h = u32.to(storage);
            java.nio.FloatBuffer f = u32.floats();
            double ss = 0;
            for (int i = 0; i < f.capacity(); i++) {
                double d = h.getFloat(i) - f.get(i);
                ss += d * d;
            }
            return new Stored(h, Math.sqrt(ss));
        }
    }

    /**
     * What a stored U~ = U + D adds to the bound on |R_code - R|/||B A||^2: the regularizer's
     * Q~ = I - U~ W U~^T (W = diag(2 lambda - lambda^2)) differs from I - U W U^T by
     * D W U^T + U W D^T + D W D^T, whose 2-norm is at most max|w| (2 delta + delta^2) with
     * delta = ||D||_F >= ||D||_2 and ||U||_2 = 1 (orthonormal columns); by the triangle
     * inequality this adds to the subspace error's bound. bf16 rounds each element by at most
     * 2^-9 of itself, so delta <= 2^-9 sqrt(k) (0.031 at k = 256).
     */
    static double roundingBound(double[] lambda, double delta) {
        if (delta == 0) return 0;
        double wmax = 0;
        for (double l : lambda) wmax = Math.max(wmax, Math.abs(2 * l - l * l));
        return wmax * delta * (2 + delta);
    }

    /** In memory anchors are f32; with bf16 storage they hold exactly what the file will. */
    private Tensor roundTrip(Tensor f32) {
        if (storage == DType.F32) return f32;
        try (Tensor h = f32.to(storage)) {
            f32.close();
            return h.to(DType.F32);
        }
    }
}
