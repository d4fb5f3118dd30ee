package dev.asft.core.ops;

import dev.asft.core.tensor.Tensor;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import org.bytedeco.javacpp.BytePointer;

/**
 * The reference ops over memory the host cannot read: every tensor they allocate is a device
 * tensor ({@link Tensor#isDevice()}), backed by host memory only the ops themselves look through.
 * A model or training loop that runs on these reads and writes its tensors only through ops, as
 * a GPU backend needs, and gives the reference's results bit for bit; one that reaches around
 * them fails at that line ("... is in device memory"), and so does one that hands the ops a host
 * tensor ("... got host tensor ..."). Tests run the trainer on them; no command
 * offers them.
 */
public final class SealedOps {
    private SealedOps() {}

    /** {@code inner}'s ops (a host backend's) with sealed tensors in and out. */
    public static TensorOps over(TensorOps inner) {
        Handler h = new Handler(inner);
        TensorOps proxy = (TensorOps) Proxy.newProxyInstance(TensorOps.class.getClassLoader(), new Class<?>[] {TensorOps.class}, h);
        h.self = proxy;
        return proxy;
    }

    /** A host tensor aliasing a sealed one's memory (what the inner ops compute on); others unchanged. */
    public static Tensor unseal(Tensor t) {
        if (t == null || !t.isDevice()) return t;
        long bytes = t.byteSize();
        ByteBuffer b = bytes == 0 ? ByteBuffer.allocateDirect(0) : new At(t.pointer().address(), bytes).asByteBuffer();
        return Tensor.wrap(b, t.dtype(), t.shape());
    }

    /** A sealed tensor over a new host allocation (freed when the sealed tensor closes). */
    static Tensor seal(Tensor host) {
        return Tensor.onDevice(host.dtype(), host.pointer().address(), host, host.shape());
    }

    private static final class At extends BytePointer {
        At(long address, long bytes) {
            this.address = address;
            this.capacity = bytes;
            this.limit = bytes;
        }
    }

    /** A device tensor's host alias; a host tensor is refused, as a GPU's ops refuse memory the device cannot read. */
    private static Tensor unsealArgument(Method m, Tensor t) {
        if (!t.isDevice()) throw new IllegalArgumentException(m.getName() + " got host tensor " + t.describe());
        return unseal(t);
    }

    private static final class Handler implements InvocationHandler {
        private final TensorOps inner;
        private TensorOps self;

        Handler(TensorOps inner) {
            this.inner = inner;
        }

        @Override
        public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
            switch (m.getName()) {
                case "newWorkspace": return new Workspace(self);
                case "allocate": return seal(inner.allocate((long[]) args[0]));
                case "zeros": return seal(inner.zeros((long[]) args[0]));
                case "holds": return ((Tensor) args[0]).isDevice();
                case "resident": {
                    if (((Tensor) args[0]).isDevice()) return args[0];
                    Tensor host = (Tensor) args[0], copy = Tensor.allocate(host.dtype(), host.shape());
                    copy.buffer().put(host.buffer());
                    return seal(copy);
                }
                case "toString": return "sealed " + inner;
                case "hashCode": return System.identityHashCode(proxy);
                case "equals": return proxy == args[0];
                default: break;
            }
            Object[] host = args == null ? null : args.clone();
            if (host != null)
                for (int i = 0; i < host.length; i++) {
                    if (host[i] instanceof Tensor t) host[i] = unsealArgument(m, t);
                    if (host[i] instanceof java.util.List<?> list) { // sumSquares(List<Tensor>)
                        java.util.List<Object> l = new java.util.ArrayList<>(list);
                        l.replaceAll(o -> o instanceof Tensor t ? unsealArgument(m, t) : o);
                        host[i] = l;
                    }
                }
            try {
                Object r = m.invoke(inner, host);
                if (r instanceof Tensor t && !t.isDevice()) throw new IllegalStateException(m.getName() + " returned a host tensor");
                return r;
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }
    }
}
