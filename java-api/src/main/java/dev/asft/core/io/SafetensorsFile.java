package dev.asft.core.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, opened and validated as the reference implementation validates it
 * (header size, JSON, dtypes, contiguous in-bounds offsets, byte counts, file length);
 * tensors are memory-mapped on request, never copied to the heap.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The reference implementation's limit on the header size. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** Where one tensor lives in the file. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long numel() {
            return Tensor.numel(shape);
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, Entry> entries,
                            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(path, null, "file not found");
        } catch (IOException e) {
            throw new SafetensorsException(path, "cannot open: " + e.getMessage(), e);
        }
        try {
            return parse(path, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing was written; the parse error is what the caller needs
        }
    }

    private static SafetensorsFile parse(Path path, FileChannel ch) {
        try {
            long fileLen = ch.size();
            if (fileLen < 8) throw new SafetensorsException(path, null, "file is " + fileLen + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n < 0 || n > MAX_HEADER_BYTES)
                throw new SafetensorsException(path, null, "header length " + Long.toUnsignedString(n) + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
            if (8 + n > fileLen)
                throw new SafetensorsException(path, null, "header length " + n + " runs past the end of the " + fileLen + "-byte file");
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8);
            String header;
            try {
                header = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb.flip()).toString();
            } catch (CharacterCodingException e) {
                throw new SafetensorsException(path, null, "header is not valid UTF-8");
            }
            if (!header.startsWith("{"))
                throw new SafetensorsException(path, null, "header does not start with '{'");
            JsonNode root;
            try {
                root = JSON.readTree(header.stripTrailing());
            } catch (IOException e) {
                throw new SafetensorsException(path, null, "header is not valid JSON: " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
            }
            if (!(root instanceof ObjectNode))
                throw new SafetensorsException(path, null, "header is not a JSON object");
            Map<String, String> metadata = new LinkedHashMap<>();
            List<Entry> list = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) {
                    if (!f.getValue().isObject())
                        throw new SafetensorsException(path, null, "__metadata__ is not an object of strings");
                    f.getValue().fields().forEachRemaining(m -> {
                        if (!m.getValue().isTextual())
                            throw new SafetensorsException(path, null, "__metadata__ value '" + m.getKey() + "' is not a string");
                        metadata.put(m.getKey(), m.getValue().asText());
                    });
                    continue;
                }
                list.add(entry(path, f.getKey(), f.getValue()));
            }
            // Offsets must tile [0, data length) exactly, in order, without gaps or overlaps.
            List<Entry> sorted = new ArrayList<>(list);
            sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
            long start = 0;
            for (Entry e : sorted) {
                if (e.begin() != start || e.end() < e.begin())
                    throw new SafetensorsException(path, e.name(), "invalid offsets [" + e.begin() + ", " + e.end()
                            + "]: expected the data to start at " + start + " (offsets must be contiguous)");
                long bytes;
                try {
                    bytes = Tensor.byteSize(e.dtype(), e.shape());
                } catch (ArithmeticException ex) {
                    throw new SafetensorsException(path, e.name(), "shape " + java.util.Arrays.toString(e.shape()) + " overflows");
                }
                if (e.end() - e.begin() != bytes)
                    throw new SafetensorsException(path, e.name(), "offsets span " + (e.end() - e.begin()) + " bytes but shape "
                            + java.util.Arrays.toString(e.shape()) + " of " + e.dtype() + " needs " + bytes);
                start = e.end();
            }
            long dataStart = 8 + n;
            if (dataStart + start != fileLen)
                throw new SafetensorsException(path, null, "file is " + fileLen + " bytes but header and tensors account for "
                        + (dataStart + start) + (fileLen < dataStart + start ? " (truncated)" : " (trailing bytes)"));
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (Entry e : list) entries.put(e.name(), e);
            return new SafetensorsFile(path, ch, dataStart, Collections.unmodifiableMap(entries),
                    Collections.unmodifiableMap(metadata));
        } catch (IOException e) {
            throw new SafetensorsException(path, "read failed: " + e.getMessage(), e);
        }
    }

    private static Entry entry(Path path, String name, JsonNode node) {
        if (!node.isObject()) throw new SafetensorsException(path, name, "entry is not a JSON object");
        JsonNode dt = node.get("dtype"), sh = node.get("shape"), off = node.get("data_offsets");
        if (dt == null || !dt.isTextual()) throw new SafetensorsException(path, name, "missing or non-string dtype");
        DType dtype;
        try {
            dtype = DType.parse(dt.asText());
            if (!dt.asText().equals(dtype.safetensorsName())) throw new IllegalArgumentException();
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(path, name, "unknown dtype '" + dt.asText() + "'");
        }
        if (sh == null || !sh.isArray()) throw new SafetensorsException(path, name, "missing or non-array shape");
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || d.asLong() < 0)
                throw new SafetensorsException(path, name, "shape entry " + d + " is not a non-negative integer");
            shape[i] = d.asLong();
        }
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
                || !off.get(1).isIntegralNumber() || off.get(0).asLong() < 0 || off.get(1).asLong() < 0)
            throw new SafetensorsException(path, name, "data_offsets must be two non-negative integers");
        return new Entry(name, dtype, shape, off.get(0).asLong(), off.get(1).asLong());
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int k = ch.read(b, pos);
            if (k < 0) throw new IOException("unexpected end of file");
            pos += k;
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return new ArrayList<>(entries.keySet());
    }

    public boolean has(String name) {
        return entries.containsKey(name);
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new SafetensorsException(path, name, "no such tensor");
        return e;
    }

    /** The tensor as a read-only memory-mapped view (valid while this file is open). */
    public Tensor tensor(String name) {
        Entry e = entry(name);
        long bytes = e.end() - e.begin();
        if (bytes > Integer.MAX_VALUE)
            throw new SafetensorsException(path, name, bytes + " bytes: tensors above 2 GiB are not supported yet");
        try {
            MappedByteBuffer mb = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), bytes);
            return Tensor.wrap(mb, e.dtype(), e.shape());
        } catch (IOException ex) {
            throw new SafetensorsException(path, "cannot map tensor '" + name + "': " + ex.getMessage(), ex);
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }
}
