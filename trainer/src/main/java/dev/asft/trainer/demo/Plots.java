package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The study's plots (XChart, PNG): harmful score and fine-tuning accuracy against the harmful
 * fraction p per method (error bars: 95% intervals over the seeds), with the aligned model as a
 * reference line, and the frontier: harmful score against task accuracy, each method along its knob.
 */
public final class Plots {
    private Plots() {}

    /** Writes the plots into dir; returns the files written. */
    public static List<Path> write(JsonNode results, Path dir) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(dir);
        List<Path> out = new ArrayList<>();
        for (String metric : List.of("harmful_score", "finetune_accuracy")) {
            XYChart c = new XYChartBuilder().width(640).height(420).title(title(metric) + " vs harmful fraction p")
                    .xAxisTitle("harmful fraction p").yAxisTitle(title(metric) + " (%)").build();
            style(c);
            Map<String, List<double[]>> byMethod = new LinkedHashMap<>();
            for (JsonNode r : results.get("rows"))
                byMethod.computeIfAbsent(ResultsTable.label(r.get("method").asText()), k -> new ArrayList<>())
                        .add(new double[] {r.get("p").asDouble(), r.get(metric).asDouble(), r.path(metric + "_ci95").asDouble(0)});
            double maxP = 0;
            for (var e : byMethod.entrySet()) {
                e.getValue().sort((a, b) -> Double.compare(a[0], b[0]));
                c.addSeries(e.getKey(), xs(e.getValue(), 0), xs(e.getValue(), 1), xs(e.getValue(), 2)); // error bars: 95% intervals
                for (double[] v : e.getValue()) maxP = Math.max(maxP, v[0]);
            }
            double ref = results.get("aligned").get(metric).asDouble();
            c.addSeries("aligned (no fine-tuning)", new double[] {0, Math.max(maxP, 0.01)}, new double[] {ref, ref})
                    .setMarker(SeriesMarkers.NONE);
            out.add(save(c, dir.resolve(metric + "_vs_p.png")));
        }
        JsonNode frontier = results.get("frontier");
        if (frontier != null && frontier.size() > 0) {
            XYChart c = new XYChartBuilder().width(760).height(560)
                    .title(String.format(java.util.Locale.ROOT, "harmful score vs task accuracy at p = %.2f", results.get("frontier_p").asDouble()))
                    .xAxisTitle("fine-tuning accuracy (%)").yAxisTitle("harmful score (%)").build();
            style(c);
            Map<String, List<double[]>> byMethod = new LinkedHashMap<>();
            for (JsonNode pt : frontier)
                byMethod.computeIfAbsent(ResultsTable.label(pt.get("method").asText()), k -> new ArrayList<>())
                        .add(new double[] {pt.path("value").asDouble(0), pt.get("finetune_accuracy").asDouble(), pt.get("harmful_score").asDouble(),
                                pt.path("harmful_score_ci95").asDouble(0)});
            for (var e : byMethod.entrySet()) {
                e.getValue().sort((a, b) -> Double.compare(a[0], b[0])); // along the knob
                c.addSeries(e.getKey(), xs(e.getValue(), 1), xs(e.getValue(), 2), xs(e.getValue(), 3));
            }
            out.add(save(c, dir.resolve("frontier.png")));
        }
        JsonNode traces = results.get("safety_over_training");
        if (traces != null && traces.has("sft")) {
            XYChart c = new XYChartBuilder().width(640).height(420)
                    .title(String.format(java.util.Locale.ROOT, "harmful score during training at p = %.2f (seed %d)", traces.get("p").asDouble(),
                            traces.get("seed").asLong()))
                    .xAxisTitle("optimizer step").yAxisTitle("harmful score (%)").build();
            style(c);
            for (String m : List.of("sft", "asft")) {
                if (!traces.has(m)) continue;
                List<double[]> v = new ArrayList<>();
                for (JsonNode pt : traces.get(m)) v.add(new double[] {pt.get(0).asDouble(), pt.get(1).asDouble()});
                c.addSeries(m.equals("asft") ? "AsFT (lambda = " + ResultsTable.num(StudyPlan.LAMBDA) + ")" : "SFT", xs(v, 0), xs(v, 1));
            }
            out.add(save(c, dir.resolve("safety_over_training.png")));
        }
        return out;
    }

    private static void style(XYChart c) {
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setYAxisMin(0.0);
        c.getStyler().setYAxisMax(100.0);
        c.getStyler().setMarkerSize(8);
        c.getStyler().setErrorBarsColorSeriesColor(true);
    }

    private static Path save(XYChart c, Path file) throws IOException {
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        BitmapEncoder.saveBitmap(c, png, BitmapEncoder.BitmapFormat.PNG);
        dev.asft.core.io.AtomicFiles.writeBytes(file, png.toByteArray());
        return file;
    }

    private static double[] xs(List<double[]> v, int k) {
        double[] out = new double[v.size()];
        for (int i = 0; i < out.length; i++) out[i] = v.get(i)[k];
        return out;
    }

    private static String title(String metric) {
        return metric.equals("harmful_score") ? "harmful score" : "fine-tuning accuracy";
    }
}
