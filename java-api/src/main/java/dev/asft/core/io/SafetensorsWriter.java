package dev.asft.core.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes safetensors files: header padded with spaces to a multiple of 8 bytes,
 * {@code {"format":"pt"}} metadata, tensors in the given order; temp file, then rename.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsWriter() {}

    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        ObjectNode meta = header.putObject("__metadata__");
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.putAll(metadata);
        m.forEach(meta::put);
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is not a tensor name");
            Tensor t = e.getValue();
            ObjectNode n = header.putObject(e.getKey());
            n.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = n.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            ArrayNode off = n.putArray("data_offsets");
            off.add(offset);
            offset += t.byteSize();
            off.add(offset);
        }
        byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        AtomicFiles.write(file, ch -> {
            while (head.hasRemaining()) ch.write(head);
            for (Tensor t : tensors.values()) {
                ByteBuffer b = t.buffer();
                while (b.hasRemaining()) ch.write(b);
            }
        });
    }
}
