package dev.asft.trainer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code asft} command line. */
@Command(name = "asft", mixinStandardHelpOptions = true, versionProvider = AsftCli.Version.class,
        description = "Safety-anchored LoRA fine-tuning (AsFT): anchors, the regularizer, Safe LoRA, merge, training, evaluation tools, benchmarks.",
        subcommands = {AnchorCommand.class, RegularizerCommand.class, SafeLoraCommand.class, MergeCommand.class,
                DataCommand.class, LossCommand.class, TrainCommand.class, GenerateCommand.class,
                BenchCommand.class, ExampleCommand.class, DemoCommand.class, EvalSafetyCommand.class, EvalTaskCommand.class,
                CommandLine.HelpCommand.class})
public final class AsftCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        outOfMemoryBackstop(args);
        int code;
        try {
            code = run(args);
        } catch (OutOfMemoryError e) { // one clear line and what to do, not a stack trace
            outOfMemory = true; // from here on, other threads' dying words are this error's echoes
            byte[] line;
            try {
                line = (outOfMemory(args, e, Runtime.getRuntime().maxMemory()) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
            } catch (Throwable again) {
                line = workerLine;
            }
            endOutOfMemory(line);
            code = 3;
        }
        System.exit(code);
    }

    private static final Object OUT_OF_MEMORY_GATE = new Object();
    private static volatile boolean outOfMemory;
    private static byte[] workerLine;
    private static java.io.FileOutputStream stderr;

    /**
     * An OutOfMemoryError that ends some other thread (a worker of a library) ends the command
     * too: the same one line, exit 3, at once. The line and the stream are made now, while there
     * is memory; the JVM's own handler would allocate to print a stack trace and fail, leaving
     * the process hung (and deaf to SIGTERM, which also needs memory to dispatch). Once any
     * thread has met the error, other threads' failures (a thread pool's lock left broken by it)
     * end the command the same way instead of printing stack traces after the line.
     */
    static void outOfMemoryBackstop(String[] args) {
        workerLine = (outOfMemory(args, new OutOfMemoryError("in a worker thread"), Runtime.getRuntime().maxMemory()) + "\n")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        stderr = new java.io.FileOutputStream(java.io.FileDescriptor.err);
        try {
            stderr.write(workerLine, 0, 0); // the write path is linked now, not when memory is gone
        } catch (java.io.IOException ignored) { // no stderr: nothing will be said either way
        }
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
            if (e instanceof OutOfMemoryError || outOfMemory) endOutOfMemory(workerLine);
            System.err.print("Exception in thread \"" + thread.getName() + "\" ");
            e.printStackTrace();
        });
    }

    /** Writes the line once, whichever threads get here, and exits 3 without running anything else. */
    private static void endOutOfMemory(byte[] line) {
        outOfMemory = true;
        synchronized (OUT_OF_MEMORY_GATE) { // the first one here speaks and halts; the rest wait for the halt
            try {
                stderr.write(line);
            } catch (Throwable ignored) { // nothing more can be said
            }
            Runtime.getRuntime().halt(3);
        }
    }

    /** The message for an OutOfMemoryError that ended a command. */
    static String outOfMemory(String[] args, OutOfMemoryError e, long maxHeapBytes) {
        String cmd = args.length > 0 && !args[0].startsWith("-") ? "asft " + args[0] : "asft";
        String heap = maxHeapBytes >= 1L << 30 ? String.format("%.1f GiB", maxHeapBytes / (double) (1L << 30))
                : (maxHeapBytes >> 20) + " MiB";
        if (e.getMessage() != null && e.getMessage().startsWith("the GPU has no room")) // the cuda ops' cudaMalloc
            return String.format("%s: error: out of memory on the GPU (%s): lower --batch-size or --max-len, or train fewer modules. "
                    + "Files are written under temporary names, so no output was left half-written.", cmd, e.getMessage());
        if (e.getMessage() != null && e.getMessage().contains("native workspace")) // libasft's ASFT_ENOMEM
            return String.format("%s: error: out of memory (%s): a native kernel's workspace (outside the Java heap) did not fit; "
                    + "lower --rank, --batch-size or --max-len, or free memory. Files are written under temporary names, "
                    + "so no output was left half-written.", cmd, e.getMessage());
        return String.format("%s: error: out of memory (%s). Activations live on the Java heap (at most %s here): "
                + "raise it with ASFT_JAVA_OPTS=-Xmx<size> (e.g. -Xmx16g), or lower --batch-size or --max-len; "
                + "weights and anchors are native memory outside the heap (--weights map keeps frozen weights on disk pages). "
                + "Files are written under temporary names, so no output was left half-written.",
                cmd, e.getMessage(), heap);
    }

    /** Runs the CLI and returns its exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new AsftCli());
        // Bad input is reported as one clear line, not a stack trace.
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                    || ex instanceof UnsupportedOperationException || ex instanceof java.io.IOException
                    || ex instanceof java.io.UncheckedIOException || ex instanceof dev.asft.core.io.SafetensorsException) {
                commandLine.getErr().println(commandLine.getCommandSpec().qualifiedName() + ": error: " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cl.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = AsftCli.class.getPackage().getImplementationVersion();
            String nativeInfo;
            try {
                nativeInfo = "libasft " + dev.asft.core.nativeapi.NativeKernels.version() + " ("
                        + dev.asft.core.nativeapi.NativeKernels.cpuIsa() + ")";
            } catch (RuntimeException | LinkageError e) {
                nativeInfo = "libasft not loaded: " + e.getMessage();
            }
            return new String[] {"asft " + (v != null ? v : "0.1.0-SNAPSHOT"), nativeInfo,
                    "Java " + System.getProperty("java.version")};
        }
    }
}
