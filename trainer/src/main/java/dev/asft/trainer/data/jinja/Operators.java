package dev.asft.trainer.data.jinja;

import java.util.ArrayList;
import java.util.List;

/** Python's binary and unary arithmetic on template values (int stays int, / is true division, // and % floor). */
final class Operators {
    private Operators() {}

    static Object binary(String op, Object a, Object b) {
        switch (op) {
            case "+":
                if (a instanceof String sa && b instanceof String sb) return sa + sb;
                if (a instanceof List<?> la && b instanceof List<?> lb && (a instanceof Py.Tuple) == (b instanceof Py.Tuple)) {
                    List<Object> out = new ArrayList<>(la);
                    out.addAll(lb);
                    return a instanceof Py.Tuple ? new Py.Tuple(out) : out;
                }
                if (a instanceof String && !(b instanceof String))
                    throw new TemplateError("can only concatenate str (not \"" + Py.typeName(b) + "\") to str");
                if (a instanceof List && !(b instanceof List))
                    throw new TemplateError("can only concatenate list (not \"" + Py.typeName(b) + "\") to list");
                return numeric(op, a, b);
            case "*":
                if (a instanceof String s && Py.isInt(b)) return s.repeat((int) Math.max(0, Py.toLong(b)));
                if (b instanceof String s && Py.isInt(a)) return s.repeat((int) Math.max(0, Py.toLong(a)));
                if (a instanceof List<?> l && Py.isInt(b)) {
                    List<Object> out = new ArrayList<>();
                    for (long i = 0; i < Py.toLong(b); i++) out.addAll(l);
                    return out;
                }
                return numeric(op, a, b);
            case "%":
                if (a instanceof String s) return PercentFormat.format(s, b);
                return numeric(op, a, b);
            default:
                return numeric(op, a, b);
        }
    }

    private static Object numeric(String op, Object a, Object b) {
        if (!Py.isNumber(a) || !Py.isNumber(b))
            throw new TemplateError("unsupported operand type(s) for " + op + ": '" + Py.typeName(a) + "' and '" + Py.typeName(b) + "'");
        boolean ints = Py.isInt(a) && Py.isInt(b);
        switch (op) {
            case "+":
                return ints ? (Object) (Py.toLong(a) + Py.toLong(b)) : (Object) (Py.toDouble(a) + Py.toDouble(b));
            case "-":
                return ints ? (Object) (Py.toLong(a) - Py.toLong(b)) : (Object) (Py.toDouble(a) - Py.toDouble(b));
            case "*":
                return ints ? (Object) (Py.toLong(a) * Py.toLong(b)) : (Object) (Py.toDouble(a) * Py.toDouble(b));
            case "/":
                if (Py.toDouble(b) == 0) throw new TemplateError("division by zero");
                return Py.toDouble(a) / Py.toDouble(b);
            case "//":
                if (Py.toDouble(b) == 0) throw new TemplateError("integer division or modulo by zero");
                return ints ? (Object) Math.floorDiv(Py.toLong(a), Py.toLong(b)) : (Object) Math.floor(Py.toDouble(a) / Py.toDouble(b));
            case "%":
                if (Py.toDouble(b) == 0) throw new TemplateError("integer division or modulo by zero");
                if (ints) return Math.floorMod(Py.toLong(a), Py.toLong(b));
                double x = Py.toDouble(a), y = Py.toDouble(b), r = x % y;
                return (r != 0 && (r < 0) != (y < 0)) ? r + y : r;
            case "**":
                if (ints && Py.toLong(b) >= 0) {
                    long r2 = 1, base = Py.toLong(a);
                    for (long i = 0; i < Py.toLong(b); i++) r2 *= base;
                    return r2;
                }
                return Math.pow(Py.toDouble(a), Py.toDouble(b));
            default:
                throw new TemplateError("unknown operator " + op);
        }
    }

    static Object negate(Object v) {
        if (Py.isInt(v)) return -Py.toLong(v);
        if (v instanceof Double d) return -d;
        throw new TemplateError("bad operand type for unary -: '" + Py.typeName(v) + "'");
    }

    /** Python's printf-style 'fmt' % args for %s, %d, %r, %f and %%, which templates use. */
    static final class PercentFormat {
        private PercentFormat() {}

        static String format(String fmt, Object args) {
            List<Object> values = args instanceof Py.Tuple t ? t : java.util.Collections.singletonList(args);
            StringBuilder out = new StringBuilder();
            int k = 0;
            for (int i = 0; i < fmt.length(); i++) {
                char c = fmt.charAt(i);
                if (c != '%') {
                    out.append(c);
                    continue;
                }
                if (++i >= fmt.length()) throw new TemplateError("incomplete format");
                char f = fmt.charAt(i);
                if (f == '%') {
                    out.append('%');
                    continue;
                }
                if (k >= values.size()) throw new TemplateError("not enough arguments for format string");
                Object v = values.get(k++);
                switch (f) {
                    case 's' -> out.append(Py.str(v));
                    case 'r' -> out.append(Py.repr(v));
                    case 'd', 'i' -> out.append(Py.isNumber(v) ? Long.toString((long) Py.toDouble(v)) : fail(v));
                    case 'f' -> out.append(String.format(java.util.Locale.ROOT, "%.6f", Py.toDouble(v)));
                    default -> throw new TemplateError("unsupported format character '" + f + "'");
                }
            }
            return out.toString();
        }

        private static String fail(Object v) {
            throw new TemplateError("%d format: a real number is required, not " + Py.typeName(v));
        }
    }
}
