package dev.asft.trainer.data.jinja;

import java.math.BigDecimal;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's value semantics, which chat templates are written against (they run in Jinja2 on
 * Python values): None is {@code null}, int is {@link Long}, float {@link Double}, bool
 * {@link Boolean}, str {@link String}, list {@link List}, tuple {@link Tuple}, dict {@link Map};
 * plus Jinja2's {@link Undefined}. Truthiness, equality, str() and repr(), arithmetic, indexing
 * and slicing behave as in CPython, so a template renders here as transformers renders it.
 */
public final class Py {
    private Py() {}

    /** Jinja2's Undefined: prints as "", is false, equals only another Undefined; any use beyond that fails. */
    public record Undefined(String hint) {
        @Override
        public String toString() {
            return "";
        }
    }

    /** A Python tuple (repr with parentheses; otherwise a read-only list). */
    public static final class Tuple extends AbstractList<Object> {
        final List<Object> items;

        public Tuple(List<Object> items) {
            this.items = items;
        }

        @Override
        public Object get(int i) {
            return items.get(i);
        }

        @Override
        public int size() {
            return items.size();
        }
    }

    /** Something templates call: raise_exception, a macro, a bound str method. */
    @FunctionalInterface
    public interface Callable {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    /** An object with named attributes (loop, namespace). */
    public interface HasAttrs {
        /** The attribute, or null when there is none (an Undefined follows). */
        Object attr(String name);

        boolean hasAttr(String name);
    }

    /** Python's str.isspace() for one code point (the set CPython's strip() and split() use). */
    public static boolean isSpace(int c) {
        return (c >= 0x9 && c <= 0xd) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
    }

