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
 * Jinja2's grammar for the statements chat templates use: if, for (with else and a filter), set
 * in its three forms, macro, call, generation, break, continue. Expressions: {@link ExprParser}.
 */
final class Parser {
    private final List<Piece> pieces;
    private int p;
    private ExprParser x; // the current tag's tokens

    private Parser(List<Piece> pieces) {
        this.pieces = pieces;
    }

    static List<Stmt> parse(String source) {
        Parser ps = new Parser(Lexer.lex(source));
        return ps.body(Set.of()); // with no end tags expected, a stray one is an unknown tag
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
                Expr e = x.expression();
                x.expectEnd();
                out.add(new Stmt.Located(new Stmt.Print(e), pc.line(), "{{ " + pc.raw() + " }}"));
                p++;
                continue;
            }
            String name = firstName(pc);
            if (ends.contains(name)) return out;
            p++;
            x.t++;
            Stmt st = statement(name, pc);
            out.add(new Stmt.Located(st, pc.line(), "{% " + pc.raw() + " %}"));
        }
        if (!ends.isEmpty()) throw new TemplateError("unexpected end of template, expected " + String.join(" or ", new java.util.TreeSet<>(ends)));
        return out;
    }

    private Stmt statement(String name, Piece pc) {
        switch (name) {
            case "if": {
                List<Expr> conds = new ArrayList<>(List.of(x.expression()));
                List<List<Stmt>> bodies = new ArrayList<>();
                List<Stmt> otherwise = null;
                x.expectEnd();
                while (true) {
                    bodies.add(body(Set.of("elif", "else", "endif")));
                    String end = closeTag();
                    if (end.equals("elif")) {
                        conds.add(x.expression());
                        x.expectEnd();
                        continue;
                    }
                    if (end.equals("else")) {
                        x.expectEnd();
                        otherwise = body(Set.of("endif"));
                        closeTag();
                    }
                    x.expectEnd();
                    return new Stmt.If(conds, bodies, otherwise);
                }
            }
            case "for": {
                List<String> targets = x.names();
                x.expectName("in");
                Expr iterable = x.orExpr(); // `if` after it filters, it is not a conditional expression
                Expr filter = null;
                if (x.peek().is("if")) {
                    x.t++;
                    filter = x.expression();
                }
                if (x.peek().is("recursive")) throw x.error("recursive loops are not supported");
                x.expectEnd();
                List<Stmt> b = body(Set.of("else", "endfor"));
                List<Stmt> otherwise = null;
                if (closeTag().equals("else")) {
                    x.expectEnd();
                    otherwise = body(Set.of("endfor"));
                    closeTag();
                }
                x.expectEnd();
                return new Stmt.For(targets, iterable, filter, b, otherwise);
            }
            case "set": {
                Token first = x.next(T.NAME);
                if (x.peek().is(".")) {
                    x.t++;
                    String attr = x.next(T.NAME).text();
                    x.expectOp("=");
                    Expr v = x.expression();
                    x.expectEnd();
                    return new Stmt.SetAttr(first.text(), attr, v);
                }
                List<String> targets = new ArrayList<>(List.of(first.text()));
                while (x.peek().is(",")) {
                    x.t++;
                    targets.add(x.next(T.NAME).text());
                }
                if (x.peek().type() == T.END && targets.size() == 1) { // {% set x %}...{% endset %}
                    List<Stmt> b = body(Set.of("endset"));
                    closeTag();
                    x.expectEnd();
                    return new Stmt.SetBlock(first.text(), b);
                }
                x.expectOp("=");
                Expr v = x.expression();
                x.expectEnd();
                return new Stmt.Set(targets, v);
            }
            case "macro": {
                String mname = x.next(T.NAME).text();
                x.expectOp("(");
                List<String> params = new ArrayList<>();
                Map<String, Expr> defaults = new LinkedHashMap<>();
                while (!x.peek().is(")")) {
                    String param = x.next(T.NAME).text();
                    params.add(param);
                    if (x.peek().is("=")) {
                        x.t++;
                        defaults.put(param, x.expression());
                    }
                    if (!x.peek().is(")")) x.expectOp(",");
                }
                x.t++;
                x.expectEnd();
                List<Stmt> b = body(Set.of("endmacro"));
                closeTag();
                x.expectEnd();
                return new Stmt.Macro(mname, params, defaults, b);
            }
            case "call": {
                List<String> callerParams = new ArrayList<>();
                if (x.peek().is("(")) {
                    x.t++;
                    while (!x.peek().is(")")) {
                        callerParams.add(x.next(T.NAME).text());
                        if (!x.peek().is(")")) x.expectOp(",");
                    }
                    x.t++;
                }
                Expr call = x.postfix(x.primary());
                if (!(call instanceof Expr.Call c)) throw x.error("{% call %} needs a macro call");
                x.expectEnd();
                List<Stmt> b = body(Set.of("endcall"));
                closeTag();
                x.expectEnd();
                return new Stmt.CallBlock(c, callerParams, b);
            }
            case "generation": {
                x.expectEnd();
                List<Stmt> b = body(Set.of("endgeneration"));
                closeTag();
                x.expectEnd();
                return new Stmt.Generation(b);
            }
            case "break":
            case "continue":
                x.expectEnd();
                return new Stmt.Control(name.equals("break") ? Stmt.ControlFlow.BREAK : Stmt.ControlFlow.CONTINUE);
            default:
                throw x.error("unknown or unsupported tag '" + name + "'");
        }
    }

    /** Consumes the closing tag that body() stopped at and returns its name. */
    private String closeTag() {
        Piece pc = pieces.get(p++);
        enter(pc);
        x.t++;
        return firstName(pc);
    }

    private void enter(Piece pc) {
        x = new ExprParser(pc);
    }

    private String firstName(Piece pc) {
        Token first = pc.tokens().get(0);
        if (first.type() != T.NAME) throw new TemplateError("line " + pc.line() + ": expected a tag name in {% " + pc.raw() + " %}");
        return first.text();
    }
}
