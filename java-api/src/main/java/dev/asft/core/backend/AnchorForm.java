package dev.asft.core.backend;

/**
 * Which matrix a dense code-mode anchor stores for the regularizer.
 * Q = (I - C)^T (I - C) needs one pass over the anchor per step; C needs two
 * (P = B - C B, then G = P - C P). Q is the default: measured about 2x faster
 * (docs/PERFORMANCE.md), at the cost of one extra d^3 product when the anchor is built.
 */
public enum AnchorForm {
    Q, C
}
