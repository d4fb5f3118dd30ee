package dev.asft.trainer.data.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A template statement; {@link #render} writes to the scope's output. */
interface Stmt {
    void render(Scope s);

    /** Renders a body's statements in order (each parsed statement is wrapped in a {@link Located}). */
    static void renderAll(List<Stmt> body, Scope s) {
        for (Stmt st : body) st.render(s);
    }

    record Text(String text) implements Stmt {
        public void render(Scope s) {
            s.out.text.append(text);
        }
    }

    record Located(Stmt inner, int line, String construct) implements Stmt {
        public void render(Scope s) {
            try {
                inner.render(s);
            } catch (TemplateError e) {
                throw e.at(line, construct);
            } catch (ControlFlow c) {
                throw c;
            } catch (RuntimeException e) { // an interpreter bug must still name the place
                throw new TemplateError(e.toString()).at(line, construct);
            }
        }
    }

    record Print(Expr value) implements Stmt {
        public void render(Scope s) {
            s.out.text.append(Py.str(value.eval(s)));
        }
    }

    record If(List<Expr> conds, List<List<Stmt>> bodies, List<Stmt> otherwise) implements Stmt {
        public void render(Scope s) {
            for (int i = 0; i < conds.size(); i++) {
                if (Py.truthy(conds.get(i).eval(s))) {
                    renderAll(bodies.get(i), s);
                    return;
                }
            }
            if (otherwise != null) renderAll(otherwise, s);
        }
    }

    record For(List<String> targets, Expr iterable, Expr filter, List<Stmt> body, List<Stmt> otherwise) implements Stmt {
        public void render(Scope s) {
            Object seq = iterable.eval(s);
            List<Object> items = Py.iterate(seq);
            if (filter != null) {
                List<Object> kept = new ArrayList<>();
                for (Object item : items) {
                    Scope f = new Scope(s, s.out);
                    bind(f, item);
                    if (Py.truthy(filter.eval(f))) kept.add(item);
                }
                items = kept;
            }
            for (int i = 0; i < items.size(); i++) {
                Scope it = new Scope(s, s.out);
                bind(it, items.get(i));
                it.set("loop", new Loop(items, i));
                try {
                    renderAll(body, it);
                } catch (ControlFlow c) {
                    if (c == ControlFlow.BREAK) break;
                }
            }
            if (items.isEmpty() && otherwise != null) renderAll(otherwise, s);
        }

        private void bind(Scope s, Object item) {
            if (targets.size() == 1) {
                s.set(targets.get(0), item);
                return;
            }
            List<Object> parts = Py.iterate(item);
            if (parts.size() != targets.size())
                throw new TemplateError("cannot unpack " + parts.size() + " values into " + targets.size() + " loop variables");
            for (int k = 0; k < targets.size(); k++) s.set(targets.get(k), parts.get(k));
        }
    }

    /** Jinja2's loop variable. */
    record Loop(List<Object> items, int i) implements Py.HasAttrs {
        public boolean hasAttr(String name) {
            return attr(name) != null || name.equals("previtem") || name.equals("nextitem");
        }

        public Object attr(String name) {
            int n = items.size();
            return switch (name) {
                case "index" -> (long) i + 1;
                case "index0" -> (long) i;
                case "revindex" -> (long) (n - i);
                case "revindex0" -> (long) (n - i - 1);
                case "first" -> i == 0;
                case "last" -> i == n - 1;
                case "length" -> (long) n;
                case "depth" -> 1L;
                case "depth0" -> 0L;
                case "previtem" -> i > 0 ? items.get(i - 1) : new Py.Undefined("there is no previous item");
                case "nextitem" -> i < n - 1 ? items.get(i + 1) : new Py.Undefined("there is no next item");
                case "cycle" -> (Py.Callable) (a, k) -> a.isEmpty() ? new Py.Undefined("no items for cycle()") : a.get(i % a.size());
                default -> null;
            };
        }
    }

    record Set(List<String> targets, Expr value) implements Stmt {
        public void render(Scope s) {
            Object v = value.eval(s);
            if (targets.size() == 1) {
                s.set(targets.get(0), v);
                return;
            }
            List<Object> parts = Py.iterate(v);
            if (parts.size() != targets.size())
                throw new TemplateError("cannot unpack " + parts.size() + " values into " + targets.size() + " names");
            for (int k = 0; k < targets.size(); k++) s.set(targets.get(k), parts.get(k));
        }
    }

    /** {% set ns.attr = value %}: only a namespace() takes attribute assignment. */
    record SetAttr(String object, String attr, Expr value) implements Stmt {
        public void render(Scope s) {
            Object target = s.lookup(object);
            if (!(target instanceof Namespace ns)) throw new TemplateError("cannot assign attribute on non-namespace object '" + object + "'");
            ns.values.put(attr, value.eval(s));
        }
    }

    /** {% set name %}...{% endset %}: the body rendered into a string. */
    record SetBlock(String name, List<Stmt> body) implements Stmt {
        public void render(Scope s) {
            Scope.Output captured = new Scope.Output();
            Scope inner = new Scope(s, captured);
            renderAll(body, inner);
            s.set(name, captured.text.toString());
        }
    }

    record Macro(String name, List<String> params, Map<String, Expr> defaults, List<Stmt> body) implements Stmt {
        public void render(Scope defining) {
            Scope root = defining.root();
            defining.set(name, (Py.Callable) (args, kwargs) -> {
                Scope.Output out = new Scope.Output();
                Scope call = new Scope(root, out);
                for (int k = 0; k < params.size(); k++) {
                    String p = params.get(k);
                    Object v = k < args.size() ? args.get(k) : kwargs.containsKey(p) ? kwargs.get(p)
                            : defaults.containsKey(p) ? defaults.get(p).eval(call) : new Py.Undefined("'" + p + "' is undefined");
                    call.set(p, v);
                }
                if (kwargs.containsKey("caller")) call.set("caller", kwargs.get("caller"));
                if (args.size() > params.size()) throw new TemplateError("macro '" + name + "' takes not more than " + params.size() + " argument(s)");
                renderAll(body, call);
                return out.text.toString();
            });
        }
    }

    /** {% call macro(...) %}body{% endcall %}: the macro runs with caller() rendering the body. */
    record CallBlock(Expr.Call call, List<String> params, List<Stmt> body) implements Stmt {
        public void render(Scope s) {
            Py.Callable caller = (args, kwargs) -> {
                Scope.Output out = new Scope.Output();
                Scope inner = new Scope(s, out);
                for (int k = 0; k < params.size(); k++) inner.set(params.get(k), k < args.size() ? args.get(k) : kwargs.get(params.get(k)));
                renderAll(body, inner);
                return out.text.toString();
            };
            s.out.text.append(Py.str(call.call(s, Map.of("caller", caller))));
        }
    }

    /** transformers' {% generation %}: marks what the assistant generates (TRL's assistant mask). */
    record Generation(List<Stmt> body) implements Stmt {
        public void render(Scope s) {
            int start = s.out.text.length();
            renderAll(body, s);
            s.out.generation.add(new int[] {start, s.out.text.length()});
        }
    }

    record Control(ControlFlow kind) implements Stmt {
        public void render(Scope s) {
            throw kind;
        }
    }

    /** {% break %} and {% continue %} (Jinja2's loopcontrols, which transformers enables). */
    final class ControlFlow extends RuntimeException {
        static final ControlFlow BREAK = new ControlFlow(), CONTINUE = new ControlFlow();

        private ControlFlow() {
            super(null, null, false, false);
        }
    }

    /** namespace(...): the one object templates may assign attributes on. */
    final class Namespace implements Py.HasAttrs {
        final Map<String, Object> values = new java.util.LinkedHashMap<>();

        public boolean hasAttr(String name) {
            return values.containsKey(name);
        }

        public Object attr(String name) {
            return values.get(name);
        }

        @Override
        public String toString() {
            return "<Namespace " + values + ">";
        }
    }
}
