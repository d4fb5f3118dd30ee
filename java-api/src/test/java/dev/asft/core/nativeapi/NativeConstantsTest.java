package dev.asft.core.nativeapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The C ABI's constants have one source, native/include/asft/asft.h: the Java mirror of each
 * (AsftNative's ASFT_* fields, which the rest of the Java code uses instead of literals) must
 * carry the header's value.
 */
class NativeConstantsTest {
    @Test
    void javaMirrorsTheHeadersConstants() throws Exception {
        Map<String, Integer> header = new HashMap<>();
        Matcher m = Pattern.compile("(?m)^#define (ASFT_[A-Z0-9_]+)\\s+(-?\\d+)\\b")
                .matcher(Files.readString(Path.of("..", "native", "include", "asft", "asft.h")));
        while (m.find()) header.put(m.group(1), Integer.parseInt(m.group(2)));
        assertTrue(header.containsKey("ASFT_DTYPE_BF16") && header.containsKey("ASFT_ENOMEM"), header.toString());
        int mirrored = 0;
        for (Field f : AsftNative.class.getFields()) {
            if (!Modifier.isStatic(f.getModifiers()) || f.getType() != int.class || !f.getName().startsWith("ASFT_")) continue;
            assertTrue(header.containsKey(f.getName()), f.getName() + " is not a constant of asft.h");
            assertEquals(header.get(f.getName()), f.getInt(null), f.getName());
            mirrored++;
        }
        assertTrue(mirrored >= 11, "mirrored " + mirrored);
    }
}
