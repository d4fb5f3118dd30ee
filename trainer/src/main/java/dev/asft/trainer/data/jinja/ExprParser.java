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
 * Jinja2's expression grammar over one tag's tokens, with Jinja2's precedence: conditional, or,
 * and, not, comparisons, + -, ~, * / // %, **, unary -, then postfix (attribute, subscript,
 * slice, call) with filters and tests binding tightest.
 */
final class ExprParser {
    private final List<Token> toks;
    private final Piece tag;
    int t;

    ExprParser(Piece tag) {
        this.tag = tag;
        this.toks = tag.tokens();
    }

    List<String> names() {
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

    Expr orExpr() {
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

    /** Comparisons chain as in Python: a < b < c is a < b and b < c. */
    private Expr compare() {
        Expr first = math1();
        List<Expr> operands = new ArrayList<>(List.of(first));
        List<String> ops = new ArrayList<>();
        while (true) {
            Token k = peek();
            if (k.type() == T.OP && COMPARE.contains(k.text())) {
                t++;
                ops.add(k.text());
            } else if (k.is("in")) {
                t++;
                ops.add("in");
            } else if (k.is("not") && toks.get(t + 1).is("in")) {
                t += 2;
                ops.add("not in");
            } else {
                break;
            }
            operands.add(math1());
        }
        if (ops.isEmpty()) return first;
        if (ops.size() == 1) return new Expr.Binary(ops.get(0), first, operands.get(1));
        return new Expr.Chain(operands, ops);
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

    Expr primary() {
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

    Expr postfix(Expr e) {
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
    void callArgs(List<Expr> args, Map<String, Expr> kwargs) {
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

    Token peek() {
        return toks.get(Math.min(t, toks.size() - 1));
    }

    Token next(T type) {
        Token k = toks.get(t);
        if (k.type() != type) throw error("expected a " + type.name().toLowerCase(java.util.Locale.ROOT) + ", got '" + k.text() + "'");
        t++;
        return k;
    }

    void expectOp(String op) {
        Token k = peek();
        if (k.type() != T.OP || !k.text().equals(op)) throw error("expected '" + op + "', got '" + (k.type() == T.END ? "end of tag" : k.text()) + "'");
        t++;
    }

    void expectName(String name) {
        if (!peek().is(name)) throw error("expected '" + name + "'");
        t++;
    }

    void expectEnd() {
        if (peek().type() != T.END) throw error("unexpected '" + peek().text() + "'");
    }

    TemplateError error(String message) {
        String open = tag.kind() == Kind.VAR ? "{{ " : "{% ", close = tag.kind() == Kind.VAR ? " }}" : " %}";
        return new TemplateError(message).at(tag.line(), open + tag.raw() + close);
    }
}
