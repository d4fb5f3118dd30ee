package dev.asft.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The chat templates of the models users fine-tune, as their tokenizer_config.json ships them,
 * rendered as transformers' apply_chat_template renders them. Llama-2-chat is the model of the
 * AsFT paper; its template calls Python's str.strip() and raise_exception.
 */
class RealChatTemplatesTest {
    private static final Path DIR = Path.of("model");

    // meta-llama/Llama-2-7b-chat-hf
    static final String LLAMA2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
            + "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
            + "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if loop.index0 == 0 and system_message != false %}"
            + "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
            + "{% else %}{% set content = message['content'] %}{% endif %}"
            + "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
            + "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    // meta-llama/Meta-Llama-3-8B-Instruct
    static final String LLAMA3 = "{% set loop_messages = messages %}{% for message in loop_messages %}"
            + "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
            + "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
            + "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    // Qwen/Qwen2-7B-Instruct
    static final String QWEN2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
            + "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    // In the style of Qwen/Qwen2.5-7B-Instruct (its tool branches left out): multi-line, indented,
    // with {%- -%} whitespace control, attribute access on messages and undefined tools/tool_calls.
    static final String QWEN25_STYLE = String.join("\n",
            "{%- if tools %}",
            "    {{- '<|im_start|>system\\nTools.<|im_end|>\\n' }}",
            "{%- else %}",
            "    {%- if messages[0]['role'] == 'system' %}",
            "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
            "    {%- else %}",
            "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}",
            "    {%- endif %}",
            "{%- endif %}",
            "{%- for message in messages %}",
            "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}",
            "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
            "    {%- endif %}",
            "{%- endfor %}",
            "{%- if add_generation_prompt %}",
            "    {{- '<|im_start|>assistant\\n' }}",
            "{%- endif %}",
            "");

    static List<Map<String, Object>> chat(String... roleContent) {
        List<Map<String, Object>> m = new ArrayList<>();
        for (int i = 0; i < roleContent.length; i += 2) m.add(Map.of("role", roleContent[i], "content", roleContent[i + 1]));
        return m;
    }

    @Test
    void llama2Chat() {
        ChatTemplate t = new ChatTemplate(LLAMA2, "<s>", "</s>", DIR);
        assertEquals("<s>[INST] <<SYS>>\nBe safe.\n<</SYS>>\n\nHow do I bake bread? [/INST] Knead, rise, bake. </s>"
                        + "<s>[INST] And rolls? [/INST]",
                t.render(chat("system", "Be safe.", "user", "How do I bake bread?  ", "assistant", " Knead, rise, bake.",
                        "user", "And rolls?"), true).text());
        assertEquals("<s>[INST] Hi [/INST] Hello </s>", t.render(chat("user", "Hi", "assistant", "Hello"), false).text());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> t.render(chat("assistant", "Hello"), false).text());
        assertTrue(e.getMessage().startsWith(DIR + ": chat template refused the conversation, line 1, in `{{ raise_exception("), e.getMessage());
        assertTrue(e.getMessage().endsWith(": Conversation roles must alternate user/assistant/user/assistant/..."), e.getMessage());
    }

    @Test
    void llama3Instruct() {
        ChatTemplate t = new ChatTemplate(LLAMA3, "<|begin_of_text|>", "<|eot_id|>", DIR);
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe safe.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                t.render(chat("system", "Be safe.", "user", " Hi\n"), true).text());
    }

    @Test
    void qwen2Instruct() {
        ChatTemplate t = new ChatTemplate(QWEN2, null, "<|im_end|>", DIR);
        assertEquals("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        + "<|im_start|>assistant\nHello<|im_end|>\n",
                t.render(chat("user", "Hi", "assistant", "Hello"), false).text());
        assertEquals("<|im_start|>system\nBe safe.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                t.render(chat("system", "Be safe.", "user", "Hi"), true).text());
    }

    @Test
    void qwen25StyleWhitespaceControl() {
        ChatTemplate t = new ChatTemplate(QWEN25_STYLE, null, "<|im_end|>", DIR);
        assertEquals("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                        + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nMore?<|im_end|>\n"
                        + "<|im_start|>assistant\n",
                t.render(chat("user", "Hi", "assistant", "Hello", "user", "More?"), true).text());
        assertEquals("<|im_start|>system\nBe safe.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
                t.render(chat("system", "Be safe.", "user", "Hi"), false).text());
    }

    /** Where Jinjava's defaults differed from Jinja2 (transformers) in ways chat templates use. */
    @Test
    void jinja2Semantics() {
        ChatTemplate t = new ChatTemplate("{{ -1 }}|  {{- 'x' -}}  |{# c #}.|"
                + "{% if not date_string is defined %}A{% endif %}{% if not bos_token is defined %}B{% endif %}|"
                + "{{ 'a' + 'b' | upper }}|{{ messages[0].content | trim }}", "<s>", "", DIR);
        assertEquals("-1|x|.|A|aB|u", t.render(chat("user", " u "), false).text());
    }

    /**
     * Python str methods as DeepSeek-R1-Distill's (split on </think>) and Qwen's newer templates
     * (startswith / endswith on tool responses) call them; text outside the tags is left alone.
     */
    @Test
    void pythonStringMethods() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{% set c = m['content'] %}"
                + "{% if m.role == 'assistant' and '</think>' in c %}{% set c = c.split('</think>')[-1].lstrip() %}{% endif %}"
                + "{% if c.startswith('<tool_response>') and c.endswith('</tool_response>') %}T|"
                + "{% else %}{{ m.role.upper() }}:{{ c.rstrip() }}|{{ 'MiXed'.lower( ) }}|{% endif %}{% endfor %}a.lower() stays",
                "", "", DIR);
        assertEquals("USER:Hi|mixed|ASSISTANT:Answer|mixed|T|a.lower() stays",
                t.render(chat("user", "Hi  ", "assistant", "<think>hmm</think>\n\nAnswer  ", "user",
                        "<tool_response>x</tool_response>"), false).text());
    }
}
