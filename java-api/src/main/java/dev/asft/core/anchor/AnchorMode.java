package dev.asft.core.anchor;

import java.util.Locale;

/**
 * How an anchor reads the alignment direction (docs/METHOD.md §2):
 * {@code code} C = V V^T / ||V||_F (the released code; default), {@code subspace:k} the
 * projector onto V's top-k left singular vectors, {@code direction} the projector onto vec(V),
 * {@code compressed:k} code-mode C kept to its top-k eigenpairs, {@code code-unit} code-mode C
 * divided by its largest eigenvalue (beyond the paper, opt-in: scale-free, so the top alignment
 * direction is penalty-free and lambda means the same at every model size). k above a module's
 * rank is clamped to it.
 */
public record AnchorMode(Kind kind, int k) {
    public enum Kind { CODE, SUBSPACE, DIRECTION, COMPRESSED, CODE_UNIT }

    public static final AnchorMode CODE = new AnchorMode(Kind.CODE, 0);

    public AnchorMode {
        if ((kind == Kind.SUBSPACE || kind == Kind.COMPRESSED) && k <= 0)
            throw new IllegalArgumentException("anchor mode " + kind.name().toLowerCase(Locale.ROOT) + ":k needs k > 0, got " + k);
    }

    public static AnchorMode parse(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.equals("code")) return CODE;
        if (t.equals("code-unit")) return new AnchorMode(Kind.CODE_UNIT, 0);
        if (t.equals("direction")) return new AnchorMode(Kind.DIRECTION, 0);
        for (Kind kind : new Kind[] {Kind.SUBSPACE, Kind.COMPRESSED}) {
            String prefix = kind.name().toLowerCase(Locale.ROOT) + ":";
            if (t.startsWith(prefix)) {
                int k;
                try {
                    k = Integer.parseInt(t.substring(prefix.length()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("anchor mode '" + s + "': k must be an integer");
                }
                return new AnchorMode(kind, k);
            }
        }
        throw new IllegalArgumentException("unknown anchor mode '" + s + "': expected code, code-unit, subspace:k, direction or compressed:k");
    }

    /** Whether the anchor is one dense d_out x d_out matrix per module (code and code-unit modes). */
    public boolean dense() {
        return kind == Kind.CODE || kind == Kind.CODE_UNIT;
    }

    /** k for a module whose V has the given rank bound min(d_out, d_in). */
    public int clampedK(long rankBound) {
        return (int) Math.min(k, rankBound);
    }

    @Override
    public String toString() {
        String name = kind.name().toLowerCase(Locale.ROOT).replace('_', '-');
        return (kind == Kind.SUBSPACE || kind == Kind.COMPRESSED) ? name + ":" + k : name;
    }
}
