package dev.asft.trainer.data.jinja;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The methods of Python's str, dict and list that templates call ({@code content.strip('\n')},
 * {@code content.split('</think>')[-1]}, {@code message.get('x')}, {@code tool.items()}), with
 * CPython's semantics: Unicode whitespace, split keeping empty pieces, strip with a char set.
 * The sandbox transformers renders in has no mutating methods, and neither has this.
 */
final class Methods {
    private Methods() {}

    /** The bound method obj.name, or null when obj's type has no such method. */
    static Py.Callable lookup(Object obj, String name) {
        if (obj instanceof String s) return strMethod(s, name);
        if (obj instanceof Map<?, ?> m) return dictMethod(m, name);
        if (obj instanceof List<?> l) return listMethod(l, name);
        return null;
    }

    private static Py.Callable strMethod(String s, String name) {
        return switch (name) {
            case "strip" -> (a, k) -> strip(s, chars(a, 0), true, true);
            case "lstrip" -> (a, k) -> strip(s, chars(a, 0), true, false);
            case "rstrip" -> (a, k) -> strip(s, chars(a, 0), false, true);
            case "split" -> (a, k) -> split(s, sep(a, k), maxsplit(a, k));
            case "rsplit" -> (a, k) -> rsplit(s, sep(a, k), maxsplit(a, k));
            case "splitlines" -> (a, k) -> splitlines(s);
            case "startswith" -> (a, k) -> affix(s, arg(a, 0, name), true);
            case "endswith" -> (a, k) -> affix(s, arg(a, 0, name), false);
            case "lower" -> (a, k) -> s.toLowerCase(java.util.Locale.ROOT);
            case "upper" -> (a, k) -> s.toUpperCase(java.util.Locale.ROOT);
            case "title" -> (a, k) -> title(s);
            case "capitalize" -> (a, k) -> s.isEmpty() ? s
                    : s.substring(0, s.offsetByCodePoints(0, 1)).toUpperCase(java.util.Locale.ROOT)
                            + s.substring(s.offsetByCodePoints(0, 1)).toLowerCase(java.util.Locale.ROOT);
            case "replace" -> (a, k) -> replace(s, string(arg(a, 0, name), name), string(arg(a, 1, name), name),
                    a.size() > 2 ? Py.toLong(a.get(2)) : -1);
            case "find" -> (a, k) -> (long) codePointIndex(s, s.indexOf(string(arg(a, 0, name), name)));
            case "rfind" -> (a, k) -> (long) codePointIndex(s, s.lastIndexOf(string(arg(a, 0, name), name)));
            case "count" -> (a, k) -> (long) count(s, string(arg(a, 0, name), name));
            case "join" -> (a, k) -> {
                StringBuilder b = new StringBuilder();
                List<Object> items = Py.iterate(arg(a, 0, name));
                for (int i = 0; i < items.size(); i++) b.append(i > 0 ? s : "").append(string(items.get(i), name));
                return b.toString();
            };
            case "isspace" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Py::isSpace);
            case "isdigit" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "islower" -> (a, k) -> s.chars().anyMatch(Character::isLowerCase) && s.equals(s.toLowerCase(java.util.Locale.ROOT));
            case "isupper" -> (a, k) -> s.chars().anyMatch(Character::isUpperCase) && s.equals(s.toUpperCase(java.util.Locale.ROOT));
            default -> null;
        };
    }

    private static Py.Callable dictMethod(Map<?, ?> m, String name) {
        return switch (name) {
            case "get" -> (a, k) -> {
                Object key = arg(a, 0, name);
                return m.containsKey(key) ? m.get(key) : (a.size() > 1 ? a.get(1) : null);
            };
            case "items" -> (a, k) -> {
                List<Object> out = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(new Py.Tuple(java.util.Arrays.asList(e.getKey(), e.getValue())));
                return out;
            };
            case "keys" -> (a, k) -> new ArrayList<Object>(m.keySet());
            case "values" -> (a, k) -> new ArrayList<Object>(m.values());
            case "copy" -> (a, k) -> new LinkedHashMap<Object, Object>(m);
            default -> null;
        };
    }

    private static Py.Callable listMethod(List<?> l, String name) {
        return switch (name) {
            case "index" -> (a, k) -> {
                for (int i = 0; i < l.size(); i++) if (Py.eq(l.get(i), arg(a, 0, name))) return (long) i;
                throw new TemplateError(Py.repr(a.get(0)) + " is not in list");
            };
            case "count" -> (a, k) -> l.stream().filter(x -> Py.eq(x, arg(a, 0, name))).count();
            case "copy" -> (a, k) -> new ArrayList<Object>(l);
            default -> null;
        };
    }

    private static Object arg(List<Object> a, int i, String method) {
        if (a.size() <= i) throw new TemplateError(method + "() takes at least " + (i + 1) + " argument(s)");
        return a.get(i);
    }

    private static String string(Object v, String method) {
        if (!(v instanceof String s)) throw new TemplateError(method + "(): expected str, got " + Py.typeName(v));
        return s;
    }

    private static String chars(List<Object> a, int i) {
        if (a.size() <= i || a.get(i) == null) return null;
        return string(a.get(i), "strip");
    }

    private static String sep(List<Object> a, Map<String, Object> k) {
        Object v = a.size() > 0 ? a.get(0) : k.get("sep");
        if (v == null) return null;
        String s = string(v, "split");
        if (s.isEmpty()) throw new TemplateError("empty separator");
        return s;
    }

    private static long maxsplit(List<Object> a, Map<String, Object> k) {
        Object v = a.size() > 1 ? a.get(1) : k.get("maxsplit");
        return v == null ? -1 : Py.toLong(v);
    }

    /** str.strip([chars]): Python's whitespace by default, else any of the given code points. */
    static String strip(String s, String chars, boolean left, boolean right) {
        int i = 0, j = s.length();
        while (left && i < j && stripped(s.codePointAt(i), chars)) i += Character.charCount(s.codePointAt(i));
        while (right && j > i && stripped(s.codePointBefore(j), chars)) j -= Character.charCount(s.codePointBefore(j));
        return s.substring(i, j);
    }

    private static boolean stripped(int c, String chars) {
        return chars == null ? Py.isSpace(c) : chars.codePoints().anyMatch(x -> x == c);
    }

    static List<Object> split(String s, String sep, long maxsplit) {
        List<Object> out = new ArrayList<>();
        if (sep == null) { // runs of whitespace; no empty pieces
            int i = 0, n = s.length();
            while (true) {
                while (i < n && Py.isSpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
                if (i >= n) break;
                if (maxsplit >= 0 && out.size() == maxsplit) {
                    out.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !Py.isSpace(s.codePointAt(j))) j += Character.charCount(s.codePointAt(j));
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        int from = 0;
        while (maxsplit < 0 || out.size() < maxsplit) {
            int at = s.indexOf(sep, from);
            if (at < 0) break;
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static List<Object> rsplit(String s, String sep, long maxsplit) {
        if (maxsplit < 0) return split(s, sep, -1);
        if (sep == null) throw new TemplateError("rsplit() with maxsplit needs a separator here");
        List<Object> out = new ArrayList<>();
        int to = s.length();
        while (out.size() < maxsplit) {
            int at = s.lastIndexOf(sep, to - sep.length());
            if (at < 0) break;
            out.add(0, s.substring(at + sep.length(), to));
            to = at;
        }
        out.add(0, s.substring(0, to));
        return out;
    }

    /** str.splitlines(): Python's line boundaries, no trailing empty piece. */
    private static List<Object> splitlines(String s) {
        List<Object> out = new ArrayList<>();
        int from = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ("\n\r\u000b\u000c\u001c\u001d\u001e\u0085\u2028\u2029".indexOf(c) < 0) continue;
            out.add(s.substring(from, i));
            if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') i++;
            from = i + 1;
        }
        if (from < s.length()) out.add(s.substring(from));
        return out;
    }

    private static boolean affix(String s, Object what, boolean prefix) {
        if (what instanceof List<?> options) { // startswith(('a', 'b'))
            for (Object o : options) if (affix(s, o, prefix)) return true;
            return false;
        }
        String a = string(what, prefix ? "startswith" : "endswith");
        return prefix ? s.startsWith(a) : s.endsWith(a);
    }

    private static String replace(String s, String old, String with, long count) {
        if (count < 0) return s.replace(old, with);
        StringBuilder b = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            int at = s.indexOf(old, from);
            if (at < 0) break;
            b.append(s, from, at).append(with);
            from = at + old.length();
            if (old.isEmpty()) {
                if (from >= s.length()) break;
                b.append(s.charAt(from++));
            }
        }
        return b.append(s.substring(Math.min(from, s.length()))).toString();
    }

    private static int codePointIndex(String s, int charIndex) {
        return charIndex < 0 ? -1 : s.codePointCount(0, charIndex);
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.codePointCount(0, s.length()) + 1;
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    /** str.title(): a letter after a non-letter is upper-cased, other letters lower-cased. */
    static String title(String s) {
        StringBuilder b = new StringBuilder();
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            b.appendCodePoint(prevCased ? Character.toLowerCase(c) : Character.toTitleCase(c));
            prevCased = Character.isLetter(c);
            i += Character.charCount(c);
        }
        return b.toString();
    }
}
