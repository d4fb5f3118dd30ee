package dev.asft.trainer.data.jinja;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A Jinja2 template rendered as transformers renders chat templates: Jinja2's syntax and
 * whitespace rules (trim_blocks, lstrip_blocks, loopcontrols, the {% generation %} tag) on
 * Python's value semantics, with transformers' globals (raise_exception, strftime_now) and its
 * tojson. Values passed in are data: message text is never parsed as template code.
 *
 * <p>Why not Jinjava: it evaluates on Java semantics (Java's String.split takes a regex and
 * drops trailing empty pieces, strip() knows other whitespace, no slices with steps, no
 * arithmetic in keyword arguments) and by default re-interprets {@code {{ }}} found in values;
 * each difference changed what a model trains on. Hugging Face's own JavaScript port of
 * transformers' renderer (huggingface.js, packages/jinja) is the precedent for a small,
 * purpose-built interpreter.
 */
public final class JinjaTemplate {
    private final List<Stmt> body;
    private final Supplier<ZonedDateTime> clock;

    private JinjaTemplate(List<Stmt> body, Supplier<ZonedDateTime> clock) {
        this.body = body;
        this.clock = clock;
    }

    /** Parses a template; a syntax error names the line and the tag. */
    public static JinjaTemplate parse(String source) {
        return new JinjaTemplate(Parser.parse(source), ZonedDateTime::now);
    }

    /** The same template with strftime_now reading this clock (tests pin the date). */
    public JinjaTemplate withClock(Supplier<ZonedDateTime> clock) {
        return new JinjaTemplate(body, clock);
    }

    /** What a render produced: the text and the [start, end) character spans of its {% generation %} blocks. */
    public record Rendered(String text, List<int[]> generation) {}

    /** Renders with these variables (Java Strings, Numbers, Booleans, nulls, Lists and Maps, as from JSON). */
    public Rendered render(Map<String, ?> variables) {
        Scope.Output out = new Scope.Output();
        Scope globals = new Scope(null, out);
        installGlobals(globals);
        for (Map.Entry<String, ?> e : variables.entrySet()) globals.set(e.getKey(), fromJava(e.getValue()));
        Scope top = new Scope(globals, out);
        Stmt.renderAll(body, top);
        return new Rendered(out.text.toString(), new ArrayList<>(out.generation));
    }

    private void installGlobals(Scope g) {
        g.set("raise_exception", (Py.Callable) (a, k) -> {
            throw TemplateError.raised(a.isEmpty() ? "raise_exception()" : Py.str(a.get(0)));
        });
        g.set("strftime_now", (Py.Callable) (a, k) -> strftime(Py.str(a.get(0)), clock.get()));
        g.set("range", (Py.Callable) (a, k) -> range(a));
        g.set("namespace", (Py.Callable) (a, k) -> {
            Stmt.Namespace ns = new Stmt.Namespace();
            if (!a.isEmpty() && a.get(0) instanceof Map<?, ?> m) m.forEach((key, v) -> ns.values.put(Py.str(key), v));
            ns.values.putAll(k);
            return ns;
        });
        g.set("dict", (Py.Callable) (a, k) -> {
            Map<Object, Object> d = new LinkedHashMap<>();
            if (!a.isEmpty() && a.get(0) instanceof Map<?, ?> m) d.putAll(m);
            d.putAll(k);
            return d;
        });
    }

    private static List<Object> range(List<Object> a) {
        long start = 0, stop, step = 1;
        if (a.size() == 1) stop = Py.toLong(a.get(0));
        else {
            start = Py.toLong(a.get(0));
            stop = Py.toLong(a.get(1));
            if (a.size() > 2) step = Py.toLong(a.get(2));
        }
        if (step == 0) throw new TemplateError("range() arg 3 must not be zero");
        List<Object> out = new ArrayList<>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
            out.add(i);
            if (out.size() > 10_000_000) throw new TemplateError("range() too large");
        }
        return out;
    }

    /** Python's strftime for the directives chat templates use (%d %b %Y %B %m %H %M %S %y %j %A %a %%). */
    static String strftime(String fmt, ZonedDateTime t) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                b.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            b.append(switch (d) {
                case 'd' -> String.format("%02d", t.getDayOfMonth());
                case 'm' -> String.format("%02d", t.getMonthValue());
                case 'Y' -> String.valueOf(t.getYear());
                case 'y' -> String.format("%02d", t.getYear() % 100);
                case 'b' -> t.format(DateTimeFormatter.ofPattern("MMM", Locale.ENGLISH));
                case 'B' -> t.format(DateTimeFormatter.ofPattern("MMMM", Locale.ENGLISH));
                case 'a' -> t.format(DateTimeFormatter.ofPattern("EEE", Locale.ENGLISH));
                case 'A' -> t.format(DateTimeFormatter.ofPattern("EEEE", Locale.ENGLISH));
                case 'H' -> String.format("%02d", t.getHour());
                case 'M' -> String.format("%02d", t.getMinute());
                case 'S' -> String.format("%02d", t.getSecond());
                case 'j' -> String.format("%03d", t.getDayOfYear());
                case '%' -> "%";
                default -> throw new TemplateError("strftime_now: unsupported directive %" + d);
            });
        }
        return b.toString();
    }

    /** Java values to the template's Python values (ints as Long, floats as Double, maps keep their order). */
    static Object fromJava(Object v) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double) return v;
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof Float f) return (double) f;
        if (v instanceof java.math.BigInteger || v instanceof java.math.BigDecimal) {
            Number n = (Number) v;
            return v instanceof java.math.BigInteger ? (Object) n.longValue() : (Object) n.doubleValue();
        }
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> out.put(fromJava(k), fromJava(x)));
            return out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object x : l) out.add(fromJava(x));
            return out;
        }
        if (v instanceof Py.Callable || v instanceof Py.HasAttrs || v instanceof Py.Undefined) return v;
        throw new IllegalArgumentException("a template variable of type " + v.getClass().getName());
    }
}
