package dev.asft.core.io;

import java.nio.file.Path;

/** A malformed or unreadable safetensors file; the message names the file and, where known, the tensor. */
public class SafetensorsException extends RuntimeException {
    public SafetensorsException(Path file, String tensor, String problem) {
        super(file + (tensor != null ? ": tensor '" + tensor + "'" : "") + ": " + problem);
    }

    public SafetensorsException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
