package dev.asft.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.trainer.example.ExampleModels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A NaN or infinity in a checkpoint or an adapter is refused at load, naming the file and tensor, never trained on. */
class NonFiniteWeightsTest {
    @TempDir
    Path dir;

    /** Overwrites the last element of the file's data section (the last tensor's last element) with an all-ones exponent. */
    static void poisonLastElement(Path file, int bytesPerElement) throws Exception {
        byte[] b = Files.readAllBytes(file);
        if (bytesPerElement == 2) ByteBuffer.wrap(b, b.length - 2, 2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x7fc0);
        else ByteBuffer.wrap(b, b.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.POSITIVE_INFINITY);
        Files.write(file, b);
    }

    @Test
    void nanWeightsAndAdaptersAreRefusedAtLoad() throws Exception {
        ExampleModels em = new ExampleModels();
        em.seed = 9;
        ExampleModels.Paths p = em.write(dir.resolve("ex"));
        Path data = dir.resolve("d.jsonl");
        Files.writeString(data, "{\"input_ids\": [4, 5, 6, 7]}\n");
        poisonLastElement(p.adapter().resolve("adapter_model.safetensors"), 4);
        CliTest.Run a = CliTest.run("loss", "--model", p.aligned().toString(), "--adapter", p.adapter().toString(), "--data", data.toString());
        assertEquals(2, a.code(), a.out() + a.err());
        assertTrue(a.err().contains(p.adapter().resolve("adapter_model.safetensors").toString()) && a.err().contains("holds a NaN or infinite value"), a.err());
        poisonLastElement(p.aligned().resolve("model.safetensors"), 2); // bf16 checkpoint
        CliTest.Run m = CliTest.run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--lambda", "0",
                "--steps", "1", "--out", dir.resolve("out").toString());
        assertEquals(2, m.code(), m.out() + m.err());
        assertTrue(m.err().contains(p.aligned().toString()) && m.err().contains("holds a NaN or infinite value (element"), m.err());
        assertTrue(!Files.exists(dir.resolve("out")));
    }
}
