package dev.asft.trainer.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code asft demo}: the embedded AsFT study (placeholder until the study lands). */
@Command(name = "demo", mixinStandardHelpOptions = true, subcommands = {BuildWorldCommand.class},
        description = "The embedded experiment: SFT vs Safe LoRA vs AsFT on a small world built on this machine.")
final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 0;
    }
}
