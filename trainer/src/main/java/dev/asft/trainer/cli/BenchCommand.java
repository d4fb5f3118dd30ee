package dev.asft.trainer.cli;

import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.tensor.DType;
import dev.asft.trainer.bench.RegularizerBench;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft bench ...}: quick benchmarks of the hot paths (JMH in benchmarks/ is the reference). */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks of the hot paths.",
        subcommands = {BenchCommand.Regularizer.class})
final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "regularizer", mixinStandardHelpOptions = true,
            description = "Regularizer value+gradients for one module on random data: median time, anchor bytes "
                    + "streamed per second vs a plain read of the same bytes, and the dense formulation's time.")
    static final class Regularizer implements Callable<Integer> {
        @Option(names = "--d-out", defaultValue = "4096", description = "Rows of the module weight (default: ${DEFAULT-VALUE}).")
        int dOut;

        @Option(names = "--d-in", defaultValue = "4096", description = "Columns of the module weight (default: ${DEFAULT-VALUE}).")
        int dIn;

        @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r (default: ${DEFAULT-VALUE}).")
        int rank;

        @Option(names = "--modules", defaultValue = "4", description = "Anchors to rotate over (default: ${DEFAULT-VALUE}).")
        int modules;

        @Option(names = "--dtype", defaultValue = "f32", description = "Anchor storage: f32 or bf16 (default: ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--form", defaultValue = "Q", description = "Anchor form: Q (one pass) or C (two passes) (default: ${DEFAULT-VALUE}).")
        String form;

        @Option(names = "--mode", defaultValue = "code", description = "Anchor mode: code (dense), compressed:k or subspace:k (default: ${DEFAULT-VALUE}).")
        String mode;

        @Option(names = "--device", defaultValue = "cpu", description = "cpu or java (default: ${DEFAULT-VALUE}).")
        String device;

        @Option(names = "--seconds", defaultValue = "2", description = "Minimum timed seconds per measurement (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Option(names = "--json", description = "Print a JSON summary as the last line of stdout.")
        boolean json;

        @Override
        public Integer call() {
            if (dOut <= 0 || dIn <= 0) throw new IllegalArgumentException("--d-out and --d-in must be positive");
            if (rank <= 0) throw new IllegalArgumentException("--rank must be positive, got " + rank);
            if (modules <= 0) throw new IllegalArgumentException("--modules must be positive, got " + modules);
            RegularizerBench b = new RegularizerBench();
            b.dOut = dOut;
            b.dIn = dIn;
            b.rank = rank;
            b.modules = modules;
            b.dtype = DType.parse(dtype);
            if (b.dtype != DType.F32 && b.dtype != DType.BF16) throw new IllegalArgumentException("--dtype must be f32 or bf16");
            try {
                b.form = AnchorForm.valueOf(form.toUpperCase());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--form must be Q or C, got '" + form + "'");
            }
            b.minSeconds = seconds;
            b.mode = dev.asft.core.anchor.AnchorMode.parse(mode);
            if (b.mode.kind() == dev.asft.core.anchor.AnchorMode.Kind.DIRECTION)
                throw new IllegalArgumentException("--mode direction is not benchmarked; use code, compressed:k or subspace:k");
            Backend backend = Backends.select(device, false);
            if (backend.name().equals("java")) b.literalMaxMacs = 512.0 * 512 * 512;
            Map<String, Object> r = b.run(backend);
            System.out.printf("%s  d_out=%d d_in=%d r=%d anchor=%s %s%n", backend.describe(), dOut, dIn, rank, dtype,
                    b.mode.kind() == dev.asft.core.anchor.AnchorMode.Kind.CODE ? "form=" + b.form : "mode=" + b.mode);
            System.out.printf("regularizer   %10.3f ms/module   %7.2f GB/s anchor   (%.0f%% of the %.2f GB/s plain read, %.1f GFLOP/s)%n",
                    (Double) r.get("ms_per_module"), (Double) r.get("anchor_gb_per_s"),
                    100 * (Double) r.get("fraction_of_stream"), (Double) r.get("stream_gb_per_s"), (Double) r.get("gflop_per_s"));
            if (r.get("sgemm_gflop_per_s") != null)
                System.out.printf("FMA limit     OpenBLAS sgemm 2048^3 runs at %.1f GFLOP/s here: the regularizer reaches %.0f%% of it%n",
                        (Double) r.get("sgemm_gflop_per_s"), 100 * (Double) r.get("fraction_of_sgemm_peak"));
            if (r.get("literal_ms_per_module") != null)
                System.out.printf("dense formula %10.3f ms/module   (ours is %.0fx faster)%n",
                        (Double) r.get("literal_ms_per_module"), (Double) r.get("speedup_vs_literal"));
            else
                System.out.println("dense formula skipped at this size (too slow on this backend)");
            if (json) System.out.println(Json.line(r));
            return 0;
        }
    }
}
