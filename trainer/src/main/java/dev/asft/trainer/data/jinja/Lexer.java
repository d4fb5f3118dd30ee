package dev.asft.trainer.data.jinja;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a template into text, {@code {{ }}} and {@code {% %}} pieces exactly as Jinja2's lexer
 * does in the environment transformers renders chat templates with: newlines normalized and one
 * trailing newline dropped (keep_trailing_newline off), {@code -} whitespace control, trim_blocks
 * (the newline after a block or comment tag is dropped) and lstrip_blocks (spaces before a block
 * or comment tag at a line's start are dropped), with {@code +} turning either off.
 */
final class Lexer {
    enum Kind { TEXT, VAR, BLOCK }

    enum T { NAME, STRING, INT, FLOAT, OP, END }

    record Token(T type, String text, Object value, int line) {
        boolean is(String op) {
            return (type == T.OP || type == T.NAME) && text.equals(op);
        }
    }

    /** A piece of the template: text, or a tag with its expression tokens (END-terminated). */
    record Piece(Kind kind, String text, List<Token> tokens, int line, String raw) {}

    private final String src;
    private int pos, line = 1;
    private boolean lineStarting = true;

    private Lexer(String source) {
        String[] lines = source.split("\r\n|\r|\n", -1);
        int n = lines.length;
        if (n > 1 && lines[n - 1].isEmpty()) n--; // keep_trailing_newline=False
        this.src = String.join("\n", java.util.Arrays.copyOf(lines, n));
    }

    static List<Piece> lex(String source) {
        return new Lexer(source).run();
    }

    private List<Piece> run() {
        List<Piece> out = new ArrayList<>();
        while (pos < src.length()) {
            int open = nextTagStart(pos);
            String text = src.substring(pos, open < 0 ? src.length() : open);
            if (open < 0) {
                emitText(out, text);
                break;
            }
            char kind = src.charAt(open + 1);
            char sign = open + 2 < src.length() ? src.charAt(open + 2) : 0;
            if (sign == '-') text = Methods.strip(text, null, false, true);
            else if (sign != '+' && kind != '{') { // lstrip_blocks: not for {{ }}
                int l = text.lastIndexOf('\n') + 1;
                if ((l > 0 || lineStarting) && l < text.length() && text.substring(l).codePoints().allMatch(Py::isSpace))
                    text = text.substring(0, l);
            }
            emitText(out, text);
            line += count(src, pos, open);
            pos = open + 2 + (sign == '-' || sign == '+' ? 1 : 0);
            if (kind == '#') comment();
            else out.add(tag(kind == '{' ? Kind.VAR : Kind.BLOCK));
        }
        return out;
    }

    private void emitText(List<Piece> out, String text) {
        if (!text.isEmpty()) out.add(new Piece(Kind.TEXT, text, null, line, null));
    }

    private int nextTagStart(int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    private void comment() {
        int end = src.indexOf("#}", pos);
        if (end < 0) throw new TemplateError("line " + line + ": missing end of comment tag");
        boolean minus = end > pos && src.charAt(end - 1) == '-', plus = end > pos && src.charAt(end - 1) == '+';
        line += count(src, pos, end);
        pos = end + 2;
        afterTag(minus, plus, true);
    }

    /** The whitespace control after a tag's closing delimiter. */
    private void afterTag(boolean minus, boolean plus, boolean blockLike) {
        int start = pos;
        if (minus) while (pos < src.length() && Py.isSpace(src.codePointAt(pos))) pos += Character.charCount(src.codePointAt(pos));
        else if (blockLike && !plus && pos < src.length() && src.charAt(pos) == '\n') pos++; // trim_blocks
        lineStarting = pos > start && src.charAt(pos - 1) == '\n';
        line += count(src, start, pos);
    }

    private Piece tag(Kind kind) {
        int tagLine = line, rawStart = pos;
        List<Token> toks = new ArrayList<>();
        int depth = 0;
        String close = kind == Kind.VAR ? "}}" : "%}";
        while (true) {
            while (pos < src.length() && Py.isSpace(src.charAt(pos))) {
                if (src.charAt(pos) == '\n') line++;
                pos++;
            }
            if (pos >= src.length()) throw new TemplateError("line " + tagLine + ": tag not closed (expected '" + close + "')");
            if (depth == 0) {
                boolean sign = (src.startsWith("-", pos) || src.startsWith("+", pos)) && src.startsWith(close, pos + 1);
                if (sign || src.startsWith(close, pos)) {
                    boolean minus = sign && src.charAt(pos) == '-', plus = sign && src.charAt(pos) == '+';
                    String raw = src.substring(rawStart, pos).strip();
                    pos += close.length() + (sign ? 1 : 0);
                    afterTag(minus, plus, kind == Kind.BLOCK);
                    toks.add(new Token(T.END, "", null, line));
                    return new Piece(kind, null, toks, tagLine, raw);
                }
            }
            Token t = token();
            if (t.type == T.OP && "([{".contains(t.text)) depth++;
            if (t.type == T.OP && ")]}".contains(t.text)) depth = Math.max(0, depth - 1);
            toks.add(t);
        }
    }

    private static final String[] OPS = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
            "(", ")", "[", "]", "{", "}", ".", ",", ":", "|"};

    private Token token() {
        char c = src.charAt(pos);
        if (Character.isLetter(c) || c == '_') {
            int s = pos;
            while (pos < src.length() && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
            String name = src.substring(s, pos);
            return new Token(T.NAME, name, name, line);
        }
        if (Character.isDigit(c)) return number();
        if (c == '\'' || c == '"') return string(c);
        for (String op : OPS) {
            if (src.startsWith(op, pos)) {
                pos += op.length();
                return new Token(T.OP, op, null, line);
            }
        }
        throw new TemplateError("line " + line + ": unexpected character '" + c + "'");
    }

    private Token number() {
        int s = pos;
        while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
        boolean isFloat = false;
        if (pos + 1 < src.length() && src.charAt(pos) == '.' && Character.isDigit(src.charAt(pos + 1))) {
            isFloat = true;
            pos++;
            while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
        }
        if (pos < src.length() && (src.charAt(pos) == 'e' || src.charAt(pos) == 'E')) {
            int e = pos + 1;
            if (e < src.length() && (src.charAt(e) == '+' || src.charAt(e) == '-')) e++;
            if (e < src.length() && Character.isDigit(src.charAt(e))) {
                isFloat = true;
                pos = e;
                while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
            }
        }
        String text = src.substring(s, pos).replace("_", "");
        return new Token(isFloat ? T.FLOAT : T.INT, text, isFloat ? (Object) Double.parseDouble(text) : (Object) Long.parseLong(text), line);
    }

    /** A string literal, with Python's escapes (unknown ones kept as written, as Python keeps them). */
    private Token string(char quote) {
        int startLine = line;
        StringBuilder b = new StringBuilder();
        pos++;
        while (true) {
            if (pos >= src.length()) throw new TemplateError("line " + startLine + ": unterminated string");
            char c = src.charAt(pos++);
            if (c == quote) break;
            if (c == '\n') line++;
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (pos >= src.length()) throw new TemplateError("line " + startLine + ": unterminated string");
            char e = src.charAt(pos++);
            switch (e) {
                case 'n' -> b.append('\n');
                case 't' -> b.append('\t');
                case 'r' -> b.append('\r');
                case '\\' -> b.append('\\');
                case '\'' -> b.append('\'');
                case '"' -> b.append('"');
                case 'a' -> b.append('\u0007');
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'v' -> b.append('\u000b');
                case '0', '1', '2', '3', '4', '5', '6', '7' -> {
                    int s = pos - 1, end = s;
                    while (end < src.length() && end < s + 3 && src.charAt(end) >= '0' && src.charAt(end) <= '7') end++;
                    b.appendCodePoint(Integer.parseInt(src.substring(s, end), 8));
                    pos = end;
                }
                case 'x' -> b.appendCodePoint(hex(2));
                case 'u' -> b.appendCodePoint(hex(4));
                case 'U' -> b.appendCodePoint(hex(8));
                case '\n' -> line++; // a backslash-newline continues the literal
                default -> b.append('\\').append(e);
            }
        }
        return new Token(T.STRING, b.toString(), b.toString(), startLine);
    }

    private int hex(int digits) {
        if (pos + digits > src.length()) throw new TemplateError("line " + line + ": truncated \\x/\\u escape");
        int v = Integer.parseInt(src.substring(pos, pos + digits), 16);
        pos += digits;
        return v;
    }

    private static int count(String s, int from, int to) {
        int n = 0;
        for (int i = from; i < to; i++) if (s.charAt(i) == '\n') n++;
        return n;
    }
}
