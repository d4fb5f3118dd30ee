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
 * fraction p per method, with the aligned model as a reference line, and the lambda sweep.
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
            for (JsonNode r : results.get("rows")) {
                if (r.get("method").asText().equals("asft") && r.get("lambda").asDouble() != StudyPlan.LAMBDA) continue;
                byMethod.computeIfAbsent(label(r.get("method").asText()), k -> new ArrayList<>())
                        .add(new double[] {r.get("p").asDouble(), r.get(metric).asDouble(), r.path(metric + "_sd").asDouble(0)});
            }
            double maxP = 0;
            for (var e : byMethod.entrySet()) {
                e.getValue().sort((a, b) -> Double.compare(a[0], b[0]));
                c.addSeries(e.getKey(), xs(e.getValue(), 0), xs(e.getValue(), 1), xs(e.getValue(), 2)); // error bars: the runs' sd
                for (double[] v : e.getValue()) maxP = Math.max(maxP, v[0]);
            }
            double ref = results.get("aligned").get(metric).asDouble();
            c.addSeries("aligned (no fine-tuning)", new double[] {0, Math.max(maxP, 0.01)}, new double[] {ref, ref})
                    .setMarker(SeriesMarkers.NONE);
            out.add(save(c, dir.resolve(metric + "_vs_p.png")));
        }
        List<double[]> sweep = new ArrayList<>();
        double sweepP = -1;
        for (JsonNode r : results.get("rows"))
            if (r.get("method").asText().equals("asft")) sweep.add(new double[] {r.get("lambda").asDouble(), r.get("harmful_score").asDouble(),
                    r.get("finetune_accuracy").asDouble(), r.get("p").asDouble(), r.path("harmful_score_sd").asDouble(0),
                    r.path("finetune_accuracy_sd").asDouble(0)});
        if (!sweep.isEmpty()) {
            sweepP = sweep.get(sweep.size() - 1)[3];
            final double sp = sweepP;
            sweep.removeIf(v -> v[3] != sp);
        }
        if (sweep.size() >= 2) { // a sweep, not just the main row
            sweep.sort((a, b) -> Double.compare(a[0], b[0]));
            XYChart c = new XYChartBuilder().width(640).height(420).title("AsFT lambda sweep at p = " + DemoStudy.fmt(sweepP))
                    .xAxisTitle("lambda").yAxisTitle("%").build();
            style(c);
            c.getStyler().setXAxisLogarithmic(sweep.get(0)[0] > 0);
            c.addSeries("harmful score", xs(sweep, 0), xs(sweep, 1), xs(sweep, 4));
            c.addSeries("finetune accuracy", xs(sweep, 0), xs(sweep, 2), xs(sweep, 5));
            out.add(save(c, dir.resolve("lambda_sweep.png")));
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

    private static String label(String method) {
        return switch (method) {
            case "sft" -> "SFT";
            case "safelora" -> "Safe LoRA";
            case "asft" -> "AsFT (lambda = 1)";
            default -> method;
        };
    }
}
