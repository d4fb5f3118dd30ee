package dev.asft.trainer.data.jinja;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A template expression; {@link #eval} follows Jinja2 on Python values. */
interface Expr {
    Object eval(Scope s);

    record Const(Object value) implements Expr {
        public Object eval(Scope s) {
            return value;
        }
    }

    record Name(String name) implements Expr {
        public Object eval(Scope s) {
            return s.lookup(name);
        }
    }

    record ListLit(List<Expr> items, boolean tuple) implements Expr {
        public Object eval(Scope s) {
            List<Object> out = new ArrayList<>();
            for (Expr e : items) out.add(e.eval(s));
            return tuple ? new Py.Tuple(out) : out;
        }
    }

    record DictLit(List<Expr> keys, List<Expr> values) implements Expr {
        public Object eval(Scope s) {
            Map<Object, Object> out = new LinkedHashMap<>();
            for (int i = 0; i < keys.size(); i++) out.put(keys.get(i).eval(s), values.get(i).eval(s));
            return out;
        }
    }

    /** obj.name: Python's getattr first (so dict.items is the method), then the item, as Jinja2 does. */
    record Attr(Expr obj, String name) implements Expr {
        public Object eval(Scope s) {
            return attribute(defined(obj.eval(s)), name);
        }

        static Object attribute(Object o, String name) {
            if (o instanceof Py.HasAttrs h) return h.hasAttr(name) ? h.attr(name) : new Py.Undefined("no attribute '" + name + "'");
            Py.Callable m = Methods.lookup(o, name);
            if (m != null) return m;
            if (o instanceof Map<?, ?> map && map.containsKey(name)) return map.get(name);
            return new Py.Undefined("'" + Py.typeName(o) + " object' has no attribute '" + name + "'");
        }
    }

    /** obj[key]: the item first, then (for a str key) the attribute, as Jinja2 does. */
    record Item(Expr obj, Expr key) implements Expr {
        public Object eval(Scope s) {
            Object o = defined(obj.eval(s)), k = key.eval(s);
            Object v = Py.index(o, k);
            if (v != null && !(v instanceof Py.Undefined)) return v;
            if (k instanceof String name && !(o instanceof Map<?, ?> m && m.containsKey(name))) {
                Object a = Attr.attribute(o, name);
                if (!(a instanceof Py.Undefined)) return a;
            }
            return v != null ? v : new Py.Undefined("'" + Py.typeName(o) + " object' has no element " + Py.repr(k));
        }
    }

    record Slice(Expr obj, Expr start, Expr stop, Expr step) implements Expr {
        public Object eval(Scope s) {
            return Py.slice(defined(obj.eval(s)), opt(start, s), opt(stop, s), opt(step, s));
        }

        private static Object opt(Expr e, Scope s) {
            return e == null ? null : e.eval(s);
        }
    }

    record Call(Expr fn, List<Expr> args, Map<String, Expr> kwargs) implements Expr {
        public Object eval(Scope s) {
            return call(s, Map.of());
        }

        /** The call, with extra keyword arguments (a {% call %} block passes its body as caller). */
        Object call(Scope s, Map<String, Object> extra) {
            Object f = fn.eval(s);
            if (f instanceof Py.Undefined u) throw new TemplateError(undefinedMessage(fn, u) + " (called as a function)");
            if (!(f instanceof Py.Callable c)) throw new TemplateError("'" + Py.typeName(f) + "' object is not callable");
            Map<String, Object> kw = evalAll(kwargs, s);
            kw.putAll(extra);
            return c.call(evalAll(args, s), kw);
        }
    }

    /** f(*items): the items become positional arguments. */
    record Splat(Expr items) implements Expr {
        public Object eval(Scope s) {
            return Py.iterate(defined(items.eval(s)));
        }
    }

    record Filter(Expr value, String name, List<Expr> args, Map<String, Expr> kwargs) implements Expr {
        public Object eval(Scope s) {
            return Filters.filter(name, value.eval(s), evalAll(args, s), evalAll(kwargs, s), s);
        }
    }

    record Test(Expr value, String name, List<Expr> args, boolean negated) implements Expr {
        public Object eval(Scope s) {
            boolean r = Filters.test(name, value.eval(s), evalAll(args, s), s);
            return negated != r;
        }
    }

    record Not(Expr value) implements Expr {
        public Object eval(Scope s) {
            return !Py.truthy(value.eval(s));
        }
    }

    record Neg(Expr value) implements Expr {
        public Object eval(Scope s) {
            return Operators.negate(defined(value.eval(s)));
        }
    }

    record Binary(String op, Expr left, Expr right) implements Expr {
        public Object eval(Scope s) {
            switch (op) {
                case "and": {
                    Object l = left.eval(s);
                    return Py.truthy(l) ? right.eval(s) : l;
                }
                case "or": {
                    Object l = left.eval(s);
                    return Py.truthy(l) ? l : right.eval(s);
                }
                default:
            }
            Object l = left.eval(s), r = right.eval(s);
            return switch (op) {
                case "==" -> Py.eq(l, r);
                case "!=" -> !Py.eq(l, r);
                case "<" -> Py.compare(defined(l), defined(r)) < 0;
                case "<=" -> Py.compare(defined(l), defined(r)) <= 0;
                case ">" -> Py.compare(defined(l), defined(r)) > 0;
                case ">=" -> Py.compare(defined(l), defined(r)) >= 0;
                case "in" -> Py.contains(r, l);
                case "not in" -> !Py.contains(r, l);
                case "~" -> Py.str(l) + Py.str(r);
                default -> Operators.binary(op, defined(l), defined(r));
            };
        }
    }

    /** a < b <= c ...: each comparison on its neighbours, stopping at the first false one. */
    record Chain(List<Expr> operands, List<String> ops) implements Expr {
        public Object eval(Scope s) {
            Object left = operands.get(0).eval(s);
            for (int i = 0; i < ops.size(); i++) {
                Object right = operands.get(i + 1).eval(s);
                if (!Py.truthy(new Binary(ops.get(i), new Const(left), new Const(right)).eval(s))) return false;
                left = right;
            }
            return true;
        }
    }

    /** a if cond else b; without else, an Undefined. */
    record Cond(Expr cond, Expr then, Expr otherwise) implements Expr {
        public Object eval(Scope s) {
            if (Py.truthy(cond.eval(s))) return then.eval(s);
            return otherwise == null ? new Py.Undefined("the conditional expression had no else") : otherwise.eval(s);
        }
    }

    /** An Undefined used for more than printing or testing fails, naming what was undefined, as Jinja2's does. */
    static Object defined(Object v) {
        if (v instanceof Py.Undefined u) throw new TemplateError(u.hint());
        return v;
    }

    private static String undefinedMessage(Expr e, Py.Undefined u) {
        return e instanceof Name n ? "'" + n.name() + "' is undefined" : u.hint();
    }

    static List<Object> evalAll(List<Expr> es, Scope s) {
        List<Object> out = new ArrayList<>(es.size());
        for (Expr e : es) {
            if (e instanceof Splat sp) out.addAll((List<?>) sp.eval(s));
            else out.add(e.eval(s));
        }
        return out;
    }

    static Map<String, Object> evalAll(Map<String, Expr> es, Scope s) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Expr> e : es.entrySet()) out.put(e.getKey(), e.getValue().eval(s));
        return out;
    }
}
