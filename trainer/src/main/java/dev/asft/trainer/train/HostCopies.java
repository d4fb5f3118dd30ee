package dev.asft.trainer.train;

import dev.asft.core.io.PeftAdapter;
import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Host f32 copies of a device backend's tensors, made through its ops (copyOut) for what the host
 * writes or reads: adapters, checkpoints, trained models, the anchor's outside share (a device
 * tensor has no other way out; host tensors pass through as they are). Closing frees every copy made.
 */
public final class HostCopies implements AutoCloseable {
    private final TensorOps ops;
    private final List<Tensor> made = new ArrayList<>();

    public HostCopies(TensorOps ops) {
        this.ops = ops;
    }

    /** t's values on the host (f32, same shape): t itself when it is host memory already (not copied, not closed here). */
    public Tensor of(Tensor t) {
        if (!t.isDevice()) return t; // a full fine-tune's checkpoint would otherwise copy every weight
        Tensor h = Tensor.of(DType.F32, ops.copyOut(t), t.shape());
        made.add(h);
        return h;
    }

    /** Host copies of every tensor, same names and order. */
    public Map<String, Tensor> of(Map<String, Tensor> tensors) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) out.put(e.getKey(), of(e.getValue()));
        return out;
    }

    /** The adapter with host copies of its factors (same config); this object owns them, not the adapter. */
    public PeftAdapter of(PeftAdapter live) {
        Map<String, PeftAdapter.Lora> m = new LinkedHashMap<>();
        for (Map.Entry<String, PeftAdapter.Lora> e : live.modules().entrySet())
            m.put(e.getKey(), new PeftAdapter.Lora(of(e.getValue().a()), of(e.getValue().b())));
        return new PeftAdapter(live.config(), m);
    }

    @Override
    public void close() {
        for (Tensor t : made) t.close();
        made.clear();
    }
}
