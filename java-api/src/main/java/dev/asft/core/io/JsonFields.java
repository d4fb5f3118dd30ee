package dev.asft.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;

/**
 * Reads config fields as the types they are: 64.5 is not a hidden size, "big" is not an alpha,
 * 0 is not a rank. Jackson's asInt()/asDouble() would truncate or default them silently; each
 * error here names the file and the field.
 */
public final class JsonFields {
    private JsonFields() {}

    /** A required integer >= 1. */
    public static int positiveInt(JsonNode n, Path file, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) throw new IllegalArgumentException(file + ": missing '" + field + "'");
        return checkPositiveInt(v, file, field);
    }

    /** An integer >= 1, or the default when the field is absent or null. */
    public static int positiveInt(JsonNode n, Path file, String field, int dflt) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? dflt : checkPositiveInt(v, file, field);
    }

    /** A finite number > 0, or the default when the field is absent or null. */
    public static double positiveNumber(JsonNode n, Path file, String field, double dflt) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber() || !Double.isFinite(v.asDouble()) || v.asDouble() <= 0)
            throw new IllegalArgumentException(file + ": '" + field + "' must be a positive number, got " + v);
        return v.asDouble();
    }

    private static int checkPositiveInt(JsonNode v, Path file, String field) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0)
            throw new IllegalArgumentException(file + ": '" + field + "' must be a positive integer, got " + v);
        return v.asInt();
    }
}
