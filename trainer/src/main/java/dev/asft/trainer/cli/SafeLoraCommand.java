package dev.asft.trainer.cli;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorBuilder;
import dev.asft.core.anchor.AnchorFile;
import dev.asft.core.anchor.AnchorMode;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.safelora.SafeLora;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code asft safelora}: the Safe LoRA baseline, post hoc on a trained adapter. */
@Command(name = "safelora", mixinStandardHelpOptions = true,
        description = "Safe LoRA (Hsu et al. 2024): per module, cos = cosine(C·B·A, B·A) with code-mode C; project "
                + "B <- C·B where cos <= the threshold (default 0.5), or for the k modules of lowest cosine. "
                + "Writes a complete PEFT adapter folder and a per-module report.")
final class SafeLoraCommand implements Callable<Integer> {
    static final class Source {
        @Option(names = "--anchor", required = true, description = "A code-mode anchor file written by `asft anchor`.")
        Path anchor;

        @ArgGroup(exclusive = false)
        RegularizerCommand.Pair pair;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--adapter", required = true, description = "The PEFT LoRA adapter to project.")
    Path adapter;

    @Option(names = "--out", required = true, description = "The output adapter folder (new, or an empty folder).")
    Path out;

    static final class Rule {
        @Option(names = "--threshold", description = "Project modules whose cosine is <= this (default 0.5).")
        Double threshold;

        @Option(names = "--num-modules", description = "Project the k modules with the lowest cosine (q_proj and v_proj count separately).")
        Integer numModules;
    }

    @ArgGroup(exclusive = true)
    Rule rule;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or java (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--json", description = "Print the report as JSON on the last line of stdout.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (rule != null && rule.threshold != null) OptionChecks.range("--threshold", rule.threshold, -1, 1, true);
        SafeLora.Rule r = rule == null ? new SafeLora.Rule(0.5, null) : new SafeLora.Rule(rule.threshold, rule.numModules);
        Outputs.folder("--out", out);
        Backend backend = Backends.select(device, true);
        List<SafeLora.ModuleReport> report;
        try (PeftAdapter ad = PeftAdapter.read(adapter); Anchor anchor = anchor(backend, ad)) {
            if (anchor.info().mode().kind() != AnchorMode.Kind.CODE)
                throw new IllegalArgumentException("Safe LoRA uses code-mode C; " + source.anchor + " is a " + anchor.info().mode() + " anchor");
            report = SafeLora.apply(backend, anchor, ad, r);
            dev.asft.core.io.AtomicFiles.writeFolder(out, ad::write); // config copied as read, weights with B projected
        }
        int width = report.stream().mapToInt(m -> m.module().length()).max().orElse(6);
        System.out.printf("%-" + width + "s  %8s  %s%n", "module", "cosine", "projected");
        long n = 0;
        for (SafeLora.ModuleReport m : report) {
            System.out.printf("%-" + width + "s  %8.4f  %s%n", m.module(), m.cosine(), m.projected() ? "yes" : "no");
            if (m.projected()) n++;
        }
        System.out.printf("projected %d of %d modules (%s); wrote %s%n", n, report.size(),
                r.threshold() != null ? "cosine <= " + r.threshold() : "the " + r.numModules() + " lowest", out);
        if (json) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (SafeLora.ModuleReport m : report) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("module", m.module());
                row.put("cosine", m.cosine());
                row.put("projected", m.projected());
                rows.add(row);
            }
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("out", out.toString());
            o.put("modules", rows);
            o.put("projected", n);
            System.out.println(Json.line(o));
        }
        return 0;
    }

    private Anchor anchor(Backend backend, PeftAdapter ad) {
        if (source.anchor != null) return AnchorFile.read(source.anchor, backend, AnchorForm.C);
        try (HfCheckpoint b = HfCheckpoint.open(source.pair.base); HfCheckpoint a = HfCheckpoint.open(source.pair.aligned)) {
            AnchorBuilder builder = new AnchorBuilder(backend).form(AnchorForm.C);
            Anchor anchor = new Anchor(builder.info(b, a));
            for (String m : ad.modules().keySet()) anchor.put(builder.buildModule(b, a, m));
            return anchor;
        }
    }
}
