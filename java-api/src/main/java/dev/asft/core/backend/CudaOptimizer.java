package dev.asft.core.backend;

import dev.asft.core.nativeapi.AsftCudaNative;
import java.util.List;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.LongPointer;

/**
 * Fused optimizer steps over every LoRA tensor on the device in one launch (libasft_cuda):
 * AdamW with PyTorch's semantics (decoupled weight decay, bias correction) and SGD.
 */
public final class CudaOptimizer {
    private CudaOptimizer() {}

    /** One parameter tensor on the device: values, gradient, and (AdamW) the two moments. */
    public record Param(DeviceBuffer param, DeviceBuffer grad, DeviceBuffer m, DeviceBuffer v) {
        long n() {
            return param.bytes() / 4;
        }
    }

    private static LongPointer table(List<Param> params, boolean moments) {
        long[] t = new long[params.size() * 5];
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            if (p.grad().bytes() != p.param().bytes()) throw new IllegalArgumentException("param " + i + ": gradient size differs");
            if (moments && (p.m() == null || p.v() == null || p.m().bytes() != p.param().bytes() || p.v().bytes() != p.param().bytes()))
                throw new IllegalArgumentException("param " + i + ": AdamW needs both moments, the size of the parameter");
            t[5 * i] = p.param().address();
            t[5 * i + 1] = p.grad().address();
            t[5 * i + 2] = moments ? p.m().address() : 0;
            t[5 * i + 3] = moments ? p.v().address() : 0;
            t[5 * i + 4] = p.n();
        }
        return new LongPointer(t);
    }

    public static void adamw(List<Param> params, float lr, float beta1, float beta2, float eps, float weightDecay, long step) {
        if (step < 1) throw new IllegalArgumentException("AdamW step counts from 1, got " + step);
        try (LongPointer t = table(params, true)) {
            CudaRuntime.checkAsft(AsftCudaNative.asft_cuda_adamw_table(t, params.size(), lr, beta1, beta2, eps, weightDecay, step, null),
                    "asft_cuda_adamw_table");
            CudaRuntime.check(cudart.cudaDeviceSynchronize(), "cudaDeviceSynchronize after asft_cuda_adamw_table");
        }
    }

    public static void sgd(List<Param> params, float lr, float weightDecay) {
        try (LongPointer t = table(params, false)) {
            CudaRuntime.checkAsft(AsftCudaNative.asft_cuda_sgd_table(t, params.size(), lr, weightDecay, null), "asft_cuda_sgd_table");
            CudaRuntime.check(cudart.cudaDeviceSynchronize(), "cudaDeviceSynchronize after asft_cuda_sgd_table");
        }
    }
}
