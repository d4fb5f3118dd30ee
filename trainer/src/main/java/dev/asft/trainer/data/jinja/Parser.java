package dev.asft.trainer.data.jinja;

import dev.asft.trainer.data.jinja.Lexer.Kind;
import dev.asft.trainer.data.jinja.Lexer.Piece;
import dev.asft.trainer.data.jinja.Lexer.T;
import dev.asft.trainer.data.jinja.Lexer.Token;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Jinja2's grammar for the statements chat templates use (if, for with else and a filter, set
 * in its three forms, macro, generation, break, continue) and its expression grammar with
 * Jinja2's precedence: conditional, or, and, not, comparisons, + -, ~, * / // %, **, unary -,
 * then postfix (attribute, subscript, slice, call) with filters and tests binding tightest.
 */
final class Parser {
    private final List<Piece> pieces;
    private int p;
    // the current tag's tokens
    private List<Token> toks;
    private int t;
    private Piece tag;

    private Parser(List<Piece> pieces) {
        this.pieces = pieces;
    }

    static List<Stmt> parse(String source) {
        Parser ps = new Parser(Lexer.lex(source));
        List<Stmt> body = ps.body(Set.of());
        if (ps.p < ps.pieces.size()) throw ps.error("unexpected '" + ps.firstName(ps.pieces.get(ps.p)) + "'");
        return body;
    }

    /** Statements up to (not including) a block tag named in {@code ends}. */
    private List<Stmt> body(Set<String> ends) {
        List<Stmt> out = new ArrayList<>();
        while (p < pieces.size()) {
            Piece pc = pieces.get(p);
            if (pc.kind() == Kind.TEXT) {
                out.add(new Stmt.Text(pc.text()));
                p++;
                continue;
            }
            enter(pc);
            if (pc.kind() == Kind.VAR) {
                Expr e = expression();
                expectEnd();
                out.add(new Stmt.Located(new Stmt.Print(e), pc.line(), "{{ " + pc.raw() + " }}"));
                p++;
                continue;
            }
            String name = firstName(pc);
            if (ends.contains(name)) return out;
            p++;
            t++;
            Stmt st = statement(name, pc);
            out.add(new Stmt.Located(st, pc.line(), "{% " + pc.raw() + " %}"));
        }
        if (!ends.isEmpty()) throw new TemplateError("unexpected end of template, expected " + String.join(" or ", new java.util.TreeSet<>(ends)));
        return out;
    }

