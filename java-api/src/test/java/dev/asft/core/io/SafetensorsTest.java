package dev.asft.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(DType.class)
    void roundTripsEveryDtype(DType dtype) throws IOException {
        byte[] bytes = new byte[dtype.bytes() * 6];
        TestData.rnd().nextBytes(bytes);
        Tensor t = Tensor.allocate(dtype, 2, 3);
        t.buffer().put(bytes);
        Tensor scalar = Tensor.allocate(dtype); // rank 0
        scalar.buffer().put(bytes, 0, dtype.bytes());
        Tensor empty = Tensor.allocate(dtype, 0, 4);
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("a.weight", t);
        m.put("scalar", scalar);
        m.put("empty", empty);
        Path f = dir.resolve("x.safetensors");
        SafetensorsWriter.write(f, m, Map.of("note", "hi"));
        long headerLen = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLen % 8, "header padded to 8 bytes");
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertEquals("pt", sf.metadata().get("format"));
            assertEquals("hi", sf.metadata().get("note"));
            Tensor back = sf.tensor("a.weight");
            assertEquals(dtype, back.dtype());
            assertArrayEquals(new long[] {2, 3}, back.shape());
            byte[] got = new byte[bytes.length];
            back.buffer().get(got);
            assertArrayEquals(bytes, got);
            assertArrayEquals(new long[0], sf.tensor("scalar").shape());
            assertEquals(0, sf.tensor("empty").numel());
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void decodesKnownBitPatterns() {
        Tensor bf = Tensor.allocate(DType.BF16, 4);
        ByteBuffer b = bf.buffer();
        b.putShort(0, (short) 0x3f80).putShort(2, (short) 0xc000).putShort(4, (short) 0x7f80).putShort(6, (short) 0x0001);
        assertEquals(1.0f, bf.getFloat(0));
        assertEquals(-2.0f, bf.getFloat(1));
        assertEquals(Float.POSITIVE_INFINITY, bf.getFloat(2));
        assertEquals(Float.intBitsToFloat(0x00010000), bf.getFloat(3)); // a bf16 subnormal
        Tensor h = Tensor.allocate(DType.F16, 4);
        ByteBuffer hb = h.buffer();
        hb.putShort(0, (short) 0x3c00).putShort(2, (short) 0x7bff).putShort(4, (short) 0x0001).putShort(6, (short) 0xfc00);
        assertEquals(1.0f, h.getFloat(0));
        assertEquals(65504.0f, h.getFloat(1));
        assertEquals(0x1p-24f, h.getFloat(2));
        assertEquals(Float.NEGATIVE_INFINITY, h.getFloat(3));
    }

    @Test
    void readsShardedCheckpoints() throws IOException {
        Path ck = dir.resolve("model");
        Files.createDirectories(ck);
        try (Tensor a = TestData.randn(DType.BF16, 1, 4, 3); Tensor b = TestData.randn(DType.F32, 1, 5)) {
            SafetensorsWriter.write(ck.resolve("model-00001-of-00002.safetensors"), Map.of("layer.0.weight", a));
            SafetensorsWriter.write(ck.resolve("model-00002-of-00002.safetensors"), Map.of("layer.1.bias", b));
            Files.writeString(ck.resolve("model.safetensors.index.json"), "{\"metadata\":{\"total_size\":44},\"weight_map\":{"
                    + "\"layer.0.weight\":\"model-00001-of-00002.safetensors\","
                    + "\"layer.1.bias\":\"model-00002-of-00002.safetensors\"}}");
            try (HfCheckpoint c = HfCheckpoint.open(ck)) {
                assertEquals(2, c.names().size());
                assertArrayEquals(a.toFloatArray(), c.tensor("layer.0.weight").toFloatArray());
                assertArrayEquals(b.toFloatArray(), c.tensor("layer.1.bias").toFloatArray());
                assertFalse(c.has("nope"));
            }
            Files.writeString(ck.resolve("model.safetensors.index.json"),
                    "{\"weight_map\":{\"layer.9.weight\":\"model-00001-of-00002.safetensors\"}}");
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(ck));
            assertTrue(e.getMessage().contains("layer.9.weight"), e.getMessage());
        }
    }

    // ---- malformed files: each gives an exception naming the file (and the tensor) ----

    private Path raw(String header, int dataBytes, int extra) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes + extra).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = dir.resolve("bad-" + System.nanoTime() + ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    private void assertBad(Path f, String... fragments) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(f).close());
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "mentions '" + s + "': " + e.getMessage());
    }

    @Test
    void rejectsShortFile() throws IOException {
        Path f = dir.resolve("short.safetensors");
        Files.write(f, new byte[5]);
        assertBad(f, "shorter than the 8-byte header length");
    }

    @Test
    void rejectsHugeHeader() throws IOException {
        Path f = dir.resolve("huge.safetensors");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(200_000_000L).array());
        assertBad(f, "exceeds the limit");
    }

    @Test
    void rejectsHeaderPastEnd() throws IOException {
        Path f = dir.resolve("past.safetensors");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(100).array());
        assertBad(f, "runs past the end");
    }

    @Test
    void rejectsInvalidJsonAndUtf8() throws IOException {
        assertBad(raw("{\"a\": ", 0, 0), "not valid JSON");
        assertBad(raw("[1,2]   ", 0, 0), "does not start with '{'");
        Path f = dir.resolve("utf.safetensors");
        ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putLong(4).put(new byte[] {'{', (byte) 0xff, (byte) 0xfe, '}'});
        Files.write(f, b.array());
        assertBad(f, "UTF-8");
    }

    @Test
    void rejectsUnknownDtype() throws IOException {
        assertBad(raw("{\"w\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0), "'w'", "unknown dtype");
    }

    @Test
    void rejectsNonContiguousOffsets() throws IOException {
        assertBad(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, 0), "'a'", "contiguous");
        assertBad(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, 0), "'b'", "contiguous");
    }

    @Test
    void rejectsByteCountMismatch() throws IOException {
        assertBad(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0), "'a'", "needs 12");
    }

    @Test
    void rejectsTruncatedAndTrailingData() throws IOException {
        assertBad(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10, 0), "truncated");
        assertBad(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, 3), "trailing");
    }

    @Test
    void rejectsBadShapeEntries() throws IOException {
        assertBad(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, 0), "'a'", "non-negative");
        assertBad(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, 0), "'a'", "data_offsets");
    }

    @Test
    void missingFileIsAClearError() {
        assertBad(dir.resolve("nope.safetensors"), "not found");
    }

    @Test
    void missingTensorNamesTheTensor() throws IOException {
        Path f = dir.resolve("one.safetensors");
        try (Tensor t = TestData.randn(DType.F32, 1, 2)) {
            SafetensorsWriter.write(f, Map.of("x", t));
        }
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> sf.tensor("y"));
            assertTrue(e.getMessage().contains("'y'"), e.getMessage());
        }
    }
}
