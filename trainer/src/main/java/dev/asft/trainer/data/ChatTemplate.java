package dev.asft.trainer.data;

import dev.asft.trainer.data.jinja.JinjaTemplate;
import dev.asft.trainer.data.jinja.TemplateError;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template, rendered as transformers' apply_chat_template renders it (see
 * {@link JinjaTemplate}): the messages, add_generation_prompt, tools and documents (none), and
 * the tokenizer's special tokens (bos_token, eos_token, pad_token, unk_token) as variables.
 */
final class ChatTemplate {
    private final JinjaTemplate template;
    private final Map<String, String> specialTokens;
    private final Path source; // the file the template came from, for errors

    ChatTemplate(String template, Map<String, String> specialTokens, Path source) {
        this.source = source;
        this.specialTokens = Map.copyOf(specialTokens);
        try {
            this.template = JinjaTemplate.parse(template);
        } catch (TemplateError e) {
            throw new IllegalArgumentException(source + ": chat template " + e.getMessage());
        }
    }

    /** A template with just a BOS and an EOS text (either may be null), as tests make them. */
    ChatTemplate(String template, String bos, String eos, Path source) {
        this(template, tokens(bos, eos), source);
    }

    private static Map<String, String> tokens(String bos, String eos) {
        Map<String, String> m = new HashMap<>();
        if (bos != null) m.put("bos_token", bos);
        if (eos != null) m.put("eos_token", eos);
        return m;
    }

    Path source() {
        return source;
    }

    /**
     * Renders; a failure names the template file, the line and construct, and the reason (a
     * template's own raise_exception message included). Callers add the record.
     */
    JinjaTemplate.Rendered render(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        Map<String, Object> vars = new HashMap<>(specialTokens);
        vars.put("messages", messages);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("tools", null);
        vars.put("documents", null);
        try {
            return template.render(vars);
        } catch (TemplateError e) {
            throw new IllegalArgumentException(source + ": chat template " + (e.raisedByTemplate() ? "refused the conversation, " : "failed, ")
                    + e.getMessage());
        }
    }
}
