package dev.asft.trainer.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/** The metrics file of a run: one JSON object per optimizer step. */
public final class StepMetrics {
    private StepMetrics() {}

    /** Appends steps as JSON lines (the metrics file). */
    public static void appendMetrics(Path file, FineTuner.Step s) throws IOException {
        appendMetrics(file, s, Map.of());
    }

    /** As above, with extra fields at the end of the line (a safety probe's harmful score, the outside shares). */
    public static void appendMetrics(Path file, FineTuner.Step s, Map<String, Object> extra) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("step", s.step());
            o.put("epoch", s.epoch());
            o.put("loss", s.loss());
            o.put("task_loss", s.taskLoss());
            o.put("reg", s.reg());
            o.put("lr", s.lr());
            o.put("grad_norm", s.gradNorm());
            o.put("tokens", s.tokens());
            o.put("tokens_per_s", s.tokensPerS());
            o.put("elapsed_s", s.elapsedS());
            if (!Double.isNaN(s.peakRssMib())) o.put("peak_rss_mib", Math.round(s.peakRssMib() * 10) / 10.0);
            o.put("native_mib", Math.round(s.nativeMib() * 10) / 10.0);
            o.put("heap_mib", Math.round(s.heapMib() * 10) / 10.0);
            if (s.peakDeviceMib() > 0) o.put("peak_device_mib", Math.round(s.peakDeviceMib() * 10) / 10.0); // a GPU's, asft's own allocations
            o.putAll(extra);
            w.write(new ObjectMapper().writeValueAsString(o));
            w.newLine();
        }
    }

}
