// A control for docs/EXPERIMENTS.md: writes a stand-in "base" whose q_proj/v_proj differ from
// the aligned model by a random matrix with the same Frobenius norm as the real alignment
// update V = W_aligned - W_base (other weights copied from the aligned model). The anchor that
// `asft train --base THIS` builds then has the real anchor's scale but none of its directions.
// Run: java -cp trainer/target/asft.jar docs/experiments/RandomAnchorBase.java BASE ALIGNED OUT SEED
import dev.asft.core.io.CheckpointRewriter;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.SplittableRandom;

public class RandomAnchorBase {
    public static void main(String[] args) throws Exception {
        SplittableRandom rnd = new SplittableRandom(Long.parseLong(args[3]));
        try (HfCheckpoint base = HfCheckpoint.open(Path.of(args[0])); HfCheckpoint aligned = HfCheckpoint.open(Path.of(args[1]))) {
            CheckpointRewriter.rewrite(aligned, Path.of(args[2]), (name, t) -> {
                if (!name.endsWith("q_proj.weight") && !name.endsWith("v_proj.weight")) return null;
                float[] w = base.tensor(name).to(DType.F32).toFloatArray(), a = t.to(DType.F32).toFloatArray();
                double vn = 0, rn = 0;
                double[] r = new double[w.length];
                for (int i = 0; i < w.length; i++) {
                    vn += (a[i] - w[i]) * (double) (a[i] - w[i]);
                    r[i] = rnd.nextGaussian();
                    rn += r[i] * r[i];
                }
                double s = Math.sqrt(vn / rn);
                for (int i = 0; i < w.length; i++) a[i] -= (float) (s * r[i]);
                return Tensor.of(DType.F32, a, t.shape()).to(t.dtype());
            });
        }
    }
}
