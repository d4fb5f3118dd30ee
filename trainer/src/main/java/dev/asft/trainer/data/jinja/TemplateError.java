package dev.asft.trainer.data.jinja;

/**
 * A template that cannot be parsed or rendered. The renderer adds where (line and construct)
 * once, at the innermost statement or expression that failed.
 */
public final class TemplateError extends RuntimeException {
    private final boolean located;
    private final boolean raisedByTemplate;

    public TemplateError(String message) {
        this(message, false, false);
    }

    private TemplateError(String message, boolean located, boolean raisedByTemplate) {
        super(message);
        this.located = located;
        this.raisedByTemplate = raisedByTemplate;
    }

    /** raise_exception('...') in the template: its own message, not an interpreter error. */
    static TemplateError raised(String message) {
        return new TemplateError(message, false, true);
    }

    /** The template's own raise_exception message (a data problem the template reports), or false. */
    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }

    /** This error with "line N, in `construct`" added, once. */
    TemplateError at(int line, String construct) {
        if (located) return this;
        String where = "line " + line + (construct == null ? "" : ", in `" + construct + "`");
        TemplateError e = new TemplateError(where + ": " + getMessage(), true, raisedByTemplate);
        e.setStackTrace(getStackTrace());
        return e;
    }
}