    private Stmt statement(String name, Piece pc) {
        switch (name) {
            case "if": {
                List<Expr> conds = new ArrayList<>(List.of(expression()));
                List<List<Stmt>> bodies = new ArrayList<>();
                List<Stmt> otherwise = null;
                expectEnd();
                while (true) {
                    bodies.add(body(Set.of("elif", "else", "endif")));
                    String end = closeTag();
                    if (end.equals("elif")) {
                        conds.add(expression());
                        expectEnd();
                        continue;
                    }
                    if (end.equals("else")) {
                        expectEnd();
                        otherwise = body(Set.of("endif"));
                        closeTag();
                    }
                    expectEnd();
                    return new Stmt.If(conds, bodies, otherwise);
                }
            }
            case "for": {
                List<String> targets = names();
                expectName("in");
                Expr iterable = orExpr(); // `if` after it filters, it is not a conditional expression
                Expr filter = null;
                if (peek().is("if")) {
                    t++;
                    filter = expression();
                }
                if (peek().is("recursive")) throw error("recursive loops are not supported");
                expectEnd();
                List<Stmt> b = body(Set.of("else", "endfor"));
                List<Stmt> otherwise = null;
                if (closeTag().equals("else")) {
                    expectEnd();
                    otherwise = body(Set.of("endfor"));
                    closeTag();
                }
                expectEnd();
                return new Stmt.For(targets, iterable, filter, b, otherwise);
            }
            case "set": {
                Token first = next(T.NAME);
                if (peek().is(".")) {
                    t++;
                    String attr = next(T.NAME).text();
                    expectOp("=");
                    Expr v = expression();
                    expectEnd();
                    return new Stmt.SetAttr(first.text(), attr, v);
                }
                List<String> targets = new ArrayList<>(List.of(first.text()));
                while (peek().is(",")) {
                    t++;
                    targets.add(next(T.NAME).text());
                }
                if (peek().type() == T.END && targets.size() == 1) { // {% set x %}...{% endset %}
                    List<Stmt> b = body(Set.of("endset"));
                    closeTag();
                    expectEnd();
                    return new Stmt.SetBlock(first.text(), b);
                }
                expectOp("=");
                Expr v = expression();
                expectEnd();
                return new Stmt.Set(targets, v);
            }
            case "macro": {
                String mname = next(T.NAME).text();
                expectOp("(");
                List<String> params = new ArrayList<>();
                Map<String, Expr> defaults = new LinkedHashMap<>();
                while (!peek().is(")")) {
                    String param = next(T.NAME).text();
                    params.add(param);
                    if (peek().is("=")) {
                        t++;
                        defaults.put(param, expression());
                    }
                    if (!peek().is(")")) expectOp(",");
                }
                t++;
                expectEnd();
                List<Stmt> b = body(Set.of("endmacro"));
                closeTag();
                expectEnd();
                return new Stmt.Macro(mname, params, defaults, b);
            }
            case "call": {
                List<String> callerParams = new ArrayList<>();
                if (peek().is("(")) {
                    t++;
                    while (!peek().is(")")) {
                        callerParams.add(next(T.NAME).text());
                        if (!peek().is(")")) expectOp(",");
                    }
                    t++;
                }
                Expr call = postfix(primary());
                if (!(call instanceof Expr.Call c)) throw error("{% call %} needs a macro call");
                expectEnd();
                List<Stmt> b = body(Set.of("endcall"));
                closeTag();
                expectEnd();
                return new Stmt.CallBlock(c, callerParams, b);
            }
            case "generation": {
                expectEnd();
                List<Stmt> b = body(Set.of("endgeneration"));
                closeTag();
                expectEnd();
                return new Stmt.Generation(b);
            }
            case "break":
            case "continue":
                expectEnd();
                return new Stmt.Control(name.equals("break") ? Stmt.ControlFlow.BREAK : Stmt.ControlFlow.CONTINUE);
            default:
                throw error("unknown or unsupported tag '" + name + "'");
        }
    }

    /** Consumes the closing tag that body() stopped at and returns its name. */
    private String closeTag() {
        Piece pc = pieces.get(p++);
        enter(pc);
        t++;
        return firstName(pc);
    }

    private void enter(Piece pc) {
        tag = pc;
        toks = pc.tokens();
        t = 0;
    }

    private String firstName(Piece pc) {
        Token first = pc.tokens().get(0);
        if (first.type() != T.NAME) throw new TemplateError("line " + pc.line() + ": expected a tag name in {% " + pc.raw() + " %}");
        return first.text();
    }

    private List<String> names() {
        List<String> out = new ArrayList<>();
        boolean paren = peek().is("(");
        if (paren) t++;
        out.add(next(T.NAME).text());
        while (peek().is(",")) {
            t++;
            out.add(next(T.NAME).text());
        }
        if (paren) expectOp(")");
        return out;
    }

    // ---- expressions ----

    Expr expression() {
        Expr e = orExpr();
        while (peek().is("if")) {
            t++;
            Expr cond = orExpr();
            Expr otherwise = null;
            if (peek().is("else")) {
                t++;
                otherwise = expression();
            }
            e = new Expr.Cond(cond, e, otherwise);
        }
        return e;
    }

    private Expr orExpr() {
        Expr e = andExpr();
        while (peek().is("or")) {
            t++;
            e = new Expr.Binary("or", e, andExpr());
        }
        return e;
    }

    private Expr andExpr() {
        Expr e = notExpr();
        while (peek().is("and")) {
            t++;
            e = new Expr.Binary("and", e, notExpr());
        }
        return e;
    }

    private Expr notExpr() {
        if (peek().is("not")) {
            t++;
            return new Expr.Not(notExpr());
        }
        return compare();
    }

    private static final Set<String> COMPARE = Set.of("==", "!=", "<", "<=", ">", ">=");

