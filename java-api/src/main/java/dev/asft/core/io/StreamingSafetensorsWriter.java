package dev.asft.core.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a safetensors file one tensor at a time, for outputs larger than memory (anchors of a
 * 70B model, merged checkpoints): the tensor list is declared up front, each tensor is written
 * to its place as soon as it exists, and the header (whose metadata may depend on what was
 * computed) is written last into space reserved for it. Everything goes to a temporary file
 * that is renamed into place by {@link #finish}; {@link #close} without finish deletes it.
 */
public final class StreamingSafetensorsWriter implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A tensor the file will hold. */
    public record Spec(String name, DType dtype, long[] shape) {}

    private final Path target, tmp;
    private final FileChannel ch;
    private final Map<String, long[]> offsets = new LinkedHashMap<>();
    private final Map<String, Spec> specs = new LinkedHashMap<>();
    private final Map<String, Boolean> written = new LinkedHashMap<>();
    private final long reserved; // header bytes reserved after the 8-byte length
    private boolean finished;

    public StreamingSafetensorsWriter(Path target, List<Spec> tensors, int metadataReserve) throws IOException {
        this.target = target;
        long offset = 0;
        for (Spec s : tensors) {
            if (specs.put(s.name(), s) != null) throw new IllegalArgumentException("duplicate tensor name " + s.name());
            long bytes = Tensor.byteSize(s.dtype(), s.shape());
            offsets.put(s.name(), new long[] {offset, offset + bytes});
            offset += bytes;
        }
        int estimate = header(Map.of()).length + metadataReserve;
        this.reserved = (estimate + 7) / 8 * 8;
        this.tmp = AtomicFiles.tempFileFor(target);
        this.ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.READ);
    }

    private byte[] header(Map<String, String> metadata) throws IOException {
        ObjectNode h = JSON.createObjectNode();
        ObjectNode meta = h.putObject("__metadata__");
        meta.put("format", "pt");
        metadata.forEach(meta::put);
        for (Map.Entry<String, Spec> e : specs.entrySet()) {
            ObjectNode n = h.putObject(e.getKey());
            n.put("dtype", e.getValue().dtype().safetensorsName());
            ArrayNode shape = n.putArray("shape");
            for (long d : e.getValue().shape()) shape.add(d);
            long[] off = offsets.get(e.getKey());
            n.putArray("data_offsets").add(off[0]).add(off[1]);
        }
        return JSON.writeValueAsString(h).getBytes(StandardCharsets.UTF_8);
    }

    /** Writes one declared tensor (dtype and shape must match its declaration). */
    public void put(String name, Tensor t) throws IOException {
        Spec s = specs.get(name);
        if (s == null) throw new IllegalArgumentException("tensor " + name + " was not declared");
        if (s.dtype() != t.dtype() || !Arrays.equals(s.shape(), t.shape()))
            throw new IllegalArgumentException("tensor " + name + ": declared " + s.dtype() + Arrays.toString(s.shape())
                    + ", got " + t.describe());
        long pos = 8 + reserved + offsets.get(name)[0];
        ByteBuffer b = t.buffer();
        while (b.hasRemaining()) pos += ch.write(b, pos);
        written.put(name, true);
    }

    /** Writes the header with this metadata, syncs, and renames the file into place. */
    public void finish(Map<String, String> metadata) throws IOException {
        for (String name : specs.keySet())
            if (!written.containsKey(name)) throw new IllegalStateException("tensor " + name + " was declared but never written");
        byte[] json = header(metadata);
        long dataBytes = offsets.values().stream().mapToLong(o -> o[1]).max().orElse(0);
        if (json.length <= reserved) {
            ByteBuffer head = ByteBuffer.allocate((int) (8 + reserved)).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(reserved).put(json);
            while (head.hasRemaining()) head.put((byte) ' ');
            head.flip();
            long pos = 0;
            while (head.hasRemaining()) pos += ch.write(head, pos);
            ch.truncate(8 + reserved + dataBytes);
            ch.force(true);
            ch.close();
        } else { // the metadata outgrew its reservation: write a new file with the data after a larger header
            Path tmp2 = AtomicFiles.tempFileFor(target);
            try (FileChannel out = FileChannel.open(tmp2, StandardOpenOption.WRITE)) {
                int padded = (json.length + 7) / 8 * 8;
                ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(padded).put(json);
                while (head.hasRemaining()) head.put((byte) ' ');
                head.flip();
                while (head.hasRemaining()) out.write(head);
                long pos = 8 + reserved, end = pos + dataBytes;
                while (pos < end) pos += ch.transferTo(pos, end - pos, out);
                out.force(true);
            }
            ch.close();
            Files.move(tmp2, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        finished = true;
    }

    @Override
    public void close() throws IOException {
        if (finished) return;
        ch.close();
        Files.deleteIfExists(tmp);
    }
}
