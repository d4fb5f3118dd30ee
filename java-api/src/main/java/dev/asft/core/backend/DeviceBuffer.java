package dev.asft.core.backend;

import dev.asft.core.tensor.Tensor;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;

/**
 * Device memory owned by a Java object: cudaMalloc on creation, cudaFree on {@link #close()}
 * (never left to the garbage collector). Copies are synchronous with respect to the host.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final Pointer ptr = new Pointer();
    private final long bytes;
    private boolean closed;

    public DeviceBuffer(long bytes) {
        this.bytes = bytes;
        CudaRuntime.check(cudart.cudaMalloc(ptr, Math.max(bytes, 1)), "cudaMalloc(" + bytes + " bytes)");
    }

    /** A device copy of a host tensor's bytes. */
    public static DeviceBuffer of(Tensor t) {
        DeviceBuffer d = new DeviceBuffer(t.byteSize());
        try {
            d.upload(t);
            return d;
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    public long address() {
        if (closed) throw new IllegalStateException("device buffer is closed");
        return ptr.address();
    }

    public long bytes() {
        return bytes;
    }

    public Pointer pointer() {
        return ptr;
    }

    public void upload(Tensor t) {
        if (t.byteSize() != bytes) throw new IllegalArgumentException(t + " is " + t.byteSize() + " bytes, the buffer " + bytes);
        CudaRuntime.check(cudart.cudaMemcpy(ptr, t.pointer(), bytes, cudart.cudaMemcpyHostToDevice), "cudaMemcpy(host to device)");
    }

    /** Enqueues a host-to-device copy on the stream (the host tensor must stay alive until it ran). */
    public void uploadAsync(Tensor t, org.bytedeco.cuda.cudart.CUstream_st stream) {
        if (t.byteSize() != bytes) throw new IllegalArgumentException(t + " is " + t.byteSize() + " bytes, the buffer " + bytes);
        CudaRuntime.check(cudart.cudaMemcpyAsync(ptr, t.pointer(), bytes, cudart.cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync(host to device)");
    }

    /** Enqueues a device-to-host copy on the stream; read t only after the stream synchronized. */
    public void downloadAsync(Tensor t, org.bytedeco.cuda.cudart.CUstream_st stream) {
        if (t.byteSize() != bytes) throw new IllegalArgumentException(t + " is " + t.byteSize() + " bytes, the buffer " + bytes);
        CudaRuntime.check(cudart.cudaMemcpyAsync(t.pointer(), ptr, bytes, cudart.cudaMemcpyDeviceToHost, stream),
                "cudaMemcpyAsync(device to host)");
    }

    public void download(Tensor t) {
        if (t.byteSize() != bytes) throw new IllegalArgumentException(t + " is " + t.byteSize() + " bytes, the buffer " + bytes);
        CudaRuntime.check(cudart.cudaMemcpy(t.pointer(), ptr, bytes, cudart.cudaMemcpyDeviceToHost), "cudaMemcpy(device to host)");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        CudaRuntime.check(cudart.cudaFree(ptr), "cudaFree");
    }
}
