package dev.asft.trainer.data.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Jinja2's built-in filters and tests that chat templates use, plus transformers' tojson. */
final class Filters {
    private Filters() {}

    static Object filter(String name, Object v, List<Object> a, Map<String, Object> k, Scope s) {
        switch (name) {
            case "trim":
                return Methods.strip(Py.str(Expr.defined(v)), a.isEmpty() ? null : (String) a.get(0), true, true);
            case "upper":
                return Py.str(v).toUpperCase(java.util.Locale.ROOT);
            case "lower":
                return Py.str(v).toLowerCase(java.util.Locale.ROOT);
            case "capitalize":
                return Methods.lookup(Py.str(v), "capitalize").call(List.of(), Map.of());
            case "title":
                return Methods.title(Py.str(v));
            case "string":
                return Py.str(v);
            case "safe":
            case "e":
            case "escape":
            case "forceescape":
                return name.equals("safe") ? v : htmlEscape(Py.str(v));
            case "length":
            case "count":
                return (long) Py.len(Expr.defined(v));
            case "list":
                return Py.iterate(Expr.defined(v));
            case "first": {
                List<Object> l = Py.iterate(Expr.defined(v));
                return l.isEmpty() ? new Py.Undefined("no first item, sequence was empty") : l.get(0);
            }
            case "last": {
                List<Object> l = Py.iterate(Expr.defined(v));
                return l.isEmpty() ? new Py.Undefined("no last item, sequence was empty") : l.get(l.size() - 1);
            }
            case "reverse":
                if (v instanceof String str) return new StringBuilder(str).reverse().toString();
                return reversed(Py.iterate(Expr.defined(v)));
            case "join": {
                String sep = a.isEmpty() ? (String) k.getOrDefault("d", "") : Py.str(a.get(0));
                Object attr = k.get("attribute");
                StringBuilder b = new StringBuilder();
                List<Object> items = Py.iterate(Expr.defined(v));
                for (int i = 0; i < items.size(); i++)
                    b.append(i > 0 ? sep : "").append(Py.str(attr == null ? items.get(i) : Expr.Attr.attribute(items.get(i), Py.str(attr))));
                return b.toString();
            }
            case "default":
            case "d": {
                boolean bool = a.size() > 1 ? Py.truthy(a.get(1)) : Py.truthy(k.get("boolean"));
                Object dflt = !a.isEmpty() ? a.get(0) : k.getOrDefault("default_value", "");
                return (v instanceof Py.Undefined || (bool && !Py.truthy(v))) ? dflt : v;
            }
            case "tojson": {
                Object indent = !a.isEmpty() ? a.get(0) : k.get("indent");
                return Json.dumps(v, indent == null ? -1 : (int) Py.toLong(indent));
            }
            case "items":
                if (v instanceof Py.Undefined) return new ArrayList<>();
                return Methods.lookup(mapping(v, name), "items").call(List.of(), Map.of());
            case "dictsort": {
                List<Object> items = new ArrayList<>(Py.iterate(Methods.lookup(mapping(v, name), "items").call(List.of(), Map.of())));
                items.sort((x, y) -> Py.compare(((List<?>) x).get(0), ((List<?>) y).get(0)));
                return items;
            }
            case "int":
                return toInt(v, a.isEmpty() ? 0L : a.get(0));
            case "float":
                return toFloat(v, a.isEmpty() ? 0.0 : a.get(0));
            case "abs":
                return Py.isInt(v) ? (Object) Math.abs(Py.toLong(v)) : (Object) Math.abs(Py.toDouble(Expr.defined(v)));
            case "round":
                return (double) Math.round(Py.toDouble(Expr.defined(v)));
            case "replace":
                return Methods.lookup(Py.str(v), "replace").call(a, Map.of());
            case "indent":
                return indent(Py.str(v), a, k);
            case "unique":
                return uniq(Py.iterate(Expr.defined(v)));
            case "sum": {
                Object total = 0L;
                for (Object o : Py.iterate(Expr.defined(v))) total = Operators.binary("+", total, o);
                return total;
            }
            case "min":
            case "max": {
                List<Object> l = Py.iterate(Expr.defined(v));
                if (l.isEmpty()) return new Py.Undefined("no " + name + " item, sequence was empty");
                Object best = l.get(0);
                for (Object o : l) if (name.equals("min") ? Py.compare(o, best) < 0 : Py.compare(o, best) > 0) best = o;
                return best;
            }
            case "sort": {
                List<Object> l = new ArrayList<>(Py.iterate(Expr.defined(v)));
                Object attr = k.get("attribute");
                l.sort((x, y) -> attr == null ? Py.compare(x, y) : Py.compare(Expr.Attr.attribute(x, Py.str(attr)), Expr.Attr.attribute(y, Py.str(attr))));
                return Py.truthy(k.get("reverse")) || (!a.isEmpty() && Py.truthy(a.get(0))) ? reversed(l) : l;
            }
            case "map": {
                List<Object> out = new ArrayList<>();
                for (Object o : Py.iterate(Expr.defined(v))) {
                    if (k.containsKey("attribute")) {
                        Object got = Expr.Attr.attribute(o, Py.str(k.get("attribute")));
                        out.add(got instanceof Py.Undefined && k.containsKey("default") ? k.get("default") : got);
                    } else {
                        out.add(filter(Py.str(a.get(0)), o, a.subList(1, a.size()), Map.of(), s));
                    }
                }
                return out;
            }
            case "select":
            case "reject":
            case "selectattr":
            case "rejectattr":
                return select(name, v, a, s);
            case "format":
                return Operators.binary("%", Py.str(v), a.size() == 1 ? a.get(0) : new Py.Tuple(a));
            case "wordcount":
                return (long) Methods.split(Py.str(v), null, -1).size();
            default:
                throw new TemplateError("no filter named '" + name + "'");
        }
    }

