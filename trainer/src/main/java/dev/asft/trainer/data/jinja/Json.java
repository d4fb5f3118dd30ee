package dev.asft.trainer.data.jinja;

import java.util.List;
import java.util.Map;

/**
 * transformers' tojson filter: Python's json.dumps(x, ensure_ascii=False, indent=indent),
 * byte for byte (", " and ": " separators without indent, "," and newlines with it).
 */
final class Json {
    private Json() {}

    static String dumps(Object v, int indent) {
        StringBuilder b = new StringBuilder();
        write(b, v, indent, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, int indent, int depth) {
        if (v == null) b.append("null");
        else if (v instanceof Boolean x) b.append(x ? "true" : "false");
        else if (v instanceof Long x) b.append(x);
        else if (v instanceof Double d) b.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : Py.floatRepr(d));
        else if (v instanceof String s) string(b, s);
        else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                b.append("[]");
                return;
            }
            b.append('[');
            for (int i = 0; i < l.size(); i++) {
                b.append(i == 0 ? "" : indent < 0 ? ", " : ",");
                newline(b, indent, depth + 1);
                write(b, l.get(i), indent, depth + 1);
            }
            newline(b, indent, depth);
            b.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                b.append("{}");
                return;
            }
            b.append('{');
            int i = 0;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(i++ == 0 ? "" : indent < 0 ? ", " : ",");
                newline(b, indent, depth + 1);
                Object key = e.getKey();
                string(b, key instanceof String s ? s : key == null ? "null" : key instanceof Boolean x ? (x ? "true" : "false") : Py.str(key));
                b.append(": ");
                write(b, e.getValue(), indent, depth + 1);
            }
            newline(b, indent, depth);
            b.append('}');
        } else if (v instanceof Stmt.Namespace) {
            throw new TemplateError("Object of type Namespace is not JSON serializable");
        } else {
            throw new TemplateError("Object of type " + Py.typeName(v) + " is not JSON serializable");
        }
    }

    private static void newline(StringBuilder b, int indent, int depth) {
        if (indent >= 0) b.append('\n').append(" ".repeat(indent * depth));
    }

    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
