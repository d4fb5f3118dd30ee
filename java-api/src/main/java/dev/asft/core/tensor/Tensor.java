package dev.asft.core.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * An off-heap, row-major tensor. Its bytes live outside the Java heap (allocated through
 * JavaCPP, or a memory-mapped file region), so native kernels read them in place. Owned
 * memory is freed by {@link #close()}; views (of a mapped file, of another tensor) free nothing.
 *
 * <p>Element access ({@link #getFloat}, {@link #setFloat}) decodes f32/bf16/f16 and is meant
 * for references, tests and small tensors; hot paths go through a {@code Backend}. A device
 * tensor ({@link #onDevice}: a GPU backend's memory) has an address and no host view: its values
 * come and go through its backend's ops.
 */
public final class Tensor implements AutoCloseable {
    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final ByteBuffer buffer; // little-endian view of exactly the tensor's bytes; null in device memory
    private final Pointer pointer; // the same bytes, for native calls (a device address in device memory)
    private final Pointer owned; // memory this tensor frees on close, or null for a view
    private final AutoCloseable release; // frees device memory on close, or null
    private final Object keepAlive; // e.g. the mapping a view reads from
    private boolean closed;

    private Tensor(DType dtype, long[] shape, ByteBuffer buffer, Pointer pointer, Pointer owned, Object keepAlive) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = numel(shape);
        this.buffer = buffer.slice(0, Math.toIntExact(numel * dtype.bytes())).order(ByteOrder.LITTLE_ENDIAN);
        this.pointer = pointer;
        this.owned = owned;
        this.release = null;
        this.keepAlive = keepAlive;
    }

    private Tensor(DType dtype, long[] shape, long address, AutoCloseable release, Object keepAlive) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = numel(shape);
        this.buffer = null;
        this.pointer = new AddressPointer(address, numel * dtype.bytes());
        this.owned = null;
        this.release = release;
        this.keepAlive = keepAlive;
    }

    /**
     * A tensor in a device's memory at {@code address} (a backend's allocation): native calls get
     * the address, and the host cannot read it: {@link #buffer}, element access and conversions
     * refuse with one line, so every read goes through the backend's ops (copyIn / copyOut).
     * {@code release} (may be null) frees the memory on {@link #close()}. No 2 GiB limit: nothing
     * here is a Java buffer.
     */
    public static Tensor onDevice(DType dtype, long address, AutoCloseable release, long... shape) {
        if (address == 0 && numel(shape) > 0) throw new IllegalArgumentException("a device tensor needs an address");
        return new Tensor(dtype, shape, address, release, null);
    }

    /** Whether this tensor lives in a device's memory (see {@link #onDevice}). */
    public boolean isDevice() {
        return buffer == null;
    }

    /** The host bytes, or one line saying this tensor has none. */
    private ByteBuffer host() {
        if (buffer == null)
            throw new IllegalStateException("tensor " + describe() + " is in device memory: the host reads it through its backend's ops (copyOut)");
        return buffer;
    }

    /** Cache-line alignment of allocated tensors: the kernels' vector loads slow down by a third when split. */
    public static final int ALIGNMENT = 64;

    /** A view of native memory at an absolute address (the aligned start inside an allocation). */
    private static final class AddressPointer extends BytePointer {
        AddressPointer(long address, long bytes) {
            this.address = address;
            this.capacity = bytes;
            this.limit = bytes;
        }
    }

    /** A new tensor of the given dtype and shape, 64-byte aligned; contents are unspecified (not zeroed). */
    public static Tensor allocate(DType dtype, long... shape) {
        long bytes = byteSize(dtype, shape);
        checkAddressable(bytes, shape);
        BytePointer raw = new BytePointer(bytes + ALIGNMENT); // never malloc(0)
        long start = (raw.address() + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        if (bytes == 0) return new Tensor(dtype, shape, ByteBuffer.allocateDirect(0), raw, raw, null);
        BytePointer view = new AddressPointer(start, bytes);
        return new Tensor(dtype, shape, view.asByteBuffer(), view, raw, null);
    }

    /** A new zero-filled tensor. */
    public static Tensor zeros(DType dtype, long... shape) {
        Tensor t = allocate(dtype, shape);
        Pointer.memset(t.pointer, 0, t.byteSize());
        return t;
    }

    /** A view of a direct buffer (e.g. a mapped file region); the buffer must hold exactly the tensor. */
    public static Tensor wrap(ByteBuffer direct, DType dtype, long... shape) {
        if (!direct.isDirect()) throw new IllegalArgumentException("Tensor.wrap needs a direct buffer");
        long bytes = byteSize(dtype, shape);
        if (direct.remaining() != bytes)
            throw new IllegalArgumentException("buffer holds " + direct.remaining() + " bytes, shape "
                    + Arrays.toString(shape) + " of " + dtype + " needs " + bytes);
        ByteBuffer view = direct.slice().order(ByteOrder.LITTLE_ENDIAN);
        return new Tensor(dtype, shape, view, new BytePointer(view), null, direct);
    }

    /**
     * A view of this tensor's elements from {@code offset} on, in the given shape (same dtype): rows
     * of an activation, a shifted table. It frees nothing and is valid while this tensor is open.
     */
    public Tensor view(long offset, long... shape) {
        long bytes = byteSize(dtype, shape), start = offset * dtype.bytes();
        if (offset < 0 || start + bytes > byteSize())
            throw new IllegalArgumentException("a view of " + Arrays.toString(shape) + " from element " + offset + " does not fit in " + describe());
        if (buffer == null) return new Tensor(dtype, shape, pointer.address() + start, null, this);
        ByteBuffer b = buffer.duplicate().position(Math.toIntExact(start)).limit(Math.toIntExact(start + bytes)).slice();
        return new Tensor(dtype, shape, b, new AddressPointer(pointer.address() + pointer.position() + start, bytes), null, this);
    }

    /** A tensor holding the given values, stored as dtype (rounded to nearest even). */
    public static Tensor of(DType dtype, float[] values, long... shape) {
        if (numel(shape) != values.length)
            throw new IllegalArgumentException(values.length + " values for shape " + Arrays.toString(shape));
        Tensor t = allocate(dtype, shape);
        t.copyFrom(values);
        return t;
    }

    public static long numel(long... shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public static long byteSize(DType dtype, long... shape) {
        return Math.multiplyExact(numel(shape), (long) dtype.bytes());
    }

    private static void checkAddressable(long bytes, long[] shape) {
        if (bytes > Integer.MAX_VALUE)
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " is " + bytes
                    + " bytes; tensors above 2 GiB are not supported yet");
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long numel() {
        return numel;
    }

    public long byteSize() {
        return numel * dtype.bytes();
    }

    /** Little-endian view of the tensor's bytes (position 0, limit = byteSize). */
    public ByteBuffer buffer() {
        checkOpen();
        return host().duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The address of the first element, for native calls. */
    public Pointer pointer() {
        checkOpen();
        return pointer;
    }

    /** The data as a float pointer; only for f32 tensors. */
    public FloatPointer floatPointer() {
        requireDType(DType.F32);
        return new FloatPointer(pointer());
    }

    /** f32 data as a FloatBuffer view. */
    public FloatBuffer floats() {
        requireDType(DType.F32);
        return buffer().asFloatBuffer();
    }

    public float getFloat(long i) {
        ByteBuffer buffer = host();
        int bi = Math.toIntExact(i * dtype.bytes());
        switch (dtype) {
            case F32: return buffer.getFloat(bi);
            case BF16: return Half.bf16ToFloat(buffer.getShort(bi));
            case F16: return Half.f16ToFloat(buffer.getShort(bi));
            case F64: return (float) buffer.getDouble(bi);
            case I64: return buffer.getLong(bi);
            case I32: return buffer.getInt(bi);
            case I16: return buffer.getShort(bi);
            case I8: return buffer.get(bi);
            case U8: case BOOL: return buffer.get(bi) & 0xff;
            case U16: return buffer.getShort(bi) & 0xffff;
            case U32: return buffer.getInt(bi) & 0xffffffffL;
            case U64: return buffer.getLong(bi);
            default: throw new UnsupportedOperationException("getFloat on " + dtype);
        }
    }

    public void setFloat(long i, float v) {
        ByteBuffer buffer = host();
        int bi = Math.toIntExact(i * dtype.bytes());
        switch (dtype) {
            case F32: buffer.putFloat(bi, v); break;
            case BF16: buffer.putShort(bi, Half.floatToBf16(v)); break;
            case F16: buffer.putShort(bi, Half.floatToF16(v)); break;
            case F64: buffer.putDouble(bi, v); break;
            default: throw new UnsupportedOperationException("setFloat on " + dtype);
        }
    }

    /**
     * The index of the first NaN or infinite element of a floating-point tensor, or -1: one pass
     * over the stored bits (an all-ones exponent), without converting.
     */
    public long firstNonFinite() {
        checkOpen();
        java.nio.ByteBuffer b = buffer();
        switch (dtype) {
            case F32: {
                java.nio.IntBuffer x = b.asIntBuffer();
                for (int i = 0; i < x.limit(); i++) if ((x.get(i) & 0x7f800000) == 0x7f800000) return i;
                return -1;
            }
            case BF16:
            case F16: {
                java.nio.ShortBuffer x = b.asShortBuffer();
                int e = dtype == DType.BF16 ? 0x7f80 : 0x7c00;
                for (int i = 0; i < x.limit(); i++) if ((x.get(i) & e) == e) return i;
                return -1;
            }
            case F64: {
                java.nio.LongBuffer x = b.asLongBuffer();
                for (int i = 0; i < x.limit(); i++) if ((x.get(i) & 0x7ff0000000000000L) == 0x7ff0000000000000L) return i;
                return -1;
            }
            default:
                throw new IllegalStateException("not a floating-point tensor: " + describe());
        }
    }

    /** All elements decoded to f32 (for small tensors and tests). */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(numel)];
        if (dtype == DType.F32) {
            floats().get(out);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = getFloat(i);
        }
        return out;
    }

    /**
     * Copies values in, converted to this tensor's dtype; the array length must equal numel.
     * Bulk copies, no per-element dispatch: every projection's input in training passes here.
     */
    public Tensor copyFrom(float[] values) {
        if (values.length != numel) throw new IllegalArgumentException(values.length + " values for " + this);
        switch (dtype) {
            case F32 -> floats().put(values);
            case BF16, F16 -> {
                short[] h = new short[values.length];
                if (dtype == DType.BF16) for (int i = 0; i < h.length; i++) h[i] = Half.floatToBf16(values[i]);
                else for (int i = 0; i < h.length; i++) h[i] = Half.floatToF16(values[i]);
                buffer().asShortBuffer().put(h);
            }
            default -> {
                for (int i = 0; i < values.length; i++) setFloat(i, values[i]);
            }
        }
        return this;
    }

    /**
     * Writes this tensor's values, converted to f32, into the first numel elements of dst (an f32
     * tensor at least as large): how memory-mapped bf16/f16 weights are widened for a GEMM.
     */
    public void convertInto(Tensor dst) {
        dst.requireDType(DType.F32);
        if (dst.numel < numel) throw new IllegalArgumentException("convertInto: " + dst + " is smaller than " + this);
        if (numel > Integer.MAX_VALUE) throw new IllegalArgumentException("convertInto: " + this + " is too large");
        FloatBuffer out = dst.floats();
        if (dtype == DType.F32) {
            out.put(0, floats(), 0, (int) numel);
            return;
        }
        if (dtype != DType.BF16 && dtype != DType.F16) {
            for (int i = 0; i < numel; i++) out.put(i, getFloat(i));
            return;
        }
        java.nio.ShortBuffer in = buffer().asShortBuffer();
        float[] chunk = new float[(int) Math.min(numel, 1 << 16)];
        short[] raw = new short[chunk.length];
        for (int off = 0; off < numel; off += chunk.length) {
            int n = (int) Math.min(chunk.length, numel - off);
            in.get(off, raw, 0, n);
            if (dtype == DType.BF16) for (int i = 0; i < n; i++) chunk[i] = Half.bf16ToFloat(raw[i]);
            else for (int i = 0; i < n; i++) chunk[i] = Half.f16ToFloat(raw[i]);
            out.put(off, chunk, 0, n);
        }
    }

    /** Fills every element with v (NaN to poison outputs in tests). */
    public Tensor fill(float v) {
        if (dtype == DType.F32) {
            FloatBuffer f = floats();
            for (int i = 0; i < f.capacity(); i++) f.put(i, v);
            return this;
        }
        for (long i = 0; i < numel; i++) setFloat(i, v);
        return this;
    }

    /** A copy converted to dtype (f32/bf16/f16), in Java. */
    public Tensor to(DType target) {
        Tensor t = allocate(target, shape);
        if (target == dtype) {
            t.buffer().put(buffer());
            return t;
        }
        if (target == DType.F32 && (dtype == DType.BF16 || dtype == DType.F16) && numel <= Integer.MAX_VALUE) {
            convertInto(t); // checkpoint weights are converted at load: a bulk decode, no per-element dispatch
            return t;
        }
        if (dtype == DType.F32 && numel <= Integer.MAX_VALUE) {
            t.copyFrom(toFloatArray());
            return t;
        }
        for (long i = 0; i < numel; i++) t.setFloat(i, getFloat(i));
        return t;
    }

    /** The Frobenius inner product with another tensor of the same size, in double. */
    public double dot(Tensor other) {
        if (other.numel != numel) throw new IllegalArgumentException("dot of " + this + " and " + other + ": sizes differ");
        double s = 0;
        if (dtype == DType.F32 && other.dtype == DType.F32) {
            FloatBuffer a = floats(), b = other.floats();
            for (int i = 0; i < a.capacity(); i++) s += (double) a.get(i) * b.get(i);
        } else {
            for (long i = 0; i < numel; i++) s += (double) getFloat(i) * other.getFloat(i);
        }
        return s;
    }

    public void requireDType(DType expected) {
        if (dtype != expected) throw new IllegalArgumentException("expected a " + expected + " tensor, got " + this);
    }

    public boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("tensor " + describe() + " is closed");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (owned != null) owned.deallocate();
        if (release != null) {
            try {
                release.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("freeing " + describe() + ": " + e.getMessage(), e);
            }
        }
    }

    public String describe() {
        return dtype + Arrays.toString(shape) + (buffer == null ? " (device)" : "");
    }

    @Override
    public String toString() {
        return "Tensor" + describe();
    }
}
