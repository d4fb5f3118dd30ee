package dev.asft.core.backend;

import dev.asft.core.ops.ReferenceOps;
import dev.asft.core.ops.SealedOps;
import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.Tensor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;

/**
 * The java backend with its step's tensors sealed in "device" memory ({@link SealedOps}): what a
 * GPU backend looks like to the model and the loop, on any machine. Tests train, score and
 * generate on it to show that nothing reads a tensor except through the ops.
 */
public final class SealedBackend {
    private SealedBackend() {}

    public static Backend create() {
        JavaBackend inner = new JavaBackend();
        TensorOps ops = SealedOps.over(new ReferenceOps());
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (proxy, m, args) -> {
            switch (m.getName()) {
                case "ops": return ops;
                case "name": return "sealed";
                case "describe": return "sealed: the java backend's ops over device-only tensors";
                case "hashCode": return System.identityHashCode(proxy);
                case "equals": return proxy == args[0];
                case "toString": return "sealed backend";
                default: break;
            }
            Object[] host = args == null ? null : args.clone();
            if (host != null)
                for (int i = 0; i < host.length; i++) {
                    if (host[i] instanceof Tensor t) host[i] = SealedOps.unseal(t);
                    if (host[i] instanceof java.util.List<?> list) { // regularizerBatch's modules
                        java.util.List<Object> l = new java.util.ArrayList<>(list);
                        l.replaceAll(o -> o instanceof Backend.RegularizerModule r ? new Backend.RegularizerModule(SealedOps.unseal(r.anchor()),
                                r.form(), SealedOps.unseal(r.a()), SealedOps.unseal(r.b()), SealedOps.unseal(r.gradA()),
                                SealedOps.unseal(r.gradB())) : o);
                        host[i] = l;
                    }
                }
            try {
                return m.invoke(inner, host);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }
}
