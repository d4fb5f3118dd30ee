package dev.asft.trainer.cli;

import dev.asft.core.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One rule for every command's outputs, checked before any work starts:
 * <ul>
 *   <li>an output folder may be new or an existing empty folder (as git clone accepts one); a
 *       file there, or a folder with something in it, is refused;</li>
 *   <li>an output file may be new or replace a file; a folder there is refused;</li>
 *   <li>the place must be writable: a file is created and removed there first, so /proc/x or a
 *       read-only mount fails in one line, not after the work;</li>
 *   <li>temporary files a killed run left for the same output (.NAME.&lt;digits&gt;[.tmp], see
 *       {@link AtomicFiles}) are removed.</li>
 * </ul>
 */
final class Outputs {
    private Outputs() {}

    /** A folder the command will create whole. */
    static void folder(String option, Path out) {
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) throw new IllegalArgumentException(option + " " + out + ": exists and is a file; give a new or empty folder");
            if (!isEmpty(out)) throw new IllegalArgumentException(option + " " + out + ": exists and is not empty; give a new or empty folder");
        }
        writable(option, out);
    }

    /** A folder the command adds to (checkpoints): not a file, and writable; a killed run's half-written entries are removed. */
    static void folderToFill(String option, Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new IllegalArgumentException(option + " " + dir + ": exists and is a file, not a folder");
        writable(option, dir);
        if (!Files.isDirectory(dir)) return;
        Pattern stale = Pattern.compile("\\.checkpoint-\\d+\\.\\d+");
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> stale.matcher(p.getFileName().toString()).matches()).toList()) AtomicFiles.deleteTree(p);
        } catch (IOException e) {
            // only clutter
        }
    }

    /** A file the command will write (replacing one that is there). */
    static void file(String option, Path out) {
        if (Files.isDirectory(out)) throw new IllegalArgumentException(option + " " + out + ": is a folder; give a file name");
        writable(option, out);
    }

    private static boolean isEmpty(Path dir) {
        try {
            return AtomicFiles.isNewOrEmptyFolder(dir);
        } catch (IOException e) {
            throw new IllegalArgumentException(dir + ": cannot read: " + e.getMessage());
        }
    }

    /** Creates the parent folders, proves a file can be made beside the output, and clears stale temporaries. */
    private static void writable(String option, Path out) {
        Path parent = out.toAbsolutePath().getParent();
        try {
            Files.createDirectories(parent);
            Path probe = Files.createTempFile(parent, ".asft-write-check.", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw new IllegalArgumentException(option + " " + out + ": cannot write there (" + reason(e) + ")");
        }
        Pattern stale = Pattern.compile("\\." + Pattern.quote(out.getFileName().toString()) + "\\.\\d+(\\.tmp)?");
        try (Stream<Path> s = Files.list(parent)) {
            for (Path p : s.filter(p -> stale.matcher(p.getFileName().toString()).matches()).toList()) AtomicFiles.deleteTree(p);
        } catch (IOException e) {
            // a temporary we cannot remove is only clutter; the write itself was proven possible
        }
    }

    private static String reason(Exception e) {
        String m = e.getMessage();
        if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
        if (e instanceof java.nio.file.FileSystemException fe && fe.getReason() != null) return fe.getReason();
        if (e instanceof java.nio.file.FileAlreadyExistsException) return "a file is in the way: " + m;
        return m == null ? e.getClass().getSimpleName() : m;
    }
}
