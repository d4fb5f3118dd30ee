package dev.asft.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.asft.trainer.cli.AsftCli;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command's --help prints cleanly: no picocli warnings (an unescaped % in a description printed one). */
class HelpTest {
    @Test
    void everyHelpPrintsWithoutWarnings() {
        List<List<String>> commands = new ArrayList<>();
        commands.add(List.of());
        collect(new CommandLine(new AsftCli()), new ArrayList<>(), commands);
        for (List<String> cmd : commands) {
            List<String> args = new ArrayList<>(cmd);
            args.add("--help");
            CliTest.Run r = CliTest.run(args.toArray(String[]::new));
            assertEquals(0, r.code(), String.join(" ", args) + ": " + r.err());
            assertFalse(r.err().contains("WARN") || r.out().contains("WARN"), String.join(" ", args) + ":\n" + r.err());
        }
    }

    private static void collect(CommandLine cl, List<String> path, List<List<String>> out) {
        for (var e : cl.getSubcommands().entrySet()) {
            if (e.getKey().equals("help")) continue;
            List<String> p = new ArrayList<>(path);
            p.add(e.getKey());
            out.add(p);
            collect(e.getValue(), p, out);
        }
    }
}