    private Expr compare() {
        Expr e = math1();
        while (true) {
            Token k = peek();
            if (k.type() == T.OP && COMPARE.contains(k.text())) {
                t++;
                e = new Expr.Binary(k.text(), e, math1());
            } else if (k.is("in")) {
                t++;
                e = new Expr.Binary("in", e, math1());
            } else if (k.is("not") && toks.get(t + 1).is("in")) {
                t += 2;
                e = new Expr.Binary("not in", e, math1());
            } else {
                return e;
            }
        }
    }

    private Expr math1() {
        Expr e = concat();
        while (peek().type() == T.OP && (peek().is("+") || peek().is("-"))) {
            String op = toks.get(t++).text();
            e = new Expr.Binary(op, e, concat());
        }
        return e;
    }

    private Expr concat() {
        Expr e = math2();
        while (peek().is("~")) {
            t++;
            e = new Expr.Binary("~", e, math2());
        }
        return e;
    }

    private Expr math2() {
        Expr e = pow();
        while (peek().type() == T.OP && (peek().is("*") || peek().is("/") || peek().is("//") || peek().is("%"))) {
            String op = toks.get(t++).text();
            e = new Expr.Binary(op, e, pow());
        }
        return e;
    }

    private Expr pow() {
        Expr e = unary(true);
        while (peek().is("**")) {
            t++;
            e = new Expr.Binary("**", e, unary(true));
        }
        return e;
    }

    private Expr unary(boolean withFilter) {
        Expr e;
        if (peek().type() == T.OP && peek().is("-")) {
            t++;
            e = new Expr.Neg(unary(false));
        } else if (peek().type() == T.OP && peek().is("+")) {
            t++;
            e = unary(false);
        } else {
            e = primary();
        }
        e = postfix(e);
        return withFilter ? filters(e) : e;
    }

    private Expr primary() {
        Token k = toks.get(t++);
        switch (k.type()) {
            case STRING: {
                StringBuilder b = new StringBuilder(k.text()); // adjacent literals concatenate
                while (peek().type() == T.STRING) b.append(toks.get(t++).text());
                return new Expr.Const(b.toString());
            }
            case INT:
            case FLOAT:
                return new Expr.Const(k.value());
            case NAME:
                return switch (k.text()) {
                    case "true", "True" -> new Expr.Const(Boolean.TRUE);
                    case "false", "False" -> new Expr.Const(Boolean.FALSE);
                    case "none", "None" -> new Expr.Const(null);
                    default -> new Expr.Name(k.text());
                };
            case OP:
                if (k.is("(")) {
                    if (peek().is(")")) {
                        t++;
                        return new Expr.ListLit(List.of(), true);
                    }
                    Expr first = expression();
                    if (!peek().is(",")) {
                        expectOp(")");
                        return first;
                    }
                    List<Expr> items = new ArrayList<>(List.of(first));
                    while (peek().is(",")) {
                        t++;
                        if (peek().is(")")) break;
                        items.add(expression());
                    }
                    expectOp(")");
                    return new Expr.ListLit(items, true);
                }
                if (k.is("[")) {
                    List<Expr> items = new ArrayList<>();
                    while (!peek().is("]")) {
                        items.add(expression());
                        if (!peek().is("]")) expectOp(",");
                    }
                    t++;
                    return new Expr.ListLit(items, false);
                }
                if (k.is("{")) {
                    List<Expr> keys = new ArrayList<>(), values = new ArrayList<>();
                    while (!peek().is("}")) {
                        keys.add(expression());
                        expectOp(":");
                        values.add(expression());
                        if (!peek().is("}")) expectOp(",");
                    }
                    t++;
                    return new Expr.DictLit(keys, values);
                }
                // fall through
            default:
                throw error("unexpected '" + (k.type() == T.END ? "end of tag" : k.text()) + "'");
        }
    }

    private Expr postfix(Expr e) {
        while (true) {
            if (peek().is(".")) {
                t++;
                Token k = toks.get(t++);
                if (k.type() == T.NAME) e = new Expr.Attr(e, k.text());
                else if (k.type() == T.INT) e = new Expr.Item(e, new Expr.Const(k.value()));
                else throw error("expected a name after '.'");
            } else if (peek().is("[")) {
                t++;
                e = subscript(e);
            } else if (peek().is("(")) {
                t++;
                List<Expr> args = new ArrayList<>();
                Map<String, Expr> kwargs = new LinkedHashMap<>();
                callArgs(args, kwargs);
                e = new Expr.Call(e, args, kwargs);
            } else {
                return e;
            }
        }
    }