    public static boolean truthy(Object v) {
        if (v == null || v instanceof Undefined) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof Long l) return l != 0;
        if (v instanceof Double d) return d != 0.0;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof List<?> l) return !l.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }

    static String typeName(Object v) {
        if (v == null) return "NoneType";
        if (v instanceof Undefined) return "Undefined";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Long) return "int";
        if (v instanceof Double) return "float";
        if (v instanceof String) return "str";
        if (v instanceof Tuple) return "tuple";
        if (v instanceof List) return "list";
        if (v instanceof Map) return "dict";
        if (v instanceof Callable) return "function";
        return v.getClass().getSimpleName();
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    static boolean isInt(Object v) {
        return v instanceof Long || v instanceof Boolean;
    }

    static long toLong(Object v) {
        if (v instanceof Boolean b) return b ? 1 : 0;
        return (Long) v;
    }

    static double toDouble(Object v) {
        if (v instanceof Double d) return d;
        return toLong(v);
    }

    /** Python's str(v). */
    public static String str(Object v) {
        if (v instanceof String s) return s;
        if (v instanceof Undefined) return "";
        return repr(v);
    }

    /** Python's repr(v). */
    public static String repr(Object v) {
        if (v == null) return "None";
        if (v instanceof Boolean b) return b ? "True" : "False";
        if (v instanceof Long l) return l.toString();
        if (v instanceof Double d) return floatRepr(d);
        if (v instanceof String s) return strRepr(s);
        if (v instanceof Undefined) return "";
        if (v instanceof Tuple t) {
            StringBuilder b = new StringBuilder("(");
            for (int i = 0; i < t.size(); i++) b.append(i > 0 ? ", " : "").append(repr(t.get(i)));
            return b.append(t.size() == 1 ? ",)" : ")").toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) b.append(i > 0 ? ", " : "").append(repr(l.get(i)));
            return b.append(']').toString();
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                first = false;
            }
            return b.append('}').toString();
        }
        return v.toString();
    }

    /** CPython's float repr: the shortest round-tripping digits, fixed for 1e-4 <= |d| < 1e16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int exp = digits.length() - 1 - bd.scale(); // d = digits[0].digits[1:] x 10^exp
        String sign = d < 0 ? "-" : "";
        if (exp >= -4 && exp < 16) {
            String plain = bd.toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }

    static String strRepr(String s) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder b = new StringBuilder().append(q);
        s.codePoints().forEach(c -> {
            if (c == q || c == '\\') b.append('\\').appendCodePoint(c);
            else if (c == '\n') b.append("\\n");
            else if (c == '\r') b.append("\\r");
            else if (c == '\t') b.append("\\t");
            else if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", c));
            else b.appendCodePoint(c);
        });
        return b.append(q).toString();
    }

    /** Python's ==. */
    public static boolean eq(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return toLong(a) == toLong(b);
            return toDouble(a) == toDouble(b);
        }
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            if ((a instanceof Tuple) != (b instanceof Tuple) || la.size() != lb.size()) return false;
            for (int i = 0; i < la.size(); i++) if (!eq(la.get(i), lb.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            if (ma.size() != mb.size()) return false;
            for (Map.Entry<?, ?> e : ma.entrySet())
                if (!mb.containsKey(e.getKey()) || !eq(e.getValue(), mb.get(e.getKey()))) return false;
            return true;
        }
        return a.equals(b);
    }

    /** Python's <, <=, >, >= as a sign; what Python refuses to order is an error. */
    static int compare(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return Long.compare(toLong(a), toLong(b));
            return Double.compare(toDouble(a), toDouble(b));
        }
        if (a instanceof String sa && b instanceof String sb) return compareCodePoints(sa, sb);
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            for (int i = 0; i < Math.min(la.size(), lb.size()); i++) {
                if (eq(la.get(i), lb.get(i))) continue;
                return compare(la.get(i), lb.get(i));
            }
            return Integer.compare(la.size(), lb.size());
        }
        throw new TemplateError("'<' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    private static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /** Python's len(): code points for a str. */
    static int len(Object v) {
        if (v instanceof String s) return s.codePointCount(0, s.length());
        if (v instanceof List<?> l) return l.size();
        if (v instanceof Map<?, ?> m) return m.size();
        throw new TemplateError("object of type '" + typeName(v) + "' has no len()");
    }

    /** What a for loop (or list()) sees: a str's characters, a dict's keys, a list's items. */
    static List<Object> iterate(Object v) {
        if (v instanceof List<?> l) return new ArrayList<>(l);
        if (v instanceof Map<?, ?> m) return new ArrayList<>(m.keySet());
        if (v instanceof String s) {
            List<Object> out = new ArrayList<>();
            s.codePoints().forEach(c -> out.add(new String(Character.toChars(c))));
            return out;
        }
        if (v instanceof Undefined) return new ArrayList<>(); // Jinja2 iterates an Undefined as empty
        throw new TemplateError("'" + typeName(v) + "' object is not iterable");
    }

    /** Python's `in`. */
    static boolean contains(Object container, Object item) {
        if (container instanceof String s) {
            if (!(item instanceof String sub)) throw new TemplateError("'in <string>' requires string as left operand, not " + typeName(item));
            return s.contains(sub);
        }
        if (container instanceof Map<?, ?> m) return m.containsKey(item);
        if (container instanceof List<?> l) {
            for (Object o : l) if (eq(o, item)) return true;
            return false;
        }
        if (container instanceof Undefined) return false; // Jinja2's Undefined iterates as empty
        throw new TemplateError("argument of type '" + typeName(container) + "' is not iterable");
    }

    /** A Python index (negatives from the end) into a list or str (by code point). */
    static Object index(Object seq, Object key) {
        if (seq instanceof Map<?, ?> m) {
            Object k = key instanceof Boolean b ? (Long) (b ? 1L : 0L) : key;
            return m.containsKey(k) ? m.get(k) : new Undefined("no key " + repr(key));
        }
        if ((seq instanceof List || seq instanceof String) && isInt(key)) {
            int n = len(seq);
            long i = toLong(key);
            if (i < 0) i += n;
            if (i < 0 || i >= n) return new Undefined(typeName(seq) + " index " + key + " out of range");
            if (seq instanceof List<?> l) return l.get((int) i);
            String s = (String) seq;
            int at = s.offsetByCodePoints(0, (int) i);
            return s.substring(at, s.offsetByCodePoints(at, 1));
        }
        return null; // not indexable this way: the caller tries attributes or reports
    }

    /** seq[start:stop:step] with Python's rules for omitted and negative bounds. */
    static Object slice(Object seq, Object start, Object stop, Object step) {
        List<Object> items = seq instanceof String ? iterate(seq) : seq instanceof List<?> l ? new ArrayList<>(l) : null;
        if (items == null) throw new TemplateError("'" + typeName(seq) + "' object is not subscriptable");
        int n = items.size();
        long st = step == null ? 1 : toLong(step);
        if (st == 0) throw new TemplateError("slice step cannot be zero");
        long lo, hi;
        if (st > 0) {
            lo = start == null ? 0 : clampIndex(toLong(start), n, 0, n);
            hi = stop == null ? n : clampIndex(toLong(stop), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clampIndex(toLong(start), n, -1, n - 1);
            hi = stop == null ? -1 : clampIndex(toLong(stop), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) out.add(items.get((int) i));
        if (seq instanceof String) {
            StringBuilder b = new StringBuilder();
            for (Object o : out) b.append((String) o);
            return b.toString();
        }
        return seq instanceof Tuple ? new Tuple(out) : out;
    }

    private static long clampIndex(long i, int n, long min, long max) {
        if (i < 0) i += n;
        return Math.max(min, Math.min(max, i));
    }
}
