package dev.asft.trainer.data;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face chat template (Jinja) rendered with Jinjava, with the variables and helpers
 * transformers provides: messages, add_generation_prompt, bos_token, eos_token, raise_exception.
 */
final class ChatTemplate {
    private static final java.util.regex.Pattern LINE_START_BEFORE_BLOCK =
            java.util.regex.Pattern.compile("(?m)^[ \\t]+(?=\\{%(?!\\+))");
    private final String template;
    private final String bos, eos;
    private final Path source; // the file the template came from, for errors
    private final Jinjava jinja;

    ChatTemplate(String template, String bos, String eos, Path source) {
        // transformers renders with Jinja2's lstrip_blocks: spaces and tabs from the start of a
        // line up to a block tag are dropped. Jinjava's own option also drops whitespace before
        // block tags in mid-line, which Jinja2 keeps, so do the line-start part here instead.
        this.template = pythonStringMethods(LINE_START_BEFORE_BLOCK.matcher(template).replaceAll(""));
        this.bos = bos == null ? "" : bos;
        this.eos = eos == null ? "" : eos;
        this.source = source;
        // Jinja2's semantics where Jinjava keeps older ones by default: {{- x -}} trims around
        // expressions (Qwen2.5's and Llama 3.1's templates indent every {{- ... }}; without this
        // the indentation went into the rendered text), and a '-' counts as whitespace control
        // only right at the delimiter ({{ -1 }} stays minus one). Not Jinjava's "natural operator
        // precedence": it reads `not x is defined` (Llama 3.1) as (not x) is defined.
        LegacyOverrides jinja2 = LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true)
                .withParseWhitespaceControlStrictly(true).build();
        this.jinja = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(false)
                .withLegacyOverrides(jinja2).build());
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
    }

    private static final java.util.regex.Pattern TAG = java.util.regex.Pattern.compile("(?s)\\{\\{.*?}}|\\{%.*?%}");
    private static final java.util.regex.Pattern PY_METHOD =
            java.util.regex.Pattern.compile("\\.(startswith|endswith)\\(|\\.(lower|upper|lstrip|rstrip)\\(\\s*\\)");
    private static final Map<String, String> JAVA_METHOD = Map.of("startswith", ".startsWith(", "endswith", ".endsWith(",
            "lower", ".toLowerCase()", "upper", ".toUpperCase()", "lstrip", ".stripLeading()", "rstrip", ".stripTrailing()");

    /**
     * Templates are written for Jinja2, where a string is a Python str: Qwen's and DeepSeek's
     * call content.startswith(...), .endswith(...), .lower() ... Jinjava calls Java methods on
     * strings (strip() and split() happen to exist there), so inside the tags the Python names
     * of these six become their Java twins (lstrip/rstrip without arguments only).
     */
    static String pythonStringMethods(String template) {
        java.util.regex.Matcher tags = TAG.matcher(template);
        StringBuilder out = new StringBuilder();
        while (tags.find()) {
            java.util.regex.Matcher m = PY_METHOD.matcher(tags.group());
            StringBuilder tag = new StringBuilder();
            while (m.find()) m.appendReplacement(tag, java.util.regex.Matcher.quoteReplacement(
                    JAVA_METHOD.get(m.group(1) != null ? m.group(1) : m.group(2))));
            m.appendTail(tag);
            tags.appendReplacement(out, java.util.regex.Matcher.quoteReplacement(tag.toString()));
        }
        tags.appendTail(out);
        return out.toString();
    }

    /** Called by templates as raise_exception('...'): fails the rendering with the template's message. */
    public static String raiseException(String message) {
        throw new IllegalArgumentException("chat template: " + message);
    }

    String render(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", messages);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", bos);
        ctx.put("eos_token", eos);
        var result = jinja.renderForResult(template, ctx);
        if (result.hasErrors()) {
            var err = result.getErrors().get(0);
            String why = err.getMessage();
            // A raise_exception(...) from the template: surface its own message.
            for (Throwable t = err.getException(); t != null; t = t.getCause())
                if (t.getMessage() != null && t.getMessage().startsWith("chat template: ")) why = t.getMessage().substring(15);
            throw new IllegalArgumentException(source + ": chat_template failed: " + why);
        }
        return result.getOutput();
    }
}
