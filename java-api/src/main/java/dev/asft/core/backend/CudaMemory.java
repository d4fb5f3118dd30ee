package dev.asft.core.backend;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * The cuda ops' device memory: tensors owned by Java objects (cudaMalloc here, cudaFree when the
 * tensor closes), the bytes held now and at most (what metrics report as peak device memory),
 * and the explicit copies between host arrays and device tensors, all on the ops' one stream.
 * Index arrays (token ids, masks, targets, rows) go up once per content (see {@link #indices}).
 */
final class CudaMemory implements AutoCloseable {
    static final int SLOTS = 6; // index arrays kept on the device

    private final CUstream_st stream;
    private final java.util.List<Slot> slots = new java.util.ArrayList<>(); // most recently used first
    private long held, peak;

    private static final class Slot {
        final Tensor device;
        int[] values;

        Slot(Tensor device) {
            this.device = device;
        }
    }

    CudaMemory(CUstream_st stream) {
        this.stream = stream;
    }

    /** A new device tensor (contents unspecified); an allocation failure is an OutOfMemoryError naming the size. */
    synchronized Tensor allocate(DType dtype, long... shape) {
        long bytes = Tensor.byteSize(dtype, shape);
        Pointer p = new Pointer();
        int rc = cudart.cudaMalloc(p, Math.max(bytes, 1)); // never 0 bytes: every tensor gets an address
        if (rc == cudart.cudaErrorMemoryAllocation) {
            cudart.cudaGetLastError(); // an allocation failure is not sticky: clear it so later calls do not report it
            throw new OutOfMemoryError("the GPU has no room for " + Tensor.byteSize(dtype, shape) / (1 << 20) + " MiB more ("
                    + held / (1 << 20) + " MiB held by asft)");
        }
        CudaRuntime.check(rc, "cudaMalloc(" + bytes + " bytes)");
        held += bytes;
        peak = Math.max(peak, held);
        return Tensor.onDevice(dtype, p.address(), () -> free(p, bytes), shape);
    }

    private synchronized void free(Pointer p, long bytes) {
        CudaRuntime.check(cudart.cudaFree(p), "cudaFree");
        held -= bytes;
    }

    /**
     * t, or a larger scratch tensor in its place (at least 1024 elements): scratch grows and is
     * kept, since freeing device memory waits for the device.
     */
    Tensor grown(Tensor t, DType dtype, long n) {
        if (t != null && t.numel() >= n) return t;
        if (t != null) t.close();
        return allocate(dtype, Math.max(n, 1024));
    }

    /** The most bytes held at once since this memory was made. */
    synchronized long peak() {
        return peak;
    }

    /** A device copy of a host tensor's bytes, same dtype and shape. */
    Tensor upload(Tensor host) {
        Tensor d = allocate(host.dtype(), host.shape());
        CudaRuntime.check(cudart.cudaMemcpyAsync(d.pointer(), host.pointer(), host.byteSize(), cudart.cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync(weight to device)");
        sync("after uploading " + host.describe());
        return d;
    }

    /** dst = the host values (synchronous: the array may change once this returns). */
    void copyIn(float[] src, Tensor dst) {
        if (src.length != dst.numel()) throw new IllegalArgumentException(src.length + " values for " + dst.describe());
        try (FloatPointer h = new FloatPointer(src)) {
            CudaRuntime.check(cudart.cudaMemcpyAsync(dst.pointer(), h, 4L * src.length, cudart.cudaMemcpyHostToDevice, stream),
                    "cudaMemcpyAsync(host to device)");
            sync("after copying in " + dst.describe());
        }
    }

    /** src's values on the host: waits for the stream. */
    float[] copyOut(Tensor src) {
        src.requireDType(DType.F32);
        float[] out = new float[Math.toIntExact(src.numel())];
        try (FloatPointer h = new FloatPointer(out.length)) {
            CudaRuntime.check(cudart.cudaMemcpyAsync(h, src.pointer(), 4L * out.length, cudart.cudaMemcpyDeviceToHost, stream),
                    "cudaMemcpyAsync(device to host)");
            sync("after copying out " + src.describe());
            h.get(out);
        }
        return out;
    }

    /** Doubles from the device (a loss, a norm): waits for the stream. */
    double[] doublesOut(Pointer src, int n) {
        try (org.bytedeco.javacpp.DoublePointer h = new org.bytedeco.javacpp.DoublePointer(n)) {
            CudaRuntime.check(cudart.cudaMemcpyAsync(h, src, 8L * n, cudart.cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(doubles)");
            sync("reading a result");
            double[] out = new double[n];
            h.get(out);
            return out;
        }
    }

    /**
     * The index array on the device (valid until {@link #SLOTS} other arrays came up). A copy from
     * pageable memory waits for the stream first, so arrays seen recently (a step's mask in every
     * layer, its ids, its targets) are kept by content and go up once.
     */
    synchronized Pointer indices(int[] values) {
        for (int i = 0; i < slots.size(); i++) {
            Slot s = slots.get(i);
            if (java.util.Arrays.equals(s.values, values)) {
                slots.add(0, slots.remove(i)); // most recent first
                return s.device.pointer();
            }
        }
        Slot s = slots.size() < SLOTS ? null : slots.remove(slots.size() - 1);
        if (s == null || s.device.numel() < values.length) {
            if (s != null) s.device.close();
            s = new Slot(allocate(DType.I32, Math.max(values.length, 1024)));
        }
        try (IntPointer h = new IntPointer(values)) { // staged before this returns: h may go
            CudaRuntime.check(cudart.cudaMemcpyAsync(s.device.pointer(), h, 4L * values.length, cudart.cudaMemcpyHostToDevice, stream),
                    "cudaMemcpyAsync(indices)");
        }
        s.values = values.clone();
        slots.add(0, s);
        return s.device.pointer();
    }

    /** Waits for the stream; a kernel's failure surfaces here with the call it followed. */
    void sync(String where) {
        CudaRuntime.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize " + where);
    }

    @Override
    public synchronized void close() {
        for (Slot s : slots) s.device.close();
        slots.clear();
    }
}
