package dev.asft.trainer.data.jinja;

import java.util.HashMap;
import java.util.Map;

/**
 * Variables as Jinja2 scopes them: the render's globals, the template's top level, one fresh
 * scope per loop iteration (a {@code set} inside a loop is gone after the iteration, which is
 * why templates use namespace()), one per macro call. {@code if} blocks open none.
 */
final class Scope {
    private final Scope parent;
    private final Map<String, Object> vars = new HashMap<>();
    final Output out;

    Scope(Scope parent, Output out) {
        this.parent = parent;
        this.out = out;
    }

    Object lookup(String name) {
        for (Scope s = this; s != null; s = s.parent) if (s.vars.containsKey(name)) return s.vars.get(name);
        return new Py.Undefined("'" + name + "' is undefined");
    }

    void set(String name, Object value) {
        vars.put(name, value);
    }

    Scope root() {
        Scope s = this;
        while (s.parent != null && s.parent.parent != null) s = s.parent; // below the globals
        return s;
    }

    /** What a render writes, and where its {% generation %} blocks begin and end. */
    static final class Output {
        final StringBuilder text = new StringBuilder();
        final java.util.List<int[]> generation = new java.util.ArrayList<>();
    }
}
