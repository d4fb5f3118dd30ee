package dev.asft.trainer.cli;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorBuilder;
import dev.asft.core.anchor.DenseAnchor;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.regularizer.AsftRegularizer;
import dev.asft.core.tensor.DType;
import dev.asft.trainer.example.ExampleModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code asft example}: writes a tiny (base, aligned, adapter) triple as real Hugging Face and
 * PEFT folders, then computes the AsFT penalty of every adapter module three ways (the fast
 * one-pass algebra on the chosen device, the Java reference, and the released code's dense
 * formula) and shows that they agree.
 */
@Command(name = "example", mixinStandardHelpOptions = true,
        description = "Build a tiny base/aligned/adapter example and compute its AsFT penalty three ways.")
final class ExampleCommand implements Callable<Integer> {
    static final String MARKER = ".asft-example";

    @Option(names = "--out", defaultValue = "target/example", description = "Where to write the example: a new or empty folder, "
            + "or a previous example's, which is replaced (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() throws Exception {
        // Its own previous output is replaced (documented); anything else there is refused.
        if (Files.exists(out.resolve(MARKER))) dev.asft.core.io.AtomicFiles.deleteTree(out);
        Outputs.folder("--out", out);
        ExampleModels em = new ExampleModels();
        em.seed = seed;
        dev.asft.core.io.AtomicFiles.writeFolder(out, tmp -> {
            em.write(tmp);
            Files.writeString(tmp.resolve(MARKER), "written by asft example\n");
        });
        ExampleModels.Paths p = new ExampleModels.Paths(out.resolve("base"), out.resolve("aligned"), out.resolve("adapter"));
        System.out.println("wrote " + p.base() + ", " + p.aligned() + " (bf16 Llama checkpoints) and " + p.adapter() + " (PEFT LoRA, r=8 on q_proj,v_proj)");
        Backend fast = Backends.select(device, true);
        Backend ref = new JavaBackend();
        double worst = 0;
        try (HfCheckpoint base = HfCheckpoint.open(p.base()); HfCheckpoint aligned = HfCheckpoint.open(p.aligned());
             PeftAdapter adapter = PeftAdapter.read(p.adapter());
             Anchor anchor = new AnchorBuilder(fast).targets(adapter.targetModules()).build(base, aligned, null);
             Anchor anchorC = new AnchorBuilder(ref).form(AnchorForm.C).storage(DType.F32)
                     .targets(adapter.targetModules()).build(base, aligned, null)) {
            AsftRegularizer reg = new AsftRegularizer(anchor, fast);
            System.out.printf("%-36s %14s %14s %14s%n", "module", fast.name() + " (Q)", "java ref", "dense formula");
            double total = 0;
            for (Map.Entry<String, PeftAdapter.Lora> e : adapter.modules().entrySet()) {
                String m = e.getKey();
                PeftAdapter.Lora l = e.getValue();
                double v = reg.accumulate(m, l.a(), l.b(), null, null, 0f);
                DenseAnchor c = (DenseAnchor) anchorC.get(m);
                double vRef = ref.regularizer(c.matrix(), AnchorForm.C, l.a(), l.b(), null, null, 0f);
                double vLit = ref.literalRegularizer(c.matrix(), l.a(), l.b(), null, null, 0f);
                worst = Math.max(worst, Math.max(Math.abs(v - vLit), Math.abs(vRef - vLit)) / Math.abs(vLit));
                total += v;
                System.out.printf("%-36s %14.6e %14.6e %14.6e%n", m, v, vRef, vLit);
            }
            System.out.printf("%-36s %14.6e%n", "total (the AsFT penalty at lambda = 1)", total);
        }
        System.out.printf("largest relative difference from the dense formula: %.2e%n", worst);
        System.out.println("next: ./asft regularizer --base " + p.base() + " --aligned " + p.aligned() + " --adapter " + p.adapter());
        return worst < 1e-4 ? 0 : 1;
    }
}
