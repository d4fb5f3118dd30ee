package dev.asft.core.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a file under a temporary name in the same folder and renames it into place, so a
 * crash never leaves a half-written file under the final name (docs/DESIGN.md invariant 4).
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    @FunctionalInterface
    public interface Writer {
        void write(FileChannel out) throws IOException;
    }

    /**
     * A temporary file next to target, readable by all like an ordinary new file (createTempFile
     * alone makes it owner-only, and the rename would carry that onto the result).
     */
    public static Path tempFileFor(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        setMode(tmp, "rw-r--r--");
        return tmp;
    }

    /** A temporary folder next to target (for outputs renamed into place whole), mode rwxr-xr-x. */
    public static Path tempDirFor(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempDirectory(dir, "." + target.getFileName() + ".");
        setMode(tmp, "rwxr-xr-x");
        return tmp;
    }

    @FunctionalInterface
    public interface FolderWriter {
        void write(Path folder) throws IOException;
    }

    /**
     * Writes a whole folder (a merged model, an adapter, a checkpoint) under a temporary name
     * next to target and renames it into place; on failure the partial folder is deleted.
     */
    public static void writeFolder(Path target, FolderWriter writer) throws IOException {
        Path tmp = tempDirFor(target);
        try {
            writer.write(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException | Error e) {
            deleteTree(tmp);
            throw e;
        }
    }

    /**
     * Whether a folder output may go to target: nothing there, or an empty folder (which the
     * final rename replaces, as git clone accepts an empty folder).
     */
    public static boolean isNewOrEmptyFolder(Path target) throws IOException {
        if (!Files.exists(target)) return true;
        if (!Files.isDirectory(target)) return false;
        try (java.util.stream.Stream<Path> s = Files.list(target)) {
            return s.findAny().isEmpty();
        }
    }

    /** Deletes a folder and everything below it (nothing if it does not exist). */
    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    private static void setMode(Path p, String mode) throws IOException {
        try {
            Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString(mode));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: keep its defaults
        }
    }

    public static void write(Path target, Writer writer) throws IOException {
        Path tmp = tempFileFor(target);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.write(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        write(target, ch -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** For callers that stream: an OutputStream over the channel (not closed by the caller). */
    public static OutputStream stream(FileChannel ch) {
        return java.nio.channels.Channels.newOutputStream(ch);
    }
}
