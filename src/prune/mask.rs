//! Mask selection shared by every method: given a score per weight (higher = more worth
//! keeping), drop exactly `k` columns from each row, or from each group of G rows together.

use super::Pattern;

/// `scores (c_out, cols)` → `pruned (c_out, cols)`: in each row (unstructured) or each group of
/// `pattern.group()` consecutive rows, the `k` columns of lowest score (a group scores a column
/// by the sum over its rows). Ties go to the lower column index, so masks are deterministic.
pub fn select(scores: &[f64], c_out: usize, cols: usize, k: usize, pattern: Pattern) -> Vec<bool> {
    debug_assert_eq!(scores.len(), c_out * cols);
    let g = pattern.group();
    let k = k.min(cols);
    // pruned (c_out, cols)
    let mut pruned = vec![false; c_out * cols];
    // group_score (cols,): one group's score per column
    let mut group_score = vec![0.0f64; cols];
    // order (cols,): column indices, partially sorted by group score
    let mut order: Vec<usize> = Vec::with_capacity(cols);
    for r0 in (0..c_out).step_by(g) {
        let rows = r0..(r0 + g).min(c_out);
        group_score.fill(0.0);
        for r in rows.clone() {
            for (acc, s) in group_score
                .iter_mut()
                .zip(&scores[r * cols..(r + 1) * cols])
            {
                *acc += s;
            }
        }
        order.clear();
        order.extend(0..cols);
        // Partial selection: only which k are lowest matters, not their order.
        if k > 0 && k < cols {
            order.select_nth_unstable_by(k - 1, |&a, &b| {
                group_score[a].total_cmp(&group_score[b]).then(a.cmp(&b))
            });
        }
        for r in rows {
            for &c in &order[..k] {
                pruned[r * cols + c] = true;
            }
        }
    }
    pruned
}

/// Columns to drop from each row within columns `lo..hi` of a row of `c_in` so that the
/// per-block counts add up to exactly `total` over the whole row (cumulative rounding).
pub fn per_block(total: usize, c_in: usize, lo: usize, hi: usize) -> usize {
    let upto = |c: usize| (total * c + c_in / 2) / c_in.max(1);
    upto(hi) - upto(lo)
}
