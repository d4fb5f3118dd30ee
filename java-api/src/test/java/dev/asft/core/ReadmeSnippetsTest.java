package dev.asft.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * The Java examples of README.md compile against the library as it is (the first one named a
 * builder class that had been renamed). Each ```java block becomes the body of a method whose
 * parameters are the variables the prose says the reader already has; its imports are hoisted.
 */
class ReadmeSnippetsTest {
    private static final String PREAMBLE = String.join("\n",
            "import java.nio.file.Path;",
            "import dev.asft.core.anchor.*;",
            "import dev.asft.core.backend.*;",
            "import dev.asft.core.io.*;",
            "import dev.asft.core.regularizer.AsftRegularizer;",
            "import dev.asft.core.tensor.*;");
    private static final String PARAMS = "Tensor a, Tensor b, Tensor gradA, Tensor gradB, float lambda, double loss, "
            + "Backend backend, Path basePath, Path alignedPath";

    @Test
    void javaBlocksCompile() throws IOException {
        String readme = Files.readString(Path.of("..", "README.md"));
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        List<JavaFileObject> units = new ArrayList<>();
        while (m.find()) {
            StringBuilder imports = new StringBuilder(PREAMBLE).append('\n'), body = new StringBuilder();
            for (String line : m.group(1).split("\n")) {
                if (line.startsWith("import ")) imports.append(line).append('\n');
                else body.append(line).append('\n');
            }
            // a block that declares one of the reader's variables itself (its backend, its tensors) gets
            // that parameter renamed away
            String params = PARAMS;
            for (String decl : PARAMS.split(", ")) {
                String var = decl.substring(decl.indexOf(' ') + 1);
                if (Pattern.compile("\\b(Tensor|Backend|Path|float|double)\\s+" + var + "\\s*=").matcher(body).find())
                    params = params.replace(decl, decl.substring(0, decl.indexOf(' ')) + " unused_" + var);
            }
            String name = "Snippet" + units.size();
            String source = imports + "class " + name + " {\n  void run(" + params + ") throws Exception {\n" + body + "  }\n}\n";
            units.add(new SimpleJavaFileObject(URI.create("string:///" + name + ".java"), JavaFileObject.Kind.SOURCE) {
                @Override
                public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                    return source;
                }
            });
        }
        assertEquals(3, units.size(), "README.md's ```java blocks");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "a JDK compiler");
        Path out = Files.createTempDirectory("readme-snippets");
        StringWriter errors = new StringWriter();
        boolean ok = javac.getTask(errors, null, null,
                List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString(), "-proc:none"), null, units).call();
        assertTrue(ok, "README.md's Java examples must compile:\n" + errors);
    }
}