    static boolean test(String name, Object v, List<Object> a, Scope s) {
        return switch (name) {
            case "defined" -> !(v instanceof Py.Undefined);
            case "undefined" -> v instanceof Py.Undefined;
            case "none" -> v == null;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "string" -> v instanceof String;
            case "number" -> v instanceof Long || v instanceof Double;
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "mapping" -> v instanceof Map || v instanceof Stmt.Namespace;
            case "iterable" -> v instanceof String || v instanceof List || v instanceof Map || v instanceof Py.Undefined;
            case "sequence" -> v instanceof String || v instanceof List || v instanceof Map;
            case "callable" -> v instanceof Py.Callable;
            case "equalto", "eq", "==" -> Py.eq(v, a.get(0));
            case "ne", "!=" -> !Py.eq(v, a.get(0));
            case "sameas" -> v == a.get(0) || (v != null && Py.isInt(v) && v.equals(a.get(0)));
            case "lt", "lessthan", "<" -> Py.compare(v, a.get(0)) < 0;
            case "le", "<=" -> Py.compare(v, a.get(0)) <= 0;
            case "gt", "greaterthan", ">" -> Py.compare(v, a.get(0)) > 0;
            case "ge", ">=" -> Py.compare(v, a.get(0)) >= 0;
            case "in" -> Py.contains(a.get(0), v);
            case "odd" -> Py.toLong(Expr.defined(v)) % 2 != 0;
            case "even" -> Py.toLong(Expr.defined(v)) % 2 == 0;
            case "divisibleby" -> Py.toLong(Expr.defined(v)) % Py.toLong(a.get(0)) == 0;
            case "lower" -> Py.str(v).equals(Py.str(v).toLowerCase(java.util.Locale.ROOT));
            case "upper" -> Py.str(v).equals(Py.str(v).toUpperCase(java.util.Locale.ROOT));
            case "filter" -> true;
            default -> throw new TemplateError("no test named '" + name + "'");
        };
    }

    private static List<Object> select(String name, Object v, List<Object> a, Scope s) {
        boolean byAttr = name.endsWith("attr"), keep = name.startsWith("select");
        List<Object> out = new ArrayList<>();
        for (Object o : Py.iterate(Expr.defined(v))) {
            Object subject = byAttr ? Expr.Attr.attribute(o, Py.str(a.get(0))) : o;
            List<Object> rest = a.subList(byAttr ? 1 : 0, a.size());
            boolean r = rest.isEmpty() ? Py.truthy(subject) : test(Py.str(rest.get(0)), subject, rest.subList(1, rest.size()), s);
            if (r == keep) out.add(o);
        }
        return out;
    }

    private static Map<?, ?> mapping(Object v, String filter) {
        if (!(v instanceof Map<?, ?> m)) throw new TemplateError(filter + ": can only be applied to a mapping, not " + Py.typeName(v));
        return m;
    }

    private static List<Object> reversed(List<Object> l) {
        List<Object> out = new ArrayList<>(l);
        java.util.Collections.reverse(out);
        return out;
    }

    /** The items in first-seen order, Python-equal ones once. */
    private static List<Object> uniq(List<Object> l) {
        List<Object> out = new ArrayList<>();
        for (Object o : l) if (out.stream().noneMatch(x -> Py.eq(x, o))) out.add(o);
        return out;
    }

    private static Object toInt(Object v, Object dflt) {
        if (Py.isInt(v)) return Py.toLong(v);
        if (v instanceof Double d) return (long) (double) d;
        try {
            return Long.parseLong(Methods.strip(Py.str(v), null, true, true).replace("_", ""));
        } catch (NumberFormatException e) {
            try {
                return (long) Double.parseDouble(Py.str(v));
            } catch (NumberFormatException e2) {
                return dflt;
            }
        }
    }

    private static Object toFloat(Object v, Object dflt) {
        if (Py.isNumber(v)) return Py.toDouble(v);
        try {
            return Double.parseDouble(Methods.strip(Py.str(v), null, true, true));
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    private static String indent(String s, List<Object> a, Map<String, Object> k) {
        Object w = !a.isEmpty() ? a.get(0) : k.getOrDefault("width", 4L);
        String pad = w instanceof String str ? str : " ".repeat((int) Py.toLong(w));
        boolean first = a.size() > 1 ? Py.truthy(a.get(1)) : Py.truthy(k.get("first"));
        boolean blank = a.size() > 2 ? Py.truthy(a.get(2)) : Py.truthy(k.get("blank"));
        String[] lines = s.split("\n", -1);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < lines.length; i++) {
            if (i > 0) b.append('\n');
            boolean indentThis = (i > 0 || first) && (blank || !lines[i].isBlank());
            b.append(indentThis ? pad : "").append(lines[i]);
        }
        return b.toString();
    }

    private static String htmlEscape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&#34;").replace("'", "&#39;");
    }
}
