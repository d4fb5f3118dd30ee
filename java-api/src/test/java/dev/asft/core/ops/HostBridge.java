package dev.asft.core.ops;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A device backend's ops taking host tensors, for tests written on host tensors (TensorOpsTest):
 * each call copies its tensor arguments in through the ops (f32 through copyIn; a bf16/f16 table
 * through resident), runs the op on the device copies, and copies every f32 argument back out
 * (inputs come back unchanged); one host tensor passed twice is one device tensor (in-place ops).
 * What the test then reads went through the device backend's own copyIn, op and copyOut.
 */
final class HostBridge {
    private HostBridge() {}

    static TensorOps over(TensorOps device) {
        Object[] self = new Object[1];
        TensorOps bridge = (TensorOps) Proxy.newProxyInstance(TensorOps.class.getClassLoader(), new Class<?>[] {TensorOps.class}, (proxy, m, args) -> {
            switch (m.getName()) {
                case "allocate", "zeros": {
                    try (Tensor d = (Tensor) invoke(m, device, args)) {
                        return Tensor.of(DType.F32, device.copyOut(d), d.shape());
                    }
                }
                case "newWorkspace": return new Workspace((TensorOps) self[0]);
                case "holds": return !((Tensor) args[0]).isDevice();
                case "resident": return args[0];
                case "packWeight": return null; // a device copy would not outlive this call
                case "toString": return "host bridge over " + device;
                case "hashCode": return System.identityHashCode(proxy);
                case "equals": return proxy == args[0];
                default: break;
            }
            Map<Tensor, Tensor> copies = new IdentityHashMap<>();
            Object[] a = args == null ? null : args.clone();
            try {
                if (a != null)
                    for (int i = 0; i < a.length; i++) {
                        if (a[i] instanceof Tensor t) a[i] = copies.computeIfAbsent(t, h -> up(device, h));
                        if (a[i] instanceof List<?> list) {
                            List<Object> l = new ArrayList<>(list);
                            l.replaceAll(o -> o instanceof Tensor t ? copies.computeIfAbsent(t, h -> up(device, h)) : o);
                            a[i] = l;
                        }
                    }
                Object r = invoke(m, device, a);
                for (Map.Entry<Tensor, Tensor> e : copies.entrySet())
                    if (e.getKey().dtype() == DType.F32) e.getKey().copyFrom(device.copyOut(e.getValue()));
                return r;
            } finally {
                for (Map.Entry<Tensor, Tensor> e : copies.entrySet()) if (e.getValue() != e.getKey()) e.getValue().close();
            }
        });
        self[0] = bridge;
        return bridge;
    }

    private static Tensor up(TensorOps device, Tensor host) {
        if (host.dtype() != DType.F32) return device.resident(host);
        Tensor d = device.allocate(host.shape());
        device.copyIn(host.toFloatArray(), d);
        return d;
    }

    private static Object invoke(java.lang.reflect.Method m, Object target, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
