package dev.asft.trainer.data;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
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
    private final Path dir;
    private final Jinjava jinja;

    ChatTemplate(String template, String bos, String eos, Path dir) {
        // transformers renders with Jinja2's lstrip_blocks: spaces and tabs from the start of a
        // line up to a block tag are dropped. Jinjava's own option also drops whitespace before
        // block tags in mid-line, which Jinja2 keeps, so do the line-start part here instead.
        this.template = LINE_START_BEFORE_BLOCK.matcher(template).replaceAll("");
        this.bos = bos == null ? "" : bos;
        this.eos = eos == null ? "" : eos;
        this.dir = dir;
        this.jinja = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(false).build());
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
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
            throw new IllegalArgumentException(dir.resolve("tokenizer_config.json") + ": chat_template failed: " + why);
        }
        return result.getOutput();
    }
}