    private Expr subscript(Expr obj) {
        Expr[] parts = new Expr[3];
        int part = 0;
        boolean slice = false;
        while (!peek().is("]")) {
            if (peek().is(":")) {
                t++;
                slice = true;
                part++;
                if (part > 2) throw error("too many ':' in a slice");
                continue;
            }
            parts[part] = expression();
        }
        t++;
        return slice ? new Expr.Slice(obj, parts[0], parts[1], parts[2]) : new Expr.Item(obj, parts[0]);
    }

    /** After '(': positional and keyword arguments up to ')'. */
    private void callArgs(List<Expr> args, Map<String, Expr> kwargs) {
        while (!peek().is(")")) {
            if (peek().type() == T.OP && peek().is("*")) {
                t++;
                args.add(new Expr.Splat(expression()));
            } else if (peek().type() == T.NAME && toks.get(t + 1).is("=") && toks.get(t + 1).type() == T.OP) {
                String key = toks.get(t).text();
                t += 2;
                kwargs.put(key, expression());
            } else {
                args.add(expression());
            }
            if (!peek().is(")")) expectOp(",");
        }
        t++;
    }

    private Expr filters(Expr e) {
        while (true) {
            if (peek().is("|")) {
                t++;
                String name = next(T.NAME).text();
                while (peek().is(".")) { // dotted filter names
                    t++;
                    name += "." + next(T.NAME).text();
                }
                List<Expr> args = new ArrayList<>();
                Map<String, Expr> kwargs = new LinkedHashMap<>();
                if (peek().is("(")) {
                    t++;
                    callArgs(args, kwargs);
                }
                e = new Expr.Filter(e, name, args, kwargs);
            } else if (peek().is("is")) {
                t++;
                boolean negated = false;
                if (peek().is("not")) {
                    t++;
                    negated = true;
                }
                Token nameTok = toks.get(t++);
                if (nameTok.type() != T.NAME && !(nameTok.type() == T.OP && COMPARE.contains(nameTok.text())))
                    throw error("expected a test name after 'is'");
                String name = nameTok.text();
                if (nameTok.type() == T.NAME) while (peek().is(".")) {
                    t++;
                    name += "." + next(T.NAME).text();
                }
                List<Expr> args = new ArrayList<>();
                if (peek().is("(")) {
                    t++;
                    callArgs(args, new LinkedHashMap<>());
                } else if (startsTestArgument(peek())) {
                    args.add(postfix(primary()));
                }
                e = new Expr.Test(e, name, args, negated);
            } else {
                return e;
            }
        }
    }

    private static boolean startsTestArgument(Token k) {
        if (k.type() == T.STRING || k.type() == T.INT || k.type() == T.FLOAT) return true;
        if (k.type() == T.OP) return k.is("[") || k.is("{");
        return k.type() == T.NAME && !Set.of("else", "or", "and", "if", "in", "not", "is").contains(k.text());
    }

    // ---- token helpers ----

    private Token peek() {
        return toks.get(Math.min(t, toks.size() - 1));
    }

    private Token next(T type) {
        Token k = toks.get(t);
        if (k.type() != type) throw error("expected a " + type.name().toLowerCase(java.util.Locale.ROOT) + ", got '" + k.text() + "'");
        t++;
        return k;
    }

    private void expectOp(String op) {
        Token k = peek();
        if (k.type() != T.OP || !k.text().equals(op)) throw error("expected '" + op + "', got '" + (k.type() == T.END ? "end of tag" : k.text()) + "'");
        t++;
    }

    private void expectName(String name) {
        if (!peek().is(name)) throw error("expected '" + name + "'");
        t++;
    }

    private void expectEnd() {
        if (peek().type() != T.END) throw error("unexpected '" + peek().text() + "'");
    }

    private TemplateError error(String message) {
        String open = tag.kind() == Kind.VAR ? "{{ " : "{% ", close = tag.kind() == Kind.VAR ? " }}" : " %}";
        return new TemplateError(message).at(tag.line(), open + tag.raw() + close);
    }
}
