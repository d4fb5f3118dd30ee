package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The head's loss over supervised rows only, in chunks, against all rows in one product. */
class HeadLossTest {
    @Test
    void chunksAreBoundedInMemoryButNotTooShort() {
        assertEquals(HeadLoss.MIN_CHUNK_ROWS, HeadLoss.chunkRows(151_936), "a 152k vocabulary: 512 rows (311 MB of logits)");
        assertEquals(2048, HeadLoss.chunkRows(8192), "a small vocabulary: 64 MiB of logits");
    }

    @Test
    void supervisedRowsInChunksEqualAllRowsAtOnce() {
        int n = 23, hidden = 40, vocab = 37;
        Random rnd = new Random(7);
        float[] xf = new float[n * hidden], w = new float[vocab * hidden];
        for (int i = 0; i < xf.length; i++) xf[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < w.length; i++) w[i] = (float) (0.2 * rnd.nextGaussian());
        int[] targets = new int[n];
        for (int r = 0; r < n; r++) targets[r] = r % 3 == 0 || r > 18 ? -1 : rnd.nextInt(vocab); // prompt-like gaps and a tail
        for (Backend be : List.of(new JavaBackend(), new CpuBackend())) {
            dev.asft.core.ops.TensorOps ops = be.ops();
            try (Tensor wt = Tensor.of(DType.F32, w, vocab, hidden); Tensor x = Tensor.of(DType.F32, xf, n, hidden); Lane lane = new Lane(ops)) {
                dev.asft.core.ops.Workspace ws = lane.ws;
                Linear head = new Linear("lm_head", wt, null);
                ws.begin();
                HeadLoss.Result allRows = HeadLoss.rowsAtOnce(ops, lane, head, x, targets, 57, null);
                float[] allDx = allRows.dx().toFloatArray();
                ws.end();
                HeadLoss.Result all = new HeadLoss.Result(null, allRows.lossSum(), allRows.count());
                for (int chunkRows : new int[] {1, 2, 5, HeadLoss.chunkRows(vocab)}) {
                    ws.begin();
                    try {
                        HeadLoss.Result got = HeadLoss.lossAndDx(ops, lane, head, x, targets, 57, null, chunkRows);
                        String ctx = be.name() + ", chunks of " + chunkRows + " rows";
                        assertEquals(all.count(), got.count(), ctx);
                        // f32 logits: a one-row product may take OpenBLAS's gemv path and round differently
                        assertEquals(all.lossSum(), got.lossSum(), 1e-6 * Math.abs(all.lossSum()), ctx);
                        assertTrue(all.count() > 0 && all.count() < n, "some rows supervised, some not");
                        float[] gotDx = got.dx().toFloatArray();
                        assertArrayEquals(allDx, gotDx, 1e-5f, ctx);
                        for (int r = 0; r < n; r++)
                            if (targets[r] < 0)
                                for (int i = 0; i < hidden; i++) assertEquals(0f, gotDx[r * hidden + i], ctx + ": row " + r + " has no target");
                    } finally {
                        ws.end();
                    }
                }
                ws.begin();
                try {
                    double[] only = HeadLoss.lossOnly(ops, lane, head, x, targets);
                    assertEquals(all.count(), (long) only[1], be.name() + ": lossOnly count");
                    assertEquals(all.lossSum(), only[0], 1e-6 * Math.abs(only[0]), be.name() + ": lossOnly");
                } finally {
                    ws.end();
                }
                int[] none = new int[n];
                java.util.Arrays.fill(none, -1);
                HeadLoss.Result empty = HeadLoss.lossAndDx(ops, lane, head, x, none, 1, null);
                assertEquals(0, empty.count());
                assertNull(empty.dx());
            }
        }
    }
}
